/**
 * SCRATCH: stand-in for src/common/recordio until it lands; to be deleted.
 * RecordIO framing: "<decimal length>\n<length bytes>", repeated.
 */

/** Incremental RecordIO decoder. */
export class RecordIoDecoder {
  private buffered: Buffer = Buffer.alloc(0);

  /** Feeds bytes; returns every complete record. Throws on a malformed header. */
  decode(chunk: Uint8Array): Uint8Array[] {
    this.buffered =
      this.buffered.length === 0
        ? Buffer.from(chunk)
        : Buffer.concat([this.buffered, Buffer.from(chunk)]);
    const out: Uint8Array[] = [];
    for (;;) {
      const nl = this.buffered.indexOf(10);
      if (nl < 0) {
        if (this.buffered.length > 20) throw new Error("RecordIO header too long");
        break;
      }
      const header = this.buffered.subarray(0, nl).toString("latin1");
      if (!/^\d{1,20}$/.test(header)) throw new Error(`bad RecordIO header '${header}'`);
      const length = Number(header);
      if (this.buffered.length < nl + 1 + length) break;
      out.push(this.buffered.subarray(nl + 1, nl + 1 + length));
      this.buffered = this.buffered.subarray(nl + 1 + length);
    }
    return out;
  }
}

/** Encodes one record. */
export function encodeRecord(data: string | Uint8Array): Buffer {
  const body = typeof data === "string" ? Buffer.from(data) : Buffer.from(data);
  return Buffer.concat([Buffer.from(`${body.length}\n`), body]);
}
