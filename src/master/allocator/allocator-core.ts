/**
 * The allocator's state and the bookkeeping every event shares: which
 * frameworks are tracked under which roles (and so sit in which sorters),
 * and how offered or allocated resources are charged to roles, sorters and
 * agents. The public event methods are in `hierarchical-allocator.ts`, the
 * allocation cycle in `allocation-cycle.ts`.
 */

import { type Logger, silentLogger } from "../../common/observability/logger.js";
import { isShared, type Resources } from "../../common/resources/index.js";
import type { Clock } from "../../common/time/clock.js";
import { type RandomSource, systemRandom } from "../../common/time/random.js";
import { type AgentState, VersionSource } from "./agent-state.js";
import { Bitset } from "./bitset.js";
import type { FrameworkState } from "./framework-state.js";
import { OfferFilterIndex } from "./offer-filters.js";
import {
  addInto,
  type Quantities,
  quantitiesFrom,
  ResourceNames,
  subtractInto,
} from "./quantities.js";
import { quotaQuantities, scalarQuantities } from "./resource-math.js";
import { RoleTree } from "./role-tree.js";
import { DrfSorter } from "./sorter/drf-sorter.js";
import { RandomSorter } from "./sorter/random-sorter.js";
import { type Sorter, type SorterKind, SorterPool } from "./sorter/sorter.js";
import type {
  AllocatorOptions,
  DomainInfo,
  InverseOfferAllocation,
  OfferAllocation,
} from "./types.js";

/** Mesos' default `--min_allocatable_resources`: `cpus:0.01|mem:32`. */
export const DEFAULT_MIN_ALLOCATABLE: Record<string, number>[] = [{ cpus: 0.01 }, { mem: 32 }];

/** Quantities charged for one holding: sorter share, and quota split. */
export interface ChargeQuantities {
  sorter: Quantities;
  reserved: Quantities;
  unreserved: Quantities;
}

/** Callbacks the allocator uses to hand out offers (Mesos `initialize`). */
export interface AllocatorCallbacks {
  offers?: (offers: OfferAllocation[]) => void;
  inverseOffers?: (inverseOffers: InverseOfferAllocation[]) => void;
  /** Called when an event makes an allocation worthwhile soon (the driver batches these). */
  allocationWanted?: () => void;
}

export class AllocatorCore {
  readonly names = new ResourceNames();
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly logger: Logger;
  readonly intervalMs: number;
  readonly filterGpuResources: boolean;
  readonly domain: DomainInfo | undefined;
  readonly minAllocatable: Quantities[];
  readonly roleWhitelist: ReadonlySet<string> | undefined;
  readonly recoveryTimeoutMs: number;
  readonly agentRecoveryFactor: number;
  /** Benchmark baseline: re-sort on every pick, no filter indexes or memos. */
  readonly baseline: boolean;
  private readonly frameworkSorterKind: SorterKind;
  private readonly excluded: ReadonlySet<string>;

  readonly pool = new SorterPool();
  readonly roleSorter: Sorter;
  readonly frameworkSorters = new Map<string, Sorter>();
  readonly roleTree = new RoleTree();
  readonly filters = new OfferFilterIndex();
  readonly versions = new VersionSource();

  readonly agents = new Map<string, AgentState>();
  readonly agentsByIndex: (AgentState | undefined)[] = [];
  /** Agents with a maintenance window (inverse offers). */
  readonly agentsInMaintenance = new Set<AgentState>();
  /** Offers the last completed cycle made (sizes the next cycle's array). */
  lastCycleOffers = 0;
  private readonly freeAgentIndexes: number[] = [];
  readonly frameworks = new Map<string, FrameworkState>();
  readonly frameworksByIndex: (FrameworkState | undefined)[] = [];
  /** Per role: indexes of the frameworks active in its sorter. */
  readonly activeInRole = new Map<string, Bitset>();
  private readonly freeFrameworkIndexes: number[] = [];
  private nextFrameworkIndex = 0;
  private readonly roleIndexes = new Map<string, number>();

  /** Hostnames allowed to contribute resources (`--whitelist`); all when undefined. */
  whitelist: ReadonlySet<string> | undefined;
  paused = false;
  expectedAgentCount: number | undefined;
  recoveryDeadline: number | undefined;
  /** Bumped by events that can make an agent offerable to someone again. */
  globalStamp = 0;
  /** Agents to look at in the next event-driven cycle ("all" after framework events). */
  candidates: Set<string> | "all" = new Set();
  callbacks: AllocatorCallbacks = {};

