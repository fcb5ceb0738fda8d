/**
 * What a routed request knows about its caller once a guard has run: the
 * authorizer in force. Endpoint handlers owned by other modules (quota,
 * reservations) call `requestAuthorized(request, action, object)` to apply
 * the ACLs without knowing how they were configured; without a guard every
 * request is allowed.
 */
import type { HttpRequest } from "../http/request.js";
import type { AclAction, LocalAuthorizer } from "./acls.js";
import { principalOf } from "./basic.js";

const authorizers = new WeakMap<HttpRequest, LocalAuthorizer>();

/** Attaches the authorizer to a request (the guard does this). */
export function setRequestAuthorizer(request: HttpRequest, authorizer: LocalAuthorizer): void {
  authorizers.set(request, authorizer);
}

/**
 * May the caller of `request` perform `action` on `object` (a role, a
 * user, a principal, a path)? Unauthenticated callers are Mesos' ANY
 * subject.
 */
export function requestAuthorized(
  request: HttpRequest,
  action: AclAction,
  object?: string,
): boolean {
  const authorizer = authorizers.get(request);
  if (authorizer === undefined) return true;
  return authorizer.authorized(action, principalOf(request), object);
}

/** The 403 body Mesos-style endpoints answer when an action is not authorized. */
export function forbiddenMessage(request: HttpRequest, what: string): string {
  const principal = principalOf(request);
  return `${principal === undefined ? "Anonymous" : `Principal '${principal}'`} is not authorized to ${what}`;
}
