/**
 * Internal representation of one resource inside `Resources`.
 *
 * An entry splits a (valid, post-refinement) `Resource` into its metadata
 * (everything but the value) and a value kept in a fast form: scalars as
 * integer thousandths, ranges as a flat coalesced array, sets as an item list.
 * Entries are immutable, so `Resources` values can share them freely
 * (copy-on-write like Mesos' `shared_ptr<Resource_>`).
 *
 * `key` identifies the "addable" class: two non-exclusive entries with the
 * same key merge on add and subtract from each other. Exclusive entries
 * (persistent volumes, MOUNT/BLOCK disks, RAW disks with an id) never merge
 * and only subtract/contain an equal entry. Shared entries have the value in
 * their key and are counted: adding an equal shared resource bumps `count`.
 */

import { coalesceFlat, type FlatRanges, flatFromValueRanges } from "./ranges.js";
import { fromFixed, toFixed } from "./scalar.js";
import type {
  AllocationInfo,
  DiskInfo,
  Labels,
  ReservationInfo,
  Resource,
  ValueRange,
} from "./types.js";

/** Value kinds stored in an entry. */
export enum Kind {
  Scalar = 0,
  Ranges = 1,
  Set = 2,
}

/** One resource inside a `Resources`. Never mutated after creation. */
export interface Entry {
  /** Addable-class key (metadata; for shared resources also the value). */
  readonly key: string;
  /** Never merges with other entries (see module comment). */
  readonly exclusive: boolean;
  /** Shared resource (counted). */
  readonly shared: boolean;
  readonly kind: Kind;
  /**
   * The resource without its value fields. Never mutated (it is frozen as
   * part of `proto` once that is materialised; freezing eagerly costs too
   * much on the allocator's hot path).
   */
  readonly meta: Resource;
  /** Scalar amount in thousandths (Kind.Scalar). */
  readonly fixed: number;
  /** Coalesced ranges (Kind.Ranges). */
  readonly ranges: FlatRanges;
  /** Set items without duplicates, first-seen order (Kind.Set). */
  readonly items: readonly string[];
  /** Number of copies of a shared resource; 1 for non-shared ones. */
  readonly count: number;
  /** Lazily materialised frozen `Resource` (no count). */
  proto: Resource | undefined;
}

const EMPTY_ITEMS: readonly string[] = Object.freeze([]);

function part(text: string): string {
  return `${text.length}:${text}`;
}

function labelsKey(labels: Labels): string {
  const list = (labels.labels ?? []).map(
    (l) => part(l.key) + (l.value === undefined ? "~" : `=${part(l.value)}`),
  );
  list.sort();
  return `{${list.join("")}}`;
}

function reservationKey(r: ReservationInfo): string {
  let out = `R${r.type ?? "UNKNOWN"}|${part(r.role ?? "")}`;
  if (r.principal !== undefined) out += `p${part(r.principal)}`;
  if (r.labels !== undefined) out += `l${labelsKey(r.labels)}`;
  return out;
}

function diskKey(disk: DiskInfo): string {
  // The volume is ignored on purpose: it says how a task uses the disk, not
  // what the disk is (Mesos compares DiskInfo the same way).
  let out = "D";
  const s = disk.source;
  if (s !== undefined) {
    out += `s${s.type}`;
    if (s.path !== undefined) out += `p${s.path.root === undefined ? "~" : part(s.path.root)}`;
    if (s.mount !== undefined) out += `m${s.mount.root === undefined ? "~" : part(s.mount.root)}`;
    if (s.vendor !== undefined) out += `v${part(s.vendor)}`;
    if (s.id !== undefined) out += `i${part(s.id)}`;
    if (s.metadata !== undefined) out += `M${labelsKey(s.metadata)}`;
    if (s.profile !== undefined) out += `P${part(s.profile)}`;
  }
  if (disk.persistence !== undefined) out += `V${part(disk.persistence.id)}`;
  return out;
}

// One tag per value type: SCALAR and SET share a first letter, and a scalar
// must never merge with a set of the same name (Mesos keeps them apart).
const TYPE_TAGS: Record<string, string> = { SCALAR: "s", RANGES: "r", SET: "e", TEXT: "t" };

