/**
 * HTTP Basic authentication per realm (Mesos' `basic` HTTP authenticator),
 * and the principal an authenticated request carries.
 */
import type { HttpRequest } from "../http/request.js";
import { type BodyResponse, response } from "../http/response.js";
import type { CredentialStore } from "./credentials.js";

/** The realms Mesos uses. */
export const REALMS = {
  masterReadonly: "mesos-master-readonly",
  masterReadwrite: "mesos-master-readwrite",
  masterScheduler: "mesos-master-scheduler",
  agentReadonly: "mesos-agent-readonly",
  agentReadwrite: "mesos-agent-readwrite",
  agentExecutor: "mesos-agent-executor",
} as const;

const principals = new WeakMap<HttpRequest, string>();

/** The principal `request` authenticated as, if it did. */
export function principalOf(request: HttpRequest): string | undefined {
  return principals.get(request);
}

/** Records the principal of an authenticated request. */
export function setPrincipal(request: HttpRequest, principal: string): void {
  principals.set(request, principal);
}

/** `Authorization: Basic base64(user:pass)` decoded, or undefined when absent or malformed. */
export function basicCredentials(
  header: string | undefined,
): { principal: string; secret: string } | undefined {
  if (header === undefined) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1] as string, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { principal: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

/**
 * 401 with the challenge of `realm`; the body is libprocess' own
 * (`401 Unauthorized.`), missing and wrong credentials alike, as Mesos'
 * basic authenticator answers both the same way.
 */
export function unauthorized(realm: string, message = "401 Unauthorized."): BodyResponse {
  return response(401, message, { "WWW-Authenticate": `Basic realm="${realm}"` });
}

/** The outcome of authenticating a request. */
export type Authentication =
  | { readonly ok: true; readonly principal: string | undefined }
  | { readonly ok: false; readonly response: BodyResponse };

/**
 * Authenticates `request` in `realm` against `store`. When `required` is
 * false every request passes: one with valid credentials carries its
 * principal (so ACLs can tell it apart), any other is unauthenticated.
 */
export function authenticateBasic(
  request: HttpRequest,
  realm: string,
  store: CredentialStore,
  required: boolean,
): Authentication {
  const header = request.header("authorization");
  if (header === undefined) {
    return required
      ? { ok: false, response: unauthorized(realm) }
      : { ok: true, principal: undefined };
  }
  const given = basicCredentials(header);
  if (given === undefined || !store.check(given.principal, given.secret)) {
    if (!required) return { ok: true, principal: undefined };
    return { ok: false, response: unauthorized(realm) };
  }
  setPrincipal(request, given.principal);
  return { ok: true, principal: given.principal };
}
