import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  addRanges,
  coalesceFlat,
  isStrictSubroleOf,
  parseAttributes,
  parseResources,
  parseValue,
  type ReservationInfo,
  type Resource,
  Resources,
  rangesContain,
  rangesCount,
  reservationRole,
  resourceFromJson,
  resourcesSummaryJson,
  resourcesToText,
  subtractRanges,
  validateResource,
} from "../../src/common/resources/index.js";

const RUNS = { numRuns: 300 };

// ---------------------------------------------------------------------------
// Generators.

const ROLES = ["a", "b", "a/b", "a/b/c", "c"];

/** Flat ranges within [lo, hi]. */
const flatRanges = (lo: number, hi: number) =>
  fc
    .array(fc.tuple(fc.integer({ min: lo, max: hi }), fc.integer({ min: 0, max: 20 })), {
      maxLength: 5,
    })
    .map((pairs) => coalesceFlat(pairs.flatMap(([b, len]) => [b, Math.min(hi, b + len)])));

const reservationStack: fc.Arbitrary<ReservationInfo[]> = fc.oneof(
  fc.constant<ReservationInfo[]>([]),
  fc.constantFrom(...ROLES).map((role) => [{ type: "STATIC" as const, role }]),
  fc.constantFrom(...ROLES).map((role) => [{ type: "DYNAMIC" as const, role, principal: "p" }]),
  fc.constant<ReservationInfo[]>([
    { type: "STATIC", role: "a" },
    { type: "DYNAMIC", role: "a/b" },
  ]),
);

interface GenOptions {
  /** Which half of the value space to draw ranges/sets from (to keep a and b disjoint). */
  half?: 0 | 1;
  reservations?: fc.Arbitrary<ReservationInfo[]>;
  revocable?: boolean;
}

function resourceArb(options: GenOptions = {}): fc.Arbitrary<Resource> {
  const half = options.half;
  const lo = half === 1 ? 1000 : 0;
  const hi = half === 0 ? 999 : 1999;
  const items =
    half === 1 ? ["b1", "b2", "b3"] : half === 0 ? ["a1", "a2", "a3"] : ["a1", "b1", "c1"];
  const stack = options.reservations ?? reservationStack;
  const value = fc.oneof(
    fc
      .record({
        name: fc.constantFrom("cpus", "mem", "disk"),
        milli: fc.integer({ min: 0, max: 100_000 }),
      })
      .map(
        ({ name, milli }): Resource => ({ name, type: "SCALAR", scalar: { value: milli / 1000 } }),
      ),
    flatRanges(lo, hi).map(
      (flat): Resource => ({
        name: "ports",
        type: "RANGES",
        ranges: { range: pairsOf(flat) },
      }),
    ),
    fc.subarray(items).map((item): Resource => ({ name: "bugs", type: "SET", set: { item } })),
  );
  return fc
    .tuple(value, stack, options.revocable === true ? fc.boolean() : fc.constant(false))
    .map(([r, reservations, revocable]) => {
      const out: Resource = { ...r };
      if (reservations.length > 0) out.reservations = reservations;
      if (revocable && r.name === "cpus") out.revocable = {};
      return out;
    });
}

function pairsOf(flat: readonly number[]): { begin: number; end: number }[] {
  const out: { begin: number; end: number }[] = [];
  for (let i = 0; i < flat.length; i += 2) out.push({ begin: flat[i]!, end: flat[i + 1]! });
  return out;
}

const persistentVolume = fc
  .record({ id: fc.constantFrom("v1", "v2"), size: fc.integer({ min: 1, max: 4 }) })
  .map(
    ({ id, size }): Resource => ({
      name: "disk",
      type: "SCALAR",
      scalar: { value: size },
      reservations: [{ type: "DYNAMIC", role: "a", principal: "p" }],
      disk: { persistence: { id }, volume: { mode: "RW", container_path: "data" } },
    }),
  );

const sharedVolume = persistentVolume.map((r): Resource => ({ ...r, shared: {} }));

const resources = (options: GenOptions = {}, extra: fc.Arbitrary<Resource>[] = []) =>
  fc
    .array(extra.length === 0 ? resourceArb(options) : fc.oneof(resourceArb(options), ...extra), {
      maxLength: 8,
    })
    .map((list) => Resources.from(list));

// ---------------------------------------------------------------------------
// Arithmetic laws.

test("resources (prop): a + b - b == a when b's ranges and sets are disjoint from a's", () => {
  fc.assert(
    fc.property(
      resources({ half: 0 }, [persistentVolume, sharedVolume]),
      resources({ half: 1 }, [persistentVolume, sharedVolume]),
      (a, b) => {
        assert.ok(a.plus(b).minus(b).equals(a), `${a} + ${b} - ${b}`);
      },
    ),
    RUNS,
  );
});

