/**
 * Assembles one agent inside a running process host: resources and
 * attributes from the flags, the SlaveInfo, the launcher helper, the POSIX
 * containerizer, the `slave(N)` process and the agent core, then starts
 * registering with the master. `mesos-agent` runs one of these in its own
 * host; `mesos-local` can run several in one host.
 */

import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { withAgentAuthentication } from "../common/auth/agent-authentication.js";
import { installAgentSecurity, loadAgentSecurity } from "../common/auth/agent-security.js";
import { MESOS_COMPATIBLE_VERSION } from "../common/flags/shared-flags.js";
import type { JsonValue } from "../common/flags/spec.js";
import { buildInfoAt, versionJson } from "../common/http/common-endpoints.js";
import { operatorServices } from "../common/http/operator-processes.js";
import type { Logger } from "../common/observability/logger.js";
import type { ProcessHost } from "../common/process/process-host.js";
import type { SlaveInfo } from "../common/protocol/generated/mesos-internal.js";
import type {
  Attribute,
  ContainerInfo,
  DomainInfo,
  ExecutorInfo,
} from "../common/protocol/generated/mesos-v1.js";
import { codecFor } from "../common/protocol/index.js";
import {
  detectAgentResources,
  parseAttributes,
  type Resources,
} from "../common/resources/index.js";
import type { Clock } from "../common/time/clock.js";
import type { RandomSource } from "../common/time/random.js";
import { Agent, type RecoveredExecutor } from "./agent.js";
import { AgentProcess } from "./agent-process.js";
import { FileCheckpointer } from "./checkpoint/checkpointer.js";
import { checkAgentInfoCompatible } from "./checkpoint/compatibility.js";
import { isRunningProcess, RecoveredContainers } from "./checkpoint/recovered-containers.js";
import {
  CheckpointError,
  type RecoveredState,
  readCheckpoints,
  recoveryRemedy,
} from "./checkpoint/state.js";
import { resolveIp6 } from "./container-status.js";
import {
  buildDockerContainerizer,
  ComposingContainerizer,
} from "./containerizer/docker/composing.js";
import {
  describeCommandExecutorScript,
  findCommandExecutor,
  findDefaultExecutor,
} from "./containerizer/executor-command.js";
import { FetcherCache } from "./containerizer/fetcher-cache.js";
import { parseImageGcConfig, startImageGc } from "./containerizer/images/provisioner.js";
import { buildIsolation, isolationNames } from "./containerizer/isolation-setup.js";
import { VolumeGidIsolator } from "./containerizer/isolators/volume-gid.js";
import { LauncherClient } from "./containerizer/launcher.js";
import { createContainerLogger } from "./containerizer/logger/container-logger.js";
import {
  NestedContainers,
  nestedParentOf,
  signalExecutorContainer,
} from "./containerizer/nested-containers.js";
import { PosixContainerizer } from "./containerizer/posix-containerizer.js";
import { readBootId } from "./containerizer/proc.js";
import { ProcessSweeper } from "./containerizer/process-sweeper.js";
import { checkDiskSources } from "./disk-sources.js";
import { containerLimits } from "./executor-limits.js";
import type { AgentFlags } from "./flags.js";
import { startSandboxGc } from "./gc/agent-gc.js";
import { collectNestedSandboxes } from "./gc/nested-sandboxes.js";
import { installAgentOperatorSurface } from "./http/operator-surface.js";
import { SandboxFiles } from "./http/sandbox-files.js";
import { MasterHostnames } from "./master-hostname.js";
import { OperationStreamFiles, readOperationStreams } from "./operations/checkpoint.js";
import { createQoSController, createResourceEstimator } from "./oversubscription/modules.js";
import { Oversubscription } from "./oversubscription/oversubscription.js";
import { bootIdPath, latestAgentLink, sandboxPath } from "./paths.js";
import { AGENT_CAPABILITIES } from "./registration-messages.js";
import {
  checkpointedResourcesMismatch,
  readResourceState,
  volumePathOf,
  writeCheckpointedResources,
} from "./resources-checkpoint.js";
import { parseVolumeGidRange, VolumeGidManager } from "./volume-gid-manager.js";
import {
  destroyedVolumePaths,
  LaunchedVolumes,
  launchResources,
  VolumeOwnership,
  withPersistentVolumes,
  withVolumeOwnership,
} from "./volumes.js";
import { resourcesOf, wireResources } from "./wire-resources.js";

