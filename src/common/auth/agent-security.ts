/**
 * The agent's HTTP authentication and authorization, from its flags:
 * `--http_credentials`, `--authenticate_http_readonly`,
 * `--authenticate_http_readwrite`, `--authenticate_http_executors`,
 * `--jwt_secret_key` and `--acls`. Read-only endpoints
 * (`/state`, `/flags`, `/containers`, `/monitor/statistics`, metrics and
 * files) are in realm `mesos-agent-readonly`, the operator API `/api/v1` in
 * `mesos-agent-readwrite`, the executor API `/api/v1/executor` in
 * `mesos-agent-executor` (see executor-auth.ts).
 */
import type { HttpRequest } from "../http/request.js";
import { forbidden } from "../http/response.js";
import { type HttpGuard, setHttpGuard } from "../http/router.js";
import type { ProcessHost } from "../process/process-host.js";
import { SystemClock } from "../time/clock.js";
import { LocalAuthorizer, NO_ACLS, parseAcls } from "./acls.js";
import { authenticateBasic, principalOf, REALMS } from "./basic.js";
import { type Credential, CredentialStore, loadCredentials } from "./credentials.js";
import {
  authenticateExecutor,
  authenticateWith,
  COMBINED,
  type ExecutorTokens,
  executorClaimsOf,
  type HttpAuthenticatorName,
  loadExecutorKey,
} from "./executor-auth.js";
import { type HostRealm, LIBPROCESS_HOST_REALMS } from "./host-realms.js";
import { forbiddenMessage, requestAuthorized, setRequestAuthorizer } from "./request-auth.js";
import {
  setRequestView,
  type ViewPermissions,
  viewPermissions,
  viewsEverything,
} from "./view-filter.js";

/** What an executor token shows of the agent's state once --acls are in force: nothing. */
const NOTHING_VISIBLE: ViewPermissions = {
  framework: () => false,
  task: () => false,
  executor: () => false,
  flags: false,
  role: () => false,
};

/** The agent flag values this module reads. */
export interface AgentSecurityFlags {
  readonly http_credentials?: string | undefined;
  /** `--credential`: what the agent authenticates to the master with. */
  readonly credential?: string | undefined;
  readonly authenticate_http_readonly: boolean;
  readonly authenticate_http_readwrite: boolean;
  readonly authenticate_http_executors?: boolean;
  /** `--jwt_secret_key`: the file with the key of executor tokens. */
  readonly jwt_secret_key?: string | undefined;
  readonly acls?: unknown;
  /** `--http_authenticators`: the built-in `basic` and `jwt`, comma-separated (no modules). */
  readonly http_authenticators?: string | undefined;
}

/** What the agent enforces on its HTTP endpoints. */
export interface AgentSecurity {
  readonly credentials: CredentialStore;
  readonly authorizer: LocalAuthorizer;
  readonly readonly: boolean;
  readonly readwrite: boolean;
  /** The agent's own credential for the master (CRAM-MD5), when `--credential` is set. */
  readonly credential: Credential | undefined;
  /** Signs and checks executor tokens, with `--jwt_secret_key`. */
  readonly executorTokens: ExecutorTokens | undefined;
  /** `--authenticate_http_executors`: the executor API needs a token (or credentials). */
  readonly executors: boolean;
  /**
   * The authenticators of every realm that requires authentication, in
   * order: `--http_authenticators`, by default `basic` (and `jwt` with
   * `--authenticate_http_executors`), as Mesos' agent.
   */
  readonly authenticators: readonly HttpAuthenticatorName[];
}

