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

test("offer filters: long filters declined and revived over and over do not pile up in the expiry heap", () => {
  const index = new OfferFilterIndex();
  const agents = Array.from({ length: 200 }, (_, i) => new AgentFilters(i));
  const refused = Resources.from([{ name: "cpus", type: "SCALAR", scalar: { value: 4 } }]);
  const never = 2 ** 50;
  let most = 0;
  for (let round = 0; round < 300; round++) {
    for (const af of agents) index.add(af, 0, round % 5, refused, never);
    // The framework revives: its filters go, their heap entries stay until rebuilt.
    index.removeFramework(round % 5, 0);
    most = Math.max(most, index.pendingExpiries);
  }
  assert.equal(index.size, 0);
  // 60,000 filters came and went; without rebuilds all their entries would remain.
  assert.ok(most <= 4096 + agents.length, `expiry heap reached ${most} entries`);
});

test("offer filters: expiries stay exact through heap rebuilds (random installs, removals, expiries)", () => {
  const random = seededRandom(11);
  const index = new OfferFilterIndex();
  const agents = Array.from({ length: 60 }, (_, i) => new AgentFilters(i));
  const agentOf = (i: number) => agents[i];
  const group = Resources.from([{ name: "cpus", type: "SCALAR", scalar: { value: 4 } }]);
  const other = Resources.from([{ name: "mem", type: "SCALAR", scalar: { value: 64 } }]);
  // Model: (agent, role, framework) -> the latest expiry of its filters.
  const model = new Map<string, number>();
  const key = (a: number, r: number, f: number) => `${a}/${r}/${f}`;
  const pick = (n: number) => Math.floor(random.next() * n);
  let now = 0;
  let rebuilt = false;
  for (let step = 0; step < 40_000; step++) {
    const op = random.next();
    const a = pick(agents.length);
    const r = pick(2);
    const f = pick(40);
    const af = agents[a] as AgentFilters;
    if (op < 0.55) {
      const expiresAt = now + 1 + pick(random.next() < 0.5 ? 50 : 100_000);
      const before = index.pendingExpiries;
      index.add(af, r, f, a >= 50 && random.next() < 0.5 ? other : group, expiresAt);
      if (index.pendingExpiries < before) rebuilt = true;
      const k = key(a, r, f);
      model.set(k, Math.max(model.get(k) ?? 0, expiresAt));
    } else if (op < 0.8) {
      index.removePair(af, r, f);
      model.delete(key(a, r, f));
    } else if (op < 0.82) {
      index.removeFramework(f, r);
      for (const k of [...model.keys()]) if (k.endsWith(`/${r}/${f}`)) model.delete(k);
    } else if (op < 0.825) {
      index.clearAgent(af);
      for (const k of [...model.keys()]) if (k.startsWith(`${a}/`)) model.delete(k);
    } else {
      now += pick(30);
      index.expire(now, agentOf);
      for (const [k, e] of model) if (e <= now) model.delete(k);
    }
    if (step % 500 === 0 || step === 39_999) {
      for (let x = 0; x < agents.length; x++) {
        for (let y = 0; y < 2; y++) {
          for (let z = 0; z < 40; z++) {
            const has = index.hasFilter(agents[x] as AgentFilters, y, z);
            assert.equal(has, model.has(key(x, y, z)), `step ${step}: filter ${key(x, y, z)}`);
          }
        }
      }
    }
  }
  assert.ok(rebuilt, "the heap was never rebuilt: the test did not exercise it");
});
