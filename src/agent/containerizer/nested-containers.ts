/**
 * Nested containers: containers an executor asks the agent to start inside
 * its own container (the v1 agent calls LAUNCH_CONTAINER /
 * LAUNCH_NESTED_CONTAINER, WAIT_*, KILL_*), as the default executor does for
 * every task of a task group.
 *
 * A nested container `<parent>.<child>`:
 * - has its sandbox at `<parent sandbox>/containers/<child>` (its working
 *   directory, `stdout`, `stderr`, `MESOS_SANDBOX`);
 * - shares the parent's network (the host's: there is no network isolation);
 * - with the `linux` launcher, gets a freezer cgroup (v1; a plain cgroup on
 *   v2) below its parent's, `<root>/<parent>/mesos/<child>`, through which
 *   it is killed; killing or removing the parent's cgroup takes it along;
 * - with `ContainerInfo.linux_info.share_cgroups: false` (cgroup v1), gets
 *   its own cpu/memory/pids cgroups below the parent's, limited by its own
 *   resources and `limits`; otherwise (Mesos' default) its processes join
 *   the parent's cgroups and count against the parent's limits;
 * - runs in its own pid namespace with `namespaces/pid`, with its own
 *   volumes (`filesystem/linux`; SANDBOX_PATH volumes of type PARENT come
 *   from the parent's sandbox, linked by `volume/sandbox_path` without
 *   filesystem/linux) and rlimits (`posix/rlimits`);
 * - with `ContainerInfo.mesos.image` (agents with `--image_providers=docker`),
 *   runs in its own copy of the image's root filesystem, its sandbox
 *   mounted at /mnt/mesos/sandbox inside, with docker/runtime's rules
 *   (images/nested-image.ts); the copy is removed when the container ends.
 *
 * A nested container that reaches its own memory limit is killed and its
 * WAIT answers TASK_FAILED with REASON_CONTAINER_LIMITATION_MEMORY; the
 * parent and its other nested containers keep running. When the parent
 * ends, its nested containers are killed and forgotten.
 *
 * A running nested container may be the parent of nested containers too
 * (`<parent>.<child>.<grandchild>`, down to MAX_NESTING_DEPTH levels, as
 * Mesos): the same rules apply one level down (sandbox, freezer cgroup,
 * user, checkpoint below the parent's), its sandbox made from the
 * top-level container's sandbox without following links. A container is
 * destroyed after what is nested in it, at every level.
 *
 * A container session may also be nested in a nested container
 * (`<parent>.<child>.<id>`, at any level; the default executor's COMMAND checks): a DEBUG
 * container in its owner's namespaces, root filesystem and cgroups, with no
 * isolation of its own (debug-containers.ts); it ends with its owner.
 *
 * A standalone container (a LAUNCH_CONTAINER `container_id` without a
 * parent: no executor, no framework) is kept here too, as Mesos keeps it in
 * its containerizer: it is a top-level container `<id>` with its sandbox at
 * `<work_dir>/containers/<id>`, its own cgroups (every isolator of
 * `--isolation` applies, as to an executor container, limited by its
 * resources and `limits`) and its own image root filesystem. It runs as
 * `command.user` only when the agent switches users. It survives an agent
 * restart (`meta/standalone-containers/<id>.json`), can be the parent of
 * nested containers (killed with it), and keeps its termination for WAIT
 * until REMOVE_CONTAINER removes it with its sandbox.
 *
 * A nested container (sessions and DEBUG containers too) runs as its
 * `command.user` only when the agent switches users, else as its parent's
 * user (set only then as well), as Mesos.
 *
 * As Mesos' containerizer, a nested or standalone container's
 * `command.uris` are fetched into its sandbox before it starts (the
 * agent's fetcher and cache); a failed fetch fails the launch. Its record
 * is written when the launch begins (`launching`, no pid): a restarted
 * agent that finds a launch cut short destroys that container.
 */
