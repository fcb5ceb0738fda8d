/**
 * One allocation cycle ("generate offers"), as Mesos' hierarchical
 * allocator runs it, in two stages over the candidate agents (each in a
 * random order):
 *
 *  1. roles with unsatisfied quota guarantees, in role-sorter order, get
 *     resources towards their guarantees (and up to their limits);
 *  2. every role, in role-sorter order, gets what is left, within its quota
 *     limits and without eating into the headroom other roles' unsatisfied
 *     guarantees need.
 *
 * Within a role the framework sorter picks the framework. A framework takes
 * everything the role may use on the agent, minus what it cannot handle
 * (revocable, shared, refined reservations, GPU agents), unless it filtered
 * those resources or they are below the minimum allocatable amounts.
 *
 * What keeps this cheap at 10,000 agents x 1,000 frameworks:
 *  - the sorters keep their order incrementally, and `first()` stops at the
 *    first framework that takes the agent, so no per-agent sort or copy;
 *  - an agent that every eligible framework has refused (same resources) is
 *    skipped with one comparison (see `OfferFilterIndex.allFiltered`);
 *  - an agent where a full walk found nobody is not walked again until its
 *    resources, its filters or the framework population change (memo);
 *  - filter checks are cached against the agent's availability version.
 *
 * A cycle can run to completion (`runAll`) or in slices (`runSlice`) so the
 * event loop is never blocked for long; state may change between slices and
 * every agent is re-validated when its turn comes.
 */

import type { Resources } from "../../common/resources/index.js";
import { Resources as ResourcesValue } from "../../common/resources/index.js";
import type { AgentState } from "./agent-state.js";
import type { AllocatorCore, ChargeQuantities } from "./allocator-core.js";
import { Bitset } from "./bitset.js";
import type { FrameworkState } from "./framework-state.js";
import {
  meetsMinimum,
  type Pick,
  type QuotaContext,
  quotaContext,
  shapeOffer,
} from "./offer-shaping.js";
import {
  addInto,
  containsQuantities,
  isEmptyQuantities,
  type Quantities,
  type QuantitiesView,
  subtractInto,
} from "./quantities.js";
import { profileOf, type ResourceProfile } from "./resource-math.js";
import type { Sorter } from "./sorter/sorter.js";
import type { CycleStats, InverseOfferAllocation, OfferAllocation } from "./types.js";

/** What the cycle looks up once per role. */
interface RoleContext {
  sorter: Sorter | undefined;
  roleIndex: number;
  /** Frameworks active in the role's sorter, by index. */
  active: Bitset | undefined;
  hierarchical: boolean;
}

/**
 * What is known while looking for a framework of one role on one agent.
 * One per cycle, refilled for every (agent, role): the hot path allocates
 * nothing that does not end up in an offer.
 */
interface Probe {
  agent: AgentState;
  role: string;
  roleIndex: number;
  stage: 1 | 2 | 3;
  /** What the role may be offered here. */
  base: Resources;
  baseProfile: ResourceProfile;
  /** Version identifying `base` for filter caches (-1: none). */
  baseVersion: number;
  /** Frameworks may be offered less than `base` by capability. */
  stripMatters: boolean;
  /** Quota does not shape the offer: every framework gets `base`. */
  unshaped: boolean;
  remote: boolean;
  /** Shaped offers by capability class (`null`: nothing to offer). */
  offers: (Pick | null | undefined)[];
  /**
   * The pick of the whole `base` when quota does not shape it and no
   * capability strips it (refilled per probe; consumed before the next).
   */
  basePick: Pick;
  /** Per capability class: whether the offer meets the global minimum (computed once). */
  globalMinimum: (boolean | undefined)[];
  /** Capability classes with an entry in `offers` or `globalMinimum` (bits). */
  usedClasses: number;
  /**
   * The pick found by the walk in progress, and its framework (a pick is
   * shared by the frameworks of one capability class; its own `framework`
   * field is the first one it was shaped for).
   */
  found: Pick | undefined;
  foundFramework: FrameworkState | undefined;
  /**
   * The role's group filters on the agent when they cover all of `base`
   * (their row in `refusedWords`: offset and length, 0 when none): a
   * framework among them is refused whatever it would be offered (a subset
   * of `base`), told by one bit before its state is looked at.
   */
  refusedOffset: number;
  refusedLength: number;
  refusedWords: Uint32Array;
}

