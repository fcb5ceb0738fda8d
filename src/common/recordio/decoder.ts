/**
 * Incremental RecordIO decoder. Chunk boundaries may fall anywhere (proxies
 * re-chunk streams freely). Memory is bounded: a record over
 * `maxRecordSize` is refused as soon as its length prefix says so, and a
 * length prefix may not exceed 20 digits (a uint64). Any malformed input
 * puts the decoder in a failed state: the stream cannot be resynchronised.
 */
import { RecordIoError } from "./recordio-error.js";

/** Default limit on one record: 16 MiB. */
export const DEFAULT_MAX_RECORD_SIZE = 16 * 1024 * 1024;

/** Most digits a length prefix may have (the length is a uint64). */
export const MAX_LENGTH_DIGITS = 20;

export interface RecordIoDecoderOptions {
  /** Largest record accepted, in bytes (default 16 MiB). */
  readonly maxRecordSize?: number;
}

const NEWLINE = 0x0a;
const ZERO = 0x30;
const NINE = 0x39;

export class RecordIoDecoder {
  readonly maxRecordSize: number;
  private inHeader = true;
  private digits = 0;
  private length = 0;
  private parts: Buffer[] = [];
  private have = 0;
  private failure: RecordIoError | undefined;

  constructor(options: RecordIoDecoderOptions = {}) {
    this.maxRecordSize = options.maxRecordSize ?? DEFAULT_MAX_RECORD_SIZE;
    if (!Number.isSafeInteger(this.maxRecordSize) || this.maxRecordSize < 0) {
      throw new RangeError("maxRecordSize must be a non-negative safe integer");
    }
  }

  /**
   * Feeds one chunk; returns the records it completes (possibly none).
   * Records that lie wholly inside `chunk` are views of it, not copies.
   * Throws `RecordIoError` on malformed input, then on every later call.
   */
  decode(chunk: Uint8Array | string): Buffer[] {
    if (this.failure !== undefined) throw this.failure;
    const buf =
      typeof chunk === "string"
        ? Buffer.from(chunk, "utf8")
        : Buffer.isBuffer(chunk)
          ? chunk
          : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const records: Buffer[] = [];
    let pos = 0;
    const end = buf.length;
    while (pos < end) {
      if (this.inHeader) {
        const b = buf[pos++] as number;
        if (b === NEWLINE) {
          if (this.digits === 0) this.fail("empty record length");
          this.inHeader = false;
          this.digits = 0;
          if (this.length === 0) {
            records.push(Buffer.alloc(0));
            this.inHeader = true;
          }
          continue;
        }
        if (b < ZERO || b > NINE) {
          this.fail(
            `invalid record length: byte 0x${b.toString(16).padStart(2, "0")} is not a digit`,
          );
        }
        if (++this.digits > MAX_LENGTH_DIGITS) {
          this.fail(`record length prefix longer than ${MAX_LENGTH_DIGITS} digits`);
        }
        this.length = this.length * 10 + (b - ZERO);
        if (this.length > this.maxRecordSize) {
          this.fail(`record exceeds the limit of ${this.maxRecordSize} bytes`);
        }
        continue;
      }
      // Inside a record body.
      const need = this.length - this.have;
      const available = end - pos;
      if (this.have === 0 && available >= need) {
        records.push(buf.subarray(pos, pos + need));
        pos += need;
        this.finishRecord();
      } else if (available >= need) {
        this.parts.push(buf.subarray(pos, pos + need));
        pos += need;
        records.push(Buffer.concat(this.parts, this.length));
        this.finishRecord();
      } else {
        // Keep a copy: the caller may reuse its chunk buffer.
        this.parts.push(Buffer.from(buf.subarray(pos, end)));
        this.have += available;
        pos = end;
      }
    }
    return records;
  }

  /** Declares the end of the stream; throws if it stopped inside a record or a length prefix. */
  end(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.inHeader && this.digits > 0) this.fail("stream ended inside a record length");
    if (!this.inHeader) {
      this.fail(`stream ended inside a record (${this.have} of ${this.length} bytes)`);
    }
  }

  /** True when the decoder is between records (a clean place for the stream to end). */
  get idle(): boolean {
    return this.failure === undefined && this.inHeader && this.digits === 0;
  }

  private finishRecord(): void {
    this.inHeader = true;
    this.length = 0;
    this.have = 0;
    this.parts = [];
  }

  private fail(message: string): never {
    this.failure = new RecordIoError(message);
    throw this.failure;
  }
}
