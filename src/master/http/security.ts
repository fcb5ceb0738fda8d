/**
 * The master's authentication, authorization and rate limiting, from its
 * flags: `--credentials`, `--authenticate_http_readonly`,
 * `--authenticate_http_readwrite`, `--authenticate_http_frameworks`,
 * `--acls`, `--rate_limits`. Loading checks everything at start (a bad file
 * stops the master with a line naming it); `installMasterSecurity` puts a
 * guard on the master's routes (and the host's metrics, files and logging
 * routes) that authenticates per realm, authorizes operator actions and
 * cuts state documents down to what the caller may view.
 */
import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import type { AclAction } from "../../common/auth/acls.js";
import { LocalAuthorizer, NO_ACLS, parseAcls } from "../../common/auth/acls.js";
import { authenticateBasic, principalOf, REALMS } from "../../common/auth/basic.js";
import { type AuthenticationTimeout, CramMd5Authenticator } from "../../common/auth/cram-md5.js";
import { CredentialStore, loadCredentials } from "../../common/auth/credentials.js";
import { LIBPROCESS_HOST_REALMS } from "../../common/auth/host-realms.js";
import { FrameworkRateLimiter, parseRateLimits } from "../../common/auth/rate-limits.js";
import { forbiddenMessage, setRequestAuthorizer } from "../../common/auth/request-auth.js";
import {
  type ExecutorUserLookup,
  filterFrameworksJson,
  filterRolesJson,
  filterSlavesJson,
  filterStateJson,
  filterStateSummaryJson,
  filterTasksJson,
  filterV1Agents,
  filterV1EventResources,
  filterV1Executors,
  filterV1Frameworks,
  filterV1State,
  filterV1Tasks,
  VIEW_ACTIONS,
  type ViewPermissions,
  viewPermissions,
  viewsEverything,
} from "../../common/auth/view-filter.js";
import type { LoadedFlags } from "../../common/flags/load.js";
import { decodeForm } from "../../common/http/form.js";
import type { HttpRequest } from "../../common/http/request.js";
import {
  type BodyResponse,
  forbidden,
  type HttpResponse,
  type ResponseStream,
  response,
} from "../../common/http/response.js";
import {
  type HttpGuard,
  type NextHandler,
  setHttpGuard,
  setMessageGuard,
} from "../../common/http/router.js";
import { jsonResponse, requestContentType, responseContentType } from "../../common/http/v1-api.js";
import type { MetricsRegistry } from "../../common/observability/metrics.js";
import type { ProcessBase } from "../../common/process/process-base.js";
import type { ProcessHost } from "../../common/process/process-host.js";
import type { Call } from "../../common/protocol/generated/mesos-v1-master.js";
import { codecFor } from "../../common/protocol/index.js";
import { encodeRecord, RecordIoDecoder } from "../../common/recordio/index.js";
import type { Clock } from "../../common/time/clock.js";
import { drainRefusal } from "../core/drain.js";
import type { Master } from "../core/master.js";
import type { masterFlagSchema } from "../flags.js";
import { validateOperatorCall } from "../validation/operator-call.js";
import { formatResources } from "../validation/resources.js";
import {
  pageBounds,
  parseCount,
  parseWeightsBody,
  TASK_LIMIT,
  tasksJson,
} from "./legacy-endpoints.js";
import { checkWeights } from "./roles.js";
import { attachSchedulerSecurity } from "./scheduler-api.js";

type Json = Record<string, unknown>;
type MasterFlags = LoadedFlags<typeof masterFlagSchema.flags>;

/** Everything the master enforces. */
export interface MasterSecurity {
  readonly credentials: CredentialStore;
  readonly authorizer: LocalAuthorizer;
  readonly rateLimiter: FrameworkRateLimiter | undefined;
  readonly authenticateReadonly: boolean;
  readonly authenticateReadwrite: boolean;
  readonly authenticateHttpFrameworks: boolean;
  readonly authenticateAgents: boolean;
  /** `--authentication_v0_timeout`: how long an agent's CRAM-MD5 handshake may take. */
  readonly authenticationTimeout: AuthenticationTimeout;
}

/** Where a JSON flag came from, for error lines: the file, else the flag. */
function sourceOf(flags: MasterFlags, name: "acls" | "rate_limits"): string {
  const file = flags.origin(name).file;
  return file === undefined ? `--${name}` : `'${file}'`;
}

/**
 * Reads the security flags. Throws an Error with one line (naming the file
 * or flag and the problem) when something is wrong.
 */
