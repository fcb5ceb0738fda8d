/**
 * Finds and kills a container's processes: the executor's tree (its
 * session, process group and descendants) and every process that still
 * carries the container's `MESOS_DIRECTORY=<sandbox>` in its environment
 * (tasks that left the tree, e.g. after their executor died). Reading the
 * process table and environments costs a pass over /proc, so requests that
 * arrive close together (200 tasks killed at once) share one pass.
 */
import type { Logger } from "../../common/observability/logger.js";
import { processesWithDirectories, processTree, readProcTable, signalAll } from "./proc.js";

interface Request {
  /** The executor's pid, when its tree should be killed too. */
  root: number | undefined;
  directory: string;
  resolve: (killed: number) => void;
}

/** Batches container kills into shared /proc passes. */
export class ProcessSweeper {
  private pending: Request[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Logger,
    /** How long requests wait for company before a pass. */
    private readonly batchMs = 20,
  ) {}

  /**
   * SIGKILLs every process of the container whose sandbox is `directory`
   * (and the tree of `root`, if given). Resolves with how many were signalled.
   */
  kill(root: number | undefined, directory: string): Promise<number> {
    return new Promise((resolve) => {
      this.pending.push({ root, directory, resolve });
      this.timer ??= setTimeout(() => void this.flush(), this.batchMs);
    });
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      const table = await readProcTable();
      const byDirectory = await processesWithDirectories(
        new Set(batch.map((r) => r.directory)),
        table,
      );
      for (const request of batch) {
        const pids = new Set(request.root === undefined ? [] : processTree(request.root, table));
        for (const pid of byDirectory.get(request.directory) ?? []) pids.add(pid);
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
    }
  }
}
