/**
 * Strict, schema-driven decoding of Mesos-style JSON (a parsed value) into
 * the in-memory form. Rules, following stout's JSON -> protobuf conversion
 * but stricter where stout coerces silently:
 * - keys are proto field names; unknown keys are ignored; `null` means unset;
 * - enums are value names; an unknown name is an error in a required field
 *   and dropped elsewhere (as proto2 and stout do: a peer built against a
 *   newer .proto can still talk to us);
 * - integers may be JSON numbers or strings of digits; they must be integral
 *   and within the field's range;
 * - doubles/floats may also be numeric strings or "Infinity"/"-Infinity"/"NaN";
 * - bools may also be the strings "true"/"false";
 * - bytes are strict base64; maps are JSON objects;
 * - a missing required field is an error, reported with its path.
 * Each failure also carries stout's wording of it (`WalkFailure.stout`),
 * which HTTP answers use where Mesos' own text is expected.
 */
import { decodeBase64 } from "./base64.js";
import { WalkFailure } from "./decode-error.js";
import { type FieldTable, Kind, Label, type MessageTable } from "./schema.js";
import { MAX_DEPTH } from "./wire-reader.js";

type Obj = Record<string, unknown>;

/** What `decodeValue` returns for a value to leave out (an unknown enum name in a non-required field). */
const DROP: unique symbol = Symbol("drop");

/** Decodes one message; throws `WalkFailure` on bad input. */
export function decodeJsonMessage(table: MessageTable, value: unknown, depth: number): Obj {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new WalkFailure(
      `expected a JSON object, got ${describe(value)}`,
      "Expecting a JSON object",
    );
  }
  if (depth > MAX_DEPTH) throw new WalkFailure("message nesting too deep");
  const src = value as Obj;
  const out: Obj = {};
  const byName = table.byName;
  let current = "";
  try {
    // Walk the keys present (usually far fewer than the schema's fields).
    for (const key in src) {
      const f = byName.get(key);
      if (f === undefined || !Object.hasOwn(src, key)) continue;
      const v = src[key];
      if (v === undefined || v === null) continue;
      current = key;
      if (f.label === Label.REPEATED) {
        const arr = decodeRepeated(f, v, depth);
        if (arr.length > 0) out[key] = arr;
      } else if (f.label === Label.MAP) {
        const map = decodeMap(f, v, depth);
        if (map !== undefined) out[key] = map;
      } else {
        const decoded = decodeValue(f, f.kind, v, depth);
        if (decoded !== DROP) out[key] = decoded;
      }
    }
  } catch (e) {
    if (e instanceof WalkFailure) e.within(current);
    throw e;
  }
  const required = table.required;
  for (let i = 0; i < required.length; i++) {
    const f = required[i] as FieldTable;
    if (out[f.name] === undefined)
      throw new WalkFailure("required field is missing").within(f.name);
  }
  if (table.oneofs.length > 0) checkOneofs(table, out);
  return out;
}

function checkOneofs(table: MessageTable, out: Obj): void {
  for (const oneof of table.oneofs) {
    let seen: string | undefined;
    for (const f of oneof.fields) {
      if (out[f.name] === undefined) continue;
      if (seen !== undefined) {
        throw new WalkFailure(
          `fields '${seen}' and '${f.name}' of oneof '${oneof.name}' are both set`,
        );
      }
      seen = f.name;
    }
  }
}

function decodeRepeated(f: FieldTable, v: unknown, depth: number): unknown[] {
  if (!Array.isArray(v)) throw new WalkFailure(`expected an array, got ${describe(v)}`);
  const out: unknown[] = [];
  for (let i = 0; i < v.length; i++) {
    const item: unknown = v[i];
    try {
      if (item === null || item === undefined)
        throw new WalkFailure("null is not allowed in an array");
      const decoded = decodeValue(f, f.kind, item, depth);
      if (decoded !== DROP) out.push(decoded);
    } catch (e) {
      if (e instanceof WalkFailure) e.within(`[${i}]`);
      throw e;
    }
  }
  return out;
}

