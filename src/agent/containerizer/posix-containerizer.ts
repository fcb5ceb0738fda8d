/**
 * The Mesos containerizer: prepares the sandbox, fetches the URIs, lets the
 * isolators named in `--isolation` prepare the container (cgroups,
 * namespaces, volumes, rlimits; see isolators/isolator.ts), starts the
 * executor through the launcher helper in its own session (wrapped in the
 * launch shim when isolation needs it, see launch-shim.ts), as the task's
 * user when asked, records its pid, and reports when it ends, with the
 * limitation that ended it if an isolator stopped it.
 *
 * Two launchers kill a container. The `posix` one kills its whole process
 * tree: the executor's session and process group, their descendants, and
 * every process that still carries the container's `MESOS_DIRECTORY` in its
 * environment (a task that left the tree, e.g. after its executor died).
 * The `linux` one (used when the agent has cgroups and isolation uses them)
 * puts every container in a cgroup of its own (freezer on v1) and kills its
 * members, so nothing escapes by re-parenting or a new session. The same
 * kill runs when an executor exits by itself, so no process of a finished
 * container is left behind.
 *
 * After an agent restart, the live executors it started before are adopted
 * (checkpoint/recovered-containers.ts watches and kills their processes);
 * `recover` hands them to every isolator again, as Mesos' containerizer
 * does, so their resources are followed (`update`), their limits enforced,
 * and the isolators released when they end (`recoveredEnded`).
 */

import { existsSync } from "node:fs";
import type { Logger } from "../../common/observability/logger.js";
import { tlsEnabled } from "../../common/process/tls-client.js";
import type {
  CommandInfo,
  ExecutorInfo,
  Image,
  NetworkInfo,
  ResourceStatistics,
} from "../../common/protocol/generated/mesos-v1.js";
import type { Resources } from "../../common/resources/index.js";
import type { Containerizer, ContainerLaunch, ContainerTermination } from "../agent.js";
import type { ExecutorLimits } from "../executor-limits.js";
import { resourcesOf } from "../wire-resources.js";
import {
  type CgroupsHierarchy,
  cgroupPids,
  killCgroup,
  removeCgroup,
} from "./cgroups/hierarchy.js";
import { executorCommand } from "./executor-command.js";
import { fetcherSettingsOf, fetchForContainer } from "./fetcher.js";
import type { FetcherCache } from "./fetcher-cache.js";
import {
  chrootTaskCommand,
  ensureWorkingDir,
  type ImageRuntime,
  imageEnvironment,
  imageVariables,
  imageVolumeMounts,
  imageVolumePreparation,
  placeImageMounts,
  runtimeArgv,
  runtimeCommandError,
  sandboxMount,
} from "./images/image-launch.js";
import type { Provisioner } from "./images/provisioner.js";
import { CGROUP_ISOLATORS } from "./isolators/index.js";
import type {
  ContainerLimitation,
  ContainerResources,
  ContainerVolume,
  Isolator,
  LaunchPreparation,
} from "./isolators/isolator.js";
import { joinsNamedNetwork } from "./isolators/network-ports.js";
import { enterCgroups, mergePreparations, needsShim, shimCommand } from "./launch-shim.js";
import type { LauncherClient, ProcessExit } from "./launcher.js";
import { startupVariable } from "./launcher-protocol.js";
import type { ContainerLogger, ContainerOutput } from "./logger/container-logger.js";
import { recordExecutorProcess } from "./pid-record.js";
import { isSameProcess } from "./proc.js";
import { ProcessSweeper } from "./process-sweeper.js";
import { RecoveredCgroups } from "./recovered-cgroups.js";
import { chownSandbox, createSandbox } from "./sandbox.js";

/** Where container events go (the agent). */
export interface ContainerEvents {
  containerLaunched(containerId: string, result: { pid: number } | { error: string }): void;
  containerTerminated(containerId: string, termination: ContainerTermination): void;
}

