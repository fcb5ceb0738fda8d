/**
 * A sorted sequence kept in chunks of bounded size, so inserting or removing
 * one element costs a binary search plus a bounded shift, whatever the
 * length. The sorters keep their clients in these so a change of one
 * client's share moves it without re-sorting everyone.
 *
 * Each chunk is an array of fixed capacity with its own count: elements
 * move by shifting in place, and chunks emptied by a merge are kept for the
 * next split. A busy allocator moves frameworks from the front of the order
 * to its back and back again on every offer and decline; with arrays that
 * grew, shrank, split and merged by allocation, that churn was most of what
 * a cycle gave the garbage collector.
 *
 * Elements must have a total order under `compare` and an element's key must
 * not change while it is in the list (remove it, change it, insert it again).
 */

/**
 * One chunk: `items[lo..lo+n)` in order; the other slots are unused. The
 * elements sit anywhere in the fixed array: an element leaving or joining
 * moves the shorter side, so taking the first element out (what a DRF
 * sorter does on nearly every offer: the client with the smallest share is
 * served and moves back) shifts nothing.
 */
export interface Chunk<T> {
  items: T[];
  lo: number;
  n: number;
}

/** Elements at the front that `remove` compares by identity before searching. */
const HEAD_SCAN = 8;

export class SortedList<T> {
  private chunks: Chunk<T>[] = [];
  private count = 0;
  /** Chunks emptied by merges, reused by splits. */
  private readonly spare: Chunk<T>[] = [];
  /** Slots per chunk: room for one element past the split threshold. */
  private readonly capacity: number;

  constructor(
    private readonly compare: (a: T, b: T) => number,
    private readonly chunkSize = 64,
  ) {
    this.capacity = 2 * chunkSize + 1;
  }

  get size(): number {
    return this.count;
  }

  /** Inserts `item` at its sorted position (after equal elements). */
  insert(item: T): void {
    const chunks = this.chunks;
    this.count++;
    if (chunks.length === 0) {
      const chunk = this.newChunk();
      chunk.items[0] = item;
      chunk.n = 1;
      chunks.push(chunk);
      return;
    }
    // At or past the last element: no search (a client whose share grew
    // often lands there).
    const lastIndex = chunks.length - 1;
    const last = chunks[lastIndex] as Chunk<T>;
    let ci: number;
    let at: number;
    if (this.compare(last.items[last.lo + last.n - 1] as T, item) <= 0) {
      ci = lastIndex;
      at = last.n;
    } else {
      // The first chunk ending above it: after every equal element, even
      // when equal ones end the chunk before.
      ci = this.chunkFor(item, true);
      const chunk = chunks[ci] as Chunk<T>;
      const items = chunk.items;
      const lo = chunk.lo;
      let a = 0;
      let b = chunk.n;
      while (a < b) {
        const mid = (a + b) >>> 1;
        if (this.compare(items[lo + mid] as T, item) <= 0) a = mid + 1;
        else b = mid;
      }
      at = a;
    }
    const chunk = chunks[ci] as Chunk<T>;
    this.insertAt(chunk, at, item);
    if (chunk.n > 2 * this.chunkSize) this.split(ci);
  }

