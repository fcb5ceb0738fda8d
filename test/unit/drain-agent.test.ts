import assert from "node:assert/strict";
import { test } from "node:test";
import { AgentDrain } from "../../src/agent/drain.js";
import type { TaskStatus } from "../../src/common/protocol/generated/mesos-v1.js";

const status = (state: TaskStatus["state"]): TaskStatus => ({
  task_id: { value: "t" },
  state,
  reason: "REASON_COMMAND_EXECUTOR_FAILED",
});

test("agent drain: max_grace_period caps a longer or missing grace period, and leaves a shorter one", () => {
  const drain = new AgentDrain();
  assert.equal(drain.killPolicy({ grace_period: { nanoseconds: 5e9 } }), undefined, "not draining");
  drain.start({ max_grace_period: { nanoseconds: 2e9 } }, 1000);
  assert.deepEqual(drain.killPolicy(undefined), { grace_period: { nanoseconds: 2e9 } });
  assert.deepEqual(drain.killPolicy({}), { grace_period: { nanoseconds: 2e9 } });
  assert.deepEqual(drain.killPolicy({ grace_period: { nanoseconds: 60e9 } }), {
    grace_period: { nanoseconds: 2e9 },
  });
  assert.equal(drain.killPolicy({ grace_period: { nanoseconds: 1e9 } }), undefined);
  drain.start({}, 1000);
  assert.equal(drain.killPolicy(undefined), undefined, "no cap: the task's own policy applies");
});

test("agent drain: KILLING and KILLED say REASON_AGENT_DRAINING; with mark_gone partition-aware ones become TASK_GONE_BY_OPERATOR", () => {
  const drain = new AgentDrain();
  assert.deepEqual(drain.rewrite(status("TASK_KILLED"), true), status("TASK_KILLED"));
  drain.start({ mark_gone: false }, 2000);
  assert.equal(drain.rewrite(status("TASK_KILLED"), true).reason, "REASON_AGENT_DRAINING");
  assert.equal(drain.rewrite(status("TASK_KILLING"), false).reason, "REASON_AGENT_DRAINING");
  assert.deepEqual(drain.rewrite(status("TASK_FINISHED"), true), status("TASK_FINISHED"));
  drain.start({ mark_gone: true }, 2000);
  assert.equal(drain.rewrite(status("TASK_KILLED"), true).state, "TASK_GONE_BY_OPERATOR");
  assert.equal(drain.rewrite(status("TASK_KILLED"), false).state, "TASK_KILLED");
  assert.deepEqual(drain.startTime, { nanoseconds: 2000 * 1e6 });
  assert.equal(drain.finish(), true);
  assert.equal(drain.finish(), false);
  assert.equal(drain.active, false);
});
