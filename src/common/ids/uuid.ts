/**
 * UUIDs as Mesos uses them: random version-4 UUIDs, carried as text (master,
 * container and stream ids) or as 16 raw bytes (status update and operation
 * uuids, `bytes` fields on the wire; base64 in JSON).
 */
import type { RandomSource } from "../time/random.js";

const UUID_TEXT = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** A fresh random UUID as 16 raw bytes. */
export function newUuidBytes(random: RandomSource): Buffer {
  return uuidTextToBytes(random.uuid()) as Buffer;
}

/** True for canonical 8-4-4-4-12 hex text. */
export function isUuidText(text: string): boolean {
  return UUID_TEXT.test(text);
}

/** The 16 bytes of a UUID in canonical text form, or undefined if `text` is not one. */
export function uuidTextToBytes(text: string): Buffer | undefined {
  if (!UUID_TEXT.test(text)) return undefined;
  return Buffer.from(text.replace(/-/g, ""), "hex");
}

/** Canonical lower-case text of 16 UUID bytes, or undefined if there are not exactly 16. */
export function uuidBytesToText(bytes: Uint8Array): string | undefined {
  if (bytes.length !== 16) return undefined;
  const h = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
