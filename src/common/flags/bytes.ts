/**
 * A byte count with Mesos' (stout's) text form: a whole number and one of
 * `B KB MB GB TB` (powers of 1024, unit case-insensitive): `512MB`, `4KB`.
 */
import type { Parsed } from "./duration.js";

const UNITS = {
  B: 1,
  KB: 1024,
  MB: 1024 ** 2,
  GB: 1024 ** 3,
  TB: 1024 ** 4,
} as const;

export type BytesUnit = keyof typeof UNITS;

/** Immutable, non-negative byte count. */
export class Bytes {
  readonly bytes: number;

  private constructor(bytes: number) {
    this.bytes = bytes;
  }

  static of(count: number, unit: BytesUnit = "B"): Bytes {
    if (!Number.isInteger(count) || count < 0) {
      throw new Error(`bad byte count ${count}`);
    }
    return new Bytes(count * UNITS[unit]);
  }

  /** Parses stout's syntax; errors use stout's wording. */
  static parse(text: string): Parsed<Bytes> {
    let index = 0;
    while (index < text.length) {
      const c = text.charCodeAt(index);
      if (c >= 48 && c <= 57) {
        index++;
        continue;
      }
      if (c === 46) return { ok: false, error: `Fractional bytes '${text}'` };
      const numberText = text.slice(0, index);
      if (numberText === "") {
        return { ok: false, error: `Failed to convert '${numberText}' to number` };
      }
      const unit = text.slice(index).toUpperCase();
      if (!Object.hasOwn(UNITS, unit)) {
        return { ok: false, error: `Unknown bytes unit '${unit}'` };
      }
      const bytes = Number(numberText) * UNITS[unit as BytesUnit];
      // Beyond 2^53 a JS number no longer counts single bytes; refuse rather than round.
      if (!Number.isSafeInteger(bytes)) {
        return { ok: false, error: `Failed to convert '${text}' to number` };
      }
      return { ok: true, value: new Bytes(bytes) };
    }
    return { ok: false, error: `Invalid bytes '${text}'` };
  }

  toUnit(unit: BytesUnit): number {
    return this.bytes / UNITS[unit];
  }
  /** Mebibytes, the unit Mesos uses for `mem` and `disk` resources. */
  toMB(): number {
    return this.bytes / UNITS.MB;
  }

  plus(other: Bytes): Bytes {
    return new Bytes(this.bytes + other.bytes);
  }
  equals(other: Bytes): boolean {
    return this.bytes === other.bytes;
  }

  /** The largest unit that loses nothing: `0B`, `1000B`, `4KB`, `512MB`, `2GB`. */
  toString(): string {
    const n = this.bytes;
    if (n === 0) return "0B";
    if (n % UNITS.KB !== 0) return `${n}B`;
    if (n % UNITS.MB !== 0) return `${n / UNITS.KB}KB`;
    if (n % UNITS.GB !== 0) return `${n / UNITS.MB}MB`;
    if (n % UNITS.TB !== 0) return `${n / UNITS.GB}GB`;
    return `${n / UNITS.TB}TB`;
  }

  toJSON(): string {
    return this.toString();
  }
}
