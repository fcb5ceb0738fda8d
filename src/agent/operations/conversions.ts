/**
 * What an operation on the agent's own resources does to them (Mesos'
 * `getResourceConversions` and `Slave::apply` for speculative operations):
 * RESERVE, UNRESERVE, CREATE, DESTROY, GROW_VOLUME and SHRINK_VOLUME each
 * consume some resources and produce others. The agent applies them to its
 * total (the `--resources` plus what it checkpointed) and keeps the
 * dynamically reserved resources and persistent volumes of the result as
 * its new checkpointed resources, the same list a CheckpointResourcesMessage
 * would have carried.
 *
 * Pure functions; the master computes the same conversions on its side.
 */
import type {
  Offer_Operation,
  Offer_Operation_Type,
  OperationState,
  Resource,
} from "../../common/protocol/generated/mesos-v1.js";
import {
  type Resource as CoreResource,
  isDynamicallyReserved,
  isPersistentVolume,
  Resources,
} from "../../common/resources/index.js";
import { applyCheckpointedResources } from "../resources-checkpoint.js";

/** Operations whose result is known when they are applied (Mesos' `isSpeculativeOperation`). */
export const SPECULATIVE_OPERATIONS: ReadonlySet<Offer_Operation_Type> = new Set([
  "RESERVE",
  "UNRESERVE",
  "CREATE",
  "DESTROY",
  "GROW_VOLUME",
  "SHRINK_VOLUME",
]);

/** Mesos' `isTerminalState` for operations. */
export function isTerminalOperationState(state: OperationState): boolean {
  return (
    state === "OPERATION_FINISHED" ||
    state === "OPERATION_FAILED" ||
    state === "OPERATION_ERROR" ||
    state === "OPERATION_DROPPED" ||
    state === "OPERATION_GONE_BY_OPERATOR"
  );
}

/** One step of an operation: `consumed` is replaced by `converted`. */
export interface Conversion {
  consumed: Resources;
  converted: Resources;
}

function resourcesOf(list: readonly Resource[] | undefined, unallocated: boolean): Resources {
  const out = Resources.from((list ?? []) as CoreResource[]);
  return unallocated ? out.unallocated() : out;
}

/** A resource with another scalar amount. */
function resized(r: Resource, value: number): CoreResource {
  return { ...(r as CoreResource), scalar: { value } };
}

/** The disk a volume is made of: no persistence, no volume, not shared (reservations kept). */
function diskOf(volume: Resource, value?: number): CoreResource {
  const { disk, shared: _shared, ...rest } = volume as CoreResource;
  const base: CoreResource = value === undefined ? { ...rest } : { ...rest, scalar: { value } };
  if (disk !== undefined) {
    const { persistence: _p, volume: _v, ...diskRest } = disk;
    if (Object.keys(diskRest).length > 0) base.disk = diskRest;
  }
  return base;
}

/**
 * The conversions of a speculative operation, with allocation info
 * stripped (the agent's total has none) unless `unallocated` is false. An
 * error names what is missing.
 */
export function operationConversions(
  operation: Offer_Operation,
  unallocated = true,
): { ok: true; value: Conversion[] } | { ok: false; error: string } {
  const from = (list: readonly Resource[] | undefined) => resourcesOf(list, unallocated);
  switch (operation.type) {
    case "RESERVE": {
      const converted = from(operation.reserve?.resources);
      const source = operation.reserve?.source ?? [];
      // With a source, the source's reservations become the target's.
      const consumed = source.length > 0 ? from(source) : converted.popReservation();
      return { ok: true, value: [{ consumed, converted }] };
    }
    case "UNRESERVE": {
      const consumed = from(operation.unreserve?.resources);
      return { ok: true, value: [{ consumed, converted: consumed.popReservation() }] };
    }
    case "CREATE":
      return {
        ok: true,
        value: (operation.create?.volumes ?? []).map((v) => ({
          consumed: from([diskOf(v) as Resource]),
          converted: from([v]),
        })),
      };
    case "DESTROY":
      return {
        ok: true,
        value: (operation.destroy?.volumes ?? []).map((v) => ({
          consumed: from([v]),
          converted: from([diskOf(v) as Resource]),
        })),
      };
    case "GROW_VOLUME": {
      const grow = operation.grow_volume;
      if (grow === undefined) return { ok: false, error: "GROW_VOLUME without 'grow_volume'" };
      const size = (grow.volume.scalar?.value ?? 0) + (grow.addition.scalar?.value ?? 0);
      return {
        ok: true,
        value: [
          {
            consumed: from([grow.volume, grow.addition]),
            converted: from([resized(grow.volume, size) as Resource]),
          },
        ],
      };
    }
    case "SHRINK_VOLUME": {
      const shrink = operation.shrink_volume;
      if (shrink === undefined) {
        return { ok: false, error: "SHRINK_VOLUME without 'shrink_volume'" };
      }
      const by = shrink.subtract.value;
      const size = (shrink.volume.scalar?.value ?? 0) - by;
      return {
        ok: true,
        value: [
          {
            consumed: from([shrink.volume]),
            converted: from([
              resized(shrink.volume, size),
              diskOf(shrink.volume, by),
            ] as Resource[]),
          },
        ],
      };
    }
    default:
      return {
        ok: false,
        error: `${operation.type} is not supported on the agent's own resources`,
      };
  }
}

/** What the agent checkpoints of its total: dynamic reservations and persistent volumes. */
export function checkpointable(total: Resources): Resource[] {
  return total
    .filter((r) => isDynamicallyReserved(r) || isPersistentVolume(r))
    .toArray() as Resource[];
}

/**
 * The agent's new checkpointed resources after `operation`: applied to the
 * static resources plus `checkpointed`. Fails, saying why, when the
 * resources the operation consumes are not there.
 */
export function applyOperationToCheckpointed(
  staticResources: readonly Resource[],
  checkpointed: readonly Resource[],
  operation: Offer_Operation,
): { ok: true; value: Resource[] } | { ok: false; error: string } {
  const total = applyCheckpointedResources(
    Resources.from(staticResources as CoreResource[]),
    checkpointed,
  );
  if (!total.ok) return total;
  const conversions = operationConversions(operation);
  if (!conversions.ok) return conversions;
  const out = total.value;
  for (const { consumed, converted } of conversions.value) {
    if (!out.contains(consumed)) {
      return {
        ok: false,
        error: `the agent's resources ${out.toString()} do not contain ${consumed.toString()}`,
      };
    }
    out.subtract(consumed).add(converted);
  }
  return { ok: true, value: checkpointable(out) };
}

/**
 * May a caller who may view the roles `canView` accepts see `operation`?
 * As Mesos' VIEW_ROLE approval of the resources it consumes: every role in
 * a resource's reservation stack and its allocation role must be viewable
 * (unreserved, unallocated resources need nothing). Nobody under ACLs sees
 * an operation whose consumed resources are unknown.
 */
export function operationVisible(
  operation: Offer_Operation,
  canView: (role: string | undefined) => boolean,
): boolean {
  const conversions = operationConversions(operation, false);
  if (!conversions.ok) return canView(undefined);
  for (const { consumed } of conversions.value) {
    for (const r of consumed) {
      for (const reservation of r.reservations ?? []) {
        if (!canView(reservation.role)) return false;
      }
      if (r.allocation_info?.role !== undefined && !canView(r.allocation_info.role)) return false;
    }
  }
  return true;
}
