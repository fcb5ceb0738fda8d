import assert from "node:assert/strict";
import { test } from "node:test";
import type { Agent } from "../../src/agent/agent.js";
import { countTerminalTasks, taskStateCounts } from "../../src/agent/http/agent-metrics.js";
import type { StatusUpdate } from "../../src/common/protocol/generated/mesos-internal.js";
import type { Task, TaskState } from "../../src/common/protocol/generated/mesos-v1.js";

/** Just enough of an agent: one framework, one executor, tasks moved by statusUpdate. */
function fakeAgent() {
  const executor = {
    queuedTasks: new Map<string, unknown>(),
    launchedTasks: new Map<string, Task>(),
    terminatedTasks: new Map<string, Task>(),
  };
  const framework = { executorForTask: () => executor };
  const agent = {
    frameworks: new Map([["fw", framework]]),
    statusUpdate(update: StatusUpdate): void {
      const id = update.status.task_id.value;
      const task = executor.launchedTasks.get(id) ?? executor.terminatedTasks.get(id);
      if (task === undefined) return;
      task.state = update.status.state;
      if (["TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST"].includes(task.state)) {
        executor.launchedTasks.delete(id);
        executor.terminatedTasks.set(id, task);
      }
    },
  };
  const launch = (id: string): void => {
    executor.launchedTasks.set(id, {
      name: id,
      task_id: { value: id },
      framework_id: { value: "fw" },
      agent_id: { value: "a" },
      state: "TASK_RUNNING",
    });
  };
  const update = (id: string, state: TaskState): void =>
    (agent as unknown as Agent).statusUpdate(
      {
        framework_id: { value: "fw" },
        status: { task_id: { value: id }, state },
        timestamp: 1,
        uuid: new Uint8Array(16),
      },
      true,
    );
  return { agent: agent as unknown as Agent, executor, launch, update };
}

test("agent metrics: terminal task counters count transitions since start, not remembered tasks", () => {
  const { agent, executor, launch, update } = fakeAgent();
  const counts = countTerminalTasks(agent);
  launch("a");
  launch("b");
  launch("c");
  update("a", "TASK_FINISHED");
  update("a", "TASK_FINISHED"); // a retried terminal update is not a second task
  update("b", "TASK_FAILED");
  update("c", "TASK_RUNNING");
  assert.equal(counts.get("finished"), 1);
  assert.equal(counts.get("failed"), 1);
  assert.equal(counts.get("running"), undefined);
  // The agent forgets completed tasks (bounded history): the counters stay.
  executor.terminatedTasks.clear();
  update("c", "TASK_KILLED");
  assert.equal(counts.get("finished"), 1);
  assert.equal(counts.get("killed"), 1);
  update("unknown", "TASK_LOST");
  assert.equal(counts.get("lost"), undefined, "an update for an unknown task counts nothing");
});

test("agent metrics: task state gauges count the live executors of live frameworks only, as Mesos", () => {
  const task = (id: string, state: TaskState): Task => ({
    name: id,
    task_id: { value: id },
    framework_id: { value: "fw" },
    agent_id: { value: "a" },
    state,
  });
  const executor = (launched: Task[], queued: string[] = [], groupSizes: number[] = []) => ({
    queuedTasks: new Map(queued.map((id) => [id, {}])),
    queuedTaskGroups: groupSizes.map((n) => ({ tasks: Array.from({ length: n }, () => ({})) })),
    launchedTasks: new Map(launched.map((t) => [t.task_id.value, t])),
    terminatedTasks: new Map([["done", task("done", "TASK_FINISHED")]]),
    completedTasks: [task("old", "TASK_FAILED")],
  });
  const live = {
    executors: new Map([
      ["e1", executor([task("r1", "TASK_RUNNING"), task("k1", "TASK_KILLING")], ["q1"], [2])],
      ["e2", executor([task("s1", "TASK_STARTING"), task("r2", "TASK_RUNNING")])],
    ]),
    // An executor that ended while its task was still running (e.g. a torn-down framework).
    completedExecutors: [executor([task("stale", "TASK_RUNNING")])],
  };
  const torn = {
    executors: new Map([["e3", executor([task("r3", "TASK_RUNNING")])]]),
    completedExecutors: [],
  };
  const agent = {
    frameworks: new Map([["fw", live]]),
    completedFrameworks: [torn],
  } as unknown as Agent;
  assert.deepEqual(Object.fromEntries([...taskStateCounts(agent)].sort()), {
    killing: 1,
    running: 2,
    staging: 3,
    starting: 1,
  });
});
