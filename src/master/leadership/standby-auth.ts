/**
 * HTTP authentication on a standby master. libprocess authenticates a
 * request before the handler runs, and Mesos' handlers redirect to the
 * leader only inside; so with `--authenticate_http_readonly` (or
 * `_readwrite`, `_frameworks`) an anonymous request to a standby gets 401
 * as on the leader, not a 307 that tells where the leader is. The same
 * realms as the leader's routes; authorization is the leader's business.
 * The elected master's own guards replace these.
 */
import { authenticateBasic, REALMS } from "../../common/auth/basic.js";
import { LIBPROCESS_HOST_REALMS } from "../../common/auth/host-realms.js";
import type { HttpRequest } from "../../common/http/request.js";
import { setHttpGuard } from "../../common/http/router.js";
import type { ProcessBase } from "../../common/process/process-base.js";
import type { ProcessHost } from "../../common/process/process-host.js";
import type { MasterSecurity } from "../http/security.js";

type Realm = "readonly" | "readwrite" | "scheduler";

/** The realm of each route of the standby's `master` process, as Mesos routes them. */
const STANDBY_REALMS: Readonly<Record<string, Realm>> = {
  "/api/v1/scheduler": "scheduler",
  "/api/v1": "readwrite",
  "/state": "readonly",
  "/state.json": "readonly",
  "/state-summary": "readonly",
  "/frameworks": "readonly",
  "/slaves": "readonly",
  "/tasks": "readonly",
  "/tasks.json": "readonly",
  "/roles": "readonly",
  "/roles.json": "readonly",
  "/flags": "readonly",
  "/maintenance/status": "readonly",
  "/teardown": "readwrite",
  "/weights": "readwrite",
  "/quota": "readwrite",
  "/reserve": "readwrite",
  "/unreserve": "readwrite",
  "/create-volumes": "readwrite",
  "/destroy-volumes": "readwrite",
  "/maintenance/schedule": "readwrite",
  "/machine/down": "readwrite",
  "/machine/up": "readwrite",
};

const REALM_NAMES: Readonly<Record<Realm, string>> = {
  readonly: REALMS.masterReadonly,
  readwrite: REALMS.masterReadwrite,
  scheduler: REALMS.masterScheduler,
};

/** Guards the standby's `master` process and the host-wide processes. */
export function guardStandby(
  host: ProcessHost,
  standby: ProcessBase,
  security: MasterSecurity,
): void {
  const required = (realm: Realm): boolean =>
    realm === "readonly"
      ? security.authenticateReadonly
      : realm === "readwrite"
        ? security.authenticateReadwrite
        : security.authenticateHttpFrameworks;
  const check = (request: HttpRequest, realm: Realm | undefined) => {
    if (realm === undefined) return undefined;
    const result = authenticateBasic(
      request,
      REALM_NAMES[realm],
      security.credentials,
      required(realm),
    );
    return result.ok ? undefined : result.response;
  };
  setHttpGuard(
    standby,
    (request, next) => check(request, STANDBY_REALMS[request.routePath]) ?? next(),
  );
  for (const [id, realms] of Object.entries(LIBPROCESS_HOST_REALMS)) {
    const p = host.process(id);
    if (p === undefined) continue;
    setHttpGuard(p, (request, next) => check(request, realms[request.routePath]) ?? next());
  }
}
