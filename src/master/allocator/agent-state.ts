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
  type ResourceProfile,
  reservationQuantitiesByRole,
  scalarQuantities,
  sharedProfileOf,
} from "./resource-math.js";
import type { AgentInfo, InverseOfferStatus, Unavailability } from "./types.js";

/** The profile of nothing (shared: profiles are never changed). */
const EMPTY_PROFILE: ResourceProfile = Object.freeze({
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
  empty: true,
  meetsGlobalMinimum: false,
}) as ResourceProfile;

/** What is left of a fully offered agent (one shared value; never changed in place). */
const NOTHING = ResourcesValue.empty();

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

/**
 * What an offer changed on an agent, so that a decline of that very offer
 * (same object) can restore the previous state without any arithmetic.
 * The agent's state is its own record (fields of `AgentState`): no object
 * of its own, so an offer and its decline touch no other lines than the
 * agent's (past a few thousand agents a visit waits mostly on cache misses).
 */
export interface OfferRecord {
  offerFramework: string;
  offerRole: string;
  /** The offered resources (with allocation info) as handed out. */
  offered: Resources | undefined;
  /** The same without allocation info. */
  offeredPlain: Resources | undefined;
  /** Version before and after the offer. */
  versionBefore: number;
  versionAfter: number;
  availableBefore: Resources | undefined;
  profileBefore: ResourceProfile | undefined;
  allocatedSumBefore: Resources | undefined;
  /** The framework held nothing for the role here before. */
  offerFresh: boolean;
  /** Quantities charged for the offer (set by the allocator). */
  sorterQuantities: Quantities | undefined;
  chargedReserved: Quantities | undefined;
  chargedUnreserved: Quantities | undefined;
}

/** What one framework holds on an agent, by role (nearly always a single role). */
export class Holding {
  private more: Map<string, Resources> | undefined;

  constructor(
    private role: string | undefined,
    private resources: Resources | undefined,
  ) {}

  get(role: string): Resources | undefined {
    return role === this.role ? this.resources : this.more?.get(role);
  }

  set(role: string, resources: Resources): void {
    if (this.role === undefined || this.role === role) {
      this.role = role;
      this.resources = resources;
      return;
    }
    if (this.more === undefined) this.more = new Map();
    this.more.set(role, resources);
  }

  delete(role: string): void {
    if (role !== this.role) {
      this.more?.delete(role);
      return;
    }
    this.role = undefined;
    this.resources = undefined;
    const next = this.more?.entries().next();
    if (next !== undefined && next.done !== true) {
      const [r, res] = next.value;
      this.more?.delete(r);
      this.role = r;
      this.resources = res;
    }
  }

  isEmpty(): boolean {
    return this.role === undefined;
  }

  /** (role, resources) pairs. */
  entries(): [string, Resources][] {
    const out: [string, Resources][] = [];
    if (this.role !== undefined && this.resources !== undefined)
      out.push([this.role, this.resources]);
    if (this.more !== undefined) for (const e of this.more) out.push(e);
    return out;
  }
}

/** Source of versions shared by all agents of one allocator. */
export class VersionSource {
  private last = 0;
  next(): number {
    return ++this.last;
  }
}

