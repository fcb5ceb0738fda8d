/**
 * How quota shapes an offer (Mesos 1.9+ semantics): in the guarantee stage a
 * role gets unreserved resources towards its unsatisfied guarantee and may
 * burst up to its limits; in the fair-share stage unreserved scalars are cut
 * to the limits of the role and its ancestors, and to the surplus over the
 * headroom that other roles' unsatisfied guarantees need. Reservations,
 * non-scalars and revocable resources are never cut. Also: the minimum
 * allocatable check.
 */

import type { Resources } from "../../common/resources/index.js";
import type { AllocatorCore } from "./allocator-core.js";
import type { FrameworkState } from "./framework-state.js";
import {
  addInto,
  containsQuantities,
  isEmptyQuantities,
  minQuantities,
  minusFloored,
  type Quantities,
  subtractInto,
} from "./quantities.js";
import {
  type Limits,
  profileOf,
  type ResourceProfile,
  shrinkScalars,
  splitQuotaPart,
  stripIncapable,
} from "./resource-math.js";
import type { RoleNode } from "./role-tree.js";

/** An offer picked for one framework on one agent, before it is committed. */
export interface Pick {
  framework: FrameworkState;
  role: string;
  resources: Resources;
  profile: ResourceProfile;
  /** Unreserved non-revocable scalars given towards a quota guarantee (stage 1). */
  towardsGuarantee: Quantities | undefined;
  /** Unreserved non-revocable scalars beyond guarantees (quota charge). */
  additional: Quantities | undefined;
}

/** Per-cycle quota accounting (only when some role has quota). */
export interface QuotaContext {
  requiredHeadroom: Quantities;
  availableHeadroom: Quantities;
  /** Roles with guarantees not yet met, as role nodes. */
  unsatisfied: Set<RoleNode>;
  /** Some role (or ancestor) has limits. */
  anyLimits: boolean;
}

/** Quota accounting for a cycle (or a slice of one). */
export function quotaContext(core: AllocatorCore): QuotaContext {
  const tree = core.roleTree;
  const required: Quantities = [];
  const unsatisfied = new Set<RoleNode>();
  let anyLimits = false;
  for (const node of tree.withQuota()) {
    if (node.limits.size > 0) anyLimits = true;
    const missing = minusFloored(node.guarantees, node.quotaOfferedOrConsumed());
    if (node.parent === tree.root) addInto(required, missing);
    if (!isEmptyQuantities(missing) && node.frameworks.size > 0) unsatisfied.add(node);
  }
  // Headroom: unallocated, unreserved, non-revocable resources.
  const available = core.pool.total.slice();
  subtractInto(available, core.roleSorter.totalAllocation());
  const root = tree.root;
  const reservedTotal: Quantities = [];
  const reservedOffered: Quantities = [];
  for (const child of root.children.values()) {
    addInto(reservedTotal, child.reserved);
    addInto(reservedOffered, child.offeredOrAllocatedReserved);
  }
  subtractInto(available, minusFloored(reservedTotal, reservedOffered));
  for (const agent of core.agents.values()) {
    const p = agent.profile();
    if (p.hasRevocable) subtractInto(available, p.revocableScalars);
  }
  return {
    requiredHeadroom: required,
    availableHeadroom: available,
    unsatisfied,
    anyLimits,
  };
}

/**
 * What a framework of `role` would be offered: `base` minus what it cannot
 * handle, shaped by quota (guarantees in stage 1, limits and headroom).
 * Undefined when that is nothing.
 */
