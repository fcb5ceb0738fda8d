/**
 * `namespaces/ipc` across agent restarts: the private /dev/shm (a tmpfs
 * under `<runtime_dir>/containers/<id>/shm`) of a recovered container stays
 * mounted while it runs and is unmounted when it ends; the one of a
 * container that ended while the agent was down is unmounted by the next
 * agent run. A checkpointing framework's tasks, the agent killed with
 * SIGKILL. Needs root on Linux; skips otherwise.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { after, test } from "node:test";
import { executorsCheckpointed } from "../harness/checkpoints.js";
import {
  binPath,
  type DaemonHandle,
  freePort,
  mountsUnder,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
  waitForAgents,
} from "../harness/processes.js";
import { executeTask, processesWithMarker, scalar } from "./containerizer-helpers.js";

const skip =
  process.platform !== "linux" || process.getuid?.() !== 0
    ? "needs root on Linux (IPC and mount namespaces)"
    : !existsSync("/proc/self/ns/ipc")
      ? "the kernel has no IPC namespaces"
      : undefined;

const schedulers: ChildProcess[] = [];

after(async () => {
  for (const s of schedulers) s.kill("SIGKILL");
  await stopAll();
});

/**
 * Waits until the task of `scheduler` runs `command`: its executor got past
 * the launch (an agent killed earlier, while the executor waits for its
 * isolation, leaves an executor that exits instead of being recovered).
 */
function taskRunning(scheduler: ChildProcess, command: string): Promise<number[]> {
  return waitFor(`'${command}' to run`, () => {
    const pids = processesWithMarker(command).filter((pid) => pid !== scheduler.pid);
    return pids.length > 0 ? pids : undefined;
  });
}

/** Starts a checkpointing mesos-execute running `command` with a PRIVATE /dev/shm. */
function longTask(master: DaemonHandle, name: string, command: string): ChildProcess {
  const task = {
    name,
    task_id: { value: name },
    agent_id: { value: "" },
    resources: [scalar("cpus", 0.1), scalar("mem", 64)],
    command: { value: command },
    container: { type: "MESOS", linux_info: { ipc_mode: "PRIVATE", shm_size: 4 } },
  };
  const child = spawn(
    process.execPath,
    [
      binPath("mesos-execute"),
      `--master=${master.address}`,
      `--task=${JSON.stringify(task)}`,
      "--checkpoint",
    ],
    { stdio: "ignore" },
  );
  schedulers.push(child);
  return child;
}

test("namespaces/ipc: a recovered container keeps its /dev/shm until it ends; one that ended while the agent was down loses it at the next run", {
  skip,
}, async () => {
  const master = await startMaster();
  const port = await freePort();
  const runtimeDir = tempDir("mesos-runtime-");
  const workDir = tempDir("agent-ipc-recovery-");
  const flags = {
    work_dir: workDir,
    runtime_dir: runtimeDir,
    isolation: "filesystem/linux,namespaces/ipc",
    registration_backoff_factor: "10ms",
    executor_reregistration_timeout: "5secs",
    executor_shutdown_grace_period: "1secs",
  };
  let agent = await startAgent({ master: master.address, port, flags });
  await waitForAgents(master, 1);

  // 1. Recovered, then ended by its framework.
  const firstMarker = `${process.pid}${Date.now() % 100_000}1`;
  const first = longTask(master, "ipc-recovered", `sleep ${firstMarker}`);
  await taskRunning(first, `sleep ${firstMarker}`);
  const [shm] = await waitFor("the task's /dev/shm mount", () => {
    const m = mountsUnder(runtimeDir);
    return m.length === 1 ? m : undefined;
  });
  await executorsCheckpointed(workDir);
  agent.kill("SIGKILL");
  await agent.exited;
  agent = await startAgent({ master: master.address, port, flags });
  await waitFor("the container's recovery", () =>
    /Recovered the isolation of 1 container/.test(agent.logs()),
  );
  assert.deepEqual(mountsUnder(runtimeDir), [shm], "the recovered container keeps its /dev/shm");
  first.kill("SIGTERM");
  await waitFor(
    "the recovered container's /dev/shm to be unmounted",
    () => mountsUnder(runtimeDir).length === 0,
    { timeoutMs: 30_000 },
  );

  // 2. Ended while the agent was down.
  const marker = `${process.pid}${Date.now() % 100_000}2`;
  const second = longTask(master, "ipc-orphan", `sleep ${marker}`);
  await taskRunning(second, `sleep ${marker}`);
  await waitFor("the second task's /dev/shm mount", () => mountsUnder(runtimeDir).length === 1);
  await executorsCheckpointed(workDir, 2);
  agent.kill("SIGKILL");
  await agent.exited;
  // The whole container goes (its executor, from its checkpointed pid, and the task).
  const pidFile = (await executorsCheckpointed(workDir, 2)).find((f) =>
    f.includes("/executors/ipc-orphan/"),
  );
  assert.ok(pidFile !== undefined);
  const executorPid = Number(readFileSync(pidFile, "utf8").trim());
  for (const pid of [executorPid, ...processesWithMarker(`sleep ${marker}`)]) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await waitFor(
    "the orphaned container's processes to end",
    () =>
      !existsSync(`/proc/${executorPid}`) && processesWithMarker(`sleep ${marker}`).length === 0,
  );
  assert.equal(mountsUnder(runtimeDir).length, 1, "the orphan's /dev/shm is still mounted");
  agent = await startAgent({ master: master.address, port, flags });
  await waitFor("the agent to find the orphan's executor gone", () =>
    /Executor 'ipc-orphan' of framework \S+ is gone/.test(agent.logs()),
  );
  await waitForAgents(master, 1);
  // The next container's launch (nothing was recovered) sweeps the leftover.
  const run = await executeTask(master, {
    name: "ipc-after",
    resources: [scalar("cpus", 0.1), scalar("mem", 64)],
    command: "true",
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  await waitFor(
    "the orphan's /dev/shm to be unmounted",
    () => mountsUnder(runtimeDir).length === 0,
  );
});
