/**
 * Weighted Dominant Resource Fairness over a tree of clients.
 *
 * A client's share is its largest fraction of any pool resource (excluding
 * `--fair_sharing_excluded_resource_names`), divided by its weight. Siblings
 * are ordered by (share, allocation count, path); the sort order of the whole
 * tree is the pre-order walk of those sibling orders, so `a/b` and `a/c`
 * compete inside `a`'s position.
 *
 * Unlike a sort-on-demand design, each change of one client's allocation
 * moves that client (and its ancestors) to their new positions at once
 * (binary search in chunked lists), so `sort()` is normally a cached array
 * and `first()` walks only as far as the caller needs. Only a change of the
 * pool (agents added or removed) makes every share stale; then the next read
 * recomputes and re-sorts everything once.
 */

import {
  addInto,
  type Quantities,
  type QuantitiesView,
  type ResourceNames,
  subtractInto,
} from "../quantities.js";
import { type Chunk, SortedList } from "./sorted-list.js";
import { DEFAULT_WEIGHT, pathLabels, type Sorter, SorterPool } from "./sorter.js";

const ACTIVE_LEAF = 0;
const INACTIVE_LEAF = 1;
const INTERNAL = 2;
type NodeKind = typeof ACTIVE_LEAF | typeof INACTIVE_LEAF | typeof INTERNAL;

/** Ranks stay below this (small integers: V8 keeps them in the node, unboxed). */
const RANK_LIMIT = 2 ** 30 - 1;
/** Gap left after a sibling added last (or first) in path order. */
const RANK_STEP = 2 ** 12;

/** Label of the implicit leaf for a client that also has sub-clients. */
const VIRTUAL = ".";

class DrfNode {
  // What a walk and a comparison read come first, in one cache line (V8
  // lays fields out in declaration order; an offer's move in the order
  // compares a dozen nodes of other frameworks).
  share = 0;
  count = 0;
  kind: NodeKind;
  /** The caller's index of the client this leaf stands for (-1: none). */
  index = -1;
  /**
   * Place of the path among its siblings' paths (set by `DrfSorter.rank`):
   * the last tie-breaker is one number in this line, not a string compare
   * reading two more objects (shares and counts tie often: frameworks
   * offered the same so far).
   */
  rank = 0;
  readonly path: string;
  /**
   * The client this leaf stands for (`a` for the virtual leaf `a/.`); the
   * very string given to `add`, so a lookup by index confirms it by identity.
   */
  client: string;
  weight: number;
  alloc: Quantities = [];
  readonly parent: DrfNode | null;
  readonly name: string;
  /**
   * All children by label, and the active ones in DRF order. A leaf shares
   * empty ones (see `makeInner`): no map and list per framework, so a
   * framework's node and its share sit close together in memory.
   */
  byName: Map<string, DrfNode>;
  sorted: SortedList<DrfNode>;
  /** All children in path order (their `rank` is their place here). */
  byPath: DrfNode[];

  constructor(name: string, kind: NodeKind, parent: DrfNode | null, path: string, weight: number) {
    this.kind = kind;
    this.path = path;
    this.client = name === VIRTUAL && parent !== null ? parent.path : path;
    this.weight = weight;
    this.parent = parent;
    this.name = name;
    this.byName = kind === INTERNAL ? new Map() : NO_CHILDREN;
    this.sorted = kind === INTERNAL ? new SortedList<DrfNode>(compareDrf) : NO_ORDER;
    this.byPath = kind === INTERNAL ? [] : NO_PATHS;
  }

  /** Gives the node a map and list of its own before it gets children. */
  makeInner(): void {
    if (this.byName === NO_CHILDREN) this.byName = new Map();
    if (this.sorted === NO_ORDER) this.sorted = new SortedList<DrfNode>(compareDrf);
    if (this.byPath === NO_PATHS) this.byPath = [];
  }

  /** The client this leaf stands for (`a` for the virtual leaf `a/.`). */
  clientPath(): string {
    return this.client;
  }
}

/** The children of every leaf: empty, never changed (see `DrfNode.makeInner`). */
const NO_CHILDREN: Map<string, DrfNode> = new Map();
const NO_ORDER: SortedList<DrfNode> = new SortedList<DrfNode>(compareDrf);
const NO_PATHS: DrfNode[] = [];

/** Siblings in DRF order: share, allocation count, then path (as `rank`). */
function compareDrf(a: DrfNode, b: DrfNode): number {
  if (a.share !== b.share) return a.share < b.share ? -1 : 1;
  if (a.count !== b.count) return a.count < b.count ? -1 : 1;
  return a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : 0;
}

