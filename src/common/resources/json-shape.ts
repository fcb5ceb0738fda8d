/**
 * Reads untrusted JSON (already `JSON.parse`d) into proto-shaped `Resource`
 * objects, the way a protobuf JSON parser would: known fields are
 * type-checked and copied, unknown fields are dropped, enums are accepted by
 * name (or number). Returns an error value naming the bad field; never throws.
 */

import type {
  DiskInfo,
  DiskSource,
  Labels,
  ReservationInfo,
  Resource,
  Result,
  ValueRange,
  Volume,
} from "./types.js";

class ShapeError {
  constructor(readonly message: string) {}
}

type Json = Record<string, unknown>;

function object(value: unknown, path: string): Json {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ShapeError(`'${path}' must be an object`);
  }
  return value as Json;
}

function string(value: unknown, path: string): string {
  if (typeof value !== "string") throw new ShapeError(`'${path}' must be a string`);
  return value;
}

function number(value: unknown, path: string): number {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) {
    return Number(value);
  }
  throw new ShapeError(`'${path}' must be a number`);
}

function unsigned(value: unknown, path: string): number {
  const n = number(value, path);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new ShapeError(`'${path}' must be a non-negative integer below 2^53`);
  }
  return n;
}

function array(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw new ShapeError(`'${path}' must be an array`);
  return value;
}

function enumValue<T extends string>(value: unknown, names: readonly T[], path: string): T {
  if (typeof value === "string" && (names as readonly string[]).includes(value)) return value as T;
  if (typeof value === "number" && Number.isInteger(value) && names[value] !== undefined) {
    return names[value]!;
  }
  throw new ShapeError(`'${path}' must be one of ${names.join(", ")}`);
}

const VALUE_TYPES = ["SCALAR", "RANGES", "SET", "TEXT"] as const;
const RESERVATION_TYPES = ["UNKNOWN", "STATIC", "DYNAMIC"] as const;
const DISK_SOURCE_TYPES = ["UNKNOWN", "PATH", "MOUNT", "BLOCK", "RAW"] as const;
// Volume.Mode numbers start at 1 (RW = 1, RO = 2).
const VOLUME_MODES = [undefined, "RW", "RO"] as unknown as readonly ("RW" | "RO")[];

function labels(value: unknown, path: string): Labels {
  const o = object(value, path);
  const list = o.labels === undefined ? [] : array(o.labels, `${path}.labels`);
  return {
    labels: list.map((item, i) => {
      const l = object(item, `${path}.labels[${i}]`);
      const out: { key: string; value?: string } = {
        key: string(l.key, `${path}.labels[${i}].key`),
      };
      if (l.value !== undefined) out.value = string(l.value, `${path}.labels[${i}].value`);
      return out;
    }),
  };
}

function reservation(value: unknown, path: string): ReservationInfo {
  const o = object(value, path);
  const out: ReservationInfo = {};
  if (o.type !== undefined) out.type = enumValue(o.type, RESERVATION_TYPES, `${path}.type`);
  if (o.role !== undefined) out.role = string(o.role, `${path}.role`);
  if (o.principal !== undefined) out.principal = string(o.principal, `${path}.principal`);
  if (o.labels !== undefined) out.labels = labels(o.labels, `${path}.labels`);
  return out;
}

function root(value: unknown, path: string): { root?: string } {
  const o = object(value, path);
  return o.root === undefined ? {} : { root: string(o.root, `${path}.root`) };
}

function diskSource(value: unknown, path: string): DiskSource {
  const o = object(value, path);
  if (o.type === undefined) throw new ShapeError(`'${path}.type' is required`);
  const out: DiskSource = { type: enumValue(o.type, DISK_SOURCE_TYPES, `${path}.type`) };
  if (o.path !== undefined) out.path = root(o.path, `${path}.path`);
  if (o.mount !== undefined) out.mount = root(o.mount, `${path}.mount`);
  if (o.vendor !== undefined) out.vendor = string(o.vendor, `${path}.vendor`);
  if (o.id !== undefined) out.id = string(o.id, `${path}.id`);
  if (o.metadata !== undefined) out.metadata = labels(o.metadata, `${path}.metadata`);
  if (o.profile !== undefined) out.profile = string(o.profile, `${path}.profile`);
  return out;
}

