/**
 * Refuse filters: after a framework declines resources on an agent for a
 * role, offers of those resources (or a subset) to that framework and role
 * are skipped until the filter expires or the framework revives.
 *
 * Filters are indexed per agent, then per role, by dense framework index,
 * and are built for the case that dominates busy clusters: many frameworks
 * declining the same whole agent. Such a filter refuses exactly the agent's
 * "group" resources and costs one bit plus one expiry slot, so ten million
 * of them fit in memory; checking one is a bit test. The agent counts the
 * (role, framework) pairs in its group: when that count reaches the number
 * of frameworks that could take the agent and the group still covers what
 * the agent has left, the whole agent is skipped without looking at any
 * framework. Filters refusing something else are kept as objects.
 *
 * Containment checks are cached against a version of the offer being
 * checked (the agent's availability version when the offer is the agent's
 * whole availability), so re-checking an unchanged agent is free. Expiry is
 * lazy: a heap of expiry times is drained at the start of each cycle.
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

/**
 * Word where row offsets start counting. A large typed array's memory comes
 * from glibc's `mmap` path, 16 bytes past a page boundary; starting at word
 * 12 (48 bytes) puts rows on 64-byte lines, so a 128-byte row (1,000
 * frameworks) spans two cache lines, not three. Measured at 10k agents x 1k
 * frameworks: 0.974-0.984 of the cycle time with rows counted from word 0,
 * and 0.96-0.99 of it from word 4 (lines at 32 bytes into a row).
 */
const ROW_ORIGIN = 12;

/** Below this many entries the expiry heap is never rebuilt (see `OfferFilterIndex.add`). */
const COMPACT_MIN_ENTRIES = 4096;

/**
 * The bit words of every group-filter set of one allocator, in one typed
 * array: a set is a row of it (a power of two of words, starting a
 * multiple of its length past `ROW_ORIGIN`). Checking a set then reads its row and no typed
 * array object of its own (one cache line and one dependent load less per
 * agent visit), and the rows of all agents sit in one block of memory.
 */
export class WordSlab {
  words = new Uint32Array(4096);
  private top = ROW_ORIGIN;
  /** Released rows by length. */
  private readonly free = new Map<number, number[]>();

  /** A zeroed row of `n` words (a power of two); returns its offset. */
  alloc(n: number): number {
    const reused = this.free.get(n)?.pop();
    if (reused !== undefined) return reused;
    const at = ((this.top - ROW_ORIGIN + n - 1) & ~(n - 1)) + ROW_ORIGIN;
    let size = this.words.length;
    while (at + n > size) size *= 2;
    if (size !== this.words.length) {
      const grown = new Uint32Array(size);
      grown.set(this.words);
      this.words = grown;
    }
    this.top = at + n;
    return at;
  }

  release(offset: number, n: number): void {
    this.words.fill(0, offset, offset + n);
    let list = this.free.get(n);
    if (list === undefined) {
      list = [];
      this.free.set(n, list);
    }
    list.push(offset);
  }
}

/**
 * The group filters of one role on one agent: the member frameworks (a row
 * of the slab's words, 32 frameworks per word) plus expiries.
 */
export class GroupSlots {
  /** Offset of the row in `slab.words` and its length in words. */
  offset: number;
  rowWords = 4;
  size = 0;
  readonly slab: WordSlab;
  /** Expiry (monotonic ms) by framework index. */
  expiry = new Float64Array(8);

  constructor(slab: WordSlab) {
    this.slab = slab;
    this.offset = slab.alloc(this.rowWords);
  }

  has(i: number): boolean {
    const w = i >>> 5;
    return (
      w < this.rowWords && ((this.slab.words[this.offset + w] as number) & (1 << (i & 31))) !== 0
    );
  }

  add(i: number): void {
    const w = i >>> 5;
    if (w >= this.rowWords) this.grow(w + 1);
    const words = this.slab.words;
    const at = this.offset + w;
    const bit = 1 << (i & 31);
    if (((words[at] as number) & bit) === 0) {
      words[at] = (words[at] as number) | bit;
      this.size++;
    }
  }

  delete(i: number): void {
    const w = i >>> 5;
    if (w >= this.rowWords) return;
    const words = this.slab.words;
    const at = this.offset + w;
    const bit = 1 << (i & 31);
    if (((words[at] as number) & bit) !== 0) {
      words[at] = (words[at] as number) & ~bit;
      this.size--;
    }
  }

  /** Calls `fn` with every member, in increasing order. */
  forEachMember(fn: (i: number) => void): void {
    const words = this.slab.words;
    for (let w = 0; w < this.rowWords; w++) {
      let bits = words[this.offset + w] as number;
      while (bits !== 0) {
        const low = bits & -bits;
        fn(w * 32 + 31 - Math.clz32(low));
        bits ^= low;
      }
    }
  }

