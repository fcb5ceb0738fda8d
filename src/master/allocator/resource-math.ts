/**
 * The Resources operations the allocator needs beyond the common module:
 * quantity vectors, quota shrinking, capability stripping and applying
 * resource conversions (RESERVE, UNRESERVE, CREATE, DESTROY).
 */

import {
  fromFixed,
  hasRefinedReservations,
  isPersistentVolume,
  isRevocable,
  isShared,
  isUnreserved,
  type Resource,
  Resources,
  toFixed,
} from "../../common/resources/index.js";
import type { Quantities, QuantitiesView, ResourceNames } from "./quantities.js";
import type { ResourceConversion } from "./types.js";

/** Per-name upper bounds (index -> thousandths); absent names are unlimited. */
export type Limits = ReadonlyMap<number, number>;

/** A summary of a `Resources` value, computed in one pass. */
export interface ResourceProfile {
  /** Scalar quantities (every scalar, reserved or not). */
  scalars: Quantities;
  /** Like `scalars`, plus range and set sizes (for minimum-allocatable checks). */
  counts: Quantities;
  /** Scalars of revocable resources. */
  revocableScalars: Quantities;
  /** Scalars of reserved resources. */
  reservedScalars: Quantities;
  /** Scalars of unreserved, non-revocable resources (what quota counts). */
  quotaScalars: Quantities;
  hasReserved: boolean;
  /** Roles of the (last) reservations present. */
  reservationRoles: Set<string> | undefined;
  hasRevocable: boolean;
  hasShared: boolean;
  hasRefined: boolean;
  /** Non-zero `gpus`. */
  hasGpu: boolean;
  empty: boolean;
  /**
   * Whether these resources meet the allocator's global minimum allocatable
   * amounts (filled in by the allocator on first use; profiles are kept per
   * availability version, so this is answered once per version).
   */
  meetsGlobalMinimum: boolean | undefined;
}

function bump(q: Quantities, i: number, v: number): void {
  while (q.length <= i) q.push(0);
  q[i] = (q[i] as number) + v;
}

/** Number of instances in a ranges or set resource (Mesos quantity of non-scalars). */
function instanceCount(r: Resource): number {
  if (r.ranges !== undefined) {
    let n = 0;
    for (const range of r.ranges.range) n += range.end - range.begin + 1;
    return n;
  }
  return r.set?.item.length ?? 0;
}

export function profileOf(names: ResourceNames, resources: Resources): ResourceProfile {
  const p: ResourceProfile = {
    scalars: [],
    counts: [],
    revocableScalars: [],
    reservedScalars: [],
    quotaScalars: [],
    hasReserved: false,
    reservationRoles: undefined,
    hasRevocable: false,
    hasShared: false,
    hasRefined: false,
    hasGpu: false,
    empty: resources.isEmpty(),
    meetsGlobalMinimum: undefined,
  };
  for (const r of resources) {
    const i = names.index(r.name);
    if (r.type === "SCALAR") {
      const v = toFixed(r.scalar?.value ?? 0);
      bump(p.scalars, i, v);
      bump(p.counts, i, v);
      if (r.revocable !== undefined) bump(p.revocableScalars, i, v);
      if (!isUnreserved(r)) bump(p.reservedScalars, i, v);
      else if (r.revocable === undefined) bump(p.quotaScalars, i, v);
      if (r.name === "gpus" && v > 0) p.hasGpu = true;
    } else {
      bump(p.counts, i, instanceCount(r) * 1000);
    }
    if (!isUnreserved(r)) {
      p.hasReserved = true;
      const list = r.reservations ?? [];
      const role = list[list.length - 1]?.role;
      if (role !== undefined) {
        if (p.reservationRoles === undefined) p.reservationRoles = new Set();
        p.reservationRoles.add(role);
      }
    }
    if (r.revocable !== undefined) p.hasRevocable = true;
    if (r.shared !== undefined) p.hasShared = true;
    if (hasRefinedReservations(r)) p.hasRefined = true;
  }
  return p;
}

/** Interned profiles per name table (see `sharedProfileOf`). */
const interned = new WeakMap<ResourceNames, Map<string, ResourceProfile>>();
/** Distinct profiles kept per name table before the table starts over. */
const INTERNED_MAX = 4096;

