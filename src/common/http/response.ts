/**
 * Responses a route returns: a whole body, or a stream of chunks written
 * over time (`Transfer-Encoding: chunked`), for event streams such as the
 * v1 SUBSCRIBE calls. Helpers mirror the responses Mesos endpoints use.
 */

import { STATUS_CODES } from "node:http";
import { oneLine } from "../errors/one-line.js";

/**
 * A status as libprocess prints it (`401 Unauthorized`): Mesos' libraries
 * put this in their "Received unexpected ..." errors.
 */
export function statusLine(status: number): string {
  const reason = STATUS_CODES[status];
  return reason === undefined ? String(status) : `${status} ${reason}`;
}

/** Header names as they should go on the wire. */
export type ResponseHeaders = Record<string, string>;

/** A complete response. A string body is sent as UTF-8. */
export interface BodyResponse {
  readonly kind: "body";
  status: number;
  headers: ResponseHeaders;
  body: string | Uint8Array;
}

/** Why a response stream ended. */
/** `ended`: we called `end()`; `disconnected`: the client went away or the server stopped. */
export type StreamCloseReason = "ended" | "disconnected";

/** The writing end of a streaming response. */
export interface ResponseStream {
  /**
   * Writes one chunk. Returns false when the client reads slower than we
   * write (the data is buffered anyway); wait for `onDrain` to keep memory flat.
   * Writes after the stream closed are ignored.
   */
  write(chunk: string | Uint8Array): boolean;
  /** Ends the response (sends the last chunk). */
  end(): void;
  /** Runs once when the stream is over, whether we ended it or the client went away. */
  onClose(callback: (reason: StreamCloseReason) => void): void;
  /** Runs each time the buffer has drained after `write` returned false. */
  onDrain(callback: () => void): void;
  /** True once ended or disconnected. */
  readonly closed: boolean;
  /** The remote address of the client, for logs. */
  readonly remote: string;
  /** Bytes written but not yet handed to the socket (to bound slow clients), when known. */
  readonly bufferedBytes?: number;
  /** Drops the connection at once, discarding what is buffered (a client too slow to keep). */
  abort?(): void;
}

/** A response whose body is produced after the headers are sent. */
export interface StreamingResponse {
  readonly kind: "stream";
  status: number;
  headers: ResponseHeaders;
  /** Called once the status line and headers are on their way. */
  start(stream: ResponseStream): void;
}

export type HttpResponse = BodyResponse | StreamingResponse;

const TEXT = "text/plain; charset=utf-8";
const JSON_TYPE = "application/json";

/**
 * A body response; a non-empty body without a content type is sent as plain
 * text, and as a refusal (4xx, 5xx) on one line ({@link oneLine}).
 */
export function response(
  status: number,
  body: string | Uint8Array = "",
  headers: ResponseHeaders = {},
): BodyResponse {
  const h: ResponseHeaders = { ...headers };
  let text = body;
  if (body.length > 0 && !hasHeader(h, "content-type")) {
    h["Content-Type"] = TEXT;
    // A refusal's reason stays one line even when it quotes the request;
    // but a 401 is libprocess' own text, one paragraph per authenticator.
    if (status >= 400 && status !== 401 && typeof body === "string") text = oneLine(body);
  }
  return { kind: "body", status, headers: h, body: text };
}

/** Case-insensitive header presence test. */
export function hasHeader(headers: ResponseHeaders, name: string): boolean {
  const lower = name.toLowerCase();
  return Object.keys(headers).some((k) => k.toLowerCase() === lower);
}

/** 200 with a body (plain text unless `contentType` says otherwise). */
export function ok(body: string | Uint8Array = "", contentType?: string): BodyResponse {
  return response(200, body, contentType === undefined ? {} : { "Content-Type": contentType });
}

/** 200 with `value` serialized as JSON. */
export function okJson(value: unknown): BodyResponse {
  return response(200, JSON.stringify(value), { "Content-Type": JSON_TYPE });
}

export function accepted(body = ""): BodyResponse {
  return response(202, body);
}

export function badRequest(message = ""): BodyResponse {
  return response(400, message);
}

/** 401 with a `WWW-Authenticate` challenge. */
export function unauthorized(challenge: string, message = "401 Unauthorized."): BodyResponse {
  return response(401, message, { "WWW-Authenticate": challenge });
}

export function forbidden(message = ""): BodyResponse {
  return response(403, message);
}

export function notFound(message = ""): BodyResponse {
  return response(404, message);
}

/** 405 with the `Allow` header and Mesos' wording of the body. */
export function methodNotAllowed(allowed: readonly string[], received?: string): BodyResponse {
  const list = `{ '${allowed.join("', '")}' }`;
  const tail = received === undefined ? "" : `, but received '${received}'`;
  return response(405, `405 Method Not Allowed. Expecting one of ${list}${tail}.`, {
    Allow: allowed.join(", "),
  });
}

export function notAcceptable(message = ""): BodyResponse {
  return response(406, message);
}

export function conflict(message = ""): BodyResponse {
  return response(409, message);
}

export function preconditionFailed(message = ""): BodyResponse {
  return response(412, message);
}

export function payloadTooLarge(message = ""): BodyResponse {
  return response(413, message);
}

export function unsupportedMediaType(message = ""): BodyResponse {
  return response(415, message);
}

export function internalServerError(message = ""): BodyResponse {
  return response(500, message);
}

export function notImplemented(message = ""): BodyResponse {
  return response(501, message);
}

export function serviceUnavailable(message = ""): BodyResponse {
  return response(503, message);
}

/** 307 to `location`. */
export function temporaryRedirect(location: string): BodyResponse {
  return response(307, "", { Location: location });
}

/** A chunked streaming response; `start` receives the stream once headers are sent. */
export function streaming(
  status: number,
  headers: ResponseHeaders,
  start: (stream: ResponseStream) => void,
): StreamingResponse {
  return { kind: "stream", status, headers: { ...headers }, start };
}