/**
 * The first active client under `node` in DRF order that `accept` takes.
 * Plain loops, no closures: a cycle calls this for every agent it visits.
 */
function firstBelow(
  node: DrfNode,
  skip: Uint32Array | undefined,
  skipOffset: number,
  skipWords: number,
  accept: (client: string, index: number) => boolean,
): string | undefined {
  const chunks = node.sorted.chunkArrays();
  for (let c = 0; c < chunks.length; c++) {
    const chunk = chunks[c] as Chunk<DrfNode>;
    const items = chunk.items;
    const end = chunk.lo + chunk.n;
    for (let i = chunk.lo; i < end; i++) {
      const child = items[i] as DrfNode;
      if (child.kind === ACTIVE_LEAF) {
        const index = child.index;
        if (
          skip !== undefined &&
          index >= 0 &&
          index >>> 5 < skipWords &&
          ((skip[skipOffset + (index >>> 5)] as number) & (1 << (index & 31))) !== 0
        ) {
          continue;
        }
        const path = child.clientPath();
        if (accept(path, index)) return path;
      } else {
        const found = firstBelow(child, skip, skipOffset, skipWords, accept);
        if (found !== undefined) return found;
      }
    }
  }
  return undefined;
}

export interface DrfSorterOptions {
  names: ResourceNames;
  /** Resource names left out of share calculations. */
  excludedResourceNames?: ReadonlySet<string>;
  /** Shared pool; by default the sorter owns one. */
  pool?: SorterPool;
  /** Benchmark baseline: forget the order on every change (full re-sort on each read). */
  resortOnEveryChange?: boolean;
}

export class DrfSorter implements Sorter {
  private readonly root = new DrfNode("", INTERNAL, null, "", DEFAULT_WEIGHT);
  private readonly clients = new Map<string, DrfNode>();
  /**
   * The client looked up last and its leaf: an offer or a decline asks
   * `contains` and then `allocated` for the same framework, and a hash
   * lookup reads cold lines of a table with one entry per framework.
   * Forgotten whenever `clients` changes.
   */
  private lastClient: string | undefined;
  private lastLeaf: DrfNode | undefined;
  /**
   * Leaves by the caller's client index (see `add`): an offer or a decline
   * passing the index finds the leaf without hashing the name into a table
   * with one entry per framework (cold lines on every offer at 1,000
   * frameworks). Dense: filled up to the largest index.
   */
  private readonly byIndex: (DrfNode | undefined)[] = [];
  private readonly weights = new Map<string, number>();
  private readonly names: ResourceNames;
  private readonly excludedNames: ReadonlySet<string> | undefined;
  private readonly pool: SorterPool;
  private excludedMask: boolean[] = [];
  private dirty = false;
  private poolVersion: number;
  private orderVersion = 0;
  private cacheVersion = -1;
  private cache: readonly string[] = [];
  private activeClients = 0;
  private readonly resortAlways: boolean;

  constructor(options: DrfSorterOptions) {
    this.resortAlways = options.resortOnEveryChange === true;
    this.names = options.names;
    this.excludedNames = options.excludedResourceNames;
    this.pool = options.pool ?? new SorterPool();
    this.poolVersion = this.pool.version;
  }

  add(client: string, index = -1): void {
    if (this.clients.has(client)) throw new Error(`drf sorter: client ${client} added twice`);
    const labels = pathLabels(client);
    let current = this.root;
    let t = 0;
    for (;;) {
      if (t === labels.length) {
        // Every label exists already as an inner node: add its implicit leaf.
        current = this.attach(current, VIRTUAL, INACTIVE_LEAF);
        t = labels.length;
        break;
      }
      if (current !== this.root && current.kind !== INTERNAL) {
        // A client that gains sub-clients becomes an inner node; its own
        // allocation moves to a new implicit leaf below it.
        this.convertToInternal(current);
        break;
      }
      const child = current.byName.get(labels[t] as string);
      if (child === undefined) break;
      current = child;
      t++;
    }
    for (; t < labels.length; t++) {
      const kind = t === labels.length - 1 ? INACTIVE_LEAF : INTERNAL;
      current = this.attach(current, labels[t] as string, kind);
    }
    current.index = index;
    current.client = client;
    this.indexLeaf(current);
    this.clients.set(client, current);
    this.lastClient = undefined;
    this.orderVersion++;
  }

