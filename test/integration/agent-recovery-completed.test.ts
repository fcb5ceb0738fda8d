/**
 * What a restarted agent lists of the executor runs it had finished with,
 * as Mesos' recovery does, on a real master and agent: a finished run still
 * checkpointed is a completed executor of its framework in `/state` again
 * (its tasks with their terminal states, its sandbox browsable in
 * `/files`), and a framework with nothing live is among the completed
 * frameworks again.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { SchedulerClient, type TaskStatus } from "../../src/scheduler/index.js";
import { metaFiles } from "../harness/checkpoints.js";
import { registeredAgentId, restartableAgent } from "../harness/cluster.js";
import {
  type DaemonHandle,
  getJson,
  killProcessGroups,
  startMaster,
  stopAll,
  waitForTasksRunning,
  waitLong,
} from "../harness/processes.js";
import { closeClients, commandTaskOn } from "../harness/queued-tasks.js";

const executorPids = new Set<number>();
const clients: SchedulerClient[] = [];

after(async () => {
  killProcessGroups(executorPids);
  await closeClients(clients);
  await stopAll();
});

interface TaskJson {
  id: string;
  state: string;
}
interface ExecutorJson {
  id: string;
  directory: string;
  tasks: TaskJson[];
  completed_tasks: TaskJson[];
}
interface FrameworkJson {
  id: string;
  name: string;
  executors: ExecutorJson[];
  completed_executors: ExecutorJson[];
}
interface StateJson {
  id?: string;
  frameworks?: FrameworkJson[];
  completed_frameworks?: FrameworkJson[];
}

/** Per framework name: live executor ids, and completed ones with their tasks' states. */
interface Summary {
  [framework: string]: {
    executors: string[];
    completed: Record<string, string[]>;
  };
}

function summary(frameworks: FrameworkJson[] | undefined): Summary {
  const out: Summary = {};
  for (const f of frameworks ?? []) {
    out[f.name] = {
      executors: f.executors.map((e) => e.id).sort(),
      completed: Object.fromEntries(
        f.completed_executors.map((e) => [
          e.id,
          [...e.tasks, ...e.completed_tasks].map((t) => `${t.id}:${t.state}`),
        ]),
      ),
    };
  }
  return out;
}

/** Waits until `/state` summarizes as `want` (live and completed frameworks); the last one is in the error otherwise. */
async function waitState(
  agent: DaemonHandle,
  what: string,
  want: { frameworks: Summary; completed_frameworks: Summary },
): Promise<StateJson> {
  let last: unknown;
  try {
    return await waitLong(what, async () => {
      const state = await getJson<StateJson>(`${agent.url}/state`);
      if (state === undefined) return undefined;
      const got = {
        frameworks: summary(state.frameworks),
        completed_frameworks: summary(state.completed_frameworks),
      };
      last = got;
      return isDeepStrictEqual(got, want) ? state : undefined;
    });
  } catch (error) {
    assert.deepEqual(last, want, `${String(error)}`);
    throw error;
  }
}

test("agent recovery: finished runs are completed executors in /state again and a framework with nothing live is a completed framework, as Mesos", async () => {
  const master = await startMaster();
  const { workDir, start: startTheAgent } = await restartableAgent(
    master,
    "agent-recovery-completed-",
    { executor_reregistration_timeout: "15secs" },
  );
  let agent = await startTheAgent();
  const agentId = await registeredAgentId(agent);

  const flag = join(workDir, "finish-now");
  const statuses: TaskStatus[] = [];
  const seen = (id: string, state: string) =>
    statuses.some((s) => s.task_id.value === id && s.state === state);
  const launchAll = (name: string, tasks: [string, string][]) => {
    const c = new SchedulerClient({
      master: master.address,
      framework: { user: userInfo().username, name, checkpoint: true },
    });
    clients.push(c);
    const pending = [...tasks];
    c.start({
      offers: (offers) => {
        for (const offer of offers) {
          const next = pending.shift();
          if (offer.agent_id.value !== agentId || next === undefined) {
            if (next !== undefined) pending.unshift(next);
            void c.decline([offer.id], { refuse_seconds: 3600 });
            continue;
          }
          void c.launch([offer.id], [commandTaskOn(offer, next[0], next[1])], {
            refuse_seconds: 0,
          });
        }
      },
      update: (status) => {
        statuses.push(status);
      },
    });
    return c;
  };
  // "mixed" keeps a live executor next to a finished one; "done" has only a finished one.
  launchAll("mixed", [
    ["short", "true"],
    ["long", `while [ ! -e ${flag} ]; do sleep 0.1; done`],
  ]);
  launchAll("done", [["alone", "true"]]);
  await waitLong("short and alone to finish", () =>
    ["short", "alone"].every((id) => seen(id, "TASK_FINISHED")),
  );
  await waitForTasksRunning(master, ["long"]);

  const expected = {
    frameworks: {
      mixed: { executors: ["long"], completed: { short: ["short:TASK_FINISHED"] } },
    },
    completed_frameworks: {
      done: { executors: [], completed: { alone: ["alone:TASK_FINISHED"] } },
    },
  };
  const before = await waitState(agent, "the finished runs completed before the restart", expected);
  // The sentinel marking a run finished is written in the background: restart
  // only once both are on disk, or the restarted agent would see live runs.
  await waitLong(
    "both finished runs to be marked complete on disk",
    () => metaFiles(workDir, "executor.sentinel").length === 2,
  );
  for (const file of metaFiles(workDir, "pids/forked.pid")) {
    executorPids.add(Number(readFileSync(file, "utf8")));
  }
  const directories = (state: StateJson) =>
    Object.fromEntries(
      [...(state.frameworks ?? []), ...(state.completed_frameworks ?? [])].flatMap((f) =>
        f.completed_executors.map((e) => [e.id, e.directory]),
      ),
    );

  agent.kill("SIGKILL");
  await agent.exited;
  agent = await startTheAgent();
  const afterRestart = await waitState(
    agent,
    "the finished runs listed completed again after the restart",
    expected,
  );
  assert.match(agent.logs(), /Recovered completed executor 'short'/);
  assert.match(agent.logs(), /Recovered completed executor 'alone'/);
  assert.deepEqual(directories(afterRestart), directories(before), "the same sandboxes");
  // The finished runs' sandboxes are browsable again, as Mesos attaches them at recovery.
  for (const [id, directory] of Object.entries(directories(afterRestart))) {
    const browse = await waitLong(`${id}'s sandbox in /files`, async () => {
      const r = await fetch(`${agent.url}/files/browse?path=${encodeURIComponent(directory)}`);
      const body = await r.text();
      return r.status === 200 ? body : undefined;
    });
    assert.match(browse, /"stdout"|\/stdout"/, `${id}'s sandbox lists its stdout`);
  }

  // The live executor still finishes normally; its framework then completes with both runs.
  writeFileSync(flag, "");
  await waitLong("long to finish", () => seen("long", "TASK_FINISHED"));
  await waitState(agent, "mixed completed once long is done", {
    frameworks: {},
    completed_frameworks: {
      done: { executors: [], completed: { alone: ["alone:TASK_FINISHED"] } },
      mixed: {
        executors: [],
        completed: { short: ["short:TASK_FINISHED"], long: ["long:TASK_FINISHED"] },
      },
    },
  });
});