import { randomUUID } from "node:crypto";
import { closeSync, fchownSync, constants as fsConstants, readFileSync } from "node:fs";
import { mkdir, readdir, readFile, readlink, rename, rm, rmdir, writeFile } from "node:fs/promises";
import { Socket } from "node:net";
import { dirname, isAbsolute, join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { fifoWriter } from "../../common/io/fifo-writer.js";
import type { Logger } from "../../common/observability/logger.js";
import type {
  CommandInfo,
  ContainerInfo,
  ExecutorInfo,
  Resource,
  ResourceStatistics,
  TaskState,
  TaskStatus_Reason,
  Value_Scalar,
} from "../../common/protocol/generated/mesos-v1.js";
import type { Agent } from "../agent.js";
import type { ContainerTermination } from "../agent-ports.js";
import { isRunningProcess } from "../checkpoint/recovered-containers.js";
import { resourcesOf } from "../wire-resources.js";
import {
  type CgroupsHierarchy,
  cgroupPids,
  killCgroup,
  removeCgroup,
  subtreePids,
} from "./cgroups/hierarchy.js";
import {
  debugCommand,
  debugEnvironment,
  namespacesToEnter,
  type ParentLaunch,
  parseParentLaunch,
  sessionStdinScript,
} from "./debug-containers.js";
import { executorCommand } from "./executor-command.js";
import { type AgentFetcherSettings, fetchForContainer } from "./fetcher.js";
import { imageVolumePreparation, placeImageMounts } from "./images/image-launch.js";
import { nestedProvisionId, prepareNestedImage } from "./images/nested-image.js";
import type { Provisioner } from "./images/provisioner.js";
import type {
  ContainerLimitation,
  ContainerResources,
  Isolator,
  LaunchPreparation,
} from "./isolators/isolator.js";
import {
  enterCgroups,
  IMAGE_SANDBOX,
  mergePreparations,
  needsShim,
  shimCommand,
} from "./launch-shim.js";
import type { LauncherClient, ProcessExit } from "./launcher.js";
import type { ContainerLogger } from "./logger/container-logger.js";
import { O_PATH } from "./o-path.js";
import { type ContainerEvents, waitStatus } from "./posix-containerizer.js";
import {
  CONTAINER_ID_VARIABLE,
  CONTAINER_TOKEN_VARIABLE,
  type ContainerMarker,
  isSameProcess,
  processTree,
  readProcTableInSlices,
  signalAll,
} from "./proc.js";
import type { ProcessSweeper } from "./process-sweeper.js";
import { chownSandbox } from "./sandbox.js";
import { chownSandboxTree } from "./sandbox-chown.js";
import { makeSandbox, openOwnFifo, openSandbox, removeSandbox } from "./sandbox-no-follow.js";

/** A session's pipes (see NestedContainers' sessionFifos). */
interface SessionFifos {
  /**
   * stdin: its name, for a container opening it as its user; heldStdin: the
   * pipe itself through the agent's handle on it, for root (a DEBUG
   * container's first step); stdout/stderr: in the held directory, for the
   * launch.
   */
  readonly paths: Record<"stdin" | "heldStdin" | "stdout" | "stderr", string>;
  /** The agent's read ends of stdout and stderr. */
  readonly fds: Record<"stdout" | "stderr", number>;
  /** The writer of the container's stdin (once the launch has started). */
  stdinWriter(): Writable;
  /** The launch failed: closes the read ends and lets go of the directory. */
  abandon(): void;
}

/** What the agent knows of a parent (executor) container. */
export interface NestedParent {
  readonly containerId: string;
  /** The parent's sandbox on the host. */
  readonly directory: string;
  /** The user its tasks run as (when the agent switches users). */
  readonly user?: string | undefined;
  readonly frameworkId: string;
  readonly executorId: string;
  readonly executorName: string;
  /** A standalone container (no framework or executor: those fields are empty). */
  readonly standalone?: boolean | undefined;
  /**
   * The sandbox of the top-level (executor or standalone) container this
   * parent is nested in, when the parent is itself a nested container
   * (absent: `directory`). Sandboxes below are made and removed from there
   * without following links (the directories between are the user's).
   */
  readonly rootDirectory?: string | undefined;
}

/** A LAUNCH_CONTAINER / LAUNCH_NESTED_CONTAINER call. */
export interface NestedLaunch {
  readonly parentId: string;
  readonly childId: string;
  readonly command?: CommandInfo | undefined;
  readonly resources?: readonly Resource[] | undefined;
  readonly limits?: Readonly<Record<string, Value_Scalar>> | undefined;
  readonly container?: ContainerInfo | undefined;
  /**
   * A container session (LAUNCH_NESTED_CONTAINER_SESSION, non-TTY): its
   * stdin, stdout and stderr are pipes the agent holds (see {@link SessionIo})
   * instead of sandbox files, and, as Mesos' debug containers, it works in
   * its parent's sandbox (`MESOS_SANDBOX` too).
   */
  readonly session?: boolean | undefined;
}

/**
 * The agent's ends of a session container's standard streams. `stdout` and
 * `stderr` end once every process of the container has closed them;
 * ending `stdin` gives the container EOF.
 */
export interface SessionIo {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
}

/** What WAIT answers once a nested container has ended. */
export interface NestedTermination {
  exit_status?: number;
  state?: TaskState;
  reason?: TaskStatus_Reason;
  message?: string;
  limitation?: { resources?: Resource[] };
}

/** A refused call: the HTTP status and a one-line reason. */
export interface NestedError {
  status: 202 | 400 | 404 | 409 | 500;
  error: string;
}

/** One nested container, listed for `/containers` and GET_CONTAINERS. */
export interface NestedContainerView {
  readonly parent: NestedParent;
  /** A DEBUG container nested in a task's container: that container's id (below `parent`). */
  readonly nestedIn?: string;
  readonly childId: string;
  /**
   * Its whole id: the ids of its ancestors and its own, joined by `.`
   * (absent: `<parent>[.<nestedIn>].<childId>`).
   */
  readonly key?: string;
  readonly pid: number | undefined;
  readonly directory: string;
}

export interface NestedContainersOptions {
  launcher: LauncherClient;
  logger: Logger;
  isolators: readonly Isolator[];
  /** The `linux` launcher's cgroups (a freezer cgroup per nested container); absent: POSIX kill. */
  launcherCgroups?: CgroupsHierarchy | undefined;
  sweeper: ProcessSweeper;
  /** The running executor container with this id, if any. */
  parentOf(containerId: string): NestedParent | undefined;
  /** How long killing a cgroup may take. */
  destroyTimeoutMs?: number;
  /**
   * The agent's work dir: nested containers are checkpointed under
   * `meta/nested-containers/` so a restarted agent finds them again.
   */
  workDir?: string;
  /** How often adopted containers (after an agent restart) are checked for having ended. */
  pollIntervalMs?: number;
  /** `--container_logger`: output of nested containers (not sessions) goes through it. */
  containerLogger?: ContainerLogger | undefined;
  /** Builds root filesystems from container images (`--image_providers=docker`). */
  provisioner?: Provisioner | undefined;
  /** `docker/runtime` is in `--isolation`: apply the image's Env, WorkingDir, Entrypoint/Cmd. */
  dockerRuntime?: boolean | undefined;
  /**
   * `--switch_user` (as root): a container runs as its `command.user` (a
   * nested one else as its parent's user); without it, as the agent's user.
   */
  switchUser?: boolean | undefined;
  /**
   * Sends `signal` to the running executor container `containerId`
   * (KILL_CONTAINER naming an executor's container); false: no such container.
   */
  signalExecutor?(containerId: string, signal: number): boolean;
  /**
   * The agent's fetcher settings: a container's `command.uris` are fetched
   * into its sandbox before it starts, as for executors (absent: the
   * defaults, no cache).
   */
  fetcher?: AgentFetcherSettings | undefined;
}

/** A LAUNCH_CONTAINER of a standalone container (its id has no parent). */
export type StandaloneLaunch = Omit<NestedLaunch, "parentId" | "childId" | "session"> & {
  readonly containerId: string;
};

/** What is noted of a running DEBUG container (destroyed by a restarted agent). */
interface DebugMarker {
  /** Absent while it is being launched (its process may run already). */
  pid?: number;
  startTime?: number;
  cgroup?: string;
  directory: string;
  /** Its launch's token (`CONTAINER_TOKEN_VARIABLE`). */
  token?: string;
}

/** What is checkpointed of a nested container. */
interface NestedRecord {
  /** A standalone container (`parentId` is its own id). */
  standalone?: boolean;
  /**
   * The user it runs as when the agent switches users (its nested
   * containers' default); absent in nested records of older agents.
   */
  user?: string;
  /** Id the isolators and cgroups know it by; absent in records of older agents. */
  cgroupId?: string;
  parentId: string;
  childId: string;
  /** Absent while it is launching (see `launching`). */
  pid?: number;
  /**
   * Checkpointed before its process started (no `pid` yet): a restarted
   * agent that finds it so destroys it, as Mesos destroys a container whose
   * pid was never checkpointed.
   */
  launching?: true;
  startTime?: number;
  directory: string;
  cgroup?: string;
  /** Names of the isolators that prepared it. */
  isolators: string[];
  /** It has a provisioned root filesystem (removed when it ends). */
  provisioned?: boolean;
  termination?: NestedTermination;
  /** Its launch's token (`CONTAINER_TOKEN_VARIABLE`); absent in records of older agents. */
  token?: string;
  /** A container session: its streams were the agent's, so it does not outlive the agent run. */
  session?: true;
}

interface Nested {
  readonly key: string;
  readonly parent: NestedParent;
  readonly childId: string;
  /** Id the isolators and cgroups know it by: `<parent>/mesos/<child>`. */
  readonly cgroupId: string;
  readonly directory: string;
  /** Isolators that prepared it (and so clean it up). */
  readonly isolators: Isolator[];
  phase: "starting" | "running" | "done";
  pid?: number;
  cgroup?: string;
  killRequested: boolean;
  limitation?: ContainerLimitation;
  termination?: NestedTermination;
  readonly waiters: ((t: NestedTermination) => void)[];
  /** A DEBUG container (a session nested in a task's container): the container it runs in. */
  readonly debugOf?: Nested;
  /** What a DEBUG child of this container inherits (known once it started). */
  launchInfo?: ParentLaunch;
  startTime?: number;
  /** Started by an earlier run of the agent: watched by polling its pid. */
  adopted?: boolean;
  /** Its end is being handled (once). */
  finishing?: boolean;
  /** A session's standard streams (agent side). */
  io?: SessionIo;
  /** It has a provisioned root filesystem (its image, image volumes). */
  provisioned?: boolean;
  /** A standalone container: `key`, `childId`, `cgroupId` and `parent.containerId` are its id. */
  readonly standalone?: boolean;
  /** REMOVE_CONTAINER of this ended standalone container is under way. */
  removing?: Promise<void>;
  /** Stops the fetch of its URIs (it was killed while launching). */
  readonly abort?: AbortController;
  /** Its checkpoint writes, in order (each writes its state as it is then). */
  saving?: Promise<void>;
  /**
   * What its processes carry with its id (`CONTAINER_TOKEN_VARIABLE`),
   * noted before they start; absent for one an older agent launched.
   */
  readonly token?: string;
  /** This launch made its sandbox (see makeSandbox): only then does a failed launch remove it. */
  sandboxMade?: boolean;
  /** The user it runs as when the agent switches users (known once it starts). */
  user?: string;
  /** A container session (its streams are this agent run's pipes). */
  readonly session?: boolean;
}

/**
 * How many levels of nested containers may be below a top-level one (its
 * children are level 1). Mesos documents 32 as the limit the kernel sets
 * (nested pid and user namespaces); mesos-ts refuses deeper launches itself.
 */
export const MAX_NESTING_DEPTH = 32;

/** Cgroup isolators and the controllers whose cgroups they put a container in. */
const CGROUP_SUBSYSTEMS: Readonly<
  Record<string, readonly ("cpu" | "cpuacct" | "memory" | "pids")[]>
> = {
  "cgroups/cpu": ["cpu", "cpuacct"],
  "cgroups/mem": ["memory"],
  "cgroups/pids": ["pids"],
};

/** The PATH of a container whose command sets none. */
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Isolators that do not apply to nested containers (the parent's covers them). */
const PARENT_ONLY = new Set(["posix/disk"]);

const SIGNAL_NAMES: Readonly<Record<number, NodeJS.Signals>> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  9: "SIGKILL",
  10: "SIGUSR1",
  12: "SIGUSR2",
  15: "SIGTERM",
};

/** Mesos' string form of a nested container id. */
export function nestedKey(parentId: string, childId: string): string {
  return `${parentId}.${childId}`;
}

/** A container id value Mesos would accept (no path separators, no dots). */
function validChildId(id: string): boolean {
  return /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(id) && !id.includes(".") && id.length <= 255;
}

/** The nested containers of this agent's executor containers. */
export class NestedContainers {
  private readonly byKey = new Map<string, Nested>();
  /** WAIT_CONTAINER calls on executor containers, by container id. */
  private readonly executorWaiters = new Map<string, ((t: NestedTermination) => void)[]>();
  private readonly byPid = new Map<number, Nested>();
  private readonly byCgroupId = new Map<string, Nested>();
  private readonly users = new Map<string, { uid: number; gid: number }>();
  private recovering: Promise<void> = Promise.resolve();
  private pollTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: NestedContainersOptions) {}

  /** Resolves once the containers of a previous agent run are recovered. */
  ready(): Promise<void> {
    return this.recovering;
  }

  /**
   * Finds the nested containers a previous run of the agent checkpointed:
   * those whose parent is known again and whose process still runs are
   * adopted (their isolators recover them; their end is found by polling,
   * with an unknown exit status); ended ones keep their termination for
   * WAIT; those of vanished parents are forgotten.
   */
  recover(): Promise<void> {
    this.recovering = this.recoverRecords().catch((e: unknown) =>
      this.o.logger.warn(`Failed to recover nested containers: ${(e as Error).message}`),
    );
    return this.recovering;
  }

  private async recoverRecords(): Promise<void> {
    // Standalone containers first: nested containers may have one as parent.
    await this.recoverStandalone();
    const base = this.recordsDir();
    if (base === undefined) return;
    let parents: string[] = [];
    try {
      parents = await readdir(base);
    } catch {
      return;
    }
    // Together: without cgroups each looks through every process on the
    // host, and kills that come together share one pass (ProcessSweeper).
    const debugs: Promise<void>[] = [];
    for (const parentId of parents) {
      if (!validChildId(parentId)) continue;
      await this.recoverChildren(parentId, 1, debugs);
    }
    await Promise.all(debugs);
  }

  /**
   * Recovers the records of the containers nested in `parentKey` (at
   * `depth`), then, below them, those nested in each of these: a parent is
   * recovered before its children.
   */
  private async recoverChildren(
    parentKey: string,
    depth: number,
    debugs: Promise<void>[],
  ): Promise<void> {
    const dir = this.childrenDir(parentKey);
    if (dir === undefined) return;
    const files = await readdir(dir).catch(() => [] as string[]);
    const deeper: string[] = [];
    for (const file of files) {
      if (file.endsWith(".debug")) {
        // DEBUG containers do not outlive the agent run that started them.
        const key = `${parentKey}.${file.slice(0, -".debug".length)}`;
        debugs.push(
          this.destroyOrphanDebug(join(dir, file), key).catch((e: unknown) =>
            this.o.logger.warn(
              `Failed to destroy DEBUG container '${key}': ${(e as Error).message}`,
            ),
          ),
        );
        continue;
      }
      // The records of a nested container's own nested containers.
      if (validChildId(file) && depth < MAX_NESTING_DEPTH) {
        deeper.push(file);
        continue;
      }
      if (!file.endsWith(".json")) continue; // e.g. a checkpoint cut short
      const path = join(dir, file);
      const record = await this.readRecord(path, file);
      if (record === undefined) continue;
      const parent = this.parentOf(record.parentId);
      if (parent !== undefined) {
        await this.adoptLogged(parent, record);
        continue;
      }
      const ended = this.byKey.get(record.parentId);
      if (ended === undefined || ended.standalone === true || ended.debugOf !== undefined) {
        await rm(path, { force: true });
        continue;
      }
      // Its nested parent ended while the agent was away: it goes too (as
      // the containers nested in a destroyed one), whatever still runs of it.
      await this.adoptLogged(this.asParent(ended), record);
      const n = this.byKey.get(nestedKey(record.parentId, record.childId));
      if (n !== undefined) await this.destroyOrphan(n);
    }
    for (const child of deeper) {
      if (this.byKey.has(`${parentKey}.${child}`)) {
        await this.recoverChildren(`${parentKey}.${child}`, depth + 1, debugs);
      } else {
        // No such container (its record is gone): neither are its children.
        await this.forgetRecordsIn(join(dir, child), `${parentKey}.${child}`, depth + 1, debugs);
      }
    }
  }

  /**
   * The records below a container that was not recovered: DEBUG containers
   * are destroyed, the others' records removed.
   */
  private async forgetRecordsIn(
    dir: string,
    parentKey: string,
    depth: number,
    debugs: Promise<void>[],
  ): Promise<void> {
    for (const file of await readdir(dir).catch(() => [] as string[])) {
      if (file.endsWith(".debug")) {
        debugs.push(
          this.destroyOrphanDebug(
            join(dir, file),
            `${parentKey}.${file.slice(0, -".debug".length)}`,
          ).catch(() => undefined),
        );
      } else if (validChildId(file) && depth < MAX_NESTING_DEPTH) {
        await this.forgetRecordsIn(join(dir, file), `${parentKey}.${file}`, depth + 1, debugs);
      } else if (file.endsWith(".json") || file.endsWith(".launch")) {
        // As for the children of a vanished executor: forgotten (its cgroups take them along).
        await rm(join(dir, file), { force: true });
      }
    }
    await rmdir(dir).catch(() => undefined);
  }

  /** Kills and forgets a recovered container whose parent had ended. */
  private async destroyOrphan(n: Nested): Promise<void> {
    this.o.logger.info(`Destroying nested container '${n.key}': its parent container has ended`);
    if (n.phase !== "done") {
      await this.killAll(n).catch(() => undefined);
      if (n.pid !== undefined) this.byPid.delete(n.pid);
      await this.finish(n, { code: null, signal: "SIGKILL" });
    }
    await this.forget(n);
  }

  /**
   * The standalone containers of the previous agent run, recovered as Mesos
   * recovers them: a running one is adopted (WAIT, KILL and its nested
   * containers work again), one whose process is gone ends (WAIT answers
   * without an exit status), an ended one keeps its termination.
   */
  private async recoverStandalone(): Promise<void> {
    const base = this.standaloneDir();
    if (base === undefined) return;
    for (const file of await readdir(base).catch(() => [] as string[])) {
      if (!file.endsWith(".json")) continue; // e.g. a checkpoint cut short
      const path = join(base, file);
      const record = await this.readRecord(path, file);
      if (record === undefined) continue;
      const user = typeof record.user === "string" ? record.user : undefined;
      const parent = standaloneParent(record.childId, record.directory, user);
      await this.adoptLogged(parent, { ...record, parentId: record.childId, standalone: true });
    }
  }

  /**
   * A checkpointed record, or undefined (and the file removed, with a
   * warning) when it cannot be one: unreadable JSON, or not the record of
   * the container its file is named after.
   */
  private async readRecord(path: string, file: string): Promise<NestedRecord | undefined> {
    let why: string | undefined;
    let record: NestedRecord | undefined;
    try {
      record = JSON.parse(await readFile(path, "utf8")) as NestedRecord;
      why = recordProblem(record, file);
    } catch (e) {
      why = (e as Error).message.split("\n")[0];
    }
    if (why === undefined) return record;
    this.o.logger.warn(`Ignoring the unusable container checkpoint '${path}': ${why}`);
    await rm(path, { force: true }).catch(() => undefined);
    return undefined;
  }

  /** adopt, where a failure costs this container only (the others are still recovered). */
  private async adoptLogged(parent: NestedParent, record: NestedRecord): Promise<void> {
    try {
      await this.adopt(parent, record);
    } catch (e) {
      this.o.logger.warn(
        `Failed to recover container '${record.childId}': ${(e as Error).message.split("\n")[0]}`,
      );
    }
  }

  private async adopt(parent: NestedParent, record: NestedRecord): Promise<void> {
    const standalone = record.standalone === true;
    const key = standalone ? record.childId : nestedKey(record.parentId, record.childId);
    const names = new Set(record.isolators);
    // Below its parent's: that of an executor is its id, a nested one's its own cgroupId.
    const parentCgroup = this.byKey.get(record.parentId)?.cgroupId ?? record.parentId;
    const user = standalone || typeof record.user !== "string" ? parent.user : record.user;
    const n: Nested = {
      key,
      parent,
      childId: record.childId,
      cgroupId: standalone
        ? record.childId
        : typeof record.cgroupId === "string"
          ? record.cgroupId
          : `${parentCgroup}/mesos/${record.childId}`,
      ...(user === undefined ? {} : { user }),
      directory: record.directory,
      isolators: this.o.isolators.filter((i) => names.has(i.name)),
      phase: "running",
      killRequested: false,
      waiters: [],
      ...(record.pid === undefined ? {} : { pid: record.pid }),
      adopted: true,
      ...(record.startTime === undefined ? {} : { startTime: record.startTime }),
      ...(record.cgroup === undefined ? {} : { cgroup: record.cgroup }),
      ...(record.provisioned === true ? { provisioned: true } : {}),
      ...(standalone ? { standalone: true } : {}),
      ...(typeof record.token === "string" ? { token: record.token } : {}),
    };
    this.byKey.set(key, n);
    this.startPolling();
    if (record.termination !== undefined) {
      n.phase = "done";
      n.termination = record.termination;
      return;
    }
    this.byCgroupId.set(n.cgroupId, n);
    if (record.pid === undefined) {
      // Its launch was cut short by the agent's end: whatever it had
      // started (found by its cgroup, else by its marker) is killed and
      // it ends without an exit status, as Mesos destroys such a container.
      this.o.logger.info(
        `Destroying ${standalone ? "standalone" : "nested"} container '${key}': the agent ended while it was launching`,
      );
      await this.killLaunching(n).catch(() => undefined);
      await this.finish(n, { code: null, signal: null });
      return;
    }
    // A zombie has ended too (its exit status went to whoever reaps it).
    if (!(await isRunningProcess(record.pid, record.startTime))) {
      await this.finish(n, { code: null, signal: null });
      return;
    }
    const alive = new Map([[n.cgroupId, record.pid]]);
    for (const isolator of n.isolators) await isolator.recover(alive).catch(() => undefined);
    if (record.session === true) {
      // Its stdin/stdout/stderr were pipes of the agent run that ended: nobody
      // can attach to it again, and a shell still waiting to open its stdin
      // would wait forever. Mesos likewise kills a session whose connection
      // (its I/O switchboard) went away.
      this.o.logger.info(
        `Destroying container session '${key}': its streams ended with the previous agent run`,
      );
      await this.killAll(n).catch(() => undefined);
      await this.finish(n, { code: null, signal: "SIGKILL" });
      return;
    }
    this.o.logger.info(
      `Recovered ${standalone ? "standalone" : "nested"} container '${key}' (pid ${record.pid})`,
    );
  }

  private startPolling(): void {
    if (this.pollTimer !== undefined) return;
    this.pollTimer = setInterval(() => void this.poll(), this.o.pollIntervalMs ?? 1000);
    this.pollTimer.unref();
  }

  /**
   * Forgets the containers of parents that are gone (e.g. an executor
   * recovered after a restart, whose end the containerizer does not
   * report) and finds the end of adopted containers, which no launcher
   * reports.
   */
  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      await this.endOrphaned();
      for (const n of [...this.byKey.values()]) {
        if (n.adopted !== true || n.phase !== "running" || n.pid === undefined) continue;
        if (!(await isRunningProcess(n.pid, n.startTime))) {
          await this.finish(n, { code: null, signal: null });
        }
      }
    } finally {
      this.polling = false;
    }
    if (this.byKey.size === 0) this.stop();
  }

  private polling = false;

  /**
   * Kills, ends and forgets the nested containers whose parent is gone
   * (e.g. a recovered executor, whose end the containerizer does not report
   * here), or with `ofExecutors` those of every executor (`--recover=cleanup`
   * destroys them all); resolves once they are. Standalone containers and
   * the containers nested in them are kept.
   */
  async endOrphaned(ofExecutors = false): Promise<void> {
    await this.recovering;
    for (const n of [...this.byKey.values()]) {
      if (n.standalone === true) continue;
      const kept = ofExecutors
        ? n.parent.standalone === true
        : this.parentOf(n.parent.containerId) !== undefined;
      if (kept) continue;
      this.o.logger.info(`Forgetting nested container '${n.key}': its parent container is gone`);
      if (n.phase !== "done") {
        await this.killAll(n);
        await this.finish(n, { code: null, signal: null });
      }
      await this.forget(n);
    }
  }

  /** Stops watching (the agent is exiting). */
  stop(): void {
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  private recordsDir(): string | undefined {
    return this.o.workDir === undefined
      ? undefined
      : join(this.o.workDir, "meta", "nested-containers");
  }

  private standaloneDir(): string | undefined {
    return this.o.workDir === undefined
      ? undefined
      : join(this.o.workDir, "meta", "standalone-containers");
  }

  /**
   * Where the records of the containers nested in `parentKey` are: below
   * `meta/nested-containers`, one directory per level of its id (the
   * runtime directory nests as the sandboxes do).
   */
  private childrenDir(parentKey: string): string | undefined {
    const base = this.recordsDir();
    return base === undefined ? undefined : join(base, ...parentKey.split("."));
  }

  private recordPath(n: Nested): string | undefined {
    // DEBUG containers have no record (see debugMarkerPath): the name would be a sibling's.
    if (n.debugOf !== undefined) return undefined;
    if (n.standalone === true) {
      const dir = this.standaloneDir();
      return dir === undefined ? undefined : join(dir, `${n.key}.json`);
    }
    const dir = this.childrenDir(n.parent.containerId);
    return dir === undefined ? undefined : join(dir, `${n.childId}.json`);
  }

  /**
   * Checkpoints the container as it is when the write comes (best effort: a
   * failure only costs recovery). Writes are chained, so the last one holds
   * the latest state; a container forgotten meanwhile is not written back.
   */
  private checkpoint(n: Nested): Promise<void> {
    const path = this.recordPath(n);
    // DEBUG containers are not recovered (Mesos destroys them on recovery).
    if (path === undefined || n.debugOf !== undefined) return Promise.resolve();
    n.saving = (n.saving ?? Promise.resolve()).then(() => this.writeRecord(n, path));
    return n.saving;
  }

  private async writeRecord(n: Nested, path: string): Promise<void> {
    if (this.byKey.get(n.key) !== n) return;
    const record: NestedRecord = {
      parentId: n.parent.containerId,
      childId: n.childId,
      ...(n.pid === undefined ? { launching: true } : { pid: n.pid }),
      directory: n.directory,
      isolators: n.isolators.map((i) => i.name),
      ...(n.startTime === undefined ? {} : { startTime: n.startTime }),
      ...(n.cgroup === undefined ? {} : { cgroup: n.cgroup }),
      ...(n.provisioned === true ? { provisioned: true } : {}),
      ...(n.termination === undefined ? {} : { termination: n.termination }),
      ...(n.standalone === true ? { standalone: true } : {}),
      ...(n.standalone === true && n.parent.user !== undefined ? { user: n.parent.user } : {}),
      ...(n.standalone !== true && n.user !== undefined ? { user: n.user } : {}),
      cgroupId: n.cgroupId,
      ...(n.token === undefined ? {} : { token: n.token }),
      ...(n.session === true ? { session: true } : {}),
    };
    try {
      await mkdir(join(path, ".."), { recursive: true });
      await writeFile(`${path}.tmp`, JSON.stringify(record));
      await rename(`${path}.tmp`, path);
    } catch (e) {
      this.o.logger.warn(
        `Failed to checkpoint nested container '${n.key}': ${(e as Error).message}`,
      );
    }
  }

  /** Starts a nested container; resolves once its process runs, or with why not. */
  async launch(l: NestedLaunch): Promise<{ ok: true; io?: SessionIo } | NestedError> {
    if (l.parentId.split(".").length > MAX_NESTING_DEPTH) {
      return {
        status: 400,
        error: `Container '${nestedKey(l.parentId, l.childId)}' would be nested more than ${MAX_NESTING_DEPTH} levels deep`,
      };
    }
    // A session in a nested container is a DEBUG container (a check's).
    if (l.parentId.includes(".") && l.session === true) return this.launchDebug(l);
    const parent = this.parentOf(l.parentId);
    if (parent === undefined) {
      const debug = this.byKey.get(l.parentId)?.debugOf !== undefined;
      return {
        status: 400,
        error: debug
          ? `Parent container ${l.parentId} is a DEBUG container: nothing can be nested in it`
          : `Parent container ${l.parentId} does not exist`,
      };
    }
    if (!validChildId(l.childId)) {
      return { status: 400, error: `Invalid container id '${l.childId}'` };
    }
    const key = nestedKey(l.parentId, l.childId);
    const existing = this.byKey.get(key);
    // As Mesos: launching a container that is starting, running or being cleaned up
    // again is accepted (202) and changes nothing; one that has ended is launched
    // anew (its termination is forgotten).
    if (existing !== undefined && existing.termination === undefined) {
      return { status: 202, error: "" };
    }
    if (existing !== undefined) {
      await this.forget(existing);
      if (this.byKey.has(key)) return { status: 202, error: "" };
    }
    if (l.command === undefined) {
      return { status: 400, error: `Container '${key}' has no command` };
    }
    // Mesos' containerizer runs MESOS containers only (its words for the others).
    if (l.container !== undefined && l.container.type !== "MESOS") {
      return { status: 400, error: "The provided ContainerInfo is not supported" };
    }
    // A session is Mesos' DEBUG container: it shares its parent's filesystem.
    if (l.session === true && l.container?.mesos?.image !== undefined) {
      return { status: 400, error: "A 'rootfs' cannot be set for DEBUG containers" };
    }
    const directory = join(parent.directory, "containers", l.childId);
    // Below the parent's cgroup: killing or removing the parent's takes it along.
    const parentCgroup = this.byKey.get(l.parentId)?.cgroupId ?? l.parentId;
    const ownCgroups =
      l.container?.linux_info?.share_cgroups === false &&
      this.o.launcherCgroups?.version === 1 &&
      this.o.isolators.some((i) => CGROUP_SUBSYSTEMS[i.name] !== undefined);
    const isolators = this.o.isolators.filter(
      (i) => !PARENT_ONLY.has(i.name) && (ownCgroups || CGROUP_SUBSYSTEMS[i.name] === undefined),
    );
    const n: Nested = {
      key,
      parent,
      childId: l.childId,
      cgroupId: `${parentCgroup}/mesos/${l.childId}`,
      directory,
      isolators,
      phase: "starting",
      killRequested: false,
      waiters: [],
      abort: new AbortController(),
      token: randomUUID(),
      ...(l.session === true ? { session: true } : {}),
    };
    return this.run(n, l, ownCgroups);
  }

  /**
   * Starts a standalone container (LAUNCH_CONTAINER without a parent);
   * resolves once its process runs, or with why not (202: it exists).
   */
  async launchStandalone(l: StandaloneLaunch): Promise<{ ok: true } | NestedError> {
    const id = l.containerId;
    if (!validChildId(id)) return { status: 400, error: `Invalid container id '${id}'` };
    // Mesos' containerizer accepts a launch of any container it has (202), executors' too.
    if (this.o.parentOf(id) !== undefined) return { status: 202, error: "" };
    // A removal under way takes the old sandbox first: the new one comes after.
    await this.byKey.get(id)?.removing;
    const existing = this.byKey.get(id);
    if (existing !== undefined && existing.termination === undefined) {
      return { status: 202, error: "" };
    }
    if (existing !== undefined) {
      await this.forget(existing);
      if (this.byKey.has(id)) return { status: 202, error: "" };
    }
    if (l.command === undefined) return { status: 400, error: `Container '${id}' has no command` };
    if (l.container !== undefined && l.container.type !== "MESOS") {
      return { status: 400, error: "The provided ContainerInfo is not supported" };
    }
    if (this.o.workDir === undefined) {
      return { status: 500, error: "Standalone containers need the agent's work directory" };
    }
    const directory = join(this.o.workDir, "containers", id);
    try {
      await mkdir(directory, { recursive: true, mode: 0o755 });
    } catch (e) {
      return { status: 500, error: `Failed to create sandbox: ${(e as Error).message}` };
    }
    // Another LAUNCH of the same id got here first: it is that one's container.
    if (this.byKey.has(id)) return { status: 202, error: "" };
    // As Mesos: the command's user counts only when the agent switches users.
    const user = this.o.switchUser === true ? l.command.user : undefined;
    const n: Nested = {
      key: id,
      parent: standaloneParent(id, directory, user),
      childId: id,
      cgroupId: id,
      directory,
      // A top-level container: every isolator applies, as to an executor's.
      isolators: [...this.o.isolators],
      phase: "starting",
      killRequested: false,
      waiters: [],
      standalone: true,
      abort: new AbortController(),
      token: randomUUID(),
    };
    const result = await this.run(n, { ...l, parentId: id, childId: id }, true);
    return "ok" in result ? { ok: true } : result;
  }

  /** Registers `n` and starts its process (launch's common part). */
  private async run(
    n: Nested,
    l: NestedLaunch,
    ownCgroups: boolean,
  ): Promise<{ ok: true; io?: SessionIo } | NestedError> {
    const key = n.key;
    const kind = n.standalone === true ? "standalone" : "nested";
    this.byKey.set(key, n);
    this.byCgroupId.set(n.cgroupId, n);
    try {
      // Noted before anything is prepared: an agent that dies during the
      // launch leaves a record its successor destroys the container by.
      await this.checkpoint(n);
      const pid = await this.start(n, l, ownCgroups);
      // Answered only once its pid is on disk, as Mesos checkpoints it before
      // the launch completes: a record still "launching" would make a
      // restarted agent destroy a container it had reported launched.
      await n.saving;
      // A quick command may have ended already (then it is "done").
      if (n.phase === "starting") n.phase = "running";
      this.startPolling();
      this.o.logger.info(`Launched ${kind} container '${key}' (pid ${pid})`);
      if (n.killRequested) void this.killAll(n);
      return n.io === undefined ? { ok: true } : { ok: true, io: n.io };
    } catch (e) {
      const error = (e as Error).message;
      this.o.logger.warn(`Failed to launch ${kind} container '${key}': ${error}`);
      n.phase = "done";
      for (const stream of Object.values(n.io ?? {}) as (Readable | Writable)[]) stream.destroy();
      // A process that started (before e.g. its isolation failed) goes too.
      if (n.pid !== undefined) {
        this.byPid.delete(n.pid);
        await this.killAll(n).catch(() => undefined);
      }
      await this.cleanup(n);
      // A WAIT that came during the launch answers (no exit status: it never ran).
      n.termination ??= {};
      for (const waiter of n.waiters.splice(0)) waiter(n.termination);
      void this.forget(n);
      // A failed launch is most likely the caller's doing (user, command, image):
      // Mesos answers 400 with the failure as it is (the default executor
      // reports that body as the task's message).
      return { status: 400, error };
    }
  }

  /** The running executor or standalone container `containerId` (a possible parent), if any. */
  parent(containerId: string): NestedParent | undefined {
    return this.parentOf(containerId);
  }

  private parentOf(containerId: string): NestedParent | undefined {
    const executor = this.o.parentOf(containerId);
    if (executor !== undefined) return executor;
    const n = this.byKey.get(containerId);
    if (n === undefined) return undefined;
    if (n.standalone === true) return n.phase !== "done" ? n.parent : undefined;
    // A running nested container (not a DEBUG one) is a parent too; one
    // being destroyed is not (its nested containers are going).
    if (n.debugOf !== undefined || n.phase !== "running" || n.finishing === true) return undefined;
    return this.asParent(n);
  }

  /** The nested container `n` as the parent of containers nested in it. */
  private asParent(n: Nested): NestedParent {
    const root = n.parent;
    return {
      containerId: n.key,
      directory: n.directory,
      rootDirectory: root.rootDirectory ?? root.directory,
      user: n.user ?? root.user,
      frameworkId: root.frameworkId,
      executorId: root.executorId,
      executorName: root.executorName,
      ...(root.standalone === true ? { standalone: true } : {}),
    };
  }

  /**
   * The container whose resource cgroups (cpu, memory, pids) `n`'s
   * processes are in: its own when it has them, else its parent's holder.
   */
  private resourceHolder(n: Nested): string {
    if (n.standalone === true) return n.cgroupId;
    if (n.isolators.some((i) => CGROUP_SUBSYSTEMS[i.name] !== undefined)) return n.cgroupId;
    const parent = this.byKey.get(n.parent.containerId);
    return parent !== undefined && parent !== n
      ? this.resourceHolder(parent)
      : n.parent.containerId;
  }

  /** As Mesos: a launch's `command.user` counts only when the agent switches users. */
  private commandUser(l: NestedLaunch): string | undefined {
    return this.o.switchUser === true ? l.command?.user : undefined;
  }

  /** The container `childId` of `parentId`, or the standalone container `childId`. */
  private find(parentId: string | undefined, childId: string): Nested | undefined {
    const n = this.byKey.get(parentId === undefined ? childId : nestedKey(parentId, childId));
    return n !== undefined && (n.standalone === true) === (parentId === undefined) ? n : undefined;
  }

  /**
   * Resolves with the termination once the container has ended; undefined:
   * unknown container. `parentId` undefined: a standalone container.
   */
  wait(parentId: string | undefined, childId: string): Promise<NestedTermination> | undefined {
    const n = this.find(parentId, childId);
    if (n === undefined) {
      // As Mesos' containerizer: an executor's (top-level) container can be waited for too.
      if (parentId !== undefined || this.o.parentOf(childId) === undefined) return undefined;
      this.o.logger.info(`Waiting for executor container '${childId}' to end`);
      return new Promise((resolve) => {
        const waiters = this.executorWaiters.get(childId) ?? [];
        waiters.push(resolve);
        this.executorWaiters.set(childId, waiters);
      });
    }
    if (n.termination !== undefined) return Promise.resolve(n.termination);
    return new Promise((resolve) => n.waiters.push(resolve));
  }

  /** Sends `signal` (default SIGKILL) to every process of the container; false: unknown or ended. */
  kill(parentId: string | undefined, childId: string, signal = 9): boolean {
    const n = this.find(parentId, childId);
    if (n === undefined && parentId === undefined && this.o.parentOf(childId) !== undefined) {
      // An executor's container: the agent handles its end as any executor's.
      return this.o.signalExecutor?.(childId, signal) ?? false;
    }
    if (n === undefined || n.phase === "done") return false;
    const name = SIGNAL_NAMES[signal] ?? "SIGKILL";
    if (name === "SIGKILL") {
      n.killRequested = true;
      // A fetch under way stops: the launch fails (Mesos destroys a container killed while fetching).
      if (n.phase === "starting") n.abort?.abort();
      // What is nested in it is destroyed first, as Mesos destroys a container.
      if (n.phase === "running") void this.destroyNestedIn(n).then(() => this.killAll(n));
      return true;
    }
    if (n.phase === "running") void this.signal(n, name);
    return true;
  }

  /**
   * Starts a DEBUG container in the nested container `l.parentId`
   * (`<executor>.<task>`): only sessions, as Mesos' DEBUG class, which the
   * default executor uses for COMMAND checks (debug-containers.ts).
   */
  private async launchDebug(l: NestedLaunch): Promise<{ ok: true; io?: SessionIo } | NestedError> {
    const owner = this.byKey.get(l.parentId);
    // One that is ending counts as gone: its DEBUG children are being killed.
    const gone = () => owner === undefined || owner.phase !== "running" || owner.finishing === true;
    if (owner === undefined || gone() || owner.debugOf !== undefined) {
      return { status: 400, error: `Parent container ${l.parentId} does not exist` };
    }
    if (l.session !== true) {
      return {
        status: 400,
        error: "Only container sessions can be launched in a nested container",
      };
    }
    if (!validChildId(l.childId)) {
      return { status: 400, error: `Invalid container id '${l.childId}'` };
    }
    const key = nestedKey(l.parentId, l.childId);
    const existing = this.byKey.get(key);
    if (existing !== undefined && existing.termination === undefined) {
      return { status: 202, error: "" };
    }
    if (existing !== undefined) await this.forget(existing);
    if (l.command === undefined) return { status: 400, error: `Container '${key}' has no command` };
    if (l.container?.mesos?.image !== undefined) {
      return { status: 400, error: "A 'rootfs' cannot be set for DEBUG containers" };
    }
    if ((l.container?.volumes ?? []).length > 0) {
      return { status: 400, error: "Volumes not supported for DEBUG containers" };
    }
    owner.launchInfo ??= await this.loadLaunchInfo(owner);
    const inherited = owner.launchInfo;
    if (inherited === undefined) {
      return {
        status: 400,
        error: `Container ${l.parentId} cannot be entered: its launch is unknown`,
      };
    }
    const n: Nested = {
      key,
      parent: owner.parent,
      childId: l.childId,
      cgroupId: `${owner.cgroupId}/mesos/${l.childId}`,
      directory: join(owner.directory, "containers", l.childId),
      // As Mesos' DEBUG containers: no isolation of their own.
      isolators: [],
      phase: "starting",
      killRequested: false,
      waiters: [],
      debugOf: owner,
      abort: new AbortController(),
      token: randomUUID(),
    };
    this.byKey.set(key, n);
    try {
      const pid = await this.startDebug(n, owner, l, inherited);
      await this.markDebug(n);
      // The task's container ended (or its child was forgotten) while this one
      // started: nothing killed the process started since, so it goes here.
      if (gone() || this.byKey.get(key) !== n) {
        throw new Error(`Parent container ${l.parentId} has ended`);
      }
      if (n.phase === "starting") n.phase = "running";
      this.startPolling();
      // Checks launch one every interval: only verbose logs (as Mesos logs DEBUG containers).
      this.o.logger.verbose(1, `Launched DEBUG container '${key}' (pid ${pid})`);
      if (n.killRequested) void this.killAll(n);
      return n.io === undefined ? { ok: true } : { ok: true, io: n.io };
    } catch (e) {
      const error = (e as Error).message;
      this.o.logger.warn(`Failed to launch DEBUG container '${key}': ${error}`);
      n.phase = "done";
      for (const stream of Object.values(n.io ?? {}) as (Readable | Writable)[]) stream.destroy();
      if (n.pid !== undefined) {
        await this.killAll(n);
        this.byPid.delete(n.pid);
      }
      await this.cleanup(n);
      if (n.termination === undefined) {
        n.termination = {};
        for (const waiter of n.waiters.splice(0)) waiter(n.termination);
      }
      if (this.byKey.get(key) === n) void this.forget(n);
      // Its sandbox (with the fetcher's output, if any) goes at once: the next
      // probe's REMOVE finds no container, so nothing else would remove it.
      // Only one this launch made: a launch refused for a link in the way
      // (e.g. `containers` -> /) must not remove what lies behind it.
      if (n.sandboxMade === true) void this.removeSandboxOf(n);
      return { status: 400, error };
    }
  }

  /**
   * Starts a DEBUG container's process: in its owner's cgroups and
   * namespaces, with its owner's root filesystem, working directory and
   * environment.
   */
  private async startDebug(
    n: Nested,
    owner: Nested,
    l: NestedLaunch,
    inherited: ParentLaunch,
  ): Promise<number> {
    const userName = this.commandUser(l) ?? inherited.user;
    const ids = await this.switchedIds(userName);
    n.sandboxMade = await makeSandbox(sandboxBase(n), n.directory, ids);
    // Mesos fetches the command's URIs for DEBUG containers too: into their
    // own sandbox (not the working directory they run in), as their user.
    await this.fetch(n, l.command, ids, userName);
    const cgroupProcs: string[] = [];
    const cgroups = this.o.launcherCgroups;
    if (cgroups !== undefined && owner.cgroup !== undefined) {
      // Below the owner's freezer cgroup: killing the task takes its checks along.
      n.cgroup = await cgroups.create("freezer", n.cgroupId);
      cgroupProcs.push(`${n.cgroup}/cgroup.procs`);
      if (cgroups.version === 1) {
        // The owner's resource cgroups: its own, or those it shares (an ancestor's).
        const holder = this.resourceHolder(owner);
        for (const isolator of this.o.isolators) {
          for (const subsystem of CGROUP_SUBSYSTEMS[isolator.name] ?? []) {
            if (!cgroups.has(subsystem)) continue;
            const file = `${cgroups.path(subsystem, holder)}/cgroup.procs`;
            if (!cgroupProcs.includes(file)) cgroupProcs.push(file);
          }
        }
      }
    }
    const fifos = await this.sessionFifos(n, ids);
    const launch = debugCommand({
      command: executorCommand(l.command),
      parent: inherited,
      env: { ...debugEnvironment(inherited, l.command), ...markerEnvironment(n) },
      namespaces: owner.pid === undefined ? [] : await namespacesToEnter(owner.pid),
      cgroupProcs,
      user: ids,
      stdin: fifos.paths.heldStdin,
    });
    // Noted before it starts: an agent that dies before the pid is noted
    // leaves its successor something to destroy it by.
    await this.markDebug(n);
    let reply: Awaited<ReturnType<LauncherClient["spawn"]>>;
    try {
      reply = await this.o.launcher.spawn({
        op: "spawn",
        file: launch.file,
        args: launch.args,
        env: launch.env,
        environmentFd: launch.environmentFd,
        cwd: n.directory,
        stdout: fifos.paths.stdout,
        stderr: fifos.paths.stderr,
      });
    } catch (e) {
      fifos.abandon();
      throw e;
    }
    crashAfterSpawnForTesting("debug", reply.pid);
    n.io = {
      stdin: fifos.stdinWriter(),
      stdout: new Socket({ fd: fifos.fds.stdout, readable: true, writable: false }),
      stderr: new Socket({ fd: fifos.fds.stderr, readable: true, writable: false }),
    };
    for (const stream of Object.values(n.io) as (Readable | Writable)[]) {
      stream.on("error", () => {});
    }
    n.pid = reply.pid;
    if (reply.startTime !== undefined) n.startTime = reply.startTime;
    this.byPid.set(reply.pid, n);
    await enterCgroups(reply.pid, { cgroupProcs });
    return reply.pid;
  }

  /** Destroys the containers nested in `n` (at every level), before `n` itself is killed. */
  private async destroyNestedIn(n: Nested): Promise<void> {
    if (n.debugOf !== undefined) return;
    await this.finishDebugChildren(n).catch(() => undefined);
    if (n.standalone !== true) await this.parentEnded(n.key).catch(() => undefined);
  }

  /** Kills and ends the DEBUG containers running in `n`. */
  private async finishDebugChildren(n: Nested): Promise<void> {
    const children = [...this.byKey.values()].filter((c) => c.debugOf === n);
    await Promise.all(
      children.map(async (c) => {
        if (c.phase === "done") return;
        c.phase = "done";
        await this.killAll(c);
        if (c.pid !== undefined) this.byPid.delete(c.pid);
        await this.finish(c, { code: null, signal: "SIGKILL" });
      }),
    );
  }

  /**
   * Where a running DEBUG container is noted (`<task>.<child>.debug` next to
   * its task's record), so that a restarted agent destroys it, as Mesos
   * destroys DEBUG containers on recovery.
   */
  private debugMarkerPath(n: Nested): string | undefined {
    const dir = this.childrenDir(n.parent.containerId);
    if (dir === undefined || n.debugOf === undefined) return undefined;
    return join(dir, `${n.debugOf.childId}.${n.childId}.debug`);
  }

  /**
   * Notes a DEBUG container for a restarted agent (best effort): before its
   * process starts, then with its pid.
   */
  private async markDebug(n: Nested): Promise<void> {
    const path = this.debugMarkerPath(n);
    if (path === undefined) return;
    const marker: DebugMarker = {
      ...(n.pid === undefined ? {} : { pid: n.pid }),
      ...(n.startTime === undefined ? {} : { startTime: n.startTime }),
      ...(n.cgroup === undefined ? {} : { cgroup: n.cgroup }),
      directory: n.directory,
      ...(n.token === undefined ? {} : { token: n.token }),
    };
    try {
      await mkdir(join(path, ".."), { recursive: true });
      await writeFile(`${path}.tmp`, JSON.stringify(marker));
      await rename(`${path}.tmp`, path);
      // It may have ended (and been cleaned up) meanwhile.
      if (n.phase === "done") await rm(path, { force: true });
    } catch (e) {
      this.o.logger.warn(
        `Failed to checkpoint DEBUG container '${n.key}': ${(e as Error).message}`,
      );
    }
  }

  /**
   * Destroys the DEBUG container `key` of a previous agent run noted at
   * `path`: its cgroup, else its process (if it is still the one noted) and
   * every process that carries its marker, with what those started. One
   * noted before its pid (the agent died while launching it) is found by
   * its marker.
   */
  private async destroyOrphanDebug(path: string, key: string): Promise<void> {
    let marker: Partial<DebugMarker> | undefined;
    try {
      marker = JSON.parse(await readFile(path, "utf8")) as Partial<DebugMarker>;
    } catch {
      marker = undefined;
    }
    const pid = marker?.pid;
    const directory = marker?.directory;
    if (typeof directory === "string") {
      const cgroups = this.o.launcherCgroups;
      if (typeof marker?.cgroup === "string" && cgroups !== undefined) {
        await killCgroup(marker.cgroup, cgroups.version, this.o.destroyTimeoutMs ?? 60_000).catch(
          () => undefined,
        );
        await removeCgroup(marker.cgroup).catch(() => undefined);
      } else {
        // Without its start time a pid could be anyone's by now.
        const root =
          typeof pid === "number" &&
          Number.isInteger(pid) &&
          pid > 0 &&
          typeof marker?.startTime === "number" &&
          (await isRunningProcess(pid, marker.startTime))
            ? pid
            : undefined;
        const token = marker?.token;
        await this.o.sweeper.kill(
          root,
          directory,
          typeof marker?.startTime === "number" ? marker.startTime : undefined,
          typeof token === "string" ? { id: key, token } : undefined,
        );
      }
      // Its sandbox goes with its task's.
      this.o.logger.info(`Destroyed DEBUG container '${key}' of the previous agent run`);
    }
    await rm(path, { force: true }).catch(() => undefined);
  }

  /** Where what a DEBUG child inherits from `n` is kept (next to its record). */
  private launchInfoPath(n: Nested): string | undefined {
    const path = this.recordPath(n);
    return path === undefined ? undefined : path.replace(/\.json$/, ".launch");
  }

  /** Keeps `n.launchInfo` for a restarted agent (best effort: only its checks need it). */
  private async saveLaunchInfo(n: Nested): Promise<void> {
    const path = this.launchInfoPath(n);
    if (path === undefined || n.launchInfo === undefined) return;
    try {
      await mkdir(join(path, ".."), { recursive: true });
      // Its environment holds the container's resolved secrets: for the agent's eyes only
      // (a leftover temporary file would keep its mode, so it goes first).
      await rm(`${path}.tmp`, { force: true });
      await writeFile(`${path}.tmp`, JSON.stringify(n.launchInfo), { mode: 0o600 });
      await rename(`${path}.tmp`, path);
    } catch (e) {
      this.o.logger.warn(
        `Failed to checkpoint the launch of container '${n.key}': ${(e as Error).message}`,
      );
    }
  }

  private async loadLaunchInfo(n: Nested): Promise<ParentLaunch | undefined> {
    const path = this.launchInfoPath(n);
    if (path === undefined) return undefined;
    const text = await readFile(path, "utf8").catch(() => undefined);
    return text === undefined ? undefined : parseParentLaunch(text);
  }

  /** A process started through the launcher ended; true when it was a nested container's. */
  processExited(pid: number, exit: ProcessExit): boolean {
    const n = this.byPid.get(pid);
    if (n === undefined) return false;
    this.byPid.delete(pid);
    void this.finish(n, exit);
    return true;
  }

  /** An isolator saw `cgroupId` go over a limit; true when it is a nested container. */
  limit(cgroupId: string, limitation: ContainerLimitation): boolean {
    const n = this.byCgroupId.get(cgroupId);
    if (n === undefined) return false;
    // Also while it is being cleaned up (the memory isolator's last look).
    if (n.termination !== undefined) return true;
    this.o.logger.info(`Nested container '${n.key}' has reached a limit: ${limitation.message}`);
    n.limitation ??= limitation;
    n.killRequested = true;
    if (n.phase === "running") void this.killAll(n);
    return true;
  }

  /**
   * The parent container ended (or is being destroyed): its nested
   * containers are killed and forgotten, each after the containers nested
   * in it (see finish).
   */
  async parentEnded(parentId: string): Promise<void> {
    const children = [...this.byKey.values()].filter(
      (n) => n.parent.containerId === parentId && n.standalone !== true,
    );
    await Promise.all(
      children.map(async (n) => {
        if (n.phase === "running") {
          // Its exit event may be lost with the launcher helper: finish it here
          // (which kills what is nested in it, then it).
          if (n.pid !== undefined) this.byPid.delete(n.pid);
          await this.finish(n, { code: null, signal: "SIGKILL" });
        }
        void this.forget(n);
      }),
    );
    if (children.some((n) => n.provisioned === true)) {
      await this.o.provisioner?.removeEmpty(provisionPathOf(parentId)).catch(() => undefined);
    }
  }

  /** Forgets an ended container (REMOVE_NESTED_CONTAINER). */
  remove(parentId: string, childId: string): "unknown" | "running" | "removed" {
    const n = this.find(parentId, childId);
    if (n === undefined) return "unknown";
    if (n.termination === undefined) return "running";
    void this.forget(n);
    // A DEBUG container (one per check probe) leaves no sandbox behind, as in Mesos.
    if (n.debugOf !== undefined) void this.removeSandboxOf(n);
    return "removed";
  }

  /**
   * Removes an ended standalone container: its record, termination and
   * sandbox (with its nested containers' sandboxes).
   */
  async removeStandalone(id: string): Promise<"unknown" | "running" | "removed"> {
    const n = this.find(undefined, id);
    if (n === undefined) return "unknown";
    if (n.termination === undefined) return "running";
    // Sandbox first, then the record: a LAUNCH of the same id waits for both
    // (it would get this sandbox removed under it), as does a second REMOVE.
    n.removing ??= (async () => {
      // The sandbox is the user's: nothing in it is followed, and the walk
      // starts from the agent's own `containers` directory (not from a path
      // derived from the record).
      const base =
        this.o.workDir === undefined ? dirname(n.directory) : join(this.o.workDir, "containers");
      await removeSandbox(base, n.directory).catch((e: unknown) =>
        this.o.logger.warn(
          `Failed to remove the sandbox of standalone container '${id}': ${(e as Error).message}`,
        ),
      );
      await this.forget(n).catch(() => undefined);
      this.o.logger.info(`Removed standalone container '${id}' and its sandbox`);
    })();
    await n.removing;
    return "removed";
  }

  /** Ids of the standalone containers not ended (their image root filesystems are in use). */
  standaloneIds(): Set<string> {
    return new Set(
      [...this.byKey.values()]
        .filter((n) => n.standalone === true && n.phase !== "done")
        .map((n) => n.key),
    );
  }

  /** The live standalone containers. */
  listStandalone(): NestedContainerView[] {
    return [...this.byKey.values()]
      .filter((n) => n.standalone === true && n.phase === "running")
      .map((n) => ({
        parent: n.parent,
        childId: n.childId,
        key: n.key,
        pid: n.pid,
        directory: n.directory,
      }));
  }

  /** The executor container `id` ended: WAIT_CONTAINER calls on it are answered. */
  executorEnded(id: string, termination: ContainerTermination): void {
    const waiters = this.executorWaiters.get(id);
    if (waiters === undefined) return;
    this.executorWaiters.delete(id);
    const answer: NestedTermination = {};
    if (termination.status !== undefined) answer.exit_status = termination.status;
    const limitation = termination.limitation;
    if (limitation !== undefined) {
      answer.state = "TASK_FAILED";
      answer.reason = limitation.reason;
      answer.message = limitation.message;
      answer.limitation =
        limitation.resources === undefined ? {} : { resources: limitation.resources };
    }
    for (const waiter of waiters) waiter(answer);
  }

  /** Events of the executor containers, seen on their way to the agent: an ended parent takes its nested containers along. */
  wrapEvents(events: ContainerEvents): ContainerEvents {
    return {
      containerLaunched: (id, result) => events.containerLaunched(id, result),
      containerTerminated: (id, termination) => {
        this.executorEnded(id, termination);
        void this.parentEnded(id);
        events.containerTerminated(id, termination);
      },
    };
  }

  /** The live nested containers (not standalone ones: see listStandalone). */
  list(): NestedContainerView[] {
    return [...this.byKey.values()]
      .filter((n) => n.phase === "running" && n.standalone !== true)
      .map((n) => ({
        parent: n.parent,
        ...(n.debugOf === undefined ? {} : { nestedIn: n.debugOf.childId }),
        childId: n.childId,
        key: n.key,
        pid: n.pid,
        directory: n.directory,
      }));
  }

  /** Statistics of a live nested container from its isolators. */
  async usage(
    parentId: string | undefined,
    childId: string,
  ): Promise<ResourceStatistics | undefined> {
    const n = this.find(parentId, childId);
    if (n === undefined || n.phase !== "running") return undefined;
    const parts = await Promise.all(
      n.isolators.map((i) => i.usage(n.cgroupId).catch(() => ({ timestamp: 0 }))),
    );
    const stats: ResourceStatistics = { timestamp: 0 };
    for (const part of parts) Object.assign(stats, part);
    if (n.cgroup !== undefined && stats.processes === undefined) {
      stats.processes = (await cgroupPids(n.cgroup)).length;
    }
    return stats;
  }

  // --- internals -----------------------------------------------------------

  private async start(n: Nested, l: NestedLaunch, ownCgroups: boolean): Promise<number> {
    const userName = n.standalone === true ? n.parent.user : (this.commandUser(l) ?? n.parent.user);
    if (userName !== undefined) n.user = userName;
    const ids = await this.switchedIds(userName);
    if (n.standalone === true) {
      // In the agent's `containers` directory, which only root may change.
      await mkdir(n.directory, { recursive: true, mode: 0o755 });
      if (ids !== undefined) await chownSandbox(n.directory, ids.uid, ids.gid);
    } else {
      // Below the parent's sandbox, which its user may change (see makeSandbox):
      // walked from the top-level container's sandbox, however deep.
      n.sandboxMade = await makeSandbox(sandboxBase(n), n.directory, ids);
    }
    await this.fetch(n, l.command, ids, userName);
    const preparations: (LaunchPreparation | undefined)[] = [];
    const cgroups = this.o.launcherCgroups;
    if (cgroups !== undefined) {
      n.cgroup = await cgroups.create("freezer", n.cgroupId);
      preparations.push({ cgroupProcs: [`${n.cgroup}/cgroup.procs`] });
      if (!ownCgroups) preparations.push({ cgroupProcs: this.parentCgroupProcs(n, cgroups) });
    }
    const executor: ExecutorInfo = {
      executor_id: { value: n.key },
      ...(l.command === undefined ? {} : { command: l.command }),
      resources: [...(l.resources ?? [])],
      ...(l.container === undefined ? {} : { container: l.container }),
    };
    const config = {
      containerId: n.cgroupId,
      directory: n.directory,
      // A standalone container has no parent: SANDBOX_PATH volumes of type PARENT are refused.
      parentDirectory: n.standalone === true ? undefined : n.parent.directory,
      executor,
      user: ids,
      commandExecutor: false,
      resources: nestedResources(l.resources ?? [], l.limits),
    };
    for (const isolator of n.isolators) {
      try {
        preparations.push(await isolator.prepare(config));
      } catch (e) {
        throw new Error(`Failed to prepare isolator ${isolator.name}: ${(e as Error).message}`);
      }
    }
    const launchCommand = await this.prepareImages(n, l, preparations);
    const preparation = mergePreparations(preparations);
    const inImage = preparation.rootfs !== undefined;
    const fifos = l.session === true ? await this.sessionFifos(n, ids) : undefined;
    // A session's output is the caller's (its pipes); the others' may go through the logger.
    const output =
      fifos === undefined
        ? await this.o.containerLogger?.prepare({
            directory: n.directory,
            // Opened from the top-level sandbox down, not by its path (the
            // directories between are the user's, who may swap one for a link).
            sandboxBase: walkBase(n),
            environments: [l.command?.environment],
            ids,
          })
        : undefined;
    let command = executorCommand(launchCommand);
    if (fifos !== undefined) command = stdinFrom(command, fifos.paths.stdin);
    const shimmed = needsShim(preparation) || (ids !== undefined && cgroups !== undefined);
    if (shimmed) command = shimCommand(command, preparation, ids);
    // A session works in its parent's sandbox, as Mesos' debug containers.
    const workDir = l.session === true ? n.parent.directory : n.directory;
    const env = nestedEnvironment(
      l.command,
      inImage ? IMAGE_SANDBOX : workDir,
      preparation.environment,
    );
    // The shim's steps before the chroot run on the host: the command's own
    // PATH applies inside the image only (with the image's Env, see nested-image.ts).
    n.launchInfo = {
      env: { ...env, ...(preparation.rootfsEnv ?? {}) },
      workDir: inImage ? (preparation.rootfsWorkDir ?? IMAGE_SANDBOX) : workDir,
      ...(inImage ? { rootfs: preparation.rootfs } : {}),
      ...(userName === undefined ? {} : { user: userName }),
    };
    await this.saveLaunchInfo(n);
    if (inImage) env.PATH = DEFAULT_PATH;
    // Last, so that the command's own environment cannot hide it; not in
    // launchInfo (a DEBUG child carries its own).
    Object.assign(env, markerEnvironment(n));
    // Its cgroup and root filesystem, for a successor that finds it launching.
    if (n.cgroup !== undefined || n.provisioned === true) await this.checkpoint(n);
    // The root helper enters the working directory, and (without a logger or
    // session) creates `stdout` and `stderr` in it, as held open here, not by
    // path: the user may swap a directory on it (its `containers`) for a
    // link, and root would go (and create them) where it leads.
    let held: Awaited<ReturnType<typeof holdDirectory>>;
    try {
      held = await holdDirectory(n, workDir);
    } catch (e) {
      fifos?.abandon();
      output?.release();
      throw e;
    }
    const sink = fifos?.paths ??
      output ?? { stdout: `${held.path}/stdout`, stderr: `${held.path}/stderr` };
    let reply: Awaited<ReturnType<LauncherClient["spawn"]>>;
    try {
      reply = await this.o.launcher.spawn({
        op: "spawn",
        file: command.file,
        args: command.args,
        env,
        // The shim's root steps get a fixed environment; `env` reaches its last step on this fd.
        ...(command.environmentFd === undefined ? {} : { environmentFd: command.environmentFd }),
        cwd: held.path,
        stdout: sink.stdout,
        stderr: sink.stderr,
        ...(shimmed || ids === undefined ? {} : ids),
      });
    } catch (e) {
      fifos?.abandon();
      throw e;
    } finally {
      output?.release();
      held.release();
    }
    // The helper has opened the write ends (and closed its copies): reading can start.
    if (fifos !== undefined) {
      n.io = {
        stdin: fifos.stdinWriter(),
        stdout: new Socket({ fd: fifos.fds.stdout, readable: true, writable: false }),
        stderr: new Socket({ fd: fifos.fds.stderr, readable: true, writable: false }),
      };
      // Errors before the session's owner listens must not be unhandled (its listeners report them).
      for (const stream of Object.values(n.io) as (Readable | Writable)[]) {
        stream.on("error", () => {});
      }
    }
    crashAfterSpawnForTesting(n.standalone === true ? "standalone" : "nested");
    // Registered before anything else is awaited: its exit may be reported next.
    n.pid = reply.pid;
    if (reply.startTime !== undefined) n.startTime = reply.startTime;
    this.byPid.set(reply.pid, n);
    // Its pid first: a successor adopts it (or finds it gone) by that.
    void this.checkpoint(n);
    if (shimmed) await enterCgroups(reply.pid, preparation);
    for (const isolator of n.isolators) {
      await isolator.isolate(n.cgroupId, reply.pid).catch(() => undefined);
    }
    return reply.pid;
  }

  /**
   * Fetches the command's URIs into the container's sandbox, as Mesos'
   * containerizer does for every container it launches (standalone and
   * nested ones too): with the agent's fetcher and cache, as `user` (local
   * files read as that user), the fetched files then owned by it. A failure
   * fails the launch with the fetcher's reason.
   */
  private async fetch(
    n: Nested,
    command: CommandInfo | undefined,
    ids: { uid: number; gid: number } | undefined,
    user: string | undefined,
  ): Promise<void> {
    const uris = command?.uris ?? [];
    const launcher = this.o.launcher;
    let fetched: { asUser: boolean };
    try {
      // Also without URIs: Mesos counts every launch in task_fetches_*.
      fetched = await fetchForContainer(uris, {
        sandbox: n.directory,
        settings: this.o.fetcher ?? {},
        run: (file, args, cwd) => launcher.run({ op: "run", file, args, cwd, timeoutMs: 600_000 }),
        user,
        ids,
        signal: n.abort?.signal,
        // Its worker enters the sandbox as root: held open, not by path (see holdDirectory).
        holdSandbox: () => holdDirectory(n, n.directory),
      });
    } catch (e) {
      if (n.abort?.signal.aborted === true) {
        throw new Error(`Container '${n.key}' was destroyed during fetching`);
      }
      throw e;
    }
    // Fetched as the user, the files are already the user's; the rest are chowned.
    // Through directories opened from the top-level sandbox down, following
    // no link (a `chown -R` by path went wherever a link the user put led).
    if (ids !== undefined && !fetched.asUser && uris.length > 0) {
      await chownSandboxTree(walkBase(n), n.directory, ids);
    }
  }

  /**
   * The container's image and image volumes, provisioned (their mounts
   * added to `preparations`); returns the command to launch (docker/runtime
   * may take it from the image).
   */
  private async prepareImages(
    n: Nested,
    l: NestedLaunch,
    preparations: (LaunchPreparation | undefined)[],
  ): Promise<CommandInfo | undefined> {
    const image = l.container?.mesos?.image;
    const volumes = l.container?.volumes ?? [];
    const imageVolumes = volumes.some((v) => v.image !== undefined);
    if (image === undefined && !imageVolumes) return l.command;
    const provisioner = this.o.provisioner;
    if (provisioner === undefined) {
      throw new Error("Container images need the agent flag --image_providers=docker");
    }
    const provisionId = provisionIdOf(n);
    // Set first: a failed provision leaves a partial rootfs for the cleanup.
    n.provisioned = true;
    if (image === undefined) {
      const mounts = await imageVolumePreparation(
        provisioner,
        provisionId,
        volumes,
        n.directory,
        undefined,
      );
      preparations.push({ mountNamespace: true, mounts });
      return l.command;
    }
    const prepared = await prepareNestedImage({
      provisioner,
      dockerRuntime: this.o.dockerRuntime === true,
      provisionId,
      image,
      command: l.command ?? {},
      volumes,
      sandbox: n.directory,
      ...(n.standalone === true ? {} : { parentSandbox: n.parent.directory }),
    });
    preparations.push(prepared.preparation);
    if (prepared.preparation.rootfs !== undefined) {
      // volume/secret's mounts go into the image, after its sandbox mount.
      preparations.push(
        await placeImageMounts(
          preparations,
          prepared.preparation.rootfs,
          provisioner.sandboxDirectory,
        ),
      );
    }
    return prepared.command;
  }

  /**
   * Named pipes for a session's streams in its (private) directory, with the
   * agent's ends of stdout/stderr open for reading (non-blocking, so the
   * helper's open for writing does not wait). The agent opens stdin for
   * writing once the container opens it for reading ({@link fifoWriter}).
   * The directory is opened from the top-level sandbox down without
   * following links and held: the pipes are removed, made and opened (by
   * the agent and the launcher helper) in that very directory, never through
   * a link the user put on its path. The container opens its stdin by name,
   * as its user.
   */
  private async sessionFifos(
    n: Nested,
    ids: { uid: number; gid: number } | undefined,
  ): Promise<SessionFifos> {
    const dir = await openSandbox(walkBase(n), n.directory);
    // The agent's own view of the open directory, also right for the helper.
    const inDir = (name: string) => `/proc/${process.pid}/fd/${dir.fd}/${name}`;
    const names = { stdin: "stdin.fifo", stdout: "stdout.fifo", stderr: "stderr.fifo" };
    const shown = (name: string) => join(n.directory, name);
    const fds: number[] = [];
    let held: number | undefined;
    let released = false;
    const releaseDir = () => {
      if (released) return;
      released = true;
      if (held !== undefined) closeSync(held);
      void dir.close().catch(() => undefined);
    };
    try {
      await Promise.all(Object.values(names).map((p) => rm(inDir(p), { force: true })));
      const made = await this.o.launcher.run({
        op: "run",
        file: "mkfifo",
        args: ["-m", "600", inDir(names.stdin), inDir(names.stdout), inDir(names.stderr)],
      });
      if (made.code !== 0) {
        throw new Error(`Failed to create the session's pipes: ${made.output.trim()}`);
      }
      // A handle on the stdin pipe just made (checked as the agent's own; no
      // reader, so the pipe's ends are as before) for root to open it by: the
      // name lies in the user's directory, where a link could stand by then
      // (root's shell would read /etc/shadow into the user's command).
      held = openOwnFifo(inDir(names.stdin), O_PATH, shown(names.stdin));
      // The container (maybe another user) opens its stdin itself. Given
      // away on the open pipe: the name could be a link by now.
      if (ids !== undefined) {
        const stdin = openOwnFifo(inDir(names.stdin), fsConstants.O_RDONLY, shown(names.stdin));
        try {
          fchownSync(stdin, ids.uid, ids.gid);
        } finally {
          closeSync(stdin);
        }
      }
      for (const p of [names.stdout, names.stderr]) {
        fds.push(openOwnFifo(inDir(p), fsConstants.O_RDONLY, shown(p)));
      }
    } catch (e) {
      for (const fd of fds) closeSync(fd);
      releaseDir();
      throw e;
    }
    const [stdout = -1, stderr = -1] = fds;
    return {
      paths: {
        stdin: shown(names.stdin),
        heldStdin: `/proc/${process.pid}/fd/${held}`,
        stdout: inDir(names.stdout),
        stderr: inDir(names.stderr),
      },
      fds: { stdout, stderr },
      stdinWriter: () => {
        // The directory stays open until the writer is done with the pipe.
        const writer = fifoWriter(inDir(names.stdin));
        writer.on("close", releaseDir);
        return writer;
      },
      abandon: () => {
        for (const fd of fds) closeSync(fd);
        releaseDir();
      },
    };
  }

  /** The parent's resource cgroups, which a nested container sharing them joins. */
  private parentCgroupProcs(n: Nested, cgroups: CgroupsHierarchy): string[] {
    // v2 has one tree: the nested cgroup is already below the parent's.
    if (cgroups.version === 2) return [];
    const parent = this.byKey.get(n.parent.containerId);
    const holder = parent === undefined ? n.parent.containerId : this.resourceHolder(parent);
    const out: string[] = [];
    for (const isolator of this.o.isolators) {
      for (const subsystem of CGROUP_SUBSYSTEMS[isolator.name] ?? []) {
        if (!cgroups.has(subsystem)) continue;
        const file = `${cgroups.path(subsystem, holder)}/cgroup.procs`;
        if (!out.includes(file)) out.push(file);
      }
    }
    return out;
  }

  /** The ids a container of `userName` runs as, when they are not the agent's own. */
  private async switchedIds(
    userName: string | undefined,
  ): Promise<{ uid: number; gid: number } | undefined> {
    if (userName === undefined) return undefined;
    const user = await this.lookupUser(userName);
    if (user.uid === process.getuid?.() && user.gid === process.getgid?.()) return undefined;
    return user;
  }

  /** Removes a nested container's sandbox without following the user's links (logged). */
  private async removeSandboxOf(n: Nested): Promise<void> {
    await removeSandbox(sandboxBase(n), n.directory).catch((e: unknown) =>
      this.o.logger.warn(
        `Failed to remove the sandbox of container '${n.key}': ${(e as Error).message}`,
      ),
    );
  }

  private async lookupUser(name: string): Promise<{ uid: number; gid: number }> {
    const cached = this.users.get(name);
    if (cached !== undefined) return cached;
    try {
      const found = await this.o.launcher.user(name);
      const ids = { uid: found.uid, gid: found.gid };
      this.users.set(name, ids);
      return ids;
    } catch (e) {
      throw new Error(`Failed to switch to user '${name}': ${(e as Error).message}`);
    }
  }

  /** SIGKILLs every process of the container (its cgroup, else its process tree). */
  private async killAll(n: Nested): Promise<void> {
    const cgroups = this.o.launcherCgroups;
    if (n.cgroup !== undefined && cgroups !== undefined) {
      await killCgroup(n.cgroup, cgroups.version, this.o.destroyTimeoutMs ?? 60_000);
      return;
    }
    // An adopted container's process may have died while the agent was down
    // and its pid gone to another process: that one's tree is not the container's.
    const root =
      n.adopted === true && n.pid !== undefined && !(await isSameProcess(n.pid, n.startTime))
        ? undefined
        : n.pid;
    // Nothing older than its first process is the container's: the sweep
    // reads the environments of newer processes only (a check's DEBUG
    // container ends every interval; the host may run thousands).
    await this.o.sweeper.kill(root, n.directory, n.startTime, markerOf(n));
  }

  /**
   * Kills what a launch cut short by the agent's end may have started, its
   * pid unknown: its cgroup's processes, else (no cgroups) every process
   * that carries its marker in its environment (and the trees those lead).
   * One an older agent launched carries none: then every process whose
   * session is led by a process working in its sandbox (the launcher starts
   * each container in a session of its own, in its sandbox; not found so
   * when it runs in an image: its working directory then reads as the
   * sandbox inside the image). Not for the others: a shell someone left in
   * that directory would go too.
   */
  private async killLaunching(n: Nested): Promise<void> {
    if (n.cgroup !== undefined && this.o.launcherCgroups !== undefined) {
      await this.killAll(n);
      return;
    }
    const marker = markerOf(n);
    if (marker !== undefined) {
      const marked = await this.o.sweeper.kill(undefined, n.directory, undefined, marker);
      if (marked > 0) {
        this.o.logger.info(`Killed ${marked} process(es) of container '${n.key}' found by its id`);
      }
      return;
    }
    const table = await readProcTableInSlices();
    const pids = new Set<number>();
    for (const e of table) {
      if (e.session !== e.pid || e.pid === process.pid) continue;
      const cwd = await readlink(`/proc/${e.pid}/cwd`).catch(() => undefined);
      if (cwd !== n.directory) continue;
      for (const pid of processTree(e.pid, table)) pids.add(pid);
    }
    pids.delete(process.pid);
    if (pids.size > 0) {
      this.o.logger.info(
        `Killing ${pids.size} process(es) of container '${n.key}' found in its sandbox`,
      );
    }
    signalAll(pids, "SIGKILL");
  }

  /** Sends a catchable signal to the container's processes. */
  private async signal(n: Nested, name: NodeJS.Signals): Promise<void> {
    const pids =
      n.cgroup !== undefined ? await subtreePids(n.cgroup) : n.pid === undefined ? [] : [-n.pid];
    for (const pid of pids) {
      try {
        process.kill(pid, name);
      } catch {
        // Gone already.
      }
    }
  }

  private async finish(n: Nested, exit: ProcessExit): Promise<void> {
    if (n.finishing === true || n.termination !== undefined) return;
    n.finishing = true;
    // Its DEBUG children (check containers) end first, as Mesos destroys nested containers first.
    await this.finishDebugChildren(n);
    n.phase = "done";
    // The containers nested in it go first (at every level), as in Mesos.
    if (n.debugOf === undefined) await this.parentEnded(n.key);
    // Whatever the container's main process left behind dies with it.
    await this.killAll(n);
    await this.cleanup(n);
    const termination: NestedTermination = {};
    const status = waitStatus(exit);
    if (status !== undefined) termination.exit_status = status;
    if (n.limitation !== undefined) {
      termination.state = "TASK_FAILED";
      termination.reason = n.limitation.reason;
      termination.message = n.limitation.message;
      termination.limitation =
        n.limitation.resources === undefined ? {} : { resources: n.limitation.resources };
    }
    n.termination = termination;
    this.byCgroupId.delete(n.cgroupId);
    if (this.byKey.get(n.key) === n) await this.checkpoint(n);
    const ended = `${n.standalone === true ? "Standalone" : n.debugOf !== undefined ? "DEBUG" : "Nested"} container '${n.key}' ended${status === undefined ? "" : ` with wait status ${status}`}${n.limitation === undefined ? "" : `: ${n.limitation.message}`}`;
    // One DEBUG container per check probe: verbose only, as their launch.
    if (n.debugOf !== undefined) this.o.logger.verbose(1, ended);
    else this.o.logger.info(ended);
    for (const waiter of n.waiters.splice(0)) waiter(termination);
  }

  private async cleanup(n: Nested): Promise<void> {
    const marker = this.debugMarkerPath(n);
    if (marker !== undefined) await rm(marker, { force: true }).catch(() => undefined);
    for (const isolator of n.isolators) {
      await isolator
        .cleanup(n.cgroupId)
        .catch((e: unknown) =>
          this.o.logger.warn(
            `Failed to clean up ${isolator.name} of nested container '${n.key}': ${(e as Error).message}`,
          ),
        );
    }
    if (n.cgroup !== undefined) await removeCgroup(n.cgroup).catch(() => undefined);
    if (n.provisioned === true) {
      await this.o.provisioner
        ?.destroy(provisionIdOf(n))
        .catch((e: unknown) =>
          this.o.logger.warn(
            `Failed to remove the root filesystem of nested container '${n.key}': ${(e as Error).message}`,
          ),
        );
    }
  }

  /** Forgets a container; resolves once its record is gone (callers need not wait). */
  private forget(n: Nested): Promise<void> {
    this.byKey.delete(n.key);
    this.byCgroupId.delete(n.cgroupId);
    if (n.pid !== undefined) this.byPid.delete(n.pid);
    const path = this.recordPath(n);
    if (path === undefined) return Promise.resolve();
    // The directory of its own nested containers' records, once they are gone.
    const children = n.standalone === true ? undefined : this.childrenDir(n.key);
    const launchInfo = this.launchInfoPath(n);
    // After the writes under way (later ones see it forgotten and skip).
    const saved = n.saving ?? Promise.resolve();
    return saved
      .then(() =>
        Promise.all([
          rm(path, { force: true }),
          launchInfo === undefined ? undefined : rm(launchInfo, { force: true }),
        ]),
      )
      .then(async () => {
        if (children !== undefined) await rmdir(children).catch(() => undefined);
        // The parent's directory goes with its last record.
        await rmdir(join(path, "..")).catch(() => undefined);
      })
      .catch(() => undefined);
  }
}