export interface PosixContainerizerOptions {
  workDir: string;
  launcher: LauncherClient;
  logger: Logger;
  /** `--frameworks_home`. */
  frameworksHome: string;
  /** `--hadoop_home` (where the fetcher finds the Hadoop client). */
  hadoopHome?: string | undefined;
  /** The fetcher cache for URIs with `cache: true` (`--fetcher_cache_size`, `--fetcher_cache_dir`). */
  fetcherCache?: FetcherCache;
  /** `--fetcher_stall_timeout` in ms. */
  fetcherStallTimeoutMs: number;
  /** Host boot id, recorded with each executor pid. */
  bootId: string;
  /** How often pids are polled when the launcher helper can no longer report exits. */
  pollIntervalMs?: number;
  /** The isolators from `--isolation` (none: nothing is isolated or measured). */
  isolators?: readonly Isolator[];
  /**
   * Hands the container's persistent volumes to its user once its sandbox
   * has its owner (volumes.ts); throwing fails the launch.
   */
  preparePersistentVolumes?: (launch: ContainerLaunch) => void;
  /**
   * Set for the `linux` launcher: each container gets a cgroup of its own
   * (freezer on v1) through which all its processes are found and killed.
   */
  launcherCgroups?: CgroupsHierarchy;
  /** `--cgroups_destroy_timeout` in ms: how long killing a container's cgroup may take. */
  cgroupsDestroyTimeoutMs?: number;
  /** Builds root filesystems from container images (`--image_providers=docker`). */
  provisioner?: Provisioner;
  /** `docker/runtime` is in `--isolation`: apply the image's Env, WorkingDir, Entrypoint/Cmd. */
  dockerRuntime?: boolean;
  /**
   * `--executor_launch_concurrency`: at most this many command executors
   * start at a time, the others wait in the launcher helper (0: no limit).
   */
  launchConcurrency?: number;
  /**
   * `--executor_pool_size`: idle command executors kept started, handed a
   * launch without user switch or isolation (0: none).
   */
  executorPoolSize?: number;
  /**
   * `--command_executors_per_process`: above 1, command executors without
   * user switch, isolation shim, cgroups or image run in shared executor
   * hosts (see src/executor/executor-host.ts).
   */
  commandExecutorsPerProcess?: number;
  /**
   * `--container_logger`: executors' stdout/stderr go through it (so none is
   * pooled or hosted, whose output files are fixed); unset: sandbox files.
   */
  containerLogger?: ContainerLogger;
}

interface Container {
  readonly id: string;
  readonly directory: string;
  phase: "preparing" | "running" | "done";
  pid?: number;
  startTime?: number;
  destroyRequested: boolean;
  readonly abort: AbortController;
  /** The launcher helper that started it died: watch the pid instead. */
  orphaned: boolean;
  /** What the container is given (executor plus its tasks). */
  resources: ContainerResources;
  /** The isolators prepared it (so they must clean up). */
  prepared: boolean;
  /** The container's own cgroup (linux launcher). */
  cgroup?: string;
  /** Why an isolator stopped it. */
  limitation?: ContainerLimitation;
  /** It runs in a provisioned image root filesystem. */
  provisioned?: boolean;
  /** The image's runtime settings, when `docker/runtime` applies them. */
  runtime?: ImageRuntime;
  /** A custom executor's command from the image's Entrypoint/Cmd (`shell: false`, no value). */
  runtimeCommand?: CommandInfo;
  executorIsCommandExecutor: boolean;
}

/** A root container of the previous agent run that is alive again under this one. */
interface RecoveredRoot {
  /** Its isolators have recovered it (updates before that are kept for then). */
  ready: boolean;
  /** The latest resources the agent gave it; undefined until its first update. */
  resources?: ContainerResources;
  /** Why an isolator stopped it. */
  limitation?: ContainerLimitation;
}

/** The chroot program, if installed. */
const CHROOT = ["/usr/sbin/chroot", "/usr/bin/chroot", "/sbin/chroot"].find((p) => existsSync(p));

/**
 * The resources of a container its isolators follow. The disk quota is the
 * sandbox's: disk that is not a volume, as Mesos' posix/disk isolator
 * counts it (a persistent volume is not part of the sandbox).
 */
export function containerResources(
  resources: Resources,
  limits: ExecutorLimits = {},
): ContainerResources {
  const volumes = new Map<string, ContainerVolume>();
  for (const r of resources) {
    const containerPath = r.disk?.volume?.container_path;
    if (r.name !== "disk" || containerPath === undefined) continue;
    const known = volumes.get(containerPath);
    const size = (known?.limitMb ?? 0) + (r.scalar?.value ?? 0);
    volumes.set(containerPath, {
      containerPath,
      limitMb: size,
      resource: known?.resource ?? (r as unknown as ContainerVolume["resource"]),
    });
  }
  return {
    cpus: resources.cpus(),
    memMb: resources.mem(),
    diskMb: resources.filter((r) => r.disk?.volume === undefined).disk(),
    ...(volumes.size === 0 ? {} : { volumes: [...volumes.values()] }),
    ports: resources.ports(),
    ...(resources.revocable().cpus() === undefined ? {} : { revocableCpus: true }),
    ...(limits.cpus === undefined ? {} : { cpuLimit: limits.cpus }),
    ...(limits.mem === undefined ? {} : { memLimitMb: limits.mem }),
  };
}

const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

/**
 * Isolators that leave a hosted executor alone: they measure by pid (the
 * stand-in's usage includes its task's tree: monitor/process-usage.ts) or
 * by sandbox. Any other isolator keeps executors in processes of their own.
 */
const HOSTABLE_ISOLATORS = new Set(["posix/cpu", "posix/mem", "posix/disk", "environment_secret"]);

/** Isolators that turn resources into limits (and so need `update`). */
const RESOURCE_ISOLATORS = new Set(["cgroups/cpu", "cgroups/mem", "posix/disk", "network/ports"]);

/** How long a user lookup is reused. */
const USER_CACHE_MS = 60_000;

