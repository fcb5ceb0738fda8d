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

/** One chunk: `items[0..n)` in order; slots past `n` are unused. */
export interface Chunk<T> {
  items: T[];
  n: number;
}

export class SortedList<T> {
  private chunks: Chunk<T>[] = [];
  private count = 0;
  /** Chunks emptied by merges, reused by splits. */
  private readonly spare: Chunk<T>[] = [];

  constructor(
    private readonly compare: (a: T, b: T) => number,
    private readonly chunkSize = 64,
  ) {}

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
    const ci = this.chunkFor(item);
    const chunk = chunks[ci] as Chunk<T>;
    const items = chunk.items;
    let lo = 0;
    let hi = chunk.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compare(items[mid] as T, item) <= 0) lo = mid + 1;
      else hi = mid;
    }
    for (let i = chunk.n; i > lo; i--) items[i] = items[i - 1] as T;
    items[lo] = item;
    chunk.n++;
    if (chunk.n > 2 * this.chunkSize) this.split(ci);
  }

  /**
   * Removes `item` (matched by identity). Falls back to a linear scan when the
   * list is not in order (the sorters tolerate that while marked dirty).
   */
  remove(item: T): boolean {
    const chunks = this.chunks;
    if (chunks.length === 0) return false;
    const ci = this.chunkFor(item);
    const chunk = chunks[ci] as Chunk<T>;
    const items = chunk.items;
    let lo = 0;
    let hi = chunk.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compare(items[mid] as T, item) < 0) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < chunk.n; i++) {
      if (items[i] === item) {
        this.removeAt(ci, i);
        return true;
      }
      if (this.compare(items[i] as T, item) > 0) break;
    }
    for (let c = 0; c < chunks.length; c++) {
      const other = chunks[c] as Chunk<T>;
      for (let i = 0; i < other.n; i++) {
        if (other.items[i] === item) {
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
      for (let i = 0; i < chunk.n; i++) {
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
    return chunk === undefined ? undefined : chunk.items[0];
  }

  /** Calls `fn` for every element in order. */
  forEach(fn: (item: T) => void): void {
    for (const chunk of this.chunks) {
      for (let i = 0; i < chunk.n; i++) fn(chunk.items[i] as T);
    }
  }

  toArray(): T[] {
    const out: T[] = [];
    for (const chunk of this.chunks)
      for (let i = 0; i < chunk.n; i++) out.push(chunk.items[i] as T);
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

  /** Index of the first chunk whose last element is not below `item`. */
  private chunkFor(item: T): number {
    const chunks = this.chunks;
    let lo = 0;
    let hi = chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = chunks[mid] as Chunk<T>;
      if (this.compare(chunk.items[chunk.n - 1] as T, item) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private removeAt(ci: number, i: number): void {
    const chunks = this.chunks;
    const chunk = chunks[ci] as Chunk<T>;
    const items = chunk.items;
    for (let j = i + 1; j < chunk.n; j++) items[j - 1] = items[j] as T;
    chunk.n--;
    items[chunk.n] = undefined as T; // no stale reference
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
      for (let j = 0; j < next.n; j++) items[chunk.n + j] = next.items[j] as T;
      chunk.n += next.n;
      next.n = 0;
      this.dropChunk(ci + 1);
      this.release(next);
    }
  }

  /** Moves the upper half of an overfull chunk into a chunk of its own after it. */
  private split(ci: number): void {
    const chunk = this.chunks[ci] as Chunk<T>;
    const upper = this.newChunk();
    const keep = this.chunkSize;
    for (let j = keep; j < chunk.n; j++) {
      upper.items[j - keep] = chunk.items[j] as T;
      chunk.items[j] = undefined as T;
    }
    upper.n = chunk.n - keep;
    chunk.n = keep;
    // In place (\`splice\` would allocate its result array).
    const chunks = this.chunks;
    chunks.push(upper);
    for (let j = chunks.length - 1; j > ci + 1; j--) chunks[j] = chunks[j - 1] as Chunk<T>;
    chunks[ci + 1] = upper;
  }

  /** Takes chunk \`ci\` out of the chunk array, in place. */
  private dropChunk(ci: number): void {
    const chunks = this.chunks;
    for (let j = ci + 1; j < chunks.length; j++) chunks[j - 1] = chunks[j] as Chunk<T>;
    chunks.pop();
  }

  private newChunk(): Chunk<T> {
    const reused = this.spare.pop();
    if (reused !== undefined) return reused;
    // Room for one element past the split threshold; never grows or shrinks.
    return { items: new Array<T>(2 * this.chunkSize + 1).fill(undefined as T), n: 0 };
  }

  private release(chunk: Chunk<T>): void {
    for (let i = 0; i < chunk.n; i++) chunk.items[i] = undefined as T;
    chunk.n = 0;
    if (this.spare.length < 4) this.spare.push(chunk);
  }
}
