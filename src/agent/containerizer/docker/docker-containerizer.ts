/**
 * The Docker containerizer (`--containerizers=...,docker`): runs executors
 * whose ContainerInfo is DOCKER through the `docker` CLI, as Mesos' does.
 *
 * - A **command task** in a Docker image: the sandbox is created, URIs are
 *   fetched, the image is pulled (`docker inspect <image>` first, `docker
 *   pull` when missing or `force_pull_image`), then the docker executor
 *   (docker-executor.ts) starts on the host in its own session; it runs
 *   `docker run` for the task. The container is `mesos-<container id>`.
 * - A **custom executor** in a Docker image: the agent itself runs `docker
 *   run` for the executor's command, waits for `docker inspect` to give the
 *   container's pid, and watches `docker run` for its end.
 *
 * The watched process's output (the docker executor's, which carries the
 * task container's `docker run` output, or the executor container's `docker
 * run`) goes to the sandbox's `stdout` / `stderr`, or through the container
 * logger when `--container_logger` names one, as for Mesos containers.
 *
 * Destroying a running container sends SIGTERM to the executor's process
 * group, runs `docker stop -t <--docker_stop_timeout>` and, should that hang
 * for a minute longer, SIGKILLs what it can. An executor that ends by itself
 * leaves its container alone (as Mesos does). Either way the container is
 * removed (`docker rm -f -v`) `--docker_remove_delay` after it ended.
 *
 * After an agent restart, live executors of checkpointing frameworks are
 * adopted (their pids polled), and with `--docker_kill_orphans` every other
 * `mesos-<uuid>` container `docker ps -a` lists is stopped and removed.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { closeSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "../../../common/observability/logger.js";
import type { ResourceStatistics } from "../../../common/protocol/generated/mesos-v1.js";
import type { ContainerLaunch, ContainerTermination } from "../../agent-ports.js";
import { isRunningProcess } from "../../checkpoint/recovered-containers.js";
import { treeUsages } from "../../monitor/process-usage.js";
import { metaRunPath, type RunIds } from "../../paths.js";
import { dockerExecutorScript, moveNodeStartupVariables } from "../executor-command.js";
import { fetcherSettingsOf, fetchForContainer } from "../fetcher.js";
import type { FetcherCache } from "../fetcher-cache.js";
import type { ContainerLogger, ContainerOutput } from "../logger/container-logger.js";
import { recordExecutorProcess } from "../pid-record.js";
import type { ContainerEvents } from "../posix-containerizer.js";
import { parseProcStat } from "../proc.js";
import { chownSandbox, createSandbox } from "../sandbox.js";
import { openSandboxOutput } from "../sandbox-no-follow.js";
import {
  containerIdOfName,
  dockerContainerName,
  dockerRunOptions,
  imageInspectArgs,
  inspectArgs,
  parseInspect,
  parsePs,
  psArgs,
  pullArgs,
  rmArgs,
  runArgs,
  stopArgs,
} from "./docker-args.js";
import type { DockerCli } from "./docker-cli.js";

/** The docker executor's entry point (compiled beside this file). */
export const DOCKER_EXECUTOR_MAIN = join(
  dirname(fileURLToPath(import.meta.url)),
  "docker-executor-main.js",
);