test("resources (prop): (a + b) contains a and b", () => {
  fc.assert(
    fc.property(
      resources({}, [persistentVolume, sharedVolume]),
      resources({}, [persistentVolume, sharedVolume]),
      (a, b) => {
        const sum = a.plus(b);
        assert.ok(sum.contains(a), `${sum} contains ${a}`);
        assert.ok(sum.contains(b), `${sum} contains ${b}`);
      },
    ),
    RUNS,
  );
});

test("resources (prop): a.contains(b) iff (a - b) + b == a, for non-shared resources", () => {
  fc.assert(
    fc.property(resources({}, [persistentVolume]), resources({}, [persistentVolume]), (a, b) => {
      assert.equal(a.contains(b), a.minus(b).plus(b).equals(a), `${a} vs ${b}`);
    }),
    RUNS,
  );
  // With b drawn from a (so containment actually happens often).
  fc.assert(
    fc.property(
      resources({}, [persistentVolume]).chain((a) =>
        fc.subarray(a.toArray()).map((sub) => [a, Resources.from(sub)] as const),
      ),
      ([a, b]) => {
        assert.ok(a.contains(b));
        assert.ok(a.minus(b).plus(b).equals(a));
      },
    ),
    RUNS,
  );
});

test("resources (prop): subtraction never produces negative or empty resources", () => {
  fc.assert(
    fc.property(resources(), resources(), (a, b) => {
      for (const r of a.minus(b)) {
        assert.equal(validateResource(r), undefined);
        if (r.type === "SCALAR") assert.ok((r.scalar?.value ?? 0) > 0);
      }
    }),
    RUNS,
  );
});

test("resources (prop): add order does not matter, and scalar sums have no float drift", () => {
  fc.assert(
    fc.property(resources(), resources(), resources(), (a, b, c) => {
      assert.ok(a.plus(b).plus(c).equals(c.plus(a).plus(b)));
      const cpus = (r: Resources) => Math.round((r.cpus() ?? 0) * 1000);
      assert.equal(cpus(a.plus(b)), cpus(a) + cpus(b));
      assert.equal(resourcesSummaryJson([a, b]).cpus, resourcesSummaryJson(a.plus(b)).cpus);
    }),
    RUNS,
  );
});

// ---------------------------------------------------------------------------
// Ranges against a bitmap model.

function bitmap(flat: readonly number[], size: number): boolean[] {
  const bits = new Array<boolean>(size).fill(false);
  for (let i = 0; i < flat.length; i += 2)
    for (let v = flat[i]!; v <= flat[i + 1]!; v++) bits[v] = true;
  return bits;
}

test("ranges (prop): union, difference and containment match a bitmap model", () => {
  const size = 140;
  fc.assert(
    fc.property(flatRanges(0, 120), flatRanges(0, 120), (a, b) => {
      const A = bitmap(a, size);
      const B = bitmap(b, size);
      assert.deepEqual(
        bitmap(addRanges(a, b), size),
        A.map((x, i) => x || B[i]!),
      );
      assert.deepEqual(
        bitmap(subtractRanges(a, b), size),
        A.map((x, i) => x && !B[i]),
      );
      assert.equal(
        rangesContain(a, b),
        B.every((x, i) => !x || A[i]),
      );
      // Results stay coalesced: sorted, disjoint and non-adjacent.
      for (const r of [addRanges(a, b), subtractRanges(a, b)]) assert.deepEqual(coalesceFlat(r), r);
    }),
    RUNS,
  );
});

test("ranges (prop): split and merge round trip: (a - b) + (a ∩ b) == a", () => {
  fc.assert(
    fc.property(flatRanges(0, 500), flatRanges(0, 500), (a, b) => {
      const outside = subtractRanges(a, b);
      const inside = subtractRanges(a, outside);
      assert.deepEqual(addRanges(outside, inside), a);
      assert.equal(rangesCount(outside) + rangesCount(inside), rangesCount(a));
    }),
    RUNS,
  );
});

// ---------------------------------------------------------------------------
// Reservation filters.

test("resources (prop): reserved(r) + unreserved == all for single-role sets", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...ROLES).chain((role) =>
        resources({
          reservations: fc.oneof(
            fc.constant<ReservationInfo[]>([]),
            fc.constant<ReservationInfo[]>([{ type: "STATIC", role }]),
          ),
        }).map((r) => [role, r] as const),
      ),
      ([role, all]) => {
        const reserved = all.reserved(role);
        const unreserved = all.unreserved();
        assert.ok(reserved.plus(unreserved).equals(all));
        assert.equal(reserved.size + unreserved.size, all.size);
      },
    ),
    RUNS,
  );
});

test("resources (prop): reserved() and unreserved() partition any set", () => {
  fc.assert(
    fc.property(resources({ revocable: true }), (all) => {
      assert.ok(all.reserved().plus(all.unreserved()).equals(all));
      assert.ok(all.revocable().plus(all.nonRevocable()).equals(all));
      let byRole = Resources.empty();
      for (const group of all.reservations().values()) byRole = byRole.plus(group);
      assert.ok(byRole.equals(all.reserved()));
    }),
    RUNS,
  );
});

