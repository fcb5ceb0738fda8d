/**
 * An executor of a checkpointing framework that subscribed (and got its
 * task running) must be recoverable from that moment on: its pid record
 * (`pids/forked.pid`, `pids/forked.identity`) is on disk before the agent
 * accepts its SUBSCRIBE, as Mesos checkpoints the pid before the executor
 * may even run. The agent is SIGKILLed as soon as the task is running;
 * `MESOS_TS_TESTING_PID_RECORD_DELAY_MS` (pid-record.ts) holds each record
 * back so that the crash lands where a slow disk would leave it. Before the
 * fix the restarted agent found no pid, logged the executor as gone, killed
 * it and failed the task.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { SchedulerClient } from "../../src/scheduler/index.js";
import { alive } from "../harness/proc-scan.js";
import {
  type DaemonHandle,
  freePort,
  getJson,
  killProcessGroups,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitLong,
} from "../harness/processes.js";
import { closeClients, startQueued } from "../harness/queued-tasks.js";

let master: DaemonHandle;
const pids = new Set<number>();

before(async () => {
  master = await startMaster();
});

after(async () => {
  killProcessGroups(pids);
  await stopAll();
});

type AgentState = {
  frameworks?: {
    executors?: { id: string; directory: string; tasks?: { id: string; state: string }[] }[];
  }[];
};

async function crashRightAfterSubscribe(name: string, extraFlags: Record<string, string>) {
  const port = await freePort();
  const workDir = tempDir(`pid-window-${name}-`);
  const flags = {
    work_dir: workDir,
    resources: "cpus:4;mem:4096;disk:4096",
    registration_backoff_factor: "10ms",
    executor_reregistration_timeout: "10secs",
    ...extraFlags,
  };
  let agent = await startAgent({
    master: master.address,
    port,
    flags,
    env: { MESOS_TS_TESTING_PID_RECORD_DELAY_MS: "3000" },
  });
  const flag = join(workDir, "finish-now");
  const c = new SchedulerClient({
    master: master.address,
    framework: { user: userInfo().username, name: `pid-window-${name}`, checkpoint: true },
  });
  try {
    const tasks = startQueued(c);
    if (extraFlags.executor_pool_size !== undefined) {
      // The first launch finds the pool empty and fills it: the next
      // executor is handed over warm and subscribes at once.
      tasks.push("warm-up", "exit 0");
      await waitLong("warm-up finished", () => tasks.count("warm-up", "TASK_FINISHED") > 0);
    }
    tasks.push("long", `while [ ! -e ${flag} ]; do sleep 0.1; done`);
    await waitLong("long running", () => tasks.count("long", "TASK_RUNNING") > 0);
    agent.kill("SIGKILL");
    await agent.exited;
    agent = await startAgent({ master: master.address, port, flags });
    const lostOrFailed = () =>
      tasks.count("long", "TASK_LOST") + tasks.count("long", "TASK_FAILED");
    await waitLong(
      "the agent to show the recovered task RUNNING (or the task to fail)",
      async () => {
        if (lostOrFailed() > 0) return true;
        const state = await getJson<AgentState>(`${agent.url}/state`);
        const executor = (state?.frameworks ?? [])
          .flatMap((f) => f.executors ?? [])
          .find((e) => e.id === "long");
        return executor?.tasks?.some((t) => t.id === "long" && t.state === "TASK_RUNNING");
      },
    ).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\n${agent.logs().slice(-3000)}`);
    });
    assert.equal(lostOrFailed(), 0, `the task was not recovered:\n${agent.logs().slice(-3000)}`);
    const state = await getJson<AgentState>(`${agent.url}/state`);
    const directory = (state?.frameworks ?? [])
      .flatMap((f) => f.executors ?? [])
      .find((e) => e.id === "long")?.directory;
    assert.ok(directory !== undefined);
    const pidFile = join(
      workDir,
      "meta",
      directory.slice(workDir.length + 1),
      "pids",
      "forked.pid",
    );
    const pid = Number(readFileSync(pidFile, "utf8"));
    pids.add(pid);
    assert.ok(alive(pid), "the recovered executor runs");
    assert.doesNotMatch(agent.logs(), /Executor 'long' of framework \S+ is gone/);
    writeFileSync(flag, "");
    await waitLong("TASK_FINISHED", () => tasks.count("long", "TASK_FINISHED") > 0);
    assert.equal(lostOrFailed(), 0);
    assert.equal(tasks.count("long", "TASK_FINISHED"), 1);
  } finally {
    await closeClients([c]);
    await agent.stop();
  }
}

test("a command executor that subscribed is recovered when the agent is killed at once", async () => {
  await crashRightAfterSubscribe("command", {});
});

test("a pooled command executor that subscribed is recovered when the agent is killed at once", async () => {
  await crashRightAfterSubscribe("pooled", {
    executor_pool_size: "1",
    command_executors_per_process: "1",
  });
});
