/**
 * In-memory message -> Mesos-style JSON value: proto field names, enum
 * names, base64 bytes, 64-bit integers as JSON numbers, maps as objects.
 * Only set fields are written (empty repeated fields and maps are left out,
 * as Mesos does); with `withDefaults`, unset optional fields that declare a
 * default are written with it, which is what Mesos' own JSON writer does.
 * Non-finite doubles become "Infinity"/"-Infinity"/"NaN" (JSON has no
 * literal for them; the decoder accepts these strings).
 *
 * The input is trusted in-process data: a value of the wrong type is a bug
 * and throws a `WalkFailure` that the codec rethrows as a `TypeError`.
 */
import { encodeBase64 } from "./base64.js";
import { WalkFailure } from "./decode-error.js";
import { setMapEntry } from "./json-decode.js";
import type { JsonObject, JsonValue } from "./json-value.js";
import { type FieldTable, Kind, Label, type MessageTable } from "./schema.js";

type Obj = Record<string, unknown>;

export function encodeJsonMessage(
  table: MessageTable,
  msg: Obj,
  withDefaults: boolean,
): JsonObject {
  if (typeof msg !== "object" || msg === null) {
    throw new WalkFailure(`expected a message object, got ${typeof msg}`);
  }
  const out: JsonObject = {};
  const fields = table.fields;
  let current = "";
  try {
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i] as FieldTable;
      const v = f.shadowsPrototype && !Object.hasOwn(msg, f.name) ? undefined : msg[f.name];
      if (v === undefined || v === null) {
        if (
          withDefaults &&
          f.defaultValue !== undefined &&
          !f.deprecated &&
          f.label === Label.OPTIONAL
        ) {
          out[f.name] = encodeValue(f, f.kind, f.defaultValue, withDefaults);
        }
        continue;
      }
      current = f.name;
      if (f.label === Label.REPEATED) {
        if (!Array.isArray(v)) throw new WalkFailure("expected an array");
        if (v.length > 0) {
          const arr = new Array<JsonValue>(v.length);
          for (let j = 0; j < v.length; j++) {
            try {
              arr[j] = encodeValue(f, f.kind, v[j], withDefaults);
            } catch (e) {
              if (e instanceof WalkFailure) e.within(`[${j}]`);
              throw e;
            }
          }
          out[f.name] = arr;
        }
      } else if (f.label === Label.MAP) {
        if (typeof v !== "object" || Array.isArray(v))
          throw new WalkFailure("expected a map object");
        const src = v as Obj;
        const map: JsonObject = {};
        let any = false;
        for (const k of Object.keys(src)) {
          const item = src[k];
          if (item === undefined || item === null) continue;
          try {
            setMapEntry(map, k, encodeValue(f, f.kind, item, withDefaults));
          } catch (e) {
            if (e instanceof WalkFailure) e.within(`[${JSON.stringify(k)}]`);
            throw e;
          }
          any = true;
        }
        if (any) out[f.name] = map;
      } else {
        out[f.name] = encodeValue(f, f.kind, v, withDefaults);
      }
      current = "";
    }
  } catch (e) {
    if (e instanceof WalkFailure && current !== "") e.within(current);
    throw e;
  }
  return out;
}

function encodeValue(f: FieldTable, kind: Kind, v: unknown, withDefaults: boolean): JsonValue {
  switch (kind) {
    case Kind.MESSAGE:
      return encodeJsonMessage(f.messageTable, v as Obj, withDefaults);
    case Kind.STRING:
      if (typeof v === "string") return v;
      throw new WalkFailure(`expected a string, got ${typeof v}`);
    case Kind.ENUM:
      if (typeof v === "string" && f.enumTable?.byName.has(v)) return v;
      throw new WalkFailure(`invalid value '${String(v)}' for enum ${f.enumTable?.fullName}`);
    case Kind.BOOL:
      if (typeof v === "boolean") return v;
      throw new WalkFailure(`expected a boolean, got ${typeof v}`);
    case Kind.BYTES:
      if (v instanceof Uint8Array) return encodeBase64(v);
      throw new WalkFailure(`expected bytes, got ${typeof v}`);
    case Kind.DOUBLE:
    case Kind.FLOAT:
      if (typeof v !== "number") throw new WalkFailure(`expected a number, got ${typeof v}`);
      if (Number.isFinite(v)) return v;
      return Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
    default:
      if (typeof v === "number" && Number.isInteger(v)) return v;
      throw new WalkFailure(`expected an integer, got ${typeof v === "number" ? v : typeof v}`);
  }
}