export class AgentState implements OfferRecord {
  // Fields in the order a cycle's visit reads them: the hot ones share the
  // object's first cache lines (past a few thousand agents a visit is bound
  // by cache misses on per-agent objects, not by the work it does).
  /** Set when the agent leaves the allocator (cycles in progress skip it). */
  removed = false;
  activated = true;
  version: number;
  private profileVersion = -1;
  private profileCache: ResourceProfile | undefined;
  // Read when the version moves (every offer): kept off the cold last line.
  private readonly versions: VersionSource;
  private readonly names: ResourceNames;
  /** A walk of every framework found nothing at (version, filter stamp, global stamp). */
  memoVersion = -1;
  memoStamp = -1;
  memoGlobal = -1;
  readonly filters: AgentFilters;
  available: Resources = ResourcesValue.empty();
  /** `caps.multiRole`, kept on the agent itself (checked for every framework looked at). */
  multiRole = false;
  totalHasGpu = false;
  readonly id: string;
  /**
   * The last `allocatedForm` (plain, role) -> allocated, in fields of the
   * agent rather than an object of its own: one cache line less per offer.
   */
  private formPlain: Resources | undefined;
  private formRole = "";
  private formAllocated: Resources | undefined;
  /**
   * The holding of the framework most recently offered something here that
   * held nothing before (one role), kept out of `holdings` and out of any
   * object: an offer declined as made then costs no map insert and delete
   * (which churn the map's table on every round of a busy cluster) and
   * touches no object besides the agent.
   */
  private freshId: string | undefined;
  private freshRole = "";
  private freshResources: Resources | undefined;
  /**
   * `holdings.size`, and its entry when there is exactly one (an agent
   * running one framework's tasks, the common case): whether a framework
   * holds something here is then answered without reading the map's table
   * (one or two cache misses per offer past a few thousand agents).
   */
  private holdingCount = 0;
  private soleId: string | undefined;
  private soleHolding: Holding | undefined;
  /**
   * Offered or allocated resources per framework, per role (with
   * `allocation_info`), except the holding in `fresh*` (see `allocations`).
   */
  private readonly holdings = new Map<string, Holding>();
  /**
   * Sum of all offered or allocated resources, without `allocation_info`,
   * is `allocatedBase + allocatedPending` (the pending part is folded in only
   * when needed, so an offer declined as made never costs an addition).
   */
  private allocatedBase: Resources = ResourcesValue.empty();
  private allocatedPending: Resources | undefined;
  /** The most recent offer made from this agent (this object), while nothing else changed since. */
  private lastOffer: OfferRecord | undefined;
  // The record of the latest offer (see `OfferRecord`), in the agent's own
  // fields: rewritten for every offer, read by its decline.
  offerFramework = "";
  offerRole = "";
  offered: Resources | undefined;
  offeredPlain: Resources | undefined;
  versionBefore = 0;
  versionAfter = 0;
  availableBefore: Resources | undefined;
  profileBefore: ResourceProfile | undefined;
  allocatedSumBefore: Resources | undefined;
  offerFresh = false;
  sorterQuantities: Quantities | undefined;
  chargedReserved: Quantities | undefined;
  chargedUnreserved: Quantities | undefined;
  maintenance: Maintenance | undefined;
  readonly index: number;
  /**
   * What each role may be offered of `roleViewsOf` (agents with
   * reservations). This map and the other rarely used ones are made on
   * first use: empty maps on every agent were a third of its heap, memory
   * between the agents' hot objects.
   */
  private roleViews: Map<string, Resources> | undefined;
  private roleViewsOf: Resources | undefined;
  // Colder fields.
  info: AgentInfo;
  total: Resources;
  totalScalars: Quantities;
  totalReservations: Map<string, Quantities>;
  /** Resources in use by tasks (offers accepted), with `allocation_info`. */
  totalAllocated: Resources = ResourcesValue.empty();
  private inUseMap: Map<string, Quantities> | undefined;
  private inverseFilterMap: Map<string, number> | undefined;
  private capabilities!: AgentCapabilities;

  /** In-use unreserved non-revocable scalars charged to each role's quota consumption. */
  get inUse(): Map<string, Quantities> {
    this.inUseMap ??= new Map();
    return this.inUseMap;
  }

  /** Inverse-offer refuse filters: framework -> expiry (monotonic ms). */
  get inverseFilters(): Map<string, number> {
    this.inverseFilterMap ??= new Map();
    return this.inverseFilterMap;
  }

  /** Drops a framework's inverse-offer filter (makes no map when there is none). */
  dropInverseFilter(frameworkId: string): void {
    this.inverseFilterMap?.delete(frameworkId);
  }

  get caps(): AgentCapabilities {
    return this.capabilities;
  }

  set caps(caps: AgentCapabilities) {
    this.capabilities = caps;
    this.multiRole = caps.multiRole;
  }

  constructor(
    id: string,
    index: number,
    info: AgentInfo,
    caps: AgentCapabilities,
    total: Resources,
    names: ResourceNames,
    versions: VersionSource,
  ) {
    this.id = id;
    this.index = index;
    this.info = info;
    this.names = names;
    this.versions = versions;
    this.caps = caps;
    this.filters = new AgentFilters(index);
    this.total = total;
    this.totalScalars = scalarQuantities(names, total);
    this.totalReservations = reservationQuantitiesByRole(names, total.reserved());
    this.totalHasGpu = (total.gpus() ?? 0) > 0;
    this.version = versions.next();
    this.recompute();
  }

