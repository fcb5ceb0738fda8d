import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type Attribute,
  attributesEqual,
  attributesToJson,
  findAttribute,
  formatAttribute,
  formatAttributesFlag,
  parseAttributes,
  validateAttribute,
} from "../../src/common/resources/index.js";

function ok<T>(r: { ok: true; value: T } | { ok: false; error: string }): T {
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

test("attributes: text, ranges and scalar values are typed as Mesos types them", () => {
  const a = ok(parseAttributes("rack:r1;os:ubuntu;zone:[1-3];weight:2.5"));
  assert.deepEqual(a, [
    { name: "rack", type: "TEXT", text: { value: "r1" } },
    { name: "os", type: "TEXT", text: { value: "ubuntu" } },
    { name: "zone", type: "RANGES", ranges: { range: [{ begin: 1, end: 3 }] } },
    { name: "weight", type: "SCALAR", scalar: { value: 2.5 } },
  ]);
});

test("attributes: newlines separate too, values may contain ':' and lose spaces", () => {
  const a = ok(parseAttributes("host:a:b\nlabel: x y ;;"));
  assert.deepEqual(a, [
    { name: "host", type: "TEXT", text: { value: "a:b" } },
    { name: "label", type: "TEXT", text: { value: "xy" } },
  ]);
});

test("attributes: set values are rejected like Mesos unless explicitly allowed", () => {
  const rejected = parseAttributes("set:{a,b}");
  assert.equal(rejected.ok, false);
  assert.match(rejected.ok ? "" : rejected.error, /set values/);
  assert.deepEqual(ok(parseAttributes("set:{a,b}", { allowSets: true })), [
    { name: "set", type: "SET", set: { item: ["a", "b"] } },
  ]);
});

test("attributes: malformed pairs are error values", () => {
  for (const bad of ["rack", ":r1", "rack:", "zone:[1-", "zone:[3-1]", "x:a{b}"]) {
    assert.equal(parseAttributes(bad).ok, false, bad);
  }
});

test("attributes: text forms and JSON model", () => {
  const a = ok(parseAttributes("rack:r1;zone:[1-3,5-6];weight:2.5"));
  assert.deepEqual(a.map(formatAttribute), ["rack=r1", "zone=[1-3, 5-6]", "weight=2.5"]);
  assert.equal(formatAttributesFlag(a), "rack:r1;zone:[1-3, 5-6];weight:2.5");
  assert.deepEqual(ok(parseAttributes(formatAttributesFlag(a))), a);
  assert.deepEqual(attributesToJson(a), { rack: "r1", zone: "[1-3, 5-6]", weight: 2.5 });
});

test("attributes: equality ignores order, find by name and type", () => {
  const a = ok(parseAttributes("rack:r1;zone:[1-3]"));
  const b = ok(parseAttributes("zone:[1-2,3-3];rack:r1"));
  assert.ok(attributesEqual(a, b));
  assert.ok(!attributesEqual(a, ok(parseAttributes("rack:r2;zone:[1-3]"))));
  assert.equal(findAttribute(a, "rack", "TEXT")?.text?.value, "r1");
  assert.equal(findAttribute(a, "rack", "SCALAR"), undefined);
});

test("attributes: validation of attribute messages", () => {
  assert.equal(validateAttribute({ name: "a", type: "TEXT", text: { value: "x" } }), undefined);
  assert.notEqual(validateAttribute({ name: "", type: "TEXT", text: { value: "x" } }), undefined);
  assert.notEqual(validateAttribute({ name: "a", type: "SCALAR" } as Attribute), undefined);
  assert.notEqual(validateAttribute({ name: "a", type: "SET", set: { item: [] } }), undefined);
});

test("attributes: subnormal numbers are refused as Mesos refuses them; negatives are text", () => {
  const rejected = parseAttributes("x:1e-320");
  assert.equal(rejected.ok, false);
  assert.match(rejected.ok ? "" : rejected.error, /^Bad value for attribute 'x': subnormal/);
  assert.deepEqual(ok(parseAttributes("level:-5;tiny:2.2250738585072014e-308")), [
    { name: "level", type: "TEXT", text: { value: "-5" } },
    { name: "tiny", type: "SCALAR", scalar: { value: 2.2250738585072014e-308 } },
  ]);
});

test("attributes: the endpoint map keeps flag order; a repeated name keeps its last value", () => {
  const a = ok(parseAttributes("rack:abc;zone:west;os:centos5;level:10;keys:[1000-1500];os:rhel"));
  const json = attributesToJson(a);
  assert.deepEqual(Object.keys(json), ["rack", "zone", "os", "level", "keys"]);
  assert.deepEqual(json, { rack: "abc", zone: "west", os: "rhel", level: 10, keys: "[1000-1500]" });
});