export function emptyStats(candidates: number): CycleStats {
  return {
    candidates,
    skipped: {},
    visited: 0,
    offers: 0,
    frameworkChecks: 0,
    elapsedMs: 0,
    longestSliceMs: 0,
    slices: 0,
  };
}

export class AllocationCycle {
  readonly stats: CycleStats;
  /**
   * The offers made so far: the first `offerCount` slots. Sized up front
   * like the previous cycle's and cut to size at the end, rather than grown
   * by pushes, which copy it again at every growth (a third of what a cycle
   * allocated per offer).
   */
  offers: OfferAllocation[];
  private offerCount = 0;
  readonly inverseOffers: InverseOfferAllocation[] = [];
  private readonly agents: AgentState[];
  private stage: 1 | 2 | 3 = 1;
  private position = 0;
  private quota: QuotaContext | undefined;
  private candidatePairs = 0;
  /** Roles with frameworks that may receive offers (undefined when many). */
  private activeRoles: string[] | undefined;
  private readonly offeredShared = new Map<string, Resources>();
  private readonly roles = new Map<string, RoleContext>();
  private readonly startedAt: number;
  /** The probe of the (agent, role) being looked at (reused; see `Probe`). */
  private readonly current: Probe;
  /**
   * (framework, role) pairs given an offer on the agent being visited: the
   * first `takenCount` slots (a count, not `length = 0`: emptying an array
   * drops its storage, and the next push allocates new storage).
   */
  private readonly takenFrameworks: FrameworkState[] = [];
  private readonly takenRoles: string[] = [];
  private takenCount = 0;
  /** Roles found with nobody to take the agent being visited (first `triedCount`). */
  private readonly triedRoles: string[] = [];
  private triedCount = 0;
  /** The pick of the role walk in progress (see `tryRole`). */
  private rolePick: Pick | undefined;
  private roleFramework: FrameworkState | undefined;
  private visiting: AgentState | undefined;
  /** Callbacks handed to the sorters, bound once rather than per agent. */
  private readonly tryRoleFn = (role: string): boolean => this.tryRole(role);
  private readonly acceptFrameworkFn = (id: string, index?: number): boolean =>
    this.acceptFramework(id, index);
  private readonly acceptIndexFn = (index: number): void => this.acceptIndex(index);

  constructor(
    private readonly core: AllocatorCore,
    agentIds: Iterable<string> | "all",
  ) {
    let agents: AgentState[];
    if (agentIds === "all") {
      // No lookups by id: at 10,000 agents those cost more than they seem (cold hash buckets).
      agents = [...core.agents.values()];
    } else {
      agents = [];
      for (const id of agentIds) {
        const agent = core.agents.get(id);
        if (agent !== undefined) agents.push(agent);
      }
    }
    this.agents = agents;
    // (No more slots than agents: a cycle over a few agents stays small.)
    this.offers = new Array<OfferAllocation>(Math.min(core.lastCycleOffers, agents.length));
    this.current = {
      agent: agents[0] as AgentState,
      role: "",
      roleIndex: -1,
      stage: 2,
      base: EMPTY,
      baseProfile: profileOf(core.names, EMPTY),
      baseVersion: -1,
      stripMatters: false,
      unshaped: true,
      remote: false,
      offers: new Array<Pick | null | undefined>(8).fill(undefined),
      basePick: {
        framework: undefined as unknown as FrameworkState,
        role: "",
        resources: EMPTY,
        profile: profileOf(core.names, EMPTY),
        towardsGuarantee: undefined,
        additional: undefined,
      },
      globalMinimum: new Array<boolean | undefined>(8).fill(undefined),
      usedClasses: 0,
      found: undefined,
      foundFramework: undefined,
      refusedOffset: 0,
      refusedLength: 0,
      refusedWords: core.filters.slabWords,
    };
    this.stats = emptyStats(agents.length);
    this.startedAt = core.clock.monotonic();
    shuffle(agents, core);
  }

  get done(): boolean {
    return this.stage === 3;
  }

  /** Runs the whole cycle synchronously. */
  runAll(): void {
    while (!this.done) this.run(Number.POSITIVE_INFINITY);
  }

  /**
   * Runs until `budgetMs` of monotonic time passed (checked every few
   * agents) or the cycle is done. Returns the offers made in this slice.
   */
  runSlice(budgetMs: number): OfferAllocation[] {
    const before = this.offerCount;
    this.run(budgetMs);
    return this.offers.slice(before, this.offerCount);
  }

