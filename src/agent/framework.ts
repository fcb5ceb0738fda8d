/**
 * The agent's record of a framework with work on this agent: its
 * FrameworkInfo, its executors (current and completed) and whether it is
 * being shut down.
 */
import type { FrameworkInfo } from "../common/protocol/generated/mesos-v1.js";
import type { Executor } from "./executor.js";

export type FrameworkState = "RUNNING" | "TERMINATING";

/** One framework on this agent. */
export class Framework {
  state: FrameworkState = "RUNNING";
  readonly executors = new Map<string, Executor>();
  readonly completedExecutors: Executor[] = [];
  /**
   * Task id -> the executor last found holding it: a hint checked on every
   * use (the executor must still be current and still know the task), so a
   * stale entry costs one scan and can never give a wrong answer. Without
   * it every status update, acknowledgement and kill scanned all executors:
   * quadratic in a 200-task launch storm.
   */
  private readonly taskHints = new Map<string, Executor>();

  constructor(
    public info: FrameworkInfo & { id: { value: string } },
    /** The scheduler's UPID for driver-based (v0) frameworks; undefined for HTTP ones. */
    public pid: string | undefined,
    private readonly maxCompletedExecutors: number,
  ) {}

  get id(): string {
    return this.info.id.value;
  }

  /** True when the framework has the capability (e.g. `PARTITION_AWARE`). */
  hasCapability(type: string): boolean {
    return (this.info.capabilities ?? []).some((c) => c.type === type);
  }

  /** The state for tasks the agent gives up on: TASK_DROPPED if partition-aware, else TASK_LOST. */
  droppedState(): "TASK_DROPPED" | "TASK_LOST" {
    return this.hasCapability("PARTITION_AWARE") ? "TASK_DROPPED" : "TASK_LOST";
  }

  /** The executor that has (or will run) `taskId`. */
  executorForTask(taskId: string): Executor | undefined {
    const hint = this.taskHints.get(taskId);
    if (hint !== undefined && this.executors.get(hint.id) === hint && hint.hasTask(taskId)) {
      return hint;
    }
    for (const executor of this.executors.values()) {
      if (executor.hasTask(taskId)) {
        this.taskHints.set(taskId, executor);
        return executor;
      }
    }
    this.taskHints.delete(taskId);
    return undefined;
  }

  /** Records that `executor` now holds `taskId` (it was queued on it). */
  noteTask(taskId: string, executor: Executor): void {
    this.taskHints.set(taskId, executor);
  }

  /** True when nothing of the framework is left on the agent. */
  idle(): boolean {
    return this.executors.size === 0;
  }

  /** Moves an executor to the completed list (bounded, oldest dropped first). */
  retireExecutor(executor: Executor): void {
    this.executors.delete(executor.id);
    for (const taskId of executor.taskIds()) {
      if (this.taskHints.get(taskId) === executor) this.taskHints.delete(taskId);
    }
    this.completedExecutors.push(executor);
    while (this.completedExecutors.length > this.maxCompletedExecutors) {
      this.completedExecutors.shift();
    }
  }
}