export function shapeOffer(
  core: AllocatorCore,
  quota: QuotaContext | undefined,
  role: string,
  stage: 1 | 2 | 3,
  base: Resources,
  baseProfile: ResourceProfile,
  stripMatters: boolean,
  framework: FrameworkState,
): Pick | undefined {
  const stripped = stripMatters ? stripIncapable(base, framework.caps) : base;
  // (The profile knows whether `base` is empty: no look at the agent's cold resources.)
  if (stripped === base ? baseProfile.empty : stripped.isEmpty()) return undefined;
  const unshaped =
    quota === undefined ||
    (stage === 2 && !quota.anyLimits && isEmptyQuantities(quota.requiredHeadroom));
  if (unshaped) {
    const profile = stripped === base ? baseProfile : profileOf(core.names, stripped);
    return {
      framework,
      role,
      resources: stripped,
      profile,
      towardsGuarantee: undefined,
      additional: undefined,
    };
  }
  const names = core.names;
  const consumed = consumedOnPath(core, role);
  const limits = limitsOnPath(core, role);
  const surplus =
    quota !== undefined && !isEmptyQuantities(quota.requiredHeadroom)
      ? minusFloored(quota.availableHeadroom, quota.requiredHeadroom)
      : undefined;
  const strippedProfile = stripped === base ? baseProfile : profileOf(names, stripped);
  const quotaScalars = strippedProfile.quotaScalars;
  let given: Quantities | undefined;
  let unsatisfied: Quantities = [];
  if (stage === 1) {
    const node = core.roleTree.get(role) as RoleNode;
    unsatisfied = minusFloored(node.guarantees, node.quotaOfferedOrConsumed());
    given = minQuantities(quotaScalars, unsatisfied);
    if (isEmptyQuantities(given)) return undefined;
  }
  // Common case: everything fits under the limits and the headroom, so the
  // offer is the whole of `stripped` (keeping its identity for caches).
  const extra = given === undefined ? quotaScalars : minusFloored(quotaScalars, given);
  const foreign =
    stage === 1 && [...(strippedProfile.reservationRoles ?? [])].some((r) => r !== role);
  let fits = !foreign;
  for (let i = 0; fits && i < extra.length; i++) {
    const want = extra[i] as number;
    if (want <= 0) continue;
    const room = Math.min(
      limitRoom(limits, consumed, i, given?.[i] ?? 0),
      surplus?.[i] ?? Infinity,
    );
    if (want > room) fits = false;
  }
  if (fits) {
    return {
      framework,
      role,
      resources: stripped,
      profile: strippedProfile,
      towardsGuarantee: given,
      additional: extra,
    };
  }
  const { quota: quotaPart, rest } = splitQuotaPart(stripped);
  let towardsGuarantee: Resources | undefined;
  let additional = quotaPart;
  let always = rest;
  if (stage === 1) {
    towardsGuarantee = shrinkScalars(names, quotaPart, (i) => unsatisfied[i] ?? 0);
    // In stage 1 only the role's own reservations come along.
    always = rest.filter(
      (r) => r.type !== "SCALAR" || r.revocable !== undefined || lastReservation(r) === role,
    );
    additional = quotaPart.minus(towardsGuarantee);
    const g = profileOf(names, towardsGuarantee).scalars;
    additional = shrinkScalars(names, additional, (i) => limitRoom(limits, consumed, i, g[i] ?? 0));
  } else if (limits.length > 0) {
    additional = shrinkScalars(names, additional, (i) => limitRoom(limits, consumed, i, 0));
  }
  if (surplus !== undefined && !additional.isEmpty()) {
    additional = shrinkScalars(names, additional, (i) => surplus[i] ?? 0);
  }
  let resources = always.plus(additional);
  if (towardsGuarantee !== undefined) resources = resources.plus(towardsGuarantee);
  if (resources.isEmpty()) return undefined;
  return {
    framework,
    role,
    resources,
    profile: profileOf(names, resources),
    towardsGuarantee:
      towardsGuarantee === undefined ? undefined : profileOf(names, towardsGuarantee).scalars,
    additional: profileOf(names, additional).scalars,
  };
}

/** Quota consumption of `role` and each ancestor with limits. */
export function consumedOnPath(core: AllocatorCore, role: string): Map<RoleNode, Quantities> {
  const out = new Map<RoleNode, Quantities>();
  for (let n = core.roleTree.get(role) ?? null; n !== null && n.parent !== null; n = n.parent) {
    if (n.limits.size > 0) out.set(n, n.quotaOfferedOrConsumed());
  }
  return out;
}

/** Limits of `role` and its ancestors. */
export function limitsOnPath(
  core: AllocatorCore,
  role: string,
): { node: RoleNode; limits: Limits }[] {
  const out: { node: RoleNode; limits: Limits }[] = [];
  for (let n = core.roleTree.get(role) ?? null; n !== null && n.parent !== null; n = n.parent) {
    if (n.limits.size > 0) out.push({ node: n, limits: n.limits });
  }
  return out;
}

/** Whether an offer meets the minimum allocatable resources for the framework's role. */
export function meetsMinimum(
  core: AllocatorCore,
  profile: ResourceProfile,
  role: string,
  framework: FrameworkState,
): boolean {
  if (profile.empty) return false;
  const mins = framework.minAllocatable.get(role) ?? core.minAllocatable;
  if (mins.length === 0) return true;
  for (const m of mins) if (containsQuantities(profile.counts, m)) return true;
  return false;
}

/** Room under every limit on the path for name `i`, after `extra` more. */
export function limitRoom(
  limits: { node: RoleNode; limits: Limits }[],
  consumed: Map<RoleNode, Quantities>,
  i: number,
  extra: number,
): number {
  let room = Number.POSITIVE_INFINITY;
  for (const { node, limits: l } of limits) {
    const limit = l.get(i);
    if (limit === undefined) continue;
    const used = (consumed.get(node)?.[i] ?? 0) + extra;
    room = Math.min(room, Math.max(0, limit - used));
  }
  return room;
}

/** True when the role's limits alone leave nothing of `resources`' quota part. */
export function limitsBind(core: AllocatorCore, role: string, resources: Resources): boolean {
  const limits = limitsOnPath(core, role);
  const consumed = consumedOnPath(core, role);
  const { quota: part } = splitQuotaPart(resources);
  return shrinkScalars(core.names, part, (i) => limitRoom(limits, consumed, i, 0)).isEmpty();
}

function lastReservation(r: { reservations?: { role?: string }[] }): string | undefined {
  const list = r.reservations;
  return list === undefined || list.length === 0 ? undefined : list[list.length - 1]?.role;
}