  private run(budgetMs: number): void {
    const clock = this.core.clock;
    const start = clock.monotonic();
    const deadline = start + budgetMs;
    this.stats.slices++;
    this.prepareSlice();
    let n = 0;
    while (this.stage !== 3) {
      if (this.position >= this.agents.length) {
        this.nextStage();
        continue;
      }
      if (this.position >= this.warmedTo) this.warmAhead();
      this.visit(this.agents[this.position++] as AgentState);
      if ((++n & 31) === 0 && clock.monotonic() >= deadline) break;
    }
    const now = clock.monotonic();
    this.stats.longestSliceMs = Math.max(this.stats.longestSliceMs, now - start);
    this.stats.elapsedMs = now - this.startedAt;
  }

  /** Agents before this position in `agents` had their cache lines loaded (see `warmAhead`). */
  private warmedTo = 0;
  /** Indexes of the frameworks at the front of the order (see `warmAhead`). */
  private readonly frontIndexes: number[] = [];
  /** Keeps the loads of `warmAhead` from being optimized away. */
  warmSink = 0;

  /**
   * Loads the cache lines the next few visits will read, depth by depth
   * (see `AgentState.warm`). Past a few thousand agents a visit waits
   * mostly on memory, one miss after the other (agents are visited in a
   * random order); loading a batch's lines level by level lets the
   * processor overlap those misses. Reads only: state is never changed.
   */
  private warmAhead(): void {
    const agents = this.agents;
    const from = this.position;
    const count = agents.length;
    const to = Math.min(count, from + WARM_BATCH);
    let sink = 0;
    const words = this.core.filters.slabWords;
    if (from !== this.warmedTo || from === 0) {
      // Priming: the batches ahead get their shallower depths (see below).
      for (let depth = 0; depth < WARM_DEPTH; depth++) {
        const end = Math.min(count, from + (WARM_DEPTH - depth) * WARM_BATCH);
        for (let i = from; i < end; i++) sink += (agents[i] as AgentState).warm(depth, words);
      }
    }
    // Pipelined: this batch gets its deepest lines, the next one the depth
    // before, and so on. The pointers each depth follows were loaded by the
    // call before, so every load here is independent of the others and
    // their misses overlap, instead of one round of misses per depth.
    for (let depth = WARM_DEPTH; depth >= 0; depth--) {
      const lo = from + (WARM_DEPTH - depth) * WARM_BATCH;
      const hi = Math.min(count, lo + WARM_BATCH);
      for (let i = lo; i < hi; i++) sink += (agents[i] as AgentState).warm(depth, words);
    }
    // And the frameworks the batch's offers will most likely go to: the
    // front of the order (a framework is served about once every F visits,
    // long enough for its lines to leave the core's cache at 1,000 frameworks).
    const roles = this.activeRoles;
    if (roles !== undefined && roles.length === 1) {
      const sorter = this.core.frameworkSorters.get(roles[0] as string);
      const front = this.frontIndexes;
      const n = sorter?.warmFront?.(WARM_FRAMEWORKS, front) ?? 0;
      const byIndex = this.core.frameworksByIndex;
      for (let k = 0; k < n; k++) {
        const framework = byIndex[front[k] as number];
        if (framework !== undefined) sink += framework.offersMade + framework.index;
      }
    }
    this.warmSink = sink;
    this.warmedTo = to;
  }

  private nextStage(): void {
    this.warmedTo = 0;
    if (this.stage === 1) {
      this.stage = 2;
      this.position = 0;
      // Spread out the first stage's preference for the front of the list.
      shuffle(this.agents, this.core);
    } else {
      this.generateInverseOffers();
      this.stage = 3;
      this.offers.length = this.offerCount;
      this.core.lastCycleOffers = this.offerCount;
    }
  }

  /** Per-role lookups, cached for the slice. */
  private roleContext(role: string): RoleContext {
    let ctx = this.roles.get(role);
    if (ctx === undefined) {
      const core = this.core;
      ctx = {
        sorter: core.frameworkSorters.get(role),
        roleIndex: core.roleIndex(role),
        active: core.activeInRole.get(role),
        hierarchical: role.includes("/"),
      };
      this.roles.set(role, ctx);
    }
    return ctx;
  }

