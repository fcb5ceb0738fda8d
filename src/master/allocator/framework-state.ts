/** What the allocator keeps per framework. */

import type { OfferConstraintsFilter } from "./offer-constraints.js";
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
  // Hot fields first (a cycle reads them for every framework it looks at;
  // V8 lays fields out in declaration order), the rest after them.
  readonly id: string;
  /** Dense index (filter tables). */
  readonly index: number;
  active: boolean;
  /**
   * `caps.multiRole` and whether `minAllocatable` has entries, on the
   * framework itself: reading them here costs no cache line of another object.
   */
  multiRole = false;
  hasOwnMinimum = false;
  /** Offers made to this framework since it was added. */
  offersMade = 0;
  /**
   * Number of agents it holds resources on, by role: the first role in two
   * fields (nearly every framework has one), others in a map made on demand.
   * An offer and its decline update this, so it is kept off a `Map`'s
   * table: fewer cache lines per framework on the hot path.
   */
  private heldRole: string | undefined;
  private heldAgents = 0;
  private heldMore: Map<string, number> | undefined;
  info: FrameworkInfo;
  roles: Set<string>;
  /** Its offer constraints; undefined when it has none (nothing excluded). */
  constraints: OfferConstraintsFilter | undefined;
  readonly suppressed = new Set<string>();
  private capabilities!: FrameworkCapabilities;
  private ownMinimum!: Map<string, Quantities[]>;

  constructor(
    id: string,
    index: number,
    info: FrameworkInfo,
    active: boolean,
    names: ResourceNames,
  ) {
    this.id = id;
    this.index = index;
    this.active = active;
    this.info = info;
    this.roles = frameworkRoles(info);
    this.caps = frameworkCapabilities(info);
    this.minAllocatable = frameworkMinAllocatable(names, info);
    this.constraints = undefined;
  }

  /** Takes the framework's offer constraints (empty ones are dropped: nothing to test). */
  setConstraints(filter: OfferConstraintsFilter | undefined): void {
    this.constraints = filter === undefined || filter.empty ? undefined : filter;
  }

  get caps(): FrameworkCapabilities {
    return this.capabilities;
  }

  set caps(caps: FrameworkCapabilities) {
    this.capabilities = caps;
    this.multiRole = caps.multiRole;
  }

  /** Per-role minimum allocatable resources of its own (`offer_filters`). */
  get minAllocatable(): Map<string, Quantities[]> {
    return this.ownMinimum;
  }

  set minAllocatable(min: Map<string, Quantities[]>) {
    this.ownMinimum = min;
    this.hasOwnMinimum = min.size > 0;
  }

  /** Number of agents it holds resources on for `role`. */
  heldCount(role: string): number {
    if (role === this.heldRole) return this.heldAgents;
    return this.heldMore?.get(role) ?? 0;
  }

  countHeld(role: string, delta: number): void {
    if (role === this.heldRole) {
      const n = this.heldAgents + delta;
      if (n > 0) {
        this.heldAgents = n;
        return;
      }
      this.heldRole = undefined;
      this.heldAgents = 0;
      return;
    }
    const more = this.heldMore;
    const n = (more?.get(role) ?? 0) + delta;
    if (n <= 0) {
      more?.delete(role);
    } else if (this.heldRole === undefined) {
      more?.delete(role);
      this.heldRole = role;
      this.heldAgents = n;
    } else if (more === undefined) {
      this.heldMore = new Map([[role, n]]);
    } else {
      more.set(role, n);
    }
  }

  update(info: FrameworkInfo, names: ResourceNames): void {
    this.info = info;
    this.roles = frameworkRoles(info);
    this.caps = frameworkCapabilities(info);
    this.minAllocatable = frameworkMinAllocatable(names, info);
  }
}
