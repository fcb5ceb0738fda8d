import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { type Codec, createCodec } from "../../src/common/protocol/codec.js";
import {
  descriptorFromRoot,
  loadProtoRoot,
} from "../../src/common/protocol/descriptor-from-proto.js";
import type { Result } from "../../src/common/protocol/result.js";
import { sampleMessage } from "../../src/common/protocol/samples.js";
import { Schema } from "../../src/common/protocol/schema.js";
import { seededRandom } from "../../src/common/time/random.js";

const fixtures = fileURLToPath(new URL("../../../test/fixtures/protocol", import.meta.url));
const pbRoot = loadProtoRoot(fixtures, ["codectest/main.proto"]);
const schema = new Schema(descriptorFromRoot(pbRoot));

type Obj = Record<string, unknown>;
const outer: Codec<Obj> = createCodec(schema, "codectest.Outer");
const scalars: Codec<Obj> = createCodec(schema, "codectest.Scalars");
const withDefaults: Codec<Obj> = createCodec(schema, "codectest.WithDefaults");
const call: Codec<Obj> = createCodec(schema, "codectest.Call");
const chain: Codec<Obj> = createCodec(schema, "codectest.Chain");
const sparse: Codec<Obj> = createCodec(schema, "codectest.Sparse");

function value<T>(r: Result<T, { message: string }>): T {
  if (!r.ok) assert.fail(`unexpected decode error: ${r.error.message}`);
  return r.value;
}

function errorOf<T>(r: Result<T, { message: string }>): string {
  if (r.ok) assert.fail(`expected a decode error, got ${JSON.stringify(r.value)}`);
  return r.error.message;
}

/**
 * protobufjs as an independent reference implementation of the binary format.
 * (It mis-encodes the key "false" of a map<bool, _> as true, so callers leave
 * such maps out.)
 */
function referenceEncode(typeName: string, obj: Obj): Uint8Array {
  const T = pbRoot.lookupType(typeName);
  return T.encode(T.fromObject(obj)).finish();
}

/** A deep copy without `flags_by_bool` maps (see referenceEncode). */
function withoutBoolMaps(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutBoolMaps);
  if (v === null || typeof v !== "object" || v instanceof Uint8Array) return v;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) if (k !== "flags_by_bool") out[k] = withoutBoolMaps(x);
  return out;
}

const full: Obj = {
  kind: "SMALL",
  id: { value: "x" },
  inners: [{ name: "a", level: "HIGH", children: [{ name: "b" }] }],
  tags: ["t1", "t2"],
  numbers: [1, -2, 300],
  packed_longs: [1, -1, 2 ** 40],
  kinds: ["LARGE", "UNKNOWN"],
  blobs: [Buffer.from("hi"), Buffer.alloc(0)],
  labels: { a: "b", c: "d" },
  inner_by_name: { z: { name: "zz" } },
  weights: { "1": 0.5, "-3": 2 },
  color: "BLUE",
  amount: -5,
  scalars: {
    d: 1.5,
    f: 0.25,
    i32: -7,
    i64: -(2 ** 50),
    u32: 4294967295,
    u64: 2 ** 53 - 1,
    s32: -100,
    s64: -(2 ** 45),
    fx32: 123,
    fx64: 2 ** 40,
    sfx32: -9,
    sfx64: -(2 ** 33),
    b: true,
    s: "héllo ✓ 😀",
    by: Buffer.from([0, 1, 255]),
  },
  with_defaults: {},
  pairs: [{ key: "k", number: 3 }],
  ratios: [0.5, 1e300],
  flags_by_bool: { true: "y", false: "n" },
  by_big: { "9007199254740991": "max-safe" },
};

test("codec engine: a message using every field kind survives JSON and protobuf round trips", () => {
  const exact = value(outer.decodeJson(outer.encodeJson(full, { withDefaults: false })));
  assert.deepEqual(exact, full);
  // With Mesos' defaults written, unset defaulted fields come back set to their default.
  const fromJson = value(outer.decodeJson(outer.encodeJson(full)));
  assert.deepEqual(fromJson, outer.withJsonDefaults(full));
  const fromProto = value(outer.decodeProtobuf(outer.encodeProtobuf(full)));
  assert.deepEqual(fromProto, full);
});

