/**
 * The environment an executor starts with, as Mesos builds it
 * (`executorEnvironment()` in slave.cpp plus the Mesos containerizer): none
 * of the agent's own environment except `LIBPROCESS_IP`, then
 * `--executor_environment_variables`, `LIBPROCESS_PORT=0`, the `MESOS_*`
 * variables, `MESOS_SANDBOX`, and last the executor command's own
 * `environment` (which wins). `PATH` gets the host default when nothing set it.
 * Our own (Node) executors get `NODE_EXTRA_CA_CERTS` and `NODE_OPTIONS`
 * under another name (containerizer/executor-command.ts).
 */
import { Duration } from "../common/flags/duration.js";
import type { CommandInfo, ExecutorInfo } from "../common/protocol/generated/mesos-v1.js";
import { shieldNodeStartupVariables } from "./containerizer/executor-command.js";

/** The `PATH` the Mesos launcher gives a container that has none. */
export const HOST_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** What the environment is built from. */
export interface ExecutorEnvironmentInput {
  executor: ExecutorInfo;
  /** Sandbox on the host. */
  directory: string;
  agentId: string;
  /** The agent's UPID text, `slave(1)@ip:port`. */
  agentPid: string;
  /** `ip:port` of the agent. */
  agentEndpoint: string;
  /** FrameworkInfo.checkpoint. */
  checkpoint: boolean;
  /** `--executor_environment_variables`, if given. */
  extraVariables?: Readonly<Record<string, string>> | undefined;
  /** `--executor_shutdown_grace_period`. */
  shutdownGracePeriod: Duration;
  /** `--recovery_timeout` (only used with checkpointing). */
  recoveryTimeout: Duration;
  /** `--executor_reregistration_timeout` (only used with checkpointing). */
  reregistrationTimeout: Duration;
  /** `--http_command_executor`. */
  httpCommandExecutor: boolean;
  /** The agent's own environment; only LIBPROCESS_IP is taken from it. */
  agentEnv?: Readonly<Record<string, string | undefined>>;
  /** Set `MESOS_LOCAL` (mesos-local runs the agent in-process). */
  local?: boolean;
}

/** The `MESOS_*` variables and friends (before the command's own environment). */
export function agentExecutorEnvironment(input: ExecutorEnvironmentInput): Record<string, string> {
  const env: Record<string, string> = {};
  const libprocessIp = input.agentEnv?.LIBPROCESS_IP;
  if (libprocessIp !== undefined && libprocessIp !== "") env.LIBPROCESS_IP = libprocessIp;
  for (const [k, v] of Object.entries(input.extraVariables ?? {})) env[k] = v;
  env.LIBPROCESS_PORT = "0";
  env.MESOS_FRAMEWORK_ID = input.executor.framework_id?.value ?? "";
  env.MESOS_EXECUTOR_ID = input.executor.executor_id.value;
  env.MESOS_DIRECTORY = input.directory;
  env.MESOS_SLAVE_ID = input.agentId;
  env.MESOS_SLAVE_PID = input.agentPid;
  env.MESOS_AGENT_ENDPOINT = input.agentEndpoint;
  env.MESOS_CHECKPOINT = input.checkpoint ? "1" : "0";
  env.MESOS_HTTP_COMMAND_EXECUTOR = input.httpCommandExecutor ? "1" : "0";
  const grace = input.executor.shutdown_grace_period?.nanoseconds;
  env.MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD = (
    grace === undefined ? input.shutdownGracePeriod : Duration.nanoseconds(grace)
  ).toString();
  if (input.checkpoint) {
    env.MESOS_RECOVERY_TIMEOUT = input.recoveryTimeout.toString();
    env.MESOS_SUBSCRIPTION_BACKOFF_MAX = input.reregistrationTimeout.toString();
  }
  if (input.local === true) env.MESOS_LOCAL = "1";
  return env;
}

/**
 * The complete environment of the executor process: the agent's variables,
 * `MESOS_SANDBOX`, then the command's `environment`, and a default `PATH`.
 * SECRET variables are left out here: the containerizer's
 * `environment_secret` isolator resolves them and adds their values.
 */
export function executorProcessEnvironment(
  input: ExecutorEnvironmentInput,
): Record<string, string> {
  const env = agentExecutorEnvironment(input);
  env.MESOS_SANDBOX = input.directory;
  applyCommandEnvironment(env, input.executor.command);
  if (env.PATH === undefined) env.PATH = HOST_DEFAULT_PATH;
  // Our own executors start without NODE_EXTRA_CA_CERTS/NODE_OPTIONS; their tasks get them back.
  shieldNodeStartupVariables(input.executor.command, env);
  return env;
}

function applyCommandEnvironment(env: Record<string, string>, command: CommandInfo | undefined) {
  for (const variable of command?.environment?.variables ?? []) {
    if (variable.type === "SECRET") continue;
    env[variable.name] = variable.value ?? "";
  }
}
