/**
 * Validation of a v1 operator `Call` (`POST /api/v1` on the master) before it
 * is dispatched, as Mesos' `master::call::validate` does: the call type must
 * be set, each call carries its sub-message, reservations carry valid
 * resources, and volume resizes name their agent. The answer is refused with
 * `400 Failed to validate master::Call: <reason>`.
 */

import type { Call } from "../../common/protocol/generated/mesos-v1-master.js";
import {
  type Resource as CoreResource,
  formatResource,
  validateResource,
} from "../../common/resources/index.js";

/** The sub-message each call type requires. */
const REQUIRED: Partial<Record<NonNullable<Call["type"]>, keyof Call>> = {
  GET_METRICS: "get_metrics",
  SET_LOGGING_LEVEL: "set_logging_level",
  LIST_FILES: "list_files",
  READ_FILE: "read_file",
  UPDATE_WEIGHTS: "update_weights",
  RESERVE_RESOURCES: "reserve_resources",
  UNRESERVE_RESOURCES: "unreserve_resources",
  CREATE_VOLUMES: "create_volumes",
  DESTROY_VOLUMES: "destroy_volumes",
  GROW_VOLUME: "grow_volume",
  SHRINK_VOLUME: "shrink_volume",
  UPDATE_MAINTENANCE_SCHEDULE: "update_maintenance_schedule",
  START_MAINTENANCE: "start_maintenance",
  STOP_MAINTENANCE: "stop_maintenance",
  DRAIN_AGENT: "drain_agent",
  DEACTIVATE_AGENT: "deactivate_agent",
  REACTIVATE_AGENT: "reactivate_agent",
  UPDATE_QUOTA: "update_quota",
  SET_QUOTA: "set_quota",
  REMOVE_QUOTA: "remove_quota",
  TEARDOWN: "teardown",
  MARK_AGENT_GONE: "mark_agent_gone",
};

/** Prefix of every validation refusal (the operator tools match on it). */
export const OPERATOR_CALL_INVALID = "Failed to validate master::Call: ";

/** Volume resizes only work on an agent's default resources today. */
const RESIZE_NEEDS_AGENT =
  "Expecting 'agent_id' to be present; only agent default resources are supported right now";

/** Why `call` is refused (without the common prefix), or undefined when it is valid. */
export function validateOperatorCall(call: Call): string | undefined {
  if (call.type === undefined) return "Expecting 'type' to be present";
  const required = REQUIRED[call.type];
  if (required !== undefined && call[required] === undefined) {
    return `Expecting '${required}' to be present`;
  }
  switch (call.type) {
    case "RESERVE_RESOURCES":
      return invalidResources(call.reserve_resources?.resources ?? []);
    case "UNRESERVE_RESOURCES":
      return invalidResources(call.unreserve_resources?.resources ?? []);
    case "GROW_VOLUME":
      return call.grow_volume?.agent_id === undefined ? RESIZE_NEEDS_AGENT : undefined;
    case "SHRINK_VOLUME":
      return call.shrink_volume?.agent_id === undefined ? RESIZE_NEEDS_AGENT : undefined;
    default:
      return undefined;
  }
}

/** The first invalid resource of a reservation call, named as the agent would print it. */
function invalidResources(resources: readonly unknown[]): string | undefined {
  for (const r of resources) {
    const resource = r as CoreResource;
    const error = validateResource(resource);
    if (error !== undefined) return `Resource '${describe(resource)}' is invalid: ${error}`;
  }
  return undefined;
}

/** A resource's text form; a malformed one may not format, then its name stands in. */
function describe(resource: CoreResource): string {
  try {
    return formatResource(resource);
  } catch {
    return String(resource.name);
  }
}
