/**
 * `Resources`: a collection of `Resource` with Mesos semantics (merging of
 * addable resources, subtraction, containment, reservation filters,
 * refinement stack, allocation, shared-resource counting).
 *
 * Value semantics: `plus`, `minus`, filters and conversions return new
 * `Resources` and never change their receiver. `add` / `subtract` change the
 * receiver in place (Mesos' `+=` / `-=`), for accumulating on hot paths; only
 * call them on a `Resources` you own (e.g. one you just got from `clone()`).
 * `Resource` objects handed out are frozen: copy before changing them.
 */

import {
  type Entry,
  entryFromResource,
  entryIsEmpty,
  entryToResource,
  Kind,
  metaOf,
  valuesEqual,
  withCount,
  withMeta,
  withValue,
} from "./entry.js";
import {
  addRanges,
  type FlatRanges,
  rangesContain,
  subtractRanges,
  valueRangesFromFlat,
} from "./ranges.js";
import {
  formatResource,
  isAllocatableTo,
  isAllocatedToRoleSubtree,
  isPersistentVolume,
  isReserved,
  isReservedToRoleSubtree,
  isRevocable,
  isShared,
  isUnreserved,
  reservationRole,
  toEndpointFormat,
  upgradeResource,
  validateResource,
} from "./resource.js";
import { fromFixed } from "./scalar.js";
import type { ReservationInfo, Resource, Result, ValueRanges, ValueType } from "./types.js";
import { addItems, itemsContain, subtractItems } from "./values.js";

/** Above this many entries, lookups by key go through a Map index. */
const INDEX_THRESHOLD = 12;

/** A collection of resources with Mesos arithmetic. See the module comment. */
export class Resources implements Iterable<Resource> {
  /** Entries in insertion order. */
  private entries: Entry[];
  /** Key -> entries, built lazily for large collections. */
  private index: Map<string, Entry[]> | undefined;

  private constructor(entries: Entry[]) {
    this.entries = entries;
    this.index = undefined;
  }

  // -------------------------------------------------------------------------
  // Construction.

  /** An empty collection. */
  static empty(): Resources {
    return new Resources([]);
  }

  /**
   * Builds a collection from resources in either reservation format.
   * Invalid and empty resources are ignored, as Mesos does; use `tryFrom`
   * to reject them instead.
   */
  static from(resources: Iterable<Resource> | Resource | undefined): Resources {
    if (resources instanceof Resources) return resources.clone();
    const out = new Resources([]);
    if (resources === undefined) return out;
    if (isIterable(resources)) {
      for (const r of resources) out.addResource(r);
    } else {
      out.addResource(resources);
    }
    return out;
  }

  /**
   * Builds a collection, failing on the first invalid resource with
   * "Resource '<text>' is invalid: <reason>". Empty resources are dropped.
   */
  static tryFrom(resources: Iterable<Resource>): Result<Resources> {
    const out = new Resources([]);
    for (const r of resources) {
      const error = validateResource(r);
      if (error !== undefined) {
        return { ok: false, error: `Resource '${safeFormat(r)}' is invalid: ${error}` };
      }
      out.addEntry(entryFromResource(upgradeResource(r)));
    }
    return { ok: true, value: out };
  }

  /** A copy that can be changed with `add` / `subtract` without affecting this one. */
  clone(): Resources {
    return new Resources(this.entries.slice());
  }

  // -------------------------------------------------------------------------
  // Basic accessors.

  /** Number of distinct resource objects (a shared resource counts once). */
  get size(): number {
    return this.entries.length;
  }

  /** True when there is nothing in the collection. */
  isEmpty(): boolean {
    return this.entries.length === 0;
  }

  /** Iterates the resources (frozen messages; a shared resource appears once). */
  [Symbol.iterator](): Iterator<Resource> {
    // A hand-written iterator: generators are several times slower on Node 20.
    const entries = this.entries;
    let i = 0;
    return {
      next: (): IteratorResult<Resource> =>
        i < entries.length
          ? { done: false, value: entryToResource(entries[i++]!) }
          : { done: true, value: undefined },
    };
  }

  /** The resources as an array of frozen messages (post-refinement format). */
  toArray(): Resource[] {
    return this.entries.map(entryToResource);
  }

