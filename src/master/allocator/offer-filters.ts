/**
 * Refuse filters: after a framework declines resources on an agent for a
 * role, offers of those resources (or a subset) to that framework and role
 * are skipped until the filter expires or the framework revives.
 *
 * Filters are indexed per agent, then per role, then per framework (dense
 * numeric indexes), and are built for the case that dominates busy
 * clusters: many frameworks declining the same whole agent. Such a filter
 * refuses exactly the agent's "group" resources and is stored as a bare
 * number (its expiry), so ten million of them fit in memory, and the agent
 * keeps a count of (role, framework) pairs holding one. When that count
 * reaches the number of frameworks that could take the agent and the group
 * still covers what the agent has left, the whole agent is skipped without
 * looking at any framework.
 *
 * Containment checks are cached per filter against a version of the offer
 * being checked (the agent's availability version when the offer is the
 * agent's whole availability), so re-checking an unchanged agent is free.
 * Expiry is lazy: a heap of expiry times is drained at the start of each
 * cycle (`expire`).
 */

import type { Resources } from "../../common/resources/index.js";

/** A filter whose refused resources differ from the agent's group. */
export class OfferFilter {
  checkedVersion = -1;
  checkedResult = false;

  constructor(
    readonly refused: Resources,
    readonly expiresAt: number,
  ) {}
}

/** `number`: expiry of a filter refusing exactly the agent's group resources. */
type FilterValue = number | OfferFilter | (number | OfferFilter)[];

/** The filters on one agent. */
export class AgentFilters {
  readonly roles = new Map<number, Map<number, FilterValue>>();
  /** Resources refused by the bare-number filters. */
  groupRep: Resources | undefined;
  /** (role, framework) pairs with at least one group filter. */
  groupPairs = 0;
  private groupCheckVersion = -1;
  private groupCheckResult = false;
  /** Bumped whenever a filter goes away (so memos of "nobody takes it" expire). */
  stamp = 0;
  /** Number of filters. */
  count = 0;

  constructor(readonly agentIndex: number) {}

  /** Whether the group covers `offer` (cached per offer version; -1 disables the cache). */
  groupCovers(offer: Resources, offerVersion: number): boolean {
    const rep = this.groupRep;
    if (rep === undefined) return false;
    if (offerVersion >= 0 && offerVersion === this.groupCheckVersion) return this.groupCheckResult;
    const result = rep === offer || rep.contains(offer);
    if (offerVersion >= 0) {
      this.groupCheckVersion = offerVersion;
      this.groupCheckResult = result;
    }
    return result;
  }

  resetGroupCache(): void {
    this.groupCheckVersion = -1;
  }
}

function isGroupValue(v: FilterValue): boolean {
  if (typeof v === "number") return true;
  if (Array.isArray(v)) return v.some((x) => typeof x === "number");
  return false;
}

/** A growable min-heap of (time, agent, role, framework) in typed arrays. */
class ExpiryHeap {
  private times = new Float64Array(1024);
  private refs = new Int32Array(3 * 1024);
  size = 0;

  push(time: number, agent: number, role: number, framework: number): void {
    if (this.size === this.times.length) this.grow();
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((this.times[parent] as number) <= time) break;
      this.move(parent, i);
      i = parent;
    }
    this.times[i] = time;
    this.refs[3 * i] = agent;
    this.refs[3 * i + 1] = role;
    this.refs[3 * i + 2] = framework;
  }

  peekTime(): number {
    return this.size === 0 ? Number.POSITIVE_INFINITY : (this.times[0] as number);
  }

  /** Removes the top; returns [agent, role, framework]. */
  pop(out: Int32Array): void {
    out[0] = this.refs[0] as number;
    out[1] = this.refs[1] as number;
    out[2] = this.refs[2] as number;
    const last = --this.size;
    if (last === 0) return;
    const time = this.times[last] as number;
    const a = this.refs[3 * last] as number;
    const r = this.refs[3 * last + 1] as number;
    const f = this.refs[3 * last + 2] as number;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= last) break;
      const rr = l + 1;
      const c = rr < last && (this.times[rr] as number) < (this.times[l] as number) ? rr : l;
      if ((this.times[c] as number) >= time) break;
      this.move(c, i);
      i = c;
    }
    this.times[i] = time;
    this.refs[3 * i] = a;
    this.refs[3 * i + 1] = r;
    this.refs[3 * i + 2] = f;
  }

  clear(): void {
    this.size = 0;
  }

  private move(from: number, to: number): void {
    this.times[to] = this.times[from] as number;
    this.refs[3 * to] = this.refs[3 * from] as number;
    this.refs[3 * to + 1] = this.refs[3 * from + 1] as number;
    this.refs[3 * to + 2] = this.refs[3 * from + 2] as number;
  }

  private grow(): void {
    const times = new Float64Array(this.times.length * 2);
    times.set(this.times);
    const refs = new Int32Array(this.refs.length * 2);
    refs.set(this.refs);
    this.times = times;
    this.refs = refs;
  }
}