  constructor(options: AllocatorOptions) {
    this.clock = options.clock;
    this.random = options.random ?? systemRandom;
    this.logger = options.logger ?? silentLogger;
    this.intervalMs = options.allocationIntervalMs ?? 1000;
    this.filterGpuResources = options.filterGpuResources ?? true;
    this.domain = options.domain;
    this.minAllocatable = (options.minAllocatableResources ?? DEFAULT_MIN_ALLOCATABLE).map((m) =>
      quantitiesFrom(this.names, m),
    );
    this.roleWhitelist =
      options.roleWhitelist === undefined ? undefined : new Set(options.roleWhitelist);
    this.recoveryTimeoutMs = options.recoveryTimeoutMs ?? 10 * 60 * 1000;
    this.agentRecoveryFactor = options.agentRecoveryFactor ?? 0.8;
    this.baseline = options.baselineForBenchmarks === true;
    this.frameworkSorterKind = options.frameworkSorter ?? "drf";
    this.excluded = new Set(options.fairnessExcludeResourceNames ?? []);
    this.roleSorter = this.makeSorter(options.roleSorter ?? "drf");
    for (const w of options.weights ?? []) {
      this.roleTree.updateWeight(w.role, w.weight);
      this.roleSorter.updateWeight(w.role, w.weight);
    }
  }

  // ---------------------------------------------------------------------------
  // Indexes.

  roleIndex(role: string): number {
    let i = this.roleIndexes.get(role);
    if (i === undefined) {
      i = this.roleIndexes.size;
      this.roleIndexes.set(role, i);
    }
    return i;
  }

  takeAgentIndex(): number {
    return this.freeAgentIndexes.pop() ?? this.agentsByIndex.length;
  }

  releaseAgentIndex(index: number): void {
    this.agentsByIndex[index] = undefined;
    this.freeAgentIndexes.push(index);
  }

  takeFrameworkIndex(): number {
    return this.freeFrameworkIndexes.pop() ?? this.nextFrameworkIndex++;
  }

  releaseFrameworkIndex(index: number): void {
    this.freeFrameworkIndexes.push(index);
  }

  isRoleWhitelisted(role: string): boolean {
    return this.roleWhitelist === undefined || this.roleWhitelist.has(role);
  }

  isAgentWhitelisted(agent: AgentState): boolean {
    return this.whitelist === undefined || this.whitelist.has(agent.hostname);
  }

  /** True when the agent is in a region other than the master's. */
  isRemote(agent: AgentState): boolean {
    const mine = this.domain?.fault_domain?.region?.name;
    if (mine === undefined) return false;
    const region = agent.info.domain?.fault_domain?.region?.name;
    return region !== undefined && region !== mine;
  }

  // ---------------------------------------------------------------------------
  // Wanting an allocation.

  /** Asks for an allocation over `agentIds` (all agents when undefined). */
  wantAllocation(agentIds?: Iterable<string>): void {
    if (this.paused) return;
    if (agentIds === undefined) {
      this.candidates = "all";
    } else if (this.candidates !== "all") {
      for (const id of agentIds) this.candidates.add(id);
    }
    this.callbacks.allocationWanted?.();
  }

  /** Asks for an allocation over one agent (no iterable to build on the decline path). */
  wantAllocationOf(agentId: string): void {
    if (this.paused) return;
    if (this.candidates !== "all") this.candidates.add(agentId);
    this.callbacks.allocationWanted?.();
  }

  /** Takes the pending candidate agents (for the next event-driven cycle). */
  takeCandidates(): Set<string> | "all" {
    const c = this.candidates;
    this.candidates = new Set();
    return c;
  }

  // ---------------------------------------------------------------------------
  // Frameworks under roles.

  makeSorter(kind: SorterKind): Sorter {
    if (kind === "random") return new RandomSorter({ random: this.random, pool: this.pool });
    return new DrfSorter({
      names: this.names,
      excludedResourceNames: this.excluded,
      pool: this.pool,
    });
  }

  isTracked(frameworkId: string, role: string): boolean {
    return this.frameworkSorters.get(role)?.contains(frameworkId) === true;
  }

  /** Puts a framework into a role's sorter (creating the role's sorter if needed). */
  trackFrameworkUnderRole(framework: FrameworkState, role: string): void {
    let sorter = this.frameworkSorters.get(role);
    if (sorter === undefined) {
      this.roleSorter.add(role);
      this.roleSorter.activate(role);
      sorter = this.makeSorter(this.frameworkSorterKind);
      this.frameworkSorters.set(role, sorter);
    }
    this.roleTree.trackFramework(framework.id, role);
    if (!sorter.contains(framework.id)) sorter.add(framework.id, framework.index);
  }