  /** `JSON.stringify` gives the protobuf-JSON array (post-refinement format). */
  toJSON(): Resource[] {
    return this.toArray();
  }

  /**
   * How many copies of `resource` the collection holds: the count for a
   * shared resource, 1 for a non-shared one that is present as is, else 0.
   */
  count(resource: Resource): number {
    if (validateResource(resource) !== undefined) return 0;
    const probe = entryFromResource(upgradeResource(resource));
    for (const e of this.lookup(probe.key)) {
      if (valuesEqual(e, probe)) return e.shared ? e.count : 1;
    }
    return 0;
  }

  // -------------------------------------------------------------------------
  // Arithmetic.

  /** `this + that` (new collection). Invalid resources in `that` are ignored. */
  plus(that: Resources | Resource | Iterable<Resource>): Resources {
    return this.clone().add(that);
  }

  /** `this - that` (new collection). Invalid resources in `that` are ignored. */
  minus(that: Resources | Resource | Iterable<Resource>): Resources {
    return this.clone().subtract(that);
  }

  /** In-place `+=`. Returns `this`. */
  add(that: Resources | Resource | Iterable<Resource>): this {
    if (that instanceof Resources) {
      // Snapshot: `r.add(r)` must not see the entries it appends.
      const entries = that === this ? that.entries.slice() : that.entries;
      for (const e of entries) this.addEntry(e);
    } else if (isIterable(that)) {
      for (const r of that) this.addResource(r);
    } else {
      this.addResource(that);
    }
    return this;
  }

  /**
   * In-place `-=`. Subtracting more than is present removes the resource
   * (never goes negative). Returns `this`.
   */
  subtract(that: Resources | Resource | Iterable<Resource>): this {
    if (that instanceof Resources) {
      if (that === this) {
        this.entries = [];
        this.index = undefined;
        return this;
      }
      for (const e of that.entries) this.subtractEntry(e);
    } else if (isIterable(that)) {
      for (const r of that) {
        if (validateResource(r) === undefined) {
          this.subtractEntry(entryFromResource(upgradeResource(r)));
        }
      }
    } else if (validateResource(that) === undefined) {
      this.subtractEntry(entryFromResource(upgradeResource(that)));
    }
    return this;
  }

  /**
   * True when `that` is a subset of this collection: every resource of
   * `that` fits in a compatible resource here (shared ones by count;
   * exclusive ones — persistent volumes, MOUNT/BLOCK disks — once each).
   */
  contains(that: Resources | Resource): boolean {
    if (!(that instanceof Resources)) {
      if (validateResource(that) !== undefined) return false;
      return this.containsEntry(entryFromResource(upgradeResource(that)));
    }
    let remaining: Resources | undefined;
    for (const e of that.entries) {
      const source = remaining ?? this;
      if (!source.containsEntry(e)) return false;
      if (e.exclusive) {
        // An exclusive resource can satisfy only one of `that`'s resources.
        remaining ??= this.clone();
        remaining.subtractEntry(e);
      }
    }
    return true;
  }

  /** Equality as Mesos defines it: each contains the other. */
  equals(that: Resources): boolean {
    if (this === that) return true;
    return this.contains(that) && that.contains(this);
  }

  // -------------------------------------------------------------------------
  // Filters.

  /** Resources matching a predicate (no merging needed: entries stay distinct). */
  filter(predicate: (resource: Resource) => boolean): Resources {
    return new Resources(this.entries.filter((e) => predicate(entryToResource(e))));
  }

  private filterEntries(predicate: (e: Entry) => boolean): Resources {
    return new Resources(this.entries.filter(predicate));
  }

  /** Unreserved resources. */
  unreserved(): Resources {
    return this.filterEntries((e) => isUnreserved(e.meta));
  }

  /** Reserved resources (whose last reservation is to `role`, when given). */
  reserved(role?: string): Resources {
    return this.filterEntries((e) => isReserved(e.meta, role));
  }

  /** Resources `role` may use: unreserved, or reserved to `role` or an ancestor. */
  allocatableTo(role: string): Resources {
    return this.filterEntries((e) => isAllocatableTo(e.meta, role));
  }

  /** Resources reserved to `role` or one of its descendants. */
  reservedToRoleSubtree(role: string): Resources {
    return this.filterEntries((e) => isReservedToRoleSubtree(e.meta, role));
  }

