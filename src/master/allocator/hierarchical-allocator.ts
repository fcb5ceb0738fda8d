/**
 * The hierarchical DRF allocator: Mesos' allocator interface as a pure,
 * synchronous object. The master tells it what happens (frameworks, agents,
 * offers declined or used, quota, weights...) and asks it to allocate; it
 * answers with the offers to make. It has no timers and no I/O: time comes
 * from the injected clock, and `AllocatorDriver` (driver.ts) runs cycles on
 * the allocation interval and soon after events that free resources.
 *
 * Bad calls from the master (unknown agent or framework ids, resources a
 * framework does not hold) are logged and ignored rather than thrown, so a
 * race between master and allocator never takes the master down.
 */

import type { Resources } from "../../common/resources/index.js";
import type { AgentState } from "./agent-state.js";
import { AllocationCycle, emptyStats } from "./allocation-cycle.js";
import type { AllocatorCallbacks } from "./allocator-core.js";
import { AllocatorEvents } from "./allocator-events.js";
import { explainFramework } from "./explain.js";
import type { FrameworkState } from "./framework-state.js";
import { quantitiesToRecord } from "./quantities.js";
import { applyConversions, limitsFromScalarMap, quantitiesFromScalarMap } from "./resource-math.js";
import type { RoleNode } from "./role-tree.js";
import type {
  CycleResult,
  Explanation,
  Filters,
  InverseOfferStatus,
  OfferAllocation,
  QuotaInfo,
  ResourceConversion,
  Unavailability,
  WeightInfo,
} from "./types.js";

/** What the allocator accounts to one role (amounts in whole units). */
export interface RoleAccounting {
  role: string;
  weight: number;
  /** Frameworks subscribed to the role or holding resources in it. */
  frameworks: string[];
  guarantees: Record<string, number>;
  limits: Record<string, number>;
  /** Offered or allocated to the role and its sub-roles. */
  offeredOrAllocated: Record<string, number>;
  /** Reserved to the role and its sub-roles, on all agents. */
  reserved: Record<string, number>;
  /** Quota consumption: allocated (in use) unreserved resources plus reservations. */
  quotaConsumed: Record<string, number>;
}

/** Mesos' default `Filters.refuse_seconds`. */
export const DEFAULT_REFUSE_SECONDS = 5;
const MAX_REFUSE_MS = 365 * 24 * 3600 * 1000;

/** A refuse duration in ms as Mesos bounds it: default 5 s, at most 365 days. */
export function refuseMs(filters: Filters): number {
  const s = filters.refuse_seconds ?? DEFAULT_REFUSE_SECONDS;
  if (!Number.isFinite(s) || s < 0) {
    return Number.isNaN(s) || s < 0 ? DEFAULT_REFUSE_SECONDS * 1000 : MAX_REFUSE_MS;
  }
  return Math.min(s * 1000, MAX_REFUSE_MS);
}

/** Options for a cycle run in slices. */
export interface SlicedRunOptions {
  /** Agents to look at (all by default). */
  agentIds?: Iterable<string>;
  /** Longest synchronous stretch, ms (default 10). */
  sliceMs?: number;
  /** Lets the event loop run between slices. */
  yieldToEventLoop: () => Promise<void>;
  /** Receives each slice's offers as soon as they are made. */
  onOffers?: (offers: OfferAllocation[]) => void;
}

/** One framework in `/allocator/offer_constraints_debug`. */
export interface OfferConstraintsDebugEntry {
  suppressed_roles: string[];
  /** Per role, the ids of the agents its offer constraints exclude. */
  excluded_by_attribute_constraints: Record<string, string[]>;
}

export class HierarchicalAllocator extends AllocatorEvents {
  private cycleRunning = false;

  /** Sets the offer callbacks (Mesos `initialize`); optional when using `allocate`'s result. */
  initialize(callbacks: AllocatorCallbacks): void {
    this.callbacks = callbacks;
  }

  /**
   * After a master failover: installs recovered quotas and, when there are
   * any, pauses allocation until `factor` of the expected agents are back or
   * the recovery timeout passes (so quota is not granted on a partial view).
   */
  recover(expectedAgentCount: number, quotas: ReadonlyMap<string, QuotaInfo>): void {
    if (quotas.size === 0) return;
    for (const [role, quota] of quotas) this.updateQuota(role, quota);
    const expected = Math.floor(expectedAgentCount * this.agentRecoveryFactor);
    if (expected === 0) return;
    this.expectedAgentCount = expected;
    this.recoveryDeadline = this.now() + this.recoveryTimeoutMs;
    this.pause();
    this.logger.info(
      `Triggered allocator recovery: waiting for ${expected} agents to reconnect or ${this.recoveryTimeoutMs}ms to pass`,
    );
  }