/** The raw wait status of an exit (exit code << 8, or the signal number). */
export function waitStatus(exit: ProcessExit): number | undefined {
  if (exit.code !== null) return (exit.code & 0xff) << 8;
  if (exit.signal !== null) return SIGNALS[exit.signal] ?? 0x7f;
  return undefined;
}

/** The containerizer. Call `attach` with the agent before the first launch. */
export class PosixContainerizer implements Containerizer {
  private events: ContainerEvents | undefined;
  private readonly containers = new Map<string, Container>();
  private readonly byPid = new Map<number, Container>();
  private pollTimer: NodeJS.Timeout | undefined;
  private readonly sweeper: ProcessSweeper;
  private readonly users = new Map<string, { uid: number; gid: number; at: number }>();

  private readonly isolators: readonly Isolator[];
  private readonly recovered: RecoveredCgroups | undefined;
  /** Adopted executors of the previous agent run (see `recover`). */
  private readonly recoveredRoots = new Map<string, RecoveredRoot>();
  /** Kills an adopted container (its processes are not this containerizer's). */
  private destroyRecovered: ((containerId: string) => void) | undefined;
  private readonly destroyTimeoutMs: number;
  /**
   * Containers whose teardown failed in part (an isolator's cleanup, the
   * cgroup or root filesystem removal): Mesos' `container_destroy_errors`.
   */
  destroyErrors = 0;

  constructor(private readonly o: PosixContainerizerOptions) {
    this.sweeper = new ProcessSweeper(o.logger, undefined, () => this.byPid.keys());
    this.isolators = o.isolators ?? [];
    this.destroyTimeoutMs = o.cgroupsDestroyTimeoutMs ?? 60_000;
    if (o.launcherCgroups !== undefined) {
      this.recovered = new RecoveredCgroups(
        o.launcherCgroups,
        this.isolators,
        o.logger,
        (id) => this.containers.has(id),
        async (id) => {
          await o.provisioner?.destroy(id);
        },
      );
      const memory = this.isolators.some((i) => i.name === "cgroups/mem");
      this.recovered.memoryWatched = (id) => memory && this.recoveredRoots.has(id);
      void this.recovered.start();
    }
  }

  /**
   * Agent recovery: `alive` (container id -> executor pid) are the live
   * executors of the previous agent run that this containerizer started
   * (not Docker's). Every isolator recovers them, once, as Mesos'
   * containerizer does; from then on `update` reaches their isolators and a
   * limitation destroys them through `destroy`. Their ports, limits and
   * allocations are only known again from the agent's first `update`.
   * `executors` (their ExecutorInfo, when known) keeps executors joined to
   * a named network from `network/ports`, as at launch.
   */
  async recover(
    alive: ReadonlyMap<string, number>,
    destroy: (containerId: string) => void,
    executors: ReadonlyMap<string, ExecutorInfo> = new Map(),
  ): Promise<void> {
    this.destroyRecovered = destroy;
    const isolated = alive.size > 0 && this.isolators.length > 0;
    // Known before the first await: an executor re-subscribing meanwhile
    // leaves its resources here for the isolators (see `update`).
    if (isolated) for (const id of alive.keys()) this.recoveredRoots.set(id, { ready: false });
    await this.o.provisioner
      ?.recover(new Set(alive.keys()))
      .catch((e: unknown) =>
        this.o.logger.warn(`Failed to recover the provisioner: ${(e as Error).message}`),
      );
    if (!isolated) return;
    const hostNetwork = new Map(
      [...alive].filter(([id]) => !joinsNamedNetwork(executors.get(id)?.container)),
    );
    for (const isolator of this.isolators) {
      await isolator
        .recover(isolator.name === "network/ports" ? hostNetwork : alive)
        .catch((e: unknown) =>
          this.o.logger.warn(
            `Failed to recover ${isolator.name} of ${alive.size} container(s): ${(e as Error).message}`,
          ),
        );
    }
    for (const [id, root] of this.recoveredRoots) {
      if (!alive.has(id) || root.ready) continue;
      root.ready = true;
      // An executor that re-subscribed while the isolators were recovering.
      if (root.resources !== undefined) this.updateIsolators(id, root.resources);
    }
    this.o.logger.info(`Recovered the isolation of ${alive.size} container(s)`);
  }