  /** Resources allocated to `role` or one of its descendants. */
  allocatedToRoleSubtree(role: string): Resources {
    return this.filterEntries((e) => isAllocatedToRoleSubtree(e.meta, role));
  }

  /** Revocable resources. */
  revocable(): Resources {
    return this.filterEntries((e) => isRevocable(e.meta));
  }

  /** Non-revocable resources. */
  nonRevocable(): Resources {
    return this.filterEntries((e) => !isRevocable(e.meta));
  }

  /** Persistent volumes. */
  persistentVolumes(): Resources {
    return this.filterEntries((e) => isPersistentVolume(e.meta));
  }

  /** Shared resources. */
  shared(): Resources {
    return this.filterEntries((e) => isShared(e.meta));
  }

  /** Non-shared resources. */
  nonShared(): Resources {
    return this.filterEntries((e) => !isShared(e.meta));
  }

  /** Scalar resources. */
  scalars(): Resources {
    return this.filterEntries((e) => e.kind === Kind.Scalar);
  }

  /** Resources with the given name. */
  named(name: string): Resources {
    return this.filterEntries((e) => e.meta.name === name);
  }

  /** Reserved resources grouped by reservation role (last reservation). */
  reservations(): Map<string, Resources> {
    const out = new Map<string, Resources>();
    for (const e of this.entries) {
      const role = reservationRole(e.meta);
      if (role === undefined) continue;
      let group = out.get(role);
      if (group === undefined) {
        group = new Resources([]);
        out.set(role, group);
      }
      group.addEntry(e);
    }
    return out;
  }

  /** Resources grouped by `allocation_info.role` (unallocated ones are skipped). */
  allocations(): Map<string, Resources> {
    const out = new Map<string, Resources>();
    for (const e of this.entries) {
      const role = e.meta.allocation_info?.role;
      if (role === undefined) continue;
      let group = out.get(role);
      if (group === undefined) {
        group = new Resources([]);
        out.set(role, group);
      }
      group.addEntry(e);
    }
    return out;
  }

  // -------------------------------------------------------------------------
  // Conversions.

  /** Every resource with `reservation` pushed on its refinement stack. */
  pushReservation(reservation: ReservationInfo): Resources {
    const copy: ReservationInfo = structuredClone(reservation);
    return this.mapMeta((meta) =>
      metaOf(meta, { reservations: [...(meta.reservations ?? []), copy] }),
    );
  }

  /** Every resource with its last reservation removed (unreserved ones are unchanged). */
  popReservation(): Resources {
    return this.mapMeta((meta) => {
      const stack = meta.reservations ?? [];
      if (stack.length === 0) return meta;
      const rest = Object.freeze(stack.slice(0, -1)) as ReservationInfo[];
      return metaOf(meta, { reservations: stack.length === 1 ? null : rest });
    });
  }

  /** Every resource with all reservations removed. */
  toUnreserved(): Resources {
    return this.mapMeta((meta) =>
      isUnreserved(meta) ? meta : metaOf(meta, { reservations: null }),
    );
  }

  /**
   * All resources unreserved, then (for a role other than `*`) reserved to
   * `role` with `type` (STATIC by default) — Mesos' old `flatten(role)`.
   */
  flatten(role = "*", type: "STATIC" | "DYNAMIC" = "STATIC"): Resources {
    const unreserved = this.toUnreserved();
    return role === "*" ? unreserved : unreserved.pushReservation({ type, role });
  }

  /** Every resource with `allocation_info.role` set to `role`. */
  allocate(role: string): Resources {
    const allocation = Object.freeze({ role });
    return this.mapMeta((meta) =>
      meta.allocation_info?.role === role ? meta : metaOf(meta, { allocation_info: allocation }),
    );
  }

  /** Every resource without `allocation_info`. */
  unallocated(): Resources {
    return this.mapMeta((meta) =>
      meta.allocation_info === undefined ? meta : metaOf(meta, { allocation_info: null }),
    );
  }

  /** Scalars only, stripped of all metadata (name, type and value). */
  createStrippedScalarQuantity(): Resources {
    return this.mapMeta(
      (meta) => (meta.type === "SCALAR" ? { name: meta.name, type: meta.type } : meta),
      (e) => e.kind === Kind.Scalar,
    );
  }

