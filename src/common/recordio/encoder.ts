/**
 * RecordIO encoding, as Mesos streams events: each record is its length in
 * bytes as decimal ASCII, a newline, then the bytes
 * (`<length>\n<bytes>`, see docs/recordio.md in Mesos).
 */
import { Transform, type TransformCallback } from "node:stream";

/** The `<length>\n` prefix for a record of `length` bytes. */
export function recordHeader(length: number): Buffer {
  return Buffer.from(`${length}\n`, "latin1");
}

/** One complete record: header and bytes in a single buffer. */
export function encodeRecord(data: Uint8Array | string): Buffer {
  const body = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const header = `${body.length}\n`;
  const out = Buffer.allocUnsafe(header.length + body.length);
  out.write(header, 0, "latin1");
  out.set(body, header.length);
  return out;
}

/**
 * A stream that takes records (Uint8Array or string, one per write) and
 * emits their RecordIO encoding: header and body as separate chunks, so
 * large records are not copied.
 */
export class RecordIoEncoder extends Transform {
  constructor() {
    super({ writableObjectMode: true, readableObjectMode: false });
  }

  override _transform(chunk: unknown, _encoding: BufferEncoding, done: TransformCallback): void {
    let body: Uint8Array;
    if (typeof chunk === "string") body = Buffer.from(chunk, "utf8");
    else if (chunk instanceof Uint8Array) body = chunk;
    else {
      done(new TypeError("RecordIoEncoder: a record must be a Uint8Array or a string"));
      return;
    }
    this.push(recordHeader(body.length));
    if (body.length > 0) this.push(body);
    done();
  }
}
