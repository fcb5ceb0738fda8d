/**
 * Executor authentication on the agent (`--authenticate_http_executors`
 * with `--jwt_secret_key`, alias `--executor_secret_key`), as Mesos does it:
 * - with a key, every executor is launched with a token
 *   (`MESOS_EXECUTOR_AUTHENTICATION_TOKEN`): an HS256 JWT whose claims
 *   name its framework (`fid`), executor (`eid`) and container (`cid`);
 * - with `--authenticate_http_executors`, the executor API (realm
 *   `mesos-agent-executor`) needs `Authorization: Bearer <token>`: none or
 *   a bad one is 401 with a Bearer challenge; HTTP Basic credentials are
 *   accepted too (Mesos combines both authenticators);
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

function bearerChallenge(description?: string, realm: string = REALM): BodyResponse {
  const challenge =
    description === undefined
      ? `Bearer realm="${realm}"`
      : `Bearer realm="${realm}", error="invalid_token", error_description="${description}"`;
  return response(401, description ?? "Authentication required", {
    "WWW-Authenticate": challenge,
  });
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
): BodyResponse | undefined {
  const header = request.header("authorization");
  if (header === undefined) return bearerChallenge();
  const parts = header.split(" ");
  if (parts.length !== 2) return bearerChallenge("Malformed 'Authorization' header");
  const [scheme, value] = parts as [string, string];
  if (scheme === "Basic") {
    const basic = authenticateBasic(request, REALM, credentials, true);
    if (!basic.ok) return basic.response;
    authenticated.set(request, {});
    return undefined;
  }
  if (scheme !== "Bearer") return bearerChallenge(`Scheme '${scheme}' unsupported`);
  const checked = tokens.check(value, nowSecs);
  if (!checked.ok) return bearerChallenge(`Invalid JWT: ${checked.error}`);
  if (Object.keys(checked.claims).length === 0) return bearerChallenge("JWT claims missing");
  authenticated.set(request, checked.claims);
  return undefined;
}

/**
 * A `Bearer` request in another agent realm (with
 * `--authenticate_http_executors` Mesos accepts executor tokens in every
 * agent realm, e.g. the default executor's nested-container calls):
 * undefined when the token is valid, else the 401 to answer.
 */
export function authenticateBearer(
  request: HttpRequest,
  token: string,
  tokens: ExecutorTokens,
  realm: string,
  nowSecs: number,
): BodyResponse | undefined {
  const checked = tokens.check(token, nowSecs);
  if (!checked.ok) return bearerChallenge(`Invalid JWT: ${checked.error}`, realm);
  if (Object.keys(checked.claims).length === 0) return bearerChallenge("JWT claims missing", realm);
  authenticated.set(request, checked.claims);
  return undefined;
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
