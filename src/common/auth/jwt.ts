/**
 * JSON Web Tokens signed with HMAC-SHA256 (`alg: HS256`), the kind Mesos'
 * agent hands its executors (`--jwt_secret_key`): a header and a payload of
 * string claims, base64url-encoded without padding, and their signature.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString("base64url");
}

function hmac(key: Buffer | string, input: string): Buffer {
  return createHmac("sha256", key).update(input).digest();
}

/** A signed token carrying `claims`. */
export function signJwt(claims: Readonly<Record<string, string>>, key: Buffer | string): string {
  const head = `${base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${base64url(JSON.stringify(claims))}`;
  return `${head}.${base64url(hmac(key, head))}`;
}

/** The outcome of checking a token. */
export type JwtCheck =
  | { readonly ok: true; readonly claims: Readonly<Record<string, string>> }
  | { readonly ok: false; readonly error: string };

function decodeJson(part: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Checks a token's form, algorithm, signature and (when present) its `exp`
 * (seconds since the epoch, against `nowSecs`); returns its string claims.
 */
export function verifyJwt(token: string, key: Buffer | string, nowSecs: number): JwtCheck {
  const parts = token.split(".");
  if (parts.length !== 3) return { ok: false, error: "Expected a token of three parts" };
  const [head, payload, signature] = parts as [string, string, string];
  const header = decodeJson(head);
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    return { ok: false, error: "Failed to parse the token's header" };
  }
  const alg = (header as Record<string, unknown>).alg;
  if (alg !== "HS256") return { ok: false, error: `Unsupported token algorithm '${String(alg)}'` };
  const expected = hmac(key, `${head}.${payload}`);
  const given = Buffer.from(signature, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, error: "Token signature does not match" };
  }
  const body = decodeJson(payload);
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, error: "Failed to parse the token's payload" };
  }
  const claims: Record<string, string> = {};
  for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
    if (name === "exp") {
      if (typeof value !== "number" || value <= nowSecs)
        return { ok: false, error: "Token has expired" };
      continue;
    }
    if (typeof value === "string") claims[name] = value;
  }
  return { ok: true, claims };
}
