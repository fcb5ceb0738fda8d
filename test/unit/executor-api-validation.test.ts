/**
 * Executor call validation: the reasons Mesos' `validateExecutorCall` and
 * `validateCheckStatusInfo` give, word for word (executor libraries log them).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  checkStatusProblem,
  isValidUuidBytes,
  validateExecutorCall,
} from "../../src/agent/http/executor-call-validation.js";
import type { TaskStatus } from "../../src/common/protocol/generated/mesos-v1.js";
import type { Call } from "../../src/common/protocol/generated/mesos-v1-executor.js";

const V4 = Uint8Array.from([...Array(16).keys()].map((i) => (i === 6 ? 0x40 : i)));
const ids = { framework_id: { value: "F" }, executor_id: { value: "E" } };

function updateWith(status: Partial<TaskStatus>): Call {
  return {
    ...ids,
    type: "UPDATE",
    update: {
      status: {
        task_id: { value: "t" },
        state: "TASK_RUNNING",
        source: "SOURCE_EXECUTOR",
        uuid: V4,
        ...status,
      },
    },
  };
}

describe("executor API validation", () => {
  it("names the missing type and the missing body of each call", () => {
    assert.equal(validateExecutorCall({ ...ids }), "Expecting 'type' to be present");
    assert.equal(
      validateExecutorCall({ ...ids, type: "SUBSCRIBE" }),
      "Expecting 'subscribe' to be present",
    );
    assert.equal(
      validateExecutorCall({ ...ids, type: "UPDATE" }),
      "Expecting 'update' to be present",
    );
    assert.equal(
      validateExecutorCall({ ...ids, type: "MESSAGE" }),
      "Expecting 'message' to be present",
    );
    assert.equal(validateExecutorCall({ ...ids, type: "HEARTBEAT" }), undefined);
    assert.equal(validateExecutorCall({ ...ids, type: "UNKNOWN" }), undefined);
  });

  it("accepts a well-formed update, with or without a check status", () => {
    assert.equal(validateExecutorCall(updateWith({})), undefined);
    assert.equal(
      validateExecutorCall(updateWith({ check_status: { type: "HTTP", http: {} } })),
      undefined,
    );
  });

  it("refuses updates as Mesos does", () => {
    assert.equal(
      validateExecutorCall(updateWith({ uuid: undefined })),
      "Expecting 'uuid' to be present",
    );
    assert.equal(
      validateExecutorCall(updateWith({ uuid: new Uint8Array(15) })),
      "Not a valid UUID",
    );
    assert.equal(
      validateExecutorCall(updateWith({ executor_id: { value: "X" } })),
      "ExecutorID in Call: E does not match ExecutorID in TaskStatus: X",
    );
    assert.equal(
      validateExecutorCall(updateWith({ source: "SOURCE_AGENT" })),
      "Received Call from executor E of framework F with invalid source, expecting 'SOURCE_EXECUTOR'",
    );
    assert.equal(
      validateExecutorCall(updateWith({ state: "TASK_STAGING" })),
      "Received TASK_STAGING from executor E of framework F which is not allowed",
    );
    assert.equal(
      validateExecutorCall(updateWith({ check_status: {} })),
      "CheckStatusInfo must specify 'type'",
    );
  });

  it("wants the check status result that matches its type", () => {
    assert.equal(checkStatusProblem({ type: "COMMAND", command: {} }), undefined);
    assert.equal(checkStatusProblem({ type: "TCP", tcp: { succeeded: true } }), undefined);
    assert.equal(
      checkStatusProblem({ type: "COMMAND", http: {} }),
      "Expecting 'command' to be set for COMMAND check's status",
    );
    assert.equal(
      checkStatusProblem({ type: "HTTP" }),
      "Expecting 'http' to be set for HTTP check's status",
    );
    assert.equal(
      checkStatusProblem({ type: "TCP" }),
      "Expecting 'tcp' to be set for TCP check's status",
    );
    assert.equal(
      checkStatusProblem({ type: "UNKNOWN" }),
      "'UNKNOWN' is not a valid check's status type",
    );
  });

  it("takes 16 bytes of a known UUID version only", () => {
    assert.equal(isValidUuidBytes(V4), true);
    assert.equal(isValidUuidBytes(new Uint8Array(16)), false);
    assert.equal(isValidUuidBytes(V4.subarray(0, 15)), false);
  });
});