export interface StartAgentOptions {
  host: ProcessHost;
  /** `slave(1)` unless several agents share the host. */
  processId?: string;
  flags: AgentFlags;
  /** Every flag as text, for `/flags` and `/state`. */
  flagStrings: Record<string, string>;
  /** The master's UPID text (`master@ip:port`); undefined while none is detected (ZooKeeper). */
  readonly master: string | undefined;
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
  const diskError = checkDiskSources(resources.value, flags.work_dir);
  if (diskError !== undefined) return { ok: false, error: diskError };
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

/** `--default_container_info`, decoded (the flag's validation already accepted it). */
function defaultContainerInfo(value: JsonValue | undefined): {
  defaultContainerInfo?: ContainerInfo;
} {
  if (value === undefined) return {};
  const decoded = codecFor<ContainerInfo>("mesos.v1.ContainerInfo").decodeJson(value);
  return decoded.ok ? { defaultContainerInfo: decoded.value } : {};
}

async function writeBootId(workDir: string, bootId: string, logger: Logger): Promise<void> {
  try {
    const path = bootIdPath(workDir);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bootId);
  } catch (e) {
    logger.warn(`Failed to record the boot id: ${(e as Error).message}`);
  }
}

/**
 * Reads the checkpoint and decides whether this agent keeps its id (Mesos'
 * `Slave::recover`). Throws an Error telling the operator what to do when
 * recovery must not go on.
 */
async function readRecoveryState(
  flags: AgentFlags,
  info: SlaveInfo,
  bootId: string,
  logger: Logger,
): Promise<RecoveredState> {
  const latest = latestAgentLink(flags.work_dir);
  let state: RecoveredState;
  try {
    state = readCheckpoints(flags.work_dir, flags.strict, bootId);
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw e;
    throw new Error(`Failed to perform recovery: ${e.message}\n${recoveryRemedy(flags.work_dir)}`);
  }
  for (const error of state.errors) logger.warn(`Recovery skipped a checkpoint: ${error}`);
  if (state.errors.length > 0) {
    logger.warn(`Errors encountered during agent recovery: ${state.errors.length}`);
  }
  const previous = state.agent?.info;
  if (state.agent === undefined) return state;
  if (previous === undefined) {
    logger.warn(
      `No agent info was checkpointed for agent ${state.agent.id}: starting as a new agent`,
    );
    return state;
  }
  const policy = flags.reconfiguration_policy === "additive" ? "additive" : "equal";
  const problem = checkAgentInfoCompatible(
    previous,
    { ...info, id: { value: state.agent.id } },
    policy,
  );
  if (problem === undefined) return state;
  if (state.rebooted) {
    // After a reboot no executor survived: start afresh rather than refuse.
    logger.warn(`Starting as a new agent after a reboot because: ${problem}`);
    await rm(latest, { force: true });
    delete state.agent.info;
    return state;
  }
  throw new Error(
    [
      `Failed to perform recovery: ${problem}`,
      "The agent's flags no longer match the agent it was before this restart.",
      "To keep the agent id, restore the previous flags, or allow the change with a more permissive --reconfiguration_policy (e.g. additive).",
      "To start as a new agent instead (running executors of the old one are not recovered), run:",
      `rm -f ${latest}`,
      "and restart the agent.",
    ].join("\n"),
  );
}

/** The recovered executor's process, if it is still the one the checkpoint recorded. */
async function executorAlive(
  state: RecoveredState,
  ids: RecoveredExecutor["ids"],
  bootId: string,
): Promise<{ pid: number; startTime: number | undefined } | undefined> {
  if (state.rebooted) return undefined;
  const run = state.agent?.frameworks
    .get(ids.frameworkId)
    ?.executors.get(ids.executorId)
    ?.runs.get(ids.containerId);
  const identity = run?.identity;
  // Without the start time a pid could belong to anyone: treat it as gone.
  if (identity?.startTime === undefined || identity.bootId !== bootId) return undefined;
  return (await isRunningProcess(identity.pid, identity.startTime))
    ? { pid: identity.pid, startTime: identity.startTime }
    : undefined;
}

