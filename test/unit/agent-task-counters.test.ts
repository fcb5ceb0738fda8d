import assert from "node:assert/strict";
import { test } from "node:test";
import type { Agent } from "../../src/agent/agent.js";
import { countTerminalTasks } from "../../src/agent/http/agent-metrics.js";
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