test("codec engine: protobuf output is byte-identical to protobufjs and decodes its output", () => {
  const { flags_by_bool: _, ...comparable } = full;
  const ours = outer.encodeProtobuf(comparable);
  const theirs = referenceEncode("codectest.Outer", comparable);
  assert.equal(Buffer.compare(ours, Buffer.from(theirs)), 0);
  assert.deepEqual(value(outer.decodeProtobuf(theirs)), comparable);
});

test("codec engine: generated samples of every fixture type round-trip and match protobufjs", () => {
  const random = seededRandom(7);
  for (const typeName of Object.keys(schema.descriptor.messages)) {
    const codec = createCodec<Obj>(schema, typeName);
    for (let i = 0; i < 5; i++) {
      const sample = sampleMessage(schema, typeName, { random });
      const viaJson = value(codec.decodeJson(codec.encodeJson(sample, { withDefaults: false })));
      assert.deepEqual(viaJson, sample, typeName);
      const filled = value(codec.decodeJson(codec.encodeJson(sample)));
      assert.deepEqual(filled, codec.withJsonDefaults(sample), `${typeName} with defaults`);
      const bytes = codec.encodeProtobuf(viaJson);
      assert.deepEqual(value(codec.decodeProtobuf(bytes)), sample, typeName);
      const comparable = withoutBoolMaps(sample) as Obj;
      assert.deepEqual(
        value(codec.decodeProtobuf(referenceEncode(typeName, comparable))),
        comparable,
        `${typeName} from protobufjs`,
      );
    }
  }
});

test("codec engine: JSON uses proto field names, enum names, base64 bytes and numbers for 64-bit ints", () => {
  const v = outer.toJsonValue({
    kind: "LARGE",
    scalars: { i64: 12345678901, u64: 2 ** 53, by: Buffer.from("mesos") },
    labels: { k: "v" },
  });
  assert.deepEqual(v, {
    kind: "LARGE",
    scalars: { i64: 12345678901, u64: 2 ** 53, by: "bWVzb3M=" },
    labels: { k: "v" },
  });
});

test("codec engine: JSON output leaves out unset fields, null, and empty repeated fields and maps", () => {
  const v = outer.toJsonValue({ kind: "SMALL", tags: [], labels: {}, color: undefined, id: null });
  assert.deepEqual(v, { kind: "SMALL" });
});

test("codec engine: JSON fields come out in declaration order, protobuf fields in number order", () => {
  const msg = { amount: 1, kind: "SMALL", id: { value: "a" } };
  assert.deepEqual(Object.keys(outer.toJsonValue(msg)), ["kind", "id", "amount"]);
  const bytes = outer.encodeProtobuf(msg);
  assert.equal(bytes[0], (1 << 3) | 0);
});

test("codec engine: 64-bit integers are accepted as JSON numbers or strings of digits", () => {
  const m = value(
    scalars.decodeJson({ i64: "-9007199254740991", u64: "18446744073709551615", fx64: 42 }),
  );
  assert.equal(m.i64, -9007199254740991);
  assert.equal(m.u64, 2 ** 64);
  assert.equal(m.fx64, 42);
});

test("codec engine: int64 extremes saturate instead of wrapping when encoded", () => {
  const max = value(
    scalars.decodeJson('{"i64": 9223372036854775807, "u64": 18446744073709551615}'),
  );
  const bytes = scalars.encodeProtobuf(max);
  const T = pbRoot.lookupType("codectest.Scalars");
  const ref = T.toObject(T.decode(bytes), { longs: String });
  assert.equal(ref.i64, "9223372036854775807");
  assert.equal(ref.u64, "18446744073709551615");
  const min = scalars.encodeProtobuf({ i64: -(2 ** 63), s64: -(2 ** 63), sfx64: -(2 ** 63) });
  const refMin = T.toObject(T.decode(min), { longs: String });
  assert.deepEqual(refMin, {
    i64: "-9223372036854775808",
    s64: "-9223372036854775808",
    sfx64: "-9223372036854775808",
  });
  assert.deepEqual(value(scalars.decodeProtobuf(min)), {
    i64: -(2 ** 63),
    s64: -(2 ** 63),
    sfx64: -(2 ** 63),
  });
});