function volume(value: unknown, path: string): Volume {
  const o = object(value, path);
  if (o.mode === undefined) throw new ShapeError(`'${path}.mode' is required`);
  const out: Volume = {
    mode: enumValue(o.mode, VOLUME_MODES, `${path}.mode`),
    container_path: string(o.container_path, `${path}.container_path`),
  };
  if (o.host_path !== undefined) out.host_path = string(o.host_path, `${path}.host_path`);
  if (o.image !== undefined) out.image = structuredClone(object(o.image, `${path}.image`));
  if (o.source !== undefined) out.source = structuredClone(object(o.source, `${path}.source`));
  return out;
}

function disk(value: unknown, path: string): DiskInfo {
  const o = object(value, path);
  const out: DiskInfo = {};
  if (o.persistence !== undefined) {
    const p = object(o.persistence, `${path}.persistence`);
    out.persistence = { id: string(p.id, `${path}.persistence.id`) };
    if (p.principal !== undefined) {
      out.persistence.principal = string(p.principal, `${path}.persistence.principal`);
    }
  }
  if (o.volume !== undefined) out.volume = volume(o.volume, `${path}.volume`);
  if (o.source !== undefined) out.source = diskSource(o.source, `${path}.source`);
  return out;
}

function resource(value: unknown, path: string): Resource {
  const o = object(value, path);
  if (o.name === undefined) throw new ShapeError(`'${path}.name' is required`);
  if (o.type === undefined) throw new ShapeError(`'${path}.type' is required`);
  const out: Resource = {
    name: string(o.name, `${path}.name`),
    type: enumValue(o.type, VALUE_TYPES, `${path}.type`),
  };
  if (o.provider_id !== undefined) {
    const p = object(o.provider_id, `${path}.provider_id`);
    out.provider_id = { value: string(p.value, `${path}.provider_id.value`) };
  }
  if (o.scalar !== undefined) {
    const s = object(o.scalar, `${path}.scalar`);
    out.scalar = { value: number(s.value, `${path}.scalar.value`) };
  }
  if (o.ranges !== undefined) {
    const r = object(o.ranges, `${path}.ranges`);
    const list = r.range === undefined ? [] : array(r.range, `${path}.ranges.range`);
    out.ranges = {
      range: list.map((item, i): ValueRange => {
        const p = `${path}.ranges.range[${i}]`;
        const range = object(item, p);
        return { begin: unsigned(range.begin, `${p}.begin`), end: unsigned(range.end, `${p}.end`) };
      }),
    };
  }
  if (o.set !== undefined) {
    const s = object(o.set, `${path}.set`);
    const list = s.item === undefined ? [] : array(s.item, `${path}.set.item`);
    out.set = { item: list.map((item, i) => string(item, `${path}.set.item[${i}]`)) };
  }
  if (o.role !== undefined) out.role = string(o.role, `${path}.role`);
  if (o.allocation_info !== undefined) {
    const a = object(o.allocation_info, `${path}.allocation_info`);
    out.allocation_info =
      a.role === undefined ? {} : { role: string(a.role, `${path}.allocation_info.role`) };
  }
  if (o.reservation !== undefined)
    out.reservation = reservation(o.reservation, `${path}.reservation`);
  if (o.reservations !== undefined) {
    out.reservations = array(o.reservations, `${path}.reservations`).map((r, i) =>
      reservation(r, `${path}.reservations[${i}]`),
    );
  }
  if (o.disk !== undefined) out.disk = disk(o.disk, `${path}.disk`);
  if (o.revocable !== undefined) {
    object(o.revocable, `${path}.revocable`);
    out.revocable = {};
  }
  if (o.shared !== undefined) {
    object(o.shared, `${path}.shared`);
    out.shared = {};
  }
  return out;
}

/**
 * Reads one `Resource` from parsed JSON. The result is a fresh object with
 * only known fields; it is not yet validated (see `validateResource`).
 */
export function resourceFromJson(value: unknown, path = "resource"): Result<Resource> {
  try {
    return { ok: true, value: resource(value, path) };
  } catch (e) {
    if (e instanceof ShapeError) return { ok: false, error: e.message };
    throw e;
  }
}

/** Reads a JSON array of `Resource`. */
export function resourceListFromJson(value: unknown): Result<Resource[]> {
  if (!Array.isArray(value)) return { ok: false, error: "resources JSON must be an array" };
  const out: Resource[] = [];
  for (let i = 0; i < value.length; i++) {
    const r = resourceFromJson(value[i], `[${i}]`);
    if (!r.ok) return r;
    out.push(r.value);
  }
  return { ok: true, value: out };
}
