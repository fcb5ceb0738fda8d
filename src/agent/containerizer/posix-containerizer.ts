/**
 * The POSIX "Mesos containerizer" (isolation `posix/cpu,posix/mem`: no
 * cgroups, resources are only accounted): prepares the sandbox, fetches the
 * URIs, starts the executor through the launcher helper in its own session,
 * as the task's user when asked, records its pid, and reports when it ends.
 *
 * Destroying a container kills its whole process tree: the executor's
 * session and process group, their descendants, and every process that
 * still carries the container's `MESOS_DIRECTORY` in its environment (a
 * task that left the tree, e.g. after its executor died). The same sweep
 * runs when an executor exits by itself, so no process of a finished
 * container is left behind.
 */
import type { Logger } from "../../common/observability/logger.js";
import type { Containerizer, ContainerLaunch, ContainerTermination } from "../agent.js";
import { executorCommand } from "./executor-command.js";
import { FetchError, fetchUris } from "./fetcher.js";
import type { LauncherClient, ProcessExit } from "./launcher.js";
import { recordExecutorProcess } from "./pid-record.js";
import { isSameProcess } from "./proc.js";
import { ProcessSweeper } from "./process-sweeper.js";
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
  /** `--fetcher_stall_timeout` in ms. */
  fetcherStallTimeoutMs: number;
  /** Host boot id, recorded with each executor pid. */
  bootId: string;
  /** How often pids are polled when the launcher helper can no longer report exits. */
  pollIntervalMs?: number;
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

  constructor(private readonly o: PosixContainerizerOptions) {
    this.sweeper = new ProcessSweeper(o.logger);
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
    };
    this.containers.set(container.id, container);
    this.prepareAndStart(container, launch).then(
      (pid) => {
        container.phase = "running";
        this.emitLaunched(container.id, { pid });
        if (container.destroyRequested) void this.killTree(container);
      },
      (e: unknown) => {
        const error = e instanceof Error ? e.message : String(e);
        container.phase = "done";
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

  /** Stops polling (the agent is exiting). */
  stop(): void {
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  private async prepareAndStart(c: Container, launch: ContainerLaunch): Promise<number> {
    const { launcher } = this.o;
    const stopIfDestroyed = () => {
      if (c.destroyRequested) throw new Error("Container was destroyed during launch");
    };
    try {
      await createSandbox(launch.directory, launch.containerId);
    } catch (e) {
      throw new Error(
        `Failed to create the sandbox '${launch.directory}': ${(e as Error).message}`,
      );
    }
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
    if (uris.length > 0) {
      try {
        await fetchUris(uris, {
          sandbox: launch.directory,
          frameworksHome: this.o.frameworksHome,
          run: (file, args, cwd) =>
            launcher.run({ op: "run", file, args, cwd, timeoutMs: 600_000 }),
          download: { stallTimeoutMs: this.o.fetcherStallTimeoutMs },
          signal: c.abort.signal,
        });
      } catch (e) {
        if (e instanceof FetchError) throw new Error(e.message);
        throw e;
      }
      if (ids !== undefined) {
        await launcher.run({
          op: "run",
          file: "chown",
          args: ["-R", `${ids.uid}:${ids.gid}`, launch.directory],
        });
      }
    }
    stopIfDestroyed();
    const command = executorCommand(launch.executor.command);
    const reply = await launcher
      .spawn({
        op: "spawn",
        file: command.file,
        args: command.args,
        env: launch.environment,
        cwd: launch.directory,
        stdout: `${launch.directory}/stdout`,
        stderr: `${launch.directory}/stderr`,
        ...(ids === undefined ? {} : ids),
      })
      .catch((e: unknown) => {
        throw new Error(`Failed to start the executor '${command.file}': ${(e as Error).message}`);
      });
    c.pid = reply.pid;
    if (reply.startTime !== undefined) c.startTime = reply.startTime;
    this.byPid.set(reply.pid, c);
    const identity = {
      pid: reply.pid,
      bootId: this.o.bootId,
      ...(reply.startTime === undefined ? {} : { startTime: reply.startTime }),
    };
    recordExecutorProcess(this.o.workDir, launch, identity).catch((e: unknown) =>
      this.o.logger.warn(
        `Failed to record the pid of container '${c.id}': ${(e as Error).message}`,
      ),
    );
    return reply.pid;
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
    const killed = await this.sweeper.kill(c.pid, c.directory);
    if (killed > 0) this.o.logger.info(`Killed ${killed} process(es) of container '${c.id}'`);
    if (c.orphaned) this.startPolling();
  }

  /** The executor is gone: sweep what it left behind, then report. */
  private async finish(c: Container, exit: ProcessExit): Promise<void> {
    if (c.phase === "done") return;
    c.phase = "done";
    this.containers.delete(c.id);
    const leftovers = await this.sweeper.kill(undefined, c.directory);
    if (leftovers > 0) {
      this.o.logger.warn(
        `Killed ${leftovers} process(es) left behind by the executor of container '${c.id}'`,
      );
    }
    const status = waitStatus(exit);
    this.events?.containerTerminated(c.id, status === undefined ? {} : { status });
  }

  private startPolling(): void {
    if (this.pollTimer !== undefined) return;
    this.pollTimer = setInterval(() => void this.poll(), this.o.pollIntervalMs ?? 1000);
    this.pollTimer.unref();
  }

  private async poll(): Promise<void> {
    const watched = [...this.containers.values()].filter((c) => c.orphaned && c.pid !== undefined);
    if (watched.length === 0) {
      this.stop();
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