/**
 * `profileOf`, but agents whose resources sum up alike share one profile
 * object (and its quantity arrays). A cycle reads the profile of every agent
 * it visits; shared profiles stay in the CPU cache where thousands of
 * per-agent copies would not. Callers must not change the result (the
 * allocator never changes a profile, except filling in
 * `meetsGlobalMinimum`, which depends on the contents only).
 */
export function sharedProfileOf(names: ResourceNames, resources: Resources): ResourceProfile {
  const p = profileOf(names, resources);
  let table = interned.get(names);
  if (table === undefined) {
    table = new Map();
    interned.set(names, table);
  }
  const roles =
    p.reservationRoles === undefined ? "" : [...p.reservationRoles].sort().join("\u0000");
  const key = `${p.scalars}|${p.counts}|${p.revocableScalars}|${p.reservedScalars}|${p.quotaScalars}|${
    (p.hasReserved ? 1 : 0) |
    (p.hasRevocable ? 2 : 0) |
    (p.hasShared ? 4 : 0) |
    (p.hasRefined ? 8 : 0) |
    (p.hasGpu ? 16 : 0) |
    (p.empty ? 32 : 0)
  }|${roles}`;
  const known = table.get(key);
  if (known !== undefined) return known;
  if (table.size >= INTERNED_MAX) table.clear();
  table.set(key, p);
  return p;
}

/** Scalar quantities of `resources`. */
export function scalarQuantities(names: ResourceNames, resources: Resources): Quantities {
  const q: Quantities = [];
  for (const r of resources) {
    if (r.type === "SCALAR") bump(q, names.index(r.name), toFixed(r.scalar?.value ?? 0));
  }
  return q;
}

/** Quantities from a `{name: {value}}` map (quota guarantees, offer filters). */
export function quantitiesFromScalarMap(
  names: ResourceNames,
  map: Readonly<Record<string, { value: number }>> | undefined,
): Quantities {
  const q: Quantities = [];
  if (map === undefined) return q;
  for (const [name, v] of Object.entries(map)) bump(q, names.index(name), toFixed(v.value));
  return q;
}

/** Limits from a `{name: {value}}` map. */
export function limitsFromScalarMap(
  names: ResourceNames,
  map: Readonly<Record<string, { value: number }>> | undefined,
): Map<number, number> {
  const out = new Map<number, number>();
  if (map === undefined) return out;
  for (const [name, v] of Object.entries(map)) out.set(names.index(name), toFixed(v.value));
  return out;
}

/** `limits - consumed` per limited name, floored at zero. */
export function limitsMinus(limits: Limits, consumed: QuantitiesView): Map<number, number> {
  const out = new Map<number, number>();
  for (const [i, v] of limits) out.set(i, Math.max(0, v - (consumed[i] ?? 0)));
  return out;
}

/** True when some limited name has no room left at all. */
export function limitsExhausted(limits: Limits, consumed: QuantitiesView): boolean {
  for (const [i, v] of limits) if ((consumed[i] ?? 0) >= v) return true;
  return false;
}

/** Whether a resource may be cut to a smaller amount (volumes and whole disks may not). */
function shrinkable(r: Resource): boolean {
  if (isPersistentVolume(r)) return false;
  const type = r.disk?.source?.type;
  return type !== "MOUNT" && type !== "BLOCK";
}

/**
 * Cuts scalar `resources` down so each name fits in `room` (`room(i)` gives
 * the allowance for name index `i`, `Infinity` for none). Resources that
 * cannot be cut and do not fit are dropped.
 */
export function shrinkScalars(
  names: ResourceNames,
  resources: Resources,
  room: (index: number) => number,
): Resources {
  const left = new Map<number, number>();
  const out = Resources.empty();
  for (const r of resources) {
    const i = names.index(r.name);
    const allowance = left.get(i) ?? room(i);
    if (allowance === Number.POSITIVE_INFINITY) {
      out.add(r);
      continue;
    }
    const value = toFixed(r.scalar?.value ?? 0);
    if (value <= allowance) {
      out.add(r);
      left.set(i, allowance - value);
    } else if (allowance > 0 && shrinkable(r)) {
      out.add({ ...r, scalar: { value: fromFixed(allowance) } });
      left.set(i, 0);
    } else {
      left.set(i, allowance);
    }
  }
  return out;
}

/** What a framework can take, by capability. */
export interface ResourceCapabilities {
  sharedResources: boolean;
  revocableResources: boolean;
  reservationRefinement: boolean;
}

