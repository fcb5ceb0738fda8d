/**
 * The `MESOS_*` environment an agent gives every executor, read and checked
 * once at start-up. Rules follow the Mesos v1 executor library: ids are
 * required, the agent address comes from `MESOS_AGENT_ENDPOINT` (or the
 * legacy `MESOS_SLAVE_PID`), and with `MESOS_CHECKPOINT=1` the recovery
 * timeout and subscription backoff must be set.
 */
import { parseDuration } from "./duration.js";

/** Where the agent's executor API is served. */
export interface AgentAddress {
  /** TCP host, absent when `socketPath` is used. */
  host?: string;
  port?: number;
  /** Unix domain socket (`MESOS_DOMAIN_SOCKET`). */
  socketPath?: string;
  /** HTTP path of the executor API, e.g. `/slave(1)/api/v1/executor`. */
  path: string;
}

/** Everything an executor learns from its environment. */
export interface ExecutorEnvironment {
  frameworkId: string;
  executorId: string;
  agent: AgentAddress;
  /** Sandbox on the host (`MESOS_DIRECTORY`), if set. */
  directory?: string;
  /** Sandbox as seen by the executor (`MESOS_SANDBOX`), if set. */
  sandbox?: string;
  /** Framework checkpointing: reconnect to a restarted agent instead of exiting. */
  checkpoint: boolean;
  /** How long to keep trying to re-subscribe after losing the agent (checkpoint only). */
  recoveryTimeoutMs?: number;
  /** Upper bound of the random backoff between re-subscription attempts (checkpoint only). */
  subscriptionBackoffMaxMs?: number;
  /** Time the agent allows between SHUTDOWN and destroying the container. */
  shutdownGracePeriodMs: number;
  /** JWT for `Authorization: Bearer` (`MESOS_EXECUTOR_AUTHENTICATION_TOKEN`). */
  authenticationToken?: string;
  /** `MESOS_LOCAL` is set (in-process test cluster). */
  local: boolean;
}

/** Mesos' default `--executor_shutdown_grace_period`. */
export const DEFAULT_SHUTDOWN_GRACE_PERIOD_MS = 5000;

type Env = Readonly<Record<string, string | undefined>>;

function duration(env: Env, name: string): number | string {
  const text = env[name] ?? "";
  const parsed = parseDuration(text);
  return typeof parsed === "number" ? parsed : `${name}: ${parsed.error}`;
}

/** Parses `ip:port` or `host:port` (IPv6 in brackets). */
function parseEndpoint(text: string): { host: string; port: number } | undefined {
  const m = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(text.trim());
  if (m === null || m[1] === undefined || m[1] === "") return undefined;
  const port = Number(m[2]);
  return port > 0 && port < 65536 ? { host: m[1], port } : undefined;
}

function agentAddress(env: Env): AgentAddress | string {
  // The libprocess id of the agent ("slave(1)") prefixes the API path, as the
  // Mesos executor library does; without a pid the un-prefixed alias is used.
  let path = "/api/v1/executor";
  let fromPid: { host: string; port: number } | undefined;
  const pid = env.MESOS_SLAVE_PID;
  if (pid !== undefined && pid !== "") {
    const at = pid.indexOf("@");
    fromPid = at > 0 ? parseEndpoint(pid.slice(at + 1)) : undefined;
    if (fromPid === undefined) return `MESOS_SLAVE_PID: '${pid}' is not of the form id@ip:port`;
    path = `/${pid.slice(0, at)}/api/v1/executor`;
  }
  const socketPath = env.MESOS_DOMAIN_SOCKET;
  if (socketPath !== undefined && socketPath !== "") return { socketPath, path };
  const endpoint = env.MESOS_AGENT_ENDPOINT;
  if (endpoint !== undefined && endpoint !== "") {
    const parsed = parseEndpoint(endpoint);
    if (parsed === undefined)
      return `MESOS_AGENT_ENDPOINT: '${endpoint}' is not of the form ip:port`;
    return { ...parsed, path };
  }
  if (fromPid !== undefined) return { ...fromPid, path };
  return "expecting 'MESOS_AGENT_ENDPOINT' (or 'MESOS_SLAVE_PID') to be set in the environment";
}