/** How long past `--docker_stop_timeout` a `docker stop` may hang before we SIGKILL. */
const FORCE_KILL_AFTER_MS = 60_000;
const INSPECT_INTERVAL_MS = 500;
const POLL_INTERVAL_MS = 250;
/** The raw wait status of a SIGKILL. */
const KILLED_STATUS = 9;
/** Settings from the agent's flags. */
export interface DockerContainerizerOptions {
  docker: DockerCli;
  workDir: string;
  logger: Logger;
  bootId: string;
  /** `--sandbox_directory`: where the sandbox is mapped inside containers. */
  sandboxDirectory: string;
  /** `--docker_stop_timeout` in ms. */
  stopTimeoutMs: number;
  /** `--docker_remove_delay` in ms. */
  removeDelayMs: number;
  /** `--docker_kill_orphans`. */
  killOrphans: boolean;
  /** `--cgroups_enable_cfs`. */
  cgroupsEnableCfs: boolean;
  /** `--launcher_dir`, passed on to the docker executor. */
  launcherDir: string;
  frameworksHome: string;
  /** `--hadoop_home` (where the fetcher finds the Hadoop client). */
  hadoopHome?: string | undefined;
  fetcherStallTimeoutMs: number;
  fetcherCache?: FetcherCache;
  /** `--container_logger`: where the watched process's output goes (default: sandbox files). */
  containerLogger?: ContainerLogger | undefined;
  /** The docker executor program (default: DOCKER_EXECUTOR_MAIN run by this Node). */
  executorCommand?: { file: string; args: string[] };
  /**
   * Looks up the uid and gid of a task's user (the agent's launcher helper).
   * Without it, a launch that names a user fails.
   */
  lookupUser?: ((name: string) => Promise<{ uid: number; gid: number }>) | undefined;
}

/** What the agent records beside the pid, so a restarted agent knows the container. */
interface DockerRecord {
  name: string;
  /** `executor`: our docker executor runs the task's container; `container`: the executor is the container. */
  mode: "executor" | "container";
}

interface Container {
  readonly id: string;
  readonly name: string;
  readonly directory: string;
  readonly mode: DockerRecord["mode"];
  phase: "fetching" | "pulling" | "running" | "done";
  destroying: boolean;
  killed: boolean;
  readonly abort: AbortController;
  /** The process we watch: the docker executor, or `docker run` of an executor container. */
  child?: ChildProcess;
  /** The watched pid (adopted containers have no child). */
  pid?: number;
  startTime?: number;
  /** The container's own main process (from `docker inspect`). */
  containerPid?: number;
  status?: number;
  exited: boolean;
  /** `containerLaunched` went out: an exit can be reported. */
  launched: boolean;
  adopted: boolean;
  /** Resources the container was given, for statistics. */
  cpus?: number;
  memMb?: number;
}

