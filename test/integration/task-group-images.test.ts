/**
 * Task groups whose tasks each name a Docker image, as Mesos runs them:
 * the default executor asks the agent for a nested container per task with
 * the task's ContainerInfo, and the agent provisions each one's image (from
 * the local `--docker_registry`) and runs the task in its own root
 * filesystem with docker/runtime's rules, its sandbox at
 * /mnt/mesos/sandbox. A bad image fails that task with the agent's answer
 * as its message (Mesos sets no reason) and its group is killed; the root
 * filesystems are removed when the containers end. Also
 * LAUNCH_NESTED_CONTAINER with an image through the agent API. Needs root
 * and a static busybox; skips otherwise.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { operatorCall } from "../harness/operator.js";
import { type DaemonHandle, runBinary, stopAll, tempDir, waitLong } from "../harness/processes.js";
import { finals, taskGroupExecutor } from "../harness/task-groups.js";
import { scalar } from "./containerizer-helpers.js";
import { buildLegacyImage, busyboxFiles, imageContainer, imageSkip } from "./images-helpers.js";

const skip = imageSkip;
let master: DaemonHandle;
let agent: DaemonHandle;
let registry: string;
let store: string;
const schedulers: ChildProcess[] = [];

before(async () => {
  if (skip !== undefined) return;
  registry = tempDir("mesos-tg-images-registry-");
  const base = { id: "tg-base", files: busyboxFiles() };
  buildLegacyImage(registry, "alpha.tar", {
    repository: "alpha",
    layers: [base, { id: "alpha-top", files: { "only-alpha": "alpha-file\n" } }],
    config: {
      Env: ["PATH=/bin", "FROM_IMAGE=alpha", "OVERRIDDEN=image"],
      WorkingDir: "/alpha/work",
    },
  });
  buildLegacyImage(registry, "beta.tar", {
    repository: "beta",
    layers: [base, { id: "beta-top", files: { "only-beta": "beta-file\n" } }],
    config: {
      Env: ["PATH=/bin", "FROM_IMAGE=beta"],
      // Run by docker/runtime for a task with `shell: false` and no value.
      Cmd: [
        "/bin/sh",
        "-c",
        'cat /only-beta && test ! -e /only-alpha && test "$FROM_IMAGE" = beta && test "$(pwd)" = /mnt/mesos/sandbox && echo beta-ran > "$MESOS_SANDBOX/marker"',
      ],
    },
  });
  store = tempDir("mesos-tg-images-store-");
  ({ master, agent } = await startOneAgentCluster({
    isolation: "filesystem/linux,docker/runtime",
    image_providers: "docker",
    docker_registry: registry,
    docker_store_dir: store,
    executor_shutdown_grace_period: "2secs",
  }));
});

after(async () => {
  for (const s of schedulers) s.kill("SIGKILL");
  await stopAll();
});

function task(id: string, command: object, image?: string): object {
  return {
    name: id,
    task_id: { value: id },
    agent_id: { value: "" },
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command,
    ...(image === undefined ? {} : { container: imageContainer(image) }),
  };
}

function runGroup(tasks: object[]) {
  return runBinary(
    "mesos-execute",
    [`--master=${master.address}`, `--task_group=${JSON.stringify({ tasks })}`],
    {
      timeoutMs: 90_000,
    },
  );
}

/** Every file named `name` below `dir`. */
function findFiles(dir: string, name: string): string[] {
  const out: string[] = [];
  let entries: import("node:fs").Dirent[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...findFiles(path, name));
    else if (e.name === name) out.push(path);
  }
  return out;
}

/** Root filesystems the provisioner holds for nested containers. */
function nestedRootfses(): string[] {
  const containers = join(agent.workDir, "provisioner", "containers");
  const out: string[] = [];
  for (const parent of existsSync(containers) ? readdirSync(containers) : []) {
    const nested = join(containers, parent, "containers");
    for (const child of existsSync(nested) ? readdirSync(nested) : []) {
      const rootfses = join(nested, child, "backends", "copy", "rootfses");
      for (const r of existsSync(rootfses) ? readdirSync(rootfses) : []) {
        out.push(join(rootfses, r));
      }
    }
  }
  return out;
}

