/**
 * Codecs: one per message type, converting between the in-memory form
 * (plain objects, proto field names, enum names, numbers, Uint8Array bytes)
 * and Mesos JSON or protobuf binary. Decoding never throws: bad input is a
 * `DecodeError` value. Encoding throws a `TypeError` only when handed an
 * object that does not fit the schema (a bug in the caller).
 */
import { oneLine } from "../errors/one-line.js";
import { DecodeError, WalkFailure } from "./decode-error.js";
import { decodeJsonMessage } from "./json-decode.js";
import { encodeJsonMessage, fillJsonDefaults } from "./json-encode.js";
import type { JsonObject } from "./json-value.js";
import { decodeProtobufInto } from "./protobuf-decode.js";
import { encodeProtobufMessage } from "./protobuf-encode.js";
import { err, ok, type Result } from "./result.js";
import type { MessageTable, Schema } from "./schema.js";
import { WireReader } from "./wire-reader.js";
import { WireWriter } from "./wire-writer.js";

/** Options for JSON output. */
export interface JsonEncodeOptions {
  /**
   * Write unset singular fields that declare a `[default = ...]` (and are
   * not deprecated) with their default, as Mesos' own JSON writer does. On
   * by default; `false` writes set fields only.
   */
  readonly withDefaults?: boolean;
}

/** Encoder/decoder for one message type. */
export interface Codec<T> {
  /** Full type name, e.g. `mesos.v1.scheduler.Call`. */
  readonly typeName: string;
  /**
   * Decodes Mesos JSON: `input` is JSON text (string or UTF-8 bytes) or an
   * already parsed value.
   */
  decodeJson(input: unknown): Result<T, DecodeError>;
  /** The message as JSON text. */
  encodeJson(message: T, options?: JsonEncodeOptions): string;
  /** The message as a plain JSON value (what `encodeJson` stringifies). */
  toJsonValue(message: T, options?: JsonEncodeOptions): JsonObject;
  /**
   * The message with the defaults that Mesos JSON shows filled in where
   * unset (copying only what changes; the message itself when nothing is
   * missing): for fast paths that `JSON.stringify` in-memory messages.
   */
  withJsonDefaults(message: T): T;
  /** Decodes protobuf binary. */
  decodeProtobuf(bytes: Uint8Array): Result<T, DecodeError>;
  /** The message as protobuf binary (a fresh Buffer). */
  encodeProtobuf(message: T): Buffer;
  /** The declared `[default = ...]` of a field, or undefined (proto2 defaults are not materialised). */
  fieldDefault(fieldName: string): unknown;
}

/** One writer shared by all encodes: encoding is synchronous, so never re-entered. */
let sharedWriter = new WireWriter();
const MAX_RETAINED_WRITER = 1 << 20;

/** Builds a codec for `fullName` in `schema` (most code wants `codecFor`). */
export function createCodec<T>(schema: Schema, fullName: string): Codec<T> {
  const table: MessageTable = schema.message(fullName);

  const jsonFailure = (e: unknown): DecodeError => {
    if (e instanceof WalkFailure) {
      return new DecodeError(fullName, "json", e.path(), e.reason, e.stout);
    }
    if (e instanceof RangeError)
      return new DecodeError(fullName, "json", "", "message nesting too deep");
    throw e;
  };

  const typeFailure = (e: unknown, format: string): never => {
    if (e instanceof WalkFailure) {
      const path = e.path();
      throw new TypeError(
        `cannot encode ${fullName} as ${format}: ${path === "" ? "" : `${path}: `}${e.reason}`,
      );
    }
    throw e;
  };

  return {
    typeName: fullName,

    decodeJson(input: unknown): Result<T, DecodeError> {
      let value = input;
      if (typeof input === "string" || input instanceof Uint8Array) {
        const text =
          typeof input === "string"
            ? input
            : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString("utf8");
        try {
          value = JSON.parse(text);
        } catch (e) {
          // The parser quotes the input near the error.
          const reason = oneLine(e instanceof Error ? e.message : String(e));
          return err(new DecodeError(fullName, "json", "", `malformed JSON: ${reason}`));
        }
      }
      try {
        return ok(decodeJsonMessage(table, value, 0) as T);
      } catch (e) {
        return err(jsonFailure(e));
      }
    },

    toJsonValue(message: T, options?: JsonEncodeOptions): JsonObject {
      try {
        return encodeJsonMessage(
          table,
          message as Record<string, unknown>,
          options?.withDefaults !== false,
        );
      } catch (e) {
        return typeFailure(e, "JSON");
      }
    },

    withJsonDefaults(message: T): T {
      return fillJsonDefaults(schema, fullName, message as Record<string, unknown>) as T;
    },

    encodeJson(message: T, options?: JsonEncodeOptions): string {
      return JSON.stringify(this.toJsonValue(message, options));
    },

    decodeProtobuf(bytes: Uint8Array): Result<T, DecodeError> {
      if (!(bytes instanceof Uint8Array)) {
        return err(new DecodeError(fullName, "protobuf", "", "expected bytes"));
      }
      try {
        const reader = new WireReader(bytes);
        return ok(decodeProtobufInto(table, reader, {}, 0) as T);
      } catch (e) {
        if (e instanceof WalkFailure) {
          return err(new DecodeError(fullName, "protobuf", e.path(), e.reason));
        }
        if (e instanceof RangeError) {
          return err(
            new DecodeError(fullName, "protobuf", "", "truncated or malformed protobuf input"),
          );
        }
        throw e;
      }
    },

    encodeProtobuf(message: T): Buffer {
      const w = sharedWriter;
      w.reset();
      try {
        encodeProtobufMessage(table, message as Record<string, unknown>, w);
      } catch (e) {
        return typeFailure(e, "protobuf");
      }
      const out = w.finish();
      if (w.buf.length > MAX_RETAINED_WRITER) sharedWriter = new WireWriter();
      return out;
    },

    fieldDefault(fieldName: string): unknown {
      const f = table.byName.get(fieldName);
      if (f === undefined) throw new Error(`${fullName} has no field '${fieldName}'`);
      return f.defaultValue;
    },
  };
}
