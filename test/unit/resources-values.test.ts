import assert from "node:assert/strict";
import { test } from "node:test";
import {
  addRanges,
  addScalars,
  coalesceFlat,
  compareScalars,
  formatFlatRanges,
  formatScalar,
  isStrictSubroleOf,
  parseValue,
  rangesContain,
  rangesCount,
  roleAncestors,
  roundScalar,
  subtractRanges,
  subtractScalars,
  validateRole,
} from "../../src/common/resources/index.js";

test("scalars: 0.1 + 0.2 is exactly 0.3 (fixed point, no float drift)", () => {
  assert.equal(addScalars(0.1, 0.2), 0.3);
  let total = 0;
  for (let i = 0; i < 1000; i++) total = addScalars(total, 0.1);
  assert.equal(total, 100);
  for (let i = 0; i < 1000; i++) total = subtractScalars(total, 0.1);
  assert.equal(total, 0);
});

test("scalars: values round to the nearest 0.001 and compare after rounding", () => {
  assert.equal(roundScalar(1.0004), 1);
  assert.equal(roundScalar(1.0005), 1.001);
  assert.equal(roundScalar(0.0004), 0);
  assert.equal(compareScalars(1.0001, 1.0002), 0);
  assert.ok(compareScalars(1.001, 1) > 0);
});

test("scalars: text form drops trailing zeros and uses an exponent from 1e15", () => {
  assert.equal(formatScalar(2), "2");
  assert.equal(formatScalar(1961), "1961");
  assert.equal(formatScalar(0.5), "0.5");
  assert.equal(formatScalar(1.23456), "1.235");
  assert.equal(formatScalar(0), "0");
  assert.equal(formatScalar(1e15), "1e+15");
  assert.equal(formatScalar(123456789012.345), "123456789012.345");
});

test("ranges: overlapping and adjacent ranges coalesce", () => {
  assert.deepEqual(coalesceFlat([5, 9, 1, 2, 3, 4, 20, 30, 25, 26]), [1, 9, 20, 30]);
  assert.deepEqual(addRanges([1, 5], [6, 10]), [1, 10]);
  assert.deepEqual(addRanges([1, 5, 20, 30], [7, 8]), [1, 5, 7, 8, 20, 30]);
});

test("ranges: subtracting splits a range around the hole", () => {
  assert.deepEqual(subtractRanges([31000, 32000], [31500, 31600]), [31000, 31499, 31601, 32000]);
  assert.deepEqual(subtractRanges([1, 10], [1, 10]), []);
  assert.deepEqual(subtractRanges([1, 10, 20, 30], [5, 25]), [1, 4, 26, 30]);
  assert.deepEqual(subtractRanges([1, 10], [11, 20]), [1, 10]);
});

test("ranges: containment, count and text form", () => {
  assert.ok(rangesContain([1, 10, 20, 30], [2, 3, 25, 30]));
  assert.ok(!rangesContain([1, 10, 20, 30], [9, 21]));
  assert.equal(rangesCount([31000, 32000]), 1001);
  assert.equal(formatFlatRanges([1, 2, 5, 5]), "[1-2, 5-5]");
});

test("values: the Mesos value grammar picks scalar, ranges, set or text", () => {
  assert.deepEqual(parseValue(" 4 "), {
    ok: true,
    value: { type: "SCALAR", scalar: { value: 4 } },
  });
  assert.deepEqual(parseValue("[1-2, 4-5]"), {
    ok: true,
    value: {
      type: "RANGES",
      ranges: {
        range: [
          { begin: 1, end: 2 },
          { begin: 4, end: 5 },
        ],
      },
    },
  });
  assert.deepEqual(parseValue("{a, b}"), {
    ok: true,
    value: { type: "SET", set: { item: ["a", "b"] } },
  });
  assert.deepEqual(parseValue("ubuntu"), {
    ok: true,
    value: { type: "TEXT", text: { value: "ubuntu" } },
  });
  assert.deepEqual(parseValue("-1"), { ok: true, value: { type: "TEXT", text: { value: "-1" } } });
  assert.equal(parseValue("0x10").ok, true);
});

test("values: malformed values are error values", () => {
  for (const bad of ["", "   ", "[1-2", "{a", "[1-2-3]", "[a-b]", "x[1-2]", "x{a}"]) {
    assert.equal(parseValue(bad).ok, false, bad);
  }
});

test("roles: validation follows Mesos' rules", () => {
  assert.equal(validateRole("*"), undefined);
  assert.equal(validateRole("eng/web"), undefined);
  for (const bad of ["/a", "a/", "a//b", ".", "a/..", "a/*", "-a", "a b", ""]) {
    assert.notEqual(validateRole(bad), undefined, bad);
  }
});

test("roles: hierarchy helpers", () => {
  assert.ok(isStrictSubroleOf("a/b", "a"));
  assert.ok(!isStrictSubroleOf("ab", "a"));
  assert.ok(!isStrictSubroleOf("a", "a"));
  assert.deepEqual(roleAncestors("a/b/c"), ["a/b", "a"]);
});