/** Key of the metadata of a resource (value excluded). */
export function metadataKey(r: Resource): string {
  let key = part(r.name) + (TYPE_TAGS[r.type] ?? part(String(r.type)));
  if (r.allocation_info !== undefined) {
    const role = r.allocation_info.role;
    key += role === undefined ? "A~" : `A${part(role)}`;
  }
  const reservations = r.reservations;
  if (reservations !== undefined) for (const res of reservations) key += reservationKey(res);
  if (r.disk !== undefined) key += diskKey(r.disk);
  if (r.revocable !== undefined) key += "V";
  if (r.provider_id !== undefined) key += `P${part(r.provider_id.value)}`;
  if (r.shared !== undefined) key += "S";
  return key;
}

function valueKey(kind: Kind, fixed: number, ranges: FlatRanges, items: readonly string[]): string {
  if (kind === Kind.Scalar) return `#${fixed}`;
  if (kind === Kind.Ranges) return `#${ranges.join(",")}`;
  return `#${items.map(part).sort().join("")}`;
}

function isExclusive(r: Resource): boolean {
  const disk = r.disk;
  if (disk === undefined || r.shared !== undefined) return false;
  if (disk.persistence !== undefined) return true;
  const type = disk.source?.type;
  return type === "MOUNT" || type === "BLOCK" || (type === "RAW" && disk.source?.id !== undefined);
}

/** Changes applied by `metaOf`: `undefined` keeps the field, `null` drops it. */
export interface MetaPatch {
  allocation_info?: AllocationInfo | null;
  reservations?: ReservationInfo[] | null;
}

/**
 * The metadata of a resource (no value, no legacy role/reservation), built
 * field by field in proto order. Explicit construction matters: on Node 20,
 * `{ ...obj, extra }` takes a slow path (~1 us) and yields slow objects.
 */
export function metaOf(r: Resource, patch?: MetaPatch): Resource {
  const out = { name: r.name, type: r.type } as Resource;
  if (r.provider_id !== undefined) out.provider_id = r.provider_id;
  const allocation =
    patch?.allocation_info === undefined ? r.allocation_info : patch.allocation_info;
  if (allocation !== undefined && allocation !== null) out.allocation_info = allocation;
  const reservations = patch?.reservations === undefined ? r.reservations : patch.reservations;
  if (reservations !== undefined && reservations !== null && reservations.length > 0) {
    out.reservations = reservations;
  }
  if (r.disk !== undefined) out.disk = r.disk;
  if (r.revocable !== undefined) out.revocable = r.revocable;
  if (r.shared !== undefined) out.shared = r.shared;
  return out;
}

/** Deep-freezes the sub-messages of a metadata object (not the object itself). */
export function freezeNested(meta: Resource): void {
  if (meta.provider_id !== undefined) deepFreeze(meta.provider_id);
  if (meta.allocation_info !== undefined) deepFreeze(meta.allocation_info);
  if (meta.reservations !== undefined) deepFreeze(meta.reservations);
  if (meta.disk !== undefined) deepFreeze(meta.disk);
  if (meta.revocable !== undefined) deepFreeze(meta.revocable);
  if (meta.shared !== undefined) deepFreeze(meta.shared);
}

/** Freezes an object graph. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function kindOf(r: Resource): Kind {
  return r.type === "RANGES" ? Kind.Ranges : r.type === "SET" ? Kind.Set : Kind.Scalar;
}

/**
 * Builds an entry from a resource that is already valid and in the
 * post-refinement format. The metadata is copied, never aliased.
 */
export function entryFromResource(r: Resource): Entry {
  const kind = kindOf(r);
  const fixed = kind === Kind.Scalar ? toFixed(r.scalar?.value ?? 0) : 0;
  const ranges = kind === Kind.Ranges ? flatFromValueRanges(r.ranges) : coalesceFlat([]);
  const items = kind === Kind.Set ? Array.from(new Set(r.set?.item ?? [])) : EMPTY_ITEMS;
  const meta = metaOf(r, {
    allocation_info:
      r.allocation_info === undefined ? undefined : copyAllocation(r.allocation_info),
    reservations: r.reservations === undefined ? undefined : structuredClone(r.reservations),
  });
  if (meta.provider_id !== undefined) meta.provider_id = { value: meta.provider_id.value };
  if (meta.disk !== undefined) meta.disk = structuredClone(meta.disk);
  if (meta.revocable !== undefined) meta.revocable = {};
  if (meta.shared !== undefined) meta.shared = {};
  freezeNested(meta);
  return makeEntry(meta, metadataKey(meta), kind, fixed, ranges, items, 1);
}

