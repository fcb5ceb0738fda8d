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
    for (const executor of this.executors.values()) {
      if (executor.hasTask(taskId)) return executor;
    }
    return undefined;
  }

  /** True when nothing of the framework is left on the agent. */
  idle(): boolean {
    return this.executors.size === 0;
  }

  /** Moves an executor to the completed list (bounded, oldest dropped first). */
  retireExecutor(executor: Executor): void {
    this.executors.delete(executor.id);
    this.completedExecutors.push(executor);
    while (this.completedExecutors.length > this.maxCompletedExecutors) {
      this.completedExecutors.shift();
    }
  }
}