  /**
   * An adopted container ended (its processes are gone): its isolators
   * release it, and its termination gets the limitation that stopped it.
   * With the linux launcher, RecoveredCgroups removes its cgroups (running
   * every isolator's cleanup again, which the others take as a no-op) once
   * the container's cgroup is empty, so the cgroup isolators are left to it.
   */
  async recoveredEnded(
    containerId: string,
    termination: ContainerTermination,
  ): Promise<ContainerTermination> {
    const root = this.recoveredRoots.get(containerId);
    if (root === undefined) return termination;
    this.recoveredRoots.delete(containerId);
    const isolators =
      this.recovered === undefined
        ? this.isolators
        : this.isolators.filter((i) => !CGROUP_ISOLATORS.has(i.name));
    let failed = false;
    for (const isolator of isolators) {
      await isolator.cleanup(containerId).catch((e: unknown) => {
        failed = true;
        this.o.logger.warn(
          `Failed to clean up ${isolator.name} of container '${containerId}': ${(e as Error).message}`,
        );
      });
    }
    // Without RecoveredCgroups (which removes it with the cgroups), the rootfs goes here.
    if (this.recovered === undefined) {
      await this.o.provisioner?.destroy(containerId).catch((e: unknown) => {
        failed = true;
        this.o.logger.warn(
          `Failed to remove the root filesystem of container '${containerId}': ${(e as Error).message}`,
        );
      });
    }
    if (failed) this.destroyErrors++;
    const limitation = root.limitation;
    if (limitation === undefined) return termination;
    return { ...termination, limitation, message: limitation.message };
  }

  /** True while an adopted container's isolators follow it (for tests and diagnostics). */
  isRecovered(containerId: string): boolean {
    return this.recoveredRoots.has(containerId);
  }

  /** An isolator saw a container go over a limit: destroy it, remembering why. */
  limit(containerId: string, limitation: ContainerLimitation): void {
    const root = this.recoveredRoots.get(containerId);
    if (root !== undefined) {
      this.o.logger.info(`Container '${containerId}' has reached a limit: ${limitation.message}`);
      if (root.limitation !== undefined) return;
      root.limitation = limitation;
      this.destroyRecovered?.(containerId);
      return;
    }
    const container = this.containers.get(containerId);
    if (container === undefined) return;
    this.o.logger.info(`Container '${containerId}' has reached a limit: ${limitation.message}`);
    // An ended container still being cleaned up keeps the reason for its termination.
    container.limitation ??= limitation;
    if (container.phase !== "done") this.destroy(containerId);
  }

  /**
   * The container's resources changed (a task was added or finished), with
   * its tasks' summed `limits`.
   */
  update(containerId: string, resources: Resources, limits: ExecutorLimits = {}): void {
    const root = this.recoveredRoots.get(containerId);
    if (root !== undefined) {
      root.resources = containerResources(resources, limits);
      if (root.ready) this.updateIsolators(containerId, root.resources);
      return;
    }
    const container = this.containers.get(containerId);
    if (container === undefined || container.phase === "done") return;
    container.resources = containerResources(resources, limits);
    if (!container.prepared) return;
    this.updateIsolators(containerId, container.resources);
  }

  private updateIsolators(containerId: string, resources: ContainerResources): void {
    for (const isolator of this.isolators) {
      isolator
        .update(containerId, resources)
        .catch((e: unknown) =>
          this.o.logger.warn(
            `Failed to update ${isolator.name} of container '${containerId}': ${(e as Error).message}`,
          ),
        );
    }
  }

  /** The container's statistics from every isolator (undefined for an unknown container). */
  async usage(containerId: string): Promise<ResourceStatistics | undefined> {
    const container = this.containers.get(containerId);
    if (container === undefined) return this.recoveredUsage(containerId);
    if (!container.prepared) return undefined;
    const parts = await Promise.all(
      this.isolators.map((i) => i.usage(containerId).catch(() => ({ timestamp: 0 }))),
    );
    const stats: ResourceStatistics = { timestamp: 0 };
    for (const part of parts) Object.assign(stats, part);
    if (container.cgroup !== undefined && stats.processes === undefined) {
      stats.processes = (await cgroupPids(container.cgroup)).length;
    }
    return stats;
  }

  /**
   * Statistics of a container this containerizer did not start (adopted
   * after an agent restart): with the linux launcher the cgroup isolators
   * read its cgroups by container id; otherwise the isolators that
   * recovered it (posix/cpu, posix/mem know its executor's pid again).
   */
  private async recoveredUsage(containerId: string): Promise<ResourceStatistics | undefined> {
    const cgroups = this.o.launcherCgroups;
    if (cgroups === undefined) {
      if (!this.recoveredRoots.get(containerId)?.ready) return undefined;
      const parts = await Promise.all(
        this.isolators.map((i) => i.usage(containerId).catch(() => ({ timestamp: 0 }))),
      );
      const stats: ResourceStatistics = { timestamp: 0 };
      for (const part of parts) Object.assign(stats, part);
      // Nothing but the timestamp: no isolator can see the container (its processes are gone).
      return Object.keys(stats).length > 1 ? stats : undefined;
    }
    const own = cgroups.path("freezer", containerId);
    const members = await cgroupPids(own);
    if (members.length === 0) return undefined;
    const parts = await Promise.all(
      this.isolators.map((i) => i.usage(containerId).catch(() => ({ timestamp: 0 }))),
    );
    const stats: ResourceStatistics = { timestamp: 0 };
    for (const part of parts) Object.assign(stats, part);
    stats.processes ??= members.length;
    return stats;
  }

  /** True when an isolator follows the container's resources (limits from cpus, mem, disk). */
  get tracksResources(): boolean {
    return this.isolators.some((i) => RESOURCE_ISOLATORS.has(i.name));
  }