/** The Docker containerizer. `attach` the agent's events before launching. */
export class DockerContainerizer {
  private events: ContainerEvents | undefined;
  private readonly containers = new Map<string, Container>();
  private readonly removals = new Set<NodeJS.Timeout>();
  private pollTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Told how long each image pull step took, in ms (the agent's image_pull timer). */
  onPull: ((ms: number) => void) | undefined;

  constructor(private readonly o: DockerContainerizerOptions) {}

  /** Where container events go. */
  attach(events: ContainerEvents): void {
    this.events = events;
  }

  /** True for an executor whose container is DOCKER. */
  static handles(launch: ContainerLaunch): boolean {
    return launch.executor.container?.type === "DOCKER";
  }

  /** True when this containerizer runs (or adopted) the container. */
  has(containerId: string): boolean {
    return this.containers.has(containerId);
  }

  /**
   * Checks that docker answers (`docker --version`) and is 1.8.0 or newer;
   * the agent refuses to start otherwise, as Mesos does.
   */
  async validate(): Promise<void> {
    const out = await this.o.docker.run(["--version"], { timeoutMs: 30_000 });
    const match = /version\s+(\d+)\.(\d+)\.(\d+)/i.exec(out.stdout);
    if (match === null)
      throw new Error(`Unexpected 'docker --version' output: ${out.stdout.trim()}`);
    const [major, minor] = [Number(match[1]), Number(match[2])];
    if (major < 1 || (major === 1 && minor < 8)) {
      throw new Error(`Insufficient version '${match[0]}' of Docker: 1.8.0 or newer is required`);
    }
  }

  launch(launch: ContainerLaunch): void {
    const mode = launch.commandExecutor ? "executor" : "container";
    const container: Container = {
      id: launch.containerId,
      name: dockerContainerName(launch.containerId),
      directory: launch.directory,
      mode,
      phase: "fetching",
      destroying: false,
      killed: false,
      abort: new AbortController(),
      exited: false,
      launched: false,
      adopted: false,
    };
    const resources = launch.commandTask?.resources ?? launch.executor.resources ?? [];
    for (const r of resources) {
      if (r.name === "cpus" && r.scalar !== undefined)
        container.cpus = (container.cpus ?? 0) + r.scalar.value;
      if (r.name === "mem" && r.scalar !== undefined)
        container.memMb = (container.memMb ?? 0) + r.scalar.value;
    }
    this.containers.set(container.id, container);
    this.o.logger.info(
      `Starting Docker container '${container.id}' (${container.name}) for executor '${launch.executorId}' of framework ${launch.frameworkId}`,
    );
    this.start(container, launch).then(
      (pid) => {
        container.launched = true;
        this.events?.containerLaunched(container.id, { pid });
        if (container.exited) this.ended(container);
      },
      (e: unknown) => {
        const destroyed = container.destroying;
        const message = e instanceof Error ? e.message : String(e);
        const phase = container.phase;
        container.phase = "done";
        container.child?.kill("SIGKILL");
        this.containers.delete(container.id);
        this.events?.containerLaunched(container.id, { error: message });
        const termination: ContainerTermination = destroyed
          ? {
              message:
                phase === "running"
                  ? "Container killed"
                  : phase === "pulling"
                    ? "Container destroyed while pulling image"
                    : "Container destroyed while fetching",
            }
          : {};
        this.events?.containerTerminated(container.id, termination);
        if (phase === "running") this.scheduleRemove(container.name);
      },
    );
  }

  /** Destroys a container: see the module comment. `containerTerminated` follows. */
  destroy(containerId: string): void {
    const c = this.containers.get(containerId);
    if (c === undefined || c.phase === "done" || c.destroying) return;
    c.destroying = true;
    c.killed = true;
    if (c.phase !== "running") {
      c.abort.abort();
      return;
    }
    this.o.logger.info(`Destroying Docker container '${c.id}' (${c.name})`);
    if (c.mode === "executor" && c.pid !== undefined) signalGroup(c.pid, "SIGTERM");
    const timer = setTimeout(() => {
      this.o.logger.warn(`docker stop timed out for container '${c.id}': killing it`);
      if (c.pid !== undefined) signalGroup(c.pid, "SIGKILL");
      if (c.containerPid !== undefined) signalGroup(c.containerPid, "SIGKILL");
    }, this.o.stopTimeoutMs + FORCE_KILL_AFTER_MS);
    timer.unref();
    this.o.docker
      .run(stopArgs(c.name, this.o.stopTimeoutMs), {
        timeoutMs: this.o.stopTimeoutMs + FORCE_KILL_AFTER_MS,
      })
      .catch((e: unknown) =>
        this.o.logger.warn(`Failed to stop Docker container '${c.name}': ${(e as Error).message}`),
      )
      .finally(() => {
        if (c.exited) clearTimeout(timer);
      });
  }

  /** Statistics of the container's processes (from /proc), with its cpus and mem as limits. */
  async usage(containerId: string): Promise<ResourceStatistics | undefined> {
    const c = this.containers.get(containerId);
    if (c === undefined || c.phase !== "running") return undefined;
    const roots = [c.containerPid, c.pid].filter((p): p is number => p !== undefined);
    const usages = await treeUsages(roots);
    const stats: ResourceStatistics = { timestamp: Date.now() / 1000 };
    for (const u of usages.values()) {
      stats.processes = (stats.processes ?? 0) + u.processes;
      stats.threads = (stats.threads ?? 0) + u.threads;
      stats.cpus_user_time_secs = (stats.cpus_user_time_secs ?? 0) + u.cpusUserTimeSecs;
      stats.cpus_system_time_secs = (stats.cpus_system_time_secs ?? 0) + u.cpusSystemTimeSecs;
      stats.mem_rss_bytes = (stats.mem_rss_bytes ?? 0) + u.memRssBytes;
    }
    if (c.cpus !== undefined) stats.cpus_limit = c.cpus;
    if (c.memMb !== undefined) stats.mem_limit_bytes = Math.round(c.memMb * 1024 * 1024);
    return stats;
  }

  /**
   * After an agent restart: takes over a live executor of the previous run
   * when it was a Docker container (its record says so). True if taken.
   */
  async adopt(
    ids: RunIds,
    directory: string,
    pid: number,
    startTime: number | undefined,
  ): Promise<boolean> {
    const record = await readRecord(this.o.workDir, ids);
    if (record === undefined) return false;
    const c: Container = {
      id: ids.containerId,
      name: record.name,
      directory,
      mode: record.mode,
      phase: "running",
      destroying: false,
      killed: false,
      abort: new AbortController(),
      pid,
      exited: false,
      launched: true,
      adopted: true,
    };
    if (startTime !== undefined) c.startTime = startTime;
    this.containers.set(c.id, c);
    this.o.logger.info(`Recovered Docker container '${c.id}' (${c.name}), pid ${pid}`);
    void this.inspectPid(c);
    this.pollTimer ??= setInterval(() => void this.poll(), POLL_INTERVAL_MS);
    this.pollTimer.unref();
    return true;
  }

  /**
   * After recovery: with `--docker_kill_orphans`, stops and removes every
   * `mesos-<uuid>` container that is not one of ours (`docker ps -a`).
   */
  async removeOrphans(): Promise<void> {
    if (!this.o.killOrphans) return;
    let listed: { id: string; name: string }[];
    try {
      listed = parsePs((await this.o.docker.run(psArgs())).stdout);
    } catch (e) {
      this.o.logger.warn(`Failed to list Docker containers: ${(e as Error).message}`);
      return;
    }
    const known = new Set(this.containers.keys());
    await Promise.all(
      listed.map(async ({ name }) => {
        const id = containerIdOfName(name);
        if (id === undefined || known.has(id)) return;
        this.o.logger.info(`Removing orphaned Docker container '${name}'`);
        try {
          await this.o.docker.run(stopArgs(name, this.o.stopTimeoutMs), {
            timeoutMs: this.o.stopTimeoutMs + FORCE_KILL_AFTER_MS,
          });
          await this.o.docker.run(rmArgs(name, true));
        } catch (e) {
          this.o.logger.warn(
            `Failed to remove orphaned container '${name}': ${(e as Error).message}`,
          );
        }
      }),
    );
  }

  /** The agent stops: timers end (containers keep running; removals are left to the next start). */
  stop(): void {
    this.stopped = true;
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    for (const t of this.removals) clearTimeout(t);
    this.removals.clear();
  }

  // ---- launch ------------------------------------------------------------------

  private async start(c: Container, launch: ContainerLaunch): Promise<number> {
    const destroyed = () => {
      if (c.destroying) throw new Error("Container was destroyed during launch");
    };
    try {
      createSandbox(launch.directory, launch.containerId);
    } catch (e) {
      throw new Error(
        `Failed to create the sandbox '${launch.directory}': ${(e as Error).message}`,
      );
    }
    destroyed();
    // The sandbox is the task's user's, as Mesos creates it for the executor's
    // user (with --switch_user; `launch.user` is set only then, on a root agent).
    const ids = launch.user === undefined ? undefined : await this.userIds(launch.user);
    if (ids !== undefined) await chownSandbox(launch.directory, ids.uid, ids.gid);
    destroyed();
    // As the Mesos fetcher, which the Docker containerizer also runs as the
    // task's user: every write into the sandbox is that user's (fetcher.ts).
    // Called without URIs too: Mesos counts every launch in task_fetches_*.
    try {
      await fetchForContainer(launch.executor.command?.uris ?? [], {
        sandbox: launch.directory,
        settings: fetcherSettingsOf(this.o),
        run: runProgram,
        user: launch.user,
        ids,
        signal: c.abort.signal,
      });
    } catch (e) {
      destroyed();
      throw e;
    }
    destroyed();
    c.phase = "pulling";
    const docker = launch.executor.container?.docker;
    if (docker === undefined) throw new Error("No docker info found in container info");
    await this.pull(docker.image, docker.force_pull_image ?? false, c.abort.signal).catch(
      (e: unknown) => {
        destroyed();
        throw new Error(`Failed to pull image '${docker.image}': ${(e as Error).message}`);
      },
    );
    destroyed();
    const output = await this.containerOutput(launch, ids);
    let pid: number;
    try {
      destroyed();
      const record: DockerRecord = { name: c.name, mode: c.mode };
      await writeRecord(this.o.workDir, launch, record);
      c.phase = "running";
      pid =
        c.mode === "executor"
          ? this.spawnExecutor(c, launch, output)
          : await this.runExecutorContainer(c, launch, output);
    } finally {
      output?.release();
    }
    const startTime = await processStartTime(c.pid ?? pid);
    if (startTime !== undefined) c.startTime = startTime;
    const recorded = recordExecutorProcess(this.o.workDir, launch, {
      pid,
      bootId: this.o.bootId,
      ...(startTime === undefined ? {} : { startTime }),
    }).catch((e: unknown) =>
      this.o.logger.warn(
        `Failed to record the pid of container '${c.id}': ${(e as Error).message}`,
      ),
    );
    // The launch is reported (and the executor's SUBSCRIBE accepted) once a
    // checkpointing framework's executor is recoverable.
    if (launch.checkpoint) await recorded;
    return pid;
  }

  /**
   * The container logger's pipes for the watched process's output, or
   * undefined (sandbox files). Overrides come from the executor's and, for a
   * command task, the task's command environment, as for Mesos containers.
   */
  private async containerOutput(
    launch: ContainerLaunch,
    ids: { uid: number; gid: number } | undefined,
  ): Promise<ContainerOutput | undefined> {
    const logger = this.o.containerLogger;
    if (logger === undefined) return undefined;
    const environments = [launch.executor.command?.environment];
    if (launch.commandExecutor) environments.push(launch.commandTask?.command?.environment);
    // The loggers run as the task's user, as Mesos' logrotate logger does for
    // Docker containers too; the docker executor itself stays the agent's.
    return await logger.prepare({ directory: launch.directory, environments, ids });
  }

  /**
   * The uid and gid to give the sandbox to, or undefined when `name` is the
   * agent's own user (nothing to switch).
   */
  private async userIds(name: string): Promise<{ uid: number; gid: number } | undefined> {
    let found: { uid: number; gid: number };
    try {
      if (this.o.lookupUser === undefined) throw new Error("users cannot be looked up");
      found = await this.o.lookupUser(name);
    } catch (e) {
      throw new Error(`Failed to switch to user '${name}': ${(e as Error).message}`);
    }
    if (found.uid === process.getuid?.() && found.gid === process.getgid?.()) return undefined;
    return { uid: found.uid, gid: found.gid };
  }

  /**
   * `docker inspect <image>`, and `docker pull` when that fails or the pull
   * is forced. `onPull` hears how long it took, failed or not (Mesos'
   * `containerizer/docker/image_pull` timer times the same step).
   */
  private async pull(image: string, force: boolean, signal: AbortSignal): Promise<void> {
    const start = performance.now();
    try {
      if (!force) {
        const present = await this.o.docker.run(imageInspectArgs(image), { signal }).then(
          () => true,
          () => false,
        );
        if (present) return;
      }
      await this.o.docker.run(pullArgs(image), { timeoutMs: 3_600_000, signal });
    } finally {
      this.onPull?.(performance.now() - start);
    }
  }

  /** Starts the docker executor on the host for a command task. */
  private spawnExecutor(
    c: Container,
    launch: ContainerLaunch,
    output: ContainerOutput | undefined,
  ): number {
    const command = this.o.executorCommand ?? {
      file: process.execPath,
      // Bundled and code-cached (falls back to DOCKER_EXECUTOR_MAIN).
      args: [dockerExecutorScript().entry],
    };
    const args = [
      ...command.args,
      `--container=${c.name}`,
      `--docker=${this.o.docker.o.path}`,
      `--docker_socket=${this.o.docker.o.socket}`,
      `--sandbox_directory=${launch.directory}`,
      `--mapped_directory=${this.o.sandboxDirectory}`,
      `--stop_timeout=${this.o.stopTimeoutMs}ms`,
      `--launcher_dir=${this.o.launcherDir}`,
      ...(this.o.cgroupsEnableCfs ? ["--cgroups_enable_cfs"] : []),
    ];
    const env: Record<string, string> = { ...launch.environment };
    for (const v of launch.executor.command?.environment?.variables ?? []) {
      if (v.type !== "SECRET") env[v.name] = v.value ?? "";
    }
    // Its own Node starts without NODE_EXTRA_CA_CERTS/NODE_OPTIONS (the container gets the task's).
    if (this.o.executorCommand === undefined) moveNodeStartupVariables(env);
    return this.spawnWatched(c, command.file, args, env, launch.directory, output);
  }

  /** Runs a custom executor as the Docker container; resolves with the container's pid. */
  private async runExecutorContainer(
    c: Container,
    launch: ContainerLaunch,
    output: ContainerOutput | undefined,
  ): Promise<number> {
    const container = launch.executor.container;
    const command = launch.executor.command;
    if (container === undefined || command === undefined) {
      throw new Error("The executor has no command to run in its Docker container");
    }
    const options = dockerRunOptions({
      container,
      command,
      name: c.name,
      sandboxDirectory: launch.directory,
      mappedDirectory: this.o.sandboxDirectory,
      resources: launch.executor.resources,
      enableCfsQuota: this.o.cgroupsEnableCfs,
      env: launch.environment,
    });
    if (!options.ok) throw new Error(options.error);
    const argv = this.o.docker.argv(runArgs(options.value));
    this.spawnWatched(c, this.o.docker.o.path, argv, process.env, launch.directory, output);
    // The pipes are open in `docker run` now: the logger sees their end when it exits.
    output?.release();
    for (;;) {
      if (c.exited) {
        throw new Error(
          `Container ${c.status === undefined ? "ended" : describeStatus(c.status)} before it could be inspected`,
        );
      }
      if (c.destroying) throw new Error("Container was destroyed during launch");
      const out = await this.o.docker
        .run(inspectArgs(c.name), { timeoutMs: 5_000 })
        .catch(() => undefined);
      const state = out === undefined ? undefined : parseInspect(out.stdout);
      if (state?.ok === true && state.value.pid !== undefined) {
        c.containerPid = state.value.pid;
        return state.value.pid;
      }
      await new Promise((r) => setTimeout(r, INSPECT_INTERVAL_MS));
    }
  }

  /**
   * Spawns a process in its own session with output to the sandbox (or the
   * container logger's pipes); its exit ends the container.
   */
  private spawnWatched(
    c: Container,
    file: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    directory: string,
    output: ContainerOutput | undefined,
  ): number {
    // The sandbox may be the task's user's: see openSandboxOutput.
    const kind = output === undefined ? "file" : "pipe";
    const out = openSandboxOutput(output?.stdout ?? join(directory, "stdout"), kind);
    let err: number;
    try {
      err = openSandboxOutput(output?.stderr ?? join(directory, "stderr"), kind);
    } catch (e) {
      closeSync(out);
      throw e;
    }
    let child: ChildProcess;
    try {
      child = spawn(file, args, {
        cwd: directory,
        env,
        detached: true,
        stdio: ["ignore", out, err],
      });
    } finally {
      closeSync(out);
      closeSync(err);
    }
    c.child = child;
    // The executor must not keep the agent alive (it outlives the agent anyway).
    child.unref();
    child.once("exit", (code, signal) => {
      c.exited = true;
      c.status = code !== null ? (code & 0xff) << 8 : signalNumber(signal);
      if (c.launched) this.ended(c);
    });
    child.once("error", () => {
      c.exited = true;
    });
    if (child.pid === undefined) throw new Error(`Failed to start '${file}'`);
    c.pid = child.pid;
    return child.pid;
  }

  /** Reads the container's pid from docker (an adopted container's, for statistics and kills). */
  private async inspectPid(c: Container): Promise<void> {
    const out = await this.o.docker
      .run(inspectArgs(c.name), { timeoutMs: 5_000 })
      .catch(() => undefined);
    const state = out === undefined ? undefined : parseInspect(out.stdout);
    if (state?.ok === true && state.value.pid !== undefined) c.containerPid = state.value.pid;
  }

  // ---- ends ----------------------------------------------------------------------

  /** The watched process is gone: report, and remove the container later. */
  private ended(c: Container): void {
    if (c.phase === "done") return;
    c.phase = "done";
    this.containers.delete(c.id);
    const termination: ContainerTermination = {
      message: c.killed ? "Container killed" : "Container terminated",
    };
    const status = c.status ?? (c.killed && c.adopted ? KILLED_STATUS : undefined);
    if (status !== undefined) termination.status = status;
    this.o.logger.info(`Docker container '${c.id}' ended (${termination.message})`);
    this.events?.containerTerminated(c.id, termination);
    this.scheduleRemove(c.name);
  }

  private scheduleRemove(name: string): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.removals.delete(timer);
      this.o.logger.info(`Removing Docker container '${name}'`);
      this.o.docker
        .run(rmArgs(name, true))
        .catch((e: unknown) =>
          this.o.logger.warn(
            `Failed to remove Docker container '${name}': ${(e as Error).message}`,
          ),
        );
    }, this.o.removeDelayMs);
    timer.unref();
    this.removals.add(timer);
  }

  private async poll(): Promise<void> {
    const adopted = [...this.containers.values()].filter((c) => c.adopted && c.pid !== undefined);
    if (adopted.length === 0) {
      if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
      this.pollTimer = undefined;
      return;
    }
    for (const c of adopted) {
      if (await isRunningProcess(c.pid as number, c.startTime)) continue;
      c.exited = true;
      this.ended(c);
    }
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Gone already.
    }
  }
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

