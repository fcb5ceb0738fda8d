/**
 * The sorter contract: decides the order in which clients (roles, or the
 * frameworks of one role) are offered resources. Clients are slash-separated
 * paths; `a/b` and `a/c` are children of `a` and share its position.
 */

import type { Quantities, QuantitiesView } from "../quantities.js";

/**
 * The pool of resources shares are computed against: the sum of every
 * agent's scalar quantities. One pool can back many sorters (the allocator
 * shares one between the role sorter and every framework sorter), which
 * notice a change through `version`.
 */
export class SorterPool {
  readonly total: Quantities = [];
  /** Bumped on every change of `total`. */
  version = 0;
  private readonly agents = new Map<string, QuantitiesView>();

  addAgent(agentId: string, quantities: QuantitiesView): void {
    if (this.agents.has(agentId)) throw new Error(`sorter pool: agent ${agentId} added twice`);
    this.agents.set(agentId, quantities.slice());
    const t = this.total;
    while (t.length < quantities.length) t.push(0);
    for (let i = 0; i < quantities.length; i++) t[i] = (t[i] as number) + (quantities[i] as number);
    this.version++;
  }

  removeAgent(agentId: string): void {
    const q = this.agents.get(agentId);
    if (q === undefined) throw new Error(`sorter pool: unknown agent ${agentId}`);
    this.agents.delete(agentId);
    const t = this.total;
    for (let i = 0; i < q.length; i++) t[i] = (t[i] as number) - (q[i] as number);
    this.version++;
  }

  hasAgent(agentId: string): boolean {
    return this.agents.has(agentId);
  }

  get agentCount(): number {
    return this.agents.size;
  }
}

/** Which policy a sorter follows (`--role_sorter`, `--framework_sorter`). */
export type SorterKind = "drf" | "random";

export interface Sorter {
  /** Adds an inactive client. Adding an existing client is a bug. */
  add(client: string, index?: number): void;
  /** Removes a client (its allocation leaves the ancestors' totals). */
  remove(client: string): void;
  /** Makes a client eligible for `sort`/`first`; no-op when already active. */
  activate(client: string): void;
  /** Excludes a client from `sort`/`first`; no-op when already inactive. */
  deactivate(client: string): void;
  /** Weight of a path (applies to the client or inner node at that path). */
  updateWeight(path: string, weight: number): void;
  /**
   * Records that `quantities` were allocated to `client`. `index`, when
   * given, is the client's index passed to `add` (a sorter may find the
   * client by it instead of by name).
   */
  allocated(client: string, quantities: QuantitiesView, index?: number): void;
  /** Records that `quantities` allocated to `client` were returned (`index`: see `allocated`). */
  unallocated(client: string, quantities: QuantitiesView, index?: number): void;
  /** Scalar quantities allocated to `client` itself (not its sub-clients). */
  allocation(client: string): QuantitiesView;
  /** Scalar quantities allocated to all clients. */
  totalAllocation(): QuantitiesView;
  /** Adds an agent's quantities to this sorter's pool. */
  addAgent(agentId: string, quantities: QuantitiesView): void;
  /** Removes an agent's quantities from this sorter's pool. */
  removeAgent(agentId: string): void;
  /**
   * Active clients in allocation order. The DRF sorter returns the same
   * array until something changes, so a repeated sort is free; callers must
   * not modify it.
   */
  sort(): readonly string[];
  /**
   * The first active client, in allocation order, that `accept` takes.
   * Walks lazily and stops there; `accept` must not change the sorter.
   */
  first(accept: (client: string) => boolean): string | undefined;
  /**
   * `first`, passing over without a call to `accept` every client whose
   * index (given to `add`) is a member of the set in the row
   * `skip[skipOffset .. skipOffset + skipWords)` (32 per word).
   * Only sorters that keep indexes have it. `accept` is also given the
   * client's index (-1: none), so the caller needs no lookup by name.
   */
  firstSkipping?(
    skip: Uint32Array,
    skipOffset: number,
    skipWords: number,
    accept: (client: string, index: number) => boolean,
  ): string | undefined;
  /**
   * Loads the cache lines of the first `count` active clients in order
   * (the ones the next offers most likely go to) and puts their indexes
   * in `out` (returns how many). Reads only; for sorters that keep indexes.
   */
  warmFront?(count: number, out: number[]): number;
  /**
   * Negative when active client `a` comes before active client `b` in the
   * order `first()` walks (only for sorters with a deterministic order).
   */
  compare?(a: string, b: string): number;
  /** The client's dominant share divided by its weight (DRF), 0 otherwise. */
  share(client: string): number;
  /** Whether `client` was added (`index`: see `allocated`). */
  contains(client: string, index?: number): boolean;
  isActive(client: string): boolean;
  /** Number of clients, active or not. */
  count(): number;
  /** Number of active clients. */
  activeCount(): number;
}

/** Default weight of a role. */
export const DEFAULT_WEIGHT = 1.0;

/** Splits a client path into its labels. */
export function pathLabels(path: string): string[] {
  return path.split("/");
}
