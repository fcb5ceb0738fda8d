import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "../../src/common/time/random.js";
import { quantitiesFrom, ResourceNames } from "../../src/master/allocator/quantities.js";
import { DrfSorter } from "../../src/master/allocator/sorter/drf-sorter.js";
import { RandomSorter } from "../../src/master/allocator/sorter/random-sorter.js";
import { SortedList } from "../../src/master/allocator/sorter/sorted-list.js";

function drf(excluded?: string[]) {
  const names = new ResourceNames();
  const sorter = new DrfSorter({
    names,
    ...(excluded ? { excludedResourceNames: new Set(excluded) } : {}),
  });
  const q = (r: Record<string, number>) => quantitiesFrom(names, r);
  return { sorter, q };
}

function addActive(sorter: DrfSorter | RandomSorter, ...clients: string[]): void {
  for (const c of clients) {
    sorter.add(c);
    sorter.activate(c);
  }
}

test("sorted list: keeps order across many chunks through inserts and removes", () => {
  const list = new SortedList<number>((a, b) => a - b, 4);
  const values = [50, 3, 17, 99, 1, 42, 8, 23, 77, 64, 5, 31, 12, 88, 2, 9];
  for (const v of values) list.insert(v);
  assert.deepEqual(
    list.toArray(),
    [...values].sort((a, b) => a - b),
  );
  assert.equal(list.remove(42), true);
  assert.equal(list.remove(1000), false);
  list.insert(43);
  assert.deepEqual(list.toArray(), [1, 2, 3, 5, 8, 9, 12, 17, 23, 31, 43, 50, 64, 77, 88, 99]);
  assert.equal(
    list.find((v) => v > 30),
    31,
  );
});

test("sorted list: an element goes after every equal one, also when those end an earlier chunk", () => {
  // Chunks of one element split early: [a] [b] [c] before d comes. (A random
  // run of the property test found d put before b.)
  const list = new SortedList<{ v: number }>((x, y) => x.v - y.v, 1);
  const a = { v: 0 };
  const b = { v: 0 };
  const c = { v: 1 };
  const d = { v: 0 };
  for (const item of [a, b, c, d]) list.insert(item);
  const order = list.toArray();
  assert.ok(
    order[0] === a && order[1] === b && order[2] === d && order[3] === c,
    "insertion order among equals",
  );
  assert.equal(list.remove(a), true);
  assert.equal(list.first(), b);
});

test("sorted list: moving the first element behind the others, over and over, keeps the order", () => {
  // What a DRF sorter does on nearly every offer: the first client is served and moves back.
  const list = new SortedList<{ v: number }>((a, b) => a.v - b.v, 4);
  const items = Array.from({ length: 37 }, (_, v) => ({ v }));
  for (const item of items) list.insert(item);
  let top = items.length;
  for (let step = 0; step < 500; step++) {
    const first = list.first() as { v: number };
    assert.equal(list.remove(first), true);
    // Now and then into the middle instead of the back.
    first.v = step % 7 === 0 ? top - 10.5 : top++;
    list.insert(first);
    const seen = list.toArray().map((x) => x.v);
    assert.deepEqual(
      seen,
      [...seen].sort((a, b) => a - b),
    );
    assert.equal(list.size, items.length);
  }
});

test("drf sorter: the client with the lowest dominant share comes first", () => {
  const { sorter, q } = drf();
  sorter.addAgent("s1", q({ cpus: 10, mem: 100 }));
  addActive(sorter, "a", "b");
  sorter.allocated("a", q({ cpus: 1, mem: 50 })); // dominant: mem 0.5
  sorter.allocated("b", q({ cpus: 4, mem: 10 })); // dominant: cpus 0.4
  assert.deepEqual(sorter.sort(), ["b", "a"]);
  sorter.allocated("b", q({ cpus: 2 })); // 0.6
  assert.deepEqual(sorter.sort(), ["a", "b"]);
  sorter.unallocated("b", q({ cpus: 6 }));
  assert.deepEqual(sorter.sort(), ["b", "a"]);
});

test("drf sorter: equal shares are ordered by allocation count, then by name", () => {
  const { sorter, q } = drf();
  sorter.addAgent("s1", q({ cpus: 10 }));
  addActive(sorter, "b", "a");
  assert.deepEqual(sorter.sort(), ["a", "b"]);
  sorter.allocated("a", q({ cpus: 1 }));
  sorter.unallocated("a", q({ cpus: 1 }));
  // Same share again, but "a" was picked once more.
  assert.deepEqual(sorter.sort(), ["b", "a"]);
});

