/**
 * Containers with an image on an agent with `--sandbox_directory=/sandbox`
 * and `linux/capabilities` (+ `linux/nnp`): a command task, a custom
 * executor and the tasks of a task group each find their sandbox at
 * /sandbox inside the image (MESOS_SANDBOX and the working directory say
 * so, and what they write there is in their sandbox on the host), the
 * command task's health check runs there too, and capabilities apply
 * inside the image (applied with capsh): the bounding, effective and
 * ambient sets and no_new_privs of /proc/self/status, for the command
 * task, a nested container, and an executor running as nobody. Needs
 * root, a static busybox and capsh; skips otherwise.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  CAPSH,
  capabilityMask,
} from "../../src/agent/containerizer/isolators/linux-capabilities.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, runBinary, stopAll, tempDir, waitFor } from "../harness/processes.js";
import { executeTask, sandboxOf, scalar } from "./containerizer-helpers.js";
import { buildLegacyImage, busyboxFiles, imageContainer, imageSkip } from "./images-helpers.js";

/** capsh with the options the launch uses (older ones lack --shell). */
const capshHelp =
  CAPSH === undefined ? "" : spawnSync(CAPSH, ["--help"], { encoding: "utf8" }).stdout;
const skip =
  imageSkip ??
  (["--shell", "--addamb", "--no-new-privs"].every((o) => capshHelp.includes(o))
    ? undefined
    : "needs capsh (libcap2-bin) with --shell, --addamb and --no-new-privs");

let master: DaemonHandle;
let agent: DaemonHandle;

before(async () => {
  if (skip !== undefined) return;
  const registry = tempDir("mesos-sandbox-dir-registry-");
  buildLegacyImage(registry, "box.tar", {
    repository: "box",
    layers: [
      {
        id: "sandbox-dir-base",
        files: { ...busyboxFiles(), "bin/sed": { link: "busybox" }, "etc/in-image": "yes\n" },
      },
    ],
    config: { Env: ["PATH=/bin"] },
  });
  ({ master, agent } = await startOneAgentCluster({
    isolation: "filesystem/linux,linux/capabilities,linux/nnp,docker/runtime",
    image_providers: "docker",
    docker_registry: registry,
    docker_store_dir: tempDir("mesos-sandbox-dir-store-"),
    sandbox_directory: "/sandbox",
    executor_shutdown_grace_period: "2secs",
  }));
});

after(stopAll);

const small = [scalar("cpus", 0.1), scalar("mem", 64)];

/** What a process reports about itself, one `key=value` a line. */
const REPORT = [
  'echo "sandbox=$MESOS_SANDBOX"',
  'echo "pwd=$(pwd)"',
  // Only true inside the image.
  'echo "image=$(cat /etc/in-image)"',
  "grep -E '^(CapEff|CapBnd|CapAmb|NoNewPrivs|Uid):' /proc/self/status | sed 's/:[[:space:]]*/=/'",
].join("; ");

/** The key=value lines of `text` (the first value of a key wins: Uid has four). */
function keyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^(\w+)=(\S*)/.exec(line);
    if (m !== null && out[m[1] as string] === undefined) out[m[1] as string] = m[2] as string;
  }
  return out;
}

/** Every file named `name` below `dir`. */
function findFiles(dir: string, name: string): string[] {
  const out: string[] = [];
  for (const e of existsSync(dir) ? readdirSync(dir, { withFileTypes: true }) : []) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...findFiles(path, name));
    else if (e.name === name) out.push(path);
  }
  return out;
}

test("--sandbox_directory: a command task in an image with capabilities has its sandbox at /sandbox, its health check runs there, and it gets exactly its capability sets", {
  skip,
}, async () => {
  // The task ends once the health check succeeded twice (each probe appends a
  // line to `h` in the sandbox): by then the first result was reported.
  const waitForProbes = [
    "i=0",
    'until [ "$(grep -c . h 2>/dev/null)" -ge 2 ]',
    "do i=$((i+1)); [ $i -gt 150 ] && exit 0; sleep 0.2",
    "done",
  ].join("; ");
  const task = {
    name: "sandbox-dir-command",
    task_id: { value: "sandbox-dir-command" },
    agent_id: { value: "" },
    resources: small,
    command: { value: `${REPORT}; echo from-task > /sandbox/task-marker; ${waitForProbes}` },
    container: {
      ...imageContainer("box"),
      linux_info: {
        effective_capabilities: { capabilities: ["NET_RAW"] },
        bounding_capabilities: { capabilities: ["CHOWN", "NET_RAW"] },
      },
    },
    health_check: {
      type: "COMMAND",
      command: {
        value:
          'test "$(cat /etc/in-image)" = yes && test "$(pwd)" = /sandbox && test "$MESOS_SANDBOX" = /sandbox && echo ok >> h',
      },
      delay_seconds: 0.2,
      interval_seconds: 0.3,
      grace_period_seconds: 0,
      consecutive_failures: 1,
    },
  };
  const run = await runBinary(
    "mesos-execute",
    [`--master=${master.address}`, `--task=${JSON.stringify(task)}`],
    { timeoutMs: 90_000 },
  );
  const out = run.stdout + run.stderr;
  assert.match(out, /Received status update TASK_FINISHED for task 'sandbox-dir-command'/, out);
  assert.match(out, /healthy\?: 1/, out);
  assert.doesNotMatch(out, /healthy\?: 0/, out);
  const sandbox = await sandboxOf(agent, "sandbox-dir-command");
  assert.equal(readFileSync(join(sandbox, "task-marker"), "utf8"), "from-task\n");
  const r = keyValues(readFileSync(join(sandbox, "stdout"), "utf8"));
  assert.equal(r.sandbox, "/sandbox");
  assert.equal(r.pwd, "/sandbox");
  assert.equal(r.image, "yes");
  assert.equal(r.CapBnd, capabilityMask(["CHOWN", "NET_RAW"]));
  assert.equal(r.CapAmb, capabilityMask(["NET_RAW"]));
  // Root gets its bounding set back at exec, but no_new_privs keeps it to what it had.
  assert.equal(r.CapEff, capabilityMask(["NET_RAW"]));
  assert.equal(r.NoNewPrivs, "1");
});

