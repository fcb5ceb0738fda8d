/**
 * `--executor_pool_size`: the idle executor the pool starts after one launch
 * carries nothing of that launch's environment into the next one. Task A
 * (its own PATH) triggers the refill; task B (another PATH) gets the new
 * member: B's task sees B's PATH, and B's executor process (whose
 * environment B's task can read in /proc) holds nothing of A's. And a
 * launch whose environment asks for something only a starting process does
 * (LD_PRELOAD) gets a process of its own instead of the idle member.
 */
import assert from "node:assert/strict";
import { readFileSync, readlinkSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
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
    command_executors_per_process: "1",
  }));
});

after(async () => {
  await stopAll();
});

/** The pid the agent recorded for executor `id` (pids/forked.pid in its run's meta directory). */
async function recordedPid(id: string): Promise<number> {
  const state = (await (await fetch(`http://${agent.address}/state`)).json()) as {
    frameworks: { executors: { id: string; directory: string }[] }[];
  };
  const executor = state.frameworks.flatMap((f) => f.executors).find((e) => e.id === id);
  assert.ok(executor !== undefined);
  const file = join(
    agent.workDir,
    "meta",
    executor.directory.slice(agent.workDir.length + 1),
    "pids",
    "forked.pid",
  );
  return await waitFor(`${id}'s pid record`, () => {
    try {
      return Number(readFileSync(file, "utf8")) || undefined;
    } catch {
      return undefined;
    }
  });
}

/** A library every glibc system has and Node does not load by itself. */
const PRELOAD = "libresolv.so.2";

function maps(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/maps`, "latin1");
  } catch {
    return "";
  }
}

const PATHS: Record<string, string> = {
  a: "/nonexistent/pool-path-a:/usr/local/bin:/usr/bin:/bin",
  b: "/nonexistent/pool-path-b:/usr/local/bin:/usr/bin:/bin",
};

test("pool: a member refilled after one launch carries nothing of its environment into the next", async () => {
  const c = new SchedulerClient({
    master: master.address,
    framework: { user: userInfo().username, name: "pool-environment" },
  });
  try {
    const tasks = startQueued(c);
    const command = (id: string) => ({
      shell: true,
      value: "env > task.env; exec sleep 60",
      environment: { variables: [{ name: "PATH", value: PATHS[id] as string }] },
    });
    // The first pooled launch finds the pool empty: spawned, and it starts the refill.
    tasks.push("a", command("a"));
    await waitFor("a running", () => tasks.lastState("a") === "TASK_RUNNING", {
      timeoutMs: 30_000,
    });
    const pooledPid = await oneIdleExecutor(agent.workDir);
    tasks.push("b", command("b"));
    await waitFor("b running", () => tasks.lastState("b") === "TASK_RUNNING", {
      timeoutMs: 30_000,
    });
    const agentState = (await (await fetch(`http://${agent.address}/state`)).json()) as {
      frameworks: { executors: { id: string; directory: string }[] }[];
    };
    const b = agentState.frameworks.flatMap((f) => f.executors).find((e) => e.id === "b");
    assert.ok(b !== undefined);
    // b runs in the member started after a's launch.
    assert.equal(readlinkSync(`/proc/${pooledPid}/cwd`), b.directory);
    const taskEnv = await waitFor(
      "b's task environment",
      () => {
        try {
          const text = readFileSync(join(b.directory, "task.env"), "utf8");
          return text.includes("MESOS_SANDBOX=") ? text : undefined;
        } catch {
          return undefined;
        }
      },
      { timeoutMs: 10_000 },
    );
    assert.match(taskEnv, new RegExp(`^PATH=${PATHS.b}$`, "m"));
    assert.doesNotMatch(taskEnv, /pool-path-a/);
    const executorEnv = environ(pooledPid);
    assert.ok(executorEnv.length > 0, "b's executor is running");
    assert.equal(
      executorEnv.find((v) => v.includes("pool-path-a")),
      undefined,
      "b's executor process holds a's PATH",
    );
  } finally {
    if (c.state === "subscribed") await c.teardown();
    c.close();
  }
});

test("pool: a launch with LD_PRELOAD gets its own process, which preloads it, not the idle member", async (t) => {
  const member = await oneIdleExecutor(agent.workDir);
  const c = new SchedulerClient({
    master: master.address,
    framework: { user: userInfo().username, name: "pool-preload" },
  });
  try {
    const tasks = startQueued(c);
    tasks.push("preload", {
      shell: true,
      value: "exec sleep 60",
      environment: { variables: [{ name: "LD_PRELOAD", value: PRELOAD }] },
    });
    await waitFor("preload running", () => tasks.lastState("preload") === "TASK_RUNNING", {
      timeoutMs: 30_000,
    });
    const executor = await recordedPid("preload");
    const mapped = maps(executor);
    assert.ok(mapped !== "", "the executor runs");
    if (executor !== member && !mapped.includes(PRELOAD)) {
      t.skip(`${PRELOAD} cannot be preloaded here`);
      return;
    }
    assert.notEqual(executor, member, "the launch was handed to the idle member");
    assert.match(mapped, new RegExp(PRELOAD.replaceAll(".", "\\.")));
    assert.deepEqual(idleExecutors(agent.workDir), [member], "the member still waits");
  } finally {
    if (c.state === "subscribed") await c.teardown();
    c.close();
  }
});
