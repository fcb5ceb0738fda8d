/**
 * Structural checks of a decoded v1 scheduler Call, before the master looks
 * at its state (Mesos' `validation::scheduler::call::validate`). A failure
 * is answered with 400 "Failed to validate scheduler::Call: <reason>".
 */
import type { Call } from "../../common/protocol/generated/mesos-v1-scheduler.js";

/** Which sub-message each call type needs. */
const REQUIRED_FIELD: Partial<Record<string, keyof Call>> = {
  ACCEPT: "accept",
  DECLINE: "decline",
  ACCEPT_INVERSE_OFFERS: "accept_inverse_offers",
  DECLINE_INVERSE_OFFERS: "decline_inverse_offers",
  KILL: "kill",
  SHUTDOWN: "shutdown",
  ACKNOWLEDGE: "acknowledge",
  ACKNOWLEDGE_OPERATION_STATUS: "acknowledge_operation_status",
  RECONCILE: "reconcile",
  RECONCILE_OPERATIONS: "reconcile_operations",
  MESSAGE: "message",
  REQUEST: "request",
  UPDATE_FRAMEWORK: "update_framework",
};

/**
 * A status uuid must be 16 bytes; refused with Mesos' words. (Mesos also
 * refuses an unknown RFC 4122 version nibble; we accept any 16 bytes.)
 */
function uuidError(bytes: Uint8Array): string | undefined {
  return bytes.length === 16 ? undefined : "Not a valid UUID";
}

/** Undefined when the call is well-formed, else the reason. */
export function validateSchedulerCall(call: Call): string | undefined {
  if (call.type === undefined) return "Expecting 'type' to be present";
  if (call.type === "SUBSCRIBE") {
    if (call.subscribe === undefined) return "Expecting 'subscribe' to be present";
    const infoId = call.subscribe.framework_info.id?.value ?? "";
    if (infoId !== (call.framework_id?.value ?? "")) {
      return "'framework_id' differs from 'subscribe.framework_info.id'";
    }
    return undefined;
  }
  if (call.framework_id === undefined) return "Expecting 'framework_id' to be present";
  const field = REQUIRED_FIELD[call.type];
  if (field !== undefined && call[field] === undefined) {
    return `Expecting '${field}' to be present`;
  }
  if (call.type === "ACKNOWLEDGE" && call.acknowledge !== undefined) {
    return uuidError(call.acknowledge.uuid);
  }
  if (call.type === "ACKNOWLEDGE_OPERATION_STATUS" && call.acknowledge_operation_status) {
    const ack = call.acknowledge_operation_status;
    const error = uuidError(ack.uuid);
    if (error !== undefined) return error;
    if (ack.agent_id === undefined) return "Expecting 'agent_id' to be present";
  }
  if (call.type === "UPDATE_FRAMEWORK" && call.update_framework !== undefined) {
    if (call.framework_id.value !== call.update_framework.framework_info.id?.value) {
      return "'framework_id' differs from 'update_framework.framework_info.id'";
    }
  }
  return undefined;
}
