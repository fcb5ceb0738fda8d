/**
 * Plumbing shared by the v1 HTTP APIs (scheduler API on the master, executor
 * API on the agent, and later the operator API): content-type negotiation,
 * call decoding with one-line reasons, response encoding, RecordIO event
 * streams and `?jsonp=` for JSON reads. The statuses and wording follow what
 * Mesos answers, because clients match on them.
 */
import type { Codec } from "../protocol/codec.js";
import { encodeRecord } from "../recordio/encoder.js";
import type { HttpRequest } from "./request.js";
import {
  type BodyResponse,
  badRequest,
  methodNotAllowed,
  notAcceptable,
  type ResponseHeaders,
  type ResponseStream,
  response,
  type StreamCloseReason,
  type StreamingResponse,
  streaming,
  unsupportedMediaType,
} from "./response.js";

/** `application/json` */
export const APPLICATION_JSON = "application/json";
/** `application/x-protobuf` */
export const APPLICATION_PROTOBUF = "application/x-protobuf";
/** The header carrying the id of a v1 subscription stream. */
export const STREAM_ID_HEADER = "Mesos-Stream-Id";

/** The two encodings of the v1 API. */
export type V1ContentType = "json" | "protobuf";

/** The media type string of an encoding. */
export function mediaType(type: V1ContentType): string {
  return type === "json" ? APPLICATION_JSON : APPLICATION_PROTOBUF;
}

/** A value, or the error response to send instead. */
export type V1Result<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly response: BodyResponse };

function fail(r: BodyResponse): { readonly ok: false; readonly response: BodyResponse } {
  return { ok: false, response: r };
}

/**
 * 405 unless the request uses one of `methods` (upper case). Returns the
 * error response, or undefined when the method is fine.
 */
export function checkMethod(
  request: HttpRequest,
  methods: readonly string[] = ["POST"],
): BodyResponse | undefined {
  // HEAD is a GET without the body (node leaves the body out), as routing treats it.
  const method = request.method === "HEAD" ? "GET" : request.method;
  return methods.includes(method) ? undefined : methodNotAllowed(methods, request.method);
}

/**
 * The encoding of the request body from its `Content-Type`: missing -> 400,
 * neither JSON nor protobuf -> 415. Parameters (`; charset=utf-8`) and case
 * are ignored.
 */
export function requestContentType(request: HttpRequest): V1Result<V1ContentType> {
  const raw = request.header("content-type");
  if (raw === undefined || raw.trim() === "") {
    return fail(badRequest("Expecting 'Content-Type' to be present"));
  }
  const base = (raw.split(";")[0] ?? "").trim().toLowerCase();
  if (base === APPLICATION_JSON) return { ok: true, value: "json" };
  if (base === APPLICATION_PROTOBUF) return { ok: true, value: "protobuf" };
  return fail(
    unsupportedMediaType(
      `Expecting 'Content-Type' of ${APPLICATION_JSON} or ${APPLICATION_PROTOBUF}`,
    ),
  );
}

/**
 * Whether an `Accept` header value admits `type` (`type/subtype`): an exact
 * match wins over `type/<any>`, which wins over `<any>/<any>`; `q=0` refuses. An absent
 * header accepts everything. Same rules as libprocess' `acceptsMediaType`.
 */
export function acceptsMediaType(accept: string | undefined, type: string): boolean {
  if (accept === undefined) return true;
  const slash = type.indexOf("/");
  if (slash <= 0) return false;
  const cleaned = accept.replace(/[ \t\n]/g, "");
  const ranges = cleaned.split(",").filter((s) => s !== "");
  const candidates = [type.toLowerCase(), `${type.slice(0, slash).toLowerCase()}/*`, "*/*"];
  for (const candidate of candidates) {
    for (const range of ranges) {
      const parts = range.split(";");
      if ((parts[0] ?? "").toLowerCase() !== candidate) continue;
      const qs = parts.slice(1).filter((p) => p.toLowerCase().startsWith("q="));
      if (qs.length !== 1) return true;
      const q = Number((qs[0] as string).slice(2));
      return Number.isFinite(q) && q > 0;
    }
  }
  return false;
}

/**
 * The encoding of the response from `Accept` (or another header such as
 * `Message-Accept`): JSON when acceptable (also when absent or any-type),
 * else protobuf, else 406.
 */
export function responseContentType(
  request: HttpRequest,
  headerName = "accept",
): V1Result<V1ContentType> {
  const accept = request.header(headerName);
  if (acceptsMediaType(accept, APPLICATION_JSON)) return { ok: true, value: "json" };
  if (acceptsMediaType(accept, APPLICATION_PROTOBUF)) return { ok: true, value: "protobuf" };
  return fail(
    notAcceptable(
      `Expecting '${headerName === "accept" ? "Accept" : headerName}' to allow '${APPLICATION_PROTOBUF}' or '${APPLICATION_JSON}'`,
    ),
  );
}