test("task group images: two tasks with different images each run in their own image's root filesystem with its Env and WorkingDir, sandbox at /mnt/mesos/sandbox; both finish and their root filesystems go", {
  skip,
}, async () => {
  const run = await runGroup([
    task(
      "in-alpha",
      {
        value: [
          "cat /only-alpha",
          "test ! -e /only-beta",
          'test "$FROM_IMAGE" = alpha',
          // The task's own variables win over the image's Env.
          'test "$OVERRIDDEN" = task',
          'test "$(pwd)" = /alpha/work',
          'test "$MESOS_SANDBOX" = /mnt/mesos/sandbox',
          'echo alpha-ran > "$MESOS_SANDBOX/marker"',
        ].join(" && "),
        environment: { variables: [{ name: "OVERRIDDEN", value: "task" }] },
      },
      "alpha",
    ),
    task("in-beta", { shell: false }, "beta"),
  ]);
  const states = finals(run.stdout);
  assert.equal(states.get("in-alpha")?.state, "TASK_FINISHED", run.stdout + run.stderr);
  assert.equal(states.get("in-beta")?.state, "TASK_FINISHED", run.stdout + run.stderr);
  // What each task wrote at /mnt/mesos/sandbox is in its nested container's sandbox on the host.
  const markers = findFiles(join(agent.workDir, "slaves"), "marker").filter((p) =>
    /\/containers\/[^/]+\/marker$/.test(p),
  );
  const written = markers.map((p) => readFileSync(p, "utf8").trim()).sort();
  assert.deepEqual(written, ["alpha-ran", "beta-ran"], markers.join(", "));
  const outputs = markers.map((p) => readFileSync(join(p, "..", "stdout"), "utf8"));
  assert.ok(
    outputs.some((o) => o.includes("alpha-file")),
    outputs.join("|"),
  );
  assert.ok(
    outputs.some((o) => o.includes("beta-file")),
    outputs.join("|"),
  );
  await waitLong("the nested root filesystems to be removed", () =>
    nestedRootfses().length === 0 ? true : undefined,
  );
});

test("task group images: a task whose image cannot be found fails with the agent's message (no reason, as Mesos); the rest of its group is killed", {
  skip,
}, async () => {
  const run = await runGroup([
    task("bad-image", { value: "true" }, "nosuch"),
    task("bystander", { value: "sleep 60" }, "alpha"),
  ]);
  const states = finals(run.stdout);
  const bad = states.get("bad-image");
  assert.equal(bad?.state, "TASK_FAILED", run.stdout);
  assert.equal(bad?.reason, undefined, run.stdout);
  assert.equal(
    bad?.message,
    `Failed to find archive for image 'nosuch' at '${join(registry, "nosuch.tar")}'`,
  );
  assert.equal(states.get("bystander")?.state, "TASK_KILLED", run.stdout);
  await waitLong("the nested root filesystems to be removed", () =>
    nestedRootfses().length === 0 ? true : undefined,
  );
});

let parentId: Promise<string> | undefined;

/** A task group (one sleeping task without an image), started once; resolves with its executor's container id. */
function sleepingParent(): Promise<string> {
  parentId ??= startSleepingParent();
  return parentId;
}

async function startSleepingParent(): Promise<string> {
  const group = { tasks: [task("api-sleeper", { value: "sleep 300" })] };
  return taskGroupExecutor(master, agent, group.tasks, schedulers);
}

test("agent API: LAUNCH_NESTED_CONTAINER with an image runs in the image with its sandbox mounted; a bad image is 400 with the provisioner's words; a session cannot have one", {
  skip,
}, async () => {
  const parent = await sleepingParent();
  const id = { value: "api-beta", parent: { value: parent } };
  const launched = await operatorCall(agent, {
    type: "LAUNCH_NESTED_CONTAINER",
    launch_nested_container: {
      container_id: id,
      command: { value: 'cat /only-beta > "$MESOS_SANDBOX/seen" && test ! -e /only-alpha' },
      container: imageContainer("beta"),
    },
  });
  assert.equal(launched.status, 200, launched.text);
  const rootfs = await waitLong("the nested container's root filesystem", () => {
    const found = nestedRootfses().find((p) =>
      p.includes(`/containers/${parent}/containers/api-beta/`),
    );
    return found;
  });
  assert.ok(rootfs.startsWith(join(agent.workDir, "provisioner", "containers", parent)));
  const waited = await operatorCall(agent, {
    type: "WAIT_NESTED_CONTAINER",
    wait_nested_container: { container_id: id },
  });
  assert.equal(waited.status, 200, waited.text);
  assert.deepEqual(JSON.parse(waited.text), {
    type: "WAIT_NESTED_CONTAINER",
    wait_nested_container: { exit_status: 0 },
  });
  const seen = findFiles(join(agent.workDir, "slaves"), "seen").filter((p) =>
    p.endsWith(`/containers/api-beta/seen`),
  );
  assert.equal(seen.length, 1, seen.join(", "));
  assert.equal(readFileSync(seen[0] as string, "utf8"), "beta-file\n");
  // Its root filesystem went when it ended.
  assert.equal(existsSync(rootfs), false);
  const removed = await operatorCall(agent, {
    type: "REMOVE_NESTED_CONTAINER",
    remove_nested_container: { container_id: id },
  });
  assert.equal(removed.status, 200, removed.text);

  const bad = await operatorCall(agent, {
    type: "LAUNCH_NESTED_CONTAINER",
    launch_nested_container: {
      container_id: { value: "api-nosuch", parent: { value: parent } },
      command: { value: "true" },
      container: imageContainer("nosuch:2.0"),
    },
  });
  assert.equal(bad.status, 400);
  assert.equal(
    bad.text,
    `Failed to find archive for image 'nosuch:2.0' at '${join(registry, "nosuch:2.0.tar")}'`,
  );
  const session = await operatorCall(agent, {
    type: "LAUNCH_NESTED_CONTAINER_SESSION",
    launch_nested_container_session: {
      container_id: { value: "api-session", parent: { value: parent } },
      command: { value: "true" },
      container: imageContainer("beta"),
    },
  });
  assert.equal(session.status, 400);
  assert.equal(session.text, "A 'rootfs' cannot be set for DEBUG containers");
});

