/**
 * The record framing of checkpoint files, as Mesos' stout `protobuf::write`
 * lays it out: each record is a 4-byte little-endian length followed by that
 * many bytes of protobuf. A file of one message (slave.info, task.info, ...)
 * holds one record; `task.updates` holds one per update or acknowledgement.
 */

/** Bytes of the length prefix. */
export const LENGTH_PREFIX_BYTES = 4;

/** One record: the length prefix, then the bytes. */
export function frameRecord(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES + bytes.byteLength);
  out.writeUInt32LE(bytes.byteLength, 0);
  out.set(bytes, LENGTH_PREFIX_BYTES);
  return out;
}

/** What a scan of a stream of records found. */
export interface ScannedRecords {
  /** The complete records, in order (views into the input). */
  records: Buffer[];
  /** Bytes covered by complete records: the file should be truncated to this. */
  validLength: number;
  /** True when the data ends inside a record (a torn write at the end). */
  torn: boolean;
}

/** Splits `data` into records; an incomplete record at the end is reported as torn, not an error. */
export function scanRecords(data: Buffer): ScannedRecords {
  const records: Buffer[] = [];
  let at = 0;
  while (at < data.length) {
    if (data.length - at < LENGTH_PREFIX_BYTES) return { records, validLength: at, torn: true };
    const length = data.readUInt32LE(at);
    const end = at + LENGTH_PREFIX_BYTES + length;
    if (end > data.length) return { records, validLength: at, torn: true };
    records.push(data.subarray(at + LENGTH_PREFIX_BYTES, end));
    at = end;
  }
  return { records, validLength: at, torn: false };
}
