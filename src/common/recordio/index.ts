/** RecordIO: the length-prefixed record framing of Mesos' streaming APIs. */
export {
  DEFAULT_MAX_RECORD_SIZE,
  MAX_LENGTH_DIGITS,
  RecordIoDecoder,
  type RecordIoDecoderOptions,
} from "./decoder.js";
export { encodeRecord, RecordIoEncoder, recordHeader } from "./encoder.js";
export { RecordIoError } from "./recordio-error.js";
export { encodeMessageRecord, readMessages, readRecords } from "./stream.js";
