/**
 * A gzip body made of separately compressed parts. Big documents (the
 * master's `/state`, GET_STATE) are lists of cached Buffers, most of them
 * the same objects from one version of the document to the next; each
 * part is compressed once, as a run of non-final deflate blocks that ends
 * on a byte boundary (a sync flush), and kept beside its Buffer. A body is
 * then the gzip header, the parts' compressed bytes in order, a final empty
 * block, and the CRC and length of the whole, the CRC combined from the
 * parts' own. Compressing a part alone costs a little ratio (no matches
 * across parts); rebuilding a 100 MB document after a few tasks changed
 * then compresses only the few parts that are new.
 */
import { constants, crc32, deflateRawSync, type ZlibOptions } from "node:zlib";
import { crc32Append, shiftFor } from "../io/crc32-combine.js";
import { GZIP_LEVEL } from "./content-encoding.js";

/** A part's deflate blocks and what the trailer needs of it. */
interface DeflatedPart {
  readonly bytes: Buffer;
  readonly crc: number;
  /** x^(8 * length) for combining CRCs (see crc32-combine.ts). */
  readonly shift: number;
  readonly length: number;
}

/** ID1 ID2, deflate, no flags, no mtime, no extra flags, OS unix. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
/** A final, empty block with fixed codes: ends the deflate stream. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);

/** Where an encoding pauses: a budget check and a turn of the event loop. */
export interface EncodePacing {
  /** True when the current stretch has run long enough. */
  readonly due: boolean;
  /** Waits for the next turn. */
  pause(): Promise<void>;
}

/** Compressed forms of parts, kept as long as the parts themselves. */
export class GzipPartCache {
  private readonly cache = new WeakMap<Uint8Array, DeflatedPart>();
  private readonly smallParts = new Map<string, DeflatedPart>();
  /** Input bytes compressed so far (not served from the cache), for tests and benchmarks. */
  deflatedBytes = 0;

  constructor(private readonly level = GZIP_LEVEL) {}

  /**
   * The gzip encoding of the parts' concatenation, as parts. Strings
   * (small wrappers such as a JSONP callback) are compressed each time;
   * byte parts once.
   */
  async encode(parts: readonly (string | Uint8Array)[], pacing?: EncodePacing): Promise<Buffer[]> {
    const out: Buffer[] = [GZIP_HEADER];
    let crc = 0;
    let length = 0;
    for (const part of parts) {
      const deflated = this.deflated(part);
      if (deflated.length === 0) continue;
      out.push(deflated.bytes);
      crc = crc32Append(crc, deflated.crc, deflated.shift);
      length += deflated.length;
      if (pacing?.due) await pacing.pause();
    }
    const trailer = Buffer.allocUnsafe(FINAL_BLOCK.length + 8);
    FINAL_BLOCK.copy(trailer, 0);
    trailer.writeUInt32LE(crc >>> 0, FINAL_BLOCK.length);
    // ISIZE is the length modulo 2^32.
    trailer.writeUInt32LE(length % 0x1_0000_0000, FINAL_BLOCK.length + 4);
    out.push(trailer);
    return out;
  }

  private deflated(part: string | Uint8Array): DeflatedPart {
    if (typeof part !== "string") {
      const cached = this.cache.get(part);
      if (cached !== undefined) return cached;
    }
    const bytes = typeof part === "string" ? Buffer.from(part, "utf8") : part;
    // Small parts are mostly the glue between cached runs (`,"tasks":[`),
    // new Buffers at every build but the same few texts: keyed by content.
    const small = bytes.byteLength < SMALL_PART;
    const key = small
      ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1")
      : "";
    let deflated = small ? this.smallParts.get(key) : undefined;
    if (deflated === undefined) {
      deflated = this.compress(bytes);
      if (small) {
        if (this.smallParts.size >= MAX_SMALL_PARTS) this.smallParts.clear();
        this.smallParts.set(key, deflated);
      }
    }
    if (typeof part !== "string") this.cache.set(part, deflated);
    return deflated;
  }

  private compress(bytes: Uint8Array): DeflatedPart {
    this.deflatedBytes += bytes.byteLength;
    const n = bytes.byteLength;
    return {
      bytes: n < TINY_PART ? storedBlock(bytes) : deflateRawSync(bytes, this.optionsFor(n)),
      crc: crc32(bytes),
      shift: shiftFor(n),
      length: n,
    };
  }

  /**
   * zlib's setup (allocating and clearing its window and hash tables)
   * costs more than compressing a short part: the window and hash are
   * sized to the part (any inflater reads the result).
   */
  private optionsFor(bytes: number): ZlibOptions {
    const bits = Math.ceil(Math.log2(bytes + 1));
    return {
      level: this.level,
      windowBits: Math.min(15, Math.max(9, bits)),
      memLevel: Math.min(8, Math.max(1, bits - 7)),
      finishFlush: constants.Z_SYNC_FLUSH,
    };
  }
}

/** Parts shorter than this are looked up by content. */
const SMALL_PART = 1024;
/** Distinct small parts kept (the glue of a document is a few dozen texts). */
const MAX_SMALL_PARTS = 4096;
/** Parts shorter than this are stored, not compressed (a deflate call would cost more than it saves). */
const TINY_PART = 64;

/** `bytes` as one non-final stored block (after a byte-aligned block end; at most 65,535 bytes). */
function storedBlock(bytes: Uint8Array): Buffer {
  const n = bytes.byteLength;
  if (n === 0) return Buffer.alloc(0);
  const out = Buffer.allocUnsafe(5 + n);
  // BFINAL 0, BTYPE 00, padded to the byte: one zero byte. Then LEN and NLEN.
  out[0] = 0;
  out.writeUInt16LE(n, 1);
  out.writeUInt16LE(~n & 0xffff, 3);
  out.set(bytes, 5);
  return out;
}