  /**
   * Removes `item` (matched by identity). Falls back to a linear scan when the
   * list is not in order (the sorters tolerate that while marked dirty).
   */
  remove(item: T): boolean {
    const chunks = this.chunks;
    if (chunks.length === 0) return false;
    // Among the first few: no search (the client served is nearly always
    // the first one its agent's filters let through).
    const head = chunks[0] as Chunk<T>;
    const near = Math.min(head.n, HEAD_SCAN);
    for (let i = 0; i < near; i++) {
      if (head.items[head.lo + i] === item) {
        this.removeAt(0, i);
        return true;
      }
    }
    const ci = this.chunkFor(item);
    const chunk = chunks[ci] as Chunk<T>;
    const items = chunk.items;
    const lo = chunk.lo;
    let a = 0;
    let b = chunk.n;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (this.compare(items[lo + mid] as T, item) < 0) a = mid + 1;
      else b = mid;
    }
    for (let i = a; i < chunk.n; i++) {
      const here = items[lo + i] as T;
      if (here === item) {
        this.removeAt(ci, i);
        return true;
      }
      if (this.compare(here, item) > 0) break;
    }
    for (let c = 0; c < chunks.length; c++) {
      const other = chunks[c] as Chunk<T>;
      for (let i = 0; i < other.n; i++) {
        if (other.items[other.lo + i] === item) {
          this.removeAt(c, i);
          return true;
        }
      }
    }
    return false;
  }

  /** The first element `accept` returns true for, in order. */
  find(accept: (item: T) => boolean): T | undefined {
    for (const chunk of this.chunks) {
      const end = chunk.lo + chunk.n;
      for (let i = chunk.lo; i < end; i++) {
        const item = chunk.items[i] as T;
        if (accept(item)) return item;
      }
    }
    return undefined;
  }

  /**
   * The chunks themselves, in order (for walks that must not allocate).
   * Callers must not change them, nor change the list while walking them.
   */
  chunkArrays(): readonly Readonly<Chunk<T>>[] {
    return this.chunks;
  }

  /** The smallest element. */
  first(): T | undefined {
    const chunk = this.chunks[0];
    return chunk === undefined ? undefined : chunk.items[chunk.lo];
  }

  /** Calls `fn` for every element in order. */
  forEach(fn: (item: T) => void): void {
    for (const chunk of this.chunks) {
      const end = chunk.lo + chunk.n;
      for (let i = chunk.lo; i < end; i++) fn(chunk.items[i] as T);
    }
  }

  toArray(): T[] {
    const out: T[] = [];
    this.forEach((item) => {
      out.push(item);
    });
    return out;
  }

  /** Replaces the contents with `items` sorted by `compare`. */
  rebuild(items: T[]): void {
    items.sort(this.compare);
    for (const chunk of this.chunks) this.release(chunk);
    this.chunks = [];
    for (let i = 0; i < items.length; i += this.chunkSize) {
      const chunk = this.newChunk();
      const end = Math.min(items.length, i + this.chunkSize);
      for (let j = i; j < end; j++) chunk.items[j - i] = items[j] as T;
      chunk.n = end - i;
      this.chunks.push(chunk);
    }
    this.count = items.length;
  }

  /**
   * Index of the first chunk whose last element is not below `item` (above
   * it, with `above`; the last chunk when there is none).
   */
  private chunkFor(item: T, above = false): number {
    const chunks = this.chunks;
    const limit = above ? 0 : -1;
    let lo = 0;
    let hi = chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = chunks[mid] as Chunk<T>;
      if (this.compare(chunk.items[chunk.lo + chunk.n - 1] as T, item) <= limit) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Puts `item` at position `at` (0..n) of a chunk that is not full, moving the shorter side. */
  private insertAt(chunk: Chunk<T>, at: number, item: T): void {
    const items = chunk.items;
    const lo = chunk.lo;
    const n = chunk.n;
    if (lo > 0 && (at < n - at || lo + n === this.capacity)) {
      // The elements before `at` move one slot down.
      for (let j = lo - 1; j < lo + at - 1; j++) items[j] = items[j + 1] as T;
      items[lo + at - 1] = item;
      chunk.lo = lo - 1;
    } else {
      for (let j = lo + n; j > lo + at; j--) items[j] = items[j - 1] as T;
      items[lo + at] = item;
    }
    chunk.n = n + 1;
  }

  private removeAt(ci: number, i: number): void {
    const chunks = this.chunks;
    const chunk = chunks[ci] as Chunk<T>;
    const items = chunk.items;
    const lo = chunk.lo;
    const n = chunk.n;
    if (i < n - 1 - i) {
      // The elements before `i` move one slot up.
      for (let j = lo + i; j > lo; j--) items[j] = items[j - 1] as T;
      items[lo] = undefined as T; // no stale reference
      chunk.lo = lo + 1;
    } else {
      for (let j = lo + i; j < lo + n - 1; j++) items[j] = items[j + 1] as T;
      items[lo + n - 1] = undefined as T;
    }
    chunk.n = n - 1;
    this.count--;
    if (chunk.n === 0) {
      this.dropChunk(ci);
      this.release(chunk);
      return;
    }
    // Merge a small chunk with its neighbour to keep the chunk count bounded.
    const next = chunks[ci + 1];
    if (
      next !== undefined &&
      chunk.n < this.chunkSize / 4 &&
      chunk.n + next.n <= 2 * this.chunkSize
    ) {
      if (chunk.lo + chunk.n + next.n > this.capacity) this.compact(chunk);
      const base = chunk.lo + chunk.n;
      for (let j = 0; j < next.n; j++) items[base + j] = next.items[next.lo + j] as T;
      chunk.n += next.n;
      this.dropChunk(ci + 1);
      this.release(next);
    }
  }

  /** Moves a chunk's elements to the start of its array. */
  private compact(chunk: Chunk<T>): void {
    const items = chunk.items;
    const lo = chunk.lo;
    if (lo === 0) return;
    for (let j = 0; j < chunk.n; j++) items[j] = items[lo + j] as T;
    for (let j = Math.max(chunk.n, lo); j < lo + chunk.n; j++) items[j] = undefined as T;
    chunk.lo = 0;
  }

  /** Moves the upper half of an overfull chunk into a chunk of its own after it. */
  private split(ci: number): void {
    const chunk = this.chunks[ci] as Chunk<T>;
    const upper = this.newChunk();
    const keep = this.chunkSize;
    const lo = chunk.lo;
    for (let j = keep; j < chunk.n; j++) {
      upper.items[j - keep] = chunk.items[lo + j] as T;
      chunk.items[lo + j] = undefined as T;
    }
    upper.n = chunk.n - keep;
    chunk.n = keep;
    // In place (`splice` would allocate its result array).
    const chunks = this.chunks;
    chunks.push(upper);
    for (let j = chunks.length - 1; j > ci + 1; j--) chunks[j] = chunks[j - 1] as Chunk<T>;
    chunks[ci + 1] = upper;
  }

  /** Takes chunk `ci` out of the chunk array, in place. */
  private dropChunk(ci: number): void {
    const chunks = this.chunks;
    for (let j = ci + 1; j < chunks.length; j++) chunks[j - 1] = chunks[j] as Chunk<T>;
    chunks.pop();
  }

  private newChunk(): Chunk<T> {
    const reused = this.spare.pop();
    if (reused !== undefined) return reused;
    // Fixed capacity; the array never grows or shrinks.
    return { items: new Array<T>(this.capacity).fill(undefined as T), lo: 0, n: 0 };
  }

  private release(chunk: Chunk<T>): void {
    for (let i = chunk.lo; i < chunk.lo + chunk.n; i++) chunk.items[i] = undefined as T;
    chunk.lo = 0;
    chunk.n = 0;
    if (this.spare.length < 4) this.spare.push(chunk);
  }
}