  private mapMeta(
    change: (meta: Resource) => Resource,
    keep: (e: Entry) => boolean = () => true,
  ): Resources {
    const out = new Resources([]);
    for (const e of this.entries) {
      if (!keep(e)) continue;
      const meta = change(e.meta);
      out.addEntry(meta === e.meta ? e : withMeta(e, meta));
    }
    return out;
  }

  // -------------------------------------------------------------------------
  // Quantities.

  /** Sum of the scalar resources named `name`, or undefined when there are none. */
  getScalar(name: string): number | undefined {
    let total = 0;
    let found = false;
    for (const e of this.entries) {
      if (e.kind === Kind.Scalar && e.meta.name === name) {
        total += e.fixed;
        found = true;
      }
    }
    return found ? fromFixed(total) : undefined;
  }

  /** Union of the ranges resources named `name`, or undefined when there are none. */
  getRanges(name: string): ValueRanges | undefined {
    let total: FlatRanges = [];
    let found = false;
    for (const e of this.entries) {
      if (e.kind === Kind.Ranges && e.meta.name === name) {
        total = addRanges(total, e.ranges);
        found = true;
      }
    }
    return found ? valueRangesFromFlat(total) : undefined;
  }

  /** Union of the set resources named `name`, or undefined when there are none. */
  getSet(name: string): string[] | undefined {
    let total: readonly string[] = [];
    let found = false;
    for (const e of this.entries) {
      if (e.kind === Kind.Set && e.meta.name === name) {
        total = addItems(total, e.items);
        found = true;
      }
    }
    return found ? total.slice() : undefined;
  }

  /** Total `cpus`. */
  cpus(): number | undefined {
    return this.getScalar("cpus");
  }

  /** Total `gpus`. */
  gpus(): number | undefined {
    return this.getScalar("gpus");
  }

  /** Total `mem` in MB. */
  mem(): number | undefined {
    return this.getScalar("mem");
  }

  /** Total `disk` in MB. */
  disk(): number | undefined {
    return this.getScalar("disk");
  }

  /** All `ports`. */
  ports(): ValueRanges | undefined {
    return this.getRanges("ports");
  }

  /** All `ephemeral_ports`. */
  ephemeralPorts(): ValueRanges | undefined {
    return this.getRanges("ephemeral_ports");
  }

  /** Distinct resource names. */
  names(): Set<string> {
    const out = new Set<string>();
    for (const e of this.entries) out.add(e.meta.name);
    return out;
  }

  /** Resource name -> type (the last seen wins, as in Mesos). */
  types(): Map<string, ValueType> {
    const out = new Map<string, ValueType>();
    for (const e of this.entries) out.set(e.meta.name, e.meta.type);
    return out;
  }

  /**
   * Scalar quantities by name, ignoring all metadata (Mesos'
   * ResourceQuantities for scalars). Amounts are rounded to 0.001.
   */
  scalarQuantities(): Map<string, number> {
    const fixed = new Map<string, number>();
    for (const e of this.entries) {
      if (e.kind !== Kind.Scalar) continue;
      fixed.set(e.meta.name, (fixed.get(e.meta.name) ?? 0) + e.fixed);
    }
    const out = new Map<string, number>();
    for (const [name, value] of fixed) out.set(name, fromFixed(value));
    return out;
  }

  // -------------------------------------------------------------------------
  // Text and JSON forms.

  /** Mesos' text form: `cpus:2; mem:1961; ports:[31000-32000]`, `{}` when empty. */
  toString(): string {
    if (this.entries.length === 0) return "{}";
    return this.entries
      .map((e) => formatResource(entryToResource(e), e.shared ? e.count : undefined))
      .join("; ");
  }

  /** The resources in the legacy "endpoint" JSON format (fresh objects). */
  toEndpointJson(): Resource[] {
    return this.entries.map((e) => toEndpointFormat(structuredClone(entryToResource(e))));
  }

  // -------------------------------------------------------------------------
  // Internals.

  private lookup(key: string): readonly Entry[] {
    if (this.index === undefined && this.entries.length > INDEX_THRESHOLD) this.buildIndex();
    if (this.index !== undefined) return this.index.get(key) ?? NO_ENTRIES;
    let out: Entry[] | undefined;
    for (const e of this.entries) {
      if (e.key !== key) continue;
      if (out === undefined) out = [e];
      else out.push(e);
    }
    return out ?? NO_ENTRIES;
  }

