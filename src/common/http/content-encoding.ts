/**
 * Compressed response bodies, as libprocess sends them: a whole body of at
 * least 1 KiB goes out gzip-encoded when the request's `Accept-Encoding`
 * accepts gzip and the response has no `Content-Encoding` of its own.
 * Streams (event streams, file downloads) are never compressed. Without an
 * `Accept-Encoding` header the body is sent as it is, which RFC 2616
 * allows and every client handles.
 */
import { gunzip, gzip } from "node:zlib";

/** Bodies shorter than this are sent as they are (the header would cost more than it saves). */
export const GZIP_MINIMUM_BODY_LENGTH = 1024;

/**
 * True when an `Accept-Encoding` value accepts `encoding`: listed by name
 * (or matched by `*`) without `q=0`. A missing or empty header accepts
 * nothing but identity.
 */
export function acceptsEncoding(header: string | undefined, encoding: string): boolean {
  if (header === undefined) return false;
  const wanted = encoding.toLowerCase();
  let wildcard: boolean | undefined;
  for (const item of header.split(",")) {
    const [name = "", ...params] = item.split(";").map((s) => s.trim());
    const coding = name.toLowerCase();
    if (coding !== wanted && coding !== "*") continue;
    const accepted = !params.some((p) => isZeroQuality(p));
    // An explicit entry for the coding wins over `*`, wherever it appears.
    if (coding === wanted) return accepted;
    wildcard ??= accepted;
  }
  return wildcard ?? false;
}

/** `q=0`, `q=0.0`, `q=0.000`: "not acceptable". A malformed q value does not refuse. */
function isZeroQuality(param: string): boolean {
  const eq = param.indexOf("=");
  if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== "q") return false;
  return /^0(\.0{0,3})?$/.test(param.slice(eq + 1).trim());
}

/** True when a whole body of `bytes` bytes should go out gzip-encoded for this request. */
export function shouldGzip(acceptEncoding: string | undefined, bytes: number): boolean {
  return bytes >= GZIP_MINIMUM_BODY_LENGTH && acceptsEncoding(acceptEncoding, "gzip");
}

/**
 * The zlib level of every gzip body. libprocess uses the default (6);
 * clients cannot tell, and on state-like JSON level 1 costs 1.3-1.5x less
 * CPU for 5-27% more bytes (a big document's first compressed read runs on
 * the event loop, in slices).
 */
export const GZIP_LEVEL = 1;

/** gzip at `GZIP_LEVEL`, off the event loop (in libuv's thread pool). */
export function gzipBody(body: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gzip(body, { level: GZIP_LEVEL }, (error, result) =>
      error === null ? resolve(result) : reject(error),
    );
  });
}

/**
 * Decodes a gzip-encoded request body (libprocess accepts them), refusing
 * more than `maxBytes` once inflated (`code` ERR_BUFFER_TOO_LARGE).
 */
export function gunzipBody(body: Uint8Array, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gunzip(body, { maxOutputLength: maxBytes }, (error, result) =>
      error === null ? resolve(result) : reject(error),
    );
  });
}
