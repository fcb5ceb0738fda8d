/**
 * Assembles one agent inside a running process host: resources and
 * attributes from the flags, the SlaveInfo, the launcher helper, the POSIX
 * containerizer, the `slave(N)` process and the agent core, then starts
 * registering with the master. `mesos-agent` runs one of these in its own
 * host; `mesos-local` can run several in one host.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { MESOS_COMPATIBLE_VERSION } from "../common/flags/shared-flags.js";
import { buildInfoAt, versionJson } from "../common/http/common-endpoints.js";
import { operatorServices } from "../common/http/operator-processes.js";
import type { Logger } from "../common/observability/logger.js";
import type { ProcessHost } from "../common/process/process-host.js";
import type { SlaveInfo } from "../common/protocol/generated/mesos-internal.js";
import type { Attribute, DomainInfo } from "../common/protocol/generated/mesos-v1.js";
import { codecFor } from "../common/protocol/index.js";
import { detectAgentResources, parseAttributes } from "../common/resources/index.js";
import type { Clock } from "../common/time/clock.js";
import type { RandomSource } from "../common/time/random.js";
import { Agent } from "./agent.js";
import { AgentProcess } from "./agent-process.js";
import {
  describeCommandExecutorScript,
  findCommandExecutor,
  findDefaultExecutor,
} from "./containerizer/executor-command.js";
import { LauncherClient } from "./containerizer/launcher.js";
import { PosixContainerizer } from "./containerizer/posix-containerizer.js";
import { readBootId } from "./containerizer/proc.js";
import type { AgentFlags } from "./flags.js";
import { installAgentOperatorSurface } from "./http/operator-surface.js";
import { SandboxFiles } from "./http/sandbox-files.js";
import { bootIdPath } from "./paths.js";
import { AGENT_CAPABILITIES } from "./registration-messages.js";
import { wireResources } from "./wire-resources.js";

export interface StartAgentOptions {
  host: ProcessHost;
  /** `slave(1)` unless several agents share the host. */
  processId?: string;
  flags: AgentFlags;
  /** Every flag as text, for `/flags` and `/state`. */
  flagStrings: Record<string, string>;
  /** The master's UPID text (`master@ip:port`). */
  master: string;
  /** Hostname to report. */
  hostname: string;
  logger: Logger;
  clock: Clock;
  random: RandomSource;
  /** Set MESOS_LOCAL for executors (mesos-local). */
  local?: boolean;
}

/** A running agent. */
export interface AgentHandle {
  readonly agent: Agent;
  readonly process: AgentProcess;
  /** Resolves when the agent must stop: `fatal` (exit 1) or `shutdown` (asked by the master). */
  readonly ended: Promise<{ kind: "fatal" | "shutdown"; message: string }>;
  /**
   * Stops the agent: executors of non-checkpointing frameworks are shut
   * down (SHUTDOWN, then killed after their grace period), those of
   * checkpointing frameworks keep running; waits at most `timeoutMs`.
   */
  stop(timeoutMs?: number): Promise<void>;
}

/** Builds the agent's SlaveInfo, or a one-line error for bad --resources/--attributes/--domain. */
export function buildSlaveInfo(
  flags: AgentFlags,
  hostname: string,
  port: number,
  logger: Logger,
): { ok: true; info: SlaveInfo } | { ok: false; error: string } {
  const resources = detectAgentResources({
    resources: flags.resources,
    defaultRole: flags.default_role,
    workDir: flags.work_dir,
    logger,
  });
  if (!resources.ok)
    return { ok: false, error: `Failed to determine agent resources: ${resources.error}` };
  let attributes: Attribute[] = [];
  if (flags.attributes !== undefined) {
    const parsed = parseAttributes(flags.attributes);
    if (!parsed.ok) return { ok: false, error: `Failed to parse --attributes: ${parsed.error}` };
    attributes = parsed.value as unknown as Attribute[];
  }
  const info: SlaveInfo = {
    hostname,
    port,
    resources: wireResources(resources.value),
    attributes,
    checkpoint: true,
  };
  if (flags.domain !== undefined) {
    const domain = codecFor<DomainInfo>("mesos.v1.DomainInfo").decodeJson(flags.domain);
    if (!domain.ok)
      return { ok: false, error: `Failed to parse --domain: ${domain.error.message}` };
    info.domain = domain.value;
  }
  return { ok: true, info };
}

/** Isolators the POSIX containerizer understands (accounting only). */
const KNOWN_ISOLATORS = new Set(["posix/cpu", "posix/mem", "posix/disk", "filesystem/posix"]);

/** Says which asked-for isolation features are not there yet (the agent still starts). */
function warnUnsupported(flags: AgentFlags, logger: Logger): void {
  const list = (text: string) =>
    text
      .split(",")
      .map((x) => x.trim())
      .filter((x) => x !== "");
  for (const isolator of list(flags.isolation)) {
    if (!KNOWN_ISOLATORS.has(isolator)) {
      logger.warn(
        `Isolator '${isolator}' is not supported yet: resources are accounted, not isolated`,
      );
    }
  }
  if (list(flags.containerizers).includes("docker")) {
    logger.warn("The Docker containerizer is not supported yet: only the Mesos containerizer runs");
  }
}

