/**
 * The bytes of one libprocess message on the wire: an HTTP/1.1 POST to
 * `/<receiver-id>/<message-name>` carrying the sender in both `User-Agent:
 * libprocess/<from>` and `Libprocess-From: <from>`, and a non-empty body as
 * a single chunk of a chunked transfer, exactly as libprocess frames it.
 */
import type { Upid } from "./upid.js";

const LAST_CHUNK = Buffer.from("\r\n0\r\n\r\n", "latin1");

/** Frames one message; `from` is the sender's advertised address in text form. */
export function encodeMessage(from: string, to: Upid, name: string, body: Uint8Array): Buffer {
  const target = to.id === "" ? `/${name}` : `/${to.id}/${name}`;
  let head =
    `POST ${target} HTTP/1.1\r\n` +
    `User-Agent: libprocess/${from}\r\n` +
    `Libprocess-From: ${from}\r\n` +
    "Connection: Keep-Alive\r\n" +
    `Host: ${to.address}\r\n`;
  if (body.byteLength === 0) return Buffer.from(`${head}\r\n`, "latin1");
  head += `Transfer-Encoding: chunked\r\n\r\n${body.byteLength.toString(16)}\r\n`;
  const headBytes = Buffer.from(head, "latin1");
  return Buffer.concat(
    [headBytes, body, LAST_CHUNK],
    headBytes.byteLength + body.byteLength + LAST_CHUNK.byteLength,
  );
}