test("agent API: PRUNE_IMAGES keeps the image of a running nested container and prunes the others", {
  skip,
}, async () => {
  const parent = await sleepingParent();
  const id = { value: "api-prune", parent: { value: parent } };
  const launched = await operatorCall(agent, {
    type: "LAUNCH_NESTED_CONTAINER",
    launch_nested_container: {
      container_id: id,
      command: { value: "sleep 120" },
      container: imageContainer("beta"),
    },
  });
  assert.equal(launched.status, 200, launched.text);
  const stored = () =>
    (
      JSON.parse(readFileSync(join(store, "storedImages"), "utf8")) as {
        images: { reference: string }[];
      }
    ).images
      .map((i) => i.reference)
      .sort();
  assert.ok(
    stored().some((r) => r.startsWith("alpha")),
    `alpha was pulled by the tests above: ${stored().join(", ")}`,
  );
  const pruned = await operatorCall(agent, { type: "PRUNE_IMAGES", prune_images: {} });
  assert.equal(pruned.status, 200, pruned.text);
  const left = stored();
  assert.ok(
    left.some((r) => r.startsWith("beta")),
    `beta is in use by a nested container: ${left.join(", ")}`,
  );
  assert.ok(!left.some((r) => r.startsWith("alpha")), `alpha is not: ${left.join(", ")}`);
  const killed = await operatorCall(agent, {
    type: "KILL_NESTED_CONTAINER",
    kill_nested_container: { container_id: id },
  });
  assert.equal(killed.status, 200, killed.text);
  const waited = await operatorCall(agent, {
    type: "WAIT_NESTED_CONTAINER",
    wait_nested_container: { container_id: id },
  });
  assert.equal(waited.status, 200, waited.text);
  assert.deepEqual(nestedRootfses(), []);
});

test("agent API: a nested container's volumes in its image: an absolute container_path inside the image, a relative one under /mnt/mesos/sandbox", {
  skip,
}, async () => {
  const parent = await sleepingParent();
  const host = tempDir("mesos-tg-images-volume-");
  writeFileSync(join(host, "f"), "from-host\n");
  const id = { value: "api-volumes", parent: { value: parent } };
  const launched = await operatorCall(agent, {
    type: "LAUNCH_NESTED_CONTAINER",
    launch_nested_container: {
      container_id: id,
      command: {
        value:
          'cat /data/f > "$MESOS_SANDBOX/abs" && cat "$MESOS_SANDBOX/rel/f" > "$MESOS_SANDBOX/rel-seen" && ! touch /data/g',
      },
      container: {
        ...imageContainer("beta"),
        volumes: [
          { container_path: "/data", host_path: host, mode: "RO" },
          { container_path: "rel", host_path: host, mode: "RO" },
        ],
      },
    },
  });
  assert.equal(launched.status, 200, launched.text);
  const waited = await operatorCall(agent, {
    type: "WAIT_NESTED_CONTAINER",
    wait_nested_container: { container_id: id },
  });
  assert.deepEqual(JSON.parse(waited.text), {
    type: "WAIT_NESTED_CONTAINER",
    wait_nested_container: { exit_status: 0 },
  });
  const [abs] = findFiles(join(agent.workDir, "slaves"), "abs").filter((p) =>
    p.endsWith("/containers/api-volumes/abs"),
  );
  assert.ok(abs !== undefined, "the container wrote its sandbox");
  assert.equal(readFileSync(abs, "utf8"), "from-host\n");
  assert.equal(readFileSync(join(abs, "..", "rel-seen"), "utf8"), "from-host\n");
  // Read-only: the container could not write to the host directory.
  assert.deepEqual(readdirSync(host), ["f"]);
});
