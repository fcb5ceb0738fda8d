import { randomBytes, randomUUID } from "node:crypto";

/** Source of ids and randomness, injectable so tests are repeatable. */
export interface RandomSource {
  /** A random RFC 4122 version-4 UUID in canonical text form. */
  uuid(): string;
  /** A float in [0, 1). */
  next(): number;
  /** `n` random bytes. */
  bytes(n: number): Uint8Array;
}

export const systemRandom: RandomSource = {
  uuid: () => randomUUID(),
  next: () => Math.random(),
  bytes: (n) => randomBytes(n),
};

/** Deterministic generator (mulberry32) for tests and benchmarks. */
export function seededRandom(seed: number): RandomSource {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const bytes = (n: number): Uint8Array => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(next() * 256);
    return out;
  };
  return {
    next,
    bytes,
    uuid: () => {
      const b = bytes(16);
      b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
      b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
      const h = Buffer.from(b).toString("hex");
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    },
  };
}