  // ---------------------------------------------------------------------------
  // Resources changing hands.

  /**
   * Applies operations (RESERVE, CREATE, ...) to resources a framework was
   * offered (one role): its holding and the agent's total change accordingly.
   */
  updateAllocation(
    frameworkId: string,
    agentId: string,
    offered: Resources,
    conversions: readonly ResourceConversion[],
  ): { ok: true } | { ok: false; error: string } {
    const agent = this.agents.get(agentId);
    const fw = this.frameworks.get(frameworkId);
    if (agent === undefined || fw === undefined)
      return { ok: false, error: "unknown agent or framework" };
    const roles = [...offered.allocations().keys()];
    if (roles.length !== 1) return { ok: false, error: "resources must be allocated to one role" };
    const role = roles[0] as string;
    const updated = applyConversions(offered, conversions);
    if (!updated.ok) return updated;
    if (!this.discharge(agent, fw, role, offered, this.plainOf(offered))) {
      return { ok: false, error: `framework ${frameworkId} does not hold ${offered.toString()}` };
    }
    const next = updated.value;
    this.charge(agent, fw, role, next, next.unallocated());
    const stripped: ResourceConversion[] = [];
    for (const c of conversions) {
      if (c.consumed.isEmpty()) continue; // extra copies of shared resources
      stripped.push({ consumed: c.consumed.unallocated(), converted: c.converted.unallocated() });
    }
    const total = applyConversions(agent.total, stripped);
    if (total.ok) this.updateAgentTotal(agent, total.value);
    return { ok: true };
  }

  /** Applies operations to an agent's unoffered resources (operator RESERVE, ...). */
  updateAvailable(
    agentId: string,
    conversions: readonly ResourceConversion[],
  ): { ok: true } | { ok: false; error: string } {
    const agent = this.agents.get(agentId);
    if (agent === undefined) return { ok: false, error: `unknown agent ${agentId}` };
    const available = applyConversions(agent.available, conversions);
    if (!available.ok) return available;
    const total = applyConversions(agent.total, conversions);
    if (!total.ok) return total;
    this.updateAgentTotal(agent, total.value);
    return { ok: true };
  }

  /** Sets or clears an agent's next maintenance window. */
  updateUnavailability(agentId: string, unavailability: Unavailability | undefined): void {
    const agent = this.agents.get(agentId);
    if (agent === undefined) return;
    agent.inverseFilters.clear();
    agent.maintenance =
      unavailability === undefined
        ? undefined
        : { unavailability, outstanding: new Set(), statuses: new Map() };
    if (agent.maintenance === undefined) this.agentsInMaintenance.delete(agent);
    else this.agentsInMaintenance.add(agent);
    this.wantAllocation([agentId]);
  }

  /** A framework answered (or ignored) an inverse offer. */
  updateInverseOffer(
    agentId: string,
    frameworkId: string,
    status: InverseOfferStatus | undefined,
    filters?: Filters,
  ): void {
    const agent = this.agents.get(agentId);
    const maintenance = agent?.maintenance;
    if (agent === undefined || maintenance === undefined) return;
    if (maintenance.outstanding.delete(frameworkId) && status !== undefined) {
      maintenance.statuses.set(frameworkId, status);
    }
    if (filters === undefined) return;
    const ms = refuseMs(filters);
    if (ms > 0) agent.inverseFilters.set(frameworkId, this.now() + ms);
  }

  /** Latest inverse-offer answers per agent (agents with maintenance only). */
  getInverseOfferStatuses(): Map<string, Map<string, InverseOfferStatus>> {
    const out = new Map<string, Map<string, InverseOfferStatus>>();
    for (const agent of this.agents.values()) {
      if (agent.maintenance !== undefined) out.set(agent.id, new Map(agent.maintenance.statuses));
    }
    return out;
  }

  /** Offered resources are now used by tasks (counts towards quota consumption). */
  transitionOfferedToAllocated(agentId: string, resources: Resources): void {
    const agent = this.agents.get(agentId);
    if (agent !== undefined) this.trackInUse(agent, resources);
  }

