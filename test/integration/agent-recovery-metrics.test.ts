/**
 * The agent's task and executor metrics across a restart with recovery, as
 * Mesos has them: the gauges (`slave/tasks_running`,
 * `slave/executors_running` ...) show the recovered executor and task, and
 * the counters (`slave/tasks_finished`, `slave/executors_terminated`)
 * start from what recovery replays from the checkpoints (a finished run
 * still checkpointed counts again), not from 0.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { readUpdatesFile } from "../../src/agent/checkpoint/state.js";
import { SchedulerClient, type TaskStatus } from "../../src/scheduler/index.js";
import { metaFiles } from "../harness/checkpoints.js";
import { registeredAgentId, restartableAgent } from "../harness/cluster.js";
import {
  type DaemonHandle,
  getJson,
  killProcessGroups,
  startMaster,
  stopAll,
  waitLong,
} from "../harness/processes.js";
import { commandTaskOn } from "../harness/queued-tasks.js";

const executorPids = new Set<number>();
let client: SchedulerClient | undefined;

after(async () => {
  killProcessGroups(executorPids);
  if (client?.state === "subscribed") await client.teardown().catch(() => undefined);
  client?.close();
  await stopAll();
});

const WATCHED = [
  "slave/tasks_staging",
  "slave/tasks_running",
  "slave/tasks_finished",
  "slave/executors_registering",
  "slave/executors_running",
  "slave/executors_terminated",
] as const;

async function metrics(agent: DaemonHandle): Promise<Record<string, number>> {
  const snapshot = await getJson<Record<string, number>>(`${agent.url}/metrics/snapshot`);
  assert.ok(snapshot !== undefined, "/metrics/snapshot answers 200");
  return Object.fromEntries(WATCHED.map((k) => [k, snapshot[k] ?? -1]));
}

/** Waits until the watched metrics are `want`; the last snapshot is in the error otherwise. */
async function waitMetrics(
  agent: DaemonHandle,
  what: string,
  want: Record<(typeof WATCHED)[number], number>,
): Promise<void> {
  let last: Record<string, number> = {};
  try {
    await waitLong(what, async () => {
      last = await metrics(agent);
      return WATCHED.every((k) => last[k] === want[k]);
    });
  } catch (error) {
    assert.deepEqual(last, want, `${String(error)}`);
  }
}

test("agent recovery metrics: gauges show the recovered executor and task; terminal counters replay the checkpoints, as Mesos", async () => {
  const master = await startMaster();
  const { workDir, start: startTheAgent } = await restartableAgent(
    master,
    "agent-recovery-metrics-",
    { executor_reregistration_timeout: "15secs" },
  );
  let agent = await startTheAgent();
  const agentId = await registeredAgentId(agent);

  const flag = join(workDir, "finish-now");
  const statuses: TaskStatus[] = [];
  const seen = (id: string, state: string) =>
    statuses.some((s) => s.task_id.value === id && s.state === state);
  const c = new SchedulerClient({
    master: master.address,
    framework: { user: userInfo().username, name: "recovery-metrics", checkpoint: true },
  });
  client = c;
  const launched: string[] = [];
  c.start({
    offers: (offers) => {
      for (const offer of offers) {
        const next = launched.length === 0 ? "short" : launched.length === 1 ? "long" : undefined;
        if (offer.agent_id.value !== agentId || next === undefined) {
          void c.decline([offer.id], { refuse_seconds: 3600 });
          continue;
        }
        launched.push(next);
        const command = next === "short" ? "true" : `while [ ! -e ${flag} ]; do sleep 0.1; done`;
        void c.launch([offer.id], [commandTaskOn(offer, next, command)], { refuse_seconds: 0 });
      }
    },
    update: (status) => {
      statuses.push(status);
    },
  });
  await waitLong("short to finish", () => seen("short", "TASK_FINISHED"));
  await waitLong("long to run", () => seen("long", "TASK_RUNNING"));
  // Restart only once every update is acknowledged on disk and short's run is
  // marked complete, so the restarted agent has nothing to resend.
  await waitLong("both tasks' acknowledgements to be checkpointed", () => {
    const files = metaFiles(workDir, "task.updates");
    return (
      files.length === 2 &&
      files.every((file) => {
        const read = readUpdatesFile(file, false);
        return read.updates.length >= 2 && read.acks.size === read.updates.length;
      })
    );
  });
  await waitLong(
    "short's run to be marked complete",
    () => metaFiles(workDir, "executor.sentinel").length === 1,
  );
  const pidFiles = metaFiles(workDir, "pids/forked.pid");
  for (const file of pidFiles) executorPids.add(Number(readFileSync(file, "utf8")));
  const before = {
    "slave/tasks_staging": 0,
    "slave/tasks_running": 1,
    "slave/tasks_finished": 1,
    "slave/executors_registering": 0,
    "slave/executors_running": 1,
    "slave/executors_terminated": 1,
  };
  await waitMetrics(agent, "the metrics before the restart", before);

  agent.kill("SIGKILL");
  await agent.exited;
  agent = await startTheAgent();
  // long's executor re-subscribes: it is running again, its task too; short's
  // finished run is still checkpointed and counted again, as Mesos replays it.
  await waitMetrics(agent, "the metrics after recovery", before);
  assert.match(agent.logs(), /Recovered executor 'long'/);

  writeFileSync(flag, "");
  await waitLong("long to finish", () => seen("long", "TASK_FINISHED")).catch((error: unknown) => {
    const updates = statuses.map((s) => `${s.task_id.value}:${s.state}`).join(" ");
    throw new Error(`${String(error)}; updates: ${updates}\n${agent.logs().slice(-4000)}`);
  });
  await waitMetrics(agent, "the metrics once long finished", {
    "slave/tasks_staging": 0,
    "slave/tasks_running": 0,
    "slave/tasks_finished": 2,
    "slave/executors_registering": 0,
    "slave/executors_running": 0,
    "slave/executors_terminated": 2,
  });
  await c.teardown();
});