  /**
   * Loads one field on each cache line a cycle's visit reads, `depth`
   * pointers away from this object (0: the object itself). A cycle calls it
   * for a batch of agents ahead of its visits, one depth at a time, so the
   * loads of a depth are independent of each other and their cache misses
   * overlap instead of stalling the visits one by one. Changes nothing;
   * returns a number only so the loads are not optimized away.
   */
  warm(depth: number, rowWords: Uint32Array): number {
    switch (depth) {
      case 0:
        // Fields at most 56 bytes apart, from `version` to `index` (the hot
        // fields, the offer record among them): a read on every line.
        return (
          this.version +
          this.memoGlobal +
          (this.formPlain === undefined ? 1 : 0) +
          this.holdingCount +
          (this.lastOffer === undefined ? 2 : 0) +
          this.versionBefore +
          (this.sorterQuantities === undefined ? 4 : 0) +
          this.index
        );
      case 1:
        // The filters (with a copy of their refusal row's place; a read on
        // each line of their hot fields, `stamp` to `othersCount`), the
        // holdings map when it is read.
        return (
          this.filters.stamp +
          this.filters.slotOffset +
          this.filters.othersCount +
          (this.holdingCount > 1 ? this.holdings.size : 0) +
          (this.roleViewsOf === this.available ? (this.roleViews?.size ?? 0) : 0)
        );
      default:
        // The refusal row in the slab (`rowWords`: the slab's words).
        return this.filters.warmRow(rowWords);
    }
  }

  /** Offered or allocated resources per framework, per role (with `allocation_info`). */
  get allocations(): ReadonlyMap<string, Holding> {
    this.flushFresh();
    return this.holdings;
  }

  /** A framework's entry in `holdings` (not the fresh holding: see `freshId`). */
  private holdingOf(frameworkId: string): Holding | undefined {
    const n = this.holdingCount;
    if (n === 0) return undefined;
    if (n === 1) return frameworkId === this.soleId ? this.soleHolding : undefined;
    return this.holdings.get(frameworkId);
  }

  /** Refreshes `holdingCount` and the sole entry after `holdings` changed. */
  private holdingsChanged(): void {
    const n = this.holdings.size;
    this.holdingCount = n;
    this.soleId = undefined;
    this.soleHolding = undefined;
    if (n !== 1) return;
    for (const [id, holding] of this.holdings) {
      this.soleId = id;
      this.soleHolding = holding;
    }
  }

  /** Moves the fresh holding into `holdings`. */
  private flushFresh(): void {
    const id = this.freshId;
    if (id === undefined) return;
    this.holdings.set(id, new Holding(this.freshRole, this.freshResources));
    this.clearFresh();
    this.holdingsChanged();
  }