/** Reads the flags; throws an Error with one line naming the file or flag on bad input. */
export function loadAgentSecurity(
  flags: AgentSecurityFlags,
  aclsFile?: string,
  warn: (line: string) => void = () => {},
): AgentSecurity {
  const executors = flags.authenticate_http_executors === true;
  const authenticators = httpAuthenticators(flags.http_authenticators, executors);
  let credentials = new CredentialStore();
  if (flags.http_credentials !== undefined) {
    const loaded = loadCredentials(flags.http_credentials, "http_credentials", undefined, warn);
    if (!loaded.ok) throw new Error(loaded.error);
    credentials = new CredentialStore(loaded.value);
  }
  if (executors && flags.jwt_secret_key === undefined) {
    throw new Error(
      "--jwt_secret_key must be specified when --authenticate_http_executors is set to true",
    );
  }
  // As Mesos' agent: each realm that requires authentication gets every
  // authenticator, and one that cannot be made stops the agent.
  const realms: [boolean, string][] = [
    [executors, REALMS.agentExecutor],
    [flags.authenticate_http_readonly, REALMS.agentReadonly],
    [flags.authenticate_http_readwrite, REALMS.agentReadwrite],
  ];
  for (const [on, realm] of realms) {
    if (!on) continue;
    for (const name of authenticators) {
      const missing =
        name === "basic"
          ? flags.http_credentials === undefined && "No credentials"
          : flags.jwt_secret_key === undefined && "No secret key";
      if (missing !== false) {
        throw new Error(
          `Failed to create HTTP authenticator module '${name}': ${missing} provided for ` +
            `the default '${name}' HTTP authenticator for realm '${realm}'`,
        );
      }
    }
  }
  let credential: Credential | undefined;
  if (flags.credential !== undefined) {
    const loaded = loadCredentials(flags.credential, "credential", undefined, warn);
    if (!loaded.ok) throw new Error(loaded.error);
    credential = loaded.value[0];
    if (credential === undefined) {
      throw new Error(`The credential file '${flags.credential}' holds no principal`);
    }
  }
  const executorTokens =
    flags.jwt_secret_key === undefined ? undefined : loadExecutorKey(flags.jwt_secret_key, warn);
  let authorizer = new LocalAuthorizer(NO_ACLS);
  if (flags.acls !== undefined) {
    const parsed = parseAcls(flags.acls);
    if (!parsed.ok) {
      const source = aclsFile === undefined ? "--acls" : `'${aclsFile}'`;
      throw new Error(`Failed to parse ACLs from ${source}: ${parsed.error}`);
    }
    authorizer = new LocalAuthorizer(parsed.value);
  }
  return {
    credentials,
    authorizer,
    readonly: flags.authenticate_http_readonly,
    readwrite: flags.authenticate_http_readwrite,
    credential,
    executorTokens,
    executors,
    authenticators,
  };
}

/**
 * `--http_authenticators` as a list: unset is `basic`, or `basic,jwt` with
 * `--authenticate_http_executors` (Mesos' agent default); only the built-in
 * names exist here.
 */
function httpAuthenticators(
  value: string | undefined,
  executors: boolean,
): readonly HttpAuthenticatorName[] {
  if (value === undefined) return executors ? COMBINED : ["basic"];
  const names = value.split(",");
  for (const name of names) {
    if (name !== "basic" && name !== "jwt") {
      throw new Error(
        `--http_authenticators=${value}: '${name}' is not a built-in HTTP authenticator ` +
          "(only 'basic' and 'jwt'; modules are not supported)",
      );
    }
  }
  return names as HttpAuthenticatorName[];
}

type Realm = HostRealm;

const AGENT_REALMS: Readonly<Record<string, Realm>> = {
  "/state": "readonly",
  "/state.json": "readonly",
  "/flags": "readonly",
  "/containers": "readonly",
  "/containerizer/debug": "readonly",
  "/monitor/statistics": "readonly",
  "/monitor/statistics.json": "readonly",
  "/api/v1": "readwrite",
};

const HOST_REALMS: Readonly<Record<string, Readonly<Record<string, Realm>>>> = {
  ...LIBPROCESS_HOST_REALMS,
  monitor: { "/statistics": "readonly", "/statistics.json": "readonly" },
};

/** Endpoints `get_endpoints` governs on the agent. */
const AUTHORIZABLE: ReadonlySet<string> = new Set([
  "/containers",
  "/containerizer/debug",
  "/monitor/statistics",
  "/metrics/snapshot",
  "/logging/toggle",
  "/files/debug",
]);

/** Token expiry is checked against real time. */
const clock = new SystemClock();

