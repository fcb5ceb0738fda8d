/**
 * Executor authentication on the agent (`--authenticate_http_executors`
 * with `--jwt_secret_key`, alias `--executor_secret_key`), as Mesos does it:
 * - with a key, every executor is launched with a token
 *   (`MESOS_EXECUTOR_AUTHENTICATION_TOKEN`): an HS256 JWT whose claims
 *   name its framework (`fid`), executor (`eid`) and container (`cid`);
 * - with `--authenticate_http_executors`, the executor API (realm
 *   `mesos-agent-executor`) needs `Authorization: Bearer <token>` or HTTP
 *   Basic credentials (Mesos combines both authenticators): anything else
 *   is 401 with both challenges;
 * - a call whose framework, executor or container is not the one the
 *   claims name is 403 (so an executor cannot act for another one).
 */
import { readFileSync, statSync } from "node:fs";
import type { HttpRequest } from "../http/request.js";
import { type BodyResponse, response } from "../http/response.js";
import { authenticateBasic, REALMS } from "./basic.js";
import type { CredentialStore } from "./credentials.js";
import { signJwt, verifyJwt } from "./jwt.js";

/** The ids an executor's token names. */
export interface ExecutorIds {
  readonly frameworkId: string;
  readonly executorId: string;
  readonly containerId: string;
}

/** Makes and checks executor tokens with one key. */
export class ExecutorTokens {
  constructor(private readonly key: Buffer) {}

  /** The token of one executor run. */
  token(ids: ExecutorIds): string {
    return signJwt({ fid: ids.frameworkId, eid: ids.executorId, cid: ids.containerId }, this.key);
  }

  /** The claims of a valid token, or why it is not. */
  check(token: string, nowSecs: number): ReturnType<typeof verifyJwt> {
    return verifyJwt(token, this.key, nowSecs);
  }
}

/**
 * Reads `--jwt_secret_key`; throws an Error with one line naming the file
 * on failure. `warn` hears about a key file others may read.
 */
export function loadExecutorKey(path: string, warn: (line: string) => void): ExecutorTokens {
  const file = path.startsWith("file://") ? path.slice("file://".length) : path;
  let key: Buffer;
  try {
    key = readFileSync(file);
  } catch (e) {
    throw new Error(
      `Failed to read the file specified by --jwt_secret_key ('${file}'): ${(e as Error).message}`,
    );
  }
  if (key.length === 0) throw new Error(`The --jwt_secret_key file '${file}' is empty`);
  try {
    if ((statSync(file).mode & 0o007) !== 0) {
      warn(
        `Permissions on executor secret key file '${file}' are too open; ` +
          "it is recommended that your key file is NOT accessible by others",
      );
    }
  } catch {
    // The key was read; a failed stat only loses the warning.
  }
  return new ExecutorTokens(key);
}

const REALM = REALMS.agentExecutor;

/** Requests authenticated in the executor realm, with their claims (none for Basic). */
const authenticated = new WeakMap<HttpRequest, Readonly<Record<string, string>>>();

/** What Mesos' JWT authenticator makes of an `Authorization` header: the claims, or its challenge. */
function bearerResult(
  header: string | undefined,
  tokens: ExecutorTokens,
  realm: string,
  nowSecs: number,
): { ok: true; claims: Readonly<Record<string, string>> } | { ok: false; challenge: string } {
  // No header: a challenge without error details (RFC 6750, section 3.1).
  if (header === undefined) return { ok: false, challenge: `Bearer realm="${realm}"` };
  const invalid = (description: string) => ({
    ok: false as const,
    challenge: `Bearer realm="${realm}", error="invalid_token", error_description="${description}"`,
  });
  const parts = header.split(" ");
  if (parts.length !== 2) return invalid("Malformed 'Authorization' header");
  const [scheme, token] = parts as [string, string];
  if (scheme !== "Bearer") return invalid(`Scheme '${scheme}' unsupported`);
  const checked = tokens.check(token, nowSecs);
  if (!checked.ok) return invalid(`Invalid JWT: ${checked.error}`);
  if (Object.keys(checked.claims).length === 0) return invalid("JWT claims missing");
  return { ok: true, claims: checked.claims };
}

/** The HTTP authenticators built into Mesos' agent (`--http_authenticators`). */
export type HttpAuthenticatorName = "basic" | "jwt";

