/**
 * Protobuf binary -> in-memory message, driven by the precomputed tables.
 * Proto2 semantics: unknown fields are skipped; a field whose wire type does
 * not match the schema is skipped as unknown; repeated scalars are accepted
 * packed or not; a message field seen twice is merged; the last member of a
 * oneof wins. An enum number the schema does not know is dropped (an
 * optional field stays unset, a repeated field loses that element, a map
 * loses the entry), except in a required field where it is an error.
 * Required fields are checked at every level.
 */
import { WalkFailure } from "./decode-error.js";
import { setMapEntry } from "./json-decode.js";
import { type FieldTable, Kind, Label, type MessageTable, wireTypeOf } from "./schema.js";
import { MAX_DEPTH, type WireReader } from "./wire-reader.js";

type Obj = Record<string, unknown>;

/** Sentinel for a value that must be dropped (an unknown enum number). */
const DROP: unique symbol = Symbol("drop");

/** Decodes fields up to `reader.end` into `out` (which may already hold fields, for merging). */
export function decodeProtobufInto(
  table: MessageTable,
  r: WireReader,
  out: Obj,
  depth: number,
): Obj {
  if (depth > MAX_DEPTH) throw new WalkFailure("message nesting too deep");
  const byNumber = table.byNumber;
  let current = "";
  try {
    while (r.pos < r.end) {
      const key = r.uint32();
      const id = key >>> 3;
      const wt = key & 7;
      if (id === 0) throw new WalkFailure("invalid field number 0");
      const f = id < byNumber.length ? byNumber[id] : table.byNumberSparse.get(id);
      if (f === undefined) {
        if (wt === 4) throw new WalkFailure("unexpected end-group tag");
        r.skip(wt, id, depth);
        continue;
      }
      current = f.name;
      const label = f.label;
      if (label === Label.REPEATED) {
        readRepeated(f, r, wt, out, depth);
      } else if (label === Label.MAP) {
        if (wt === 2) readMapEntry(f, r, out, depth);
        else r.skip(wt, id, depth);
      } else if (wt !== wireTypeOf(f.kind)) {
        r.skip(wt, id, depth);
      } else if (f.kind === Kind.MESSAGE) {
        const prev = out[f.name];
        const target = typeof prev === "object" && prev !== null ? (prev as Obj) : {};
        readMessage(f.messageTable, r, target, depth);
        setSingular(table, f, out, target);
      } else {
        const v = readScalar(f, f.kind, r);
        if (v === DROP) {
          if (label === Label.REQUIRED) throw unknownEnum(f);
        } else {
          setSingular(table, f, out, v);
        }
      }
      current = "";
    }
  } catch (e) {
    if (e instanceof WalkFailure && current !== "") e.within(current);
    throw e;
  }
  const required = table.required;
  for (let i = 0; i < required.length; i++) {
    const f = required[i] as FieldTable;
    if (out[f.name] === undefined)
      throw new WalkFailure("required field is missing").within(f.name);
  }
  return out;
}

function setSingular(table: MessageTable, f: FieldTable, out: Obj, v: unknown): void {
  if (f.oneofIndex >= 0) {
    for (const other of (table.oneofs[f.oneofIndex] as { fields: readonly FieldTable[] }).fields) {
      if (other !== f) delete out[other.name];
    }
  }
  out[f.name] = v;
}

function readMessage(table: MessageTable, r: WireReader, target: Obj, depth: number): void {
  const len = r.length();
  const savedEnd = r.end;
  r.end = r.pos + len;
  decodeProtobufInto(table, r, target, depth + 1);
  r.end = savedEnd;
}

function readRepeated(f: FieldTable, r: WireReader, wt: number, out: Obj, depth: number): void {
  const kind = f.kind;
  const natural = wireTypeOf(kind);
  let arr = out[f.name] as unknown[] | undefined;
  if (wt === natural) {
    let v: unknown;
    if (kind === Kind.MESSAGE) {
      v = {};
      const index = arr === undefined ? 0 : arr.length;
      try {
        readMessage(f.messageTable, r, v as Obj, depth);
      } catch (e) {
        if (e instanceof WalkFailure) e.within(`[${index}]`);
        throw e;
      }
    } else {
      v = readScalar(f, kind, r);
      if (v === DROP) return;
    }
    if (arr === undefined) out[f.name] = arr = [];
    arr.push(v);
  } else if (wt === 2 && natural !== 2) {
    // Packed scalars.
    const len = r.length();
    const end = r.pos + len;
    const savedEnd = r.end;
    r.end = end;
    while (r.pos < end) {
      const v = readScalar(f, kind, r);
      if (v === DROP) continue;
      if (arr === undefined) out[f.name] = arr = [];
      arr.push(v);
    }
    r.end = savedEnd;
  } else {
    r.skip(wt, f.id, depth);
  }
}