function signalNumber(signal: NodeJS.Signals | null): number | undefined {
  return signal === null ? undefined : (SIGNAL_NUMBERS[signal] ?? 0x7f);
}

function describeStatus(status: number): string {
  const signal = status & 0x7f;
  return signal === 0
    ? `exited with status ${(status >> 8) & 0xff}`
    : `terminated with signal ${signal}`;
}

async function processStartTime(pid: number): Promise<number | undefined> {
  try {
    return parseProcStat(pid, await readFile(`/proc/${pid}/stat`, "latin1"))?.startTime;
  } catch {
    return undefined;
  }
}

function recordPath(workDir: string, ids: RunIds): string {
  return join(metaRunPath(workDir, ids), "docker.json");
}

async function writeRecord(workDir: string, ids: RunIds, record: DockerRecord): Promise<void> {
  const path = recordPath(workDir, ids);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(record)}\n`);
}

async function readRecord(workDir: string, ids: RunIds): Promise<DockerRecord | undefined> {
  try {
    const parsed = JSON.parse(
      await readFile(recordPath(workDir, ids), "utf8"),
    ) as Partial<DockerRecord>;
    if (typeof parsed.name !== "string") return undefined;
    return { name: parsed.name, mode: parsed.mode === "container" ? "container" : "executor" };
  } catch {
    return undefined;
  }
}

/** Runs an archive tool for the fetcher. */
function runProgram(
  file: string,
  args: string[],
  cwd: string,
): Promise<{ code: number | null; signal: string | null; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const e = error as (Error & { code?: number | string; signal?: string }) | null;
      resolve({
        code: e === null ? 0 : typeof e.code === "number" ? e.code : 1,
        signal: e?.signal ?? null,
        output: `${stdout}${stderr}`,
      });
    });
  });
}