/** The parent record of a standalone container (also the parent of its nested containers). */
/** Why a checkpointed record cannot be that of the container its file `file` names, if so. */
export function recordProblem(record: unknown, file: string): string | undefined {
  if (typeof record !== "object" || record === null) return "not a record";
  const r = record as Partial<Record<keyof NestedRecord, unknown>>;
  if (typeof r.childId !== "string" || !validChildId(r.childId)) return "no valid container id";
  if (file !== `${r.childId}.json`) return `it is the record of '${r.childId}'`;
  if (r.standalone !== true && typeof r.parentId !== "string") return "no parent container id";
  if (typeof r.directory !== "string" || !isAbsolute(r.directory)) return "no sandbox directory";
  // Without a pid only when checkpointed while launching (a successor destroys it).
  const launching = r.launching === true && r.pid === undefined;
  if (!launching && (typeof r.pid !== "number" || !Number.isInteger(r.pid) || r.pid <= 0)) {
    return "no process id";
  }
  if (r.isolators !== undefined && !Array.isArray(r.isolators)) return "no isolator list";
  return undefined;
}

function standaloneParent(id: string, directory: string, user: string | undefined): NestedParent {
  return {
    containerId: id,
    directory,
    ...(user === undefined ? {} : { user }),
    frameworkId: "",
    executorId: "",
    executorName: "",
    standalone: true,
  };
}