  /** True when containers are started through isolators (statistics come from them). */
  get isolating(): boolean {
    // environment_secret is always loaded and measures nothing.
    return this.isolators.some((i) => i.name !== "environment_secret");
  }

  /** Where events go. */
  attach(events: ContainerEvents): void {
    this.events = events;
  }

  /** The helper reported an exit. */
  processExited(pid: number, exit: ProcessExit): void {
    const container = this.byPid.get(pid);
    if (container === undefined) return;
    this.byPid.delete(pid);
    void this.finish(container, exit);
  }

  /** The helper died: its executors are watched by polling from now on. */
  helperLost(): void {
    for (const c of this.containers.values()) if (c.phase === "running") c.orphaned = true;
    this.startPolling();
  }

  /** Pids of running executors (for tests and diagnostics). */
  executorPids(): number[] {
    return [...this.byPid.keys()];
  }

  launch(launch: ContainerLaunch): void {
    const container: Container = {
      id: launch.containerId,
      directory: launch.directory,
      phase: "preparing",
      destroyRequested: false,
      abort: new AbortController(),
      orphaned: false,
      resources: containerResources(resourcesOf(launch.executor.resources)),
      prepared: false,
      executorIsCommandExecutor: launch.commandExecutor,
    };
    // Made before the container is known (see createSandbox); a failure
    // fails the launch below.
    let sandboxError: Error | undefined;
    try {
      createSandbox(launch.directory, launch.containerId);
    } catch (e) {
      sandboxError = new Error(
        `Failed to create the sandbox '${launch.directory}': ${(e as Error).message}`,
      );
    }
    this.containers.set(container.id, container);
    this.prepareAndStart(container, launch, sandboxError).then(
      (pid) => {
        container.phase = "running";
        this.emitLaunched(container.id, { pid });
        if (container.destroyRequested) void this.killTree(container);
      },
      async (e: unknown) => {
        const error = e instanceof Error ? e.message : String(e);
        container.phase = "done";
        await this.cleanupIsolation(container);
        this.containers.delete(container.id);
        this.emitLaunched(container.id, { error });
        this.events?.containerTerminated(container.id, {});
      },
    );
  }

  destroy(containerId: string): void {
    const container = this.containers.get(containerId);
    if (container === undefined || container.phase === "done") return;
    container.destroyRequested = true;
    container.abort.abort();
    if (container.phase === "running") void this.killTree(container);
  }

  /** The container's own networks (network/cni), undefined when it is on the host's. */
  networkInfos(containerId: string): NetworkInfo[] | undefined {
    for (const isolator of this.isolators) {
      const networks = isolator.networkInfos?.(containerId);
      if (networks !== undefined) return networks;
    }
    return undefined;
  }

  /** Stops polling (the agent is exiting). */
  stop(): void {
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    this.recovered?.stop();
  }

