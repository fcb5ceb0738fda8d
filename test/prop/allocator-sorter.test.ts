import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { type Quantities, ResourceNames } from "../../src/master/allocator/quantities.js";
import { DrfSorter } from "../../src/master/allocator/sorter/drf-sorter.js";
import { SortedList } from "../../src/master/allocator/sorter/sorted-list.js";

/** A naive DRF order: recompute every share and sort, level by level. */
class ReferenceDrf {
  readonly clients = new Map<string, { active: boolean; alloc: number[]; events: number }>();
  readonly weights = new Map<string, number>();
  total: number[] = [0, 0, 0];

  order(): string[] {
    const paths = [...this.clients.keys()];
    const subtree = (p: string) => paths.filter((c) => c === p || c.startsWith(`${p}/`));
    const share = (alloc: number[], weight: number) => {
      let s = 0;
      for (let i = 0; i < 3; i++) {
        const t = this.total[i] as number;
        if (t > 0) s = Math.max(s, (alloc[i] ?? 0) / t);
      }
      return s / weight;
    };
    interface Item {
      path: string; // sort path (virtual leaves end in "/.")
      client?: string;
      share: number;
      count: number;
      children?: Item[];
    }
    const build = (prefix: string): Item[] => {
      const labels = new Set<string>();
      for (const c of paths) {
        if (prefix === "" || c.startsWith(`${prefix}/`)) {
          const rest = prefix === "" ? c : c.slice(prefix.length + 1);
          labels.add(rest.split("/")[0] as string);
        }
      }
      const items: Item[] = [];
      if (prefix !== "" && this.clients.has(prefix) && labels.size > 0) {
        const me = this.clients.get(prefix)!;
        if (me.active) {
          items.push({
            path: `${prefix}/.`,
            client: prefix,
            share: share(me.alloc, 1),
            count: me.events,
          });
        }
      }
      for (const label of labels) {
        const p = prefix === "" ? label : `${prefix}/${label}`;
        const members = subtree(p);
        const alloc = [0, 0, 0];
        let count = 0;
        for (const m of members) {
          const c = this.clients.get(m)!;
          for (let i = 0; i < 3; i++) alloc[i] = (alloc[i] as number) + (c.alloc[i] ?? 0);
          count += c.events;
        }
        const weight = this.weights.get(p) ?? 1;
        if (members.length === 1 && members[0] === p) {
          if (this.clients.get(p)!.active) {
            items.push({ path: p, client: p, share: share(alloc, weight), count });
          }
        } else {
          items.push({ path: p, share: share(alloc, weight), count, children: build(p) });
        }
      }
      items.sort((a, b) =>
        a.share !== b.share
          ? a.share - b.share
          : a.count !== b.count
            ? a.count - b.count
            : a.path < b.path
              ? -1
              : a.path > b.path
                ? 1
                : 0,
      );
      return items;
    };
    const out: string[] = [];
    const walk = (items: Item[]) => {
      for (const it of items) {
        if (it.children) walk(it.children);
        else out.push(it.client as string);
      }
    };
    walk(build(""));
    return out;
  }
}

const clientNames = ["a", "b", "c", "a/x", "a/y", "b/z", "d"];
const op = fc.oneof(
  fc.record({ kind: fc.constant("add" as const), client: fc.constantFrom(...clientNames) }),
  fc.record({ kind: fc.constant("toggle" as const), client: fc.constantFrom(...clientNames) }),
  fc.record({
    kind: fc.constant("alloc" as const),
    client: fc.constantFrom(...clientNames),
    q: fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 3, maxLength: 3 }),
  }),
  fc.record({ kind: fc.constant("free" as const), client: fc.constantFrom(...clientNames) }),
  fc.record({
    kind: fc.constant("weight" as const),
    client: fc.constantFrom(...clientNames),
    w: fc.constantFrom(0.5, 1, 2, 3),
  }),
  fc.record({
    kind: fc.constant("agent" as const),
    q: fc.array(fc.integer({ min: 1000, max: 50000 }), { minLength: 3, maxLength: 3 }),
  }),
  fc.record({ kind: fc.constant("sort" as const) }),
);

