import assert from "node:assert/strict";
import { test } from "node:test";
import { Resources } from "../../src/common/resources/index.js";
import { seededRandom } from "../../src/common/time/random.js";
import { Bitset } from "../../src/master/allocator/bitset.js";
import {
  AgentFilters,
  GroupSlots,
  OfferFilterIndex,
  WordSlab,
} from "../../src/master/allocator/offer-filters.js";

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

test("agent filters: group filters of several roles on one agent survive the first role's expiry", () => {
  const index = new OfferFilterIndex();
  const af = new AgentFilters(0);
  const agent = (i: number) => (i === 0 ? af : undefined);
  const refused = Resources.from([{ name: "cpus", type: "SCALAR", scalar: { value: 4 } }]);
  // Three roles' group filters on one agent.
  index.add(af, 1, 5, refused, 1_000);
  index.add(af, 2, 6, refused, 5_000);
  index.add(af, 3, 7, refused, 9_000);
  assert.deepEqual([...af.groups.keys()], [1, 2, 3]);
  // Role 1's only filter expires: its set goes away, the others stay found.
  assert.equal(index.expire(2_000, agent), 1);
  assert.equal(af.groups.get(1), undefined);
  assert.equal(index.hasFilter(af, 1, 5), false);
  assert.equal(index.hasFilter(af, 2, 6), true);
  assert.equal(index.hasFilter(af, 3, 7), true);
  assert.equal(index.isFilteredPlain(af, 3, 7, refused), true);
  // A new filter of role 1 joins the others instead of replacing one.
  index.add(af, 1, 8, refused, 9_000);
  assert.equal(index.hasFilter(af, 1, 8), true);
  assert.equal(index.hasFilter(af, 2, 6), true);
  assert.equal(index.expire(6_000, agent), 1);
  assert.deepEqual([...af.groups.keys()].sort(), [1, 3]);
  index.clearAgent(af);
  assert.equal(af.groups.size, 0);
  assert.equal(index.size, 0);
});
