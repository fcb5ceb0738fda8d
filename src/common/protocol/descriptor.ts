/**
 * The compact, fully resolved form of the wire schema that the runtime loads
 * instead of parsing `.proto` text (parsing costs tens of milliseconds and
 * the protobufjs import alone more; executors must start fast).
 *
 * Produced from the `.proto` files by `descriptor-from-proto.ts` and committed
 * as `generated/descriptor.ts`. Type names are fully qualified, without a
 * leading dot.
 */
export interface SchemaDescriptor {
  /** Package names (`mesos.v1`, `mesos.v1.scheduler`, ...), sorted. */
  readonly packages: readonly string[];
  /** Every message type, nested ones included, by full name. */
  readonly messages: Readonly<Record<string, MessageDescriptor>>;
  /** Every enum, by full name: value name -> number, in declaration order. */
  readonly enums: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

export interface MessageDescriptor {
  /** Fields in declaration order. */
  readonly fields: readonly FieldDescriptor[];
}

/** Scalar type names as written in `.proto`. */
export type ScalarTypeName =
  | "double"
  | "float"
  | "int32"
  | "int64"
  | "uint32"
  | "uint64"
  | "sint32"
  | "sint64"
  | "fixed32"
  | "fixed64"
  | "sfixed32"
  | "sfixed64"
  | "bool"
  | "string"
  | "bytes";

export const SCALAR_TYPE_NAMES: readonly ScalarTypeName[] = [
  "double",
  "float",
  "int32",
  "int64",
  "uint32",
  "uint64",
  "sint32",
  "sint64",
  "fixed32",
  "fixed64",
  "sfixed32",
  "sfixed64",
  "bool",
  "string",
  "bytes",
];

export interface FieldDescriptor {
  readonly name: string;
  readonly id: number;
  /** A scalar type name, or the full name of a message or enum (the value type for maps). */
  readonly type: string;
  /** Absent for `optional`. */
  readonly label?: "required" | "repeated" | "map";
  /** Key scalar type of a `map<K, V>` field. */
  readonly keyType?: ScalarTypeName;
  /** Declared `[default = ...]`; enum defaults are value names. */
  readonly default?: string | number | boolean;
  /** `[packed = true]` on a repeated scalar field. */
  readonly packed?: true;
  /** Name of the `oneof` this field belongs to. */
  readonly oneof?: string;
  /** `[deprecated = true]`. */
  readonly deprecated?: true;
}

/** True when `type` names a scalar rather than a message or enum. */
export function isScalarTypeName(type: string): type is ScalarTypeName {
  return (SCALAR_TYPE_NAMES as readonly string[]).includes(type);
}

/** The package a full type name belongs to: the longest package prefix. */
export function packageOf(descriptor: SchemaDescriptor, fullName: string): string {
  let best = "";
  for (const p of descriptor.packages) {
    if (fullName.startsWith(`${p}.`) && p.length > best.length) best = p;
  }
  return best;
}
