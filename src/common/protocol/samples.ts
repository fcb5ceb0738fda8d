/**
 * Schema-driven sample messages for tests and benchmarks: every field filled
 * with a valid value (one member per oneof; recursion cut off by depth), from
 * an injected random source so samples are repeatable.
 *
 * Values are chosen to survive both wire formats exactly: 64-bit integers
 * stay within 2^53, floats are float32-representable, enum names are the
 * first name for their number, no -0.
 */
import type { RandomSource } from "../time/random.js";
import { type FieldTable, Kind, Label, type MessageTable, type Schema } from "./schema.js";

export interface SampleOptions {
  readonly random: RandomSource;
  /** Beyond this nesting depth only required fields are filled (default 4). */
  readonly maxDepth?: number;
  /** Elements per repeated field and entries per map (default 2). */
  readonly repeat?: number;
}

/** A sample message of type `fullName` in in-memory form. */
export function sampleMessage(
  schema: Schema,
  fullName: string,
  options: SampleOptions,
): Record<string, unknown> {
  return fill(schema.message(fullName), options, 0);
}

function fill(table: MessageTable, o: SampleOptions, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const maxDepth = o.maxDepth ?? 4;
  const repeat = o.repeat ?? 2;
  const chosenOneof = table.oneofs.map((oneof) => {
    const i = Math.floor(o.random.next() * oneof.fields.length);
    return oneof.fields[i];
  });
  for (const f of table.fields) {
    if (f.oneofIndex >= 0 && chosenOneof[f.oneofIndex] !== f) continue;
    const deep = depth >= maxDepth;
    if (deep && f.label !== Label.REQUIRED) continue;
    if (f.label === Label.REPEATED) {
      const n = f.kind === Kind.MESSAGE && depth >= maxDepth - 1 ? 1 : repeat;
      out[f.name] = Array.from({ length: n }, () => value(f, f.kind, o, depth));
    } else if (f.label === Label.MAP) {
      const map: Record<string, unknown> = {};
      for (let i = 0; i < repeat; i++) map[mapKey(f.keyKind, i, o)] = value(f, f.kind, o, depth);
      out[f.name] = map;
    } else {
      out[f.name] = value(f, f.kind, o, depth);
    }
  }
  return out;
}

function mapKey(kind: Kind, i: number, o: SampleOptions): string {
  switch (kind) {
    case Kind.STRING:
      return `key-${i}-${word(o)}`;
    case Kind.BOOL:
      return i % 2 === 0 ? "true" : "false";
    default:
      return String(i + 1);
  }
}

function int(o: SampleOptions, min: number, max: number): number {
  return min + Math.floor(o.random.next() * (max - min + 1));
}

const WORDS = ["alpha", "beta", "gamma", "delta", "épsilon", "ζeta", "eta ✓", "theta/1"];

function word(o: SampleOptions): string {
  return WORDS[int(o, 0, WORDS.length - 1)] as string;
}

function value(f: FieldTable, kind: Kind, o: SampleOptions, depth: number): unknown {
  switch (kind) {
    case Kind.MESSAGE:
      return fill(f.messageTable, o, depth + 1);
    case Kind.ENUM: {
      const names = [...(f.enumTable?.byNumber.values() ?? [])];
      return names[int(o, 0, names.length - 1)];
    }
    case Kind.STRING:
      return `${f.name}-${word(o)}`;
    case Kind.BYTES:
      return Buffer.from(o.random.bytes(int(o, 0, 12)));
    case Kind.BOOL:
      return o.random.next() < 0.5;
    case Kind.DOUBLE:
      return int(o, -1_000_000, 1_000_000) / 8 + 0.5;
    case Kind.FLOAT:
      return Math.fround(int(o, -10_000, 10_000) / 16 + 0.25);
    case Kind.INT32:
    case Kind.SINT32:
    case Kind.SFIXED32:
      return int(o, -2_000_000_000, 2_000_000_000);
    case Kind.UINT32:
    case Kind.FIXED32:
      return int(o, 0, 4_000_000_000);
    case Kind.INT64:
    case Kind.SINT64:
    case Kind.SFIXED64:
      return int(o, -(2 ** 52), 2 ** 52);
    default:
      // UINT64, FIXED64
      return int(o, 0, 2 ** 53 - 1);
  }
}
