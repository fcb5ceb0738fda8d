/**
 * Functions on a single `Resource` message: validation (Mesos'
 * `Resources::validate` rules), the reservation formats (pre-refinement
 * `role`/`reservation`, post-refinement `reservations` stack, and the
 * "endpoint" format that carries both), predicates and the text form.
 *
 * Unless stated otherwise, predicates expect the post-refinement format
 * (what `Resources` holds): no `role`, no `reservation`.
 */

import { formatValueRanges } from "./ranges.js";
import { isStrictSubroleOf, validateRole } from "./roles.js";
import { formatScalar, toFixed } from "./scalar.js";
import type {
  DiskInfo,
  DiskSource,
  DiskSourceType,
  Labels,
  ReservationInfo,
  Resource,
  Result,
  Volume,
} from "./types.js";
import { formatSet } from "./values.js";

const VALUE_TYPES = new Set(["SCALAR", "RANGES", "SET", "TEXT"]);
const DISK_SOURCE_TYPES = new Set(["UNKNOWN", "PATH", "MOUNT", "BLOCK", "RAW"]);
const RESERVATION_TYPES = new Set(["UNKNOWN", "STATIC", "DYNAMIC"]);

/** Labels equality as Mesos defines it: same size, order does not matter. */
export function labelsEqual(a: Labels | undefined, b: Labels | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const left = a.labels ?? [];
  const right = b.labels ?? [];
  if (left.length !== right.length) return false;
  return left.every((l) => right.some((r) => r.key === l.key && r.value === l.value));
}

function validateScalarish(resource: Resource): string | undefined {
  switch (resource.type) {
    case "SCALAR": {
      if (
        resource.scalar === undefined ||
        resource.ranges !== undefined ||
        resource.set !== undefined
      ) {
        return "Invalid scalar resource";
      }
      const value = resource.scalar.value;
      if (typeof value !== "number" || !Number.isFinite(value)) {
        return "Invalid scalar resource: value is not a finite number";
      }
      // Tiny positive values that round to zero are as invalid as negative ones.
      if (value !== 0 && toFixed(value) <= 0) return "Invalid scalar resource: value <= 0";
      return undefined;
    }
    case "RANGES": {
      if (
        resource.scalar !== undefined ||
        resource.ranges === undefined ||
        resource.set !== undefined
      ) {
        return "Invalid ranges resource";
      }
      const list = resource.ranges.range;
      if (!Array.isArray(list)) return "Invalid ranges resource";
      for (const r of list) {
        if (
          r === null ||
          typeof r !== "object" ||
          !Number.isSafeInteger(r.begin) ||
          !Number.isSafeInteger(r.end) ||
          r.begin < 0 ||
          r.end < 0
        ) {
          return "Invalid ranges resource: bounds must be non-negative integers below 2^53";
        }
        if (r.begin > r.end) return "Invalid ranges resource: begin > end";
      }
      // Overlap check on a sorted copy (O(n log n) instead of Mesos' O(n^2)).
      const sorted = list.slice().sort((x, y) => x.begin - y.begin);
      for (let i = 1; i < sorted.length; i++) {
        if (sorted[i]!.begin <= sorted[i - 1]!.end) {
          return "Invalid ranges resource: overlapping ranges";
        }
      }
      return undefined;
    }
    case "SET": {
      if (
        resource.scalar !== undefined ||
        resource.ranges !== undefined ||
        resource.set === undefined
      ) {
        return "Invalid set resource";
      }
      const items = resource.set.item;
      if (!Array.isArray(items) || items.some((i) => typeof i !== "string")) {
        return "Invalid set resource";
      }
      if (new Set(items).size !== items.length) return "Invalid set resource: duplicated elements";
      return undefined;
    }
    default:
      return "Unsupported resource type";
  }
}