export function loadMasterSecurity(flags: MasterFlags, clock: Clock): MasterSecurity {
  const v = flags.values;
  let credentials = new CredentialStore();
  if (v.credentials !== undefined) {
    const loaded = loadCredentials(v.credentials);
    if (!loaded.ok) throw new Error(loaded.error);
    credentials = new CredentialStore(loaded.value);
  }
  const http: [boolean, string][] = [
    [v.authenticate_http_readonly, REALMS.masterReadonly],
    [v.authenticate_http_readwrite, REALMS.masterReadwrite],
    [v.authenticate_http_frameworks, REALMS.masterScheduler],
  ];
  for (const [on, realm] of http) {
    if (on && v.credentials === undefined) {
      throw new Error(
        `Failed to create HTTP authenticator module 'basic': No credentials provided for the default 'basic' HTTP authenticator for realm '${realm}'`,
      );
    }
  }
  for (const [name, value] of [
    ["http_authenticators", v.http_authenticators],
    ["http_framework_authenticators", v.http_framework_authenticators],
  ] as const) {
    if (value !== undefined && value !== "basic") {
      throw new Error(`--${name}=${value}: only the built-in 'basic' authenticator is supported`);
    }
  }
  if (v.authenticators !== "crammd5") {
    throw new Error(
      `--authenticators=${v.authenticators}: only the built-in 'crammd5' authenticator is supported`,
    );
  }
  if (v.authorizers !== "local") {
    throw new Error(`--authorizers=${v.authorizers}: only the 'local' authorizer is supported`);
  }
  let authorizer = new LocalAuthorizer(NO_ACLS);
  if (v.acls !== undefined) {
    const acls = parseAcls(v.acls);
    if (!acls.ok) {
      throw new Error(`Failed to parse ACLs from ${sourceOf(flags, "acls")}: ${acls.error}`);
    }
    authorizer = new LocalAuthorizer(acls.value);
  }
  let rateLimiter: FrameworkRateLimiter | undefined;
  if (v.rate_limits !== undefined) {
    const limits = parseRateLimits(v.rate_limits);
    if (!limits.ok) {
      throw new Error(
        `Failed to parse rate limits from ${sourceOf(flags, "rate_limits")}: ${limits.error}`,
      );
    }
    rateLimiter = new FrameworkRateLimiter(limits.value, clock);
  }
  return {
    credentials,
    authorizer,
    rateLimiter,
    authenticateReadonly: v.authenticate_http_readonly,
    authenticateReadwrite: v.authenticate_http_readwrite,
    authenticateHttpFrameworks: v.authenticate_http_frameworks,
    authenticateAgents: v.authenticate_agents,
    authenticationTimeout: { clock, timeoutMs: v.authentication_v0_timeout.toMs() },
  };
}

export type Realm = "readonly" | "readwrite" | "scheduler";

/**
 * The realm of each master route (Mesos' master routes); others need no
 * authentication. A standby master guards the same routes.
 */