function copyAllocation(a: AllocationInfo): AllocationInfo {
  return a.role === undefined ? {} : { role: a.role };
}

/** Creates an entry from parts (`metaKey` is the key of `meta`; `meta` is owned by the entry). */
export function makeEntry(
  meta: Resource,
  metaKey: string,
  kind: Kind,
  fixed: number,
  ranges: FlatRanges,
  items: readonly string[],
  count: number,
): Entry {
  const shared = meta.shared !== undefined;
  const key = shared ? metaKey + valueKey(kind, fixed, ranges, items) : metaKey;
  return {
    key,
    exclusive: isExclusive(meta),
    shared,
    kind,
    meta,
    fixed,
    ranges,
    items,
    count,
    proto: undefined,
  };
}

/** Same entry with another value (metadata and key class unchanged; not for shared). */
export function withValue(
  e: Entry,
  fixed: number,
  ranges: FlatRanges,
  items: readonly string[],
): Entry {
  return {
    key: e.key,
    exclusive: e.exclusive,
    shared: e.shared,
    kind: e.kind,
    meta: e.meta,
    fixed,
    ranges,
    items,
    count: e.count,
    proto: undefined,
  };
}

/** Same entry with another shared count. */
export function withCount(e: Entry, count: number): Entry {
  return {
    key: e.key,
    exclusive: e.exclusive,
    shared: e.shared,
    kind: e.kind,
    meta: e.meta,
    fixed: e.fixed,
    ranges: e.ranges,
    items: e.items,
    count,
    proto: e.proto,
  };
}

/** Same value with new metadata (recomputes the key). */
export function withMeta(e: Entry, meta: Resource): Entry {
  return makeEntry(meta, metadataKey(meta), e.kind, e.fixed, e.ranges, e.items, e.count);
}

/** True when the entry holds nothing (zero scalar, no ranges/items, count 0). */
export function entryIsEmpty(e: Entry): boolean {
  if (e.shared && e.count <= 0) return true;
  if (e.kind === Kind.Scalar) return e.fixed === 0;
  if (e.kind === Kind.Ranges) return e.ranges.length === 0;
  return e.items.length === 0;
}

/** Value equality of two entries with the same key class. */
export function valuesEqual(a: Entry, b: Entry): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === Kind.Scalar) return a.fixed === b.fixed;
  if (a.kind === Kind.Ranges) {
    if (a.ranges.length !== b.ranges.length) return false;
    for (let i = 0; i < a.ranges.length; i++) if (a.ranges[i] !== b.ranges[i]) return false;
    return true;
  }
  if (a.items.length !== b.items.length) return false;
  return b.items.every((item) => a.items.includes(item));
}

/**
 * The entry as a frozen `Resource` message (cached), fields in proto order.
 * Only the objects made here are frozen: nested metadata was frozen when the
 * entry (or the patch that produced it) was created.
 */
export function entryToResource(e: Entry): Resource {
  if (e.proto !== undefined) return e.proto;
  const m = e.meta;
  const out = {} as Resource;
  if (m.provider_id !== undefined) out.provider_id = m.provider_id;
  out.name = m.name;
  out.type = m.type;
  if (e.kind === Kind.Scalar) {
    out.scalar = Object.freeze({ value: fromFixed(e.fixed) });
  } else if (e.kind === Kind.Ranges) {
    const range: ValueRange[] = [];
    const flat = e.ranges;
    for (let i = 0; i < flat.length; i += 2) {
      range.push(Object.freeze({ begin: flat[i]!, end: flat[i + 1]! }));
    }
    out.ranges = Object.freeze({ range: Object.freeze(range) as ValueRange[] });
  } else {
    out.set = Object.freeze({ item: Object.freeze(e.items.slice()) as string[] });
  }
  if (m.allocation_info !== undefined) out.allocation_info = m.allocation_info;
  if (m.reservations !== undefined) out.reservations = m.reservations;
  if (m.disk !== undefined) out.disk = m.disk;
  if (m.revocable !== undefined) out.revocable = m.revocable;
  if (m.shared !== undefined) out.shared = m.shared;
  e.proto = Object.freeze(out);
  return e.proto;
}
