/**
 * What a routed request knows about its caller once a guard has run: the
 * authorizer in force. Endpoint handlers owned by other modules (quota,
 * reservations) call `requestAuthorized(request, action, object)` to apply
 * the ACLs without knowing how they were configured; without a guard every
 * request is allowed.
 */
import type { HttpRequest } from "../http/request.js";
import { type AclAction, type LocalAuthorizer, NO_ACLS } from "./acls.js";
import { principalOf } from "./basic.js";
import { executorClaimsOf } from "./executor-auth.js";

/**
 * The nested-container actions an executor token is implicitly authorized
 * for, on containers under its own (the `cid` claim), as Mesos' local
 * authorizer does for the default executor.
 */
const IMPLICIT_EXECUTOR_ACTIONS: ReadonlySet<AclAction> = new Set<AclAction>([
  "launch_nested_containers_as_user",
  "launch_nested_containers_under_parent_with_user",
  "wait_nested_containers",
  "kill_nested_containers",
  "launch_nested_container_sessions_as_user",
  "launch_nested_container_sessions_under_parent_with_user",
  "remove_nested_containers",
  "attach_containers_output",
]);

const authorizers = new WeakMap<HttpRequest, LocalAuthorizer>();

/** Attaches the authorizer to a request (the guard does this). */
export function setRequestAuthorizer(request: HttpRequest, authorizer: LocalAuthorizer): void {
  authorizers.set(request, authorizer);
}

/**
 * May the caller of `request` perform `action` on `object` (a role, a
 * user, a principal, a path)? Unauthenticated callers are Mesos' ANY
 * subject. A caller with an executor token (no principal, only claims) is
 * not matched against the ACLs: with `--acls` in force it may perform the
 * nested-container actions on containers whose root is its own container
 * (`rootContainerId` equal to its `cid` claim), whatever the ACLs say, and
 * nothing else; without `--acls` everything is allowed, as for anyone.
 */
export function requestAuthorized(
  request: HttpRequest,
  action: AclAction,
  object?: string,
  rootContainerId?: string,
): boolean {
  const authorizer = authorizers.get(request);
  if (authorizer === undefined) return true;
  const claims = executorClaimsOf(request);
  if (claims !== undefined && authorizer.acls !== NO_ACLS) {
    return (
      IMPLICIT_EXECUTOR_ACTIONS.has(action) &&
      rootContainerId !== undefined &&
      claims.cid === rootContainerId
    );
  }
  return authorizer.authorized(action, principalOf(request), object);
}

/** The 403 body Mesos-style endpoints answer when an action is not authorized. */
export function forbiddenMessage(request: HttpRequest, what: string): string {
  const principal = principalOf(request);
  return `${principal === undefined ? "Anonymous" : `Principal '${principal}'`} is not authorized to ${what}`;
}