export const MASTER_REALMS: Readonly<Record<string, Realm>> = {
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

/** Realms of the host-wide processes' routes (libprocess puts them in the master's realms). */
const HOST_REALMS: Readonly<Record<string, Readonly<Record<string, Realm>>>> = {
  ...LIBPROCESS_HOST_REALMS,
  "registrar(1)": { "/registry": "readonly" },
  allocator: { "/offer_constraints_debug": "readonly" },
};

/** Host routes whose access `get_endpoints` governs, by `<process><route>`. */
const AUTHORIZABLE: ReadonlySet<string> = new Set([
  "/metrics/snapshot",
  "/logging/toggle",
  "/files/debug",
]);

const REALM_NAMES: Readonly<Record<Realm, string>> = {
  readonly: REALMS.masterReadonly,
  readwrite: REALMS.masterReadwrite,
  scheduler: REALMS.masterScheduler,
};

/**
 * HTTP Basic authentication of `request` in `realm` (when the matching
 * --authenticate_http_* flag asks for it): the 401 answer, or undefined.
 */
export function authenticateInRealm(
  request: HttpRequest,
  realm: Realm | undefined,
  security: MasterSecurity,
): BodyResponse | undefined {
  if (realm === undefined) return undefined;
  const required =
    realm === "readonly"
      ? security.authenticateReadonly
      : realm === "readwrite"
        ? security.authenticateReadwrite
        : security.authenticateHttpFrameworks;
  const result = authenticateBasic(request, REALM_NAMES[realm], security.credentials, required);
  return result.ok ? undefined : result.response;
}

export interface InstallOptions {
  readonly host: ProcessHost;
  /** The master process (its routes get the guard). */
  readonly process: ProcessBase;
  readonly master: Master;
  readonly security: MasterSecurity;
  readonly metrics: MetricsRegistry;
  /** An AuthenticateMessage arrived (`master/messages_authenticate`). */
  readonly onAuthenticate?: () => void;
}

/**
 * The guard of the `master` process' routes. Authentication comes first for
 * every request of a route with a realm, whatever its method (libprocess
 * authenticates before the handler, and Mesos' handlers check the method):
 * an anonymous wrong-method request gets 401, an authenticated one 405
 * without being authorized.
 */
export function masterHttpGuard(master: Master, security: MasterSecurity): HttpGuard {
  return (request, next) => {
    setRequestAuthorizer(request, security.authorizer);
    const denied = authenticateInRealm(request, MASTER_REALMS[request.routePath], security);
    if (denied !== undefined) return denied;
    if (request.methodRefused) return next();
    return authorizeMasterRoute(master, security, request, next);
  };
}

/**
 * libprocess' own authorization of a host route (`get_endpoints` on
 * /metrics/snapshot, /logging/toggle, /files/debug), after authentication
 * and before the handler: the 403, or undefined. Every master applies it,
 * leading or not (Mesos' master installs it at start).
 */
export function authorizeHostEndpoint(
  request: HttpRequest,
  processId: string,
  security: MasterSecurity,
): BodyResponse | undefined {
  const endpoint = `/${processId}${request.routePath}`;
  if (
    AUTHORIZABLE.has(endpoint) &&
    !security.authorizer.authorized("get_endpoints", principalOf(request), endpoint)
  ) {
    return forbidden(forbiddenMessage(request, `GET '${endpoint}'`));
  }
  return undefined;
}

/**
 * VIEW_FLAGS on a master's `/flags` (GET; with --acls other methods get the
 * handler's 405 first): the 403, or undefined. A standby serves its flags
 * itself, so it checks this as the leader does.
 */
export function authorizeFlags(
  request: HttpRequest,
  security: MasterSecurity,
): BodyResponse | undefined {
  const authorizer = security.authorizer;
  if (authorizer.acls.permissive && authorizer.acls.rules.size === 0) return undefined;
  if (request.method !== "GET" && request.method !== "HEAD") return undefined;
  return authorizer.authorized("view_flags", principalOf(request))
    ? undefined
    : deny(request, "view the flags");
}

/** Puts the guards in place and hands the scheduler API what it enforces. */
export function installMasterSecurity(options: InstallOptions): void {
  const { host, master, security } = options;
  const authenticate = (
    request: HttpRequest,
    realm: Realm | undefined,
  ): BodyResponse | undefined => {
    setRequestAuthorizer(request, security.authorizer);
    return authenticateInRealm(request, realm, security);
  };

  setHttpGuard(options.process, masterHttpGuard(master, security));

  for (const [id, realms] of Object.entries(HOST_REALMS)) {
    const p = host.process(id);
    if (p === undefined) continue;
    setHttpGuard(p, (request, next) => {
      const denied = authenticate(request, realms[request.routePath]);
      if (denied !== undefined) return denied;
      return authorizeHostEndpoint(request, id, security) ?? next();
    });
  }

  installAgentAuthentication(options);

  attachSchedulerSecurity(master, {
    authorizer: security.authorizer,
    rateLimiter: security.rateLimiter,
    metrics: options.metrics,
  });
}

const AGENT_REGISTRATIONS: ReadonlySet<string> = new Set([
  "mesos.internal.RegisterSlaveMessage",
  "mesos.internal.ReregisterSlaveMessage",
]);

/**
 * CRAM-MD5 for agents: the master answers AuthenticateMessage with a
 * handshake against `--credentials`; with `--authenticate_agents`, a
 * (re-)registration from an agent that has not authenticated (or whose
 * principal `register_agents` denies) is dropped, as Mesos does. Without
 * credentials the handshake still runs and refuses every principal (Mesos'
 * CRAM-MD5 authenticator is always loaded), so an agent with `--credential`
 * learns it was refused instead of retrying forever.
 */
function installAgentAuthentication(options: InstallOptions): void {
  const { host, master, security } = options;
  const authenticator = host.spawn(
    new CramMd5Authenticator(security.credentials, host.ip, security.authenticationTimeout),
  );
  const type = "mesos.internal.AuthenticateMessage";
  if (!options.process.handles(type)) {
    const codec = codecFor(type);
    options.process.install(
      type,
      (bytes) => {
        const r = codec.decodeProtobuf(bytes);
        return r.ok ? { ok: true, value: r.value } : { ok: false, error: r.error };
      },
      (from, message) => {
        options.onAuthenticate?.();
        authenticator.begin(from, message);
      },
    );
  }
  // As Mesos' master forgets a disconnected agent's (or framework's)
  // authentication: whatever binds its address next must authenticate again
  // rather than inherit the principal.
  options.process.onExited((pid) => authenticator.forget(pid.toString()));
  // Every (re-)registration is checked: authentication with
  // --authenticate_agents, and the register_agents ACL always (Mesos asks
  // its authorizer for every agent, authenticated or not).
  setMessageGuard(options.process, (from, name, body) => {
    if (!AGENT_REGISTRATIONS.has(name)) return true;
    const reregistering = name === "mesos.internal.ReregisterSlaveMessage";
    const principal = authenticator.principalOf(from);
    if (security.authenticateAgents && principal === undefined) {
      master.logger.warn(
        `Refusing ${reregistering ? "re-registration" : "registration"} of agent at ${from} ` +
          "because it is not authenticated",
      );
      return false;
    }
    if (security.authorizer.authorized("register_agents", principal)) return true;
    const codec = codecFor(
      reregistering
        ? "mesos.internal.ReregisterSlaveMessage"
        : "mesos.internal.RegisterSlaveMessage",
    );
    const decoded = codec.decodeProtobuf(body);
    const slave = decoded.ok ? decoded.value.slave : undefined;
    const who = principal === undefined ? "without a principal" : `with principal '${principal}'`;
    const what =
      `Not authorized to ${reregistering ? "reregister" : "register"} agent providing ` +
      `resources '${formatResources(slave?.resources ?? [])}' ${who}`;
    const agent = reregistering
      ? `re-registration of agent ${slave?.id?.value ?? ""} at ${from}`
      : `registration of agent at ${from}`;
    master.logger.warn(`Refusing ${agent} (${slave?.hostname ?? ""}): ${what}`);
    return false;
  });
}

// ---- authorization of master routes --------------------------------------------------------

const callCodec = codecFor("mesos.v1.master.Call");
const responseCodec = codecFor("mesos.v1.master.Response");
const eventCodec = codecFor("mesos.v1.master.Event");

function deny(request: HttpRequest, what: string): BodyResponse {
  return forbidden(forbiddenMessage(request, what));
}

/** The user of a framework (active or completed) by id. */
function frameworkUsers(master: Master): (id: string) => string | undefined {
  return (id) =>
    master.frameworks.get(id)?.info.user ??
    master.completedFrameworks.find((f) => f.id === id)?.info.user;
}

/** The own user (`command.user`) of an executor the master knows, for the v0 documents. */
function executorUsers(master: Master): ExecutorUserLookup {
  return (frameworkId, agentId, executorId) => {
    const f =
      master.frameworks.get(frameworkId) ??
      master.completedFrameworks.find((c) => c.id === frameworkId);
    return f?.executors.get(agentId)?.get(executorId)?.command?.user;
  };
}

/** The own user of a task the master knows (active, unreachable or completed), if it has one. */
function taskUserOf(master: Master, frameworkId: string, taskId: string): string | undefined {
  const f =
    master.frameworks.get(frameworkId) ??
    master.completedFrameworks.find((c) => c.id === frameworkId);
  if (f === undefined) return undefined;
  const task =
    f.tasks.get(taskId) ??
    f.unreachableTasks.get(taskId) ??
    f.completedTasks.find((t) => t.task_id.value === taskId);
  return task?.user;
}

/**
 * What teardown_frameworks is asked about for tearing down framework `id`:
 * undefined when no such framework is registered (the handler answers 400
 * first, as Mesos does), else the framework's principal, or any object for
 * a framework without one (Mesos then sets no object value).
 */
function teardownObject(master: Master, id: string): { object: string | undefined } | undefined {
  const f = master.frameworks.get(id);
  return f === undefined ? undefined : { object: f.info.principal };
}

function authorizeMasterRoute(
  master: Master,
  security: MasterSecurity,
  request: HttpRequest,
  next: NextHandler,
): HttpResponse | Promise<HttpResponse> {
  const authorizer = security.authorizer;
  // No ACLs at all: nothing to check or filter (the default costs nothing).
  if (authorizer.acls.permissive && authorizer.acls.rules.size === 0) return next();
  const principal = principalOf(request);
  const can = (action: AclAction, object?: string): boolean =>
    authorizer.authorized(action, principal, object);
  switch (request.routePath) {
    case "/flags":
      return authorizeFlags(request, security) ?? next();
    case "/teardown": {
      if (request.method !== "POST") return next();
      const form = decodeForm(request.text());
      const id = form.ok ? form.value.get("frameworkId") : undefined;
      const owner = id === undefined ? undefined : teardownObject(master, id);
      if (owner !== undefined && !can("teardown_frameworks", owner.object)) {
        return deny(request, `teardown framework ${id}`);
      }
      return next();
    }
    case "/weights": {
      if (request.method !== "PUT") return filtered(request, next, authorizer, "roles", master);
      // As Mesos: a malformed or invalid update is the handler's 400, before authorization.
      const parsed = parseWeightsBody(request.text());
      if (!parsed.ok) return next();
      const checked = checkWeights(parsed.value, master.config.roleWhitelist);
      if (!checked.ok) return next();
      const bad = checked.value.map((w) => w.role ?? "").find((r) => !can("update_weights", r));
      return bad === undefined ? next() : deny(request, `update the weight of role '${bad}'`);
    }
    // The reservation and volume endpoints authorize in their handlers,
    // after validating the operation (reservations.ts), as Mesos does.
    // Maintenance endpoints authorize in their handlers: changes once valid,
    // reads by leaving out what the caller may not see (as Mesos).
    case "/quota":
      // Changes are authorized by the quota handler once they are valid (as Mesos).
      return request.method === "GET" ? filteredQuota(request, next, authorizer) : next();
    case "/state":
    case "/state.json":
      return filtered(request, next, authorizer, "state", master);
    case "/frameworks":
      return filtered(request, next, authorizer, "frameworks", master);
    case "/slaves":
      return filtered(request, next, authorizer, "slaves", master);
    case "/tasks":
    case "/tasks.json":
      return filteredTasks(request, next, authorizer, master);
    case "/state-summary":
      return filtered(request, next, authorizer, "summary", master);
    case "/roles":
    case "/roles.json":
      return filtered(request, next, authorizer, "roles", master);
    case "/api/v1":
      return authorizeOperatorCall(master, authorizer, request, next);
    default:
      return next();
  }
}

// ---- filtering of documents ----------------------------------------------------------------

/**
 * The whole body of a response (a streamed one is collected), decoded when
 * it was gzip-encoded for the client: the filters read it, and the server
 * compresses what they send on.
 */
export async function collectBody(r: HttpResponse): Promise<Uint8Array> {
  const body = await collectRawBody(r);
  const encoding = Object.entries(r.headers).find(([k]) => k.toLowerCase() === "content-encoding");
  return encoding?.[1].toLowerCase() === "gzip" ? gunzipAsync(body) : body;
}

/**
 * Response headers for a new body made from an old one: its length,
 * framing and encoding no longer apply.
 */
function headersForNewBody(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    const lower = k.toLowerCase();
    if (
      lower !== "content-length" &&
      lower !== "transfer-encoding" &&
      lower !== "content-encoding"
    ) {
      out[k] = v;
    }
  }
  return out;
}