/** A decoded call and the encoding it came in. */
export interface DecodedCall<T> {
  readonly call: T;
  readonly contentType: V1ContentType;
}

/**
 * Method check (POST), content type, and body decoding of a v1 call. Every
 * failure is a response with a one-line reason: 405, 400 (missing content
 * type, malformed body), 415.
 */
export function decodeCall<T>(request: HttpRequest, codec: Codec<T>): V1Result<DecodedCall<T>> {
  const methodError = checkMethod(request);
  if (methodError !== undefined) return fail(methodError);
  const type = requestContentType(request);
  if (!type.ok) return type;
  if (type.value === "protobuf") {
    // As Mesos: no detail for a body protobuf cannot parse.
    const decoded = codec.decodeProtobuf(request.body);
    if (!decoded.ok) return fail(badRequest("Failed to parse body into Call protobuf"));
    return { ok: true, value: { call: decoded.value, contentType: "protobuf" } };
  }
  const decoded = codec.decodeJson(request.body);
  if (!decoded.ok) {
    const e = decoded.error;
    // Conversion failures in the words of Mesos' JSON-to-protobuf conversion.
    const what = e.reason.startsWith("malformed JSON")
      ? `Failed to parse body into JSON: ${e.message}`
      : `Failed to convert JSON into Call protobuf: ${e.stout}`;
    return fail(badRequest(what));
  }
  return { ok: true, value: { call: decoded.value, contentType: "json" } };
}

/** One message in the given encoding (JSON text or protobuf bytes). */
export function encodeMessage<T>(
  codec: Codec<T>,
  message: T,
  type: V1ContentType,
): string | Uint8Array {
  return type === "json" ? codec.encodeJson(message) : codec.encodeProtobuf(message);
}

/** A 200 whose body is `message` in the given encoding. */
export function messageResponse<T>(
  codec: Codec<T>,
  message: T,
  type: V1ContentType,
  status = 200,
): BodyResponse {
  return response(status, encodeMessage(codec, message, type), {
    "Content-Type": mediaType(type),
  });
}

/**
 * A 200 with a JSON document, wrapped as `callback(json)` with type
 * `text/javascript` when the request has `?jsonp=callback`, as Mesos does
 * for its JSON reads. `json` is text already serialized.
 */
export function jsonResponse(request: HttpRequest, json: string): BodyResponse {
  const callback = request.rawQuery === "" ? null : request.query.get("jsonp");
  if (callback !== null) {
    return response(200, `${callback}(${json})`, { "Content-Type": "text/javascript" });
  }
  return response(200, json, { "Content-Type": APPLICATION_JSON });
}

/**
 * The sending side of a v1 event stream: each event becomes one RecordIO
 * record written as one HTTP chunk. Sends after the stream closed are
 * dropped (return false).
 */
export class EventStream<E> {
  private closeReason: StreamCloseReason | undefined;

  constructor(
    private readonly stream: ResponseStream,
    private readonly codec: Codec<E>,
    readonly contentType: V1ContentType,
  ) {
    stream.onClose((reason) => {
      this.closeReason = reason;
    });
  }

  /** Writes one event. False when the stream is closed (or the client is slow: data is buffered). */
  send(event: E): boolean {
    if (this.stream.closed) return false;
    return this.stream.write(encodeRecord(encodeMessage(this.codec, event, this.contentType)));
  }

  /** Ends the stream (the client sees a clean end of the response). */
  close(): void {
    this.stream.end();
  }

  /** True once ended by us or by the client going away. */
  get closed(): boolean {
    return this.stream.closed;
  }

  /** How the stream ended, once it has. */
  get closedBy(): StreamCloseReason | undefined {
    return this.closeReason;
  }

  /** Runs once when the stream ends, whoever ended it. */
  onClose(callback: (reason: StreamCloseReason) => void): void {
    this.stream.onClose(callback);
  }

  /** The client's address, for logs. */
  get remote(): string {
    return this.stream.remote;
  }
}

/**
 * A 200 chunked response carrying v1 events. `start` receives the
 * `EventStream` once the headers are on their way (send SUBSCRIBED first).
 * The body is chunked whatever `Connection` the client asked for.
 */
export function eventStreamResponse<E>(
  codec: Codec<E>,
  type: V1ContentType,
  headers: ResponseHeaders,
  start: (events: EventStream<E>) => void,
): StreamingResponse {
  return streaming(
    200,
    { ...headers, "Content-Type": mediaType(type), "Transfer-Encoding": "chunked" },
    (stream) => start(new EventStream(stream, codec, type)),
  );
}
