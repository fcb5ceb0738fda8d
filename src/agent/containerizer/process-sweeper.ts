/**
 * Finds and kills a container's processes: the executor's tree (its
 * session, process group and descendants) and every process that still
 * carries the container's `MESOS_DIRECTORY=<sandbox>` in its environment
 * (tasks that left the tree, e.g. after their executor died); for a nested,
 * standalone or DEBUG container, every process that carries its launch's
 * marker (`ContainerMarker`), with the trees those lead. Reading the
 * process table and environments costs a pass over /proc, so requests that
 * arrive close together (200 tasks killed at once) share one pass.
 *
 * A pass costs about 0.1 ms of CPU per process on the host for the table
 * and more per environment read, and a launch storm's teardown asks for
 * one as each of its executors exits. So: the next pass waits at least four
 * times as long as the previous one took (at most 2 s), letting a busy
 * agent gather more kills per pass; and environments are only read for
 * processes that could be a container's leftovers: started no earlier than
 * the oldest executor of the batch (when known), and neither a running
 * executor the caller names (`liveExecutors`) nor a direct child of one
 * (another container's task).
 */
import type { Logger } from "../../common/observability/logger.js";
import {
  type ContainerMarker,
  markedProcessesInSlices,
  markerKey,
  type ProcEntry,
  processTree,
  readProcTableInSlices,
  signalAll,
} from "./proc.js";

interface Request {
  /** The executor's pid, when its tree should be killed too. */
  root: number | undefined;
  directory: string;
  /** A nested, standalone or DEBUG container's marker, as its processes carry it. */
  container: ContainerMarker | undefined;
  /** The executor's start time (clock ticks after boot), when known. */
  startTime: number | undefined;
  resolve: (killed: number) => void;
}

/**
 * The tree of the request's root, unless its pid now belongs to a process
 * that started at another time: the root ended (e.g. a container's first
 * process, whose leftovers are swept after its exit was reported) and the
 * pid went to someone else before this pass. The kernel hands out no pid
 * still in use as a session or group id, so such a newcomer leads nothing
 * of the container's.
 */
function rootTree(request: Request, table: readonly ProcEntry[]): number[] {
  const { root, startTime } = request;
  if (root === undefined) return [];
  const now = table.find((e) => e.pid === root);
  if (now !== undefined && startTime !== undefined && now.startTime !== startTime) return [];
  return processTree(root, table);
}

/** Longest wait between passes, however long the last one took. */
const MAX_SPACING_MS = 2_000;

/** Batches container kills into shared /proc passes. */
export class ProcessSweeper {
  private pending: Request[] = [];
  private timer: NodeJS.Timeout | undefined;
  private passing = false;
  /** How long the last pass took (wall ms). */
  private lastPassMs = 0;
  private lastPassEnd = 0;

  constructor(
    private readonly logger: Logger,
    /** How long requests wait for company before a pass. */
    private readonly batchMs = 20,
    /** Pids of executors known to be running (their processes are not leftovers of others). */
    private readonly liveExecutors: () => Iterable<number> = () => [],
  ) {}

  /**
   * SIGKILLs every process of the container whose sandbox is `directory`
   * (and the tree of `root`, if given). `startTime` is the executor's start
   * (clock ticks after boot): nothing older can belong to the container,
   * and a process at `root`'s pid that started at another time is not it.
   * With `container`, also the processes that carry that marker in their
   * environment and the trees they lead (a container launched without a
   * cgroup, its pid maybe unknown); `startTime` is then its first
   * process' start, when known. Resolves with how many were signalled.
   */
  kill(
    root: number | undefined,
    directory: string,
    startTime?: number,
    container?: ContainerMarker,
  ): Promise<number> {
    return new Promise((resolve) => {
      this.pending.push({ root, directory, container, startTime, resolve });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.timer !== undefined || this.passing || this.pending.length === 0) return;
    const spacing = Math.min(MAX_SPACING_MS, this.lastPassMs * 4);
    const wait = Math.max(this.batchMs, this.lastPassEnd + spacing - performance.now());
    this.timer = setTimeout(() => void this.flush(), wait);
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.passing = true;
    const started = performance.now();
    try {
      const table = await readProcTableInSlices();
      const containers = new Set<string>();
      for (const r of batch) if (r.container !== undefined) containers.add(markerKey(r.container));
      const marked = await markedProcessesInSlices(
        new Set(batch.map((r) => r.directory)),
        containers,
        this.candidates(batch, table),
      );
      for (const request of batch) {
        const pids = new Set(rootTree(request, table));
        for (const pid of marked.byDirectory.get(request.directory) ?? []) pids.add(pid);
        // Their descendants too: one may have started a program with an
        // environment of its own (without the marker).
        const carriers =
          request.container === undefined
            ? []
            : marked.byContainer.get(markerKey(request.container));
        for (const carrier of carriers ?? []) {
          for (const pid of processTree(carrier, table)) pids.add(pid);
        }
        pids.delete(process.pid);
        signalAll(pids, "SIGKILL");
        request.resolve(pids.size);
      }
    } catch (e) {
      this.logger.warn(`Failed to look for container processes: ${(e as Error).message}`);
      for (const request of batch) {
        if (request.root !== undefined) signalAll([request.root], "SIGKILL");
        request.resolve(0);
      }
    } finally {
      this.passing = false;
      this.lastPassEnd = performance.now();
      this.lastPassMs = this.lastPassEnd - started;
      this.schedule();
    }
  }

  /** The processes whose environment is worth reading for this batch. */
  private candidates(batch: readonly Request[], table: readonly ProcEntry[]): ProcEntry[] {
    let oldest = Number.POSITIVE_INFINITY;
    for (const r of batch) oldest = Math.min(oldest, r.startTime ?? 0);
    const roots = new Set(batch.map((r) => r.root));
    const others = new Set<number>();
    for (const pid of this.liveExecutors()) if (!roots.has(pid)) others.add(pid);
    return table.filter((e) => e.startTime >= oldest && !others.has(e.pid) && !others.has(e.ppid));
  }
}