/** The provisioner's id for a container's root filesystem (Mesos' layout). */
function provisionIdOf(n: Nested): string {
  return n.standalone === true
    ? n.key
    : nestedProvisionId(provisionPathOf(n.parent.containerId), n.childId);
}

/** The provisioner's id of the container `key` (`<a>.<b>`: `<a>/containers/<b>`). */
function provisionPathOf(key: string): string {
  return key.split(".").join("/containers/");
}

/** Where `n`'s sandbox is made and removed from: its top-level container's sandbox. */
function sandboxBase(n: Nested): string {
  return n.parent.rootDirectory ?? n.parent.directory;
}

/**
 * Where root opens `n`'s sandbox from without following links: its
 * top-level container's sandbox; none for a standalone container, whose
 * sandbox lies in the agent's own `containers` directory.
 */
function walkBase(n: Nested): string | undefined {
  return n.standalone === true ? undefined : sandboxBase(n);
}

/**
 * `directory` (`n`'s sandbox, or its parent's for a session) opened from
 * the top-level sandbox down without following links, held until
 * `release`; `path` is the agent's /proc view of it, right for the
 * launcher helper too.
 */
async function holdDirectory(
  n: Nested,
  directory: string,
): Promise<{ path: string; release: () => void }> {
  const base = walkBase(n);
  const dir = await openSandbox(base === directory ? undefined : base, directory);
  return {
    path: `/proc/${process.pid}/fd/${dir.fd}`,
    release: () => void dir.close().catch(() => undefined),
  };
}

