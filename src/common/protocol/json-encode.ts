/**
 * In-memory message -> Mesos-style JSON value: proto field names, enum
 * names, base64 bytes, 64-bit integers as JSON numbers, maps as objects.
 * Set fields are written (empty repeated fields and maps are left out, as
 * Mesos does); with `withDefaults` (the codec's default), so are unset
 * singular fields that declare a `[default = ...]` and are not deprecated,
 * with that default: Mesos' JSON writer (stout) does the same at every depth.
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
import { type FieldTable, Kind, Label, type MessageTable, type Schema } from "./schema.js";

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
        // Precomputed per field (schema.ts): one load, no encoding.
        if (withDefaults && f.jsonDefault !== undefined) out[f.name] = f.jsonDefault;
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

/**
 * `msg` with the JSON defaults of its unset fields filled in at every depth
 * (see `encodeJsonMessage`), for code that `JSON.stringify`s in-memory
 * messages instead of encoding them. Copies only the objects and arrays on
 * the way to a filled field; returns `msg` itself when nothing is missing.
 * Only the fields the schema says can hold defaults are visited.
 */
export function fillJsonDefaults(schema: Schema, fullName: string, msg: Obj): Obj {
  const plan = schema.jsonDefaultsPlan(fullName);
  if (plan === null) return msg;
  let out: Obj | undefined;
  for (const f of plan.own) {
    const v = msg[f.name];
    if (v === undefined || v === null) {
      out ??= { ...msg };
      out[f.name] = f.jsonDefault;
    }
  }
  for (const f of plan.nested) {
    const v = msg[f.name];
    if (v === undefined || v === null || typeof v !== "object") continue;
    let filled: unknown = v;
    if (f.label === Label.REPEATED) {
      if (!Array.isArray(v)) continue;
      let arr: unknown[] | undefined;
      for (let j = 0; j < v.length; j++) {
        const item: unknown = v[j];
        if (typeof item !== "object" || item === null) continue;
        const x = fillJsonDefaults(schema, f.typeName, item as Obj);
        if (x !== item) {
          arr ??= v.slice();
          arr[j] = x;
        }
      }
      if (arr !== undefined) filled = arr;
    } else if (f.label === Label.MAP) {
      let map: Obj | undefined;
      for (const [k, item] of Object.entries(v as Obj)) {
        if (typeof item !== "object" || item === null) continue;
        const x = fillJsonDefaults(schema, f.typeName, item as Obj);
        if (x !== item) {
          map ??= { ...(v as Obj) };
          map[k] = x;
        }
      }
      if (map !== undefined) filled = map;
    } else {
      filled = fillJsonDefaults(schema, f.typeName, v as Obj);
    }
    if (filled !== v) {
      out ??= { ...msg };
      out[f.name] = filled;
    }
  }
  return out ?? msg;
}
