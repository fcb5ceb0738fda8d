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
import { AgentState, agentCapabilities } from "./agent-state.js";
import { AllocationCycle, emptyStats } from "./allocation-cycle.js";
import { type AllocatorCallbacks, AllocatorCore } from "./allocator-core.js";
import { explainFramework } from "./explain.js";
import { FrameworkState } from "./framework-state.js";
import { type Quantities, quantitiesToRecord } from "./quantities.js";
import {
  applyConversions,
  limitsFromScalarMap,
  quantitiesFromScalarMap,
  scalarQuantities,
} from "./resource-math.js";
import type { RoleNode } from "./role-tree.js";
import type {
  AgentInfo,
  CapabilityInfo,
  CycleResult,
  Explanation,
  Filters,
  FrameworkInfo,
  FrameworkOptions,
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

export class HierarchicalAllocator extends AllocatorCore {
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
  // Frameworks.

  /**
   * Adds a framework. `used` maps agent ids to resources (with allocation
   * info) it already runs tasks with; agents must already know them.
   */
  addFramework(
    frameworkId: string,
    info: FrameworkInfo,
    used: ReadonlyMap<string, Resources> = new Map(),
    active = true,
    options: FrameworkOptions = {},
  ): void {
    if (this.frameworks.has(frameworkId)) {
      this.logger.warn(`Ignoring addFramework for known framework ${frameworkId}`);
      return;
    }
    const fw = new FrameworkState(frameworkId, this.takeFrameworkIndex(), info, active, this.names);
    for (const role of options.suppressedRoles ?? []) fw.suppressed.add(role);
    this.frameworks.set(frameworkId, fw);
    this.frameworksByIndex[fw.index] = fw;
    for (const role of fw.roles) {
      this.trackFrameworkUnderRole(fw, role);
      this.refreshActivation(fw, role);
    }
    for (const [agentId, resources] of used) {
      const agent = this.agents.get(agentId);
      if (agent === undefined) continue;
      // The agent already counts these; charge roles and sorters only.
      for (const [role, group] of resources.allocations()) {
        this.chargeKnown(fw, role, group);
      }
      this.trackInUse(agent, resources, false);
    }
    this.logger.info(`Added framework ${frameworkId}`);
    this.globalStamp++;
    if (active) this.wantAllocation();
  }

  removeFramework(frameworkId: string): void {
    const fw = this.frameworks.get(frameworkId);
    if (fw === undefined) return;
    for (const agent of this.agents.values()) {
      const holding = agent.allocations.get(frameworkId);
      if (holding !== undefined) {
        for (const [role, held] of holding.entries()) {
          this.discharge(agent, fw, role, held, this.plainOf(held));
        }
      }
      agent.inverseFilters.delete(frameworkId);
      agent.maintenance?.outstanding.delete(frameworkId);
    }
    this.filters.removeFramework(fw.index);
    fw.roles = new Set();
    for (const role of [...this.frameworkSorters.keys()]) {
      if (this.isTracked(frameworkId, role)) this.tryUntrackFrameworkUnderRole(fw, role);
    }
    this.frameworks.delete(frameworkId);
    this.frameworksByIndex[fw.index] = undefined;
    this.releaseFrameworkIndex(fw.index);
    this.logger.info(`Removed framework ${frameworkId}`);
  }

  activateFramework(frameworkId: string): void {
    const fw = this.frameworks.get(frameworkId);
    if (fw === undefined) return;
    fw.active = true;
    for (const role of fw.roles) this.refreshActivation(fw, role);
    this.globalStamp++;
    this.logger.info(`Activated framework ${frameworkId}`);
    this.wantAllocation();
  }

  /** Stops offers to a framework; its offer filters are dropped (as Mesos does). */
  deactivateFramework(frameworkId: string): void {
    const fw = this.frameworks.get(frameworkId);
    if (fw === undefined) return;
    fw.active = false;
    for (const role of fw.roles) this.refreshActivation(fw, role);
    this.filters.removeFramework(fw.index);
    for (const agent of this.agents.values()) agent.inverseFilters.delete(frameworkId);
    this.logger.info(`Deactivated framework ${frameworkId}`);
  }

  /** New FrameworkInfo (roles, capabilities, offer filters) and suppressed roles. */
  updateFramework(frameworkId: string, info: FrameworkInfo, options: FrameworkOptions = {}): void {
    const fw = this.frameworks.get(frameworkId);
    if (fw === undefined) return;
    const oldRoles = fw.roles;
    const oldSuppressed = new Set(fw.suppressed);
    fw.update(info, this.names);
    for (const role of fw.roles) {
      if (!oldRoles.has(role)) this.trackFrameworkUnderRole(fw, role);
    }
    for (const role of oldRoles) {
      if (fw.roles.has(role)) continue;
      this.refreshActivation(fw, role);
      this.tryUntrackFrameworkUnderRole(fw, role);
      this.filters.removeFramework(fw.index, this.roleIndex(role));
      fw.suppressed.delete(role);
    }
    const wanted = new Set(options.suppressedRoles ?? []);
    const toSuppress = [...wanted].filter((r) => !oldSuppressed.has(r));
    const toRevive = [...oldSuppressed].filter((r) => !wanted.has(r) && fw.roles.has(r));
    this.suppressRoles(fw, toSuppress);
    this.reviveRoles(fw, toRevive);
    for (const role of fw.roles) this.refreshActivation(fw, role);
    this.globalStamp++;
    this.wantAllocation();
  }

  /** Stops offers for `roles` of a framework (all its roles when empty). */
  suppressOffers(frameworkId: string, roles: Iterable<string> = []): void {
    const fw = this.frameworks.get(frameworkId);
    if (fw === undefined) return;
    const list = [...roles];
    this.suppressRoles(fw, list.length === 0 ? [...fw.roles] : list);
  }

  /** Clears a framework's filters for `roles` (all when empty) and unsuppresses them. */
  reviveOffers(frameworkId: string, roles: Iterable<string> = []): void {
    const fw = this.frameworks.get(frameworkId);
    if (fw === undefined) return;
    const list = [...roles];
    this.reviveRoles(fw, list.length === 0 ? [...fw.roles] : list);
    this.wantAllocation();
  }

  private suppressRoles(fw: FrameworkState, roles: string[]): void {
    for (const role of roles) {
      fw.suppressed.add(role);
      this.refreshActivation(fw, role);
      // A suppressed role only comes back through a revive, which clears its
      // filters anyway; dropping them now keeps filters to active pairs.
      this.filters.removeFramework(fw.index, this.roleIndex(role));
    }
    if (roles.length > 0) {
      this.logger.info(`Suppressed offers for roles ${roles.join(", ")} of framework ${fw.id}`);
    }
  }

  private reviveRoles(fw: FrameworkState, roles: string[]): void {
    for (const agent of this.agents.values()) agent.inverseFilters.delete(fw.id);
    for (const role of roles) {
      this.filters.removeFramework(fw.index, this.roleIndex(role));
      fw.suppressed.delete(role);
      this.refreshActivation(fw, role);
    }
    this.globalStamp++;
    if (roles.length > 0) {
      this.logger.info(
        `Unsuppressed offers and cleared filters for roles ${roles.join(", ")} of framework ${fw.id}`,
      );
    }
  }

  // ---------------------------------------------------------------------------
  // Agents.

  /**
   * Adds an agent. `total` includes checkpointed reservations and volumes;
   * `used` maps framework ids to resources (with allocation info) in use.
   */
  addAgent(
    agentId: string,
    info: AgentInfo,
    capabilities: readonly CapabilityInfo[],
    unavailability: Unavailability | undefined,
    total: Resources,
    used: ReadonlyMap<string, Resources> = new Map(),
  ): void {
    if (this.agents.has(agentId)) {
      this.logger.warn(`Ignoring addAgent for known agent ${agentId}`);
      return;
    }
    const index = this.takeAgentIndex();
    const agent = new AgentState(
      agentId,
      index,
      info,
      agentCapabilities(capabilities),
      total,
      this.names,
      this.versions,
    );
    this.agents.set(agentId, agent);
    this.agentsByIndex[index] = agent;
    if (unavailability !== undefined) {
      agent.maintenance = { unavailability, outstanding: new Set(), statuses: new Map() };
      this.agentsInMaintenance.add(agent);
    }
    this.roleTree.trackReservations(agent.totalReservations);
    this.pool.addAgent(agentId, agent.totalScalars);
    for (const [frameworkId, resources] of used) {
      const fw = this.frameworks.get(frameworkId);
      for (const [role, group] of resources.allocations()) {
        const plain = this.plainOf(group);
        if (fw === undefined) {
          // Not known yet: the agent counts it; roles and sorters follow in addFramework.
          agent.decreaseAvailable(frameworkId, role, group, plain);
        } else {
          this.charge(agent, fw, role, group, plain);
        }
      }
      agent.totalAllocated.add(resources);
      if (fw !== undefined) this.trackInUse(agent, resources, false);
    }
    if (this.paused && this.expectedAgentCount !== undefined) {
      if (this.agents.size >= this.expectedAgentCount) {
        this.logger.info(`Recovery complete: ${this.agents.size} agents known to the allocator`);
        this.expectedAgentCount = undefined;
        this.recoveryDeadline = undefined;
        this.resume();
      }
    }
    this.logger.info(`Added agent ${agentId} (${agent.hostname}) with ${total.toString()}`);
    this.wantAllocation([agentId]);
  }

  removeAgent(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (agent === undefined) return;
    for (const [role, q] of agent.inUse) this.roleTree.untrackAllocated(role, q);
    for (const [frameworkId, holding] of agent.allocations) {
      const fw = this.frameworks.get(frameworkId);
      if (fw === undefined) continue;
      for (const [role, held] of holding.entries()) this.unchargeKnown(fw, role, held);
    }
    this.roleTree.untrackReservations(agent.totalReservations);
    this.pool.removeAgent(agentId);
    this.filters.clearAgent(agent.filters);
    this.agents.delete(agentId);
    this.agentsInMaintenance.delete(agent);
    agent.removed = true;
    this.releaseAgentIndex(agent.index);
    if (this.candidates !== "all") this.candidates.delete(agentId);
    this.logger.info(`Removed agent ${agentId}`);
  }

  /** New agent info, and optionally new total resources and capabilities. */
  updateAgent(
    agentId: string,
    info: AgentInfo,
    total?: Resources,
    capabilities?: readonly CapabilityInfo[],
  ): void {
    const agent = this.agents.get(agentId);
    if (agent === undefined) return;
    let updated = false;
    if (JSON.stringify(info.attributes ?? []) !== JSON.stringify(agent.info.attributes ?? [])) {
      // Frameworks may have declined because of the old attributes.
      this.filters.clearAgent(agent.filters);
      updated = true;
    }
    if (JSON.stringify(info) !== JSON.stringify(agent.info)) {
      agent.info = info;
      updated = true;
    }
    if (capabilities !== undefined) {
      const caps = agentCapabilities(capabilities);
      if (JSON.stringify(caps) !== JSON.stringify(agent.caps)) {
        agent.caps = caps;
        updated = true;
      }
    }
    if (total !== undefined && this.updateAgentTotal(agent, total)) updated = true;
    if (updated) {
      agent.memoVersion = -1;
      this.wantAllocation([agentId]);
    }
  }

  /** Adds a local resource provider's resources (and their use) to an agent. */
  addResourceProvider(
    agentId: string,
    total: Resources,
    used: ReadonlyMap<string, Resources> = new Map(),
  ): void {
    const agent = this.agents.get(agentId);
    if (agent === undefined) return;
    this.updateAgentTotal(agent, agent.total.plus(total));
    for (const [frameworkId, resources] of used) {
      const fw = this.frameworks.get(frameworkId);
      if (fw === undefined) continue;
      for (const [role, group] of resources.allocations()) {
        this.charge(agent, fw, role, group, this.plainOf(group));
      }
    }
  }

  activateAgent(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (agent === undefined) return;
    agent.activated = true;
    this.logger.info(`Agent ${agentId} reactivated`);
    this.wantAllocation([agentId]);
  }

  /** Stops offers from an agent (its outstanding offers are the master's to rescind). */
  deactivateAgent(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (agent === undefined) return;
    agent.activated = false;
    this.logger.info(`Agent ${agentId} deactivated`);
  }

  /** Hostnames allowed to contribute resources; undefined allows all. */
  updateWhitelist(hostnames: Iterable<string> | undefined): void {
    this.whitelist = hostnames === undefined ? undefined : new Set(hostnames);
    if (this.whitelist === undefined) this.logger.info("Advertising offers for all agents");
    else if (this.whitelist.size === 0)
      this.logger.warn("Whitelist is empty, no offers will be made!");
    else this.logger.info(`Updated agent whitelist: ${[...this.whitelist].join(", ")}`);
  }

  /** Accepted and ignored, as in Mesos. */
  requestResources(frameworkId: string, _requests: readonly unknown[]): void {
    this.logger.info(`Received resource request from framework ${frameworkId}`);
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
    const groups: [string, Resources, Resources][] =
      record !== undefined
        ? [[record.role, resources, record.plain]]
        : [...resources.allocations()].map(([role, group], _, all) => {
            const allocated = all.length === 1 ? resources : group;
            return [role, allocated, allocated.unallocated()];
          });
    for (const [role, allocated, plain] of groups) {
      if (!this.discharge(agent, fw, role, allocated, plain)) {
        this.logger.warn(
          `Ignoring recovery of ${allocated.toString()} on agent ${agentId}: framework ${frameworkId} does not hold it`,
        );
        continue;
      }
      if (filters === undefined) continue;
      const ms = refuseMs(filters);
      if (ms === 0) continue;
      // Never expire before the next batch allocation could see the filter.
      const expiresAt = this.now() + Math.max(this.intervalMs, ms);
      if (fw.active && fw.roles.has(role) && !fw.suppressed.has(role)) {
        this.filters.add(agent.filters, this.roleIndex(role), fw.index, plain, expiresAt);
      }
    }
    this.wantAllocation([agentId]);
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

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
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
    return new AllocationCycle(this, agentIds ?? this.agents.keys());
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

  // ---------------------------------------------------------------------------
  // Helpers.

  private updateAgentTotal(agent: AgentState, total: Resources): boolean {
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
  private chargeKnown(fw: FrameworkState, role: string, group: Resources): void {
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
  private unchargeKnown(fw: FrameworkState, role: string, held: Resources): void {
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

  private quotaSplit(plain: Resources): {
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