function decodeMap(f: FieldTable, v: unknown, depth: number): Obj | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new WalkFailure(
      `expected a JSON object (map), got ${describe(v)}`,
      notExpecting(v, f.name),
    );
  }
  const src = v as Obj;
  const out: Obj = {};
  let any = false;
  for (const rawKey of Object.keys(src)) {
    try {
      const key = mapKey(f.keyKind, rawKey);
      const item = src[rawKey];
      if (item === null || item === undefined)
        throw new WalkFailure("null is not allowed as a map value");
      const decoded = decodeValue(f, f.kind, item, depth);
      if (decoded === DROP) continue;
      setMapEntry(out, key, decoded);
      any = true;
    } catch (e) {
      if (e instanceof WalkFailure) e.within(`[${JSON.stringify(rawKey)}]`);
      throw e;
    }
  }
  return any ? out : undefined;
}

/** Sets a map entry without letting a `__proto__` key change the object's prototype. */
export function setMapEntry(out: Obj, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(out, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    out[key] = value;
  }
}

/** Normalises a JSON map key for the map's key type. */
function mapKey(kind: Kind, raw: string): string {
  switch (kind) {
    case Kind.STRING:
      return raw;
    case Kind.BOOL:
      if (raw === "true" || raw === "false") return raw;
      throw new WalkFailure(`invalid map key '${raw}': expected true or false`);
    default:
      return String(integer(kind, raw));
  }
}

function decodeValue(f: FieldTable, kind: Kind, v: unknown, depth: number): unknown | typeof DROP {
  switch (kind) {
    case Kind.MESSAGE:
      if (typeof v !== "object" || v === null || Array.isArray(v)) {
        throw new WalkFailure(
          `expected a JSON object, got ${describe(v)}`,
          notExpecting(v, f.name),
        );
      }
      return decodeJsonMessage(f.messageTable, v, depth + 1);
    case Kind.STRING:
      if (typeof v === "string") return v;
      throw new WalkFailure(`expected a string, got ${describe(v)}`, notExpecting(v, f.name));
    case Kind.ENUM: {
      if (typeof v !== "string") {
        throw new WalkFailure(`expected an enum name, got ${describe(v)}`, notExpecting(v, f.name));
      }
      const enumTable = f.enumTable;
      if (enumTable === undefined || !enumTable.byName.has(v)) {
        if (f.label !== Label.REQUIRED && enumTable !== undefined) return DROP;
        throw new WalkFailure(
          `unknown value '${clip(v)}' for enum ${enumTable?.fullName}`,
          `Failed to find enum for '${clip(v)}'`,
        );
      }
      return v;
    }
    case Kind.BOOL:
      if (typeof v === "boolean") return v;
      if (v === "true") return true;
      if (v === "false") return false;
      throw new WalkFailure(
        `expected a boolean, got ${describe(v)}`,
        typeof v === "string"
          ? `Failed to parse '${clip(v)}' as a JSON boolean for field '${f.name}'`
          : notExpecting(v, f.name),
      );
    case Kind.BYTES: {
      if (typeof v !== "string") {
        throw new WalkFailure(
          `expected a base64 string, got ${describe(v)}`,
          notExpecting(v, f.name),
        );
      }
      const bytes = decodeBase64(v);
      if (typeof bytes === "string") {
        throw new WalkFailure(bytes, `Failed to base64 decode bytes field '${f.name}': ${bytes}`);
      }
      return bytes;
    }
    default:
      try {
        if (kind === Kind.DOUBLE) return floating(v);
        if (kind === Kind.FLOAT) return Math.fround(floating(v));
        return integer(kind, v);
      } catch (e) {
        throw e instanceof WalkFailure ? numberFailure(e, v, f.name) : e;
      }
  }
}

/** stout's kind names for a JSON value. */
function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return "array";
  switch (typeof v) {
    case "string":
      return "string";
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    default:
      return "object";
  }
}

/** stout's words for a value of the wrong JSON type. */
function notExpecting(v: unknown, field: string): string {
  return `Not expecting a JSON ${jsonKind(v)} for field '${field}'`;
}

/**
 * A numeric field's failure with stout's words: a value of another JSON
 * type is "not expected", a string that is no number fails to parse. (stout
 * truncates fractions and wraps out-of-range integers; we refuse them and
 * keep our own reason.)
 */
function numberFailure(e: WalkFailure, v: unknown, field: string): WalkFailure {
  if (typeof v !== "string" && typeof v !== "number") {
    return new WalkFailure(e.reason, notExpecting(v, field));
  }
  if (typeof v === "string" && !NUMERIC.test(v)) {
    return new WalkFailure(
      e.reason,
      `Failed to parse '${clip(v)}' as a JSON number for field '${field}'`,
    );
  }
  return e;
}