export class OfferFilterIndex {
  private readonly heap = new ExpiryHeap();
  private readonly withFilters = new Set<AgentFilters>();
  private readonly byRole = new Map<number, number>();
  private readonly scratch = new Int32Array(3);

  /** Total number of filters. */
  get size(): number {
    let n = 0;
    for (const af of this.withFilters) n += af.count;
    return n;
  }

  /** Number of filters for a role (the `offer_filters/roles/<role>/active` metric). */
  countForRole(roleIndex: number): number {
    return this.byRole.get(roleIndex) ?? 0;
  }

  /** Installs a filter refusing `refused` (unallocated) until `expiresAt` (monotonic ms). */
  add(
    af: AgentFilters,
    roleIndex: number,
    frameworkIndex: number,
    refused: Resources,
    expiresAt: number,
  ): void {
    let byFramework = af.roles.get(roleIndex);
    if (byFramework === undefined) {
      byFramework = new Map();
      af.roles.set(roleIndex, byFramework);
    }
    if (af.groupPairs === 0) {
      af.groupRep = refused;
      af.resetGroupCache();
    }
    const inGroup = af.groupRep === refused || (af.groupRep as Resources).equals(refused);
    const entry: number | OfferFilter = inGroup ? expiresAt : new OfferFilter(refused, expiresAt);
    const existing = byFramework.get(frameworkIndex);
    if (existing === undefined) {
      byFramework.set(frameworkIndex, entry);
      if (inGroup) af.groupPairs++;
    } else {
      const wasGroup = isGroupValue(existing);
      const list = Array.isArray(existing) ? existing : [existing];
      list.push(entry);
      byFramework.set(frameworkIndex, list);
      if (inGroup && !wasGroup) af.groupPairs++;
    }
    af.count++;
    this.withFilters.add(af);
    this.byRole.set(roleIndex, (this.byRole.get(roleIndex) ?? 0) + 1);
    this.heap.push(expiresAt, af.agentIndex, roleIndex, frameworkIndex);
  }

  /**
   * Whether a filter of (role, framework) on this agent covers `offer`
   * (unallocated). `offerVersion` identifies the offer's content for caching
   * (-1: do not cache).
   */
  isFiltered(
    af: AgentFilters,
    roleIndex: number,
    frameworkIndex: number,
    offer: Resources,
    offerVersion: number,
  ): boolean {
    const value = af.roles.get(roleIndex)?.get(frameworkIndex);
    if (value === undefined) return false;
    if (typeof value === "number") return af.groupCovers(offer, offerVersion);
    if (!Array.isArray(value)) return this.check(value, offer, offerVersion);
    for (const v of value) {
      if (
        typeof v === "number"
          ? af.groupCovers(offer, offerVersion)
          : this.check(v, offer, offerVersion)
      ) {
        return true;
      }
    }
    return false;
  }

  /** Whether (role, framework) has any filter on this agent. */
  hasFilter(af: AgentFilters, roleIndex: number, frameworkIndex: number): boolean {
    return af.roles.get(roleIndex)?.has(frameworkIndex) === true;
  }

  /**
   * True when at least `candidates` pairs hold a group filter and the group
   * covers `offer`: every framework that could take the agent refused it.
   */
  allFiltered(
    af: AgentFilters,
    candidates: number,
    offer: Resources,
    offerVersion: number,
  ): boolean {
    return candidates > 0 && af.groupPairs >= candidates && af.groupCovers(offer, offerVersion);
  }

