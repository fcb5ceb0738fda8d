/**
 * HTTP authentication on a standby master. libprocess authenticates a
 * request before the handler runs, and Mesos' handlers redirect to the
 * leader only inside; so with `--authenticate_http_readonly` (or
 * `_readwrite`, `_frameworks`) an anonymous request to a standby gets 401
 * as on the leader, not a 307 that tells where the leader is. The same
 * realms as the leader's routes (`MASTER_REALMS`). What a standby (or an
 * elected master still recovering) answers itself is authorized as on the
 * leader, as Mesos' master does from its start: VIEW_FLAGS on `/flags`,
 * `get_endpoints` on `/metrics/snapshot`, `/logging/toggle` and
 * `/files/debug`; what it redirects is the leader's business.
 * The elected master's own guards replace these.
 */
import { LIBPROCESS_HOST_REALMS } from "../../common/auth/host-realms.js";
import type { HttpRequest } from "../../common/http/request.js";
import { setHttpGuard } from "../../common/http/router.js";
import type { ProcessBase } from "../../common/process/process-base.js";
import type { ProcessHost } from "../../common/process/process-host.js";
import {
  authenticateInRealm,
  authorizeFlags,
  authorizeHostEndpoint,
  MASTER_REALMS,
  type MasterSecurity,
  type Realm,
} from "../http/security.js";

/** Guards the standby's `master` process and the host-wide processes. */
export function guardStandby(
  host: ProcessHost,
  standby: ProcessBase,
  security: MasterSecurity,
): void {
  const check = (request: HttpRequest, realm: Realm | undefined) =>
    authenticateInRealm(request, realm, security);
  setHttpGuard(standby, (request, next) => {
    const denied = check(request, MASTER_REALMS[request.routePath]);
    if (denied !== undefined) return denied;
    if (request.routePath === "/flags") return authorizeFlags(request, security) ?? next();
    return next();
  });
  for (const [id, realms] of Object.entries(LIBPROCESS_HOST_REALMS)) {
    const p = host.process(id);
    if (p === undefined) continue;
    setHttpGuard(
      p,
      (request, next) =>
        check(request, realms[request.routePath]) ??
        authorizeHostEndpoint(request, id, security) ??
        next(),
    );
  }
}