const gunzipAsync = promisify(gunzip);

function collectRawBody(r: HttpResponse): Promise<Uint8Array> {
  if (r.kind === "body") {
    return Promise.resolve(typeof r.body === "string" ? Buffer.from(r.body, "utf8") : r.body);
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const closers: ((reason: "ended" | "disconnected") => void)[] = [];
    let closed = false;
    r.start({
      write: (chunk) => {
        chunks.push(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : Buffer.from(chunk));
        return true;
      },
      end: () => {
        if (closed) return;
        closed = true;
        for (const c of closers) c("ended");
        resolve(Buffer.concat(chunks));
      },
      onClose: (cb) => {
        closers.push(cb);
      },
      onDrain: () => {},
      get closed() {
        return closed;
      },
      remote: "filter",
    });
  });
}

type DocKind = "state" | "frameworks" | "summary" | "roles" | "slaves";

/**
 * The VIEW_* actions that cut each document (Mesos' approvers of the
 * endpoint): a caller they all allow gets the handler's document untouched.
 */
const KIND_ACTIONS: Readonly<Record<DocKind, readonly AclAction[]>> = {
  state: ["view_frameworks", "view_tasks", "view_executors", "view_flags", "view_roles"],
  frameworks: ["view_frameworks", "view_tasks", "view_executors"],
  summary: ["view_frameworks", "view_roles"],
  roles: ["view_roles"],
  slaves: ["view_roles"],
};