/**
 * Reads the executor environment. Returns a one-line error message naming
 * the offending variable when something required is missing or malformed.
 */
export function readExecutorEnvironment(env: Env): ExecutorEnvironment | { error: string } {
  const frameworkId = env.MESOS_FRAMEWORK_ID;
  if (frameworkId === undefined || frameworkId === "") {
    return { error: "expecting 'MESOS_FRAMEWORK_ID' to be set in the environment" };
  }
  const executorId = env.MESOS_EXECUTOR_ID;
  if (executorId === undefined || executorId === "") {
    return { error: "expecting 'MESOS_EXECUTOR_ID' to be set in the environment" };
  }
  const agent = agentAddress(env);
  if (typeof agent === "string") return { error: agent };

  const checkpoint = env.MESOS_CHECKPOINT === "1";
  const result: ExecutorEnvironment = {
    frameworkId,
    executorId,
    agent,
    checkpoint,
    shutdownGracePeriodMs: DEFAULT_SHUTDOWN_GRACE_PERIOD_MS,
    local: env.MESOS_LOCAL !== undefined,
  };
  if (env.MESOS_DIRECTORY !== undefined) result.directory = env.MESOS_DIRECTORY;
  if (env.MESOS_SANDBOX !== undefined) result.sandbox = env.MESOS_SANDBOX;
  const token = env.MESOS_EXECUTOR_AUTHENTICATION_TOKEN;
  if (token !== undefined && token !== "") result.authenticationToken = token;

  if (checkpoint) {
    for (const name of ["MESOS_RECOVERY_TIMEOUT", "MESOS_SUBSCRIPTION_BACKOFF_MAX"]) {
      if (env[name] === undefined) {
        return { error: `expecting '${name}' to be set in the environment (MESOS_CHECKPOINT=1)` };
      }
    }
    const recovery = duration(env, "MESOS_RECOVERY_TIMEOUT");
    if (typeof recovery === "string") return { error: recovery };
    const backoff = duration(env, "MESOS_SUBSCRIPTION_BACKOFF_MAX");
    if (typeof backoff === "string") return { error: backoff };
    result.recoveryTimeoutMs = recovery;
    result.subscriptionBackoffMaxMs = backoff;
  }
  if (env.MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD !== undefined) {
    const grace = duration(env, "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD");
    if (typeof grace === "string") return { error: grace };
    result.shutdownGracePeriodMs = grace;
  }
  return result;
}

/**
 * Variables that change how Node itself starts, which the agent keeps away
 * from our executors' own Node processes while their tasks must still see
 * them: `NODE_EXTRA_CA_CERTS` makes Node parse the whole CA file at start
 * (~50 ms of CPU per executor; the executor's TLS uses the
 * `LIBPROCESS_SSL_*` settings), and `NODE_OPTIONS` would give the executor
 * the task's Node flags (any V8 flag also voids Node's code cache). The agent
 * passes each as `MESOS_TS_TASK_<name>`; {@link restoreTaskVariables} puts it
 * back before the task's environment is built.
 */
export const NODE_STARTUP_VARIABLES: readonly string[] = ["NODE_EXTRA_CA_CERTS", "NODE_OPTIONS"];

/** Prefix under which the agent passes {@link NODE_STARTUP_VARIABLES} to our executors. */
export const TASK_VARIABLE_PREFIX = "MESOS_TS_TASK_";

/** Moves each `MESOS_TS_TASK_<name>` of `env` back to `<name>` (what the task inherits). */
export function restoreTaskVariables(env: Record<string, string | undefined>): void {
  for (const name of NODE_STARTUP_VARIABLES) {
    const value = env[TASK_VARIABLE_PREFIX + name];
    if (value === undefined) continue;
    delete env[TASK_VARIABLE_PREFIX + name];
    env[name] = value;
  }
}