  /**
   * Takes a framework out of a role's sorter unless it still holds resources
   * in that role. Returns true when it was taken out.
   */
  tryUntrackFrameworkUnderRole(framework: FrameworkState, role: string): boolean {
    const sorter = this.frameworkSorters.get(role);
    if (sorter === undefined || !sorter.contains(framework.id)) return true;
    if (framework.heldCount(role) > 0) return false;
    sorter.remove(framework.id);
    this.activeInRole.get(role)?.delete(framework.index);
    this.roleTree.untrackFramework(framework.id, role);
    if (sorter.count() === 0) {
      this.roleSorter.remove(role);
      this.frameworkSorters.delete(role);
      this.activeInRole.delete(role);
    }
    return true;
  }

  /** Activates the framework in a role's sorter when it should receive offers there. */
  refreshActivation(framework: FrameworkState, role: string): void {
    const sorter = this.frameworkSorters.get(role);
    if (sorter === undefined || !sorter.contains(framework.id)) return;
    const eligible =
      framework.active &&
      framework.roles.has(role) &&
      !framework.suppressed.has(role) &&
      this.isRoleWhitelisted(role);
    let bits = this.activeInRole.get(role);
    if (eligible) {
      sorter.activate(framework.id);
      if (bits === undefined) {
        bits = new Bitset();
        this.activeInRole.set(role, bits);
      }
      bits.add(framework.index);
    } else {
      sorter.deactivate(framework.id);
      bits?.delete(framework.index);
    }
  }

  // ---------------------------------------------------------------------------
  // Charging offered or allocated resources.

  /**
   * Sorter quantities of `resources` for a framework on an agent: scalars,
   * counting a shared resource only when the framework does not hold a copy
   * (`held`, its holding in that role on that agent, before adding or after
   * removing).
   */
  sorterQuantities(resources: Resources, held: Resources | undefined): Quantities {
    let counted = resources;
    if (held !== undefined && resources.shared().size > 0) {
      counted = resources.filter((r) => !isShared(r) || !held.contains(r));
    }
    return scalarQuantities(this.names, counted);
  }

  /**
   * Charges `allocated` (one role, with allocation info; `plain` without) to
   * a framework on an agent: agent, role tree and both sorters. Quantities
   * may be passed when already known.
   */
  charge(
    agent: AgentState,
    framework: FrameworkState,
    role: string,
    allocated: Resources,
    plain: Resources,
    known?: ChargeQuantities,
  ): void {
    let sorter = this.frameworkSorters.get(role);
    if (sorter === undefined || !sorter.contains(framework.id, framework.index)) {
      this.trackFrameworkUnderRole(framework, role);
      this.refreshActivation(framework, role);
      sorter = this.frameworkSorters.get(role);
    }
    const q = known ?? this.chargeQuantities(plain, agent.heldBy(framework.id, role));
    const record = agent.decreaseAvailable(framework.id, role, allocated, plain);
    if (record === undefined) return;
    record.sorterQuantities = q.sorter;
    record.chargedReserved = q.reserved;
    record.chargedUnreserved = q.unreserved;
    if (record.offerFresh) framework.countHeld(role, +1);
    this.roleTree.trackOfferedOrAllocated(role, q.reserved, q.unreserved);
    this.roleSorter.allocated(role, q.sorter);
    sorter?.allocated(framework.id, q.sorter, framework.index);
  }

  /** Quantities to charge for `plain` given what the framework holds there (`held`). */
  chargeQuantities(plain: Resources, held: Resources | undefined): ChargeQuantities {
    const split = quotaQuantities(this.names, plain);
    return {
      sorter: this.sorterQuantities(plain, held),
      reserved: split.reserved,
      unreserved: split.unreservedNonRevocable,
    };
  }

  /**
   * Releases `allocated` (one role) held by a framework on an agent.
   * Returns false when the framework did not hold it.
   */
  discharge(
    agent: AgentState,
    framework: FrameworkState,
    role: string,
    allocated: Resources,
    plain: Resources,
  ): boolean {
    const record = agent.offerRecord(framework.id, allocated);
    const result = agent.increaseAvailable(framework.id, role, allocated, plain);
    if (result === "missing") return false;
    if (result === "emptied") framework.countHeld(role, -1);
    // The quantities charged for the offer, when it comes back as made (no object per decline).
    let sorterQ: Quantities;
    let reservedQ: Quantities;
    let unreservedQ: Quantities;
    if (
      record !== undefined &&
      record.offerRole === role &&
      record.sorterQuantities !== undefined &&
      record.chargedReserved !== undefined &&
      record.chargedUnreserved !== undefined
    ) {
      sorterQ = record.sorterQuantities;
      reservedQ = record.chargedReserved;
      unreservedQ = record.chargedUnreserved;
    } else {
      const q = this.chargeQuantities(plain, agent.heldBy(framework.id, role));
      sorterQ = q.sorter;
      reservedQ = q.reserved;
      unreservedQ = q.unreserved;
    }
    this.roleTree.untrackOfferedOrAllocated(role, reservedQ, unreservedQ);
    if (this.roleSorter.contains(role)) this.roleSorter.unallocated(role, sorterQ);
    const sorter = this.frameworkSorters.get(role);
    if (sorter?.contains(framework.id, framework.index)) {
      sorter.unallocated(framework.id, sorterQ, framework.index);
    }
    if (!framework.roles.has(role)) this.tryUntrackFrameworkUnderRole(framework, role);
    return true;
  }