test("--sandbox_directory: an executor running in its image as nobody finds its sandbox at /sandbox and gets exactly its capabilities", {
  skip,
}, async () => {
  const run = await executeTask(master, {
    name: "sandbox-dir-executor",
    resources: small,
    command: "true",
    executor: {
      executor_id: { value: "sandbox-dir-executor" },
      command: {
        value: `${REPORT}; echo from-executor > "$MESOS_SANDBOX/executor-marker"`,
        user: "nobody",
      },
      container: {
        ...imageContainer("box"),
        linux_info: {
          effective_capabilities: { capabilities: ["NET_BIND_SERVICE"] },
          bounding_capabilities: { capabilities: ["NET_BIND_SERVICE", "NET_RAW"] },
        },
      },
      resources: small,
    },
  });
  // The executor is a shell script that never subscribes: the task fails when it exits.
  assert.equal(run.finalState, "TASK_FAILED", run.stdout);
  const sandbox = await sandboxOf(agent, "sandbox-dir-executor");
  const stdout = await waitFor("the executor's output", () => {
    const text = readFileSync(join(sandbox, "stdout"), "utf8");
    return text.includes("NoNewPrivs=") ? text : undefined;
  });
  const r = keyValues(stdout);
  assert.equal(r.sandbox, "/sandbox");
  assert.equal(r.pwd, "/sandbox");
  assert.equal(r.image, "yes");
  assert.equal(readFileSync(join(sandbox, "executor-marker"), "utf8"), "from-executor\n");
  assert.equal(r.Uid, "65534");
  assert.equal(r.CapEff, capabilityMask(["NET_BIND_SERVICE"]));
  assert.equal(r.CapAmb, capabilityMask(["NET_BIND_SERVICE"]));
  assert.equal(r.CapBnd, capabilityMask(["NET_BIND_SERVICE", "NET_RAW"]));
  assert.equal(r.NoNewPrivs, "1");
});

test("--sandbox_directory: tasks of a task group in an image have their own sandbox at /sandbox; one with capabilities gets them inside", {
  skip,
}, async () => {
  const task = (id: string, command: object, linuxInfo?: object) => ({
    name: id,
    task_id: { value: id },
    agent_id: { value: "" },
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command,
    container: {
      ...imageContainer("box"),
      ...(linuxInfo === undefined ? {} : { linux_info: linuxInfo }),
    },
  });
  const run = await runBinary(
    "mesos-execute",
    [
      `--master=${master.address}`,
      `--task_group=${JSON.stringify({
        tasks: [
          task("group-plain", { value: `${REPORT}; echo group-plain > /sandbox/group-marker` }),
          task(
            "group-caps",
            { value: `${REPORT}; echo group-caps > "$MESOS_SANDBOX/group-marker"` },
            {
              effective_capabilities: { capabilities: ["NET_BIND_SERVICE"] },
              bounding_capabilities: { capabilities: ["NET_BIND_SERVICE", "NET_RAW"] },
            },
          ),
        ],
      })}`,
    ],
    { timeoutMs: 90_000 },
  );
  for (const id of ["group-plain", "group-caps"]) {
    assert.match(
      run.stdout,
      new RegExp(`Received status update TASK_FINISHED for task '${id}'`),
      run.stdout + run.stderr,
    );
  }
  // Each nested container's sandbox on the host holds what its task wrote at /sandbox.
  const markers = findFiles(join(agent.workDir, "slaves"), "group-marker");
  const byTask = new Map(markers.map((p) => [readFileSync(p, "utf8").trim(), p]));
  assert.deepEqual([...byTask.keys()].sort(), ["group-caps", "group-plain"], markers.join(", "));
  const report = (id: string) =>
    keyValues(readFileSync(join(byTask.get(id) as string, "..", "stdout"), "utf8"));
  const plain = report("group-plain");
  assert.equal(plain.sandbox, "/sandbox");
  assert.equal(plain.pwd, "/sandbox");
  assert.equal(plain.image, "yes");
  const caps = report("group-caps");
  assert.equal(caps.sandbox, "/sandbox");
  assert.equal(caps.image, "yes");
  assert.equal(caps.CapEff, capabilityMask(["NET_BIND_SERVICE"]));
  assert.equal(caps.CapAmb, capabilityMask(["NET_BIND_SERVICE"]));
  assert.equal(caps.CapBnd, capabilityMask(["NET_BIND_SERVICE", "NET_RAW"]));
  assert.equal(caps.NoNewPrivs, "1");
});