  /** Refreshes what may have changed since the previous slice. */
  private prepareSlice(): void {
    const core = this.core;
    this.roles.clear();
    let pairs = 0;
    let roles: string[] | undefined = [];
    for (const [role, sorter] of core.frameworkSorters) {
      const active = core.isRoleWhitelisted(role) ? sorter.activeCount() : 0;
      pairs += active;
      if (active > 0 && roles !== undefined) {
        roles.push(role);
        if (roles.length > 16) roles = undefined;
      }
    }
    this.candidatePairs = pairs;
    this.activeRoles = roles;
    this.quota = core.roleTree.withQuota().size > 0 ? quotaContext(core) : undefined;
    if (this.stage === 1 && (this.quota === undefined || this.quota.unsatisfied.size === 0)) {
      this.stage = 2;
      this.position = 0;
      this.warmedTo = 0;
    }
  }

  private skip(reason: keyof CycleStats["skipped"]): void {
    this.stats.skipped[reason] = (this.stats.skipped[reason] ?? 0) + 1;
  }

  /** Allocates one agent for the current stage. */
  private visit(agent: AgentState): void {
    const core = this.core;
    if (agent.removed) {
      this.skip("NO_AGENTS");
      return;
    }
    if (!agent.activated) {
      this.skip("AGENT_DEACTIVATED");
      return;
    }
    if (!core.isAgentWhitelisted(agent)) {
      this.skip("AGENT_NOT_WHITELISTED");
      return;
    }
    const profile = agent.profile();
    if (profile.empty) {
      this.skip("NO_AVAILABLE_RESOURCES");
      return;
    }

    const stage = this.stage;
    // "Plain": every role and framework would be offered exactly `available`.
    const plain =
      !core.baseline &&
      (!profile.hasReserved || this.reservationsUsableByAll(profile)) &&
      !profile.hasRevocable &&
      !profile.hasShared &&
      !profile.hasRefined &&
      (this.quota === undefined ||
        (!this.quota.anyLimits && isEmptyQuantities(this.quota.requiredHeadroom)));
    const memoUsable =
      !core.baseline && stage === 2 && this.quota === undefined && !profile.hasShared;
    if (
      memoUsable &&
      agent.memoVersion === agent.version &&
      agent.memoStamp === agent.filters.stamp &&
      agent.memoGlobal === core.globalStamp
    ) {
      this.skip("MEMO");
      return;
    }
    if (
      plain &&
      core.filters.allFiltered(agent.filters, this.candidatePairs, agent.available, agent.version)
    ) {
      if (memoUsable) this.remember(agent);
      this.skip("ALL_FILTERED");
      return;
    }

    this.stats.visited++;
    let committed = false;
    this.visiting = agent;
    this.takenCount = 0;
    this.triedCount = 0;
    for (;;) {
      if (agent.profile().empty) break;
      this.rolePick = undefined;
      if (core.baseline) core.roleSorter.sort().find(this.tryRoleFn);
      else core.roleSorter.first(this.tryRoleFn);
      const pick = this.rolePick as Pick | undefined;
      if (pick === undefined) break;
      const framework = this.roleFramework as FrameworkState;
      this.commit(agent, pick, framework);
      committed = true;
      this.takenFrameworks[this.takenCount] = framework;
      this.takenRoles[this.takenCount] = pick.role;
      this.takenCount++;
    }
    this.visiting = undefined;
    this.rolePick = undefined;
    this.roleFramework = undefined;
    if (!committed && memoUsable) this.remember(agent);
  }

  /** Role-sorter callback: whether `role` has a framework taking the visited agent. */
  private tryRole(role: string): boolean {
    const tried = this.triedRoles;
    for (let i = 0; i < this.triedCount; i++) if (tried[i] === role) return false;
    const pick = this.pickFramework(this.visiting as AgentState, role, this.stage);
    if (pick === undefined) {
      this.triedRoles[this.triedCount++] = role;
      return false;
    }
    this.rolePick = pick;
    this.roleFramework = this.current.foundFramework;
    return true;
  }

  /** Whether `framework` already got an offer for `role` on the visited agent. */
  private isTaken(framework: FrameworkState, role: string): boolean {
    const frameworks = this.takenFrameworks;
    for (let i = 0; i < this.takenCount; i++) {
      if (frameworks[i] === framework && this.takenRoles[i] === role) return true;
    }
    return false;
  }