function filterDoc(kind: DocKind, doc: Json, can: ViewPermissions, master: Master): Json {
  const users = frameworkUsers(master);
  switch (kind) {
    case "state":
      return filterStateJson(doc, can, executorUsers(master));
    case "frameworks":
      return filterFrameworksJson(doc, can, executorUsers(master));
    case "slaves":
      return filterSlavesJson(doc, can);
    case "summary":
      return filterStateSummaryJson(doc, can, users);
    case "roles":
      // GET /weights answers an array of WeightInfo: only the roles the caller may view (as Mesos).
      return Array.isArray(doc)
        ? (doc.filter((w: Json) => can.role(String(w.role ?? ""))) as unknown as Json)
        : filterRolesJson(doc, can);
  }
}

/** Runs the handler, then cuts its JSON (or JSONP) down to what the caller may view. */
async function filtered(
  request: HttpRequest,
  next: NextHandler,
  authorizer: LocalAuthorizer,
  kind: DocKind,
  master: Master,
): Promise<HttpResponse> {
  const r = await next();
  const principal = principalOf(request);
  if (r.status !== 200 || viewsEverything(authorizer, principal, KIND_ACTIONS[kind])) return r;
  const text = Buffer.from(await collectBody(r)).toString("utf8");
  const headers = headersForNewBody(r.headers);
  // Pollers re-read an unchanged document: reuse the last cut for this principal.
  const cacheKey = `${kind}\u0000${principal ?? ""}`;
  const cached = filteredCache.get(cacheKey);
  if (cached !== undefined && cached.text === text) return response(200, cached.body, headers);
  const open = text.indexOf("(");
  const jsonp = !text.startsWith("{") && !text.startsWith("[") && open > 0 && text.endsWith(")");
  const json = jsonp ? text.slice(open + 1, -1) : text;
  let doc: Json;
  try {
    doc = JSON.parse(json) as Json;
  } catch {
    return r.kind === "body" ? r : response(r.status, text, headers);
  }
  const can = viewPermissions(authorizer, principalOf(request));
  const out = JSON.stringify(filterDoc(kind, doc, can, master));
  const body = jsonp ? `${text.slice(0, open)}(${out})` : out;
  filteredCache.delete(cacheKey);
  filteredCache.set(cacheKey, { text, body });
  if (filteredCache.size > FILTERED_CACHE_SIZE) {
    const oldest = filteredCache.keys().next().value;
    if (oldest !== undefined) filteredCache.delete(oldest);
  }
  return response(200, body, headers);
}