function validateDisk(resource: Resource, disk: DiskInfo): string | undefined {
  if (resource.name !== "disk") {
    return `DiskInfo should not be set for ${resource.name} resource`;
  }
  const source = disk.source;
  if (source !== undefined) {
    if (!DISK_SOURCE_TYPES.has(source.type) || source.type === "UNKNOWN") {
      return "Unsupported 'DiskInfo.Source.Type'";
    }
    if (source.type === "BLOCK" || source.type === "RAW") {
      if (source.mount !== undefined)
        return `Mount should not be set for ${source.type} disk source`;
      if (source.path !== undefined) return `Path should not be set for ${source.type} disk source`;
    }
  }
  if (disk.persistence !== undefined && typeof disk.persistence.id !== "string") {
    return "Invalid persistent volume: 'persistence.id' must be a string";
  }
  return undefined;
}

function validateReservations(resource: Resource): string | undefined {
  const reservations = resource.reservations ?? [];
  if (reservations.length === 0) {
    // Pre-refinement format: `role` (default "*") and optional `reservation`.
    const role = resource.role ?? "*";
    const roleError = validateRole(role);
    if (roleError !== undefined) return roleError;
    if (resource.reservation !== undefined) {
      if (resource.reservation.type !== undefined) {
        return "'Resource.ReservationInfo.type' must not be set for the 'Resource.reservation' field";
      }
      if (resource.reservation.role !== undefined) {
        return "'Resource.ReservationInfo.role' must not be set for the 'Resource.reservation' field";
      }
      if (role === "*") return 'Invalid reservation: role "*" cannot be dynamically reserved';
    }
    return undefined;
  }

  for (const reservation of reservations) {
    if (reservation === null || typeof reservation !== "object") return "Invalid reservation";
    if (reservation.type === undefined) {
      return "Invalid reservation: 'Resource.ReservationInfo.type' field must be set.";
    }
    if (!RESERVATION_TYPES.has(reservation.type)) {
      return "Unsupported 'Resource.ReservationInfo.Type'";
    }
    if (reservation.role === undefined) {
      return "Invalid reservation: 'Resource.ReservationInfo.role' field must be set.";
    }
    const roleError = validateRole(reservation.role);
    if (roleError !== undefined) return roleError;
    if (reservation.role === "*") return 'Invalid reservation: role "*" cannot be reserved';
  }

  let ancestor = reservations[0]!.role!;
  for (let i = 1; i < reservations.length; i++) {
    const reservation = reservations[i]!;
    if (reservation.type === "STATIC") {
      return "Invalid refined reservation: A refined reservation cannot be STATIC";
    }
    const descendant = reservation.role!;
    if (!isStrictSubroleOf(descendant, ancestor)) {
      return `Invalid refined reservation: role '${descendant}' is not a refinement of '${ancestor}'`;
    }
    ancestor = descendant;
  }

  if (reservations.length === 1) {
    const only = reservations[0]!;
    if (resource.role !== undefined && resource.role !== only.role) {
      return (
        `Invalid resource format: 'Resource.role' field with '${resource.role}' does not ` +
        `match the role '${only.role}' in 'Resource.reservations'`
      );
    }
    if (only.type === "STATIC") {
      if (resource.reservation !== undefined) {
        return (
          "Invalid resource format: 'Resource.reservation' must not be set if the single " +
          "reservation in 'Resource.reservations' is STATIC"
        );
      }
    } else if (only.type === "DYNAMIC") {
      if ((resource.role !== undefined) !== (resource.reservation !== undefined)) {
        return (
          "Invalid resource format: 'Resource.role' and 'Resource.reservation' must either " +
          "be both set or both not set if the single reservation in 'Resource.reservations' is DYNAMIC"
        );
      }
      if (resource.reservation !== undefined) {
        if ((resource.reservation.principal ?? "") !== (only.principal ?? "")) {
          return (
            `Invalid resource format: 'Resource.reservation.principal' field with ` +
            `'${resource.reservation.principal ?? ""}' does not match the principal ` +
            `'${only.principal ?? ""}' in 'Resource.reservations'`
          );
        }
        if (
          !labelsEqual(resource.reservation.labels ?? { labels: [] }, only.labels ?? { labels: [] })
        ) {
          return (
            "Invalid resource format: 'Resource.reservation.labels' field does not match " +
            "the labels in 'Resource.reservations'"
          );
        }
      }
    } else {
      return "Unsupported 'Resource.ReservationInfo.Type'";
    }
  } else {
    if (resource.role !== undefined) {
      return (
        "Invalid resource format: 'Resource.role' must not be set if there is more than " +
        "one reservation in 'Resource.reservations'"
      );
    }
    if (resource.reservation !== undefined) {
      return (
        "Invalid resource format: 'Resource.reservation' must not be set if there is more " +
        "than one reservation in 'Resource.reservations'"
      );
    }
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isOptionalString(value: unknown): boolean {
  return value === undefined || typeof value === "string";
}

function labelsShapeError(labels: unknown, field: string): string | undefined {
  if (labels === undefined) return undefined;
  if (!isObject(labels)) return `'${field}' must be an object`;
  const list = labels.labels;
  if (list === undefined) return undefined;
  if (
    !Array.isArray(list) ||
    !list.every((l) => isObject(l) && typeof l.key === "string" && isOptionalString(l.value))
  ) {
    return `'${field}.labels' must be a list of {key, value}`;
  }
  return undefined;
}

function reservationShapeError(r: unknown, field: string): string | undefined {
  if (!isObject(r)) return `'${field}' must be an object`;
  if (r.type !== undefined && !RESERVATION_TYPES.has(r.type as string)) {
    return `Unsupported '${field}.type'`;
  }
  if (!isOptionalString(r.role)) return `'${field}.role' must be a string`;
  if (!isOptionalString(r.principal)) return `'${field}.principal' must be a string`;
  return labelsShapeError(r.labels, `${field}.labels`);
}

const OBJECT_FIELDS = [
  "scalar",
  "ranges",
  "set",
  "allocation_info",
  "reservation",
  "disk",
  "revocable",
  "shared",
  "provider_id",
] as const;

/**
 * Structural checks for plain objects that did not come through the codec:
 * sub-messages must be objects and leaf fields of the right JS type.
 */
function shapeError(resource: Resource): string | undefined {
  const r = resource as unknown as Record<string, unknown>;
  for (const field of OBJECT_FIELDS) {
    if (r[field] !== undefined && !isObject(r[field])) return `'${field}' must be an object`;
  }
  if (!isOptionalString(resource.role)) return "'role' must be a string";
  if (resource.provider_id !== undefined && typeof resource.provider_id.value !== "string") {
    return "'provider_id.value' must be a string";
  }
  if (resource.allocation_info !== undefined && !isOptionalString(resource.allocation_info.role)) {
    return "'allocation_info.role' must be a string";
  }
  if (resource.reservation !== undefined) {
    const error = reservationShapeError(resource.reservation, "reservation");
    if (error !== undefined) return error;
  }
  if (resource.reservations !== undefined) {
    if (!Array.isArray(resource.reservations)) return "'reservations' must be a list";
    for (let i = 0; i < resource.reservations.length; i++) {
      const error = reservationShapeError(resource.reservations[i], `reservations[${i}]`);
      if (error !== undefined) return error;
    }
  }
  const disk = resource.disk as Record<string, unknown> | undefined;
  if (disk !== undefined) {
    const { persistence, source, volume } = disk;
    if (persistence !== undefined) {
      if (!isObject(persistence) || typeof persistence.id !== "string") {
        return "'disk.persistence.id' must be a string";
      }
      if (!isOptionalString(persistence.principal))
        return "'disk.persistence.principal' must be a string";
    }
    if (source !== undefined) {
      if (!isObject(source)) return "'disk.source' must be an object";
      for (const f of ["path", "mount"]) {
        const v = source[f];
        if (v !== undefined && (!isObject(v) || !isOptionalString(v.root))) {
          return `'disk.source.${f}' must be an object with an optional root`;
        }
      }
      for (const f of ["vendor", "id", "profile"]) {
        if (!isOptionalString(source[f])) return `'disk.source.${f}' must be a string`;
      }
      const error = labelsShapeError(source.metadata, "disk.source.metadata");
      if (error !== undefined) return error;
    }
    if (volume !== undefined) {
      if (!isObject(volume) || typeof volume.container_path !== "string") {
        return "'disk.volume.container_path' must be a string";
      }
      if (!isOptionalString(volume.host_path)) return "'disk.volume.host_path' must be a string";
    }
  }
  return undefined;
}

/**
 * Validates one resource with Mesos' rules (name, type, value, disk info,
 * reservation format and refinement order, shareability). Accepts both the
 * pre- and post-refinement formats. Returns undefined or a one-line reason.
 * Safe on malformed objects (never throws).
 */
export function validateResource(resource: Resource): string | undefined {
  if (resource === null || typeof resource !== "object") return "Resource must be an object";
  if (typeof resource.name !== "string" || resource.name === "") return "Empty resource name";
  if (!VALUE_TYPES.has(resource.type)) return "Invalid resource type";
  const structural = shapeError(resource);
  if (structural !== undefined) return `Invalid resource: ${structural}`;
  const valueError = validateScalarish(resource);
  if (valueError !== undefined) return valueError;
  if (resource.disk !== undefined) {
    const diskError = validateDisk(resource, resource.disk);
    if (diskError !== undefined) return diskError;
  }
  const reservationError = validateReservations(resource);
  if (reservationError !== undefined) return reservationError;
  if (resource.shared !== undefined) {
    if (resource.name !== "disk") return `Resource ${resource.name} cannot be shared`;
    if (resource.disk?.persistence === undefined) return "Only persistent volumes can be shared";
  }
  return undefined;
}

/**
 * Returns the resource in the post-refinement format: the legacy `role` and
 * `reservation` fields are folded into the `reservations` stack (`role` "*"
 * means unreserved; a role without `reservation` is STATIC, with it DYNAMIC).
 * Input in the "endpoint" format (both forms present) keeps its stack.
 * Returns the same object when nothing changes.
 */
export function upgradeResource(resource: Resource): Resource {
  if (resource.role === undefined && resource.reservation === undefined) return resource;
  const { role, reservation, ...rest } = resource;
  if ((resource.reservations?.length ?? 0) > 0 || role === undefined || role === "*") {
    return rest;
  }
  const upgraded: ReservationInfo =
    reservation === undefined
      ? { type: "STATIC", role }
      : { ...withoutTypeAndRole(reservation), type: "DYNAMIC", role };
  return { ...rest, reservations: [upgraded] };
}

function withoutTypeAndRole(reservation: ReservationInfo): ReservationInfo {
  const out: ReservationInfo = {};
  if (reservation.principal !== undefined) out.principal = reservation.principal;
  if (reservation.labels !== undefined) out.labels = reservation.labels;
  return out;
}

/**
 * The "endpoint" format used by the legacy JSON endpoints: unreserved gets
 * `role: "*"`; exactly one reservation also sets the legacy `role` (and
 * `reservation: {principal?, labels?}` when it is DYNAMIC) next to
 * `reservations`; refined reservations only keep `reservations`.
 */
export function toEndpointFormat(resource: Resource): Resource {
  const reservations = resource.reservations ?? [];
  const only = reservations.length === 1 ? reservations[0]! : undefined;
  const out = {} as Resource;
  if (resource.provider_id !== undefined) out.provider_id = resource.provider_id;
  out.name = resource.name;
  out.type = resource.type;
  if (resource.scalar !== undefined) out.scalar = resource.scalar;
  if (resource.ranges !== undefined) out.ranges = resource.ranges;
  if (resource.set !== undefined) out.set = resource.set;
  if (reservations.length === 0) out.role = "*";
  else if (only !== undefined) out.role = only.role ?? "";
  if (resource.allocation_info !== undefined) out.allocation_info = resource.allocation_info;
  if (only?.type === "DYNAMIC") out.reservation = withoutTypeAndRole(only);
  if (reservations.length > 0) out.reservations = reservations;
  if (resource.disk !== undefined) out.disk = resource.disk;
  if (resource.revocable !== undefined) out.revocable = resource.revocable;
  if (resource.shared !== undefined) out.shared = resource.shared;
  return out;
}

/**
 * The pre-refinement format (for peers without RESERVATION_REFINEMENT):
 * `role` and `reservation` instead of `reservations`. Refined reservations
 * cannot be expressed and give an error.
 */
export function downgradeResource(resource: Resource): Result<Resource> {
  const reservations = resource.reservations ?? [];
  if (reservations.length > 1) {
    return { ok: false, error: "Cannot downgrade resources containing refined reservations" };
  }
  const { reservations: _dropped, ...rest } = toEndpointFormat(resource);
  return { ok: true, value: rest };
}

/** True when the resource has no reservation. */
export function isUnreserved(resource: Resource): boolean {
  return resource.reservations === undefined || resource.reservations.length === 0;
}

/** The role of the last (most refined) reservation, or undefined when unreserved. */
export function reservationRole(resource: Resource): string | undefined {
  const reservations = resource.reservations;
  if (reservations === undefined || reservations.length === 0) return undefined;
  return reservations[reservations.length - 1]!.role;
}

/** True when reserved (to `role` exactly, when given). */
export function isReserved(resource: Resource, role?: string): boolean {
  const last = reservationRole(resource);
  return last !== undefined && (role === undefined || role === last);
}

/** True when the last reservation is DYNAMIC. */
export function isDynamicallyReserved(resource: Resource): boolean {
  const reservations = resource.reservations;
  if (reservations === undefined || reservations.length === 0) return false;
  return reservations[reservations.length - 1]!.type === "DYNAMIC";
}

/**
 * True when `role` may be allocated the resource: it is unreserved, or
 * reserved to `role` or to one of `role`'s ancestors.
 */
export function isAllocatableTo(resource: Resource, role: string): boolean {
  const last = reservationRole(resource);
  return last === undefined || role === last || isStrictSubroleOf(role, last);
}

/** True when reserved to `role` or one of its descendants. */
export function isReservedToRoleSubtree(resource: Resource, role: string): boolean {
  const last = reservationRole(resource);
  return last !== undefined && (last === role || isStrictSubroleOf(last, role));
}

/** True when allocated to `role` or one of its descendants. */
export function isAllocatedToRoleSubtree(resource: Resource, role: string): boolean {
  const allocated = resource.allocation_info?.role ?? "";
  return allocated === role || isStrictSubroleOf(allocated, role);
}

/** True when the resource is a persistent volume. */
export function isPersistentVolume(resource: Resource): boolean {
  return resource.disk?.persistence !== undefined;
}

/** True when the resource is a disk with a source of the given type. */
export function isDisk(resource: Resource, type: DiskSourceType): boolean {
  return resource.disk?.source?.type === type;
}

/** True when the resource is revocable. */
export function isRevocable(resource: Resource): boolean {
  return resource.revocable !== undefined;
}

/** True when the resource is shared. */
export function isShared(resource: Resource): boolean {
  return resource.shared !== undefined;
}

/** True when the resource carries more than one reservation. */
export function hasRefinedReservations(resource: Resource): boolean {
  return (resource.reservations?.length ?? 0) > 1;
}

/** True when the resource comes from a resource provider. */
export function hasResourceProvider(resource: Resource): boolean {
  return resource.provider_id !== undefined;
}

// ---------------------------------------------------------------------------
// Text form (Mesos `operator<<`).

/** `{k: v, k2}` as Mesos prints labels. */
export function formatLabels(labels: Labels): string {
  const parts = (labels.labels ?? []).map((l) =>
    l.value === undefined ? l.key : `${l.key}: ${l.value}`,
  );
  return `{${parts.join(", ")}}`;
}

/** `DYNAMIC,role,principal,{labels}` as Mesos prints a reservation. */
export function formatReservation(reservation: ReservationInfo): string {
  let out = `${reservation.type ?? "UNKNOWN"},${reservation.role ?? ""}`;
  if (reservation.principal !== undefined) out += `,${reservation.principal}`;
  if (reservation.labels !== undefined) out += `,${formatLabels(reservation.labels)}`;
  return out;
}

function formatDiskSource(source: DiskSource): string {
  const csi =
    source.id !== undefined || source.profile !== undefined
      ? `(${source.vendor ?? ""},${source.id ?? ""},${source.profile ?? ""})`
      : undefined;
  switch (source.type) {
    case "MOUNT":
      return `MOUNT${csi ?? (source.mount?.root !== undefined ? `:${source.mount.root}` : "")}`;
    case "PATH":
      return `PATH${csi ?? (source.path?.root !== undefined ? `:${source.path.root}` : "")}`;
    case "BLOCK":
      return `BLOCK${csi ?? ""}`;
    case "RAW":
      return `RAW${csi ?? ""}`;
    default:
      return "UNKNOWN";
  }
}

function formatVolume(volume: Volume): string {
  if (volume.host_path === undefined) return volume.container_path;
  const mode = volume.mode === "RO" ? ":ro" : volume.mode === "RW" ? ":rw" : "";
  return `${volume.host_path}:${volume.container_path}${mode}`;
}

/** `MOUNT:/mnt/a,volume-id:path` as Mesos prints disk info. */
export function formatDiskInfo(disk: DiskInfo): string {
  let out = "";
  if (disk.source !== undefined) out += formatDiskSource(disk.source);
  if (disk.persistence !== undefined) {
    if (disk.source !== undefined) out += ",";
    out += disk.persistence.id;
  }
  if (disk.volume !== undefined) out += `:${formatVolume(disk.volume)}`;
  return out;
}

/**
 * Mesos' text form of one resource, e.g. `cpus:2`,
 * `cpus(reservations: [(STATIC,ads)]):8`, `mem(allocated: web):128`,
 * `disk(reservations: [(DYNAMIC,db,ops)])[id1:data]<SHARED>:64`.
 * `sharedCount` (for shared resources inside a `Resources`) is appended as `<n>`.
 */
export function formatResource(resource: Resource, sharedCount?: number): string {
  let out = resource.name;
  if (resource.allocation_info !== undefined) {
    out += `(allocated: ${resource.allocation_info.role ?? ""})`;
  }
  const reservations = resource.reservations ?? [];
  if (reservations.length > 0) {
    out += `(reservations: [${reservations.map((r) => `(${formatReservation(r)})`).join(",")}])`;
  }
  if (resource.disk !== undefined) out += `[${formatDiskInfo(resource.disk)}]`;
  if (resource.revocable !== undefined) out += "{REV}";
  if (resource.shared !== undefined) out += "<SHARED>";
  out += ":";
  switch (resource.type) {
    case "SCALAR":
      out += formatScalar(resource.scalar?.value ?? 0);
      break;
    case "RANGES":
      out += formatValueRanges(resource.ranges);
      break;
    case "SET":
      out += formatSet(resource.set);
      break;
    default:
      break;
  }
  if (resource.shared !== undefined && sharedCount !== undefined) out += `<${sharedCount}>`;
  return out;
}
