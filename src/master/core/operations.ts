/**
 * Resource operations the master applies: RESERVE, UNRESERVE, CREATE,
 * DESTROY, GROW_VOLUME and SHRINK_VOLUME, from a framework's ACCEPT (on
 * offered resources) or from an operator (on an agent's unused resources).
 * Each one is validated, turned into resource conversions (consumed ->
 * converted) and applied to the master's view of the agent right away
 * (speculatively, as Mesos does). Then the agent hears of it:
 * - an agent that registered with a `resource_version_uuid` is sent the
 *   operation itself (ApplyOperationMessage) and reports its outcome; the
 *   master tracks it meanwhile (operation-tracking.ts);
 * - any other agent is sent its new checkpointed resources (every
 *   dynamically reserved resource and persistent volume) in a
 *   CheckpointResourcesMessage, which it writes to
 *   `meta/resources/resources.info`, and a framework operation with an `id`
 *   is answered OPERATION_FINISHED by the master at once.
 */
import type { Offer_Operation, Resource } from "../../common/protocol/generated/mesos-v1.js";
import {
  type Resource as CoreResource,
  isDynamicallyReserved,
  isPersistentVolume,
  Resources,
} from "../../common/resources/index.js";
import {
  applyConversions,
  conversionsFromOperation,
  type ResourceConversion,
  type ResourceOperation,
} from "../allocator/index.js";
import {
  type CreatingFramework,
  type OperationRequester,
  persistentVolumeError,
  validateCreate,
  validateDestroy,
  validateReserve,
  validateUnreserve,
  volumeKey,
} from "../validation/operations.js";
import type { Master } from "./master.js";
import { rescindOffer } from "./offers.js";
import {
  countDroppedOperation,
  sendOperationToAgent,
  tracksOperations,
} from "./operation-tracking.js";
import type { AgentRecord, FrameworkRecord } from "./records.js";

/** The operation types this module applies. */
export const RESOURCE_OPERATIONS: ReadonlySet<string> = new Set([
  "RESERVE",
  "UNRESERVE",
  "CREATE",
  "DESTROY",
  "GROW_VOLUME",
  "SHRINK_VOLUME",
]);

/** A resource with another scalar amount. */
function withAmount(r: Resource, value: number): CoreResource {
  return { ...(r as CoreResource), scalar: { value } };
}

/** The disk a volume was made from: no persistence, no volume (reservations kept). */
function plainDisk(r: Resource, value: number): CoreResource {
  const { disk, shared: _shared, ...rest } = r as CoreResource;
  const base: CoreResource = { ...rest, scalar: { value } };
  if (disk !== undefined) {
    const { persistence: _p, volume: _v, ...diskRest } = disk;
    if (Object.keys(diskRest).length > 0) base.disk = diskRest;
  }
  return base;
}

/** The conversions of an operation (generated and core resource shapes are the same data). */
function conversionsOf(operation: Offer_Operation): ResourceConversion[] {
  const grow = operation.grow_volume;
  if (operation.type === "GROW_VOLUME" && grow !== undefined) {
    const size = (grow.volume.scalar?.value ?? 0) + (grow.addition.scalar?.value ?? 0);
    return [
      {
        consumed: Resources.from([grow.volume as CoreResource, grow.addition as CoreResource]),
        converted: Resources.from(withAmount(grow.volume, size)),
      },
    ];
  }
  const shrink = operation.shrink_volume;
  if (operation.type === "SHRINK_VOLUME" && shrink !== undefined) {
    const by = shrink.subtract.value;
    const size = (shrink.volume.scalar?.value ?? 0) - by;
    return [
      {
        consumed: Resources.from(shrink.volume as CoreResource),
        converted: Resources.from([withAmount(shrink.volume, size), plainDisk(shrink.volume, by)]),
      },
    ];
  }
  const source = operation.reserve?.source ?? [];
  if (operation.type === "RESERVE" && source.length > 0) {
    // A reservation update: the source's reservations become the target's.
    return [
      {
        consumed: Resources.from(source as CoreResource[]),
        converted: Resources.from((operation.reserve?.resources ?? []) as CoreResource[]),
      },
    ];
  }
  return conversionsFromOperation(operation as unknown as ResourceOperation);
}