async function writeBootId(workDir: string, logger: Logger): Promise<string> {
  const bootId = await readBootId();
  try {
    const path = bootIdPath(workDir);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bootId);
  } catch (e) {
    logger.warn(`Failed to record the boot id: ${(e as Error).message}`);
  }
  return bootId;
}

/** Starts an agent in `host` (which must be listening). Throws a one-line Error on bad flags. */
export async function startAgentInHost(options: StartAgentOptions): Promise<AgentHandle> {
  const { flags, logger, host } = options;
  await mkdir(flags.work_dir, { recursive: true });
  const built = buildSlaveInfo(flags, options.hostname, host.port, logger);
  if (!built.ok) throw new Error(built.error);
  const info = built.info;
  const bootId = await writeBootId(flags.work_dir, logger);
  const processId = options.processId ?? "slave(1)";

  let containerizer: PosixContainerizer | undefined;
  const launcher = new LauncherClient(
    logger,
    (pid, exit) => containerizer?.processExited(pid, exit),
    () => containerizer?.helperLost(),
  );
  launcher.start();
  containerizer = new PosixContainerizer({
    workDir: flags.work_dir,
    launcher,
    logger,
    frameworksHome: flags.frameworks_home,
    fetcherStallTimeoutMs: flags.fetcher_stall_timeout.toMs(),
    bootId,
  });
  const services = operatorServices(host, { clock: options.clock, logger });
  const sandboxes = new SandboxFiles(services.files, flags.work_dir, logger);
  const build = buildInfoAt(options.clock.now());
  const stateContext = () => ({
    flags: options.flagStrings,
    logDir: flags.log_dir,
    externalLogFile: flags.external_log_file,
    version: MESOS_COMPATIBLE_VERSION,
    build: { date: build.buildDate, time: build.buildTime, user: build.buildUser },
  });
  const agentProcess = new AgentProcess(processId, logger, {
    state: stateContext,
    version: () => versionJson(build),
  });
  host.spawn(agentProcess);
  const selfPid = agentProcess.self.toString();

  let settle: (outcome: { kind: "fatal" | "shutdown"; message: string }) => void = () => {};
  const ended = new Promise<{ kind: "fatal" | "shutdown"; message: string }>((resolve) => {
    settle = resolve;
  });
  let stopping: (() => void) | undefined;
  warnUnsupported(flags, logger);
  logger.info(describeCommandExecutorScript());
  const isRoot = process.getuid?.() === 0;
  if (flags.switch_user && !isRoot) {
    logger.warn(
      "--switch_user is set but the agent is not running as root: tasks run as the agent's user",
    );
  }
  const agent = new Agent({
    config: {
      workDir: flags.work_dir,
      selfPid,
      endpoint: host.address,
      info,
      capabilities: AGENT_CAPABILITIES,
      version: MESOS_COMPATIBLE_VERSION,
      launcherDir: flags.launcher_dir,
      commandExecutorPath: findCommandExecutor(flags.launcher_dir),
      defaultExecutorPath: findDefaultExecutor(flags.launcher_dir),
      executorRegistrationTimeout: flags.executor_registration_timeout,
      executorShutdownGracePeriod: flags.executor_shutdown_grace_period,
      recoveryTimeout: flags.recovery_timeout,
      executorReregistrationTimeout: flags.executor_reregistration_timeout,
      httpCommandExecutor: flags.http_command_executor,
      executorEnvironmentVariables: flags.executor_environment_variables as
        | Record<string, string>
        | undefined,
      switchUser: flags.switch_user && isRoot,
      registrationBackoffFactor: flags.registration_backoff_factor,
      maxCompletedExecutorsPerFramework: flags.max_completed_executors_per_framework,
      agentEnv: process.env,
      ...(options.local === true ? { local: true } : {}),
    },
    clock: options.clock,
    random: options.random,
    logger,
    transport: agentProcess.transport,
    containerizer: sandboxes.wrap(containerizer),
    onFatal: (message) => settle({ kind: "fatal", message }),
    onTerminated: () => {
      if (stopping !== undefined) stopping();
      else settle({ kind: "shutdown", message: "asked to shut down by the master" });
    },
  });
  agentProcess.bind(agent);
  containerizer.attach(sandboxes.events(agent));
  installAgentOperatorSurface({
    host,
    agent,
    process: agentProcess,
    services,
    flags: options.flagStrings,
    state: stateContext,
    build,
    logger,
    clock: options.clock,
    logDir: flags.log_dir,
    externalLogFile: flags.external_log_file,
  });
  logger.info(`Agent resources: ${agent.resources.toString()}`);
  if ((info.attributes ?? []).length > 0 && flags.attributes !== undefined) {
    logger.info(`Agent attributes: ${flags.attributes}`);
  }
  logger.info(`Agent hostname: ${info.hostname}`);
  agent.start(options.master);

  const stop = async (timeoutMs = 30_000): Promise<void> => {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      stopping = () => {
        clearTimeout(timer);
        resolve();
      };
      agent.beginTermination({ keepCheckpointed: true });
    });
    containerizer?.stop();
    launcher.stop();
    host.terminate(agentProcess);
  };
  return { agent, process: agentProcess, ended, stop };
}