  remove(client: string): void {
    const leaf = this.leaf(client);
    if (leaf.kind === ACTIVE_LEAF) this.activeClients--;
    const leafAlloc = leaf.alloc;
    if (leaf.index >= 0 && this.byIndex[leaf.index] === leaf) this.byIndex[leaf.index] = undefined;
    this.clients.delete(client);
    this.lastClient = undefined;
    let hadAllocation = false;
    for (let i = 0; i < leafAlloc.length; i++) if (leafAlloc[i] !== 0) hadAllocation = true;
    if (hadAllocation) this.dirty = true;

    let current: DrfNode = leaf;
    while (current !== this.root) {
      const parent = current.parent as DrfNode;
      if (hadAllocation) subtractInto(parent.alloc, leafAlloc);
      if (current === leaf || current.byName.size === 0) {
        this.detach(current);
      } else if (current.byName.size === 1) {
        const only = current.byName.get(VIRTUAL);
        if (only !== undefined) {
          // Back to a plain client: fold the implicit leaf into its parent.
          this.detach(only);
          this.unlist(current);
          current.kind = only.kind;
          current.alloc = only.alloc;
          current.count = only.count;
          current.index = only.index;
          current.client = only.client;
          this.indexLeaf(current);
          this.list(current);
          this.clients.set(current.path, current);
          this.lastClient = undefined;
        }
      }
      current = parent;
    }
    this.orderVersion++;
  }

  activate(client: string): void {
    const leaf = this.leaf(client);
    if (leaf.kind !== INACTIVE_LEAF) return;
    leaf.kind = ACTIVE_LEAF;
    this.activeClients++;
    this.list(leaf);
    this.orderVersion++;
  }

  deactivate(client: string): void {
    const leaf = this.leaf(client);
    if (leaf.kind !== ACTIVE_LEAF) return;
    this.unlist(leaf);
    leaf.kind = INACTIVE_LEAF;
    this.activeClients--;
    this.orderVersion++;
  }

  updateWeight(path: string, weight: number): void {
    this.weights.set(path, weight);
    const node = this.nodeAt(path);
    if (node === undefined) return;
    this.unlist(node);
    node.weight = weight;
    this.list(node);
    this.orderVersion++;
  }

  allocated(client: string, quantities: QuantitiesView, index = -1): void {
    const keepSorted = !this.isDirty();
    for (let cur = this.leaf(client, index); cur !== this.root; cur = cur.parent as DrfNode) {
      const listed = keepSorted && cur.kind !== INACTIVE_LEAF;
      const siblings = (cur.parent as DrfNode).sorted;
      if (listed) siblings.remove(cur);
      addInto(cur.alloc, quantities);
      cur.count++;
      if (listed) {
        this.refreshShare(cur);
        siblings.insert(cur);
      }
    }
    addInto(this.root.alloc, quantities);
    this.root.count++;
    this.changed();
  }

  unallocated(client: string, quantities: QuantitiesView, index = -1): void {
    const keepSorted = !this.isDirty();
    for (let cur = this.leaf(client, index); cur !== this.root; cur = cur.parent as DrfNode) {
      const listed = keepSorted && cur.kind !== INACTIVE_LEAF;
      const siblings = (cur.parent as DrfNode).sorted;
      if (listed) siblings.remove(cur);
      subtractInto(cur.alloc, quantities);
      if (listed) {
        this.refreshShare(cur);
        siblings.insert(cur);
      }
    }
    subtractInto(this.root.alloc, quantities);
    this.changed();
  }

  allocation(client: string): QuantitiesView {
    return this.leaf(client).alloc;
  }

  totalAllocation(): QuantitiesView {
    return this.root.alloc;
  }

  addAgent(agentId: string, quantities: QuantitiesView): void {
    this.pool.addAgent(agentId, quantities);
  }

  removeAgent(agentId: string): void {
    this.pool.removeAgent(agentId);
  }

  sort(): readonly string[] {
    if (this.isDirty()) this.resort();
    if (this.cacheVersion !== this.orderVersion) {
      const out: string[] = [];
      const walk = (node: DrfNode): void => {
        node.sorted.forEach((child) => {
          if (child.kind === ACTIVE_LEAF) out.push(child.clientPath());
          else walk(child);
        });
      };
      walk(this.root);
      this.cache = Object.freeze(out);
      this.cacheVersion = this.orderVersion;
    }
    return this.cache;
  }

  first(accept: (client: string) => boolean): string | undefined {
    if (this.isDirty()) this.resort();
    if (this.activeClients === 0) return undefined;
    return firstBelow(this.root, undefined, 0, 0, accept);
  }

  firstSkipping(
    skip: Uint32Array,
    skipOffset: number,
    skipWords: number,
    accept: (client: string, index: number) => boolean,
  ): string | undefined {
    if (this.isDirty()) this.resort();
    if (this.activeClients === 0) return undefined;
    return firstBelow(this.root, skip, skipOffset, skipWords, accept);
  }