/** Drops the resources a framework cannot understand or use. */
export function stripIncapable(resources: Resources, caps: ResourceCapabilities): Resources {
  return resources.filter(
    (r) =>
      (caps.sharedResources || !isShared(r)) &&
      (caps.revocableResources || !isRevocable(r)) &&
      (caps.reservationRefinement || !hasRefinedReservations(r)),
  );
}

/** Splits off the part that counts against quota: unreserved, non-revocable scalars. */
export function splitQuotaPart(resources: Resources): { quota: Resources; rest: Resources } {
  const quota = resources.filter((r) => r.type === "SCALAR" && isUnreserved(r) && !isRevocable(r));
  const rest = resources.filter(
    (r) => !(r.type === "SCALAR" && isUnreserved(r) && !isRevocable(r)),
  );
  return { quota, rest };
}

/** Applies conversions in order; fails when a consumed part is missing. */
export function applyConversions(
  resources: Resources,
  conversions: readonly ResourceConversion[],
): { ok: true; value: Resources } | { ok: false; error: string } {
  const out = resources.clone();
  for (const c of conversions) {
    if (!out.contains(c.consumed)) {
      return {
        ok: false,
        error: `${out.toString()} does not contain ${c.consumed.toString()}`,
      };
    }
    out.subtract(c.consumed).add(c.converted);
  }
  return { ok: true, value: out };
}

/** The subset of `Offer.Operation` whose resource effect the allocator applies. */
export interface ResourceOperation {
  type: string;
  reserve?: { resources?: Resource[]; source?: Resource[] };
  unreserve?: { resources?: Resource[] };
  create?: { volumes?: Resource[] };
  destroy?: { volumes?: Resource[] };
}

/**
 * Resource conversions of RESERVE, UNRESERVE, CREATE and DESTROY; other
 * operation types change no agent resources here and yield none.
 */
export function conversionsFromOperation(op: ResourceOperation): ResourceConversion[] {
  switch (op.type) {
    case "RESERVE": {
      const converted = Resources.from(op.reserve?.resources ?? []);
      const consumed =
        op.reserve?.source !== undefined && op.reserve.source.length > 0
          ? Resources.from(op.reserve.source)
          : converted.popReservation();
      return [{ consumed, converted }];
    }
    case "UNRESERVE": {
      const consumed = Resources.from(op.unreserve?.resources ?? []);
      return [{ consumed, converted: consumed.popReservation() }];
    }
    case "CREATE":
      return (op.create?.volumes ?? []).map((v) => {
        const converted = Resources.from(v);
        return { consumed: Resources.from(stripVolume(v)), converted };
      });
    case "DESTROY":
      return (op.destroy?.volumes ?? []).map((v) => {
        const consumed = Resources.from(v);
        return { consumed, converted: Resources.from(stripVolume(v)) };
      });
    default:
      return [];
  }
}

/** The disk a volume was created from: no persistence, no volume, not shared. */
function stripVolume(volume: Resource): Resource {
  const { shared: _shared, disk, ...rest } = volume;
  if (disk === undefined) return rest;
  const { persistence: _p, volume: _v, ...diskRest } = disk;
  return Object.keys(diskRest).length === 0 ? rest : { ...rest, disk: diskRest };
}

/** Scalar quantities of reserved and of unreserved non-revocable resources. */
export function quotaQuantities(
  names: ResourceNames,
  resources: Resources,
): { reserved: Quantities; unreservedNonRevocable: Quantities } {
  const reserved: Quantities = [];
  const unreservedNonRevocable: Quantities = [];
  for (const r of resources) {
    if (r.type !== "SCALAR") continue;
    const v = toFixed(r.scalar?.value ?? 0);
    if (!isUnreserved(r)) bump(reserved, names.index(r.name), v);
    else if (!isRevocable(r)) bump(unreservedNonRevocable, names.index(r.name), v);
  }
  return { reserved, unreservedNonRevocable };
}

/** Scalar quantities of reserved resources, grouped by reservation role. */
export function reservationQuantitiesByRole(
  names: ResourceNames,
  resources: Resources,
): Map<string, Quantities> {
  const out = new Map<string, Quantities>();
  for (const [role, group] of resources.reservations()) {
    const q = scalarQuantities(names, group);
    if (q.some((v) => v !== 0)) out.set(role, q);
  }
  return out;
}