test("codec engine: negative int32 and enum values use ten-byte varints and decode back", () => {
  const bytes = scalars.encodeProtobuf({ i32: -1 });
  assert.equal(bytes.length, 11);
  assert.deepEqual(value(scalars.decodeProtobuf(bytes)), { i32: -1 });
});

test("codec engine: doubles accept numeric strings and the non-finite names; floats are rounded to 32 bits", () => {
  const m = value(scalars.decodeJson({ d: "2.5e3", f: 0.1 }));
  assert.equal(m.d, 2500);
  assert.equal(m.f, Math.fround(0.1));
  const inf = value(scalars.decodeJson({ d: "-Infinity" }));
  assert.equal(inf.d, Number.NEGATIVE_INFINITY);
  assert.deepEqual(scalars.toJsonValue({ d: Number.POSITIVE_INFINITY }), { d: "Infinity" });
  assert.deepEqual(scalars.toJsonValue({ d: Number.NaN }), { d: "NaN" });
});

test("codec engine: bools accept true/false and their strings", () => {
  assert.equal(value(scalars.decodeJson({ b: "false" })).b, false);
  assert.match(errorOf(scalars.decodeJson({ b: 1 })), /^b: expected a boolean, got a number$/);
});

test("codec engine: proto2 defaults are not materialised but can be read from the schema", () => {
  assert.deepEqual(value(withDefaults.decodeJson({})), {});
  assert.deepEqual(value(withDefaults.decodeProtobuf(new Uint8Array(0))), {});
  assert.equal(withDefaults.fieldDefault("count"), 7);
  assert.equal(withDefaults.fieldDefault("color"), "GREEN");
  assert.equal(withDefaults.fieldDefault("plain"), undefined);
  assert.throws(() => withDefaults.fieldDefault("nope"), /no field 'nope'/);
});

test("codec engine: JSON writes declared defaults of unset fields, deprecated ones never, as Mesos' JSON writer does", () => {
  const expected = { count: 1, name: "anon", flag: true, ratio: 0.5, color: "GREEN", big: -3 };
  assert.deepEqual(withDefaults.toJsonValue({ count: 1 }), expected);
  assert.deepEqual(Object.keys(withDefaults.toJsonValue({ count: 1 })), Object.keys(expected));
  assert.deepEqual(withDefaults.toJsonValue({ count: 1 }, { withDefaults: true }), expected);
  assert.deepEqual(withDefaults.toJsonValue({ count: 1 }, { withDefaults: false }), { count: 1 });
  assert.deepEqual(withDefaults.withJsonDefaults({ count: 1 }), expected);
  // Decoding never needs them: absent defaulted fields stay unset.
  assert.deepEqual(value(withDefaults.decodeJson({ count: 1 })), { count: 1 });
});

test("codec engine: withJsonDefaults copies only what it fills and returns untouched input as is", () => {
  const full = { count: 1, name: "n", flag: false, ratio: 1, color: "RED", big: 2 };
  assert.equal(withDefaults.withJsonDefaults(full), full);
  const input = { count: 1 };
  const filled = withDefaults.withJsonDefaults(input);
  assert.notEqual(filled, input);
  assert.deepEqual(input, { count: 1 }, "the input is not modified");
  const noDefaults = { kind: "SMALL" };
  assert.equal(scalars.withJsonDefaults(noDefaults), noDefaults);
});

test("codec engine: null in JSON means unset and unknown keys are ignored", () => {
  assert.deepEqual(value(outer.decodeJson({ kind: "SMALL", id: null, what: 1, tags: null })), {
    kind: "SMALL",
  });
});

test("codec engine: JSON maps with integer and bool keys are checked and normalised", () => {
  assert.deepEqual(value(outer.decodeJson({ kind: "SMALL", weights: { "007": 1 } })).weights, {
    "7": 1,
  });
  assert.match(
    errorOf(outer.decodeJson({ kind: "SMALL", weights: { x: 1 } })),
    /^weights\["x"\]: /,
  );
  assert.match(
    errorOf(outer.decodeJson({ kind: "SMALL", flags_by_bool: { yes: "a" } })),
    /^flags_by_bool\["yes"\]: invalid map key 'yes'/,
  );
});