/**
 * `/master/tasks` for a caller who may not view every framework or task:
 * as Mesos, the hidden tasks are left out before `offset` and `limit` pick
 * the page (cutting the handler's page would give short or shifted pages).
 */
function filteredTasks(
  request: HttpRequest,
  next: NextHandler,
  authorizer: LocalAuthorizer,
  master: Master,
): HttpResponse | Promise<HttpResponse> {
  const principal = principalOf(request);
  if (viewsEverything(authorizer, principal, ["view_frameworks", "view_tasks"])) return next();
  const query = request.query;
  const everything = new URLSearchParams(query);
  // The largest limit a query can give (a C int): every task, for paging after the cut.
  everything.set("limit", "2147483647");
  everything.set("offset", "0");
  const can = viewPermissions(authorizer, principal);
  const visible = filterTasksJson(tasksJson(master, everything), can, frameworkUsers(master));
  const tasks = Array.isArray(visible.tasks) ? visible.tasks : [];
  const [start, end] = pageBounds(
    parseCount(query.get("limit"), TASK_LIMIT),
    parseCount(query.get("offset"), 0),
    tasks.length,
  );
  return jsonResponse(request, JSON.stringify({ tasks: tasks.slice(start, end) }));
}

/** The last filtered document per (kind, principal), by the unfiltered text it came from. */
const filteredCache = new Map<string, { text: string; body: string }>();
const FILTERED_CACHE_SIZE = 32;

/** A QuotaStatus with only the roles `principal` may see (`get_quotas`). */
function quotaStatusFor(
  status: unknown,
  authorizer: LocalAuthorizer,
  principal: string | undefined,
): unknown {
  if (typeof status !== "object" || status === null) return status;
  const may = authorizer.approver("get_quotas", principal);
  const keep = (list: unknown): unknown =>
    Array.isArray(list) ? list.filter((q: Json) => may(String(q.role ?? ""))) : list;
  const st = status as Json;
  return { ...st, infos: keep(st.infos), configs: keep(st.configs) };
}

/** `GET /master/quota` cut down to the roles the caller may see. */
async function filteredQuota(
  request: HttpRequest,
  next: NextHandler,
  authorizer: LocalAuthorizer,
): Promise<HttpResponse> {
  const r = await next();
  const principal = principalOf(request);
  if (r.status !== 200 || authorizer.allowsEverything("get_quotas", principal)) return r;
  const text = Buffer.from(await collectBody(r)).toString("utf8");
  const open = text.indexOf("(");
  const jsonp = !text.startsWith("{") && open > 0 && text.endsWith(")");
  try {
    const doc = JSON.parse(jsonp ? text.slice(open + 1, -1) : text) as unknown;
    const out = JSON.stringify(quotaStatusFor(doc, authorizer, principal));
    return response(
      200,
      jsonp ? `${text.slice(0, open)}(${out})` : out,
      headersForNewBody(r.headers),
    );
  } catch {
    return response(r.status, text, headersForNewBody(r.headers));
  }
}

// ---- the v1 operator API -------------------------------------------------------------------

type ActionCheck = [AclAction, string | undefined, string];

function operatorChecks(master: Master, call: Call): ActionCheck[] | "filter" | undefined {
  switch (call.type) {
    case "GET_FLAGS":
      return [["view_flags", undefined, "view the flags"]];
    case "SET_LOGGING_LEVEL":
      return [["set_log_level", undefined, "set the log level"]];
    case "UPDATE_WEIGHTS": {
      // An invalid update is the handler's 400, before authorization (as Mesos).
      const checked = checkWeights(
        call.update_weights?.weight_infos ?? [],
        master.config.roleWhitelist,
      );
      if (!checked.ok) return [];
      return checked.value.map((w) => [
        "update_weights",
        w.role ?? "",
        `update the weight of role '${w.role ?? ""}'`,
      ]);
    }
    case "TEARDOWN": {
      const id = call.teardown?.framework_id.value ?? "";
      const owner = teardownObject(master, id);
      return owner === undefined ? [] : [["teardown_frameworks", owner.object, `teardown ${id}`]];
    }
    case "MARK_AGENT_GONE":
      return [["mark_agents_gone", undefined, "mark agents gone"]];
    case "DEACTIVATE_AGENT":
      return [["deactivate_agents", undefined, "deactivate agents"]];
    case "REACTIVATE_AGENT":
      return [["reactivate_agents", undefined, "reactivate agents"]];
    case "DRAIN_AGENT":
      // A bad request is the handler's 400, before authorization (as Mesos).
      if (call.drain_agent !== undefined && drainRefusal(master, call.drain_agent) !== undefined) {
        return [];
      }
      // Draining that ends in marking the agent gone needs both, as in Mesos.
      return call.drain_agent?.mark_gone === true
        ? [
            ["drain_agents", undefined, "drain agents"],
            ["mark_agents_gone", undefined, "mark agents gone"],
          ]
        : [["drain_agents", undefined, "drain agents"]];
    case "GET_QUOTA":
    case "GET_ROLES":
    case "GET_WEIGHTS":
    case "GET_AGENTS":
      return "filter";
    case "GET_STATE":
    case "GET_FRAMEWORKS":
    case "GET_TASKS":
    case "GET_EXECUTORS":
    case "SUBSCRIBE":
      return "filter";
    default:
      return undefined;
  }
}