  /**
   * Resources come back: a declined or rescinded offer, the unused part of an
   * ACCEPT, or (with `isAllocated`) a finished task. With `filters`, the
   * framework will not be offered these resources (or less) on this agent for
   * that role until `refuse_seconds` (at least one allocation interval) pass.
   */
  recoverResources(
    frameworkId: string,
    agentId: string,
    resources: Resources,
    filters?: Filters,
    isAllocated = false,
  ): void {
    if (resources.isEmpty()) return;
    const agent = this.agents.get(agentId);
    if (isAllocated && agent?.totalAllocated.contains(resources)) {
      this.untrackInUse(agent, resources);
    }
    const fw = this.frameworks.get(frameworkId);
    if (fw === undefined || agent === undefined) return;
    // The common case, a decline of an offer as made, needs no regrouping.
    const record = agent.offerRecord(frameworkId, resources);
    if (record !== undefined) {
      this.recoverGroup(
        agent,
        fw,
        record.offerRole,
        resources,
        record.offeredPlain as Resources,
        filters,
      );
    } else {
      const groups = [...resources.allocations()];
      for (const [role, group] of groups) {
        const allocated = groups.length === 1 ? resources : group;
        this.recoverGroup(agent, fw, role, allocated, allocated.unallocated(), filters);
      }
    }
    this.wantAllocationOf(agentId);
  }

  /** Recovers what a framework held for one role, installing the refuse filter. */
  private recoverGroup(
    agent: AgentState,
    fw: FrameworkState,
    role: string,
    allocated: Resources,
    plain: Resources,
    filters: Filters | undefined,
  ): void {
    if (!this.discharge(agent, fw, role, allocated, plain)) {
      this.logger.warn(
        `Ignoring recovery of ${allocated.toString()} on agent ${agent.id}: framework ${fw.id} does not hold it`,
      );
      return;
    }
    if (filters === undefined) return;
    const ms = refuseMs(filters);
    if (ms === 0) return;
    // Never expire before the next batch allocation could see the filter.
    const expiresAt = this.now() + Math.max(this.intervalMs, ms);
    if (fw.active && fw.roles.has(role) && !fw.suppressed.has(role)) {
      this.filters.add(agent.filters, this.roleIndex(role), fw.index, plain, expiresAt);
    }
  }

  // ---------------------------------------------------------------------------
  // Quota and weights.

  /** Sets a role's quota; an empty quota removes it. */
  updateQuota(role: string, quota: QuotaInfo): void {
    this.roleTree.updateQuota(
      role,
      quantitiesFromScalarMap(this.names, quota.guarantees),
      limitsFromScalarMap(this.names, quota.limits),
    );
    this.globalStamp++;
    this.logger.info(`Updated quota for role '${role}'`);
  }

  /** Role weights; roles not listed keep theirs. */
  updateWeights(weights: readonly WeightInfo[]): void {
    for (const w of weights) {
      this.roleTree.updateWeight(w.role, w.weight);
      this.roleSorter.updateWeight(w.role, w.weight);
    }
  }

  // ---------------------------------------------------------------------------
  // Allocation.

  /**
   * Runs one allocation cycle over `agentIds` (all agents by default) to
   * completion and returns the offers (also passed to the callbacks).
   */
  allocate(agentIds?: Iterable<string>): CycleResult {
    const cycle = this.startCycle(agentIds);
    if (cycle === undefined) return this.pausedResult();
    try {
      cycle.runAll();
    } finally {
      this.cycleRunning = false;
    }
    this.deliver(cycle.offers, cycle);
    return { offers: cycle.offers, inverseOffers: cycle.inverseOffers, stats: cycle.stats };
  }

  /**
   * Runs one cycle in slices of at most `sliceMs`, yielding to the event
   * loop between them; offers of each slice go out right away (`onOffers`,
   * else the `offers` callback). Other events may be handled between slices.
   */
  async allocateInSlices(options: SlicedRunOptions): Promise<CycleResult> {
    const cycle = this.startCycle(options.agentIds);
    if (cycle === undefined) return this.pausedResult();
    const all: OfferAllocation[] = [];
    try {
      while (!cycle.done) {
        const offers = cycle.runSlice(options.sliceMs ?? 10);
        for (const o of offers) all.push(o);
        if (offers.length > 0) (options.onOffers ?? this.callbacks.offers)?.(offers);
        if (!cycle.done) await options.yieldToEventLoop();
      }
    } finally {
      this.cycleRunning = false;
    }
    if (cycle.inverseOffers.length > 0) this.callbacks.inverseOffers?.(cycle.inverseOffers);
    return { offers: all, inverseOffers: cycle.inverseOffers, stats: cycle.stats };
  }

  /** Why a framework does or does not get offers (computed now, over all agents). */
  explain(frameworkId: string): Explanation {
    return explainFramework(this, frameworkId);
  }

