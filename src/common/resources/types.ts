import type { Result as CommonResult } from "../errors/result.js";
/**
 * Plain-object shapes of the Mesos v1 protobuf messages that describe
 * resources and attributes (`mesos.v1.Value`, `Resource`, `Attribute`, ...).
 *
 * Field names are the proto field names (snake_case), enums are their NAME
 * strings, 64-bit integers are JS numbers and optional fields are absent when
 * unset. These objects are exactly what the codec produces and consumes, so a
 * field added here must exist in include/mesos/v1/mesos.proto.
 *
 * Sub-messages the resources module never inspects (`Volume.image`,
 * `Volume.source`) are typed loosely as `Record<string, unknown>`; they are
 * still compared structurally when deciding whether two resources merge.
 */

/** `Value.Type`. */
export type ValueType = "SCALAR" | "RANGES" | "SET" | "TEXT";

/** `Value.Scalar`. Resource amounts are fixed-point with 3 decimals. */
export interface ValueScalar {
  value: number;
}

/** `Value.Range`: an inclusive interval `[begin, end]`. */
export interface ValueRange {
  begin: number;
  end: number;
}

/** `Value.Ranges`. */
export interface ValueRanges {
  range: ValueRange[];
}

/** `Value.Set`. */
export interface ValueSet {
  item: string[];
}

/** `Value.Text`. */
export interface ValueText {
  value: string;
}

/** `Value`: the protobuf "union" of the four kinds. */
export interface Value {
  type: ValueType;
  scalar?: ValueScalar;
  ranges?: ValueRanges;
  set?: ValueSet;
  text?: ValueText;
}

/** `Label`. */
export interface Label {
  key: string;
  value?: string;
}

/** `Labels`. */
export interface Labels {
  labels: Label[];
}

/** `ResourceProviderID`. */
export interface ResourceProviderId {
  value: string;
}

/** `Resource.ReservationInfo.Type`. */
export type ReservationType = "UNKNOWN" | "STATIC" | "DYNAMIC";

/**
 * `Resource.ReservationInfo`. In the post-refinement format `type` and `role`
 * are always set; in the legacy single-reservation format (`Resource.reservation`)
 * only `principal`/`labels` are used and the role comes from `Resource.role`.
 */
export interface ReservationInfo {
  type?: ReservationType;
  role?: string;
  principal?: string;
  labels?: Labels;
}

/** `Resource.AllocationInfo`. */
export interface AllocationInfo {
  role?: string;
}

/** `Volume.Mode`. */
export type VolumeMode = "RW" | "RO";

/**
 * `Volume`. `image` and `source` are opaque to resource arithmetic and kept
 * loosely typed (they follow mesos.proto `Image` and `Volume.Source`).
 */
export interface Volume {
  mode: VolumeMode;
  container_path: string;
  host_path?: string;
  image?: Record<string, unknown>;
  source?: Record<string, unknown>;
}

/** `Resource.DiskInfo.Persistence`. */
export interface DiskPersistence {
  id: string;
  principal?: string;
}

/** `Resource.DiskInfo.Source.Type`. */
export type DiskSourceType = "UNKNOWN" | "PATH" | "MOUNT" | "BLOCK" | "RAW";

/** `Resource.DiskInfo.Source.Path` / `.Mount`. */
export interface DiskSourceRoot {
  root?: string;
}

/** `Resource.DiskInfo.Source`. */
export interface DiskSource {
  type: DiskSourceType;
  path?: DiskSourceRoot;
  mount?: DiskSourceRoot;
  vendor?: string;
  id?: string;
  metadata?: Labels;
  profile?: string;
}

/** `Resource.DiskInfo`. */
export interface DiskInfo {
  persistence?: DiskPersistence;
  volume?: Volume;
  source?: DiskSource;
}

/** `Resource.RevocableInfo` (empty marker message). */
export type RevocableInfo = Record<string, never>;

/** `Resource.SharedInfo` (empty marker message). */
export type SharedInfo = Record<string, never>;

/** `Resource` (mesos.v1). */
export interface Resource {
  provider_id?: ResourceProviderId;
  name: string;
  type: ValueType;
  scalar?: ValueScalar;
  ranges?: ValueRanges;
  set?: ValueSet;
  /** Deprecated pre-refinement role; absent means "*". */
  role?: string;
  allocation_info?: AllocationInfo;
  /** Deprecated pre-refinement single reservation (principal/labels only). */
  reservation?: ReservationInfo;
  /** Reservation refinement stack, outermost (coarsest role) first. */
  reservations?: ReservationInfo[];
  disk?: DiskInfo;
  revocable?: RevocableInfo;
  shared?: SharedInfo;
}

/** `Attribute` (mesos.v1). */
export interface Attribute {
  name: string;
  type: ValueType;
  scalar?: ValueScalar;
  ranges?: ValueRanges;
  set?: ValueSet;
  text?: ValueText;
}

/**
 * Result of a fallible parse/validation: the value, or a one-line reason a
 * user understands. Parsers and validators return this and never throw.
 */
export type Result<T> = CommonResult<T, string>;