  /** Removes every filter of a framework (for `roleIndex` only, when given) on all agents. */
  removeFramework(frameworkIndex: number, roleIndex?: number): void {
    for (const af of [...this.withFilters]) {
      if (roleIndex !== undefined) {
        this.removePair(af, roleIndex, frameworkIndex);
      } else {
        for (const r of [...af.roles.keys()]) this.removePair(af, r, frameworkIndex);
      }
    }
  }

  /** Removes the filters of one (role, framework) pair on one agent. */
  removePair(af: AgentFilters, roleIndex: number, frameworkIndex: number): void {
    const byFramework = af.roles.get(roleIndex);
    const value = byFramework?.get(frameworkIndex);
    if (byFramework === undefined || value === undefined) return;
    byFramework.delete(frameworkIndex);
    if (byFramework.size === 0) af.roles.delete(roleIndex);
    const n = Array.isArray(value) ? value.length : 1;
    this.forget(af, roleIndex, n, isGroupValue(value));
  }

  /** Removes every filter on an agent. */
  clearAgent(af: AgentFilters): void {
    for (const [roleIndex, byFramework] of af.roles) {
      let n = 0;
      for (const v of byFramework.values()) n += Array.isArray(v) ? v.length : 1;
      this.byRole.set(roleIndex, (this.byRole.get(roleIndex) ?? 0) - n);
    }
    af.roles.clear();
    af.count = 0;
    af.groupPairs = 0;
    af.groupRep = undefined;
    af.resetGroupCache();
    af.stamp++;
    this.withFilters.delete(af);
  }

  /**
   * Removes filters that expired by `now`; `agent` maps an agent index to its
   * filters (undefined for a removed agent). Returns how many were removed.
   */
  expire(now: number, agent: (index: number) => AgentFilters | undefined): number {
    let removed = 0;
    const ref = this.scratch;
    while (this.heap.size > 0 && this.heap.peekTime() <= now) {
      this.heap.pop(ref);
      const af = agent(ref[0] as number);
      if (af === undefined) continue;
      removed += this.expirePair(af, ref[1] as number, ref[2] as number, now);
    }
    return removed;
  }

  /** Drops everything (allocator reset). */
  clear(): void {
    for (const af of [...this.withFilters]) this.clearAgent(af);
    this.heap.clear();
  }

  private expirePair(
    af: AgentFilters,
    roleIndex: number,
    frameworkIndex: number,
    now: number,
  ): number {
    const byFramework = af.roles.get(roleIndex);
    const value = byFramework?.get(frameworkIndex);
    if (byFramework === undefined || value === undefined) return 0;
    const expiry = (v: number | OfferFilter) => (typeof v === "number" ? v : v.expiresAt);
    if (!Array.isArray(value)) {
      if (expiry(value) > now) return 0;
      this.removePair(af, roleIndex, frameworkIndex);
      return 1;
    }
    const kept = value.filter((v) => expiry(v) > now);
    const removed = value.length - kept.length;
    if (removed === 0) return 0;
    if (kept.length === 0) {
      this.removePair(af, roleIndex, frameworkIndex);
      return removed;
    }
    const wasGroup = isGroupValue(value);
    const next = kept.length === 1 ? (kept[0] as number | OfferFilter) : kept;
    byFramework.set(frameworkIndex, next);
    this.forget(af, roleIndex, removed, wasGroup && !isGroupValue(next));
    return removed;
  }

  /** Bookkeeping after `n` filters of a role left an agent. */
  private forget(af: AgentFilters, roleIndex: number, n: number, leftGroup: boolean): void {
    af.count -= n;
    af.stamp++;
    this.byRole.set(roleIndex, (this.byRole.get(roleIndex) ?? 0) - n);
    if (leftGroup) {
      af.groupPairs--;
      if (af.groupPairs === 0) {
        af.groupRep = undefined;
        af.resetGroupCache();
      }
    }
    if (af.count === 0) this.withFilters.delete(af);
  }

  private check(filter: OfferFilter, offer: Resources, offerVersion: number): boolean {
    if (offerVersion >= 0 && filter.checkedVersion === offerVersion) return filter.checkedResult;
    const result = filter.refused === offer || filter.refused.contains(offer);
    if (offerVersion >= 0) {
      filter.checkedVersion = offerVersion;
      filter.checkedResult = result;
    }
    return result;
  }
}