/**
 * `command` with its stdin read from `fifo`: a shell opens it (waiting
 * for the agent's end only until a deadline, see debug-containers.ts),
 * then becomes the command (argv[0] is the program's path).
 */
function stdinFrom(
  command: ReturnType<typeof executorCommand>,
  fifo: string,
): ReturnType<typeof executorCommand> {
  return {
    file: "/bin/sh",
    args: [
      "sh",
      "-c",
      sessionStdinScript(fifo, 127),
      "mesos-session-stdin",
      command.file,
      ...command.args.slice(1),
    ],
  };
}

/**
 * The resources a nested container's isolators limit it to: the requested
 * ones, with `limits` (cpus, mem) as the CFS quota and hard memory limit
 * where given (infinite: none), as for a top-level container.
 */
export function nestedResources(
  resources: readonly Resource[],
  limits: Readonly<Record<string, Value_Scalar>> | undefined,
): ContainerResources {
  const r = resourcesOf([...resources]);
  const ports = r.ports();
  const out: ContainerResources = {
    cpus: r.cpus(),
    memMb: r.mem(),
    diskMb: r.disk(),
    ...(ports === undefined ? {} : { ports }),
  };
  const cpuLimit = limits?.cpus?.value;
  const memLimit = limits?.mem?.value;
  if (cpuLimit !== undefined) out.cpuLimit = cpuLimit;
  if (memLimit !== undefined) out.memLimitMb = memLimit;
  return out;
}

