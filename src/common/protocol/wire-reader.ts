/**
 * Bounds-checked reader of protobuf wire primitives. Every read past the end
 * or malformed varint throws a `WalkFailure`, which the codec turns into a
 * `DecodeError`; nothing here trusts the input.
 */
import { WalkFailure } from "./decode-error.js";

const TWO_32 = 4294967296;

export class WireReader {
  readonly buf: Buffer;
  pos: number;
  /** End of the current message (moved in and out for nested messages). */
  end: number;
  /** High 32 bits left behind by the last `varint64` read. */
  hi = 0;

  constructor(bytes: Uint8Array) {
    this.buf = Buffer.isBuffer(bytes)
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
    this.end = this.buf.length;
  }

  /** Reads a varint; returns its low 32 bits (unsigned), high bits in `hi`. */
  varint64(): number {
    const buf = this.buf;
    let lo = 0;
    let hi = 0;
    let shift = 0;
    let pos = this.pos;
    const end = this.end;
    let b: number;
    // Bytes 1-4 fill bits 0..27.
    for (; shift < 28; shift += 7) {
      if (pos >= end) throw truncated();
      b = buf[pos++] as number;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        this.hi = 0;
        return lo >>> 0;
      }
    }
    // Byte 5 straddles the 32-bit boundary.
    if (pos >= end) throw truncated();
    b = buf[pos++] as number;
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x7f) >> 4;
    if (b >= 0x80) {
      for (shift = 3; ; shift += 7) {
        if (shift > 31) throw new WalkFailure("malformed varint (more than 10 bytes)");
        if (pos >= end) throw truncated();
        b = buf[pos++] as number;
        hi |= (b & 0x7f) << shift;
        if (b < 0x80) break;
      }
    }
    this.pos = pos;
    this.hi = hi >>> 0;
    return lo >>> 0;
  }

  /** A varint as an unsigned 32-bit value (higher bits dropped, as protobuf does). */
  uint32(): number {
    const buf = this.buf;
    const pos = this.pos;
    // Fast path: a one-byte varint.
    if (pos < this.end) {
      const b = buf[pos] as number;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b;
      }
    }
    return this.varint64();
  }

  int32(): number {
    return this.uint32() | 0;
  }

  sint32(): number {
    const n = this.uint32();
    return (n >>> 1) ^ -(n & 1);
  }

  int64(): number {
    const lo = this.varint64();
    return signed64(lo, this.hi);
  }

  uint64(): number {
    const lo = this.varint64();
    return this.hi * TWO_32 + lo;
  }

  sint64(): number {
    const lo = this.varint64();
    const hi = this.hi;
    // Zig-zag over 64 bits: shift right by one, flip all bits if the low bit was set.
    const sign = lo & 1;
    let l = ((lo >>> 1) | (hi << 31)) >>> 0;
    let h = hi >>> 1;
    if (sign) {
      l = ~l >>> 0;
      h = ~h >>> 0;
    }
    return signed64(l, h);
  }

  bool(): boolean {
    const lo = this.varint64();
    return lo !== 0 || this.hi !== 0;
  }

  fixed32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  sfixed32(): number {
    this.need(4);
    const v = this.buf.readInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  fixed64(): number {
    this.need(8);
    const lo = this.buf.readUInt32LE(this.pos);
    const hi = this.buf.readUInt32LE(this.pos + 4);
    this.pos += 8;
    return hi * TWO_32 + lo;
  }

  sfixed64(): number {
    this.need(8);
    const lo = this.buf.readUInt32LE(this.pos);
    const hi = this.buf.readUInt32LE(this.pos + 4);
    this.pos += 8;
    return signed64(lo, hi);
  }

  float(): number {
    this.need(4);
    const v = this.buf.readFloatLE(this.pos);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Reads a length prefix and checks the payload fits in the current message. */
  length(): number {
    const lo = this.varint64();
    if (this.hi !== 0 || lo > this.end - this.pos) throw truncated();
    return lo;
  }

  string(): string {
    const n = this.length();
    const start = this.pos;
    this.pos = start + n;
    return this.buf.toString("utf8", start, start + n);
  }

  /** A copy of a length-delimited payload (the input buffer may be reused by its owner). */
  bytes(): Buffer {
    const n = this.length();
    const start = this.pos;
    this.pos = start + n;
    const out = Buffer.allocUnsafe(n);
    this.buf.copy(out, 0, start, start + n);
    return out;
  }

  /** Skips one field's value of wire type `wireType` (after its key was read). */
  skip(wireType: number, fieldNumber: number, depth: number): void {
    switch (wireType) {
      case 0:
        this.varint64();
        return;
      case 1:
        this.need(8);
        this.pos += 8;
        return;
      case 2: {
        const n = this.length();
        this.pos += n;
        return;
      }
      case 3: {
        // A group: skip fields until the matching end-group key.
        if (depth > MAX_DEPTH) throw new WalkFailure("message nesting too deep");
        for (;;) {
          if (this.pos >= this.end) throw truncated();
          const key = this.uint32();
          const wt = key & 7;
          const fn = key >>> 3;
          if (wt === 4) {
            if (fn !== fieldNumber) throw new WalkFailure("mismatched end-group tag");
            return;
          }
          if (fn === 0) throw new WalkFailure("invalid field number 0");
          this.skip(wt, fn, depth + 1);
        }
      }
      case 5:
        this.need(4);
        this.pos += 4;
        return;
      default:
        throw new WalkFailure(`invalid wire type ${wireType}`);
    }
  }

  private need(n: number): void {
    if (this.end - this.pos < n) throw truncated();
  }
}

/** Deepest message nesting accepted (protobuf's own default recursion limit). */
export const MAX_DEPTH = 100;

function truncated(): WalkFailure {
  return new WalkFailure("truncated or malformed protobuf input");
}

/** Two's-complement (lo, hi) to a number; beyond 2^53 the result is rounded. */
function signed64(lo: number, hi: number): number {
  if (hi & 0x80000000) {
    // Negative: -(~value + 1).
    const nlo = (~lo + 1) >>> 0;
    const nhi = (~hi + (nlo === 0 ? 1 : 0)) >>> 0;
    return -(nhi * TWO_32 + nlo);
  }
  return hi * TWO_32 + lo;
}