  /** True when every role that may get offers may use all the agent's reservations. */
  private reservationsUsableByAll(profile: ResourceProfile): boolean {
    const roles = this.activeRoles;
    const reserved = profile.reservationRoles;
    if (roles === undefined || reserved === undefined) return false;
    for (const role of roles) {
      for (const owner of reserved) {
        if (role !== owner && !role.startsWith(`${owner}/`)) return false;
      }
    }
    return true;
  }

  private remember(agent: AgentState): void {
    agent.memoVersion = agent.version;
    agent.memoStamp = agent.filters.stamp;
    agent.memoGlobal = this.core.globalStamp;
  }

  /** The first framework of `role` (in sorter order) that takes this agent, with its offer. */
  private pickFramework(agent: AgentState, role: string, stage: 1 | 2 | 3): Pick | undefined {
    const core = this.core;
    const ctx = this.roleContext(role);
    const sorter = ctx.sorter;
    if (sorter === undefined || sorter.activeCount() === 0) return undefined;
    if (stage === 1) {
      const node = core.roleTree.get(role);
      if (node === undefined || this.quota === undefined || !this.quota.unsatisfied.has(node)) {
        return undefined;
      }
    }
    if (ctx.hierarchical && !agent.caps.hierarchicalRole) return undefined;

    let base = agent.allocatableTo(role);
    const shared = this.offeredShared.size === 0 ? undefined : this.offeredShared.get(agent.id);
    if (shared !== undefined) base = base.minus(shared);
    // `available` is not empty here (the visit checked its profile).
    if (base !== agent.available && base.isEmpty()) return undefined;

    const baseProfile = base === agent.available ? agent.profile() : profileOf(core.names, base);
    const quota = this.quota;
    const probe = this.current;
    probe.agent = agent;
    probe.role = role;
    probe.roleIndex = ctx.roleIndex;
    probe.stage = stage;
    probe.base = base;
    probe.baseProfile = baseProfile;
    probe.baseVersion = base === agent.available && !core.baseline ? agent.version : -1;
    probe.stripMatters =
      baseProfile.hasShared || baseProfile.hasRevocable || baseProfile.hasRefined;
    probe.unshaped =
      quota === undefined ||
      (stage === 2 && !quota.anyLimits && isEmptyQuantities(quota.requiredHeadroom));
    probe.remote = core.isRemote(agent);
    if (probe.usedClasses !== 0) {
      // Forget the previous probe's offers (no array resizing: that is a runtime call).
      for (let cls = 0; cls < 8; cls++) {
        probe.offers[cls] = undefined;
        probe.globalMinimum[cls] = undefined;
      }
      probe.usedClasses = 0;
    }
    probe.found = undefined;
    probe.foundFramework = undefined;
    probe.refusedLength = 0;

    if (core.baseline) {
      // A straight port: the whole order, materialized for every agent.
      for (const id of sorter.sort()) {
        const framework = core.frameworks.get(id);
        const pick = this.probe(probe, framework);
        if (pick !== undefined) {
          probe.found = pick;
          probe.foundFramework = framework;
          return pick;
        }
      }
      return undefined;
    }

    // When nearly every framework of the role refused exactly what is left,
    // look at the few others instead of walking past the refusals.
    // The slots themselves are not read: the agent's filters keep a copy of
    // their row and size (see `AgentFilters.slotOffset`).
    const filters = agent.filters;
    const group = filters.groupFor(probe.roleIndex);
    const words = core.filters.slabWords;
    const active = ctx.active;
    if (
      group !== undefined &&
      active !== undefined &&
      sorter.compare !== undefined &&
      !probe.stripMatters &&
      probe.unshaped
    ) {
      const left = active.size - filters.slotSize;
      if (left * left < active.size && filters.groupCovers(base, probe.baseVersion)) {
        this.sorterInUse = sorter;
        Bitset.forEachNotInRow(
          active,
          words,
          filters.slotOffset,
          filters.slotWords,
          this.acceptIndexFn,
        );
        this.sorterInUse = undefined;
        return probe.found;
      }
    }

    if (group !== undefined && filters.groupCovers(base, probe.baseVersion)) {
      probe.refusedWords = words;
      probe.refusedOffset = filters.slotOffset;
      probe.refusedLength = filters.slotWords;
      if (sorter.firstSkipping !== undefined) {
        // The refusals are passed over inside the sorter's walk, a bit test each.
        sorter.firstSkipping(words, filters.slotOffset, filters.slotWords, this.acceptFrameworkFn);
        return probe.found;
      }
    }
    sorter.first(this.acceptFrameworkFn);
    return probe.found;
  }