/** Kills live executors recorded in the checkpoint that are not being recovered. */
async function killOrphans(
  state: RecoveredState,
  workDir: string,
  bootId: string,
  keep: ReadonlySet<string>,
  sweeper: ProcessSweeper,
  logger: Logger,
): Promise<void> {
  const agent = state.agent;
  if (agent === undefined || state.rebooted) return;
  const kills: Promise<number>[] = [];
  for (const framework of agent.frameworks.values()) {
    for (const executor of framework.executors.values()) {
      for (const run of executor.runs.values()) {
        if (keep.has(run.containerId)) continue;
        const identity = run.identity;
        if (identity === undefined && !run.completed) {
          // The agent died before it noted the executor's pid: the executor
          // (and what it started) may run all the same.
          const directory = sandboxPath(workDir, {
            agentId: agent.id,
            frameworkId: framework.id,
            executorId: executor.id,
            containerId: run.containerId,
          });
          kills.push(killLeftovers(sweeper, run.containerId, directory, logger).then(() => 0));
          continue;
        }
        if (identity?.startTime === undefined || identity.bootId !== bootId) continue;
        if (!(await isRunningProcess(identity.pid, identity.startTime))) continue;
        logger.info(
          `Killing executor '${executor.id}' of framework ${framework.id} (pid ${identity.pid}): it is not recovered`,
        );
        const directory = sandboxPath(workDir, {
          agentId: agent.id,
          frameworkId: framework.id,
          executorId: executor.id,
          containerId: run.containerId,
        });
        kills.push(sweeper.kill(identity.pid, directory));
      }
    }
  }
  await Promise.all(kills);
}

/**
 * Kills the processes of an executor container that is not recovered,
 * found by the `MESOS_DIRECTORY` its executor and tasks carry.
 */
async function killLeftovers(
  sweeper: ProcessSweeper,
  containerId: string,
  directory: string,
  logger: Logger,
): Promise<void> {
  const killed = await sweeper.kill(undefined, directory);
  if (killed > 0) {
    logger.warn(`Killed ${killed} process(es) of container '${containerId}' that is not recovered`);
  }
}

/**
 * The volume gid manager of `--volume_gid_range` (undefined without the
 * flag), with its checkpointed allocations recovered.
 */
async function startVolumeGidManager(
  flags: AgentFlags,
  launcher: LauncherClient,
  logger: Logger,
  rebooted: boolean,
): Promise<VolumeGidManager | undefined> {
  if (flags.volume_gid_range === undefined) return undefined;
  const range = parseVolumeGidRange(flags.volume_gid_range);
  if (!range.ok) throw new Error(`Failed to initialize volume gid manager: ${range.error}`);
  if (process.getuid?.() !== 0) {
    throw new Error(
      "Failed to initialize volume gid manager: --volume_gid_range needs the agent to run as root",
    );
  }
  const manager = new VolumeGidManager({
    workDir: flags.work_dir,
    range: range.value,
    logger,
    primaryGidOf: async (uid) => {
      const r = await launcher.run({ op: "run", file: "getent", args: ["passwd", String(uid)] });
      const gid = Number(r.output.split(":")[3]);
      return r.code === 0 && Number.isInteger(gid) ? gid : undefined;
    },
  });
  try {
    await manager.recover(rebooted);
  } catch (e) {
    throw new Error(`Failed to recover the volume gid manager: ${(e as Error).message}`);
  }
  return manager;
}