  private async prepareAndStart(
    c: Container,
    launch: ContainerLaunch,
    sandboxError: Error | undefined,
  ): Promise<number> {
    const { launcher } = this.o;
    const stopIfDestroyed = () => {
      if (c.destroyRequested) throw new Error("Container was destroyed during launch");
    };
    if (sandboxError !== undefined) throw sandboxError;
    stopIfDestroyed();
    let ids: { uid: number; gid: number } | undefined;
    if (launch.user !== undefined) {
      const user = await this.lookupUser(launch.user);
      // Running as ourselves needs no switch (and no chown).
      if (user.uid !== process.getuid?.() || user.gid !== process.getgid?.()) {
        ids = user;
        await chownSandbox(launch.directory, ids.uid, ids.gid);
      }
    }
    stopIfDestroyed();
    const uris = launch.executor.command?.uris ?? [];
    // Called without URIs too: Mesos counts every launch in task_fetches_*.
    const fetched = await fetchForContainer(uris, {
      sandbox: launch.directory,
      settings: fetcherSettingsOf(this.o),
      run: (file, args, cwd) => launcher.run({ op: "run", file, args, cwd, timeoutMs: 600_000 }),
      user: launch.user,
      ids,
      signal: c.abort.signal,
    });
    // Fetched as the user, the files are already the user's; the rest are chowned.
    if (ids !== undefined && !fetched.asUser && uris.length > 0) {
      await launcher.run({
        op: "run",
        file: "chown",
        args: ["-R", `${ids.uid}:${ids.gid}`, launch.directory],
      });
    }
    stopIfDestroyed();
    this.o.preparePersistentVolumes?.(launch);
    const preparation = await this.prepareIsolation(c, launch, ids);
    stopIfDestroyed();
    let command = executorCommand(c.runtimeCommand ?? launch.executor.command);
    const extra = preparation.executorArguments ?? [];
    if (extra.length > 0) command = { ...command, args: [...command.args, ...extra] };
    // The shim needs root for cgroups and mounts; it switches user itself.
    // Its steps keep fd 3 open and exec, so the executor's ready pipe survives.
    const shimmed = needsShim(preparation);
    if (shimmed) {
      const signalsReady = command.signalsReady;
      command = shimCommand(command, preparation, ids);
      if (signalsReady === true) command.signalsReady = true;
    }
    const spawnIds = shimmed ? undefined : ids;
    // An executor inside an image sees its sandbox at --sandbox_directory.
    const inImage = preparation.rootfs !== undefined && preparation.chroot !== false;
    // Isolators' variables (resolved secrets) join the agent's; the command's values already won.
    const prepared = { ...launch.environment, ...preparation.environment };
    const env = inImage
      ? imageEnvironment(prepared, this.o.provisioner?.sandboxDirectory)
      : prepared;
    const paceLimit = this.o.launchConcurrency ?? 0;
    const paced = command.signalsReady === true && paceLimit > 0;
    const poolSize = this.o.executorPoolSize ?? 0;
    const eligible =
      command.signalsReady === true &&
      !shimmed &&
      ids === undefined &&
      !inImage &&
      this.o.containerLogger === undefined &&
      startupVariable(env) === undefined;
    const perProcess = this.o.commandExecutorsPerProcess ?? 1;
    const hosted =
      eligible &&
      perProcess > 1 &&
      c.cgroup === undefined &&
      this.isolators.every((i) => HOSTABLE_ISOLATORS.has(i.name) && i.stopsContainers !== true) &&
      !tlsEnabled(env);
    const pooled = !hosted && poolSize > 0 && eligible;
    const output = await this.containerOutput(launch, ids);
    const reply = await launcher
      .spawn(
        {
          op: "spawn",
          file: command.file,
          args: command.args,
          env,
          ...(command.environmentFd === undefined ? {} : { environmentFd: command.environmentFd }),
          cwd: launch.directory,
          stdout: output?.stdout ?? `${launch.directory}/stdout`,
          stderr: output?.stderr ?? `${launch.directory}/stderr`,
          ...(spawnIds === undefined ? {} : spawnIds),
          ...(paced && !hosted ? { paceLimit } : {}),
          ...(pooled ? { pool: { dir: `${this.o.workDir}/executor-pool`, size: poolSize } } : {}),
          ...(hosted
            ? {
                host: {
                  dir: `${this.o.workDir}/executor-hosts`,
                  perProcess,
                  keepIdle: poolSize > 0,
                },
              }
            : {}),
        },
        c.abort.signal,
      )
      .catch((e: unknown) => {
        stopIfDestroyed();
        throw new Error(`Failed to start the executor '${command.file}': ${(e as Error).message}`);
      })
      .finally(() => output?.release());
    c.pid = reply.pid;
    if (reply.startTime !== undefined) c.startTime = reply.startTime;
    this.byPid.set(reply.pid, c);
    const identity = {
      pid: reply.pid,
      bootId: this.o.bootId,
      ...(reply.startTime === undefined ? {} : { startTime: reply.startTime }),
    };
    // A checkpointing framework's executor is recoverable only once its pid
    // is on disk: the launch is reported (and the agent accepts the
    // executor's SUBSCRIBE) after that, as Mesos checkpoints the pid before
    // the executor runs. Other frameworks' records only help a restarted
    // agent kill leftovers, so their launches do not wait for them.
    const recorded = recordExecutorProcess(this.o.workDir, launch, identity).then(
      () => undefined,
      (e: unknown) => (e as Error).message,
    );
    if (shimmed) await enterCgroups(reply.pid, preparation);
    for (const isolator of this.isolators) {
      await isolator
        .isolate(c.id, reply.pid)
        .catch((e: unknown) =>
          this.o.logger.warn(
            `Failed to isolate container '${c.id}' (${isolator.name}): ${(e as Error).message}`,
          ),
        );
    }
    if (launch.checkpoint) {
      const failure = await recorded;
      if (failure !== undefined) {
        // As Mesos, a pid that cannot be checkpointed fails the launch; the
        // failed launch would leave the started executor running.
        await this.killTree(c);
        throw new Error(`Failed to checkpoint the executor's pid: ${failure}`);
      }
    } else {
      void recorded.then((failure) => {
        if (failure !== undefined) {
          this.o.logger.warn(`Failed to record the pid of container '${c.id}': ${failure}`);
        }
      });
    }
    return reply.pid;
  }

  /** Where the executor's output goes when a container logger is on (its command environment may tune it). */
  private async containerOutput(
    launch: ContainerLaunch,
    ids: { uid: number; gid: number } | undefined,
  ): Promise<ContainerOutput | undefined> {
    const logger = this.o.containerLogger;
    if (logger === undefined) return undefined;
    const environments = [launch.executor.command?.environment];
    if (launch.commandExecutor) environments.push(launch.commandTask?.command?.environment);
    return await logger.prepare({ directory: launch.directory, environments, ids });
  }