/** What `n`'s processes carry to be found by, if it has a token. */
function markerOf(n: Nested): ContainerMarker | undefined {
  return n.token === undefined ? undefined : { id: n.key, token: n.token };
}

/** The variables that mark `n`'s processes (none for one without a token). */
function markerEnvironment(n: Nested): Record<string, string> {
  return n.token === undefined
    ? {}
    : { [CONTAINER_ID_VARIABLE]: n.key, [CONTAINER_TOKEN_VARIABLE]: n.token };
}

/**
 * Tests only: `MESOS_TS_TESTING_CRASH_AFTER_SPAWN=<kind>[,<kind>...]`
 * (`nested`, `standalone`, `debug`) SIGKILLs the agent as soon as the
 * launcher has started a container of that kind, before its pid is
 * noted: the moment whose leftovers a restarted agent must find.
 * `debug-waiting` waits for a session's shell to block in its stdin's open.
 */
function crashAfterSpawnForTesting(kind: "nested" | "standalone" | "debug", pid?: number): void {
  const kinds = process.env.MESOS_TS_TESTING_CRASH_AFTER_SPAWN?.split(",") ?? [];
  if (kinds.includes(kind)) process.kill(process.pid, "SIGKILL");
  // `debug-waiting`: once the session's shell waits in the open of its
  // stdin (the kernel's wait for a writer), not before: an agent gone
  // earlier takes its handle on the pipe along, and the open just fails.
  if (kind !== "debug" || pid === undefined || !kinds.includes("debug-waiting")) return;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let tries = 0; tries < 2000; tries++) {
    let wchan = "";
    try {
      wchan = readFileSync(`/proc/${pid}/wchan`, "utf8");
    } catch {
      break;
    }
    if (/wait_for_partner|fifo_open/.test(wchan)) break;
    Atomics.wait(pause, 0, 0, 5);
  }
  process.kill(process.pid, "SIGKILL");
}

