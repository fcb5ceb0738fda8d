/**
 * Splits a RecordIO byte stream (`<length>\n<bytes>` repeated, the framing of
 * Mesos' v1 event streams) into records, across arbitrary chunk borders.
 */
export class RecordIoReader {
  private buffer = new Uint8Array(0);
  private readonly decoder = new TextDecoder();

  /** Feeds a chunk; returns the complete records it finished, decoded as UTF-8. */
  push(chunk: Uint8Array): string[] {
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer, 0);
    joined.set(chunk, this.buffer.length);
    const records: string[] = [];
    let at = 0;
    for (;;) {
      const newline = joined.indexOf(10, at);
      if (newline < 0) break;
      const header = this.decoder.decode(joined.subarray(at, newline)).trim();
      const length = Number(header);
      if (header === "" || !Number.isInteger(length) || length < 0) {
        throw new Error(`bad RecordIO header '${header.slice(0, 20)}'`);
      }
      if (joined.length < newline + 1 + length) break;
      records.push(this.decoder.decode(joined.subarray(newline + 1, newline + 1 + length)));
      at = newline + 1 + length;
    }
    this.buffer = joined.slice(at);
    return records;
  }
}
