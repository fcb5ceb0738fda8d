/**
 * Runtime view of the wire schema: per-type field tables computed once from a
 * `SchemaDescriptor` and reused by every encode and decode, so no call looks
 * anything up by name.
 */
import { encodeBase64 } from "./base64.js";
import type { FieldDescriptor, ScalarTypeName, SchemaDescriptor } from "./descriptor.js";
import type { JsonValue } from "./json-value.js";

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
  /**
   * What Mesos' JSON shows for this field when it is unset: the declared
   * default in JSON form, for singular fields that declare one and are not
   * deprecated; undefined otherwise (then an unset field is left out).
   */
  readonly jsonDefault: JsonValue | undefined;
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
    this.jsonDefault = init.jsonDefault;
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
  /** Singular fields whose unset value JSON shows (`jsonDefault` set), declaration order. */
  readonly defaulted: readonly FieldTable[];
}

/**
 * Where the JSON defaults of a message type are: its own defaulted fields,
 * and the message-typed fields whose type (at any depth) has some.
 */
export interface JsonDefaultsPlan {
  readonly own: readonly FieldTable[];
  readonly nested: readonly FieldTable[];
}

const DENSE_LIMIT = 256;

/** The wire schema with lazily built, cached per-type tables. */
export class Schema {
  readonly descriptor: SchemaDescriptor;
  private readonly messages = new Map<string, MessageTable>();
  private readonly enums = new Map<string, EnumTable>();
  private readonly plans = new Map<string, JsonDefaultsPlan | null>();
  private reaching: ReadonlySet<string> | undefined;

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

  /**
   * Where JSON defaults can appear inside a message of `fullName`, or null
   * when nowhere (the common case: nothing to fill).
   */
  jsonDefaultsPlan(fullName: string): JsonDefaultsPlan | null {
    const cached = this.plans.get(fullName);
    if (cached !== undefined) return cached;
    const reaching = this.typesReachingDefaults();
    let plan: JsonDefaultsPlan | null = null;
    if (reaching.has(fullName)) {
      const table = this.message(fullName);
      plan = {
        own: table.defaulted,
        nested: table.fields.filter((f) => f.kind === Kind.MESSAGE && reaching.has(f.typeName)),
      };
    }
    this.plans.set(fullName, plan);
    return plan;
  }

  /** Message types with a JSON default in them at any depth (a fixed point over the schema). */
  private typesReachingDefaults(): ReadonlySet<string> {
    if (this.reaching !== undefined) return this.reaching;
    const reaching = new Set<string>();
    const messages = Object.entries(this.descriptor.messages);
    for (const [name, desc] of messages) {
      if (desc.fields.some((fd) => isJsonDefaulted(fd))) reaching.add(name);
    }
    for (let changed = true; changed; ) {
      changed = false;
      for (const [name, desc] of messages) {
        if (reaching.has(name)) continue;
        if (desc.fields.some((fd) => reaching.has(fd.type))) {
          reaching.add(name);
          changed = true;
        }
      }
    }
    this.reaching = reaching;
    return reaching;
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
      defaulted: fields.filter((f) => f.jsonDefault !== undefined),
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
    const defaultValue = defaultValueOf(fd, kind);
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
      defaultValue,
      deprecated: fd.deprecated === true,
      jsonDefault: isJsonDefaulted(fd) ? jsonDefaultOf(kind, defaultValue) : undefined,
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

/**
 * True when Mesos' JSON writer shows the field unset: a singular field with
 * a declared default that is not deprecated (stout's rule; labels other than
 * repeated do not matter to it).
 */
function isJsonDefaulted(fd: FieldDescriptor): boolean {
  return (
    fd.default !== undefined &&
    fd.deprecated !== true &&
    fd.label !== "repeated" &&
    fd.label !== "map"
  );
}

function jsonDefaultOf(kind: Kind, value: unknown): JsonValue {
  if (value instanceof Uint8Array) return encodeBase64(value);
  if ((kind === Kind.DOUBLE || kind === Kind.FLOAT) && typeof value === "number") {
    if (Number.isFinite(value)) return value;
    return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
  }
  return value as JsonValue;
}