  private clearFresh(): void {
    this.freshId = undefined;
    this.freshRole = "";
    this.freshResources = undefined;
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
   * offered to a framework for `role`. Returns the record of the change.
   */
  decreaseAvailable(
    frameworkId: string,
    role: string,
    allocated: Resources,
    plain: Resources,
  ): OfferRecord | undefined {
    // (The emptiness of `available` is known from its profile: no look at a cold object.)
    if (plain === this.available ? this.profile().empty : allocated.isEmpty()) return undefined;
    // Holdings are never changed in place, so the offer object itself can be kept.
    let mine: Resources | undefined;
    if (frameworkId === this.freshId && role === this.freshRole) {
      mine = this.freshResources as Resources;
      this.freshResources = mine.plus(allocated);
    } else {
      // A second role of the fresh holding goes with the others in `holdings`.
      if (frameworkId === this.freshId) this.flushFresh();
      const holding = this.holdingOf(frameworkId);
      mine = holding?.get(role);
      if (holding === undefined) {
        this.flushFresh();
        this.freshId = frameworkId;
        this.freshRole = role;
        this.freshResources = allocated;
      } else {
        holding.set(role, mine === undefined ? allocated : mine.plus(allocated));
      }
    }
    // The record of this offer, in the agent's own fields: a record is only
    // read while it is the latest offer (see `offerRecord`).
    this.offerFramework = frameworkId;
    this.offerRole = role;
    this.offered = allocated;
    this.offeredPlain = plain;
    this.versionBefore = this.version;
    this.versionAfter = 0;
    this.availableBefore = this.available;
    this.profileBefore = this.profileVersion === this.version ? this.profileCache : undefined;
    this.allocatedSumBefore = this.allocatedSum();
    this.offerFresh = mine === undefined;
    this.sorterQuantities = undefined;
    this.chargedReserved = undefined;
    this.chargedUnreserved = undefined;
    this.allocatedPending = plain;
    if (plain === this.available && this.profile().hasShared === false) {
      // The whole remainder went out: nothing left, no arithmetic needed
      // (the shared empty value: `available` is never changed in place).
      this.available = NOTHING;
      this.bump();
    } else {
      this.recompute();
    }
    this.versionAfter = this.version;
    this.lastOffer = this;
    return this;
  }

  /** The record of `allocated` when it is the latest offer here and nothing changed since. */
  offerRecord(frameworkId: string, allocated: Resources): OfferRecord | undefined {
    const last = this.lastOffer;
    if (
      last === undefined ||
      last.offered !== allocated ||
      last.offerFramework !== frameworkId ||
      last.versionAfter !== this.version
    ) {
      return undefined;
    }
    return last;
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
    const fresh = frameworkId === this.freshId;
    const holding = fresh ? undefined : this.holdingOf(frameworkId);
    const mine = fresh
      ? role === this.freshRole
        ? this.freshResources
        : undefined
      : holding?.get(role);
    if (mine === undefined) return "missing";
    const record = this.offerRecord(frameworkId, allocated);
    let emptied = false;
    let rest: Resources | undefined;
    if (record?.offerFresh === true && record.offerRole === role) {
      // The holding is exactly this offer.
      emptied = true;
    } else {
      if (!mine.contains(allocated)) return "missing";
      rest = mine.minus(allocated);
      emptied = rest.isEmpty();
    }
    if (fresh) {
      if (emptied) this.clearFresh();
      else this.freshResources = rest;
    } else if (holding !== undefined) {
      if (!emptied) {
        holding.set(role, rest as Resources);
      } else {
        holding.delete(role);
        if (holding.isEmpty()) {
          this.holdings.delete(frameworkId);
          this.holdingsChanged();
        }
      }
    }
    this.lastOffer = undefined;
    if (record !== undefined && record.offerRole === role) {
      // The offer came back as it went out: back to the exact previous state.
      this.available = record.availableBefore as Resources;
      this.allocatedBase = record.allocatedSumBefore as Resources;
      this.allocatedPending = undefined;
      this.version = record.versionBefore;
      if (record.profileBefore !== undefined) {
        this.profileCache = record.profileBefore;
        this.profileVersion = record.versionBefore;
      }
    } else {
      this.allocatedBase = this.allocatedSum().minus(plain);
      this.allocatedPending = undefined;
      this.recompute();
    }
    return emptied ? "emptied" : "ok";
  }

  /** A summary of `available`, cached per version. */
  profile(): ResourceProfile {
    if (this.profileVersion !== this.version || this.profileCache === undefined) {
      this.profileCache = this.available.isEmpty()
        ? EMPTY_PROFILE
        : sharedProfileOf(this.names, this.available);
      this.profileVersion = this.version;
    }
    return this.profileCache;
  }

  /** What `role` may be offered here (unreserved, or reserved to it or an ancestor). */
  allocatableTo(role: string): Resources {
    if (!this.profile().hasReserved) return this.available;
    // Keyed by the availability object, so a restored state keeps its views.
    let views = this.roleViews;
    if (views === undefined) {
      views = new Map();
      this.roleViews = views;
    }
    if (this.roleViewsOf !== this.available) {
      views.clear();
      this.roleViewsOf = this.available;
    }
    let view = views.get(role);
    if (view === undefined) {
      view = this.available.allocatableTo(role);
      // Everything is usable by the role: keep the identity (version caches).
      if (view.size === this.available.size) view = this.available;
      views.set(role, view);
    }
    return view;
  }

  /** What a framework holds here for a role (with allocation info). */
  heldBy(frameworkId: string, role: string): Resources | undefined {
    if (frameworkId === this.freshId)
      return role === this.freshRole ? this.freshResources : undefined;
    return this.holdingOf(frameworkId)?.get(role);
  }

  /** All offered or allocated resources, without allocation info. */
  private allocatedSum(): Resources {
    const pending = this.allocatedPending;
    if (pending !== undefined) {
      this.allocatedBase = this.allocatedBase.plus(pending);
      this.allocatedPending = undefined;
    }
    return this.allocatedBase;
  }

  /**
   * `available` with allocation info for `role`, cached per version so the
   * same remainder offered again (after declines) is not rebuilt.
   */
  allocatedForm(plain: Resources, role: string): Resources {
    const cached = this.formAllocated;
    if (cached !== undefined && this.formPlain === plain && this.formRole === role) return cached;
    const allocated = plain.allocate(role);
    if (plain === this.available) {
      this.formPlain = plain;
      this.formRole = role;
      this.formAllocated = allocated;
    }
    return allocated;
  }

  private recompute(): void {
    const total = this.total;
    const shared = total.shared();
    if (shared.isEmpty()) {
      this.available = total.minus(this.allocatedSum());
    } else {
      // Shared resources stay available however often they are in use.
      this.available = total.nonShared().minus(this.allocatedSum().nonShared()).add(shared);
    }
    this.bump();
  }

  private bump(): void {
    this.version = this.versions.next();
    this.lastOffer = undefined;
  }
}