test("codec engine: a __proto__ map key is stored as data, not as the object's prototype", () => {
  const m = value(outer.decodeJson('{"kind":"SMALL","labels":{"__proto__":"x"}}'));
  const labels = m.labels as Record<string, string>;
  assert.equal(Object.getPrototypeOf(labels), Object.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(labels, "__proto__")?.value, "x");
  const back = value(outer.decodeProtobuf(outer.encodeProtobuf(m)));
  assert.equal(Object.getOwnPropertyDescriptor(back.labels, "__proto__")?.value, "x");
});

const strictCases: [string, unknown, RegExp][] = [
  ["not an object", "[1,2]", /^expected a JSON object, got an array$/],
  ["malformed JSON", "{kind:", /^malformed JSON: /],
  [
    "unknown enum name",
    { kind: "HUGE" },
    /^kind: unknown value 'HUGE' for enum codectest\.Outer\.Kind$/,
  ],
  ["enum given as number", { kind: 1 }, /^kind: expected an enum name, got a number$/],
  [
    "string for a message",
    { kind: "SMALL", id: "abc" },
    /^id: expected a JSON object, got a string$/,
  ],
  [
    "object for a number",
    { kind: "SMALL", numbers: [{}] },
    /^numbers\[0\]: expected an integer, got an object$/,
  ],
  [
    "non-integer for an int",
    { kind: "SMALL", numbers: [1, 2.5] },
    /^numbers\[1\]: expected an integer, got 2\.5$/,
  ],
  [
    "int32 out of range",
    { kind: "SMALL", numbers: [2 ** 31] },
    /^numbers\[0\]: value 2147483648 is out of range for int32$/,
  ],
  [
    "uint32 negative",
    { kind: "SMALL", scalars: { u32: -1 } },
    /^scalars\.u32: value -1 is out of range for uint32$/,
  ],
  [
    "int64 string out of range",
    { kind: "SMALL", scalars: { i64: "9223372036854775808" } },
    /out of range for int64$/,
  ],
  ["uint64 negative string", { kind: "SMALL", scalars: { u64: "-1" } }, /out of range for uint64$/],
  [
    "digits with junk",
    { kind: "SMALL", scalars: { i64: "12abc" } },
    /^scalars\.i64: expected an integer, got the string '12abc'$/,
  ],
  [
    "number for a string",
    { kind: "SMALL", tags: [1] },
    /^tags\[0\]: expected a string, got a number$/,
  ],
  [
    "scalar for a repeated field",
    { kind: "SMALL", tags: "a" },
    /^tags: expected an array, got a string$/,
  ],
  [
    "null inside an array",
    { kind: "SMALL", tags: ["a", null] },
    /^tags\[1\]: null is not allowed in an array$/,
  ],
  [
    "array for a map",
    { kind: "SMALL", labels: [] },
    /^labels: expected a JSON object \(map\), got an array$/,
  ],
  [
    "bad base64",
    { kind: "SMALL", blobs: ["####"] },
    /^blobs\[0\]: invalid base64: unexpected character$/,
  ],
  [
    "base64 of impossible length",
    { kind: "SMALL", scalars: { by: "abcde" } },
    /^scalars\.by: invalid base64: wrong length$/,
  ],
  ["missing required top-level field", {}, /^kind: required field is missing$/],
  [
    "missing required nested field",
    { kind: "SMALL", inners: [{ name: "a", children: [{ level: "LOW" }] }] },
    /^inners\[0\]\.children\[0\]\.name: required field is missing$/,
  ],
  [
    "missing required field in a map value",
    { kind: "SMALL", inner_by_name: { k: {} } },
    /^inner_by_name\["k"\]\.name: required field is missing$/,
  ],
  [
    "two oneof members",
    { kind: "SMALL", text: "a", nested: { name: "b" } },
    /^fields 'text' and 'nested' of oneof 'choice' are both set$/,
  ],
];

for (const [what, input, expected] of strictCases) {
  test(`codec engine: strict JSON decoding rejects ${what}`, () => {
    const r = outer.decodeJson(typeof input === "string" ? input : input);
    assert.match(errorOf(r), expected);
    if (!r.ok) {
      assert.equal(r.error.format, "json");
      assert.equal(r.error.typeName, "codectest.Outer");
      assert.equal(r.error.httpStatus, 400);
      assert.ok(!r.error.message.includes("\n"));
    }
  });
}