const NUMERIC = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

function floating(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "string") {
    if (NUMERIC.test(v)) return Number(v);
    if (v === "Infinity") return Number.POSITIVE_INFINITY;
    if (v === "-Infinity") return Number.NEGATIVE_INFINITY;
    if (v === "NaN") return Number.NaN;
    throw new WalkFailure(`expected a number, got the string '${clip(v)}'`);
  }
  throw new WalkFailure(`expected a number, got ${describe(v)}`);
}

const DIGITS = /^-?[0-9]+$/;

const INT64_MIN = -(2 ** 63);
const INT64_MAX_ROUNDED = 2 ** 63; // 2^63 - 1 parsed as a JSON number rounds up to this.
const UINT64_MAX_ROUNDED = 2 ** 64;
const INT64_MIN_BIG = -(2n ** 63n);
const INT64_MAX_BIG = 2n ** 63n - 1n;
const UINT64_MAX_BIG = 2n ** 64n - 1n;

function integer(kind: Kind, v: unknown): number {
  let n: number;
  if (typeof v === "number") {
    if (!Number.isInteger(v)) throw new WalkFailure(`expected an integer, got ${v}`);
    n = v;
    switch (kind) {
      case Kind.INT64:
      case Kind.SINT64:
      case Kind.SFIXED64:
        if (n < INT64_MIN || n > INT64_MAX_ROUNDED) throw outOfRange(v, kind);
        return n;
      case Kind.UINT64:
      case Kind.FIXED64:
        if (n < 0 || n > UINT64_MAX_ROUNDED) throw outOfRange(v, kind);
        return n;
    }
  } else if (typeof v === "string") {
    if (!DIGITS.test(v)) throw new WalkFailure(`expected an integer, got the string '${clip(v)}'`);
    switch (kind) {
      case Kind.INT64:
      case Kind.SINT64:
      case Kind.SFIXED64: {
        if (v.length > 18) {
          const big = BigInt(v);
          if (big < INT64_MIN_BIG || big > INT64_MAX_BIG) throw outOfRange(v, kind);
        }
        return Number(v);
      }
      case Kind.UINT64:
      case Kind.FIXED64: {
        if (v.startsWith("-")) throw outOfRange(v, kind);
        if (v.length > 19 && BigInt(v) > UINT64_MAX_BIG) throw outOfRange(v, kind);
        return Number(v);
      }
    }
    n = Number(v);
  } else {
    throw new WalkFailure(`expected an integer, got ${describe(v)}`);
  }
  // 32-bit kinds.
  if (kind === Kind.UINT32 || kind === Kind.FIXED32) {
    if (n < 0 || n > 0xffffffff) throw outOfRange(v, kind);
  } else if (n < -0x80000000 || n > 0x7fffffff) {
    throw outOfRange(v, kind);
  }
  return n;
}

const KIND_NAMES: Partial<Record<Kind, string>> = {
  [Kind.INT32]: "int32",
  [Kind.SINT32]: "sint32",
  [Kind.SFIXED32]: "sfixed32",
  [Kind.UINT32]: "uint32",
  [Kind.FIXED32]: "fixed32",
  [Kind.INT64]: "int64",
  [Kind.SINT64]: "sint64",
  [Kind.SFIXED64]: "sfixed64",
  [Kind.UINT64]: "uint64",
  [Kind.FIXED64]: "fixed64",
};

function outOfRange(v: unknown, kind: Kind): WalkFailure {
  return new WalkFailure(`value ${clip(String(v))} is out of range for ${KIND_NAMES[kind]}`);
}

/** "a string", "an array", ... for error messages. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  switch (typeof v) {
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "boolean":
      return "a boolean";
    case "object":
      return v instanceof Uint8Array ? "bytes" : "an object";
    case "undefined":
      return "nothing";
    default:
      return `a ${typeof v}`;
  }
}

/** Keeps user-supplied text in error messages short and on one line. */
function clip(s: string): string {
  const one = s.replace(/[\r\n]+/g, " ");
  return one.length > 64 ? `${one.slice(0, 61)}...` : one;
}