  private readonly known: ChargeQuantities = { sorter: [], reserved: [], unreserved: [] };

  /** The sorter of the bitset walk in progress (see `acceptIndex`). */
  private sorterInUse: Sorter | undefined;

  /**
   * Framework-sorter callback: takes the framework when it takes the probed
   * agent. With the client's index (DRF walks), the framework is read from
   * the dense array instead of the id map: no hash-table lines per framework.
   */
  private acceptFramework(frameworkId: string, index = -1): boolean {
    const byIndex = index >= 0 ? this.core.frameworksByIndex[index] : undefined;
    const framework =
      byIndex !== undefined && byIndex.id === frameworkId
        ? byIndex
        : this.core.frameworks.get(frameworkId);
    const pick = this.probe(this.current, framework);
    if (pick === undefined) return false;
    this.current.found = pick;
    this.current.foundFramework = framework;
    return true;
  }

  /** Bitset-walk callback: keeps the framework first in sorter order among those taking the agent. */
  private acceptIndex(index: number): void {
    const framework = this.core.frameworksByIndex[index];
    if (framework === undefined) return;
    const best = this.current.foundFramework;
    const sorter = this.sorterInUse as Sorter;
    if (
      best !== undefined &&
      (sorter.compare as Compare).call(sorter, framework.id, best.id) >= 0
    ) {
      return;
    }
    const pick = this.probe(this.current, framework);
    if (pick !== undefined) {
      this.current.found = pick;
      this.current.foundFramework = framework;
    }
  }

  /** The offer `framework` would take from the probed agent and role, if any (shared by its capability class). */
  private probe(p: Probe, framework: FrameworkState | undefined): Pick | undefined {
    const core = this.core;
    this.stats.frameworkChecks++;
    if (framework === undefined) return undefined;
    const w = framework.index >>> 5;
    if (
      w < p.refusedLength &&
      ((p.refusedWords[p.refusedOffset + w] as number) & (1 << (framework.index & 31))) !== 0
    ) {
      return undefined;
    }
    if (!framework.active) return undefined;
    if (this.takenCount > 0 && this.isTaken(framework, p.role)) return undefined;
    const agent = p.agent;
    const caps = framework.caps;
    if (framework.multiRole && !agent.multiRole) return undefined;
    if (core.filterGpuResources && agent.totalHasGpu && !caps.gpuResources) return undefined;
    if (p.remote && !caps.regionAware) return undefined;
    if (framework.constraints?.isAgentExcluded(p.role, agent.info)) return undefined;
    // Offers by capability class (what stripping leaves), computed on demand.
    const cls = p.stripMatters
      ? (caps.sharedResources ? 1 : 0) |
        (caps.revocableResources ? 2 : 0) |
        (caps.reservationRefinement ? 4 : 0)
      : 0;
    let candidate = p.offers[cls];
    if (candidate === undefined && p.unshaped && !p.stripMatters) {
      // Every framework is offered all of `base` (not empty: see `pickFramework`):
      // the probe's own pick, refilled, instead of a new one per agent.
      candidate = p.basePick;
      candidate.framework = framework;
      candidate.role = p.role;
      candidate.resources = p.base;
      candidate.profile = p.baseProfile;
      p.offers[cls] = candidate;
      p.usedClasses |= 1 << cls;
    } else if (candidate === undefined) {
      candidate =
        shapeOffer(
          core,
          this.quota,
          p.role,
          p.stage,
          p.base,
          p.baseProfile,
          p.stripMatters,
          framework,
        ) ?? null;
      p.offers[cls] = candidate;
      p.usedClasses |= 1 << cls;
    }
    if (candidate === null) return undefined;
    // The global minimum gives the same answer for every framework without its own.
    if (!framework.hasOwnMinimum) {
      let ok = p.globalMinimum[cls];
      if (ok === undefined) {
        const profile = candidate.profile;
        ok = profile.meetsGlobalMinimum;
        if (ok === undefined) {
          ok = meetsMinimum(core, profile, p.role, framework);
          if (!profile.empty) profile.meetsGlobalMinimum = ok;
        }
        p.globalMinimum[cls] = ok;
      }
      if (!ok) return undefined;
    } else if (!meetsMinimum(core, candidate.profile, p.role, framework)) {
      return undefined;
    }
    const version = candidate.resources === p.base ? p.baseVersion : -1;
    const filtered = core.baseline
      ? core.filters.isFilteredPlain(
          agent.filters,
          p.roleIndex,
          framework.index,
          candidate.resources,
        )
      : core.filters.isFiltered(
          agent.filters,
          p.roleIndex,
          framework.index,
          candidate.resources,
          version,
        );
    if (filtered) return undefined;
    // The shared candidate itself: the caller keeps the framework apart (no copy per pick).
    return candidate;
  }

