/**
 * COMMAND checks and health checks of task-group tasks run as Mesos' default
 * executor runs them: each probe is a DEBUG container session nested in the
 * task's container (`<executor>.<task>.check-<uuid>`), so it sees the
 * task's image root filesystem, working directory and environment; a task
 * without an image gets its checks on the host, in its sandbox. A probe that
 * times out is killed and its container removed before the next one starts.
 * Needs root and a static busybox; skips otherwise.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { executorsCheckpointed, metaFiles } from "../harness/checkpoints.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { alive } from "../harness/proc-scan.js";
import {
  type DaemonHandle,
  freePort,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitLong,
} from "../harness/processes.js";
import { runCheckpointedGroup } from "../harness/task-groups.js";
import { sandboxOf, scalar } from "./containerizer-helpers.js";
import { buildLegacyImage, busyboxFiles, imageContainer, imageSkip } from "./images-helpers.js";

const skip = imageSkip;
let master: DaemonHandle;
let agent: DaemonHandle;

before(async () => {
  if (skip !== undefined) return;
  const registry = tempDir("mesos-tg-checks-registry-");
  buildLegacyImage(registry, "checked.tar", {
    repository: "checked",
    layers: [
      { id: "checked-base", files: busyboxFiles() },
      { id: "checked-top", files: { "only-in-image": "image-file\n" } },
    ],
    config: { Env: ["PATH=/bin", "FROM_IMAGE=checked"] },
  });
  ({ master, agent } = await startOneAgentCluster({
    isolation: "filesystem/linux,docker/runtime,namespaces/pid",
    image_providers: "docker",
    docker_registry: registry,
    docker_store_dir: tempDir("mesos-tg-checks-store-"),
    executor_shutdown_grace_period: "2secs",
  }));
});

after(stopAll);

/** mesos-execute's output as one block per status update. */
function updates(stdout: string): string[] {
  return stdout
    .split(/\n(?=Received status update )/)
    .filter((b) => b.startsWith("Received status update "));
}

/**
 * A task that ends once its health check and its check each succeeded twice
 * (each success appends a line to `h` / `c` in its sandbox): by then the
 * first results were reported. Gives up (and fails) after ~40 s.
 */
function untilProbed(): string {
  return [
    "i=0",
    'until [ "$(grep -c . h 2>/dev/null)" -ge 2 ] && [ "$(grep -c . c 2>/dev/null)" -ge 2 ]',
    "do i=$((i+1)); [ $i -gt 200 ] && exit 3; sleep 0.2",
    "done",
  ].join("; ");
}

function probes(command: string) {
  return {
    health_check: {
      type: "COMMAND",
      command: { value: `${command} && echo ok >> h` },
      delay_seconds: 0.2,
      interval_seconds: 0.3,
      timeout_seconds: 20,
      grace_period_seconds: 0,
      consecutive_failures: 1,
    },
    check: {
      type: "COMMAND",
      command: {
        command: {
          shell: false,
          value: "/bin/sh",
          arguments: ["sh", "-c", `${command} && echo ok >> c`],
        },
      },
      delay_seconds: 0.2,
      interval_seconds: 0.3,
      timeout_seconds: 20,
    },
  };
}

interface Listed {
  container_id: { value: string; parent?: { value: string; parent?: { value: string } } };
}

