/**
 * Runtime view of the wire schema: per-type field tables computed once from a
 * `SchemaDescriptor` and reused by every encode and decode, so no call looks
 * anything up by name.
 */
import type { FieldDescriptor, ScalarTypeName, SchemaDescriptor } from "./descriptor.js";

/** Field value kinds (numbered as protobuf's FieldDescriptor types). */
export const Kind = {
  DOUBLE: 1,
  FLOAT: 2,
  INT64: 3,
  UINT64: 4,
  INT32: 5,
  FIXED64: 6,
  FIXED32: 7,
  BOOL: 8,
  STRING: 9,
  MESSAGE: 11,
  BYTES: 12,
  UINT32: 13,
  ENUM: 14,
  SFIXED32: 15,
  SFIXED64: 16,
  SINT32: 17,
  SINT64: 18,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export const Label = { OPTIONAL: 0, REQUIRED: 1, REPEATED: 2, MAP: 3 } as const;
export type Label = (typeof Label)[keyof typeof Label];

const SCALAR_KINDS: Record<ScalarTypeName, Kind> = {
  double: Kind.DOUBLE,
  float: Kind.FLOAT,
  int64: Kind.INT64,
  uint64: Kind.UINT64,
  int32: Kind.INT32,
  fixed64: Kind.FIXED64,
  fixed32: Kind.FIXED32,
  bool: Kind.BOOL,
  string: Kind.STRING,
  bytes: Kind.BYTES,
  uint32: Kind.UINT32,
  sfixed32: Kind.SFIXED32,
  sfixed64: Kind.SFIXED64,
  sint32: Kind.SINT32,
  sint64: Kind.SINT64,
};

/** Protobuf wire type used for a kind's values. */
export function wireTypeOf(kind: Kind): number {
  switch (kind) {
    case Kind.DOUBLE:
    case Kind.FIXED64:
    case Kind.SFIXED64:
      return 1;
    case Kind.FLOAT:
    case Kind.FIXED32:
    case Kind.SFIXED32:
      return 5;
    case Kind.STRING:
    case Kind.BYTES:
    case Kind.MESSAGE:
      return 2;
    default:
      return 0;
  }
}

export interface EnumTable {
  readonly fullName: string;
  readonly byName: ReadonlyMap<string, number>;
  /** First declared name for each number. */
  readonly byNumber: ReadonlyMap<number, string>;
}

/** One field of a message, with everything an encoder or decoder needs precomputed. */
export class FieldTable {
  readonly name: string;
  readonly id: number;
  readonly kind: Kind;
  readonly label: Label;
  /** Key kind of a map field. */
  readonly keyKind: Kind;
  /** The field's key on the wire: (id << 3) | wire type; packed fields use wire type 2. */
  readonly key: number;
  readonly packed: boolean;
  readonly enumTable: EnumTable | undefined;
  /** Full name of the message or enum type (value type for maps); the scalar name otherwise. */
  readonly typeName: string;
  /** Index into the owning message's `oneofs`, or -1. */
  readonly oneofIndex: number;
  /** Declared default in in-memory form (enum name, number, string, boolean, bytes). */
  readonly defaultValue: unknown;
  readonly deprecated: boolean;
  /** True when the name shadows an Object.prototype member, so lookups must check ownership. */
  readonly shadowsPrototype: boolean;
  private readonly schema: Schema;
  private resolved: MessageTable | undefined;

  constructor(schema: Schema, init: Omit<FieldTable, "messageTable" | "schema" | "resolved">) {
    this.schema = schema;
    this.name = init.name;
    this.id = init.id;
    this.kind = init.kind;
    this.label = init.label;
    this.keyKind = init.keyKind;
    this.key = init.key;
    this.packed = init.packed;
    this.enumTable = init.enumTable;
    this.typeName = init.typeName;
    this.oneofIndex = init.oneofIndex;
    this.defaultValue = init.defaultValue;
    this.deprecated = init.deprecated;
    this.shadowsPrototype = init.shadowsPrototype;
  }

  /**
   * The table of a message-typed field, built on first use so that loading a
   * codec only pays for the types its messages actually contain.
   */
  get messageTable(): MessageTable {
    let t = this.resolved;
    if (t === undefined) {
      t = this.schema.message(this.typeName);
      this.resolved = t;
    }
    return t;
  }
}

export interface MessageTable {
  readonly fullName: string;
  /** Declaration order (JSON output order, as Mesos writes it). */
  readonly fields: readonly FieldTable[];
  /** Ascending field number (binary output order). */
  readonly fieldsByNumber: readonly FieldTable[];
  /** Dense lookup by field number for small numbers. */
  readonly byNumber: readonly (FieldTable | undefined)[];
  /** Lookup for numbers beyond the dense range. */
  readonly byNumberSparse: ReadonlyMap<number, FieldTable>;
  readonly byName: ReadonlyMap<string, FieldTable>;
  readonly required: readonly FieldTable[];
  /** Member fields of each oneof, with the oneof's name. */
  readonly oneofs: readonly { readonly name: string; readonly fields: readonly FieldTable[] }[];
  /** Optional fields with a declared default that is not deprecated (for Mesos-style JSON). */
  readonly defaulted: readonly FieldTable[];
}

const DENSE_LIMIT = 256;

/** The wire schema with lazily built, cached per-type tables. */
export class Schema {
  readonly descriptor: SchemaDescriptor;
  private readonly messages = new Map<string, MessageTable>();
  private readonly enums = new Map<string, EnumTable>();

  constructor(descriptor: SchemaDescriptor) {
    this.descriptor = descriptor;
  }

  /** True when `fullName` names a message type. */
  hasMessage(fullName: string): boolean {
    return Object.hasOwn(this.descriptor.messages, fullName);
  }

  /** The table for a message type; throws for an unknown name (a programming error). */
  message(fullName: string): MessageTable {
    return this.messages.get(fullName) ?? this.build(fullName);
  }

  /** The table for an enum type; throws for an unknown name. */
  enumType(fullName: string): EnumTable {
    const cached = this.enums.get(fullName);
    if (cached !== undefined) return cached;
    const values = this.descriptor.enums[fullName];
    if (values === undefined || !Object.hasOwn(this.descriptor.enums, fullName)) {
      throw new Error(`unknown enum type '${fullName}'`);
    }
    const byName = new Map<string, number>();
    const byNumber = new Map<number, string>();
    for (const [name, num] of Object.entries(values)) {
      byName.set(name, num);
      if (!byNumber.has(num)) byNumber.set(num, name);
    }
    const table: EnumTable = { fullName, byName, byNumber };
    this.enums.set(fullName, table);
    return table;
  }

  private build(fullName: string): MessageTable {
    const desc = this.descriptor.messages[fullName];
    if (desc === undefined || !Object.hasOwn(this.descriptor.messages, fullName)) {
      throw new Error(`unknown message type '${fullName}'`);
    }
    const oneofNames: string[] = [];
    for (const fd of desc.fields) {
      if (fd.oneof !== undefined && !oneofNames.includes(fd.oneof)) oneofNames.push(fd.oneof);
    }
    const fields = desc.fields.map((fd) => this.field(fd, oneofNames));
    const fieldsByNumber = [...fields].sort((a, b) => a.id - b.id);
    const byNumber: (FieldTable | undefined)[] = [];
    const byNumberSparse = new Map<number, FieldTable>();
    for (const f of fields) {
      if (f.id < DENSE_LIMIT) byNumber[f.id] = f;
      else byNumberSparse.set(f.id, f);
    }
    for (let i = 0; i < byNumber.length; i++) byNumber[i] ??= undefined;
    const table: MessageTable = {
      fullName,
      fields,
      fieldsByNumber,
      byNumber,
      byNumberSparse,
      byName: new Map(fields.map((f) => [f.name, f])),
      required: fields.filter((f) => f.label === Label.REQUIRED),
      oneofs: oneofNames.map((name) => ({
        name,
        fields: fields.filter((f) => f.oneofIndex === oneofNames.indexOf(name)),
      })),
      defaulted: fields.filter(
        (f) => f.label === Label.OPTIONAL && f.defaultValue !== undefined && !f.deprecated,
      ),
    };
    this.messages.set(fullName, table);
    return table;
  }

  private field(fd: FieldDescriptor, oneofNames: readonly string[]): FieldTable {
    const scalar = SCALAR_KINDS[fd.type as ScalarTypeName] as Kind | undefined;
    const isScalar = scalar !== undefined && Object.hasOwn(SCALAR_KINDS, fd.type);
    let kind: Kind;
    let enumTable: EnumTable | undefined;
    if (isScalar) {
      kind = scalar;
    } else if (Object.hasOwn(this.descriptor.enums, fd.type)) {
      kind = Kind.ENUM;
      enumTable = this.enumType(fd.type);
    } else if (Object.hasOwn(this.descriptor.messages, fd.type)) {
      kind = Kind.MESSAGE;
    } else {
      throw new Error(`field '${fd.name}' has unknown type '${fd.type}'`);
    }
    const label =
      fd.label === "required"
        ? Label.REQUIRED
        : fd.label === "repeated"
          ? Label.REPEATED
          : fd.label === "map"
            ? Label.MAP
            : Label.OPTIONAL;
    const packed = fd.packed === true && label === Label.REPEATED;
    const wireType = label === Label.MAP || packed ? 2 : wireTypeOf(kind);
    return new FieldTable(this, {
      name: fd.name,
      id: fd.id,
      kind,
      label,
      keyKind: fd.keyType === undefined ? Kind.STRING : SCALAR_KINDS[fd.keyType],
      key: ((fd.id << 3) | wireType) >>> 0,
      packed,
      enumTable,
      typeName: fd.type,
      oneofIndex: fd.oneof === undefined ? -1 : oneofNames.indexOf(fd.oneof),
      defaultValue: defaultValueOf(fd, kind),
      deprecated: fd.deprecated === true,
      shadowsPrototype: fd.name in Object.prototype,
    });
  }
}

function defaultValueOf(fd: FieldDescriptor, kind: Kind): unknown {
  const d = fd.default;
  if (d === undefined) return undefined;
  if (kind === Kind.BYTES && typeof d === "string") return Buffer.from(d, "latin1");
  if (kind === Kind.FLOAT && typeof d === "number") return Math.fround(d);
  return d;
}
