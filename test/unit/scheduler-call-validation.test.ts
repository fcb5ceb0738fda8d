/**
 * Wording of the scheduler-call and subscription checks that clients match
 * on (Mesos' validation.cpp): the uuid of ACKNOWLEDGE and
 * ACKNOWLEDGE_OPERATION_STATUS, and the role set printed for suppressed
 * roles outside the framework's roles.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { validateRoleSubset } from "../../src/master/validation/framework.js";
import { validateSchedulerCall } from "../../src/master/validation/scheduler-call.js";

test("scheduler call validation: a uuid that is not 16 bytes is 'Not a valid UUID'", () => {
  const ack = (uuid: Uint8Array) =>
    validateSchedulerCall({
      type: "ACKNOWLEDGE",
      framework_id: { value: "f" },
      acknowledge: { agent_id: { value: "a" }, task_id: { value: "t" }, uuid },
    });
  assert.equal(ack(new Uint8Array(3)), "Not a valid UUID");
  assert.equal(ack(new Uint8Array(0)), "Not a valid UUID");
  assert.equal(ack(new Uint8Array(16).fill(0x41)), undefined);
  const opAck = validateSchedulerCall({
    type: "ACKNOWLEDGE_OPERATION_STATUS",
    framework_id: { value: "f" },
    acknowledge_operation_status: {
      agent_id: { value: "a" },
      operation_id: { value: "o" },
      uuid: new Uint8Array(17),
    },
  });
  assert.equal(opAck, "Not a valid UUID");
});

test("subscription validation: suppressed roles outside the roles are listed once, sorted", () => {
  assert.equal(
    validateRoleSubset(["web"], ["zeta", "web", "alpha", "zeta"], "suppressed"),
    "Suppressed roles { alpha, zeta } are not contained in the set of roles",
  );
  assert.equal(validateRoleSubset(["web"], ["web"], "suppressed"), undefined);
});
