/**
 * What the allocator keeps per agent: its total resources, what is offered
 * or allocated to each framework, and what is left ("available").
 *
 * Every change of `available` takes a new `version` from an allocator-wide
 * counter, so caches keyed by version (filter checks, per-role views,
 * profiles) are never confused. When resources that were just offered come
 * back untouched (a decline of the very offer object), the agent returns to
 * its previous version and all those caches stay valid.
 */

import type { Resources } from "../../common/resources/index.js";
import { Resources as ResourcesValue } from "../../common/resources/index.js";
import { AgentFilters } from "./offer-filters.js";
import type { Quantities, ResourceNames } from "./quantities.js";
import {
  profileOf,
  type ResourceProfile,
  reservationQuantitiesByRole,
  scalarQuantities,
} from "./resource-math.js";
import type { AgentInfo, InverseOfferStatus, Unavailability } from "./types.js";

/** Agent capabilities the allocator acts on. */
export interface AgentCapabilities {
  multiRole: boolean;
  hierarchicalRole: boolean;
  reservationRefinement: boolean;
}

export function agentCapabilities(capabilities: readonly { type: string }[]): AgentCapabilities {
  const types = new Set(capabilities.map((c) => c.type));
  return {
    multiRole: types.has("MULTI_ROLE"),
    hierarchicalRole: types.has("HIERARCHICAL_ROLE"),
    reservationRefinement: types.has("RESERVATION_REFINEMENT"),
  };
}

/** Maintenance state: the window, and inverse offers out and answered. */
export interface Maintenance {
  unavailability: Unavailability;
  outstanding: Set<string>;
  statuses: Map<string, InverseOfferStatus>;
}

/** Source of versions shared by all agents of one allocator. */
export class VersionSource {
  private last = 0;
  next(): number {
    return ++this.last;
  }
}

export class AgentState {
  activated = true;
  total: Resources;
  totalScalars: Quantities;
  totalReservations: Map<string, Quantities>;
  totalHasGpu = false;
  /** Offered or allocated resources per framework, per role (with `allocation_info`). */
  readonly allocations = new Map<string, Map<string, Resources>>();
  /** Sum of all offered or allocated resources, without `allocation_info`. */
  private allocatedSum: Resources = ResourcesValue.empty();
  /** Resources in use by tasks (offers accepted), with `allocation_info`. */
  totalAllocated: Resources = ResourcesValue.empty();
  /** In-use unreserved non-revocable scalars charged to each role's quota consumption. */
  readonly inUse = new Map<string, Quantities>();
  available: Resources = ResourcesValue.empty();
  version: number;
  readonly filters: AgentFilters;
  maintenance: Maintenance | undefined;
  /** Inverse-offer refuse filters: framework -> expiry (monotonic ms). */
  readonly inverseFilters = new Map<string, number>();
  /** A walk of every framework found nothing at (version, filter stamp, global stamp). */
  memoVersion = -1;
  memoStamp = -1;
  memoGlobal = -1;
  private profileVersion = -1;
  private profileCache: ResourceProfile | undefined;
  private readonly roleViews = new Map<string, Resources>();
  private roleViewsVersion = -1;
  private lastOffer:
    | { resources: Resources; before: number; after: number; available: Resources }
    | undefined;

  constructor(
    readonly id: string,
    readonly index: number,
    public info: AgentInfo,
    public caps: AgentCapabilities,
    total: Resources,
    private readonly names: ResourceNames,
    private readonly versions: VersionSource,
  ) {
    this.filters = new AgentFilters(index);
    this.total = total;
    this.totalScalars = scalarQuantities(names, total);
    this.totalReservations = reservationQuantitiesByRole(names, total.reserved());
    this.totalHasGpu = (total.gpus() ?? 0) > 0;
    this.version = versions.next();
    this.recompute();
  }

  get hostname(): string {
    return this.info.hostname ?? "";
  }

