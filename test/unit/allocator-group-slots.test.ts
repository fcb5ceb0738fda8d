import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "../../src/common/time/random.js";
import { Bitset } from "../../src/master/allocator/bitset.js";
import { GroupSlots, WordSlab } from "../../src/master/allocator/offer-filters.js";

function members(slots: GroupSlots, upTo: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < upTo; i++) if (slots.has(i)) out.push(i);
  return out;
}

test("group slots: many sets sharing one slab keep their own members through growth and reuse", () => {
  const random = seededRandom(7);
  const slab = new WordSlab();
  const sets: GroupSlots[] = [];
  const models: Set<number>[] = [];
  for (let k = 0; k < 40; k++) {
    sets.push(new GroupSlots(slab));
    models.push(new Set());
  }
  for (let step = 0; step < 20_000; step++) {
    const k = Math.floor(random.next() * sets.length);
    const slots = sets[k] as GroupSlots;
    const model = models[k] as Set<number>;
    // Indexes up to 1,500 make rows grow from 4 to 64 words (and the slab with them).
    const i = Math.floor(random.next() * (random.next() < 0.1 ? 1500 : 200));
    const op = random.next();
    if (op < 0.6) {
      slots.add(i);
      model.add(i);
    } else if (op < 0.95) {
      slots.delete(i);
      model.delete(i);
    } else {
      // Dropped and replaced: its row goes back to the slab, zeroed, for the next set.
      slots.release();
      sets[k] = new GroupSlots(slab);
      models[k] = new Set();
    }
  }
  for (let k = 0; k < sets.length; k++) {
    const slots = sets[k] as GroupSlots;
    const model = models[k] as Set<number>;
    assert.equal(slots.size, model.size);
    assert.deepEqual(
      members(slots, 2048),
      [...model].sort((a, b) => a - b),
    );
  }
});

test("group slots: forEachNotInRow lists the active frameworks outside the set, in order", () => {
  const slab = new WordSlab();
  new GroupSlots(slab).add(3); // another set's row before this one
  const refused = new GroupSlots(slab);
  const active = new Bitset();
  for (const i of [0, 3, 31, 32, 40, 100, 200]) active.add(i);
  for (const i of [3, 32, 200, 300]) refused.add(i);
  const seen: number[] = [];
  Bitset.forEachNotInRow(active, slab.words, refused.offset, refused.rowWords, (i) => seen.push(i));
  assert.deepEqual(seen, [0, 31, 40, 100]);
});
