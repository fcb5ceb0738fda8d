/**
 * The `random` sorter: each sort is a weighted random shuffle of the active
 * clients. A client's weight is relative within the tree: its own weight
 * over the sum of its active siblings' weights, times its parent's relative
 * weight, so `a/b` and `a/c` split `a`'s chance. Allocations are tracked (for
 * accounting) but do not influence the order.
 */

import type { RandomSource } from "../../../common/time/random.js";
import { addInto, type Quantities, type QuantitiesView, subtractInto } from "../quantities.js";
import { DEFAULT_WEIGHT, type Sorter, SorterPool } from "./sorter.js";

interface Client {
  active: boolean;
  alloc: Quantities;
}

export interface RandomSorterOptions {
  random: RandomSource;
  pool?: SorterPool;
}

export class RandomSorter implements Sorter {
  private readonly clients = new Map<string, Client>();
  private readonly weights = new Map<string, number>();
  private readonly totalAlloc: Quantities = [];
  private readonly random: RandomSource;
  private readonly pool: SorterPool;
  private version = 0;
  private weightsVersion = -1;
  private activeList: string[] = [];
  private activeWeights: number[] = [];
  private activeClients = 0;

  constructor(options: RandomSorterOptions) {
    this.random = options.random;
    this.pool = options.pool ?? new SorterPool();
  }

  add(client: string): void {
    if (this.clients.has(client)) throw new Error(`random sorter: client ${client} added twice`);
    this.clients.set(client, { active: false, alloc: [] });
    this.version++;
  }

  remove(client: string): void {
    const c = this.get(client);
    if (c.active) this.activeClients--;
    subtractInto(this.totalAlloc, c.alloc);
    this.clients.delete(client);
    this.version++;
  }

  activate(client: string): void {
    const c = this.get(client);
    if (c.active) return;
    c.active = true;
    this.activeClients++;
    this.version++;
  }

  deactivate(client: string): void {
    const c = this.get(client);
    if (!c.active) return;
    c.active = false;
    this.activeClients--;
    this.version++;
  }

  updateWeight(path: string, weight: number): void {
    this.weights.set(path, weight);
    this.version++;
  }

  allocated(client: string, quantities: QuantitiesView): void {
    addInto(this.get(client).alloc, quantities);
    addInto(this.totalAlloc, quantities);
  }

  unallocated(client: string, quantities: QuantitiesView): void {
    subtractInto(this.get(client).alloc, quantities);
    subtractInto(this.totalAlloc, quantities);
  }

  allocation(client: string): QuantitiesView {
    return this.get(client).alloc;
  }

  totalAllocation(): QuantitiesView {
    return this.totalAlloc;
  }

  addAgent(agentId: string, quantities: QuantitiesView): void {
    this.pool.addAgent(agentId, quantities);
  }

  removeAgent(agentId: string): void {
    this.pool.removeAgent(agentId);
  }

  sort(): readonly string[] {
    const out: string[] = [];
    this.walkShuffled((client) => {
      out.push(client);
      return false;
    });
    return out;
  }

  first(accept: (client: string) => boolean): string | undefined {
    return this.walkShuffled(accept);
  }

  share(_client: string): number {
    return 0;
  }

  contains(client: string): boolean {
    return this.clients.has(client);
  }

  isActive(client: string): boolean {
    return this.clients.get(client)?.active === true;
  }

  count(): number {
    return this.clients.size;
  }

  activeCount(): number {
    return this.activeClients;
  }

  /**
   * Visits active clients in a weighted random order (keys u^(1/w), largest
   * first), drawing lazily from a heap so an early stop costs little.
   */
  private walkShuffled(accept: (client: string) => boolean): string | undefined {
    this.refreshWeights();
    const n = this.activeList.length;
    if (n === 0) return undefined;
    const keys = new Float64Array(n);
    const heap = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      keys[i] = this.random.next() ** (1 / (this.activeWeights[i] as number));
      heap[i] = i;
    }
    const less = (a: number, b: number): boolean =>
      (keys[heap[a] as number] as number) > (keys[heap[b] as number] as number);
    const siftDown = (start: number, size: number): void => {
      let i = start;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < size && less(l, m)) m = l;
        if (r < size && less(r, m)) m = r;
        if (m === i) return;
        const t = heap[i] as number;
        heap[i] = heap[m] as number;
        heap[m] = t;
        i = m;
      }
    };
    for (let i = (n >> 1) - 1; i >= 0; i--) siftDown(i, n);
    for (let size = n; size > 0; size--) {
      const top = heap[0] as number;
      const client = this.activeList[top] as string;
      if (accept(client)) return client;
      heap[0] = heap[size - 1] as number;
      siftDown(0, size - 1);
    }
    return undefined;
  }

  /** Recomputes each active client's relative weight in the role tree. */
  private refreshWeights(): void {
    if (this.weightsVersion === this.version) return;
    // Build the tree of paths: every prefix of a client path is a node.
    interface TreeNode {
      path: string;
      children: Map<string, TreeNode>;
      client: boolean;
      active: boolean;
    }
    const root: TreeNode = { path: "", children: new Map(), client: false, active: false };
    for (const [path, c] of this.clients) {
      let node = root;
      for (const label of path.split("/")) {
        let child = node.children.get(label);
        if (child === undefined) {
          const childPath = node === root ? label : `${node.path}/${label}`;
          child = { path: childPath, children: new Map(), client: false, active: false };
          node.children.set(label, child);
        }
        node = child;
      }
      node.client = true;
      node.active = c.active;
    }
    const list: string[] = [];
    const weights: number[] = [];
    const hasActive = (node: TreeNode): boolean => {
      let any = node.client && node.active;
      for (const child of node.children.values()) if (hasActive(child)) any = true;
      return any;
    };
    const weightOf = (path: string): number => this.weights.get(path) ?? DEFAULT_WEIGHT;
    const visit = (node: TreeNode, relative: number): void => {
      // A client with sub-clients competes as an implicit leaf of weight 1.
      const members: { node: TreeNode | null; weight: number }[] = [];
      if (node !== root && node.client && node.active && node.children.size > 0) {
        members.push({ node: null, weight: DEFAULT_WEIGHT });
      }
      for (const child of node.children.values()) {
        if (hasActive(child)) members.push({ node: child, weight: weightOf(child.path) });
      }
      let sum = 0;
      for (const m of members) sum += m.weight;
      for (const m of members) {
        const r = (relative * m.weight) / sum;
        if (m.node === null) {
          list.push(node.path);
          weights.push(r);
        } else if (m.node.children.size === 0) {
          list.push(m.node.path);
          weights.push(r);
        } else {
          visit(m.node, r);
        }
      }
    };
    visit(root, 1);
    this.activeList = list;
    this.activeWeights = weights;
    this.weightsVersion = this.version;
  }

  private get(client: string): Client {
    const c = this.clients.get(client);
    if (c === undefined) throw new Error(`random sorter: unknown client ${client}`);
    return c;
  }
}