  private buildIndex(): void {
    const index = new Map<string, Entry[]>();
    for (const e of this.entries) {
      const list = index.get(e.key);
      if (list === undefined) index.set(e.key, [e]);
      else list.push(e);
    }
    this.index = index;
  }

  private replace(old: Entry, next: Entry): void {
    this.entries[this.entries.indexOf(old)] = next;
    if (this.index !== undefined) {
      const list = this.index.get(old.key)!;
      list[list.indexOf(old)] = next;
    }
  }

  private remove(old: Entry): void {
    this.entries.splice(this.entries.indexOf(old), 1);
    if (this.index !== undefined) {
      const list = this.index.get(old.key)!;
      list.splice(list.indexOf(old), 1);
      if (list.length === 0) this.index.delete(old.key);
    }
  }

  private push(e: Entry): void {
    this.entries.push(e);
    if (this.index !== undefined) {
      const list = this.index.get(e.key);
      if (list === undefined) this.index.set(e.key, [e]);
      else list.push(e);
    }
  }

  private addResource(r: Resource): void {
    if (validateResource(r) !== undefined) return;
    this.addEntry(entryFromResource(upgradeResource(r)));
  }

  /** Adds a valid entry, merging it into an addable one when there is one. */
  private addEntry(e: Entry): void {
    if (entryIsEmpty(e)) return;
    if (!e.exclusive) {
      // Only non-exclusive entries live under a mergeable key, and at most one per key.
      for (const existing of this.lookup(e.key)) {
        if (existing.exclusive) continue;
        this.replace(existing, merge(existing, e));
        return;
      }
    }
    this.push(e);
  }

  private subtractEntry(e: Entry): void {
    if (entryIsEmpty(e)) return;
    for (const existing of this.lookup(e.key)) {
      if (existing.exclusive && !valuesEqual(existing, e)) continue;
      const next = difference(existing, e);
      if (next === undefined) this.remove(existing);
      else this.replace(existing, next);
      return;
    }
  }

  private containsEntry(e: Entry): boolean {
    for (const existing of this.lookup(e.key)) {
      if (entryContains(existing, e)) return true;
    }
    return false;
  }
}

const NO_ENTRIES: readonly Entry[] = Object.freeze([]);

function isIterable(value: unknown): value is Iterable<Resource> {
  return (
    value !== null &&
    typeof value === "object" &&
    typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === "function"
  );
}

function safeFormat(r: Resource): string {
  try {
    return formatResource(r);
  } catch {
    return String((r as { name?: unknown })?.name ?? "?");
  }
}

/** Sum of two addable entries. */
function merge(a: Entry, b: Entry): Entry {
  if (a.shared) return withCount(a, a.count + b.count);
  switch (a.kind) {
    case Kind.Scalar:
      return withValue(a, a.fixed + b.fixed, a.ranges, a.items);
    case Kind.Ranges:
      return withValue(a, a.fixed, addRanges(a.ranges, b.ranges), a.items);
    default:
      return withValue(a, a.fixed, a.ranges, addItems(a.items, b.items));
  }
}

/** `a - b` for subtractable entries, or undefined when nothing (or less) remains. */
function difference(a: Entry, b: Entry): Entry | undefined {
  let next: Entry;
  if (a.shared) {
    next = withCount(a, a.count - b.count);
  } else if (a.kind === Kind.Scalar) {
    if (a.fixed - b.fixed <= 0) return undefined;
    next = withValue(a, a.fixed - b.fixed, a.ranges, a.items);
  } else if (a.kind === Kind.Ranges) {
    next = withValue(a, a.fixed, subtractRanges(a.ranges, b.ranges), a.items);
  } else {
    next = withValue(a, a.fixed, a.ranges, subtractItems(a.items, b.items));
  }
  return entryIsEmpty(next) ? undefined : next;
}

/** Mesos' single-resource `contains` for entries with the same key. */
function entryContains(a: Entry, b: Entry): boolean {
  if (a.shared) return a.count >= b.count;
  if (a.exclusive) return valuesEqual(a, b);
  if (a.kind === Kind.Scalar) return b.fixed <= a.fixed;
  if (a.kind === Kind.Ranges) return rangesContain(a.ranges, b.ranges);
  return itemsContain(a.items, b.items);
}