test("drf sorter: ties between siblings follow path order whatever order they were added in", () => {
  const { sorter, q } = drf();
  sorter.addAgent("s1", q({ cpus: 10 }));
  // Added out of order, with sub-clients and an implicit leaf (`m/.`) among them.
  addActive(sorter, "m", "z", "b", "m/x", "a", "m/c");
  assert.deepEqual(sorter.sort(), ["a", "b", "m", "m/c", "m/x", "z"]);
  sorter.allocated("a", q({ cpus: 1 }));
  assert.deepEqual(sorter.sort(), ["b", "m", "m/c", "m/x", "z", "a"]);
  // Each newcomer sorts just after "a" and before the previous newcomer, so
  // it lands in the same narrowing gap until the siblings have to be
  // renumbered: the order stays the paths' order.
  // ("a" stays last: its allocation count is 1, everyone else's 0.)
  const names = ["b", "m", "m/c", "m/x", "z"];
  for (let i = 0; i < 40; i++) {
    const name = `a${String.fromCharCode(122 - Math.floor(i / 10), 122 - (i % 10))}`;
    addActive(sorter, name);
    names.push(name);
  }
  assert.deepEqual(sorter.sort(), [...names.sort(), "a"]);
});

test("drf sorter: clients added after their siblings were renumbered take their place by path", () => {
  const { sorter, q } = drf();
  sorter.addAgent("s1", q({ cpus: 10 }));
  addActive(sorter, "a", "b");
  // Settles the order: what follows is kept in order incrementally.
  assert.deepEqual(sorter.sort(), ["a", "b"]);
  // Each newcomer sorts after the previous one and before "b": the gap
  // below "b" narrows until the siblings are renumbered, and the ones added
  // afterwards must still land behind the earlier ones (shares and counts
  // tie, so the path decides).
  const names = ["a", "b"];
  for (let i = 0; i < 40; i++) {
    const name = `a${String(i).padStart(2, "0")}`;
    addActive(sorter, name);
    names.push(name);
  }
  assert.deepEqual(sorter.sort(), names.sort());
});

test("drf sorter: a client found by its index is the one added under it", () => {
  const { sorter, q } = drf();
  sorter.addAgent("s1", q({ cpus: 10 }));
  sorter.add("a", 0);
  sorter.activate("a");
  sorter.add("b", 1);
  sorter.activate("b");
  sorter.allocated("a", q({ cpus: 2 }), 0);
  // An index naming another client: found by name.
  assert.equal(sorter.contains("b", 0), true);
  sorter.allocated("b", q({ cpus: 5 }), 0);
  assert.deepEqual(sorter.sort(), ["a", "b"]);
  sorter.unallocated("b", q({ cpus: 5 }), 0);
  sorter.remove("a");
  assert.equal(sorter.contains("a", 0), false);
  sorter.add("c", 0);
  sorter.activate("c");
  sorter.allocated("c", q({ cpus: 3 }), 0);
  sorter.allocated("b", q({ cpus: 1 }), 1);
  assert.deepEqual(sorter.sort(), ["b", "c"]);
  assert.deepEqual([...sorter.allocation("c")], [...q({ cpus: 3 })]);
});

test("drf sorter: a weight divides the share", () => {
  const { sorter, q } = drf();
  sorter.addAgent("s1", q({ cpus: 10 }));
  addActive(sorter, "a", "b");
  sorter.updateWeight("a", 2);
  sorter.allocated("a", q({ cpus: 3 })); // 0.3 / 2 = 0.15
  sorter.allocated("b", q({ cpus: 2 })); // 0.2
  assert.deepEqual(sorter.sort(), ["a", "b"]);
  assert.equal(sorter.share("a"), 0.15);
});

test("drf sorter: a weight set before the client exists applies when it is added", () => {
  const { sorter, q } = drf();
  sorter.addAgent("s1", q({ cpus: 10 }));
  sorter.updateWeight("a", 4);
  addActive(sorter, "a", "b");
  sorter.allocated("a", q({ cpus: 4 }));
  sorter.allocated("b", q({ cpus: 2 }));
  assert.deepEqual(sorter.sort(), ["a", "b"]);
});

test("drf sorter: hierarchical clients compete inside their parent's share", () => {
  const { sorter, q } = drf();
  sorter.addAgent("s1", q({ cpus: 100 }));
  addActive(sorter, "a/b", "a/c", "d");
  sorter.allocated("a/b", q({ cpus: 10 }));
  sorter.allocated("d", q({ cpus: 6 }));
  // a (0.1) is behind d (0.06); inside a, c (0) comes before b (0.1).
  assert.deepEqual(sorter.sort(), ["d", "a/c", "a/b"]);
  sorter.allocated("d", q({ cpus: 10 }));
  assert.deepEqual(sorter.sort(), ["a/c", "a/b", "d"]);
  // Allocating to a/c raises a's share (0.1 -> 0.2): a moves behind d (0.16).
  sorter.allocated("a/c", q({ cpus: 10 }));
  assert.deepEqual(sorter.sort(), ["d", "a/b", "a/c"]);
});