  /** Gives the row back to the slab (the set is not used afterwards). */
  release(): void {
    this.slab.release(this.offset, this.rowWords);
    this.size = 0;
  }

  private grow(minWords: number): void {
    let n = this.rowWords;
    while (n < minWords) n *= 2;
    const slab = this.slab;
    const offset = slab.alloc(n);
    // (`alloc` may have replaced the words array: read it after.)
    slab.words.copyWithin(offset, this.offset, this.offset + this.rowWords);
    slab.release(this.offset, this.rowWords);
    this.offset = offset;
    this.rowWords = n;
  }

  setExpiry(frameworkIndex: number, at: number): void {
    if (frameworkIndex >= this.expiry.length) {
      let n = this.expiry.length;
      while (n <= frameworkIndex) n *= 2;
      const grown = new Float64Array(n);
      grown.set(this.expiry);
      this.expiry = grown;
    }
    this.expiry[frameworkIndex] = at;
  }
}

/** The filters on one agent (fields in the order a cycle's visit reads them). */
export class AgentFilters {
  /** Bumped whenever a filter goes away (so memos of "nobody takes it" expire). */
  stamp = 0;
  /** Number of filters. */
  count = 0;
  /** (role, framework) pairs holding a group filter. */
  groupPairs = 0;
  /** Resources refused by the group filters. */
  groupRep: Resources | undefined;
  private groupCheckVersion = -1;
  private groupCheckResult = false;
  /** The last role looked up and its slots: nearly every agent has filters of one role only. */
  private cachedRole = -1;
  private cachedSlots: GroupSlots | undefined;
  /**
   * The cached slots' row (offset and length in the slab's words) and size,
   * copied here: a visit tests bits in the row without reading the slots
   * object (one cache line and one dependent load less per agent).
   */
  slotOffset = 0;
  slotWords = 0;
  slotSize = 0;
  othersCount = 0;
  readonly groups = new Map<number, GroupSlots>();
  /** Filters refusing something other than the group, by role then framework. */
  /** (Made on first use: most agents never have one; a map per agent is memory in the way.) */
  others: Map<number, Map<number, OfferFilter[]>> | undefined;
  readonly agentIndex: number;

  constructor(agentIndex: number) {
    this.agentIndex = agentIndex;
  }

  /** The group slots of a role (a one-entry cache in front of the map). */
  slotsFor(roleIndex: number): GroupSlots | undefined {
    if (roleIndex === this.cachedRole) return this.cachedSlots;
    const slots = this.groups.get(roleIndex);
    this.cachedRole = roleIndex;
    this.cachedSlots = slots;
    this.slotOffset = slots?.offset ?? 0;
    this.slotWords = slots?.rowWords ?? 0;
    this.slotSize = slots?.size ?? 0;
    return slots;
  }

  /** Refreshes the copied row and size after `slots` changed (see `slotOffset`). */
  slotsChanged(slots: GroupSlots): void {
    if (slots !== this.cachedSlots) return;
    this.slotOffset = slots.offset;
    this.slotWords = slots.rowWords;
    this.slotSize = slots.size;
  }

  /**
   * Whether framework `i` is in the slots `slotsFor` returned last (given
   * the slab's words): the copied row, no read of the slots object.
   */
  slotHas(words: Uint32Array, i: number): boolean {
    const w = i >>> 5;
    return w < this.slotWords && ((words[this.slotOffset + w] as number) & (1 << (i & 31))) !== 0;
  }

  setSlots(roleIndex: number, slots: GroupSlots): void {
    this.groups.set(roleIndex, slots);
    this.cachedRole = -1;
  }

  deleteSlots(roleIndex: number): void {
    this.groups.get(roleIndex)?.release();
    this.groups.delete(roleIndex);
    this.cachedRole = -1;
  }

  clearSlots(): void {
    for (const slots of this.groups.values()) slots.release();
    this.groups.clear();
    this.cachedRole = -1;
  }

  /**
   * Loads the cache lines of the cached slots' row of words (first and
   * last word; see `AgentState.warm`). Returns a number only so the loads
   * are kept.
   */
  warmRow(words: Uint32Array): number {
    const n = this.slotWords;
    if (n === 0) return this.stamp;
    // One word per cache line (and the last word: a row of a thousand
    // frameworks spans three lines when the slab's memory is not laid out
    // as `ROW_ORIGIN` expects).
    const from = this.slotOffset;
    let sink = words[from + n - 1] as number;
    for (let w = 0; w < n; w += 16) sink ^= words[from + w] as number;
    return sink;
  }

