/**
 * Validation of v1 executor calls, as Mesos' `validateExecutorCall`: what
 * each call type must carry, and the rules on UPDATE (a valid 16-byte UUID,
 * the executor's own id, SOURCE_EXECUTOR, never TASK_STAGING, a check status
 * whose type has its matching result). Returns the
 * reason text, or undefined when the call is fine.
 */
import type { CheckStatusInfo } from "../../common/protocol/generated/mesos-v1.js";
import type { Call } from "../../common/protocol/generated/mesos-v1-executor.js";

/** True for 16 bytes carrying a known UUID version (1-5), as stout's `UUID::fromBytes` checks. */
export function isValidUuidBytes(bytes: Uint8Array): boolean {
  if (bytes.length !== 16) return false;
  const version = (bytes[6] ?? 0) >> 4;
  return version >= 1 && version <= 5;
}

/** The reason `call` is invalid, or undefined. */
export function validateExecutorCall(call: Call): string | undefined {
  if (call.type === undefined) return "Expecting 'type' to be present";
  switch (call.type) {
    case "SUBSCRIBE":
      return call.subscribe === undefined ? "Expecting 'subscribe' to be present" : undefined;
    case "UPDATE": {
      if (call.update === undefined) return "Expecting 'update' to be present";
      const status = call.update.status;
      if (status.uuid === undefined) return "Expecting 'uuid' to be present";
      if (!isValidUuidBytes(status.uuid)) return "Not a valid UUID";
      const executorId = call.executor_id.value;
      if (status.executor_id !== undefined && status.executor_id.value !== executorId) {
        return `ExecutorID in Call: ${executorId} does not match ExecutorID in TaskStatus: ${status.executor_id.value}`;
      }
      if (status.source !== "SOURCE_EXECUTOR") {
        return `Received Call from executor ${executorId} of framework ${call.framework_id.value} with invalid source, expecting 'SOURCE_EXECUTOR'`;
      }
      if (status.state === "TASK_STAGING") {
        return `Received TASK_STAGING from executor ${executorId} of framework ${call.framework_id.value} which is not allowed`;
      }
      return status.check_status === undefined
        ? undefined
        : checkStatusProblem(status.check_status);
    }
    case "MESSAGE":
      return call.message === undefined ? "Expecting 'message' to be present" : undefined;
    case "HEARTBEAT":
    case "UNKNOWN":
      return undefined;
  }
}

/** Why a check status an executor reports is malformed (as Mesos' `validateCheckStatusInfo`). */
export function checkStatusProblem(check: CheckStatusInfo): string | undefined {
  switch (check.type) {
    case undefined:
      return "CheckStatusInfo must specify 'type'";
    case "COMMAND":
      return check.command === undefined
        ? "Expecting 'command' to be set for COMMAND check's status"
        : undefined;
    case "HTTP":
      return check.http === undefined
        ? "Expecting 'http' to be set for HTTP check's status"
        : undefined;
    case "TCP":
      return check.tcp === undefined
        ? "Expecting 'tcp' to be set for TCP check's status"
        : undefined;
    default:
      return `'${check.type}' is not a valid check's status type`;
  }
}