test("drf sorter: a client with sub-clients keeps its own allocation in an implicit leaf", () => {
  const { sorter, q } = drf();
  sorter.addAgent("s1", q({ cpus: 100 }));
  addActive(sorter, "a");
  sorter.allocated("a", q({ cpus: 20 }));
  addActive(sorter, "a/b", "z");
  assert.deepEqual(sorter.sort(), ["z", "a/b", "a"]);
  assert.deepEqual(sorter.allocation("a"), q({ cpus: 20 }));
  sorter.remove("a/b");
  assert.deepEqual(sorter.sort(), ["z", "a"]);
  assert.equal(sorter.contains("a/b"), false);
  sorter.unallocated("a", q({ cpus: 20 }));
  // Equal (zero) shares: "a" was picked once, "z" never.
  assert.equal(sorter.share("a"), 0);
  assert.deepEqual(sorter.sort(), ["z", "a"]);
});

test("drf sorter: inactive clients are left out of the order and come back on activation", () => {
  const { sorter, q } = drf();
  sorter.addAgent("s1", q({ cpus: 10 }));
  addActive(sorter, "a", "b", "c");
  sorter.deactivate("b");
  assert.deepEqual(sorter.sort(), ["a", "c"]);
  assert.equal(sorter.activeCount(), 2);
  sorter.allocated("b", q({ cpus: 5 }));
  sorter.activate("b");
  assert.deepEqual(sorter.sort(), ["a", "c", "b"]);
  assert.equal(
    sorter.first((c) => c !== "a"),
    "c",
  );
});

test("drf sorter: excluded resource names do not count towards the share", () => {
  const { sorter, q } = drf(["gpus"]);
  sorter.addAgent("s1", q({ cpus: 10, gpus: 1 }));
  addActive(sorter, "a", "b");
  sorter.allocated("a", q({ cpus: 1, gpus: 1 }));
  sorter.allocated("b", q({ cpus: 2 }));
  assert.deepEqual(sorter.sort(), ["a", "b"]);
});

test("drf sorter: adding an agent to the pool recomputes every share", () => {
  const { sorter, q } = drf();
  sorter.addAgent("s1", q({ cpus: 10, mem: 10 }));
  addActive(sorter, "a", "b");
  sorter.allocated("a", q({ cpus: 5 })); // 0.5
  sorter.allocated("b", q({ mem: 4 })); // 0.4
  assert.deepEqual(sorter.sort(), ["b", "a"]);
  sorter.addAgent("s2", q({ cpus: 90 })); // a: 0.05, b: 0.4
  assert.deepEqual(sorter.sort(), ["a", "b"]);
  sorter.removeAgent("s2");
  assert.deepEqual(sorter.sort(), ["b", "a"]);
});

test("drf sorter: a repeated sort returns the cached order", () => {
  const { sorter, q } = drf();
  sorter.addAgent("s1", q({ cpus: 10 }));
  addActive(sorter, "a", "b");
  const first = sorter.sort();
  assert.equal(sorter.sort(), first);
  sorter.allocated("a", q({ cpus: 1 }));
  assert.notEqual(sorter.sort(), first);
});

test("random sorter: every active client appears once per sort, weighted picks follow weights", () => {
  const names = new ResourceNames();
  const sorter = new RandomSorter({ random: seededRandom(7) });
  addActive(sorter, "a", "b", "c/x", "c/y");
  sorter.add("d");
  const order = sorter.sort();
  assert.deepEqual([...order].sort(), ["a", "b", "c/x", "c/y"]);
  sorter.updateWeight("a", 3);
  const firsts = new Map<string, number>();
  for (let i = 0; i < 6000; i++) {
    const f = sorter.first(() => true) as string;
    firsts.set(f, (firsts.get(f) ?? 0) + 1);
  }
  // Relative weights: a 3/5, b 1/5, c 1/5 (split between c/x and c/y).
  const a = (firsts.get("a") ?? 0) / 6000;
  assert.ok(a > 0.5 && a < 0.7, `a picked first ${a}`);
  const cx = (firsts.get("c/x") ?? 0) / 6000;
  assert.ok(cx > 0.05 && cx < 0.15, `c/x picked first ${cx}`);
  assert.equal(names.size, 0);
});

test("drf sorter: warmFront gives the indexes of the first active clients in DRF order", () => {
  const { sorter, q } = drf();
  sorter.addAgent("a1", q({ cpus: 100, mem: 1000 }));
  for (const [client, index] of [
    ["f0", 0],
    ["f1", 1],
    ["f2", 2],
    ["f3", 3],
  ] as const) {
    sorter.add(client, index);
    sorter.activate(client);
  }
  sorter.allocated("f0", q({ cpus: 30 }), 0);
  sorter.allocated("f1", q({ cpus: 10 }), 1);
  sorter.allocated("f3", q({ cpus: 20 }), 3);
  sorter.deactivate("f2");
  const out: number[] = [];
  assert.equal(sorter.warmFront(2, out), 2);
  assert.deepEqual(out.slice(0, 2), [1, 3]);
  assert.equal(sorter.warmFront(10, out), 3);
  assert.deepEqual(out.slice(0, 3), [1, 3, 0]);
  assert.deepEqual(sorter.sort(), ["f1", "f3", "f0"]);
});