  /**
   * `/allocator/offer_constraints_debug`: per framework (those `visible`
   * lets through), its suppressed roles and, per role, the agents its offer
   * constraints exclude.
   */
  offerConstraintsDebug(visible: (frameworkId: string) => boolean = () => true): {
    frameworks: Record<string, OfferConstraintsDebugEntry>;
  } {
    const frameworks: Record<string, OfferConstraintsDebugEntry> = {};
    for (const fw of this.frameworks.values()) {
      if (!visible(fw.id)) continue;
      const excluded: Record<string, string[]> = {};
      for (const role of fw.roles) {
        const ids: string[] = [];
        const constraints = fw.constraints;
        if (constraints !== undefined) {
          for (const agent of this.agents.values()) {
            if (constraints.isAgentExcluded(role, agent.info)) ids.push(agent.id);
          }
        }
        excluded[role] = ids;
      }
      frameworks[fw.id] = {
        suppressed_roles: [...fw.suppressed],
        excluded_by_attribute_constraints: excluded,
      };
    }
    return { frameworks };
  }

  /** Number of offer filters in force (for a role, when given). */
  offerFilterCount(role?: string): number {
    return role === undefined ? this.filters.size : this.filters.countForRole(this.roleIndex(role));
  }

  /** Per-role accounting of every known role, for `/roles` and metrics. */
  roleSummary(): RoleAccounting[] {
    const out: RoleAccounting[] = [];
    for (const node of this.roleTree.all()) out.push(this.accounting(node));
    return out;
  }

  /** Roles the allocator tracks (with frameworks, reservations, quota or a weight). */
  roleNames(): string[] {
    return [...this.roleTree.all()].map((node) => node.role);
  }

  /** Changes whenever a role appears or goes or a quota changes (cheap to poll). */
  get roleChanges(): number {
    return this.roleTree.changes;
  }

  /** Accounting of one role (undefined when the allocator does not track it). */
  roleAccounting(role: string): RoleAccounting | undefined {
    const node = this.roleTree.get(role);
    return node === undefined ? undefined : this.accounting(node);
  }

  /**
   * The role's dominant share as the role sorter sees it (divided by its
   * weight), for `allocator/mesos/roles/<role>/shares/dominant`; 0 when the
   * role has no frameworks.
   */
  dominantShare(role: string): number {
    return this.roleSorter.contains(role) ? this.roleSorter.share(role) : 0;
  }

  private accounting(node: RoleNode): RoleAccounting {
    const limits: Record<string, number> = {};
    for (const [i, v] of node.limits) limits[this.names.name(i)] = v / 1000;
    const offered = node.offeredOrAllocatedUnreserved.slice();
    for (let i = 0; i < node.offeredOrAllocatedReserved.length; i++) {
      offered[i] = (offered[i] ?? 0) + (node.offeredOrAllocatedReserved[i] ?? 0);
    }
    return {
      role: node.role,
      weight: node.weight,
      frameworks: [...node.frameworks],
      guarantees: quantitiesToRecord(this.names, node.guarantees),
      limits,
      offeredOrAllocated: quantitiesToRecord(this.names, offered),
      reserved: quantitiesToRecord(this.names, node.reserved),
      quotaConsumed: quantitiesToRecord(this.names, node.quotaConsumed()),
    };
  }

  private startCycle(agentIds: Iterable<string> | undefined): AllocationCycle | undefined {
    if (this.cycleRunning) throw new Error("allocator: a cycle is already running");
    const now = this.now();
    if (this.paused && this.recoveryDeadline !== undefined && now >= this.recoveryDeadline) {
      this.logger.info("Allocator recovery timed out; resuming allocation");
      this.expectedAgentCount = undefined;
      this.recoveryDeadline = undefined;
      this.resume();
    }
    if (this.paused) return undefined;
    this.filters.expire(now, (i) => this.agentsByIndex[i]?.filters);
    this.cycleRunning = true;
    return new AllocationCycle(this, agentIds ?? "all");
  }

  private pausedResult(): CycleResult {
    const stats = emptyStats(0);
    stats.skipped.ALLOCATION_PAUSED = 1;
    return { offers: [], inverseOffers: [], stats };
  }

  private deliver(offers: OfferAllocation[], cycle: AllocationCycle): void {
    if (offers.length > 0) this.callbacks.offers?.(offers);
    if (cycle.inverseOffers.length > 0) this.callbacks.inverseOffers?.(cycle.inverseOffers);
  }
}