  warmFront(count: number, out: number[]): number {
    if (this.isDirty()) this.resort();
    const chunks = this.root.sorted.chunkArrays();
    let n = 0;
    let sink = 0;
    for (let c = 0; c < chunks.length && n < count; c++) {
      const chunk = chunks[c] as Chunk<DrfNode>;
      const items = chunk.items;
      const end = chunk.lo + chunk.n;
      for (let i = chunk.lo; i < end && n < count; i++) {
        const node = items[i] as DrfNode;
        if (node.kind !== ACTIVE_LEAF) continue;
        // The node's lines, its share's number and its allocation's storage.
        sink += node.share + node.weight + ((node.alloc[0] as number | undefined) ?? 0);
        out[n++] = node.index;
      }
    }
    this.warmSink = sink;
    return n;
  }

  /** Keeps the loads of `warmFront` from being optimized away. */
  warmSink = 0;

  compare(a: string, b: string): number {
    if (this.isDirty()) this.resort();
    const x = this.leaf(a);
    const y = this.leaf(b);
    if (x.parent === y.parent) return compareDrf(x, y);
    // Different branches: compare the ancestors that are siblings.
    const depth = (n: DrfNode) => {
      let d = 0;
      for (let c: DrfNode | null = n; c !== null; c = c.parent) d++;
      return d;
    };
    let p = x;
    let q = y;
    let dp = depth(p);
    let dq = depth(q);
    while (dp > dq) {
      p = p.parent as DrfNode;
      dp--;
    }
    while (dq > dp) {
      q = q.parent as DrfNode;
      dq--;
    }
    if (p === q) return x === p ? -1 : 1;
    while (p.parent !== q.parent) {
      p = p.parent as DrfNode;
      q = q.parent as DrfNode;
    }
    return compareDrf(p, q);
  }

  share(client: string): number {
    // Computed, not read: an inactive leaf's stored share is not kept up to date.
    const node = this.leaf(client);
    const stored = node.share;
    this.refreshShare(node);
    const share = node.share;
    node.share = stored;
    return share;
  }

  contains(client: string, index = -1): boolean {
    return this.lookup(client, index) !== undefined;
  }

  isActive(client: string): boolean {
    return this.lookup(client)?.kind === ACTIVE_LEAF;
  }

  count(): number {
    return this.clients.size;
  }

  activeCount(): number {
    return this.activeClients;
  }

  private isDirty(): boolean {
    return this.dirty || this.poolVersion !== this.pool.version;
  }

  private changed(): void {
    this.orderVersion++;
    if (this.resortAlways) this.dirty = true;
  }

  /** Recomputes every share and re-sorts every level. */
  private resort(): void {
    this.refreshExcluded();
    const walk = (node: DrfNode): void => {
      const items: DrfNode[] = [];
      for (const child of node.byName.values()) {
        if (child.kind === INACTIVE_LEAF) continue;
        this.refreshShare(child);
        items.push(child);
        if (child.kind === INTERNAL) walk(child);
      }
      node.sorted.rebuild(items);
    };
    walk(this.root);
    this.dirty = false;
    this.poolVersion = this.pool.version;
    this.orderVersion++;
  }

  /**
   * Sets `node.share` (the weighted dominant share). It stores rather than
   * returns: a double returned from a call that is not inlined is boxed in
   * a new heap number, two per offer and two per decline otherwise.
   */
  private refreshShare(node: DrfNode): void {
    const total = this.pool.total;
    const alloc = node.alloc;
    if (this.excludedMask.length < this.names.size) this.refreshExcluded();
    const mask = this.excludedMask;
    let share = 0;
    const n = Math.min(total.length, alloc.length);
    for (let i = 0; i < n; i++) {
      const t = total[i] as number;
      if (t <= 0 || mask[i] === true) continue;
      const s = (alloc[i] as number) / t;
      if (s > share) share = s;
    }
    node.share = share / node.weight;
  }

  private refreshExcluded(): void {
    const mask: boolean[] = [];
    for (let i = 0; i < this.names.size; i++) {
      mask.push(this.excludedNames?.has(this.names.name(i)) === true);
    }
    this.excludedMask = mask;
  }

