/**
 * Wire protocol: codecs for every message of the schema in proto/, and the
 * generated TypeScript types.
 *
 *   import { codecFor } from "../common/protocol/index.js";
 *   import type { Call } from "../common/protocol/generated/mesos-v1-scheduler.js";
 *   const call = codecFor("mesos.v1.scheduler.Call").decodeJson(body);
 */
import { type Codec, createCodec } from "./codec.js";
import { defaultSchema } from "./default-schema.js";
import type { MessageTypeMap, MessageTypeName } from "./generated/index.js";

export type { Codec, JsonEncodeOptions } from "./codec.js";
export { createCodec } from "./codec.js";
export { DecodeError, type WireFormat } from "./decode-error.js";
export { defaultSchema } from "./default-schema.js";
export type { EnumTypeMap, MessageTypeMap, MessageTypeName } from "./generated/index.js";
export type { JsonObject, JsonValue } from "./json-value.js";
export { err, ok, type Result } from "./result.js";
export { Schema } from "./schema.js";

const codecs = new Map<string, Codec<unknown>>();

/**
 * The codec for a message type of the schema, by full name
 * (`"mesos.v1.scheduler.Call"`). Codecs are built once and cached. Throws
 * for a name the schema does not define (a programming error).
 */
export function codecFor<K extends MessageTypeName>(fullName: K): Codec<MessageTypeMap[K]>;
export function codecFor<T>(fullName: string): Codec<T>;
export function codecFor<T>(fullName: string): Codec<T> {
  let codec = codecs.get(fullName);
  if (codec === undefined) {
    codec = createCodec<unknown>(defaultSchema(), fullName);
    codecs.set(fullName, codec);
  }
  return codec as Codec<T>;
}

/** The declared `[default = ...]` of `field` in message `fullName`, or undefined. */
export function fieldDefault(fullName: string, field: string): unknown {
  return codecFor(fullName).fieldDefault(field);
}