  /** Lets every isolator prepare the container; the launch then does what they ask. */
  private async prepareIsolation(
    c: Container,
    launch: ContainerLaunch,
    user: { uid: number; gid: number } | undefined,
  ): Promise<LaunchPreparation> {
    const image = launch.executor.container?.mesos?.image;
    if (
      this.isolators.length === 0 &&
      this.o.launcherCgroups === undefined &&
      image === undefined
    ) {
      return {};
    }
    c.prepared = true;
    const preparations: (LaunchPreparation | undefined)[] = [];
    const cgroups = this.o.launcherCgroups;
    if (cgroups !== undefined) {
      c.cgroup = await cgroups.create("freezer", c.id);
      preparations.push({ cgroupProcs: [`${c.cgroup}/cgroup.procs`] });
    }
    const config = {
      containerId: c.id,
      directory: launch.directory,
      executor: launch.executor,
      user,
      commandExecutor: launch.commandExecutor,
      resources: c.resources,
    };
    for (const isolator of this.isolators) {
      try {
        preparations.push(await isolator.prepare(config));
      } catch (e) {
        throw new Error(`Failed to prepare isolator ${isolator.name}: ${(e as Error).message}`);
      }
    }
    if (image !== undefined) {
      // The command executor's task gets linux/capabilities' sets (mergePreparations).
      const capabilities = mergePreparations(preparations).capabilities;
      preparations.push(
        await this.provisionImage(c, launch, image, user !== undefined, capabilities),
      );
    }
    const volumes = launch.executor.container?.volumes ?? [];
    if (volumes.some((v) => v.image !== undefined)) {
      if (this.o.provisioner === undefined) {
        throw new Error("Container images need the agent flag --image_providers=docker");
      }
      c.provisioned = true;
      const rootfs = preparations.find((p) => p?.rootfs !== undefined)?.rootfs;
      const mounts = await imageVolumePreparation(
        this.o.provisioner,
        c.id,
        volumes,
        launch.directory,
        rootfs,
        this.o.provisioner.sandboxDirectory,
      );
      preparations.push({ mountNamespace: true, mounts });
    }
    const rootfs = preparations.find((p) => p?.rootfs !== undefined)?.rootfs;
    if (rootfs !== undefined) {
      // volume/secret's mounts go into the image, after its sandbox mount.
      preparations.push(
        await placeImageMounts(preparations, rootfs, this.o.provisioner?.sandboxDirectory),
      );
    }
    return mergePreparations(preparations);
  }

  /** Builds the container's root filesystem from its image. */
  private async provisionImage(
    c: Container,
    launch: ContainerLaunch,
    image: Image,
    switchesUser: boolean,
    capabilities?: LaunchPreparation["capabilities"],
  ): Promise<LaunchPreparation> {
    const provisioner = this.o.provisioner;
    if (provisioner === undefined) {
      throw new Error("Container images need the agent flag --image_providers=docker");
    }
    if (image.type !== "DOCKER" || image.docker?.name === undefined) {
      throw new Error(`Only DOCKER images are supported (got ${image.type})`);
    }
    const taskCommand = launch.commandTask?.command;
    if (launch.commandExecutor) {
      if (taskCommand === undefined) throw new Error("The command task has no command");
      if (switchesUser) {
        throw new Error("Command tasks in a container image run as the agent's user only");
      }
      if (CHROOT === undefined) throw new Error("chroot is not installed on this agent");
    }
    c.provisioned = true;
    // Store errors reach the task as they are (Mesos' wording names the image).
    const provisioned = await provisioner.provision(c.id, image.docker.name, image.cached ?? true);
    const rootfs = provisioned.path;
    if (this.o.dockerRuntime === true) {
      c.runtime = provisioned.image.config;
      const workDir = c.runtime.WorkingDir;
      if (workDir !== undefined && workDir !== "") await ensureWorkingDir(rootfs, workDir);
      const command = launch.commandExecutor ? taskCommand : launch.executor.command;
      const error = command === undefined ? undefined : runtimeCommandError(command, c.runtime);
      if (error !== undefined) throw new Error(`Failed to determine the launch command: ${error}`);
      if (!launch.commandExecutor && command?.shell === false && command.value === undefined) {
        const found = runtimeArgv(command, c.runtime);
        if ("argv" in found) {
          c.runtimeCommand = { ...command, value: found.argv[0] ?? "", arguments: found.argv };
        }
      }
    }
    const preparation: LaunchPreparation = {
      mountNamespace: true,
      mounts: [
        await sandboxMount(launch.directory, rootfs, provisioner.sandboxDirectory),
        ...(await imageVolumeMounts(
          launch.executor.container?.volumes ?? [],
          launch.directory,
          rootfs,
          provisioner.sandboxDirectory,
        )),
      ],
      rootfs,
      // The executor starts in its sandbox inside, unless the image names a WorkingDir.
      rootfsWorkDir: provisioner.sandboxDirectory,
    };
    if (c.runtime !== undefined && !launch.commandExecutor) {
      preparation.rootfsEnv = imageVariables(c.runtime, launch.environment);
      if (c.runtime.WorkingDir !== undefined && c.runtime.WorkingDir !== "") {
        preparation.rootfsWorkDir = c.runtime.WorkingDir;
      }
    }
    if (launch.commandExecutor && taskCommand !== undefined && CHROOT !== undefined) {
      // The command executor stays on the host; its task runs in the image.
      preparation.chroot = false;
      const wrapped = chrootTaskCommand(taskCommand, rootfs, CHROOT, c.runtime, {
        sandbox: provisioner.sandboxDirectory,
        capabilities,
      });
      preparation.executorArguments = [`--task_command=${JSON.stringify(wrapped)}`];
    }
    return preparation;
  }

