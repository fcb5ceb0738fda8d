/**
 * Status update UUIDs: 16 random bytes in RFC 4122 version-4 form, carried
 * base64-encoded in JSON (`TaskStatus.uuid` is a protobuf `bytes` field).
 *
 * The bytes come from /dev/urandom (the kernel CSPRNG that node:crypto
 * also draws on) because loading node:crypto costs the command executor
 * about 10 ms of start-up; see docs/architecture/command-executor.md.
 */
import { closeSync, openSync, readSync } from "node:fs";

/** `n` bytes from the kernel's random source. */
export function kernelRandomBytes(n: number): Uint8Array {
  const out = Buffer.alloc(n);
  const fd = openSync("/dev/urandom", "r");
  try {
    let got = 0;
    while (got < n) got += readSync(fd, out, got, n - got, null);
  } finally {
    closeSync(fd);
  }
  return out;
}

/** A fresh random UUID as the base64 of its 16 raw bytes. */
export function newStatusUuid(random: (n: number) => Uint8Array = kernelRandomBytes): string {
  const b = Buffer.from(random(16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  return b.toString("base64");
}

/** Canonical base64 of a uuid field (tolerates base64url and missing padding); undefined if not 16 bytes. */
export function normalizeUuid(encoded: string): string | undefined {
  const bytes = Buffer.from(encoded, "base64");
  return bytes.length === 16 ? bytes.toString("base64") : undefined;
}

/** Text form (`xxxxxxxx-xxxx-...`) of a base64 uuid, for log lines. */
export function uuidText(encoded: string): string {
  const h = Buffer.from(encoded, "base64").toString("hex");
  if (h.length !== 32) return encoded;
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