async function nestedContainers(): Promise<Listed[]> {
  const r = await fetch(`${agent.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ type: "GET_CONTAINERS", get_containers: { show_nested: true } }),
  });
  const body = (await r.json()) as { get_containers?: { containers?: Listed[] } };
  return body.get_containers?.containers ?? [];
}

/** Live processes whose command line is `command` (not, e.g., mesos-execute's naming it). */
function processesWith(command: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.trim() === command) out.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** Files and directories named `name` below `dir`. */
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
    if (e.name === name) out.push(path);
    if (e.isDirectory()) out.push(...findFiles(path, name));
  }
  return out;
}

test("task group checks: COMMAND checks of a task in an image run in its root filesystem, working directory and environment; those of a task without image in its sandbox on the host", {
  skip,
}, async () => {
  // True only inside the image, from the task's sandbox there, with the
  // image's Env and the task's own variables.
  const inImage = [
    "test -f /only-in-image",
    'test "$FROM_IMAGE" = checked',
    'test "$TASK_VAR" = from-task',
    'test "$(pwd)" = /mnt/mesos/sandbox',
    'test "$MESOS_SANDBOX" = /mnt/mesos/sandbox',
  ].join(" && ");
  // On the host: no image file; the task's sandbox is the working directory.
  const onHost = [
    "test ! -e /only-in-image",
    'test "$(pwd)" = "$MESOS_SANDBOX"',
    'test "$TASK_VAR" = host-task',
  ].join(" && ");
  const group = {
    tasks: [
      {
        name: "in-image",
        task_id: { value: "in-image" },
        agent_id: { value: "" },
        resources: [scalar("cpus", 0.1), scalar("mem", 32)],
        command: {
          value: untilProbed(),
          environment: { variables: [{ name: "TASK_VAR", value: "from-task" }] },
        },
        container: imageContainer("checked"),
        ...probes(inImage),
      },
      {
        name: "on-host",
        task_id: { value: "on-host" },
        agent_id: { value: "" },
        resources: [scalar("cpus", 0.1), scalar("mem", 32)],
        command: {
          value: untilProbed(),
          environment: { variables: [{ name: "TASK_VAR", value: "host-task" }] },
        },
        ...probes(onHost),
      },
    ],
  };
  const run = await runBinary(
    "mesos-execute",
    [`--master=${master.address}`, `--task_group=${JSON.stringify(group)}`],
    { timeoutMs: 120_000 },
  );
  const out = run.stdout + run.stderr;
  const blocks = updates(run.stdout);
  for (const id of ["in-image", "on-host"]) {
    const mine = blocks.filter((b) => b.includes(`for task '${id}'`));
    assert.match(mine.at(-1) ?? "", /^Received status update TASK_FINISHED/, out);
    assert.ok(
      mine.some((b) => b.includes("check status: COMMAND exit code 0")),
      `${id}: ${out}`,
    );
    assert.ok(
      mine.some((b) => /healthy\?: 1/.test(b)),
      `${id}: ${out}`,
    );
    assert.ok(!mine.some((b) => /healthy\?: 0/.test(b)), `${id}: ${out}`);
  }
});

test("task group checks: a COMMAND check that times out is killed and its nested container removed before the next one starts", {
  skip,
}, async () => {
  const release = join(tempDir("mesos-tg-checks-release-"), "release");
  // Each probe says it started, with its freezer cgroup (in the task's sandbox), then hangs.
  const hang = "grep freezer /proc/self/cgroup >> probes; exec sleep 31415";
  const task = {
    name: "slow-check",
    task_id: { value: "slow-check" },
    agent_id: { value: "" },
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: {
      // Runs until the test says so (the release file is on the host; the task has no image).
      value: `i=0; until [ -e '${release}' ]; do i=$((i+1)); [ $i -gt 600 ] && exit 3; sleep 0.2; done`,
    },
    check: {
      type: "COMMAND",
      command: { command: { value: hang } },
      delay_seconds: 0.2,
      interval_seconds: 0.2,
      timeout_seconds: 2,
    },
  };
  const running = runBinary(
    "mesos-execute",
    [`--master=${master.address}`, `--task_group=${JSON.stringify({ tasks: [task] })}`],
    { timeoutMs: 150_000 },
  );
  try {
    // Three probes started: the first two timed out, were killed and removed.
    const probesFile = await waitLong("three probes of the slow check", () => {
      const files = findFiles(join(agent.workDir, "slaves"), "probes");
      const file = files.find(
        (f) => readFileSync(f, "utf8").split("\n").filter(Boolean).length >= 3,
      );
      return file;
    });
    // Each probe ran in its own container nested in the task's: its own cgroup below the task's.
    const cgroups = readFileSync(probesFile, "utf8").split("\n").filter(Boolean);
    const own = new Set(cgroups.map((l) => /\/mesos\/[^/]+\/mesos\/check-[^/]+$/.exec(l)?.[0]));
    own.delete(undefined);
    assert.ok(own.size >= 3, cgroups.join("\n"));
    const checks = (await nestedContainers()).filter((c) =>
      c.container_id.value.startsWith("check-"),
    );
    // At most the probe running now; every check container is nested in the task's.
    assert.ok(checks.length <= 1, JSON.stringify(checks));
    for (const c of checks) {
      assert.ok(c.container_id.parent?.parent !== undefined, JSON.stringify(c));
    }
    assert.ok(processesWith("sleep 31415").length <= 1, "a timed-out probe still runs");
    // A removed check container leaves no sandbox (at most the current probe's is there).
    const sandboxes = join(dirname(probesFile), "containers");
    await waitLong("the sandboxes of removed check containers to go", () =>
      readdirSync(sandboxes).filter((e) => e.startsWith("check-")).length <= 1 ? true : undefined,
    );
  } finally {
    writeFileSync(release, "");
  }
  const run = await running;
  assert.match(
    run.stdout,
    /Received status update TASK_FINISHED for task 'slow-check'/,
    run.stdout + run.stderr,
  );
  // With its task, the last probe's container is gone too.
  await waitLong("no check container or probe left", async () => {
    const left = (await nestedContainers()).filter((c) =>
      c.container_id.value.startsWith("check-"),
    );
    return left.length === 0 && processesWith("sleep 31415").length === 0;
  });
});

test("task group checks: with executor authentication and ACLs, the executor's token launches the check containers of its tasks", {
  skip,
}, async () => {
  const dir = tempDir("mesos-tg-checks-auth-");
  const keyFile = join(dir, "jwt.key");
  writeFileSync(keyFile, "a-secret-only-the-agent-knows", { mode: 0o600 });
  const credentials = join(dir, "credentials.json");
  writeFileSync(credentials, JSON.stringify({ credentials: [{ principal: "ops", secret: "s" }] }));
  const { master: ownMaster } = await startOneAgentCluster({
    authenticate_http_executors: true,
    jwt_secret_key: keyFile,
    authenticate_http_readwrite: true,
    http_credentials: credentials,
    // Executors are allowed their own containers only, whatever the ACLs say of others.
    acls: JSON.stringify({
      launch_nested_container_sessions_as_user: [
        { principals: { type: "ANY" }, users: { type: "NONE" } },
      ],
    }),
  });
  const task = {
    name: "checked-with-token",
    task_id: { value: "checked-with-token" },
    agent_id: { value: "" },
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: {
      value:
        'i=0; until [ "$(grep -c . c 2>/dev/null)" -ge 2 ]; do i=$((i+1)); [ $i -gt 200 ] && exit 3; sleep 0.2; done',
    },
    check: {
      type: "COMMAND",
      command: { command: { value: "echo ok >> c" } },
      delay_seconds: 0.2,
      interval_seconds: 0.3,
    },
  };
  const run = await runBinary(
    "mesos-execute",
    [`--master=${ownMaster.address}`, `--task_group=${JSON.stringify({ tasks: [task] })}`],
    { timeoutMs: 120_000 },
  );
  assert.match(run.stdout, /check status: COMMAND exit code 0/, run.stdout + run.stderr);
  assert.match(
    run.stdout,
    /Received status update TASK_FINISHED for task 'checked-with-token'/,
    run.stdout + run.stderr,
  );
});

test("task group checks: after an agent restart the checks of a task in an image still run inside it", {
  skip,
}, async () => {
  const registry = tempDir("mesos-tg-checks-recovery-registry-");
  buildLegacyImage(registry, "kept.tar", {
    repository: "kept",
    layers: [
      { id: "kept-base", files: busyboxFiles() },
      { id: "kept-top", files: { "only-in-kept": "kept\n" } },
    ],
    config: { Env: ["PATH=/bin"] },
  });
  const ownMaster = await startMaster();
  const port = await freePort();
  const flags = {
    work_dir: tempDir("agent-tg-checks-recovery-"),
    isolation: "filesystem/linux,docker/runtime",
    image_providers: "docker",
    docker_registry: registry,
    docker_store_dir: tempDir("mesos-tg-checks-recovery-store-"),
    registration_backoff_factor: "10ms",
    executor_reregistration_timeout: "5secs",
    executor_shutdown_grace_period: "2secs",
  };
  let ownAgent = await startAgent({ master: ownMaster.address, port, flags });
  const task = {
    name: "checked-across",
    task_id: { value: "checked-across" },
    agent_id: { value: "" },
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: {
      value: "i=0; while [ ! -f stop ]; do i=$((i+1)); [ $i -gt 600 ] && exit 3; sleep 0.2; done",
    },
    container: imageContainer("kept"),
    // Succeeds only inside the image, once the test has written `flag` into the sandbox.
    check: {
      type: "COMMAND",
      command: { command: { value: "test -f /only-in-kept && test -f flag" } },
      delay_seconds: 0.2,
      interval_seconds: 0.3,
    },
  };
  const run = runCheckpointedGroup(ownMaster, [task]);
  let sandbox: string | undefined;
  try {
    await waitLong("the first check result", () =>
      run.output().includes("check status: COMMAND exit code 1") ? true : undefined,
    );
    await executorsCheckpointed(flags.work_dir);
    ownAgent.kill("SIGKILL");
    await ownAgent.exited;
    ownAgent = await startAgent({ master: ownMaster.address, port, flags });
    sandbox = join(await sandboxOf(ownAgent, "default-executor"), "tasks", "checked-across");
    writeFileSync(join(sandbox, "flag"), "");
    // Only a probe run by the restarted agent inside the image can see both files.
    await waitLong("a check result after the restart", () =>
      run.output().includes("check status: COMMAND exit code 0") ? true : undefined,
    );
  } finally {
    if (sandbox !== undefined) writeFileSync(join(sandbox, "stop"), "");
    else run.scheduler.kill("SIGKILL");
  }
  await run.end(60_000);
  assert.match(
    run.output(),
    /Received status update TASK_\w+ for task 'checked-across'/,
    run.output(),
  );
});

test("task group checks: a check container still running when the agent restarts is destroyed by the restarted agent, as Mesos destroys DEBUG containers on recovery", {
  skip,
}, async () => {
  const ownMaster = await startMaster();
  const port = await freePort();
  const flags = {
    work_dir: tempDir("agent-tg-checks-orphan-"),
    isolation: "filesystem/linux,namespaces/pid",
    registration_backoff_factor: "10ms",
    executor_reregistration_timeout: "5secs",
    executor_shutdown_grace_period: "2secs",
  };
  let ownAgent = await startAgent({ master: ownMaster.address, port, flags });
  const release = join(tempDir("mesos-tg-checks-orphan-release-"), "release");
  const task = {
    name: "orphan-check",
    task_id: { value: "orphan-check" },
    agent_id: { value: "" },
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: {
      value: `i=0; until [ -e '${release}' ]; do i=$((i+1)); [ $i -gt 900 ] && exit 3; sleep 0.2; done`,
    },
    // Each probe hangs far longer than the test runs.
    check: {
      type: "COMMAND",
      command: { command: { value: "exec sleep 27182" } },
      delay_seconds: 0.2,
      interval_seconds: 0.2,
      timeout_seconds: 600,
    },
  };
  const run = runCheckpointedGroup(ownMaster, [task]);
  let restarted = false;
  try {
    const before = await waitLong("a probe that hangs", () => {
      const pids = processesWith("sleep 27182");
      return pids.length > 0 ? pids : undefined;
    });
    await executorsCheckpointed(flags.work_dir);
    // The check container's record (its pid) is written just after the probe
    // starts: a restarted agent can only destroy what was on disk at the kill.
    await waitLong("the check container's record", () =>
      metaFiles(flags.work_dir, ".debug").length > 0 ? true : undefined,
    );
    ownAgent.kill("SIGKILL");
    await ownAgent.exited;
    // Without the agent the probe runs on (nothing killed it yet).
    assert.ok(before.some(alive), "the probe outlived the agent");
    ownAgent = await startAgent({ master: ownMaster.address, port, flags });
    await waitLong("the probe of the previous agent run to be destroyed", () =>
      before.some(alive) ? undefined : true,
    );
    // The line is written once the container's cgroup is gone too, after the probe died.
    const agentNow = ownAgent;
    await waitLong("the agent to log the destroyed check container", () =>
      /Destroyed DEBUG container '[^']+\.check-[^']+' of the previous agent run/.test(
        agentNow.logs(),
      )
        ? true
        : undefined,
    );
    restarted = true;
  } finally {
    writeFileSync(release, "");
    // A failed test leaves no scheduler behind (it would keep this test file running).
    if (!restarted) run.scheduler.kill("SIGKILL");
  }
  await run.end(60_000);
  await waitLong("no probe left with its task", () =>
    processesWith("sleep 27182").length === 0 ? true : undefined,
  );
});
