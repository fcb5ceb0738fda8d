/** A growable set of small non-negative integers (framework indexes). */
export class Bitset {
  words = new Uint32Array(4);
  size = 0;

  has(i: number): boolean {
    return ((this.words[i >>> 5] ?? 0) & (1 << (i & 31))) !== 0;
  }

  add(i: number): void {
    const w = i >>> 5;
    if (w >= this.words.length) {
      const grown = new Uint32Array(Math.max(w + 1, this.words.length * 2));
      grown.set(this.words);
      this.words = grown;
    }
    const bit = 1 << (i & 31);
    if (((this.words[w] as number) & bit) === 0) {
      this.words[w] = (this.words[w] as number) | bit;
      this.size++;
    }
  }

  delete(i: number): void {
    const w = i >>> 5;
    if (w >= this.words.length) return;
    const bit = 1 << (i & 31);
    if (((this.words[w] as number) & bit) !== 0) {
      this.words[w] = (this.words[w] as number) & ~bit;
      this.size--;
    }
  }

  /**
   * Calls `fn` for each member of `a` that is not set in the row
   * `words[offset .. offset + rowWords)` (a set kept elsewhere, 32 per word),
   * in increasing order.
   */
  static forEachNotInRow(
    a: Bitset,
    words: Uint32Array,
    offset: number,
    rowWords: number,
    fn: (i: number) => void,
  ): void {
    const aw = a.words;
    for (let w = 0; w < aw.length; w++) {
      let bits = (aw[w] as number) & ~(w < rowWords ? (words[offset + w] as number) : 0);
      while (bits !== 0) {
        const low = bits & -bits;
        fn((w << 5) + 31 - Math.clz32(low));
        bits ^= low;
      }
    }
  }
}