/** The VIEW_* actions that cut each filtered v1 read (Mesos' approvers of the call). */
const CALL_ACTIONS: Readonly<Partial<Record<string, readonly AclAction[]>>> = {
  GET_ROLES: ["view_roles"],
  GET_WEIGHTS: ["view_roles"],
  GET_AGENTS: ["view_roles"],
  GET_FRAMEWORKS: ["view_frameworks"],
  GET_TASKS: ["view_frameworks", "view_tasks"],
  GET_EXECUTORS: ["view_frameworks", "view_executors"],
  GET_STATE: ["view_frameworks", "view_tasks", "view_executors", "view_roles"],
  SUBSCRIBE: ["view_frameworks", "view_tasks", "view_executors", "view_roles"],
};

async function authorizeOperatorCall(
  master: Master,
  authorizer: LocalAuthorizer,
  request: HttpRequest,
  next: NextHandler,
): Promise<HttpResponse> {
  if (request.method !== "POST") return next();
  const type = requestContentType(request);
  if (!type.ok) return next();
  const decoded =
    type.value === "protobuf"
      ? callCodec.decodeProtobuf(request.body)
      : callCodec.decodeJson(request.body);
  // Mesos authorizes a call only once it is decoded and valid and the
  // client accepts a response encoding: malformed or invalid calls get the
  // operator API's own 400, an unacceptable `Accept` its 406.
  if (!decoded.ok) return next();
  const call = decoded.value;
  if (call.type === undefined || validateOperatorCall(call) !== undefined) return next();
  if (!responseContentType(request).ok) return next();
  const principal = principalOf(request);
  const checks = operatorChecks(master, call);
  if (checks === undefined) return next();
  if (checks !== "filter") {
    for (const [action, object, what] of checks) {
      if (!authorizer.authorized(action, principal, object)) return deny(request, what);
    }
    return next();
  }
  const r = await next();
  const everything =
    call.type === "GET_QUOTA"
      ? authorizer.allowsEverything("get_quotas", principal)
      : viewsEverything(authorizer, principal, CALL_ACTIONS[call.type] ?? VIEW_ACTIONS);
  if (everything || r.status !== 200 || call.type === "SUBSCRIBE") {
    return call.type === "SUBSCRIBE" && !everything
      ? filterOperatorStream(r, authorizer, principal, master)
      : r;
  }
  const can = viewPermissions(authorizer, principal);
  const users = frameworkUsers(master);
  const body = await collectBody(r);
  const protobuf = (r.headers["Content-Type"] ?? "").includes("protobuf");
  const decodedResponse = protobuf
    ? responseCodec.decodeProtobuf(body)
    : responseCodec.decodeJson(body);
  if (!decodedResponse.ok) return response(r.status, body, headersForNewBody(r.headers));
  const message = decodedResponse.value as unknown as Json;
  const out: Json = { ...message };
  if (typeof message.get_state === "object" && message.get_state !== null) {
    out.get_state = filterV1State(message.get_state as Json, can);
  }
  if (typeof message.get_frameworks === "object" && message.get_frameworks !== null) {
    out.get_frameworks = filterV1Frameworks(message.get_frameworks as Json, can);
  }
  if (typeof message.get_tasks === "object" && message.get_tasks !== null) {
    out.get_tasks = filterV1Tasks(message.get_tasks as Json, can, users);
  }
  if (typeof message.get_roles === "object" && message.get_roles !== null) {
    const g = message.get_roles as Json;
    const roles = Array.isArray(g.roles) ? (g.roles as Json[]) : [];
    out.get_roles = { ...g, roles: roles.filter((r) => can.role(String(r.name ?? ""))) };
  }
  if (typeof message.get_weights === "object" && message.get_weights !== null) {
    const g = message.get_weights as Json;
    const infos = Array.isArray(g.weight_infos) ? (g.weight_infos as Json[]) : [];
    out.get_weights = { ...g, weight_infos: infos.filter((w) => can.role(String(w.role ?? ""))) };
  }
  if (typeof message.get_quota === "object" && message.get_quota !== null) {
    const quota = message.get_quota as Json;
    out.get_quota = { ...quota, status: quotaStatusFor(quota.status, authorizer, principal) };
  }
  if (typeof message.get_executors === "object" && message.get_executors !== null) {
    out.get_executors = filterV1Executors(message.get_executors as Json, can, users);
  }
  if (typeof message.get_agents === "object" && message.get_agents !== null) {
    out.get_agents = filterV1Agents(message.get_agents as Json, can);
  }
  const encoded = protobuf
    ? responseCodec.encodeProtobuf(out as never)
    : responseCodec.encodeJson(out as never);
  return response(200, encoded, headersForNewBody(r.headers));
}

