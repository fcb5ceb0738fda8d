/**
 * Writer of protobuf wire primitives into one growable buffer.
 *
 * Nested messages are written in place: the writer reserves one byte for the
 * length, writes the body, and shifts the body right only when the length
 * needs more than one byte. Bodies under 128 bytes (most Mesos messages)
 * never move.
 */

const TWO_32 = 4294967296;
const TWO_63 = 2 ** 63;
const TWO_64 = 2 ** 64;
const INITIAL_SIZE = 1024;

export class WireWriter {
  buf: Buffer;
  pos = 0;

  constructor(size = INITIAL_SIZE) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Starts a fresh message, keeping the allocated buffer. */
  reset(): void {
    this.pos = 0;
  }

  /** A copy of the bytes written so far. */
  finish(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }

  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** An unsigned varint of up to 32 bits (also used for keys). */
  uint32(v: number): void {
    this.ensure(5);
    const buf = this.buf;
    let pos = this.pos;
    let n = v >>> 0;
    while (n > 127) {
      buf[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[pos++] = n;
    this.pos = pos;
  }

  /** An int32 varint: negatives are sign-extended to ten bytes, as protobuf requires. */
  int32(v: number): void {
    if (v >= 0) this.uint32(v);
    else this.varint64(v >>> 0, 0xffffffff);
  }

  sint32(v: number): void {
    this.uint32(((v << 1) ^ (v >> 31)) >>> 0);
  }

  /** A varint from its low and high 32-bit halves (both unsigned). */
  varint64(lo: number, hi: number): void {
    this.ensure(10);
    const buf = this.buf;
    let pos = this.pos;
    let l = lo >>> 0;
    let h = hi >>> 0;
    while (h !== 0 || l > 127) {
      buf[pos++] = (l & 0x7f) | 0x80;
      l = ((l >>> 7) | (h << 25)) >>> 0;
      h >>>= 7;
    }
    buf[pos++] = l;
    this.pos = pos;
  }

  int64(v: number): void {
    split64(v, true);
    this.varint64(splitLo, splitHi);
  }

  uint64(v: number): void {
    split64(v, false);
    this.varint64(splitLo, splitHi);
  }

  sint64(v: number): void {
    split64(v, true);
    // Zig-zag over 64 bits: (n << 1) ^ (n >> 63).
    const sign = splitHi >> 31;
    const lo = ((splitLo << 1) ^ sign) >>> 0;
    const hi = (((splitHi << 1) | (splitLo >>> 31)) ^ sign) >>> 0;
    this.varint64(lo, hi);
  }

  bool(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }

  fixed32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }

  sfixed32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32LE(v | 0, this.pos);
    this.pos += 4;
  }

  fixed64(v: number): void {
    split64(v, false);
    this.raw64();
  }

  sfixed64(v: number): void {
    split64(v, true);
    this.raw64();
  }

  float(v: number): void {
    this.ensure(4);
    this.buf.writeFloatLE(v, this.pos);
    this.pos += 4;
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  string(s: string): void {
    const len = s.length;
    // Up to 42 UTF-16 units need at most 126 bytes: a one-byte length suffices.
    if (len < 43) {
      this.ensure(1 + len * 3);
      const start = this.pos + 1;
      const n = len === 0 ? 0 : this.buf.write(s, start, "utf8");
      this.buf[this.pos] = n;
      this.pos = start + n;
      return;
    }
    const n = Buffer.byteLength(s, "utf8");
    this.uint32(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, "utf8");
  }

  bytes(b: Uint8Array): void {
    const n = b.length;
    this.uint32(n);
    this.ensure(n);
    this.buf.set(b, this.pos);
    this.pos += n;
  }

  /** Reserves a one-byte length; returns the body start for `endLength`. */
  beginLength(): number {
    this.ensure(1);
    this.pos += 1;
    return this.pos;
  }

  /** Writes the length of the body started at `start`, moving the body if needed. */
  endLength(start: number): void {
    const len = this.pos - start;
    if (len < 128) {
      this.buf[start - 1] = len;
      return;
    }
    const extra = varintSize(len) - 1;
    this.ensure(extra);
    this.buf.copyWithin(start + extra, start, this.pos);
    let pos = start - 1;
    let n = len;
    while (n > 127) {
      this.buf[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buf[pos] = n;
    this.pos += extra;
  }

  private raw64(): void {
    this.ensure(8);
    this.buf.writeUInt32LE(splitLo, this.pos);
    this.buf.writeUInt32LE(splitHi, this.pos + 4);
    this.pos += 8;
  }
}

function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  return 5;
}

// Results of `split64`, kept in module state to avoid allocating a pair.
let splitLo = 0;
let splitHi = 0;

/**
 * Splits an integral number into unsigned 32-bit halves of its 64-bit
 * two's-complement form. Values beyond the 64-bit range saturate (a JSON
 * number parsed from 9223372036854775807 rounds to 2^63 and must still
 * encode as the maximum int64).
 */
function split64(v: number, signed: boolean): void {
  if (signed) {
    if (v >= TWO_63) {
      splitLo = 0xffffffff;
      splitHi = 0x7fffffff;
      return;
    }
    if (v <= -TWO_63) {
      splitLo = 0;
      splitHi = 0x80000000;
      return;
    }
  } else if (v >= TWO_64) {
    splitLo = 0xffffffff;
    splitHi = 0xffffffff;
    return;
  }
  const neg = v < 0;
  const a = neg ? -v : v;
  let hi = Math.floor(a / TWO_32);
  let lo = a - hi * TWO_32;
  if (neg) {
    // Two's complement of (hi, lo).
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
  }
  splitLo = lo >>> 0;
  splitHi = hi >>> 0;
}
