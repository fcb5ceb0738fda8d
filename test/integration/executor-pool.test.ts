/**
 * `--executor_pool_size` on a real agent: the agent keeps an idle command
 * executor started; the next command task is handed to it. The task sees
 * the environment of a normal launch (and nothing of the pool), its output
 * and the executor's log land in the sandbox files, the agent knows the
 * pooled process as the executor, kills work, and stopping the agent leaves
 * no idle executor behind.
 */
import assert from "node:assert/strict";
import { readFileSync, readlinkSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { POOL_VARIABLE } from "../../src/executor/command-executor-main.js";
import { SchedulerClient } from "../../src/scheduler/index.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { idleExecutors, oneIdleExecutor } from "../harness/executor-pool.js";
import { environ } from "../harness/proc-scan.js";
import { type DaemonHandle, stopAll, waitFor } from "../harness/processes.js";
import { startQueued } from "../harness/queued-tasks.js";

let master: DaemonHandle;
let agent: DaemonHandle;

before(async () => {
  ({ master, agent } = await startOneAgentCluster({
    resources: "cpus:4;mem:4096;disk:4096",
    executor_pool_size: "1",
    // The pool serves executors that run one per process.
    command_executors_per_process: "1",
  }));
});

after(async () => {
  await stopAll();
});

test("pool: a command task is handed to an idle executor and behaves like a spawned one", async () => {
  const c = new SchedulerClient({
    master: master.address,
    framework: { user: userInfo().username, name: "pool" },
  });
  try {
    const tasks = startQueued(c);
    const command = (id: string) => `echo out-${id}; env > task.env; exec sleep 60`;
    tasks.push("first", command("first"));
    await waitFor("first running", () => tasks.lastState("first") === "TASK_RUNNING", {
      timeoutMs: 30_000,
    });
    const pooledPid = await oneIdleExecutor(agent.workDir);
    tasks.push("second", command("second"));
    await waitFor("second running", () => tasks.lastState("second") === "TASK_RUNNING", {
      timeoutMs: 30_000,
    });
    const agentState = (await (await fetch(`http://${agent.address}/state`)).json()) as {
      frameworks: { executors: { id: string; directory: string }[] }[];
    };
    const second = agentState.frameworks.flatMap((f) => f.executors).find((e) => e.id === "second");
    assert.ok(second !== undefined);
    const sandbox = second.directory;
    // The pooled process is now the second task's executor, in its sandbox.
    assert.equal(readlinkSync(`/proc/${pooledPid}/cwd`), sandbox);
    const taskEnv = await waitFor(
      "the task's environment",
      () => {
        try {
          const text = readFileSync(join(sandbox, "task.env"), "utf8");
          return text.includes("MESOS_SANDBOX=") ? text : undefined;
        } catch {
          return undefined;
        }
      },
      { timeoutMs: 10_000 },
    );
    assert.doesNotMatch(taskEnv, new RegExp(POOL_VARIABLE));
    assert.match(taskEnv, /^MESOS_EXECUTOR_ID=second$/m);
    assert.match(taskEnv, new RegExp(`^MESOS_SANDBOX=${sandbox}$`, "m"));
    assert.equal(readFileSync(join(sandbox, "stdout"), "utf8").trim(), "out-second");
    assert.match(readFileSync(join(sandbox, "stderr"), "utf8"), /executor/i);
    // Same environment names as the first (spawned) task's, values aside.
    const first = agentState.frameworks.flatMap((f) => f.executors).find((e) => e.id === "first");
    assert.ok(first !== undefined);
    const names = (text: string) =>
      text
        .split("\n")
        .map((l) => l.split("=")[0])
        .filter((n) => n !== "" && n !== "PWD" && n !== "OLDPWD" && n !== "SHLVL" && n !== "_")
        .sort();
    assert.deepEqual(
      names(taskEnv),
      names(readFileSync(join(first.directory, "task.env"), "utf8")),
    );

    await c.kill({ value: "second" }, tasks.agentId());
    await waitFor("second killed", () => tasks.lastState("second") === "TASK_KILLED", {
      timeoutMs: 30_000,
    });
    await waitFor("the pooled executor exited", () => environ(pooledPid).length === 0, {
      timeoutMs: 20_000,
    });
    await waitFor("the pool refilled", () => idleExecutors(agent.workDir).length === 1, {
      timeoutMs: 20_000,
    });
  } finally {
    if (c.state === "subscribed") await c.teardown();
    c.close();
  }
  const workDir = agent.workDir;
  await stopAll();
  await waitFor("no idle executor left", () => idleExecutors(workDir).length === 0, {
    timeoutMs: 20_000,
  });
});
