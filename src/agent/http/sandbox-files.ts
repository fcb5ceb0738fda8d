/**
 * Makes executor sandboxes browsable through `/files` as Mesos does: each
 * run is attached under its real path, its `runs/latest` link, and the
 * virtual `/frameworks/<fid>/executors/<eid>/runs/latest`. Attachments
 * outlive the executor, so completed executors stay browsable until
 * garbage collection removes the sandbox and detaches them (see
 * gc/agent-gc.ts), as in Mesos; after a restart, `attachRecovered`
 * attaches the recovered executors' sandboxes. Also attaches the agent's
 * log at `/slave/log`.
 *
 * Every sandbox path is guarded by ACCESS_SANDBOX (the executor's user is
 * the object) and the log by ACCESS_MESOS_LOG, as Mesos attaches them.
 */
import { realpath } from "node:fs/promises";
import {
  type AttachAuthorizer,
  logAccess,
  sandboxAccess,
  type VirtualFiles,
} from "../../common/files/virtual-files.js";
import type { Logger } from "../../common/observability/logger.js";
import type { Clock } from "../../common/time/clock.js";
import type { Containerizer, ContainerLaunch, ContainerTermination } from "../agent-ports.js";
import type { ContainerEvents } from "../containerizer/posix-containerizer.js";
import { latestRunLink, type RunIds } from "../paths.js";

/** Mesos' virtual path of an executor's latest run. */
export function executorVirtualPath(frameworkId: string, executorId: string): string {
  return `/frameworks/${frameworkId}/executors/${executorId}/runs/latest`;
}

/** The agent log's virtual path (Mesos' AGENT_LOG_VIRTUAL_PATH). */
export const AGENT_LOG_VIRTUAL_PATH = "/slave/log";

/** The user an executor runs as: its command's user, else its framework's. */
export type ExecutorUserLookup = (frameworkId: string, executorId: string) => string | undefined;

/** Attaches sandboxes as containers start. */
export class SandboxFiles {
  /**
   * The agent's view of executor users, set by the runtime once the agent
   * exists: ACCESS_SANDBOX is decided on the user at request time. Until it
   * is set, a launched executor's user is taken from its launch (its
   * command's user, else the user it was switched to), and a recovered
   * one's is unknown (only rules for ANY users apply).
   */
  userOf: ExecutorUserLookup | undefined;

  private readonly launches = new Map<string, ContainerLaunch>();
  /** The work directory with its symbolic links resolved (once). */
  private realWorkDir: Promise<string | undefined> | undefined;

  constructor(
    private readonly files: VirtualFiles,
    private readonly workDir: string,
    private readonly logger: Logger,
  ) {}

  /** The ACCESS_SANDBOX guard of an executor's sandbox paths. */
  guardOf(frameworkId: string, executorId: string, launchUser?: string): AttachAuthorizer {
    return sandboxAccess(
      frameworkId,
      executorId,
      () => this.userOf?.(frameworkId, executorId) ?? launchUser,
    );
  }

  /** The three virtual paths of a run. */
  pathsOf(run: RunIds & { readonly directory: string }): string[] {
    return [
      run.directory,
      latestRunLink(this.workDir, run),
      executorVirtualPath(run.frameworkId, run.executorId),
    ];
  }

  /**
   * Attaches the sandboxes of executors recovered from the checkpoint after
   * a restart, as Mesos' recovery does: they were launched by an earlier
   * agent process, so no launch event attaches them here. A sandbox that
   * cannot be attached is logged and skipped.
   */
  async attachRecovered(
    executors: readonly { readonly ids: RunIds; readonly directory: string }[],
  ): Promise<void> {
    await Promise.all(
      executors.map(async ({ ids, directory }) => {
        const paths = this.pathsOf({ ...ids, directory });
        try {
          await this.files.attachAll(
            directory,
            paths,
            this.guardOf(ids.frameworkId, ids.executorId),
          );
        } catch (e) {
          this.logger.warn(
            `Cannot attach the recovered sandbox at '${directory}': ${(e as Error).message}`,
          );
        }
      }),
    );
  }

  /** Wraps a containerizer so each launch is remembered for attaching. */
  wrap(inner: Containerizer): Containerizer {
    return {
      launch: (launch) => {
        this.launches.set(launch.containerId, launch);
        inner.launch(launch);
      },
      destroy: (containerId) => inner.destroy(containerId),
    };
  }

  /** Wraps the agent's container events: attaches the sandbox once the container exists. */
  events(inner: ContainerEvents): ContainerEvents {
    return {
      containerLaunched: (containerId, result) => {
        // Attach before the agent hears of the launch, so the sandbox is
        // browsable by the time tasks can run in it (failed launches too:
        // the fetcher's output is there).
        const launch = this.launches.get(containerId);
        if (launch !== undefined) void this.attach(launch, "pid" in result);
        inner.containerLaunched(containerId, result);
      },
      containerTerminated: (containerId, termination: ContainerTermination) => {
        this.launches.delete(containerId);
        inner.containerTerminated(containerId, termination);
      },
    };
  }

  private async attach(launch: ContainerLaunch, started: boolean): Promise<void> {
    const paths = this.pathsOf(launch);
    const guard = this.guardOf(
      launch.frameworkId,
      launch.executorId,
      launch.executor.command?.user ?? launch.user,
    );
    // A started container's sandbox exists: it was created under the work
    // directory by the containerizer, with no link of its own, so its real
    // path follows from the work directory's. A launch storm then pays no
    // file system call per sandbox here (three each took ~0.7 ms of agent
    // CPU with 200 executors starting).
    const prefix = `${this.workDir}/`;
    if (started && launch.directory.startsWith(prefix)) {
      this.realWorkDir ??= realpath(this.workDir).catch(() => undefined);
      const realWorkDir = await this.realWorkDir;
      if (realWorkDir !== undefined) {
        const real = `${realWorkDir}/${launch.directory.slice(prefix.length)}`;
        this.files.attachResolved(real, true, paths, guard);
        return;
      }
    }
    try {
      await this.files.attachAll(launch.directory, paths, guard);
    } catch (e) {
      this.logger.verbose(
        1,
        `Cannot attach sandbox at '${paths.join("', '")}': ${(e as Error).message}`,
      );
    }
  }
}

/**
 * Attaches the agent's log at `/slave/log` when it writes one (the file may
 * appear a moment after start-up, so attaching is retried a few times).
 */
export function attachAgentLog(
  files: VirtualFiles,
  path: string | undefined,
  logger: Logger,
  clock: Clock,
): void {
  if (path === undefined) return;
  let attempts = 0;
  const attempt = (): void => {
    files.attach(path, AGENT_LOG_VIRTUAL_PATH, logAccess).then(
      () => logger.verbose(1, `Attached ${path} at ${AGENT_LOG_VIRTUAL_PATH}`),
      (error: unknown) => {
        if (++attempts < 10) clock.setTimer(1000, attempt);
        else
          logger.warn(`Cannot serve the agent log at ${AGENT_LOG_VIRTUAL_PATH}: ${String(error)}`);
      },
    );
  };
  attempt();
}
