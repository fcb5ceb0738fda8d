/**
 * bin/mesos-execute's end of life against a real master and agent, as
 * docs/mesos-execute.md states it: an ERROR event from the master ends it
 * with Mesos' line and exit 1; Ctrl-C tears the framework down (its task is
 * killed) and exits 130; a task group whose task fails has its other task
 * killed by the default executor, and every terminal update is printed
 * before exit 1; `--checkpoint` and `--framework_capabilities` reach the
 * master's FrameworkInfo.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import {
  binPath,
  type DaemonHandle,
  getJson,
  runBinary,
  stopAll,
  tempDir,
  waitFor,
} from "../harness/processes.js";

let master: DaemonHandle;

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("MESOS_") && !k.startsWith("LIBPROCESS_")) env[k] = v;
  }
  return env;
}

interface FrameworkState {
  id: string;
  checkpoint?: boolean;
  capabilities?: string[];
  tasks?: Array<{ id: string; state: string }>;
  completed_tasks?: Array<{ id: string; state: string }>;
}

async function frameworks(): Promise<{ live: FrameworkState[]; done: FrameworkState[] }> {
  const state = await getJson<{
    frameworks?: FrameworkState[];
    completed_frameworks?: FrameworkState[];
  }>(`${master.url}/master/state`);
  return { live: state?.frameworks ?? [], done: state?.completed_frameworks ?? [] };
}

before(async () => {
  ({ master } = await startOneAgentCluster());
});

after(stopAll);

test("an ERROR event from the master ends mesos-execute with Mesos' line and exit 1", async () => {
  const r = await runBinary(
    "mesos-execute",
    [`--master=${master.address}`, "--name=bad-role", "--command=true", "--role=bad role"],
    { env: cleanEnv(), timeoutMs: 60_000 },
  );
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, "");
  assert.match(
    r.stderr,
    /^Received an ERROR event: 'FrameworkInfo\.role' is not a valid role: .*'bad role'.*$/m,
  );
});

test("Ctrl-C tears the framework down, killing its task, and exits 130", async () => {
  const child = spawn(
    process.execPath,
    [
      binPath("mesos-execute"),
      `--master=${master.address}`,
      "--name=interrupted",
      "--command=sleep 120",
      "--resources=cpus:0.1;mem:32",
      "--checkpoint",
      "--framework_capabilities=GPU_RESOURCES",
    ],
    { env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  try {
    await waitFor(
      "the task running",
      () =>
        stdout.includes("Received status update TASK_RUNNING for task 'interrupted'") || undefined,
    );
    const framework = await waitFor("the framework in the master's state", async () =>
      (await frameworks()).live.find((f) => (f.tasks ?? []).some((t) => t.id === "interrupted")),
    );
    assert.equal(framework.checkpoint, true);
    assert.ok(framework.capabilities?.includes("GPU_RESOURCES"), String(framework.capabilities));
    assert.ok(framework.capabilities?.includes("PARTITION_AWARE"), String(framework.capabilities));

    child.kill("SIGINT");
    assert.equal(await exited, 130, stderr);
    assert.match(stderr, /^Interrupted: tearing the framework down$/m);
    const done = await waitFor("the framework completed", async () =>
      (await frameworks()).done.find((f) => f.id === framework.id),
    );
    assert.deepEqual(
      (done.completed_tasks ?? []).map((t) => [t.id, t.state]),
      [["interrupted", "TASK_KILLED"]],
    );
  } finally {
    child.kill("SIGKILL");
  }
});

test("a task group whose task fails: the other task is killed, both ends printed, exit 1", async () => {
  const task = (id: string, command: string) => ({
    name: id,
    task_id: { value: id },
    agent_id: { value: "" },
    resources: [
      { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
      { name: "mem", type: "SCALAR", scalar: { value: 32 } },
    ],
    command: { value: command },
  });
  const file = join(tempDir("mesos-execute-group-"), "group.json");
  writeFileSync(
    file,
    JSON.stringify({ tasks: [task("group-long", "sleep 120"), task("group-bad", "exit 2")] }),
  );
  const r = await runBinary(
    "mesos-execute",
    [`--master=${master.address}`, `--task_group=file://${file}`],
    {
      env: cleanEnv(),
      timeoutMs: 120_000,
    },
  );
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stdout,
    /^Submitted task group with tasks \[ group-long, group-bad \] to agent '\S+'$/m,
  );
  assert.match(
    r.stdout,
    /^Received status update TASK_FAILED for task 'group-bad'\n {2}message: 'Command exited with status 2'$/m,
  );
  assert.match(r.stdout, /^Received status update TASK_KILLED for task 'group-long'$/m);
  // It ends after the last terminal update, not after the first one.
  assert.equal(r.stdout.match(/^Received status update TASK_(KILLED|FAILED) /gm)?.length, 2);
});