test("drf sorter: the incremental order always equals a full re-sort", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
      const names = new ResourceNames();
      names.index("cpus");
      names.index("mem");
      names.index("disk");
      const sorter = new DrfSorter({ names });
      const ref = new ReferenceDrf();
      sorter.addAgent("base", [10000, 10000, 10000]);
      ref.total = [10000, 10000, 10000];
      let agents = 0;
      for (const o of ops) {
        switch (o.kind) {
          case "add":
            if (!ref.clients.has(o.client)) {
              sorter.add(o.client);
              ref.clients.set(o.client, { active: false, alloc: [0, 0, 0], events: 0 });
            }
            break;
          case "toggle": {
            const c = ref.clients.get(o.client);
            if (c === undefined) break;
            if (c.active) sorter.deactivate(o.client);
            else sorter.activate(o.client);
            c.active = !c.active;
            break;
          }
          case "alloc": {
            const c = ref.clients.get(o.client);
            if (c === undefined) break;
            sorter.allocated(o.client, o.q as Quantities);
            for (let i = 0; i < 3; i++) c.alloc[i] = (c.alloc[i] as number) + (o.q[i] as number);
            c.events++;
            break;
          }
          case "free": {
            const c = ref.clients.get(o.client);
            if (c === undefined) break;
            sorter.unallocated(o.client, c.alloc.slice());
            c.alloc = [0, 0, 0];
            break;
          }
          case "weight":
            sorter.updateWeight(o.client, o.w);
            ref.weights.set(o.client, o.w);
            break;
          case "agent":
            sorter.addAgent(`s${agents++}`, o.q as Quantities);
            for (let i = 0; i < 3; i++)
              ref.total[i] = (ref.total[i] as number) + (o.q[i] as number);
            break;
          case "sort":
            assert.deepEqual([...sorter.sort()], ref.order());
            break;
        }
      }
      assert.deepEqual([...sorter.sort()], ref.order());
      const expected = ref.order();
      const firstActive = sorter.first(() => true);
      assert.equal(firstActive, expected[0]);
    }),
    { numRuns: 300 },
  );
});

test("sorted list: random inserts and removes keep the order of a sorted array (splits, merges, reused chunks)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 8 }),
      fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 80 }),
      fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 40 })), { maxLength: 300 }),
      (chunkSize, fill, mixed) => {
        const ops: [boolean, number][] = [
          ...fill.map((v): [boolean, number] => [true, v]),
          ...mixed,
        ];
        // Objects, so removal is by identity as the sorters use it.
        const list = new SortedList<{ v: number }>((a, b) => a.v - b.v, chunkSize);
        const model: { v: number }[] = [];
        for (const [insert, v] of ops) {
          if (insert || model.length === 0) {
            const item = { v };
            list.insert(item);
            // After equal elements, as the list inserts.
            let i = 0;
            while (i < model.length && (model[i] as { v: number }).v <= v) i++;
            model.splice(i, 0, item);
          } else {
            const item = model[v % model.length] as { v: number };
            assert.equal(list.remove(item), true);
            model.splice(model.indexOf(item), 1);
          }
          assert.equal(list.size, model.length);
        }
        assert.deepEqual(list.toArray(), model);
        assert.equal(list.first(), model[0]);
        assert.equal(list.remove({ v: 1 }), false);
      },
    ),
    { numRuns: 300 },
  );
});

test("sorted list: draining from the front or the back merges chunks and keeps the order", () => {
  for (const fromFront of [true, false]) {
    const list = new SortedList<{ v: number }>((a, b) => a.v - b.v, 8);
    const model = Array.from({ length: 200 }, (_, v) => ({ v: (v * 37) % 200 }));
    for (const item of model) list.insert(item);
    model.sort((a, b) => a.v - b.v);
    let step = 0;
    while (model.length > 0) {
      step++;
      const item = (fromFront ? model.shift() : model.pop()) as { v: number };
      assert.equal(list.remove(item), true);
      assert.deepEqual(list.toArray(), model);
      // Refill a little from the other end now and then (splits while merging).
      if (step % 17 === 0 && model.length > 0) {
        const extra = { v: fromFront ? 1000 + step : -step };
        list.insert(extra);
        if (fromFront) model.push(extra);
        else model.unshift(extra);
      }
    }
    assert.equal(list.size, 0);
  }
});
