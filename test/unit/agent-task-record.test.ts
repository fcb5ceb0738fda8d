import assert from "node:assert/strict";
import { test } from "node:test";
import { createTask } from "../../src/agent/executor.js";

const base = {
  name: "t",
  task_id: { value: "t" },
  agent_id: { value: "S0" },
  resources: [],
};

test("agent task record: user comes from the task's command, else from its custom executor's", () => {
  const own = createTask(
    {
      ...base,
      command: { value: "true", user: "alice" },
      executor: {
        executor_id: { value: "e" },
        command: { value: "exec", user: "bob" },
      },
    },
    "TASK_STAGING",
    "F",
  );
  assert.equal(own.user, "alice");
  const fromExecutor = createTask(
    { ...base, executor: { executor_id: { value: "e" }, command: { value: "exec", user: "bob" } } },
    "TASK_STAGING",
    "F",
  );
  assert.equal(fromExecutor.user, "bob");
  const none = createTask({ ...base, command: { value: "true" } }, "TASK_STAGING", "F");
  assert.equal(none.user, undefined);
});
