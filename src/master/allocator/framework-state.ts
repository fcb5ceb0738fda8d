/** What the allocator keeps per framework. */

import type { Quantities, ResourceNames } from "./quantities.js";
import { quantitiesFromScalarMap, type ResourceCapabilities } from "./resource-math.js";
import type { FrameworkInfo } from "./types.js";

/** Framework capabilities the allocator acts on. */
export interface FrameworkCapabilities extends ResourceCapabilities {
  multiRole: boolean;
  gpuResources: boolean;
  regionAware: boolean;
}

export function frameworkCapabilities(info: FrameworkInfo): FrameworkCapabilities {
  const types = new Set((info.capabilities ?? []).map((c) => c.type));
  return {
    multiRole: types.has("MULTI_ROLE"),
    gpuResources: types.has("GPU_RESOURCES"),
    regionAware: types.has("REGION_AWARE"),
    sharedResources: types.has("SHARED_RESOURCES"),
    revocableResources: types.has("REVOCABLE_RESOURCES"),
    reservationRefinement: types.has("RESERVATION_REFINEMENT"),
  };
}

/** The framework's roles: `roles` for MULTI_ROLE frameworks, else `role` (default `*`). */
export function frameworkRoles(info: FrameworkInfo): Set<string> {
  const multiRole = (info.capabilities ?? []).some((c) => c.type === "MULTI_ROLE");
  if (multiRole) return new Set(info.roles ?? []);
  return new Set([info.role ?? "*"]);
}

/** Per-role minimum allocatable resources from `FrameworkInfo.offer_filters`. */
export function frameworkMinAllocatable(
  names: ResourceNames,
  info: FrameworkInfo,
): Map<string, Quantities[]> {
  const out = new Map<string, Quantities[]>();
  for (const [role, filters] of Object.entries(info.offer_filters ?? {})) {
    const min = filters.min_allocatable_resources;
    if (min === undefined) continue;
    out.set(
      role,
      (min.quantities ?? []).map((q) => quantitiesFromScalarMap(names, q.quantities)),
    );
  }
  return out;
}

export class FrameworkState {
  roles: Set<string>;
  readonly suppressed = new Set<string>();
  caps: FrameworkCapabilities;
  minAllocatable: Map<string, Quantities[]>;
  /** Offers made to this framework since it was added. */
  offersMade = 0;
  /** Roles it holds resources in, with the number of agents. */
  readonly held = new Map<string, number>();

  constructor(
    readonly id: string,
    /** Dense index (filter tables). */
    readonly index: number,
    public info: FrameworkInfo,
    public active: boolean,
    names: ResourceNames,
  ) {
    this.roles = frameworkRoles(info);
    this.caps = frameworkCapabilities(info);
    this.minAllocatable = frameworkMinAllocatable(names, info);
  }

  countHeld(role: string, delta: number): void {
    const n = (this.held.get(role) ?? 0) + delta;
    if (n <= 0) this.held.delete(role);
    else this.held.set(role, n);
  }

  update(info: FrameworkInfo, names: ResourceNames): void {
    this.info = info;
    this.roles = frameworkRoles(info);
    this.caps = frameworkCapabilities(info);
    this.minAllocatable = frameworkMinAllocatable(names, info);
  }
}