test("codec engine: decodeJson accepts text, UTF-8 bytes or a parsed value", () => {
  const expected = { kind: "SMALL", tags: ["é"] };
  assert.deepEqual(value(outer.decodeJson('{"kind":"SMALL","tags":["é"]}')), expected);
  assert.deepEqual(value(outer.decodeJson(Buffer.from('{"kind":"SMALL","tags":["é"]}'))), expected);
  assert.deepEqual(value(outer.decodeJson({ kind: "SMALL", tags: ["é"] })), expected);
});

test("codec engine: a required field missing after protobuf decoding is an error with its path", () => {
  // subscribe { outer { kind: SMALL, inners { level: LOW } } }: Inner.name is missing.
  const bytes = Buffer.from([0x1a, 0x08, 0x0a, 0x06, 0x08, 0x01, 0x1a, 0x02, 0x10, 0x01]);
  assert.match(
    errorOf(call.decodeProtobuf(bytes)),
    /^subscribe\.outer\.inners\[0\]\.name: required field is missing$/,
  );
});

test("codec engine: an unknown enum number in binary leaves an optional field unset and drops repeated elements", () => {
  // kind=SMALL(1), color=99 (unknown), kinds=[LARGE, 42, SMALL]
  const bytes = Buffer.from([0x08, 0x01, 0x60, 0x63, 0x38, 0x02, 0x38, 0x2a, 0x38, 0x01]);
  assert.deepEqual(value(outer.decodeProtobuf(bytes)), {
    kind: "SMALL",
    kinds: ["LARGE", "SMALL"],
  });
});

test("codec engine: an unknown enum name in JSON leaves an optional field unset and drops repeated elements (as stout)", () => {
  assert.deepEqual(
    value(
      outer.decodeJson({ kind: "SMALL", color: "ULTRAVIOLET", kinds: ["LARGE", "HUGE", "SMALL"] }),
    ),
    { kind: "SMALL", kinds: ["LARGE", "SMALL"] },
  );
});

test("codec engine: an unknown enum number in a required binary field is an error", () => {
  assert.match(
    errorOf(outer.decodeProtobuf(Buffer.from([0x08, 0x09]))),
    /^kind: unknown value 9 for enum codectest\.Outer\.Kind in a required field$/,
  );
});

test("codec engine: unknown binary fields of every wire type are skipped", () => {
  const known = outer.encodeProtobuf({ kind: "LARGE" });
  const unknown = Buffer.from([
    0xc8,
    0x3e,
    0x05, // field 1001 varint
    0xd1,
    0x3e,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8, // field 1002 fixed64
    0xda,
    0x3e,
    0x02,
    0x61,
    0x62, // field 1003 bytes
    0xe5,
    0x3e,
    1,
    2,
    3,
    4, // field 1004 fixed32
    0xeb,
    0x3e,
    0x08,
    0x01,
    0xec,
    0x3e, // field 1005 group with a varint inside
  ]);
  assert.deepEqual(value(outer.decodeProtobuf(Buffer.concat([unknown, known]))), { kind: "LARGE" });
});

test("codec engine: repeated scalars are accepted packed or unpacked whatever the schema says", () => {
  const T = pbRoot.lookupType("codectest.Outer");
  // numbers is unpacked in the schema: send it packed.
  const packedNumbers = Buffer.from([0x08, 0x01, 0x2a, 0x03, 0x01, 0x02, 0x03]);
  assert.deepEqual(value(outer.decodeProtobuf(packedNumbers)).numbers, [1, 2, 3]);
  // packed_longs is packed in the schema: send it unpacked.
  const unpacked = Buffer.from([0x08, 0x01, 0x30, 0x05, 0x30, 0x06]);
  assert.deepEqual(value(outer.decodeProtobuf(unpacked)).packed_longs, [5, 6]);
  assert.ok(T);
});

