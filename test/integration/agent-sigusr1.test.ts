/**
 * SIGUSR1 to an agent, as in Mesos: it unregisters from the master and
 * shuts down every executor (a checkpointing framework's too, which SIGTERM
 * would leave running for the next agent), then exits 0. The master removes
 * it at once: its task is gone, it is no longer listed.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, test } from "node:test";
import { executorsCheckpointed } from "../harness/checkpoints.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { binPath, getJson, stopAll, tempDir, waitFor, waitLong } from "../harness/processes.js";
import { processesWithMarker, scalar } from "./containerizer-helpers.js";

let scheduler: ChildProcess | undefined;

after(async () => {
  scheduler?.kill("SIGKILL");
  await stopAll();
});

interface FrameworkTasks {
  completed_tasks: { id: string; state: string }[];
}

interface MasterState {
  slaves: { id: string }[];
  frameworks: FrameworkTasks[];
  completed_frameworks: FrameworkTasks[];
}

test("agent: SIGUSR1 unregisters it and shuts down every executor, checkpointing ones too", async () => {
  const workDir = tempDir("agent-sigusr1-");
  const { master, agent } = await startOneAgentCluster({ work_dir: workDir });

  const marker = `${process.pid}${Date.now() % 100_000}`;
  const task = {
    name: "usr1",
    task_id: { value: "usr1" },
    agent_id: { value: "" },
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: { value: `sleep ${marker}` },
  };
  scheduler = spawn(
    process.execPath,
    [
      binPath("mesos-execute"),
      `--master=${master.address}`,
      `--task=${JSON.stringify(task)}`,
      "--checkpoint",
    ],
    { stdio: "ignore" },
  );
  const launcher = scheduler.pid;
  await waitFor("the task to run", () =>
    processesWithMarker(`sleep ${marker}`).some((pid) => pid !== launcher),
  );
  await executorsCheckpointed(workDir);

  let exitCode: number | null | undefined;
  void agent.exited.then((code) => {
    exitCode = code;
  });
  agent.kill("SIGUSR1");
  await waitLong("the agent to exit", () => exitCode !== undefined);
  assert.equal(exitCode, 0, agent.logs());
  assert.match(agent.logs(), /Received SIGUSR1 signal; unregistering and shutting down/);
  // Unlike SIGTERM, the checkpointing framework's task did not outlive the agent.
  await waitFor(
    "the task's process to end",
    () => !processesWithMarker(`sleep ${marker}`).some((pid) => pid !== launcher),
  );
  const state = await waitFor("the master to remove the agent and lose its task", async () => {
    const s = (await getJson(`${master.url}/master/state`)) as MasterState;
    // mesos-execute tears its framework down once its task ended.
    const lost = [...s.frameworks, ...s.completed_frameworks]
      .flatMap((f) => f.completed_tasks)
      .find((t) => t.id === "usr1");
    return s.slaves.length === 0 && lost !== undefined ? { s, lost } : undefined;
  });
  // mesos-execute is partition-aware: an agent that left for good is TASK_GONE_BY_OPERATOR.
  assert.equal(state.lost.state, "TASK_GONE_BY_OPERATOR");
  assert.match(master.logs(), /the agent unregistered/);
});