/**
 * The environment of a nested container: a default PATH, the isolators'
 * variables (`environment_secret`'s resolved secrets), the command's plain
 * values (its SECRET variables are those resolved ones) and `MESOS_SANDBOX`.
 */
export function nestedEnvironment(
  command: CommandInfo | undefined,
  sandbox: string,
  isolatorEnvironment: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: DEFAULT_PATH,
    ...isolatorEnvironment,
  };
  for (const v of command?.environment?.variables ?? []) {
    if (v.type === "SECRET") continue;
    env[v.name] = v.value ?? "";
  }
  env.MESOS_SANDBOX = sandbox;
  return env;
}

/** The running executor container `containerId` of `agent`, as a nested container's parent. */
export function nestedParentOf(
  agent: Pick<Agent, "frameworks">,
  containerId: string,
  switchUser: boolean,
): NestedParent | undefined {
  for (const framework of agent.frameworks.values()) {
    for (const executor of framework.executors.values()) {
      if (executor.containerId !== containerId || executor.state === "TERMINATED") continue;
      return {
        containerId,
        directory: executor.directory,
        user: switchUser ? (executor.info.command?.user ?? framework.info.user) : undefined,
        frameworkId: framework.id,
        executorId: executor.id,
        executorName: executor.info.name ?? "",
      };
    }
  }
  return undefined;
}

/**
 * Sends `signal` to the running executor container `containerId` of
 * `agent`, as Mesos' containerizer does: to its main process, or, not
 * started yet, by destroying it. false: no such container.
 */
export function signalExecutorContainer(
  agent: Pick<Agent, "frameworks">,
  destroy: (containerId: string) => void,
  containerId: string,
  signal: number,
): boolean {
  for (const framework of agent.frameworks.values()) {
    for (const executor of framework.executors.values()) {
      if (executor.containerId !== containerId || executor.state === "TERMINATED") continue;
      if (executor.pid === undefined) {
        destroy(containerId);
        return true;
      }
      try {
        // As for nested containers: a signal we do not know is a SIGKILL.
        process.kill(executor.pid, SIGNAL_NAMES[signal] ?? "SIGKILL");
      } catch (e) {
        // Already gone: its end is on its way to the agent.
        if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
      }
      return true;
    }
  }
  return false;
}