/**
 * May a caller who may view the roles `canView` accepts see `operation`
 * (GET_OPERATIONS)? As Mesos' VIEW_ROLE approval of the resources the
 * operation consumes: every role of a resource's reservations and its
 * allocation role.
 */
export function operationVisible(
  operation: Offer_Operation,
  canView: (role: string) => boolean,
): boolean {
  for (const { consumed } of conversionsOf(operation)) {
    for (const r of consumed) {
      for (const reservation of r.reservations ?? []) {
        if (reservation.role !== undefined && !canView(reservation.role)) return false;
      }
      if (r.allocation_info?.role !== undefined && !canView(r.allocation_info.role)) return false;
    }
  }
  return true;
}

/**
 * GROW_VOLUME / SHRINK_VOLUME, checked as Mesos does (its wording): a
 * sensible amount on an unshared persistent volume, and for GROW an
 * addition that is the same kind of disk. Whether the volume is there and
 * unused is left to applying the operation (the agent's unused resources
 * for an operator, 409; the offer for a framework).
 */
function validateResize(operation: Offer_Operation): string | undefined {
  const grow = operation.grow_volume;
  if (operation.type === "GROW_VOLUME" && grow !== undefined) {
    const addition = grow.addition as CoreResource;
    if (!((addition.scalar?.value ?? 0) > 0)) {
      return "The size of 'GrowVolume.addition' field must be greater than zero";
    }
    const invalid = persistentVolumeError(grow.volume as CoreResource);
    if (invalid !== undefined) {
      return `Invalid persistent volume in the 'GrowVolume.volume' field: ${invalid}`;
    }
    if (grow.volume.shared !== undefined)
      return "Growing a shared persistent volume is not supported";
    // The volume without its persistence must merge with the addition into
    // one resource (a MOUNT disk never merges: it cannot be grown).
    const stripped = plainDisk(grow.volume, grow.volume.scalar?.value ?? 0);
    if (Resources.from([stripped, addition]).toArray().length !== 1) {
      return "Incompatible resources in the 'GrowVolume.volume' and 'GrowVolume.addition' fields";
    }
    return undefined;
  }
  const shrink = operation.shrink_volume;
  if (operation.type === "SHRINK_VOLUME" && shrink !== undefined) {
    const by = shrink.subtract.value;
    if (!(by > 0)) return "Value of 'ShrinkVolume.subtract' must be greater than zero";
    if ((shrink.volume.scalar?.value ?? 0) <= by) {
      return "Value of 'ShrinkVolume.subtract' must be smaller than the size of 'ShrinkVolume.volume'";
    }
    if (shrink.volume.disk?.source?.type === "MOUNT") {
      return "Shrinking a volume on a MOUNT disk is not supported";
    }
    const invalid = persistentVolumeError(shrink.volume as CoreResource);
    if (invalid !== undefined) {
      return `Invalid persistent volume in the 'ShrinkVolume.volume' field: ${invalid}`;
    }
    if (shrink.volume.shared !== undefined) {
      return "Shrinking a shared persistent volume is not supported";
    }
    return undefined;
  }
  return `${operation.type} needs its '${operation.type === "GROW_VOLUME" ? "grow_volume" : "shrink_volume"}' field`;
}

/** The volumes among `resources`, by role and persistence id (see volumeKey). */
export function persistenceIds(resources: Resources): Set<string> {
  const ids = new Set<string>();
  for (const r of resources) {
    if (r.disk?.persistence !== undefined) ids.add(volumeKey(r));
  }
  return ids;
}