/** Starts an agent in `host` (which must be listening). Throws a one-line Error on bad flags. */
export async function startAgentInHost(options: StartAgentOptions): Promise<AgentHandle> {
  const { flags, logger, host } = options;
  const security = loadAgentSecurity(flags, undefined, (line) => logger.warn(line));
  await mkdir(flags.work_dir, { recursive: true });
  const built = buildSlaveInfo(flags, options.hostname, host.port, logger);
  if (!built.ok) throw new Error(built.error);
  const ip6 = resolveIp6(flags);
  if (!ip6.ok) throw new Error(ip6.error);
  const info = built.info;
  const bootId = await readBootId();
  // Reservations, persistent volumes and unacknowledged operations survive
  // restarts (meta/resources/resources_and_operations.state, resources.info),
  // as long as --resources still holds what they were made from.
  const resourceState = readResourceState(flags.work_dir);
  const mismatch = checkpointedResourcesMismatch(
    resourcesOf(info.resources),
    resourceState.resources,
  );
  if (mismatch !== undefined) {
    throw new Error(
      [
        `Failed to perform recovery: ${mismatch}`,
        "Restore the --resources the agent had, or, to forget its dynamic reservations and persistent volumes",
        `(their data stays on disk), remove ${join(flags.work_dir, "meta", "resources")} and restart the agent.`,
      ].join("\n"),
    );
  }
  // (After the resources, as Mesos: then whether the agent info still matches.)
  const recovery = await readRecoveryState(flags, info, bootId, logger);
  await writeBootId(flags.work_dir, bootId, logger);
  const checkpointer = new FileCheckpointer(flags.work_dir);
  // URIs with `cache: true` are downloaded once per user into this cache; like
  // Mesos, the agent starts with an empty cache.
  const fetcherCache = new FetcherCache({
    dir: flags.fetcher_cache_dir,
    maxBytes: flags.fetcher_cache_size.bytes,
  });
  await fetcherCache.reset();
  const sweeper = new ProcessSweeper(logger);
  const adopted = new RecoveredContainers(logger, sweeper);
  const processId = options.processId ?? "slave(1)";

  const containerLogger = await createContainerLogger(flags, logger);
  const estimator = createResourceEstimator(flags);
  if (!estimator.ok) throw new Error(estimator.error);
  const qosController = createQoSController(flags, (line) => logger.info(line));
  if (!qosController.ok) throw new Error(qosController.error);
  let containerizer: PosixContainerizer | undefined;
  let nested: NestedContainers | undefined;
  const launcher = new LauncherClient(
    logger,
    (pid, exit) => {
      if (nested?.processExited(pid, exit) !== true) containerizer?.processExited(pid, exit);
    },
    () => containerizer?.helperLost(),
  );
  launcher.start();
  const isolation = buildIsolation(flags, launcher, logger, (id, limitation) => {
    if (nested?.limit(id, limitation) !== true) containerizer?.limit(id, limitation);
  });
  if (!isolation.ok) {
    launcher.stop();
    throw new Error(`Failed to create the containerizer: ${isolation.error}`);
  }
  const volumeGids = await startVolumeGidManager(flags, launcher, logger, recovery.rebooted).catch(
    (e: unknown) => {
      launcher.stop();
      throw e;
    },
  );
  const launchedVolumes = new LaunchedVolumes(flags.work_dir);
  const volumeOwnership = new VolumeOwnership({
    workDir: flags.work_dir,
    logger,
    gidManaged: volumeGids !== undefined,
    resourcesOf: ({ frameworkId, executorId, containerId }) => {
      const executor = agent.frameworks.get(frameworkId)?.executors.get(executorId);
      return executor?.containerId === containerId ? executor.allocatedResources() : undefined;
    },
  });
  if (volumeGids !== undefined) {
    // Last: filesystem/linux and volume/sandbox_path create the sources it stats.
    isolation.isolators.push(
      new VolumeGidIsolator({
        manager: volumeGids,
        workDir: flags.work_dir,
        persistentVolumesOf: (id) => launchedVolumes.pathsOf(id),
        heldVolumesOf: (id) => {
          // The agent's own volumes of the executor's container, tasks sent later included.
          const held = new Set(launchedVolumes.pathsOf(id));
          for (const framework of agent.frameworks.values()) {
            for (const executor of framework.executors.values()) {
              if (executor.containerId !== id) continue;
              for (const r of executor.allocatedResources()) {
                if (r.provider_id !== undefined) continue;
                const path = volumePathOf(flags.work_dir, r);
                if (path !== undefined) held.add(path);
              }
            }
          }
          return [...held];
        },
        forget: (id) => launchedVolumes.forget(id),
        sandboxPathVolumes: isolationNames(flags.isolation).some((name) =>
          ["volume/sandbox_path", "filesystem/linux", "filesystem/shared"].includes(name),
        ),
      }),
    );
  }
  containerizer = new PosixContainerizer({
    workDir: flags.work_dir,
    launcher,
    logger,
    frameworksHome: flags.frameworks_home,
    hadoopHome: flags.hadoop_home,
    fetcherStallTimeoutMs: flags.fetcher_stall_timeout.toMs(),
    fetcherCache,
    bootId,
    isolators: isolation.isolators,
    preparePersistentVolumes: (launch) => volumeOwnership.prepare(launch, launch.directory),
    ...(isolation.launcherCgroups === undefined
      ? {}
      : { launcherCgroups: isolation.launcherCgroups }),
    ...(isolation.provisioner === undefined ? {} : { provisioner: isolation.provisioner }),
    dockerRuntime: isolation.dockerRuntime,
    cgroupsDestroyTimeoutMs: flags.cgroups_destroy_timeout.toMs(),
    launchConcurrency: flags.executor_launch_concurrency,
    executorPoolSize: flags.executor_pool_size,
    commandExecutorsPerProcess: flags.command_executors_per_process,
    ...(containerLogger === undefined ? {} : { containerLogger }),
  });
  const mesosContainerizer = containerizer;
  const docker = await buildDockerContainerizer(flags, {
    logger,
    bootId,
    fetcherCache,
    containerLogger,
    lookupUser: (name) => launcher.user(name),
  }).catch((e: unknown) => {
    launcher.stop();
    throw e;
  });
  const composed = new ComposingContainerizer(containerizer, docker, flags.containerizers, logger);
  const services = operatorServices(host, {
    clock: options.clock,
    logger,
    memoryProfiling: flags.memory_profiling,
  });
  if (volumeGids !== undefined) {
    services.metrics.gauge("volume_gid_manager/volume_gids_total", () => volumeGids.total);
    services.metrics.gauge("volume_gid_manager/volume_gids_free", () => volumeGids.freeCount);
  }
  if (docker !== undefined) {
    // Mesos' docker containerizer timer, over a one-hour window.
    const pulls = services.metrics.timer("containerizer/docker/image_pull", 3_600_000);
    docker.onPull = (ms) => pulls.record(ms);
  }
  const sandboxes = new SandboxFiles(services.files, flags.work_dir, logger);
  const build = buildInfoAt(options.clock.now());
  const masterHostnames = new MasterHostnames();
  // Set once the agent exists: /state may be read before that.
  let currentMaster: () => string | undefined = () => undefined;
  const stateContext = () => ({
    masterHostname: masterHostnames.of(currentMaster()),
    flags: options.flagStrings,
    logDir: flags.log_dir,
    externalLogFile: flags.external_log_file,
    version: MESOS_COMPATIBLE_VERSION,
    build,
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
  logger.info(describeCommandExecutorScript());
  const isRoot = process.getuid?.() === 0;
  if (flags.switch_user && !isRoot) {
    logger.warn(
      "--switch_user is set but the agent is not running as root: tasks run as the agent's user",
    );
  }
  // The agent's containerizer; KILL_CONTAINER on an executor's container destroys through it too.
  const agentContainerizer = adopted.wrap({
    ...withPersistentVolumes(
      sandboxes.wrap(composed),
      flags.work_dir,
      (launch) =>
        launchResources(
          launch,
          agent.frameworks.get(launch.frameworkId)?.executors.get(launch.executorId),
        ),
      logger,
      volumeGids === undefined ? undefined : launchedVolumes,
    ),
    // Summing an executor's resources per task costs: only when limits follow them.
    ...(mesosContainerizer.tracksResources
      ? {
          update: (id: string, r: Resources) =>
            mesosContainerizer.update(
              id,
              r,
              containerLimits(agent.frameworks, id, flags.cgroups_enable_cfs),
            ),
        }
      : {}),
  });
  const agent: Agent = new Agent({
    config: {
      workDir: flags.work_dir,
      selfPid,
      endpoint: host.address,
      advertisedIp6: ip6.value,
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
      ...defaultContainerInfo(flags.default_container_info),
      executorEnvironmentVariables: flags.executor_environment_variables as
        | Record<string, string>
        | undefined,
      switchUser: flags.switch_user && isRoot,
      registrationBackoffFactor: flags.registration_backoff_factor,
      maxCompletedExecutorsPerFramework: flags.max_completed_executors_per_framework,
      agentEnv: process.env,
      ...(security.executorTokens === undefined
        ? {}
        : { executorToken: security.executorTokens.token.bind(security.executorTokens) }),
      ...(options.local === true ? { local: true } : {}),
    },
    clock: options.clock,
    random: options.random,
    logger,
    transport:
      security.credential === undefined
        ? agentProcess.transport
        : withAgentAuthentication(agentProcess.transport, {
            host,
            self: () => agentProcess.self.toString(),
            credential: security.credential,
            logger,
            clock: options.clock,
            random: options.random,
            timeouts: {
              minMs: flags.authentication_timeout_min.toMs(),
              maxMs: flags.authentication_timeout_max.toMs(),
              backoffFactorMs: flags.authentication_backoff_factor.toMs(),
            },
            onRefused: (message) => settle({ kind: "fatal", message }),
          }),
    checkpointer,
    // A running executor's new tasks' volumes go to its user before the tasks reach it.
    containerizer: withVolumeOwnership(agentContainerizer, volumeOwnership),
    containerNetworks: (id) => containerizer?.networkInfos(id),
    onFatal: (message) => settle({ kind: "fatal", message }),
    onTerminated: () => {
      if (stopping !== undefined) stopping();
      else settle({ kind: "shutdown", message: "asked to shut down by the master" });
    },
  });
  currentMaster = () => agent.link.master;
  // ACCESS_SANDBOX decides on the executor's user as the agent knows it now.
  sandboxes.userOf = (frameworkId, executorId) => {
    const framework = agent.frameworks.get(frameworkId);
    if (framework === undefined) return undefined;
    return framework.executors.get(executorId)?.info.command?.user ?? framework.info.user;
  };
  agent.restoreCheckpointedResources(resourceState.resources);
  agent.resourcesCheckpoint = async (resources, previous, operations) => {
    await writeCheckpointedResources(flags.work_dir, resources, previous, operations);
    // A destroyed persistent volume gives its gid back.
    for (const path of destroyedVolumePaths(flags.work_dir, previous, resources)) {
      await volumeGids?.deallocate(path);
    }
  };
  agent.operationFiles = new OperationStreamFiles(flags.work_dir);
  const gc = startSandboxGc(flags, options.clock, logger, services.files);
  agent.sandboxGc = gc.sandboxGc;
  // Restored before the process serves calls: a re-subscribing executor
  // must find its framework and executor.
  const recovered = recovery.agent?.info === undefined ? [] : agent.recover(recovery.agent);
  if (recovery.agent?.info !== undefined) {
    agent.recoverOperations(
      resourceState.operations,
      readOperationStreams(flags.work_dir, recovery.agent.id),
    );
  }
  // Recovered executors' sandboxes (finished runs' too) are browsable again, as in Mesos.
  void sandboxes.attachRecovered([...recovered, ...agent.recoveredCompletedRuns]);
  agentProcess.bind(agent);
  nested = new NestedContainers({
    launcher,
    logger,
    isolators: isolation.isolators,
    launcherCgroups: isolation.launcherCgroups,
    sweeper,
    destroyTimeoutMs: flags.cgroups_destroy_timeout.toMs(),
    parentOf: (id) => nestedParentOf(agent, id, flags.switch_user && isRoot),
    signalExecutor: (id, signal) =>
      signalExecutorContainer(agent, (c) => agentContainerizer.destroy(c), id, signal),
    workDir: flags.work_dir,
    containerLogger,
    provisioner: isolation.provisioner,
    dockerRuntime: isolation.dockerRuntime,
    switchUser: flags.switch_user && isRoot,
    fetcher: {
      frameworksHome: flags.frameworks_home,
      hadoopHome: flags.hadoop_home,
      stallTimeoutMs: flags.fetcher_stall_timeout.toMs(),
      cache: fetcherCache,
    },
  });
  void nested.recover();
  const provisioner = isolation.provisioner;
  if (provisioner !== undefined) {
    // Recovery removes the root filesystems of containers it does not keep:
    // standalone containers that survived the restart keep theirs.
    const standalone = nested;
    const recoverImages = provisioner.recover.bind(provisioner);
    provisioner.recover = async (alive) => {
      await standalone.ready();
      await recoverImages(new Set([...alive, ...standalone.standaloneIds()]));
    };
  }
  if (flags.gc_non_executor_container_sandboxes) {
    const parents = recovered.map((e) => ({
      containerId: e.ids.containerId,
      directory: e.directory,
    }));
    void collectNestedSandboxes(nested, gc.sandboxGc, parents);
  }
  const containerEvents = nested.wrapEvents(sandboxes.events(agent));
  containerizer.attach(containerEvents);
  composed.attach(containerEvents);
  // An adopted container's isolators are released before the agent hears of its end.
  adopted.attach({
    containerLaunched: (id, result) => agent.containerLaunched(id, result),
    containerTerminated: (id, termination) => {
      void mesosContainerizer.recoveredEnded(id, termination).then((t) => {
        nested?.executorEnded(id, t);
        agent.containerTerminated(id, t);
      });
    },
  });
  const monitor = installAgentOperatorSurface({
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
    nested,
    httpHeartbeatIntervalMs: flags.http_heartbeat_interval.toMs(),
    metrics: {
      gc: {
        workDir: flags.work_dir,
        delaySecs: flags.gc_delay.toSecs(),
        diskHeadroom: flags.gc_disk_headroom,
        collector: gc.collector,
      },
      fetcherCache,
      recoveryErrors: recovery.errors.length,
      containerDestroyErrors: () => containerizer?.destroyErrors ?? 0,
    },
    isolators: isolation.isolators,
    images: isolation.provisioner,
  });
  if (isolation.provisioner !== undefined) {
    // Mesos' docker store timer, over a one-hour window.
    const pulls = services.metrics.timer(
      "containerizer/mesos/provisioner/docker_store/image_pull",
      3_600_000,
    );
    isolation.provisioner.onPull = (ms) => pulls.record(ms);
  }
  if (isolation.provisioner !== undefined && flags.image_gc_config !== undefined) {
    const gcConfig = parseImageGcConfig(flags.image_gc_config);
    if (!("error" in gcConfig)) startImageGc(isolation.provisioner, gcConfig, logger);
  }
  if (mesosContainerizer.isolating) monitor.useContainerizer(mesosContainerizer);
  installAgentSecurity(host, agentProcess, security);
  logger.info(`Agent resources: ${agent.resources.toString()}`);
  if ((info.attributes ?? []).length > 0 && flags.attributes !== undefined) {
    logger.info(`Agent attributes: ${flags.attributes}`);
  }
  logger.info(`Agent hostname: ${info.hostname}`);
  const oversubscription = new Oversubscription({
    agent,
    clock: options.clock,
    logger,
    estimator: estimator.value,
    controller: qosController.value,
    estimateIntervalMs: flags.oversubscribed_resources_interval.toMs(),
    correctionIntervalMs: flags.qos_correction_interval_min.toMs(),
  });
  const finishRecovery = async (): Promise<void> => {
    if (recovery.agent?.info !== undefined) {
      logger.info(`Recovering agent ${recovery.agent.id}: ${recovered.length} executor(s)`);
    }
    // Live executors of the Mesos containerizer: their isolators recover them below.
    const isolated = new Map<string, number>();
    const executorInfos = new Map<string, ExecutorInfo>();
    const leftovers: Promise<void>[] = [];
    for (const executor of recovered) {
      const alive = await executorAlive(recovery, executor.ids, bootId);
      if (alive !== undefined) {
        const ids = executor.ids;
        if (await docker?.adopt(ids, executor.directory, alive.pid, alive.startTime)) continue;
        adopted.adopt(executor.ids.containerId, alive.pid, alive.startTime, executor.directory);
        isolated.set(executor.ids.containerId, alive.pid);
        volumeOwnership.recover(ids, executor.directory);
        const info = agent.frameworks.get(ids.frameworkId)?.executors.get(ids.executorId)?.info;
        if (info !== undefined) executorInfos.set(ids.containerId, info);
        continue;
      }
      logger.warn(
        `Executor '${executor.ids.executorId}' of framework ${executor.ids.frameworkId} is gone (container ${executor.ids.containerId})`,
      );
      // What it started may still run (its tasks, or the executor itself
      // when the agent died before noting its pid): the container is
      // destroyed, as Mesos destroys one whose executor it cannot recover.
      if (!recovery.rebooted) {
        leftovers.push(
          killLeftovers(sweeper, executor.ids.containerId, executor.directory, logger),
        );
      }
      agent.containerTerminated(executor.ids.containerId, {
        message: "Executor terminated while the agent was down",
      });
      // Its nested containers' PARENT volumes give their gids back, as when it ends.
      await volumeGids
        ?.deallocate(executor.directory)
        .catch((e: unknown) =>
          logger.warn(`Failed to deallocate volume gids: ${(e as Error).message}`),
        );
    }
    await Promise.all(leftovers);
    await mesosContainerizer.recover(isolated, (id) => adopted.destroy(id), executorInfos);
    if (mesosContainerizer.tracksResources) {
      // Executors that re-subscribed before their isolators recovered: their
      // resources from then on (later ones come with their subscription).
      for (const { ids } of recovered) {
        const executor = agent.frameworks.get(ids.frameworkId)?.executors.get(ids.executorId);
        if (isolated.has(ids.containerId) && executor?.state === "RUNNING") {
          mesosContainerizer.update(
            ids.containerId,
            executor.allocatedResources(),
            containerLimits(agent.frameworks, ids.containerId, flags.cgroups_enable_cfs),
          );
        }
      }
    }
    const keep = new Set(recovered.map((e) => e.ids.containerId));
    await killOrphans(recovery, flags.work_dir, bootId, keep, sweeper, logger);
    gc.collectOldAgents(recovery.agent?.info === undefined ? undefined : recovery.agent.id);
    await docker?.removeOrphans();
    if (flags.recover === "cleanup") {
      agent.cleanupRecovered();
      await waitUntil(() => adopted.size === 0, 60_000);
      // The old executors' nested containers go with them (standalone ones stay, as in Mesos).
      await nested.endOrphaned(true);
      await checkpointer.idle();
      logger.info("Finished recovery cleanup: old executors are gone; exiting");
      settle({ kind: "shutdown", message: "recovery cleanup done (--recover=cleanup)" });
      return;
    }
    if (recovered.length > 0) {
      const timeoutMs = flags.executor_reregistration_timeout.toMs();
      await waitUntil(() => agent.reregisteringExecutors === 0, timeoutMs);
      agent.reregisterExecutorTimeout();
      logger.info("Finished recovery");
    }
    const master = options.master;
    if (agent.isTerminating) return;
    // As Mesos: estimates and QoS corrections start once recovery is over.
    oversubscription.start();
    if (master !== undefined) agent.start(master);
    else {
      agent.recoveredWithoutMaster();
      logger.info("No leading master detected yet: the agent registers once one is elected");
    }
  };
  void finishRecovery().catch((e: unknown) => {
    logger.error(`Recovery failed: ${(e as Error).message}`);
    settle({ kind: "fatal", message: `Recovery failed: ${(e as Error).message}` });
  });

  const stop = async (timeoutMs = 30_000): Promise<void> => {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      stopping = () => {
        clearTimeout(timer);
        resolve();
      };
      agent.beginTermination({ keepCheckpointed: true });
    });
    oversubscription.stop();
    containerizer?.stop();
    docker?.stop();
    adopted.stop();
    gc.stop();
    await checkpointer.idle();
    launcher.stop();
    host.terminate(agentProcess);
  };
  return { agent, process: agentProcess, ended, stop };
}

/** Resolves once `done()` holds (checked every 50 ms) or after `timeoutMs`. */
function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (done()) {
      resolve();
      return;
    }
    const deadline = Date.now() + timeoutMs;
    const timer = setInterval(() => {
      if (done() || Date.now() >= deadline) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
  });
}