  /**
   * Marks resources in use by tasks (quota consumption); `addToAgent` false
   * when the agent already counts them in `totalAllocated`.
   */
  trackInUse(agent: AgentState, allocated: Resources, addToAgent = true): void {
    if (addToAgent) agent.totalAllocated.add(allocated);
    for (const [role, group] of allocated.allocations()) {
      const q = quotaQuantities(this.names, group).unreservedNonRevocable;
      this.roleTree.trackAllocated(role, q);
      const prior = agent.inUse.get(role);
      if (prior === undefined) agent.inUse.set(role, q.slice());
      else addInto(prior, q);
    }
  }

  untrackInUse(agent: AgentState, allocated: Resources): void {
    agent.totalAllocated.subtract(allocated);
    for (const [role, group] of allocated.allocations()) {
      const prior = agent.inUse.get(role);
      if (prior === undefined) continue;
      const q = quotaQuantities(this.names, group).unreservedNonRevocable;
      this.roleTree.untrackAllocated(role, q);
      subtractInto(prior, q);
    }
  }

  /** `allocated` without allocation info. */
  plainOf(allocated: Resources): Resources {
    return allocated.unallocated();
  }

  /** Stops allocation (cycles return nothing, events ask for none) until `resume`. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  /** Monotonic now, for filter expiry. */
  now(): number {
    return this.clock.monotonic();
  }

  // ---------------------------------------------------------------------------
  // Totals and holdings the agent already counts.

  /** Replaces an agent's total, keeping reservations and the sorter pool in step. */
  updateAgentTotal(agent: AgentState, total: Resources): boolean {
    const oldReservations = agent.totalReservations;
    const oldScalars = agent.totalScalars;
    if (!agent.setTotal(total)) return false;
    this.roleTree.untrackReservations(oldReservations);
    this.roleTree.trackReservations(agent.totalReservations);
    if (!sameQuantities(oldScalars, agent.totalScalars)) {
      this.pool.removeAgent(agent.id);
      this.pool.addAgent(agent.id, agent.totalScalars);
    }
    return true;
  }

  /** Charges resources the agent already counts to roles and sorters. */
  chargeKnown(fw: FrameworkState, role: string, group: Resources): void {
    if (!this.isTracked(fw.id, role)) {
      this.trackFrameworkUnderRole(fw, role);
      this.refreshActivation(fw, role);
    }
    const plain = this.plainOf(group);
    const q = scalarQuantities(this.names, plain);
    const split = this.quotaSplit(plain);
    this.roleTree.trackOfferedOrAllocated(role, split.reserved, split.unreservedNonRevocable);
    this.roleSorter.allocated(role, q);
    this.frameworkSorters.get(role)?.allocated(fw.id, q);
    fw.countHeld(role, +1);
  }

  /** Takes resources of a removed agent out of roles and sorters. */
  unchargeKnown(fw: FrameworkState, role: string, held: Resources): void {
    const plain = this.plainOf(held);
    const q = scalarQuantities(this.names, plain);
    const split = this.quotaSplit(plain);
    this.roleTree.untrackOfferedOrAllocated(role, split.reserved, split.unreservedNonRevocable);
    if (this.roleSorter.contains(role)) this.roleSorter.unallocated(role, q);
    const sorter = this.frameworkSorters.get(role);
    if (sorter?.contains(fw.id)) sorter.unallocated(fw.id, q);
    fw.countHeld(role, -1);
    if (!fw.roles.has(role)) this.tryUntrackFrameworkUnderRole(fw, role);
  }

  quotaSplit(plain: Resources): {
    reserved: Quantities;
    unreservedNonRevocable: Quantities;
  } {
    const reserved = scalarQuantities(this.names, plain.reserved());
    const unreservedNonRevocable = scalarQuantities(this.names, plain.unreserved().nonRevocable());
    return { reserved, unreservedNonRevocable };
  }
}

function sameQuantities(a: readonly number[], b: readonly number[]): boolean {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return false;
  return true;
}