  /** Replaces the total; returns false when it did not change. */
  setTotal(total: Resources): boolean {
    if (total.equals(this.total)) return false;
    this.total = total;
    this.totalScalars = scalarQuantities(this.names, total);
    this.totalReservations = reservationQuantitiesByRole(this.names, total.reserved());
    this.totalHasGpu = (total.gpus() ?? 0) > 0;
    this.recompute();
    return true;
  }

  /**
   * Marks `allocated` (with allocation info; `plain` is the same without) as
   * offered to a framework for `role`. Returns true when the framework held
   * nothing for that role here before.
   */
  decreaseAvailable(
    frameworkId: string,
    role: string,
    allocated: Resources,
    plain: Resources,
  ): boolean {
    if (allocated.isEmpty()) return false;
    let byRole = this.allocations.get(frameworkId);
    if (byRole === undefined) {
      byRole = new Map();
      this.allocations.set(frameworkId, byRole);
    }
    const mine = byRole.get(role);
    if (mine === undefined) byRole.set(role, allocated.clone());
    else mine.add(allocated);
    this.allocatedSum.add(plain);
    const before = this.version;
    const previous = this.available;
    if (plain === this.available && this.profile().hasShared === false) {
      // The whole remainder went out: nothing left, no arithmetic needed.
      this.available = ResourcesValue.empty();
      this.bump();
    } else {
      this.recompute();
    }
    this.lastOffer = { resources: allocated, before, after: this.version, available: previous };
    return mine === undefined;
  }

  /**
   * Returns resources a framework held for `role`. Returns "missing" when the
   * framework does not hold them all (nothing changes then), "emptied" when
   * it now holds nothing for the role here, else "ok".
   */
  increaseAvailable(
    frameworkId: string,
    role: string,
    allocated: Resources,
    plain: Resources,
  ): "ok" | "emptied" | "missing" {
    if (allocated.isEmpty()) return "ok";
    const byRole = this.allocations.get(frameworkId);
    const mine = byRole?.get(role);
    if (byRole === undefined || mine === undefined || !mine.contains(allocated)) return "missing";
    mine.subtract(allocated);
    let emptied = false;
    if (mine.isEmpty()) {
      byRole.delete(role);
      if (byRole.size === 0) this.allocations.delete(frameworkId);
      emptied = true;
    }
    this.allocatedSum.subtract(plain);
    const last = this.lastOffer;
    this.lastOffer = undefined;
    if (last !== undefined && last.resources === allocated && last.after === this.version) {
      // The offer came back as it went out: back to the exact previous state.
      this.available = last.available;
      this.version = last.before;
      this.roleViewsVersion = -1;
    } else {
      this.recompute();
    }
    return emptied ? "emptied" : "ok";
  }

  /** A summary of `available`, cached per version. */
  profile(): ResourceProfile {
    if (this.profileVersion !== this.version || this.profileCache === undefined) {
      this.profileCache = profileOf(this.names, this.available);
      this.profileVersion = this.version;
    }
    return this.profileCache;
  }

  /** What `role` may be offered here (unreserved, or reserved to it or an ancestor). */
  allocatableTo(role: string): Resources {
    if (!this.profile().hasReserved) return this.available;
    if (this.roleViewsVersion !== this.version) {
      this.roleViews.clear();
      this.roleViewsVersion = this.version;
    }
    let view = this.roleViews.get(role);
    if (view === undefined) {
      view = this.available.allocatableTo(role);
      this.roleViews.set(role, view);
    }
    return view;
  }

  /** What a framework holds here for a role (with allocation info). */
  heldBy(frameworkId: string, role: string): Resources | undefined {
    return this.allocations.get(frameworkId)?.get(role);
  }

  private recompute(): void {
    const total = this.total;
    const shared = total.shared();
    if (shared.isEmpty()) {
      this.available = total.minus(this.allocatedSum);
    } else {
      // Shared resources stay available however often they are in use.
      this.available = total.nonShared().minus(this.allocatedSum.nonShared()).add(shared);
    }
    this.bump();
  }

  private bump(): void {
    this.version = this.versions.next();
    this.lastOffer = undefined;
  }
}