test("resources (prop): allocatableTo respects the role hierarchy", () => {
  fc.assert(
    fc.property(resources(), fc.constantFrom(...ROLES, "d", "a/x"), (all, role) => {
      const allocatable = all.allocatableTo(role);
      for (const r of all) {
        const owner = reservationRole(r);
        const expected = owner === undefined || owner === role || isStrictSubroleOf(role, owner);
        assert.equal(allocatable.contains(r), expected, `${r.name} for ${role}`);
      }
      // A child may use everything its parent may.
      for (const child of ROLES.filter((c) => isStrictSubroleOf(c, role))) {
        assert.ok(all.allocatableTo(child).contains(allocatable));
      }
    }),
    RUNS,
  );
});

// ---------------------------------------------------------------------------
// Formats round trip.

test("resources (prop): text -> object -> text and object -> JSON -> object round trips", () => {
  fc.assert(
    fc.property(
      resources({
        reservations: fc.oneof(
          fc.constant<ReservationInfo[]>([]),
          fc.constantFrom(...ROLES).map((role): ReservationInfo[] => [{ type: "STATIC", role }]),
        ),
      }),
      (r) => {
        const text = resourcesToText(r);
        assert.ok(text.ok);
        const parsed = parseResources(text.value);
        assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
        assert.ok(parsed.value.equals(r), `${text.value} -> ${parsed.value} vs ${r}`);
        const viaJsonFlag = parseResources(JSON.stringify(r));
        assert.ok(viaJsonFlag.ok && viaJsonFlag.value.equals(r));
      },
    ),
    RUNS,
  );
  fc.assert(
    fc.property(resources({ revocable: true }, [persistentVolume, sharedVolume]), (r) => {
      const json = JSON.parse(JSON.stringify(r)) as unknown[];
      const back = Resources.from(
        json.map((x) => {
          const read = resourceFromJson(x);
          assert.ok(read.ok);
          return read.value;
        }),
      );
      assert.ok(back.nonShared().equals(r.nonShared()));
      assert.ok(Resources.from(r.toEndpointJson()).nonShared().equals(r.nonShared()));
    }),
    RUNS,
  );
});

// ---------------------------------------------------------------------------
// Garbage in, error values out.

test("parsers (prop): garbage strings give error values and never throw", () => {
  const garbage = fc.oneof(
    fc.string(),
    fc.string({ unit: "grapheme" }),
    fc.stringMatching(/^[a-z(){}[\]:;,\-*/ 0-9.]{0,30}$/),
  );
  fc.assert(
    fc.property(garbage, (text) => {
      for (const result of [
        parseResources(text),
        parseResources(text, "x"),
        parseAttributes(text),
        parseValue(text),
      ]) {
        assert.equal(typeof result.ok, "boolean");
        if (!result.ok) {
          assert.equal(typeof result.error, "string");
          assert.ok(!result.error.includes("\n") || text.includes("\n"));
        }
      }
    }),
    { numRuns: 2000 },
  );
});

test("parsers (prop): arbitrary JSON never throws and only valid resources get in", () => {
  fc.assert(
    fc.property(fc.anything(), fc.jsonValue(), (thing, json) => {
      for (const candidate of [thing, json]) {
        parseResources(JSON.stringify([candidate]) ?? "");
        resourceFromJson(candidate);
        const r = Resources.from([candidate as Resource]);
        for (const x of r) assert.equal(validateResource(x), undefined);
        Resources.tryFrom([candidate as Resource]);
        validateResource(candidate as Resource);
      }
    }),
    { numRuns: 1000 },
  );
});

test("parsers (prop): Resource-like objects with wrong field types never throw", () => {
  const field = fc.oneof(
    fc.constant(null),
    fc.integer(),
    fc.string(),
    fc.array(fc.anything()),
    fc.object(),
  );
  fc.assert(
    fc.property(
      fc.record(
        {
          name: fc.oneof(fc.constant("disk"), field),
          type: fc.oneof(fc.constantFrom("SCALAR", "RANGES", "SET"), field),
          scalar: fc.oneof(fc.record({ value: fc.oneof(fc.double(), field) }), field),
          ranges: fc.oneof(
            fc.record({ range: fc.array(fc.record({ begin: field, end: field })) }),
            field,
          ),
          set: fc.oneof(fc.record({ item: fc.array(field) }), field),
          role: field,
          reservation: field,
          reservations: fc.oneof(fc.array(fc.record({ type: field, role: field })), field),
          disk: fc.oneof(fc.record({ persistence: field, source: field, volume: field }), field),
          allocation_info: field,
          provider_id: field,
          revocable: field,
          shared: field,
        },
        { requiredKeys: [] },
      ),
      (candidate) => {
        const r = Resources.from([candidate as unknown as Resource]);
        r.toString();
        JSON.stringify(r.toEndpointJson());
        resourcesSummaryJson(r);
      },
    ),
    { numRuns: 2000 },
  );
});
