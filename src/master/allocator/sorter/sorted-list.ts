/**
 * A sorted sequence kept in chunks of bounded size, so inserting or removing
 * one element costs a binary search plus a bounded array splice, whatever the
 * length. The sorters keep their clients in these so a change of one
 * client's share moves it without re-sorting everyone.
 *
 * Elements must have a total order under `compare` and an element's key must
 * not change while it is in the list (remove it, change it, insert it again).
 */
export class SortedList<T> {
  private chunks: T[][] = [];
  private count = 0;

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
      chunks.push([item]);
      return;
    }
    const ci = this.chunkFor(item);
    const chunk = chunks[ci] as T[];
    let lo = 0;
    let hi = chunk.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compare(chunk[mid] as T, item) <= 0) lo = mid + 1;
      else hi = mid;
    }
    // Shift in place (splice would allocate a result array on every call).
    chunk.push(item);
    for (let i = chunk.length - 1; i > lo; i--) chunk[i] = chunk[i - 1] as T;
    chunk[lo] = item;
    if (chunk.length > 2 * this.chunkSize) {
      chunks.splice(ci + 1, 0, chunk.splice(this.chunkSize));
    }
  }

  /**
   * Removes `item` (matched by identity). Falls back to a linear scan when the
   * list is not in order (the sorters tolerate that while marked dirty).
   */
  remove(item: T): boolean {
    const chunks = this.chunks;
    if (chunks.length === 0) return false;
    const ci = this.chunkFor(item);
    const chunk = chunks[ci] as T[];
    let lo = 0;
    let hi = chunk.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compare(chunk[mid] as T, item) < 0) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < chunk.length; i++) {
      if (chunk[i] === item) {
        this.removeAt(ci, i);
        return true;
      }
      if (this.compare(chunk[i] as T, item) > 0) break;
    }
    for (let c = 0; c < chunks.length; c++) {
      const i = (chunks[c] as T[]).indexOf(item);
      if (i >= 0) {
        this.removeAt(c, i);
        return true;
      }
    }
    return false;
  }

  /** The first element `accept` returns true for, in order. */
  find(accept: (item: T) => boolean): T | undefined {
    for (const chunk of this.chunks) {
      for (let i = 0; i < chunk.length; i++) {
        const item = chunk[i] as T;
        if (accept(item)) return item;
      }
    }
    return undefined;
  }

  /**
   * The chunks themselves, in order (for walks that must not allocate).
   * Callers must not change them, nor change the list while walking them.
   */
  chunkArrays(): readonly (readonly T[])[] {
    return this.chunks;
  }

  /** The smallest element. */
  first(): T | undefined {
    return this.chunks[0]?.[0];
  }

  /** Calls `fn` for every element in order. */
  forEach(fn: (item: T) => void): void {
    for (const chunk of this.chunks) {
      for (let i = 0; i < chunk.length; i++) fn(chunk[i] as T);
    }
  }

  toArray(): T[] {
    const out: T[] = [];
    for (const chunk of this.chunks) for (const item of chunk) out.push(item);
    return out;
  }

  /** Replaces the contents with `items` sorted by `compare`. */
  rebuild(items: T[]): void {
    items.sort(this.compare);
    this.chunks = [];
    for (let i = 0; i < items.length; i += this.chunkSize) {
      this.chunks.push(items.slice(i, i + this.chunkSize));
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
      const chunk = chunks[mid] as T[];
      if (this.compare(chunk[chunk.length - 1] as T, item) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private removeAt(ci: number, i: number): void {
    const chunks = this.chunks;
    const chunk = chunks[ci] as T[];
    for (let j = i + 1; j < chunk.length; j++) chunk[j - 1] = chunk[j] as T;
    chunk.pop();
    this.count--;
    if (chunk.length === 0) {
      chunks.splice(ci, 1);
      return;
    }
    // Merge a small chunk into its neighbour to keep the chunk count bounded.
    const next = chunks[ci + 1];
    if (
      next !== undefined &&
      chunk.length < this.chunkSize / 4 &&
      chunk.length + next.length <= 2 * this.chunkSize
    ) {
      chunks.splice(ci, 2, chunk.concat(next));
    }
  }
}
