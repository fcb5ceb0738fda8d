/**
 * RecordIO over Node streams: decode a byte stream (an HTTP response, a
 * socket, any Readable) into records or into typed messages.
 */
import type { Codec } from "../protocol/codec.js";
import type { WireFormat } from "../protocol/decode-error.js";
import { RecordIoDecoder, type RecordIoDecoderOptions } from "./decoder.js";
import { encodeRecord } from "./encoder.js";

/**
 * The records of a RecordIO byte stream, in order. Throws `RecordIoError`
 * for a malformed or truncated stream (after yielding the complete records
 * before the problem). Stopping early closes the source.
 */
export async function* readRecords(
  source: AsyncIterable<Uint8Array | string>,
  options: RecordIoDecoderOptions = {},
): AsyncGenerator<Buffer, void, undefined> {
  const decoder = new RecordIoDecoder(options);
  for await (const chunk of source) {
    const records = decoder.decode(chunk);
    for (const record of records) yield record;
  }
  decoder.end();
}

/**
 * The messages of a RecordIO stream whose records are `format`-encoded
 * messages of `codec`'s type. Throws the `DecodeError` of the first record
 * that does not decode, or a `RecordIoError`.
 */
export async function* readMessages<T>(
  source: AsyncIterable<Uint8Array | string>,
  codec: Codec<T>,
  format: WireFormat,
  options: RecordIoDecoderOptions = {},
): AsyncGenerator<T, void, undefined> {
  for await (const record of readRecords(source, options)) {
    const r = format === "json" ? codec.decodeJson(record) : codec.decodeProtobuf(record);
    if (!r.ok) throw r.error;
    yield r.value;
  }
}

/** One message as a RecordIO record in `format`. */
export function encodeMessageRecord<T>(codec: Codec<T>, format: WireFormat, message: T): Buffer {
  return encodeRecord(
    format === "json"
      ? Buffer.from(codec.encodeJson(message), "utf8")
      : codec.encodeProtobuf(message),
  );
}