/**
 * Authenticates `request` in an agent realm that requires it, with the
 * authenticators `names` in order, as Mesos' agent does: valid Basic
 * credentials (`basic`) or a valid executor token (`jwt`) pass. With one
 * authenticator a failure is its own 401; with several (Mesos' combined
 * authenticator, e.g. `basic,jwt`, the default with
 * `--authenticate_http_executors`) it is one 401 carrying every challenge
 * (`Basic realm="r",Bearer realm="r"[, error=...]`) and every
 * authenticator's body. Undefined when the request may go on.
 */
export function authenticateWith(
  request: HttpRequest,
  realm: string,
  names: readonly HttpAuthenticatorName[],
  credentials: CredentialStore,
  tokens: ExecutorTokens | undefined,
  nowSecs: number,
): BodyResponse | undefined {
  const failed: { scheme: string; challenge: string }[] = [];
  for (const name of names) {
    if (name === "basic") {
      if (authenticateBasic(request, realm, credentials, true).ok) {
        // In the executor realm a Basic caller has no claims (so its calls are refused).
        if (realm === REALM) authenticated.set(request, {});
        return undefined;
      }
      failed.push({ scheme: "Basic", challenge: `Basic realm="${realm}"` });
      continue;
    }
    // The agent refuses to start with `jwt` but without a key.
    if (tokens === undefined) continue;
    const bearer = bearerResult(request.header("authorization"), tokens, realm, nowSecs);
    if (bearer.ok) {
      authenticated.set(request, bearer.claims);
      return undefined;
    }
    failed.push({ scheme: "Bearer", challenge: bearer.challenge });
  }
  const body =
    failed.length === 1
      ? "401 Unauthorized."
      : failed.map((f) => `"${f.scheme}" authenticator returned:\n401 Unauthorized.`).join("\n\n");
  return response(401, body, {
    "WWW-Authenticate": failed.map((f) => f.challenge).join(","),
  });
}

/** Mesos' agent default with `--authenticate_http_executors`: basic and jwt combined. */
export const COMBINED: readonly HttpAuthenticatorName[] = ["basic", "jwt"];

/** `authenticateWith` the combined `basic,jwt` authenticators. */
export function authenticateCombined(
  request: HttpRequest,
  realm: string,
  credentials: CredentialStore,
  tokens: ExecutorTokens,
  nowSecs: number,
): BodyResponse | undefined {
  return authenticateWith(request, realm, COMBINED, credentials, tokens, nowSecs);
}

/**
 * Authenticates an executor API request (only called when
 * `--authenticate_http_executors` is on): undefined when it may go on,
 * else the 401 to answer.
 */
export function authenticateExecutor(
  request: HttpRequest,
  tokens: ExecutorTokens,
  credentials: CredentialStore,
  nowSecs: number,
  names: readonly HttpAuthenticatorName[] = COMBINED,
): BodyResponse | undefined {
  return authenticateWith(request, REALM, names, credentials, tokens, nowSecs);
}

/**
 * The claims of a request authenticated with an executor token (`fid`,
 * `eid`, `cid`), or undefined (not a token: Basic credentials or none).
 * Such a caller has no principal; it is authorized by its claims.
 */
export function executorClaimsOf(
  request: HttpRequest,
): Readonly<Record<string, string>> | undefined {
  const claims = authenticated.get(request);
  return claims === undefined || Object.keys(claims).length === 0 ? undefined : claims;
}

/**
 * Why an authenticated caller may not make a call for `ids` (its claims
 * name another framework, executor or container), or undefined when it
 * may (also when the request was not authenticated as an executor).
 */
export function executorClaimsRefusal(request: HttpRequest, ids: ExecutorIds): string | undefined {
  const claims = authenticated.get(request);
  if (claims === undefined) return undefined;
  // As libprocess prints a principal that has claims: {"claims":{...}}.
  const who = `Authenticated principal '${JSON.stringify({ claims })}'`;
  if (claims.fid !== ids.frameworkId) {
    return `${who} does not contain an 'fid' claim with the framework ID ${ids.frameworkId}, which is set in the call`;
  }
  if (claims.eid !== ids.executorId) {
    return `${who} does not contain an 'eid' claim with the executor ID ${ids.executorId}, which is set in the call`;
  }
  if (claims.cid !== ids.containerId) {
    return `${who} does not contain a 'cid' claim with the correct active ContainerID`;
  }
  return undefined;
}
