import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Executor } from "../../src/agent/executor.js";
import { Framework } from "../../src/agent/framework.js";
import type { Task, TaskInfo } from "../../src/common/protocol/generated/mesos-v1.js";

function framework(): Framework {
  return new Framework({ id: { value: "fw" }, user: "u", name: "f" }, undefined, 10);
}

function executor(id: string): Executor {
  return new Executor("fw", { executor_id: { value: id } }, `c-${id}`, `/tmp/${id}`, true, false);
}

function taskInfo(id: string): TaskInfo {
  return { name: id, task_id: { value: id }, agent_id: { value: "a" } };
}

function task(id: string): Task {
  return {
    name: id,
    task_id: { value: id },
    framework_id: { value: "fw" },
    agent_id: { value: "a" },
    state: "TASK_RUNNING",
    resources: [],
    statuses: [],
  };
}

describe("agent framework: executor of a task", () => {
  it("executorForTask finds the executor a task was queued on, then launched on", () => {
    const f = framework();
    const executors = Array.from({ length: 50 }, (_, i) => executor(`e${i}`));
    for (const [i, e] of executors.entries()) {
      f.executors.set(e.id, e);
      e.queuedTasks.set(`t${i}`, taskInfo(`t${i}`));
      f.noteTask(`t${i}`, e);
    }
    assert.equal(f.executorForTask("t7"), executors[7]);
    const e7 = executors[7] as Executor;
    e7.queuedTasks.delete("t7");
    e7.launchedTasks.set("t7", task("t7"));
    assert.equal(f.executorForTask("t7"), e7);
    assert.equal(f.executorForTask("unknown"), undefined);
  });

  it("a stale note never answers: the task moved, or its executor was retired", () => {
    const f = framework();
    const a = executor("a");
    const b = executor("b");
    f.executors.set("a", a);
    f.executors.set("b", b);
    a.queuedTasks.set("t", taskInfo("t"));
    f.noteTask("t", a);
    // The task is now known only to b (no note about it): found by the scan.
    a.queuedTasks.delete("t");
    b.launchedTasks.set("t", task("t"));
    assert.equal(f.executorForTask("t"), b);
    // b is retired: the task is no longer on any current executor.
    f.retireExecutor(b);
    assert.equal(f.executorForTask("t"), undefined);
    // A re-used executor id with a new run is found, not the retired one.
    const b2 = executor("b");
    f.executors.set("b", b2);
    b2.queuedTasks.set("t", taskInfo("t"));
    assert.equal(f.executorForTask("t"), b2);
  });

  it("tasks found by the scan (recovered executors, never noted) are found", () => {
    const f = framework();
    const e = executor("e");
    f.executors.set("e", e);
    e.completedTasks.push(task("done"));
    e.terminatedTasks.set("term", task("term"));
    assert.equal(f.executorForTask("done"), e);
    assert.equal(f.executorForTask("term"), e);
    assert.deepEqual([...e.taskIds()].sort(), ["done", "term"]);
  });
});