/**
 * The operator event stream with what the caller may not view left out:
 * SUBSCRIBED's state is filtered like GET_STATE; TASK_ADDED, TASK_UPDATED
 * and FRAMEWORK_* events are dropped when the caller may not view that
 * framework (or task); FRAMEWORK_ADDED/UPDATED and AGENT_ADDED lose the
 * resources of roles it may not view. Every record is decoded, checked and
 * re-encoded.
 */
function filterOperatorStream(
  r: HttpResponse,
  authorizer: LocalAuthorizer,
  principal: string | undefined,
  master: Master,
): HttpResponse {
  if (r.kind !== "stream") return r;
  const protobuf = (r.headers["Content-Type"] ?? "").includes("protobuf");
  const can = viewPermissions(authorizer, principal);
  const users = frameworkUsers(master);
  const visible = (frameworkId: string, taskUser?: string): boolean => {
    const user = users(frameworkId);
    if (user === undefined) return false;
    return can.framework(user) && (taskUser === undefined || can.task(taskUser));
  };
  const keep = (event: Json): Json | undefined => {
    const id = (v: unknown): string =>
      typeof v === "object" && v !== null ? String((v as Json).value ?? "") : "";
    const get = (k: string): Json => (event[k] ?? {}) as Json;
    switch (event.type) {
      case "SUBSCRIBED": {
        const sub = get("subscribed");
        if (typeof sub.get_state !== "object" || sub.get_state === null) return event;
        return {
          ...event,
          subscribed: { ...sub, get_state: filterV1State(sub.get_state as Json, can) },
        };
      }
      case "TASK_ADDED": {
        const task = (get("task_added").task ?? {}) as Json;
        const fw = id(task.framework_id);
        const user = typeof task.user === "string" ? task.user : users(fw);
        return visible(fw, user) ? event : undefined;
      }
      case "TASK_UPDATED": {
        // VIEW_TASK's object is the task's own user when it has one (as for TASK_ADDED).
        const updated = get("task_updated");
        const fw = id(updated.framework_id);
        const status = (updated.status ?? {}) as Json;
        const user = taskUserOf(master, fw, id(status.task_id)) ?? users(fw);
        return visible(fw, user) ? event : undefined;
      }
      case "FRAMEWORK_ADDED":
      case "FRAMEWORK_UPDATED": {
        const key = event.type === "FRAMEWORK_ADDED" ? "framework_added" : "framework_updated";
        const framework = (get(key).framework ?? {}) as Json;
        const info = (framework.framework_info ?? {}) as Json;
        if (!can.framework(String(info.user ?? ""))) return undefined;
        // Its allocated and offered resources of roles the caller may not view are left out.
        const resources = ["allocated_resources", "offered_resources"];
        return {
          ...event,
          [key]: { ...get(key), framework: filterV1EventResources(framework, resources, can) },
        };
      }
      case "AGENT_ADDED": {
        // As Mesos: only the agent's total resources are cut by VIEW_ROLE here.
        const added = get("agent_added");
        const agent = (added.agent ?? {}) as Json;
        return {
          ...event,
          agent_added: { ...added, agent: filterV1EventResources(agent, ["total_resources"], can) },
        };
      }
      case "FRAMEWORK_REMOVED": {
        const info = (get("framework_removed").framework_info ?? {}) as Json;
        return can.framework(String(info.user ?? "")) ? event : undefined;
      }
      default:
        return event;
    }
  };
  return {
    kind: "stream",
    status: r.status,
    headers: r.headers,
    start: (stream) => {
      const decoder = new RecordIoDecoder();
      const proxy: ResponseStream = {
        write: (chunk) => {
          let records: Buffer[];
          try {
            records = decoder.decode(chunk);
          } catch {
            stream.abort?.();
            return false;
          }
          let more = true;
          for (const record of records) {
            const decoded = protobuf
              ? eventCodec.decodeProtobuf(record)
              : eventCodec.decodeJson(record);
            if (!decoded.ok) continue;
            const kept = keep(decoded.value as unknown as Json);
            if (kept === undefined) continue;
            const bytes = protobuf
              ? eventCodec.encodeProtobuf(kept as never)
              : eventCodec.encodeJson(kept as never);
            more = stream.write(encodeRecord(bytes));
          }
          return more;
        },
        end: () => stream.end(),
        onClose: (cb) => stream.onClose(cb),
        onDrain: (cb) => stream.onDrain(cb),
        get closed() {
          return stream.closed;
        },
        remote: stream.remote,
        get bufferedBytes() {
          return stream.bufferedBytes;
        },
        ...(stream.abort === undefined ? {} : { abort: () => stream.abort?.() }),
      };
      r.start(proxy);
    },
  };
}