/** What an agent must checkpoint: dynamic reservations and persistent volumes. */
export function checkpointedResources(total: Resources): Resource[] {
  return total
    .unallocated()
    .filter((r) => isDynamicallyReserved(r) || isPersistentVolume(r))
    .toArray() as Resource[];
}

/** Validates one operation for `who` against what the agent has. */
export function validateResourceOperation(
  operation: Offer_Operation,
  who: OperationRequester,
  agent: AgentRecord,
  framework: CreatingFramework | undefined,
): string | undefined {
  const list = (l: readonly Resource[] | undefined) => (l ?? []) as CoreResource[];
  switch (operation.type) {
    case "RESERVE":
      return validateReserve(
        list(operation.reserve?.resources),
        who,
        list(operation.reserve?.source),
      );
    case "UNRESERVE":
      return validateUnreserve(list(operation.unreserve?.resources));
    case "CREATE":
      return validateCreate(
        list(operation.create?.volumes),
        who,
        persistenceIds(agent.totalResources),
        framework,
      );
    case "GROW_VOLUME":
    case "SHRINK_VOLUME":
      return validateResize(operation);
    case "DESTROY": {
      // As Mesos: a volume is looked up among all the agent's resources, so
      // one a task holds (hence not offered) is "in use", not "not found".
      const used = agent.usedResources().unallocated();
      return validateDestroy(
        list(operation.destroy?.volumes),
        (v) => agent.totalResources.contains(Resources.from(v).unallocated()),
        (v) => used.contains(Resources.from(v).unallocated()),
      );
    }
    default:
      return `${operation.type ?? "UNKNOWN"} is not a resource operation`;
  }
}

/**
 * Applies conversions to the master's record of the agent (the total has no
 * allocation info). Returns false (logged) if they do not apply.
 */
function convertAgentTotal(
  m: Master,
  agent: AgentRecord,
  conversions: readonly ResourceConversion[],
): boolean {
  const stripped = conversions
    .filter((c) => !c.consumed.isEmpty())
    .map((c) => ({ consumed: c.consumed.unallocated(), converted: c.converted.unallocated() }));
  const next = applyConversions(agent.totalResources, stripped);
  if (!next.ok) {
    m.logger.error(`Failed to apply operation to agent ${agent.id}: ${next.error}`);
    return false;
  }
  agent.totalResources = next.value;
  return true;
}

/**
 * Applies an operation's conversions to the master's record of the agent
 * and tells the agent: the operation itself to an agent that takes
 * operations, its new checkpointed resources to any other.
 */
export function applyToAgentRecord(
  m: Master,
  agent: AgentRecord,
  conversions: readonly ResourceConversion[],
  operation?: { info: Offer_Operation; framework: FrameworkRecord | undefined },
): void {
  if (!convertAgentTotal(m, agent, conversions)) return;
  if (operation !== undefined && tracksOperations(agent)) {
    sendOperationToAgent(m, agent, operation.framework, operation.info);
    return;
  }
  sendCheckpointedResources(m, agent);
}

/** CheckpointResourcesMessage with the agent's current checkpointed resources. */
export function sendCheckpointedResources(m: Master, agent: AgentRecord): void {
  const resources = checkpointedResources(agent.totalResources);
  m.logger.info(
    `Sending updated checkpointed resources ${Resources.from(resources as CoreResource[]).toString()} to agent ${agent.id}`,
  );
  m.io.sendToAgent(agent.pid, "mesos.internal.CheckpointResourcesMessage", { resources });
}

/**
 * OPERATION_ERROR for an operation refused by validation (counted), or
 * OPERATION_FINISHED for one applied on an agent that does not report
 * operations itself; only for operations with an id.
 */
