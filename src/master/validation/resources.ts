/**
 * Checks of the resources a task, executor or operation names, before the
 * master compares them with what was offered.
 */
import type { Resource } from "../../common/protocol/generated/mesos-v1.js";
import {
  type Resource as CoreResource,
  formatResource,
  Resources,
  validateResource,
} from "../../common/resources/index.js";
import { validateId } from "./framework.js";

/**
 * The resources a task or executor names, as Mesos' `resource::validate`:
 * each one valid on its own, whole GPUs, usable disk infos (persistent
 * volumes on reserved, non-revocable disk), no revocable dynamic reservations.
 */
export function validateResourceList(resources: readonly Resource[]): string | undefined {
  for (const r of resources) {
    const error = validateResource(r as CoreResource);
    if (error !== undefined) return `Invalid resources: ${error}`;
  }
  const gpus = resources
    .filter((r) => r.name === "gpus" && r.type === "SCALAR")
    .reduce((sum, r) => sum + Math.round((r.scalar?.value ?? 0) * 1000), 0);
  if (gpus % 1000 !== 0) {
    return "Invalid 'gpus' resource: The 'gpus' resource must be an unsigned integer";
  }
  for (const r of resources) {
    const error = diskInfoError(r);
    if (error !== undefined) return `Invalid DiskInfo: ${error}`;
  }
  for (const r of resources) {
    if (isDynamicallyReserved(r) && r.revocable !== undefined) {
      return (
        `Invalid ReservationInfo: Dynamically reserved resource ${formatResource(r as CoreResource)} ` +
        "cannot be created from revocable resources"
      );
    }
  }
  return undefined;
}

function isDynamicallyReserved(r: Resource): boolean {
  const last = r.reservations?.at(-1);
  if (last !== undefined) return last.type === "DYNAMIC";
  return r.reservation !== undefined && r.role !== undefined && r.role !== "*";
}

function isUnreserved(r: Resource): boolean {
  return (r.reservations?.length ?? 0) === 0 && (r.role === undefined || r.role === "*");
}

function diskInfoError(r: Resource): string | undefined {
  const disk = r.disk;
  if (disk === undefined) return undefined;
  if (disk.persistence !== undefined) {
    if (r.revocable !== undefined) {
      return "Persistent volumes cannot be created from revocable resources";
    }
    if (isUnreserved(r)) return "Persistent volumes cannot be created from unreserved resources";
    if (disk.volume === undefined) return "Expecting 'volume' to be set for persistent volume";
    if (disk.volume.host_path !== undefined) {
      return "Expecting 'host_path' to be unset for persistent volume";
    }
    const idError = validateId(disk.persistence.id);
    if (idError !== undefined) return `Invalid persistence ID for persistent volume: ${idError}`;
    return undefined;
  }
  if (disk.volume !== undefined) return "Non-persistent volume not supported";
  if (disk.source === undefined) return "DiskInfo is set but empty";
  return undefined;
}

/** Every resource must carry the same `allocation_info.role`. */
export function validateAllocatedToSingleRole(resources: readonly Resource[]): string | undefined {
  let role: string | undefined;
  for (const r of resources) {
    const own = r.allocation_info?.role;
    if (own === undefined) return "The resources are not allocated to a role";
    if (role === undefined) role = own;
    else if (own !== role) {
      return (
        `The resources have multiple allocation roles ('${own}' and '${role}') ` +
        "but only one allocation role is allowed"
      );
    }
  }
  return undefined;
}

/** Revocable and non-revocable resources may not be mixed (Mesos rule). */
export function validateRevocableMix(resources: readonly Resource[]): string | undefined {
  const revocable = resources.filter((r) => r.revocable !== undefined);
  if (revocable.length === 0 || revocable.length === resources.length) return undefined;
  const names = new Set(revocable.map((r) => r.name));
  for (const r of resources) {
    if (r.revocable === undefined && names.has(r.name)) {
      return `Cannot use both revocable and non-revocable '${r.name}' at the same time`;
    }
  }
  return undefined;
}

/**
 * Persistence ids must be unique per reservation role among the volumes used
 * together. The same shared volume listed twice (by a task and its executor)
 * is one volume used twice, as Mesos merges it when adding the resources.
 */
export function validateUniquePersistenceId(resources: readonly Resource[]): string | undefined {
  const seen = new Map<string, Resource>();
  for (const r of resources) {
    const id = r.disk?.persistence?.id;
    if (id === undefined) continue;
    const role = r.reservations?.at(-1)?.role ?? r.role ?? "*";
    const key = `${role}\u0000${id}`;
    const earlier = seen.get(key);
    if (earlier === undefined) {
      seen.set(key, r);
      continue;
    }
    const sameShared =
      r.shared !== undefined &&
      earlier.shared !== undefined &&
      JSON.stringify(r) === JSON.stringify(earlier);
    if (!sameShared) return `Persistence ID '${id}' is not unique`;
  }
  return undefined;
}

/**
 * Whether the groups name the same port (or set item) twice: the ranges and
 * sets of the groups added together hold less than they do one by one
 * (Mesos' detectOverlappingSetAndRangeResources).
 */
export function overlappingSetsOrRanges(groups: readonly (readonly Resource[])[]): boolean {
  const separate = new Map<string, number>();
  for (const group of groups) countRangesAndSets(group, separate);
  const merged = new Map<string, number>();
  countRangesAndSets(
    groups.flatMap((g) => [...g]),
    merged,
  );
  for (const [name, count] of separate) if (merged.get(name) !== count) return true;
  return false;
}

function countRangesAndSets(resources: readonly Resource[], out: Map<string, number>): void {
  for (const r of Resources.from(resources as CoreResource[]).toArray()) {
    let n = 0;
    if (r.type === "RANGES") {
      for (const range of r.ranges?.range ?? []) n += range.end - range.begin + 1;
    } else if (r.type === "SET") {
      n = r.set?.item?.length ?? 0;
    } else {
      continue;
    }
    out.set(r.name, (out.get(r.name) ?? 0) + n);
  }
}

/** A resource list as Mesos streams a repeated field in messages: `[ a, b ]`. */
export function formatResourceField(resources: readonly Resource[]): string {
  return `[ ${resources.map((r) => formatResource(r as CoreResource)).join(", ")} ]`;
}

/** Mesos' text form of a resource list, for messages. */
export function formatResources(resources: readonly Resource[]): string {
  return resources.map((r) => formatResource(r as CoreResource)).join("; ");
}