/** Agent endpoints that take only GET once --acls is set (their handlers answer 405 first). */
const GET_ONLY: ReadonlySet<string> = new Set([
  "/flags",
  "/containers",
  "/containerizer/debug",
  "/monitor/statistics",
  "/monitor/statistics.json",
]);

function refusesMethod(request: HttpRequest, endpoint = request.routePath): boolean {
  return GET_ONLY.has(endpoint) && request.method !== "GET" && request.method !== "HEAD";
}

/** Guards the agent process' routes and the host's metrics, files, logging and monitor routes. */
export function installAgentSecurity(
  host: ProcessHost,
  agentProcess: object,
  security: AgentSecurity,
): void {
  const authenticate = (request: HttpRequest, realm: Realm | undefined) => {
    setRequestAuthorizer(request, security.authorizer);
    if (realm === undefined) return undefined;
    const name = realm === "readonly" ? REALMS.agentReadonly : REALMS.agentReadwrite;
    const required = realm === "readonly" ? security.readonly : security.readwrite;
    if (required) {
      const nowSecs = clock.now() / 1000;
      return authenticateWith(
        request,
        name,
        security.authenticators,
        security.credentials,
        security.executorTokens,
        nowSecs,
      );
    }
    const result = authenticateBasic(request, name, security.credentials, required);
    return result.ok ? undefined : result.response;
  };
  // A caller with an executor token (`jwt`) has claims and no principal:
  // with --acls it is refused everything but its implicit nested-container
  // actions (requestAuthorized), as Mesos' local authorizer rejects such a
  // subject; it is not the anonymous caller the ACLs' ANY would admit.
  const authorizeEndpoint = (request: HttpRequest, endpoint: string) =>
    AUTHORIZABLE.has(endpoint) && !requestAuthorized(request, "get_endpoints", endpoint)
      ? forbidden(forbiddenMessage(request, `GET '${endpoint}'`))
      : undefined;

  const agentGuard: HttpGuard = async (request, next) => {
    if (request.routePath === "/api/v1/executor") {
      setRequestAuthorizer(request, security.authorizer);
      const tokens = security.executorTokens;
      if (!security.executors || tokens === undefined) return next();
      const nowSecs = clock.now() / 1000;
      return (
        authenticateExecutor(
          request,
          tokens,
          security.credentials,
          nowSecs,
          security.authenticators,
        ) ?? next()
      );
    }
    const denied = authenticate(request, AGENT_REALMS[request.routePath]);
    if (denied !== undefined) return denied;
    // As in Mesos' agent: after authentication, a method the endpoint does
    // not take is answered 405 by the handler before any authorization.
    if (request.methodRefused || refusesMethod(request)) return next();
    const refused = authorizeEndpoint(request, request.routePath);
    if (refused !== undefined) return refused;
    if (request.routePath === "/flags") {
      return requestAuthorized(request, "view_flags")
        ? next()
        : forbidden(forbiddenMessage(request, "view the flags"));
    }
    if (request.routePath === "/state" || request.routePath === "/state.json") {
      // A caller who may not view everything gets the document built for its
      // view (the handler reads it); everyone else the unfiltered one, at no cost.
      const principal = principalOf(request);
      if (executorClaimsOf(request) !== undefined && security.authorizer.acls !== NO_ACLS) {
        setRequestView(request, NOTHING_VISIBLE);
      } else if (!viewsEverything(security.authorizer, principal)) {
        setRequestView(request, viewPermissions(security.authorizer, principal));
      }
    }
    return next();
  };
  setHttpGuard(agentProcess, agentGuard);
  for (const [id, realms] of Object.entries(HOST_REALMS)) {
    const p = host.process(id);
    if (p === undefined) continue;
    setHttpGuard(p, (request, next) => {
      const denied = authenticate(request, realms[request.routePath]);
      if (denied !== undefined) return denied;
      const endpoint = `/${id}${request.routePath}`;
      if (refusesMethod(request, endpoint)) return next();
      return authorizeEndpoint(request, endpoint) ?? next();
    });
  }
}