test("codec engine: a message field seen twice in binary is merged; the last oneof member wins", () => {
  const a = outer.encodeProtobuf({
    kind: "SMALL",
    inner: { name: "a", children: [{ name: "c1" }] },
  });
  const b = outer.encodeProtobuf({
    kind: "LARGE",
    inner: { name: "b", children: [{ name: "c2" }] },
  });
  assert.deepEqual(value(outer.decodeProtobuf(Buffer.concat([a, b]))), {
    kind: "LARGE",
    inner: { name: "b", children: [{ name: "c1" }, { name: "c2" }] },
  });
  const t = outer.encodeProtobuf({ kind: "SMALL", text: "t" });
  const n = outer.encodeProtobuf({ kind: "SMALL", amount: 5 });
  assert.deepEqual(value(outer.decodeProtobuf(Buffer.concat([t, n]))), {
    kind: "SMALL",
    amount: 5,
  });
});

test("codec engine: garbage protobuf input is an error value, never an exception", () => {
  const inputs = [
    Buffer.from("garbage bytes here"),
    Buffer.from([0x0a]),
    Buffer.from([0x0a, 0x05, 0x01]),
    Buffer.from([0x08]),
    Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
    Buffer.from([0x00, 0x01]),
    Buffer.from([0x0c]),
    Buffer.from([0x0f]),
    Buffer.from([0x11, 0x01, 0x02]),
  ];
  for (const input of inputs) {
    const r = outer.decodeProtobuf(input);
    assert.equal(r.ok, false, input.toString("hex"));
    if (!r.ok) assert.equal(r.error.format, "protobuf");
  }
  const random = seededRandom(3);
  for (let i = 0; i < 2000; i++) {
    const bytes = random.bytes(Math.floor(random.next() * 64));
    assert.doesNotThrow(() => outer.decodeProtobuf(bytes));
    assert.doesNotThrow(() => call.decodeProtobuf(bytes));
  }
});

test("codec engine: deeply nested input is rejected, not a stack overflow", () => {
  let json = '{"value":"x"}';
  for (let i = 0; i < 150; i++) json = `{"parent":${json}}`;
  assert.match(errorOf(chain.decodeJson(json)), /message nesting too deep/);
  let bytes: Buffer = Buffer.from([0x0a, 0x01, 0x78]);
  for (let i = 0; i < 150; i++) {
    bytes = Buffer.concat([Buffer.from([0x12]), lengthPrefix(bytes.length), bytes]);
  }
  assert.match(errorOf(chain.decodeProtobuf(bytes)), /message nesting too deep/);
});

function lengthPrefix(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v > 127) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}

test("codec engine: large field numbers and long strings and bodies encode correctly", () => {
  const long = "x".repeat(70_000);
  const m = { low: "é".repeat(100), high: long };
  const bytes = sparse.encodeProtobuf(m);
  assert.equal(Buffer.compare(bytes, Buffer.from(referenceEncode("codectest.Sparse", m))), 0);
  assert.deepEqual(value(sparse.decodeProtobuf(bytes)), m);
  const nested = {
    kind: "SMALL",
    inner: { name: "n".repeat(300), children: [{ name: "y".repeat(20_000) }] },
  };
  const nb = outer.encodeProtobuf(nested);
  assert.equal(
    Buffer.compare(nb, Buffer.from(referenceEncode("codectest.Outer", { ...nested, kind: 1 }))),
    0,
  );
  assert.deepEqual(value(outer.decodeProtobuf(nb)), nested);
});

test("codec engine: encoding an object that does not fit the schema throws a TypeError naming the field", () => {
  assert.throws(
    () => outer.encodeProtobuf({ kind: "HUGE" }),
    /^TypeError: cannot encode codectest\.Outer as protobuf: kind: invalid value 'HUGE'/,
  );
  assert.throws(
    () => outer.encodeJson({ kind: "SMALL", inners: [{ name: 5 }] }),
    /^TypeError: cannot encode codectest\.Outer as JSON: inners\[0\]\.name: expected a string/,
  );
  assert.throws(() => scalars.encodeProtobuf({ i32: 1.5 }), /i32: expected an integer, got 1\.5/);
});

test("codec engine: decoded bytes are copies, not views of the input buffer", () => {
  const input = scalars.encodeProtobuf({ by: Buffer.from([1, 2, 3]) });
  const m = value(scalars.decodeProtobuf(input));
  input.fill(0);
  assert.deepEqual([...(m.by as Uint8Array)], [1, 2, 3]);
});