  /** `clients.get` behind the index (see `byIndex`) and the one-entry cache (see `lastClient`). */
  private lookup(client: string, index = -1): DrfNode | undefined {
    if (index >= 0) {
      const byIndex = this.byIndex[index];
      if (byIndex !== undefined && byIndex.client === client) return byIndex;
    }
    if (client === this.lastClient) return this.lastLeaf;
    const node = this.clients.get(client);
    if (node !== undefined) {
      this.lastClient = client;
      this.lastLeaf = node;
    }
    return node;
  }

  private leaf(client: string, index = -1): DrfNode {
    const node = this.lookup(client, index);
    if (node === undefined) throw new Error(`drf sorter: unknown client ${client}`);
    return node;
  }

  /** The tree node at `path` (an inner node, or a client's leaf). */
  private nodeAt(path: string): DrfNode | undefined {
    let node: DrfNode | undefined = this.root;
    for (const label of pathLabels(path)) {
      node = node.byName.get(label);
      if (node === undefined) return undefined;
    }
    return node;
  }

  private attach(parent: DrfNode, name: string, kind: NodeKind): DrfNode {
    const path = parent === this.root ? name : `${parent.path}/${name}`;
    const node = new DrfNode(name, kind, parent, path, this.weights.get(path) ?? DEFAULT_WEIGHT);
    parent.makeInner();
    parent.byName.set(name, node);
    this.rank(parent, node);
    this.list(node);
    return node;
  }

  /**
   * Puts a new child into its parent's path order and gives it a rank
   * between its neighbours'. Ranks are spaced out (appends step by
   * `RANK_STEP`, others take the middle of the gap), so adding a client
   * seldom renumbers its siblings; when there is no room, all are
   * renumbered evenly. Renumbering keeps the siblings' relative order, so
   * their places in the parent's sorted list stay valid.
   */
  private rank(parent: DrfNode, node: DrfNode): void {
    const order = parent.byPath;
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((order[mid] as DrfNode).path < node.path) lo = mid + 1;
      else hi = mid;
    }
    order.splice(lo, 0, node);
    const last = order.length - 1;
    const low = lo > 0 ? (order[lo - 1] as DrfNode).rank : 0;
    const high = lo < last ? (order[lo + 1] as DrfNode).rank : RANK_LIMIT;
    let rank = low + Math.floor((high - low) / 2);
    if (lo === last && lo > 0 && low + RANK_STEP < high) rank = low + RANK_STEP;
    else if (lo === 0 && last > 0 && high - RANK_STEP > low) rank = high - RANK_STEP;
    if (rank > low && rank < high) {
      node.rank = rank;
      return;
    }
    const spacing = Math.max(1, Math.floor(RANK_LIMIT / (order.length + 1)));
    for (let i = 0; i < order.length; i++) (order[i] as DrfNode).rank = (i + 1) * spacing;
  }

  /** Records a leaf under its client index (see `byIndex`). */
  private indexLeaf(leaf: DrfNode): void {
    const index = leaf.index;
    if (index < 0) return;
    const byIndex = this.byIndex;
    // Filled densely (holes would turn the array into a dictionary); an
    // index far beyond the clients (a role with a few of many frameworks)
    // is looked up by name instead.
    if (index >= byIndex.length) {
      if (index > 4 * this.clients.size + 64) return;
      while (byIndex.length <= index) byIndex.push(undefined);
    }
    byIndex[index] = leaf;
  }

  private detach(node: DrfNode): void {
    const parent = node.parent as DrfNode;
    this.unlist(node);
    parent.byName.delete(node.name);
    const order = parent.byPath;
    const at = order.indexOf(node);
    if (at >= 0) order.splice(at, 1);
  }

  private convertToInternal(node: DrfNode): void {
    this.unlist(node);
    const oldKind = node.kind;
    node.kind = INTERNAL;
    const virt = new DrfNode(VIRTUAL, oldKind, node, `${node.path}/${VIRTUAL}`, DEFAULT_WEIGHT);
    virt.alloc = node.alloc.slice();
    virt.count = node.count;
    virt.index = node.index;
    virt.client = node.client;
    node.index = -1;
    this.indexLeaf(virt);
    node.makeInner();
    node.byName.set(VIRTUAL, virt);
    this.rank(node, virt);
    this.list(virt);
    this.list(node);
    this.clients.set(node.path, virt);
    this.lastClient = undefined;
  }

  /** Puts an active leaf or inner node into its parent's order. */
  private list(node: DrfNode): void {
    if (node.kind === INACTIVE_LEAF || node.parent === null) return;
    if (!this.isDirty()) this.refreshShare(node);
    node.parent.sorted.insert(node);
  }

  private unlist(node: DrfNode): void {
    if (node.kind === INACTIVE_LEAF || node.parent === null) return;
    node.parent.sorted.remove(node);
  }
}