function readMapEntry(f: FieldTable, r: WireReader, out: Obj, depth: number): void {
  const len = r.length();
  const savedEnd = r.end;
  r.end = r.pos + len;
  const keyWire = wireTypeOf(f.keyKind);
  const valueWire = wireTypeOf(f.kind);
  let key: unknown;
  let value: unknown;
  while (r.pos < r.end) {
    const k = r.uint32();
    const id = k >>> 3;
    const wt = k & 7;
    if (id === 1 && wt === keyWire) {
      key = readScalar(f, f.keyKind, r);
    } else if (id === 2 && wt === valueWire) {
      if (f.kind === Kind.MESSAGE) {
        const target = typeof value === "object" && value !== null ? (value as Obj) : {};
        readMessage(f.messageTable, r, target, depth);
        value = target;
      } else {
        value = readScalar(f, f.kind, r);
      }
    } else {
      if (id === 0) throw new WalkFailure("invalid field number 0");
      r.skip(wt, id, depth);
    }
  }
  r.end = savedEnd;
  const keyText = key === undefined ? defaultKey(f.keyKind) : String(key);
  if (value === DROP) return;
  if (value === undefined) value = defaultMapValue(f);
  let map = out[f.name] as Obj | undefined;
  if (map === undefined) out[f.name] = map = {};
  setMapEntry(map, keyText, value);
}

function defaultKey(kind: Kind): string {
  if (kind === Kind.STRING) return "";
  if (kind === Kind.BOOL) return "false";
  return "0";
}

/** A map entry without a value holds the value type's default. */
function defaultMapValue(f: FieldTable): unknown {
  switch (f.kind) {
    case Kind.MESSAGE: {
      const table = f.messageTable;
      if (table.required.length > 0) {
        throw new WalkFailure("map entry without a value").within(
          (table.required[0] as FieldTable).name,
        );
      }
      return {};
    }
    case Kind.STRING:
      return "";
    case Kind.BYTES:
      return Buffer.alloc(0);
    case Kind.BOOL:
      return false;
    case Kind.ENUM:
      return f.enumTable?.byNumber.values().next().value ?? DROP;
    default:
      return 0;
  }
}

function readScalar(f: FieldTable, kind: Kind, r: WireReader): unknown {
  switch (kind) {
    case Kind.STRING:
      return r.string();
    case Kind.ENUM: {
      const n = r.int32();
      const name = f.enumTable?.byNumber.get(n);
      if (name === undefined) {
        lastUnknownEnum = n;
        return DROP;
      }
      return name;
    }
    case Kind.INT32:
      return r.int32();
    case Kind.UINT32:
      return r.uint32();
    case Kind.SINT32:
      return r.sint32();
    case Kind.INT64:
      return r.int64();
    case Kind.UINT64:
      return r.uint64();
    case Kind.SINT64:
      return r.sint64();
    case Kind.BOOL:
      return r.bool();
    case Kind.DOUBLE:
      return r.double();
    case Kind.FLOAT:
      return r.float();
    case Kind.FIXED32:
      return r.fixed32();
    case Kind.SFIXED32:
      return r.sfixed32();
    case Kind.FIXED64:
      return r.fixed64();
    case Kind.SFIXED64:
      return r.sfixed64();
    case Kind.BYTES:
      return r.bytes();
    default:
      throw new WalkFailure(`unexpected field kind ${kind}`);
  }
}

let lastUnknownEnum = 0;

function unknownEnum(f: FieldTable): WalkFailure {
  return new WalkFailure(
    `unknown value ${lastUnknownEnum} for enum ${f.enumTable?.fullName} in a required field`,
  );
}
