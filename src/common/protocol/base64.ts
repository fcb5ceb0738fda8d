/**
 * Strict base64 for `bytes` fields in JSON. Node's decoder silently skips
 * invalid characters; a request body with garbage in a bytes field must be
 * rejected instead. Whitespace is ignored (as Mesos does); padding is
 * optional but, when present, must be at the end and complete the last quad.
 */

const BASE64_BODY = /^[A-Za-z0-9+/]*$/;
const HAS_WHITESPACE = /\s/;
const ALL_WHITESPACE = /\s/g;

/** Decodes standard base64, or returns a one-line reason it is invalid. */
export function decodeBase64(text: string): Buffer | string {
  let s = text;
  if (HAS_WHITESPACE.test(s)) s = s.replace(ALL_WHITESPACE, "");
  let end = s.length;
  let padding = 0;
  while (end > 0 && s.charCodeAt(end - 1) === 61 /* = */) {
    end--;
    padding++;
  }
  if (padding > 2) return "invalid base64: too much padding";
  const body = padding === 0 ? s : s.slice(0, end);
  if (!BASE64_BODY.test(body)) return "invalid base64: unexpected character";
  if (body.length % 4 === 1) return "invalid base64: wrong length";
  if (padding > 0 && s.length % 4 !== 0) return "invalid base64: wrong padding";
  return Buffer.from(body, "base64");
}

/** Encodes bytes as standard, padded base64. */
export function encodeBase64(bytes: Uint8Array): string {
  return (
    Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  ).toString("base64");
}
