/**
 * Allocator events about frameworks and agents: they come and go, are
 * activated and deactivated, change roles, capabilities, totals, and
 * suppress or revive offers. (Resources changing hands, quota, weights and
 * allocation itself are in `hierarchical-allocator.ts`.)
 */

import type { Resources } from "../../common/resources/index.js";
import { AgentState, agentCapabilities } from "./agent-state.js";
import { AllocatorCore } from "./allocator-core.js";
import { FrameworkState } from "./framework-state.js";
import type {
  AgentInfo,
  CapabilityInfo,
  FrameworkInfo,
  FrameworkOptions,
  Unavailability,
} from "./types.js";

export class AllocatorEvents extends AllocatorCore {
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
    fw.setConstraints(options.offerConstraints);
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
      agent.dropInverseFilter(frameworkId);
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
    for (const agent of this.agents.values()) agent.dropInverseFilter(frameworkId);
    this.logger.info(`Deactivated framework ${frameworkId}`);
  }

  /** New FrameworkInfo (roles, capabilities, offer filters), suppressed roles and offer constraints. */
  updateFramework(frameworkId: string, info: FrameworkInfo, options: FrameworkOptions = {}): void {
    const fw = this.frameworks.get(frameworkId);
    if (fw === undefined) return;
    const oldRoles = fw.roles;
    const oldSuppressed = new Set(fw.suppressed);
    fw.update(info, this.names);
    fw.setConstraints(options.offerConstraints);
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

  protected suppressRoles(fw: FrameworkState, roles: string[]): void {
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

  protected reviveRoles(fw: FrameworkState, roles: string[]): void {
    for (const agent of this.agents.values()) agent.dropInverseFilter(fw.id);
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
}