export function operationFeedback(
  m: Master,
  framework: FrameworkRecord,
  operation: Offer_Operation,
  agent: AgentRecord,
  error: string | undefined,
): void {
  if (error !== undefined) countDroppedOperation(m, operation);
  if (operation.id === undefined) return;
  m.sendEvent(framework, {
    type: "UPDATE_OPERATION_STATUS",
    update_operation_status: {
      status: {
        operation_id: operation.id,
        state: error === undefined ? "OPERATION_FINISHED" : "OPERATION_ERROR",
        ...(error === undefined ? {} : { message: error }),
        agent_id: { value: agent.id },
      },
    },
  });
}

/**
 * Applies one offer operation of an ACCEPT to `remaining` (the offered
 * resources not used so far, allocated to the offer's role). Returns the
 * conversions to hand to the allocator, or an error (already reported).
 */
export function applyOfferOperation(
  m: Master,
  framework: FrameworkRecord,
  agent: AgentRecord,
  operation: Offer_Operation,
  remaining: Resources,
): ResourceConversion[] | undefined {
  const who: OperationRequester = {
    principal: framework.info.principal,
    frameworkRoles: new Set(framework.roles()),
  };
  const sharedCapable = (framework.info.capabilities ?? []).some(
    (c) => c.type === "SHARED_RESOURCES",
  );
  let error = validateResourceOperation(operation, who, agent, {
    id: framework.id,
    sharedCapable,
  });
  const resize = operation.type === "GROW_VOLUME" || operation.type === "SHRINK_VOLUME";
  // Mesos names the agent after a resize's refusal.
  if (error !== undefined && resize) {
    error = `${error}; on agent ${agent.id} at ${agent.pid} (${agent.info.hostname})`;
  }
  const conversions = error === undefined ? conversionsOf(operation) : [];
  if (error === undefined) {
    const applied = applyConversions(remaining, conversions);
    if (applied.ok) {
      remaining.subtract(remaining.clone()).add(applied.value);
    } else {
      // Mesos' words: the containment failure, after the operation for a resize.
      error = resize ? `Invalid ${operation.type} operation: ${applied.error}` : applied.error;
    }
  }
  if (error !== undefined) {
    m.logger.warn(
      `Dropping ${operation.type ?? "UNKNOWN"} operation from framework ${framework.id}: ${error}`,
    );
    operationFeedback(m, framework, operation, agent, error);
    return undefined;
  }
  m.logger.info(
    `Applying ${operation.type} operation of framework ${framework.id} on agent ${agent.id}`,
  );
  applyToAgentRecord(m, agent, conversions, { info: operation, framework });
  // An agent that takes operations reports the outcome itself.
  if (!tracksOperations(agent)) operationFeedback(m, framework, operation, agent, undefined);
  return conversions;
}

/** Outcome of an operator's operation. */
export type OperatorOutcome = { ok: true } | { ok: false; status: 400 | 409; message: string };

/**
 * An operator's RESERVE/UNRESERVE/CREATE/DESTROY on an agent's unallocated
 * resources: offers of that agent are rescinded first (as Mesos does), then
 * the allocator checks availability (409 when not available).
 */
export function applyOperatorOperation(
  m: Master,
  agentId: string,
  operation: Offer_Operation,
  principal: string | undefined,
): OperatorOutcome {
  const agent = m.agents.get(agentId);
  if (agent === undefined) {
    return { ok: false, status: 400, message: `Unknown agent ${agentId}` };
  }
  const error = validateResourceOperation(
    operation,
    { principal, frameworkRoles: undefined },
    agent,
    undefined,
  );
  if (error !== undefined) {
    return { ok: false, status: error === "Persistent volumes in use" ? 409 : 400, message: error };
  }
  const conversions = conversionsOf(operation);
  for (const offer of [...agent.offers]) rescindOffer(m, offer);
  const applied = m.allocator.updateAvailable(agent.id, conversions);
  if (!applied.ok) {
    return { ok: false, status: 409, message: applied.error };
  }
  m.logger.info(`Applying operator ${operation.type} operation on agent ${agent.id}`);
  applyToAgentRecord(m, agent, conversions, { info: operation, framework: undefined });
  return { ok: true };
}
