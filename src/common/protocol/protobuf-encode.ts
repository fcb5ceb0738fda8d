/**
 * In-memory message -> protobuf binary, fields in ascending number order (as
 * protobuf's own serializers write them). Unset (`undefined`/`null`) fields
 * and empty repeated fields are left out. Required fields are not checked
 * here (protobuf's release-mode serializers do not either); the input is
 * trusted in-process data and a value of the wrong type is a bug, reported
 * by throwing a `WalkFailure` that the codec rethrows as a `TypeError`.
 */
import { WalkFailure } from "./decode-error.js";
import { type FieldTable, Kind, Label, type MessageTable, wireTypeOf } from "./schema.js";
import type { WireWriter } from "./wire-writer.js";

type Obj = Record<string, unknown>;

export function encodeProtobufMessage(table: MessageTable, msg: Obj, w: WireWriter): void {
  if (typeof msg !== "object" || msg === null) {
    throw new WalkFailure(`expected a message object, got ${typeof msg}`);
  }
  const fields = table.fieldsByNumber;
  let current = "";
  try {
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i] as FieldTable;
      const v = f.shadowsPrototype && !Object.hasOwn(msg, f.name) ? undefined : msg[f.name];
      if (v === undefined || v === null) continue;
      current = f.name;
      switch (f.label) {
        case Label.REPEATED:
          writeRepeated(f, v, w);
          break;
        case Label.MAP:
          writeMap(f, v, w);
          break;
        default:
          w.uint32(f.key);
          writeValue(f, f.kind, v, w);
      }
      current = "";
    }
  } catch (e) {
    if (e instanceof WalkFailure && current !== "") e.within(current);
    throw e;
  }
}

function writeRepeated(f: FieldTable, v: unknown, w: WireWriter): void {
  if (!Array.isArray(v)) throw new WalkFailure("expected an array");
  const n = v.length;
  if (n === 0) return;
  const kind = f.kind;
  if (f.packed) {
    w.uint32(f.key);
    const start = w.beginLength();
    for (let j = 0; j < n; j++) writeElement(f, kind, v[j], w, j);
    w.endLength(start);
    return;
  }
  const key = f.key;
  for (let j = 0; j < n; j++) {
    w.uint32(key);
    writeElement(f, kind, v[j], w, j);
  }
}

function writeElement(f: FieldTable, kind: Kind, v: unknown, w: WireWriter, index: number): void {
  try {
    writeValue(f, kind, v, w);
  } catch (e) {
    if (e instanceof WalkFailure) e.within(`[${index}]`);
    throw e;
  }
}

function writeMap(f: FieldTable, v: unknown, w: WireWriter): void {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new WalkFailure("expected a map object");
  }
  const src = v as Obj;
  const keyKey = (1 << 3) | wireTypeOf(f.keyKind);
  const valueKey = (2 << 3) | wireTypeOf(f.kind);
  for (const k of Object.keys(src)) {
    const item = src[k];
    if (item === undefined || item === null) continue;
    try {
      w.uint32(f.key);
      const start = w.beginLength();
      w.uint32(keyKey);
      writeValue(f, f.keyKind, mapKeyValue(f.keyKind, k), w);
      w.uint32(valueKey);
      writeValue(f, f.kind, item, w);
      w.endLength(start);
    } catch (e) {
      if (e instanceof WalkFailure) e.within(`[${JSON.stringify(k)}]`);
      throw e;
    }
  }
}

function mapKeyValue(kind: Kind, k: string): unknown {
  if (kind === Kind.STRING) return k;
  if (kind === Kind.BOOL) {
    if (k === "true") return true;
    if (k === "false") return false;
    throw new WalkFailure(`invalid bool map key '${k}'`);
  }
  const n = Number(k);
  if (k === "" || !Number.isInteger(n)) throw new WalkFailure(`invalid integer map key '${k}'`);
  return n;
}

function writeValue(f: FieldTable, kind: Kind, v: unknown, w: WireWriter): void {
  switch (kind) {
    case Kind.MESSAGE: {
      const start = w.beginLength();
      encodeProtobufMessage(f.messageTable, v as Obj, w);
      w.endLength(start);
      return;
    }
    case Kind.STRING:
      if (typeof v !== "string") throw new WalkFailure(`expected a string, got ${typeof v}`);
      w.string(v);
      return;
    case Kind.ENUM: {
      const n = typeof v === "string" ? f.enumTable?.byName.get(v) : undefined;
      if (n === undefined) {
        throw new WalkFailure(`invalid value '${String(v)}' for enum ${f.enumTable?.fullName}`);
      }
      w.int32(n);
      return;
    }
    case Kind.BOOL:
      if (typeof v !== "boolean") throw new WalkFailure(`expected a boolean, got ${typeof v}`);
      w.bool(v);
      return;
    case Kind.BYTES:
      if (!(v instanceof Uint8Array)) throw new WalkFailure(`expected bytes, got ${typeof v}`);
      w.bytes(v);
      return;
    case Kind.DOUBLE:
      w.double(number(v));
      return;
    case Kind.FLOAT:
      w.float(number(v));
      return;
  }
  const n = integer(v);
  switch (kind) {
    case Kind.INT32:
      w.int32(n);
      return;
    case Kind.UINT32:
      w.uint32(n);
      return;
    case Kind.SINT32:
      w.sint32(n);
      return;
    case Kind.INT64:
      w.int64(n);
      return;
    case Kind.UINT64:
      w.uint64(n);
      return;
    case Kind.SINT64:
      w.sint64(n);
      return;
    case Kind.FIXED32:
      w.fixed32(n);
      return;
    case Kind.SFIXED32:
      w.sfixed32(n);
      return;
    case Kind.FIXED64:
      w.fixed64(n);
      return;
    case Kind.SFIXED64:
      w.sfixed64(n);
      return;
    default:
      throw new WalkFailure(`unexpected field kind ${kind}`);
  }
}

function number(v: unknown): number {
  if (typeof v !== "number") throw new WalkFailure(`expected a number, got ${typeof v}`);
  return v;
}

function integer(v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v)) {
    throw new WalkFailure(`expected an integer, got ${typeof v === "number" ? v : typeof v}`);
  }
  return v;
}
