/** Recovery's finished directories, handed to garbage collection. */
import type { Framework } from "../framework.js";
import { executorPath, frameworkPath, metaRoot, runPath } from "../paths.js";
import type { SandboxGc } from "./sandbox-gc.js";

/**
 * The directories recovery finds finished (Mesos' `recoverFramework` /
 * `recoverExecutor`), scheduled for removal `--gc_delay` after they were
 * last modified, in the work tree and in the checkpoint tree alike.
 */
export class FinishedDirectories {
  constructor(
    private readonly workDir: string,
    private readonly agentId: string,
    private readonly gc: SandboxGc | undefined,
  ) {}

  private both(path: (root: string) => string): void {
    this.gc?.scheduleByAge(path(this.workDir));
    this.gc?.scheduleByAge(path(metaRoot(this.workDir)));
  }

  /** A framework with no executor left to recover. */
  framework(frameworkId: string): void {
    this.both((root) => frameworkPath(root, this.agentId, frameworkId));
  }

  /**
   * A framework whose executors all turned out finished: removed as at
   * run time, so its directories get the whole delay from now.
   */
  frameworkNow(framework: Framework): void {
    this.gc?.schedule(frameworkPath(this.workDir, this.agentId, framework.id));
    this.gc?.schedule(frameworkPath(metaRoot(this.workDir), this.agentId, framework.id));
  }

  /** An executor with nothing left to recover (no info, no latest run, or its last run finished). */
  executor(frameworkId: string, executorId: string): void {
    this.both((root) => executorPath(root, this.agentId, frameworkId, executorId));
  }

  /** A run that is not (or no longer) live. */
  run(frameworkId: string, executorId: string, containerId: string): void {
    const ids = { agentId: this.agentId, frameworkId, executorId, containerId };
    this.both((root) => runPath(root, ids));
  }
}