  /** Frameworks of a role holding a group filter here. */
  groupFor(roleIndex: number): GroupSlots | undefined {
    return this.slotsFor(roleIndex);
  }

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
    this.set(i, time, agent, role, framework);
  }

  peekTime(): number {
    return this.size === 0 ? Number.POSITIVE_INFINITY : (this.times[0] as number);
  }

  /** Removes the top into `out` as [agent, role, framework]. */
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
    this.set(i, time, a, r, f);
  }

  clear(): void {
    this.size = 0;
  }

  /** Empties the heap into new storage for about `capacity` entries (so it can shrink). */
  reset(capacity: number): void {
    let n = 1024;
    while (n < capacity) n *= 2;
    this.times = new Float64Array(n);
    this.refs = new Int32Array(3 * n);
    this.size = 0;
  }

  private set(i: number, time: number, a: number, r: number, f: number): void {
    this.times[i] = time;
    this.refs[3 * i] = a;
    this.refs[3 * i + 1] = r;
    this.refs[3 * i + 2] = f;
  }

  private move(from: number, to: number): void {
    this.set(
      to,
      this.times[from] as number,
      this.refs[3 * from] as number,
      this.refs[3 * from + 1] as number,
      this.refs[3 * from + 2] as number,
    );
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
  private readonly slab = new WordSlab();

  /** The words of every group-filter set's row (see `AgentFilters.slotOffset`). */
  get slabWords(): Uint32Array {
    return this.slab.words;
  }
  private readonly withFilters = new Set<AgentFilters>();
  private readonly byRole = new Map<number, number>();
  private readonly scratch = new Int32Array(3);

  /** Number of filters (kept by `bumpRole`). */
  private live = 0;

  /** Total number of filters. */
  get size(): number {
    return this.live;
  }

  /** Entries waiting in the expiry heap (live filters plus those removed or extended before expiring). */
  get pendingExpiries(): number {
    return this.heap.size;
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
    if (af.groupPairs === 0) {
      af.groupRep = refused;
      af.resetGroupCache();
    }
    const rep = af.groupRep as Resources;
    if (rep === refused || rep.equals(refused)) {
      let slots = af.slotsFor(roleIndex);
      if (slots === undefined) {
        slots = new GroupSlots(this.slab);
        af.setSlots(roleIndex, slots);
      }
      if (slots.has(frameworkIndex)) {
        // Same resources refused again: the later expiry wins.
        const prior = slots.expiry[frameworkIndex] as number;
        if (expiresAt > prior) slots.setExpiry(frameworkIndex, expiresAt);
      } else {
        slots.add(frameworkIndex);
        af.slotsChanged(slots);
        slots.setExpiry(frameworkIndex, expiresAt);
        af.groupPairs++;
        this.counted(af, roleIndex, +1);
      }
    } else {
      let byFramework = af.others?.get(roleIndex);
      if (byFramework === undefined) {
        byFramework = new Map();
        af.others ??= new Map();
        af.others.set(roleIndex, byFramework);
      }
      const list = byFramework.get(frameworkIndex);
      const filter = new OfferFilter(refused, expiresAt);
      if (list === undefined) byFramework.set(frameworkIndex, [filter]);
      else list.push(filter);
      af.othersCount++;
      this.counted(af, roleIndex, +1);
    }
    this.heap.push(expiresAt, af.agentIndex, roleIndex, frameworkIndex);
    // A revive or a removal leaves the filters' entries in the heap until
    // their time: with long filters (declines with refuse_seconds of days or
    // more, then revives) they would pile up without end. Once they
    // outnumber the live filters, the heap is rebuilt from the live ones.
    const pending = this.heap.size;
    if (pending >= COMPACT_MIN_ENTRIES && pending > 2 * this.live) this.rebuildHeap();
  }

  /** Refills the expiry heap with one entry per live filter (amortized: at least half of it was stale). */
  private rebuildHeap(): void {
    const heap = this.heap;
    heap.reset(2 * this.live);
    for (const af of this.withFilters) {
      const agent = af.agentIndex;
      for (const [roleIndex, slots] of af.groups) {
        slots.forEachMember((i) => heap.push(slots.expiry[i] as number, agent, roleIndex, i));
      }
      for (const [roleIndex, byFramework] of af.others ?? []) {
        for (const [frameworkIndex, list] of byFramework) {
          for (const filter of list) heap.push(filter.expiresAt, agent, roleIndex, frameworkIndex);
        }
      }
    }
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
    if (af.count === 0) return false;
    if (
      af.slotsFor(roleIndex) !== undefined &&
      af.slotHas(this.slab.words, frameworkIndex) &&
      af.groupCovers(offer, offerVersion)
    ) {
      return true;
    }
    if (af.othersCount === 0) return false;
    const list = af.others?.get(roleIndex)?.get(frameworkIndex);
    if (list === undefined) return false;
    for (const filter of list) {
      if (offerVersion >= 0 && filter.checkedVersion === offerVersion) {
        if (filter.checkedResult) return true;
        continue;
      }
      const result = filter.refused === offer || filter.refused.contains(offer);
      if (offerVersion >= 0) {
        filter.checkedVersion = offerVersion;
        filter.checkedResult = result;
      }
      if (result) return true;
    }
    return false;
  }

  /**
   * `isFiltered` from the filter objects alone: no caches, no copies of the
   * slots' row (the straight-port baseline's check, so the reference test
   * compares the indexed answer with an independent one).
   */
  isFilteredPlain(
    af: AgentFilters,
    roleIndex: number,
    frameworkIndex: number,
    offer: Resources,
  ): boolean {
    const rep = af.groupRep;
    if (af.groups.get(roleIndex)?.has(frameworkIndex) === true && rep?.contains(offer) === true) {
      return true;
    }
    const list = af.others?.get(roleIndex)?.get(frameworkIndex) ?? [];
    return list.some((filter) => filter.refused.contains(offer));
  }

  /** Whether (role, framework) has any filter on this agent. */
  hasFilter(af: AgentFilters, roleIndex: number, frameworkIndex: number): boolean {
    return (
      af.slotsFor(roleIndex)?.has(frameworkIndex) === true ||
      af.others?.get(roleIndex)?.has(frameworkIndex) === true
    );
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
        continue;
      }
      const roles = new Set([...af.groups.keys(), ...(af.others?.keys() ?? [])]);
      for (const r of roles) this.removePair(af, r, frameworkIndex);
    }
  }

  /** Removes the filters of one (role, framework) pair on one agent. */
  removePair(af: AgentFilters, roleIndex: number, frameworkIndex: number): void {
    const slots = af.slotsFor(roleIndex);
    if (slots?.has(frameworkIndex) === true)
      this.dropGroupSlot(af, slots, roleIndex, frameworkIndex);
    const byFramework = af.others?.get(roleIndex);
    const list = byFramework?.get(frameworkIndex);
    if (byFramework !== undefined && list !== undefined) {
      byFramework.delete(frameworkIndex);
      if (byFramework.size === 0) af.others?.delete(roleIndex);
      af.othersCount -= list.length;
      this.counted(af, roleIndex, -list.length);
    }
  }

  /** Removes every filter on an agent. */
  clearAgent(af: AgentFilters): void {
    for (const [roleIndex, slots] of af.groups) this.bumpRole(roleIndex, -slots.size);
    for (const [roleIndex, byFramework] of af.others ?? []) {
      let n = 0;
      for (const list of byFramework.values()) n += list.length;
      this.bumpRole(roleIndex, -n);
    }
    af.clearSlots();
    af.others = undefined;
    af.othersCount = 0;
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

  /** Drops everything. */
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
    let removed = 0;
    const slots = af.slotsFor(roleIndex);
    if (slots?.has(frameworkIndex) === true && (slots.expiry[frameworkIndex] as number) <= now) {
      this.dropGroupSlot(af, slots, roleIndex, frameworkIndex);
      removed++;
    }
    const byFramework = af.others?.get(roleIndex);
    const list = byFramework?.get(frameworkIndex);
    if (byFramework !== undefined && list !== undefined) {
      const kept = list.filter((f) => f.expiresAt > now);
      const gone = list.length - kept.length;
      if (gone > 0) {
        if (kept.length === 0) {
          byFramework.delete(frameworkIndex);
          if (byFramework.size === 0) af.others?.delete(roleIndex);
        } else {
          byFramework.set(frameworkIndex, kept);
        }
        af.othersCount -= gone;
        this.counted(af, roleIndex, -gone);
        removed += gone;
      }
    }
    return removed;
  }

  private dropGroupSlot(
    af: AgentFilters,
    slots: GroupSlots,
    roleIndex: number,
    frameworkIndex: number,
  ): void {
    slots.delete(frameworkIndex);
    af.slotsChanged(slots);
    if (slots.size === 0) af.deleteSlots(roleIndex);
    af.groupPairs--;
    if (af.groupPairs === 0) {
      af.groupRep = undefined;
      af.resetGroupCache();
    }
    this.counted(af, roleIndex, -1);
  }

  /** Bookkeeping after filters of a role came to (or left) an agent. */
  private counted(af: AgentFilters, roleIndex: number, delta: number): void {
    af.count += delta;
    this.bumpRole(roleIndex, delta);
    if (delta < 0) af.stamp++;
    if (delta > 0 && af.count === delta) this.withFilters.add(af);
    else if (af.count === 0) this.withFilters.delete(af);
  }

  private bumpRole(roleIndex: number, delta: number): void {
    this.live += delta;
    this.byRole.set(roleIndex, (this.byRole.get(roleIndex) ?? 0) + delta);
  }
}