  /** Makes the offer: charges it and records it for the caller. */
  private commit(agent: AgentState, pick: Pick, framework: FrameworkState): void {
    const core = this.core;
    const { role, resources, profile } = pick;
    const allocated = agent.allocatedForm(resources, role);
    let known: ChargeQuantities;
    if (profile.hasShared) {
      known = core.chargeQuantities(resources, agent.heldBy(framework.id, role));
    } else {
      // A scratch object: `charge` copies the fields out.
      known = this.known;
      known.sorter = profile.scalars;
      known.reserved = profile.reservedScalars;
      known.unreserved = profile.quotaScalars;
    }
    core.charge(agent, framework, role, allocated, resources, known);
    if (profile.hasShared) {
      const shared = resources.shared();
      const prior = this.offeredShared.get(agent.id);
      this.offeredShared.set(agent.id, prior === undefined ? shared : prior.plus(shared));
    }
    const quota = this.quota;
    if (quota !== undefined) {
      const given = pick.towardsGuarantee ?? [];
      const extra = pick.additional ?? [];
      const increase = addTo(given.slice(), extra);
      subtractInto(quota.requiredHeadroom, given);
      clampZero(quota.requiredHeadroom);
      subtractInto(quota.availableHeadroom, increase);
      const node = core.roleTree.get(role);
      if (node !== undefined && quota.unsatisfied.has(node)) {
        if (containsQuantities(node.quotaOfferedOrConsumed(), node.guarantees)) {
          quota.unsatisfied.delete(node);
        }
      }
    }
    framework.offersMade++;
    this.stats.offers++;
    const offer: OfferAllocation = {
      frameworkId: framework.id,
      role,
      agentId: agent.id,
      resources: allocated,
    };
    if (agent.maintenance !== undefined) offer.unavailability = agent.maintenance.unavailability;
    this.offers[this.offerCount++] = offer;
  }

  private candidateSet: Set<AgentState> | undefined;

  /** The agents this cycle looks at, as a set (built on first use). */
  private get candidates(): Set<AgentState> {
    this.candidateSet ??= new Set(this.agents);
    return this.candidateSet;
  }

  /** Inverse offers for agents with maintenance scheduled (to frameworks using them). */
  private generateInverseOffers(): void {
    const core = this.core;
    const now = core.now();
    for (const agent of core.agentsInMaintenance) {
      const maintenance = agent.maintenance;
      if (maintenance === undefined || !this.candidates.has(agent)) continue;
      for (const frameworkId of agent.allocations.keys()) {
        const framework = core.frameworks.get(frameworkId);
        if (framework === undefined || !framework.active) continue;
        if (maintenance.outstanding.has(frameworkId)) continue;
        const until = agent.inverseFilters.get(frameworkId);
        if (until !== undefined) {
          if (until > now) continue;
          agent.inverseFilters.delete(frameworkId);
        }
        maintenance.outstanding.add(frameworkId);
        this.inverseOffers.push({
          frameworkId,
          agentId: agent.id,
          unavailability: maintenance.unavailability,
        });
      }
    }
  }
}

type Compare = (a: string, b: string) => number;

/** Agents whose cache lines are loaded together ahead of their visits. */
const WARM_BATCH = 16;
/** Pointer depths `AgentState.warm` loads (the agent; its filters and record; the refusal row). */
const WARM_DEPTH = 2;
/** Frameworks at the front of the order loaded with each batch of agents. */
const WARM_FRAMEWORKS = 24;

/** Placeholder for the reused probe before its first use. */
const EMPTY = ResourcesValue.empty();

function addTo(a: Quantities, b: QuantitiesView): Quantities {
  addInto(a, b);
  return a;
}

function clampZero(q: Quantities): void {
  for (let i = 0; i < q.length; i++) if ((q[i] as number) < 0) q[i] = 0;
}

function shuffle<T>(items: T[], core: AllocatorCore): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(core.random.next() * (i + 1));
    const t = items[i] as T;
    items[i] = items[j] as T;
    items[j] = t;
  }
}
