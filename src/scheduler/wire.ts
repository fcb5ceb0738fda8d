/**
 * The scheduler API's two encodings: each call goes out, and each event
 * comes back, as Mesos JSON or as protobuf, chosen once per client.
 */
import type { Codec } from "../common/protocol/codec.js";
import type { DecodeError } from "../common/protocol/decode-error.js";
import type { Call, Event, Response } from "../common/protocol/generated/mesos-v1-scheduler.js";
import { codecFor } from "../common/protocol/index.js";
import type { Result } from "../common/protocol/result.js";

/** How calls and events are encoded on the wire. */
export type ContentType = "json" | "protobuf";

/** The media type of a content type. */
export function mediaType(contentType: ContentType): string {
  return contentType === "json" ? "application/json" : "application/x-protobuf";
}

/**
 * Reads a content type as `--content_type` takes it: `json`, `protobuf`,
 * or the media types themselves. Undefined for anything else.
 */
export function parseContentType(text: string): ContentType | undefined {
  const t = text.trim().toLowerCase();
  if (t === "json" || t === "application/json") return "json";
  if (t === "protobuf" || t === "application/x-protobuf") return "protobuf";
  return undefined;
}

/** Encoders and decoders for one content type. */
export interface SchedulerWire {
  readonly contentType: ContentType;
  readonly mediaType: string;
  encodeCall(call: Call): Buffer;
  decodeEvent(record: Uint8Array): Result<Event, DecodeError>;
  decodeResponse(body: Uint8Array): Result<Response, DecodeError>;
}

/** The wire for `contentType`. */
export function schedulerWire(contentType: ContentType): SchedulerWire {
  const calls = codecFor("mesos.v1.scheduler.Call");
  const events = codecFor("mesos.v1.scheduler.Event");
  const responses = codecFor("mesos.v1.scheduler.Response");
  const decode = <T>(codec: Codec<T>, bytes: Uint8Array) =>
    contentType === "json" ? codec.decodeJson(bytes) : codec.decodeProtobuf(bytes);
  return {
    contentType,
    mediaType: mediaType(contentType),
    encodeCall: (call) =>
      contentType === "json"
        ? Buffer.from(calls.encodeJson(call), "utf8")
        : calls.encodeProtobuf(call),
    decodeEvent: (record) => decode(events, record),
    decodeResponse: (body) => decode(responses, body),
  };
}