  /** Releases what the isolators took (their cgroups) and the container's own cgroup. */
  private async cleanupIsolation(c: Container): Promise<void> {
    if (!c.prepared) return;
    c.prepared = false;
    if (c.cgroup !== undefined && this.o.launcherCgroups !== undefined) {
      await killCgroup(c.cgroup, this.o.launcherCgroups.version, this.destroyTimeoutMs);
    }
    let failed = false;
    for (const isolator of this.isolators) {
      await isolator.cleanup(c.id).catch((e: unknown) => {
        failed = true;
        this.o.logger.warn(
          `Failed to clean up ${isolator.name} of container '${c.id}': ${(e as Error).message}`,
        );
      });
    }
    if (c.cgroup !== undefined) {
      await removeCgroup(c.cgroup).catch((e: unknown) => {
        failed = true;
        this.o.logger.warn(`Failed to remove cgroup '${c.cgroup}': ${(e as Error).message}`);
      });
    }
    if (c.provisioned === true) {
      await this.o.provisioner?.destroy(c.id).catch((e: unknown) => {
        failed = true;
        this.o.logger.warn(
          `Failed to remove the root filesystem of container '${c.id}': ${(e as Error).message}`,
        );
      });
    }
    if (failed) this.destroyErrors++;
  }

  /** uid/gid of a user; lookups are cached for a minute (a launch storm asks for the same user). */
  private async lookupUser(name: string): Promise<{ uid: number; gid: number }> {
    const now = Date.now();
    const cached = this.users.get(name);
    if (cached !== undefined && now - cached.at < USER_CACHE_MS) return cached;
    try {
      const found = await this.o.launcher.user(name);
      const entry = { uid: found.uid, gid: found.gid, at: now };
      this.users.set(name, entry);
      return entry;
    } catch (e) {
      throw new Error(`Failed to switch to user '${name}': ${(e as Error).message}`);
    }
  }

  private emitLaunched(containerId: string, result: { pid: number } | { error: string }): void {
    this.events?.containerLaunched(containerId, result);
  }

  /** Kills every process of the container (see the module comment). */
  private async killTree(c: Container): Promise<void> {
    if (c.pid === undefined) return;
    if (c.cgroup !== undefined && this.o.launcherCgroups !== undefined) {
      const n = await killCgroup(c.cgroup, this.o.launcherCgroups.version, this.destroyTimeoutMs);
      if (n > 0) this.o.logger.info(`Killed ${n} process(es) of container '${c.id}'`);
      if (c.orphaned) this.startPolling();
      return;
    }
    const killed = await this.sweeper.kill(c.pid, c.directory, c.startTime);
    if (killed > 0) this.o.logger.info(`Killed ${killed} process(es) of container '${c.id}'`);
    if (c.orphaned) this.startPolling();
  }

  /** The executor is gone: sweep what it left behind, then report. */
  private async finish(c: Container, exit: ProcessExit): Promise<void> {
    if (c.phase === "done") return;
    c.phase = "done";
    const leftovers =
      c.cgroup !== undefined && this.o.launcherCgroups !== undefined
        ? await killCgroup(c.cgroup, this.o.launcherCgroups.version, this.destroyTimeoutMs)
        : await this.sweeper.kill(undefined, c.directory, c.startTime);
    if (leftovers > 0) {
      this.o.logger.warn(
        `Killed ${leftovers} process(es) left behind by the executor of container '${c.id}'`,
      );
    }
    await this.cleanupIsolation(c);
    this.containers.delete(c.id);
    const status = waitStatus(exit);
    const termination: ContainerTermination = status === undefined ? {} : { status };
    if (c.limitation !== undefined) {
      termination.limitation = c.limitation;
      termination.message = c.limitation.message;
    }
    this.events?.containerTerminated(c.id, termination);
  }

  private startPolling(): void {
    if (this.pollTimer !== undefined) return;
    this.pollTimer = setInterval(() => void this.poll(), this.o.pollIntervalMs ?? 1000);
    this.pollTimer.unref();
  }

  private async poll(): Promise<void> {
    const watched = [...this.containers.values()].filter((c) => c.orphaned && c.pid !== undefined);
    if (watched.length === 0) {
      if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
      this.pollTimer = undefined;
      return;
    }
    for (const c of watched) {
      const pid = c.pid as number;
      if (!(await isSameProcess(pid, c.startTime))) {
        this.byPid.delete(pid);
        void this.finish(c, { code: null, signal: null });
      }
    }
  }
}
