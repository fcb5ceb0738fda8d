/**
 * The agent's record of one executor run: its state, the tasks queued for
 * it (not yet handed over), launched (handed over, not terminal), terminated
 * (terminal, update not yet acknowledged) and completed (terminal and
 * acknowledged), its connection and timers. Plain data plus the task
 * bookkeeping rules of Mesos' `Executor` (slave.cpp).
 */

import type {
  ExecutorInfo,
  Task,
  TaskGroupInfo,
  TaskInfo,
  TaskState,
  TaskStatus,
  TaskStatus_Reason,
} from "../common/protocol/generated/mesos-v1.js";
import type { Event as ExecutorEvent } from "../common/protocol/generated/mesos-v1-executor.js";
import { isTerminalState } from "../common/protocol/task-states.js";
import type { Resources } from "../common/resources/index.js";
import type { TimerHandle } from "../common/time/clock.js";
import { resourcesOf } from "./wire-resources.js";

/** Lifecycle of an executor, as Mesos names it. */
export type ExecutorState = "REGISTERING" | "RUNNING" | "TERMINATING" | "TERMINATED";

/** Mesos' MAX_COMPLETED_TASKS_PER_EXECUTOR. */
export const MAX_COMPLETED_TASKS_PER_EXECUTOR = 200;

/** The open event stream of a subscribed executor (v1 executor API). */
export interface ExecutorConnection {
  send(event: ExecutorEvent): void;
  close(): void;
}

/** Why the executor's container is going away, decided before it exits. */
export interface PendingTermination {
  state: TaskState;
  reason: TaskStatus_Reason;
  message: string;
}

/** Mesos' `protobuf::createTask`: the Task view of a TaskInfo. */
export function createTask(task: TaskInfo, state: TaskState, frameworkId: string): Task {
  const t: Task = {
    name: task.name,
    task_id: task.task_id,
    framework_id: { value: frameworkId },
    agent_id: task.agent_id,
    state,
    resources: task.resources ?? [],
    statuses: [],
  };
  if (task.executor !== undefined) t.executor_id = task.executor.executor_id;
  if (task.labels !== undefined) t.labels = task.labels;
  if (task.discovery !== undefined) t.discovery = task.discovery;
  if (task.container !== undefined) t.container = task.container;
  if (task.health_check !== undefined) t.health_check = task.health_check;
  if (task.kill_policy !== undefined) t.kill_policy = task.kill_policy;
  // As Mesos: the task's command's user, else its custom executor's.
  const user = task.command?.user ?? task.executor?.command?.user;
  if (user !== undefined) t.user = user;
  if (task.limits !== undefined) t.limits = task.limits;
  return t;
}

/** One executor run on this agent. */
export class Executor {
  state: ExecutorState = "REGISTERING";
  readonly queuedTasks = new Map<string, TaskInfo>();
  readonly queuedTaskGroups: TaskGroupInfo[] = [];
  readonly launchedTasks = new Map<string, Task>();
  readonly terminatedTasks = new Map<string, Task>();
  readonly completedTasks: Task[] = [];
  connection: ExecutorConnection | undefined;
  pendingTermination: PendingTermination | undefined;
  /** Pid of the executor process once started. */
  pid: number | undefined;
  registrationTimer: TimerHandle | undefined;
  shutdownTimer: TimerHandle | undefined;
  heartbeatTimer: TimerHandle | undefined;

  constructor(
    readonly frameworkId: string,
    readonly info: ExecutorInfo,
    readonly containerId: string,
    /** The sandbox on the host. */
    readonly directory: string,
    /** True for the command executor the agent made up for a command task. */
    readonly generatedForCommandTask: boolean,
    /** FrameworkInfo.checkpoint at launch. */
    readonly checkpoint: boolean,
  ) {}

  get id(): string {
    return this.info.executor_id.value;
  }

  /** True once a task or task group was handed to the executor. */
  everSentTask(): boolean {
    return (
      this.launchedTasks.size > 0 || this.terminatedTasks.size > 0 || this.completedTasks.length > 0
    );
  }

  /** True while a task is queued, launched, or terminal but not acknowledged. */
  incompleteTasks(): boolean {
    return (
      this.queuedTasks.size > 0 || this.launchedTasks.size > 0 || this.terminatedTasks.size > 0
    );
  }

  /** True when the executor knows (or will know) `taskId`. */
  hasTask(taskId: string): boolean {
    return (
      this.queuedTasks.has(taskId) ||
      this.launchedTasks.has(taskId) ||
      this.terminatedTasks.has(taskId) ||
      this.completedTasks.some((t) => t.task_id.value === taskId)
    );
  }

  /** Ids of every task the executor knows (queued, launched, terminated, completed). */
  *taskIds(): Iterable<string> {
    yield* this.queuedTasks.keys();
    yield* this.launchedTasks.keys();
    yield* this.terminatedTasks.keys();
    for (const t of this.completedTasks) yield t.task_id.value;
  }

  /** The queued task group holding `taskId`, if any. */
  queuedTaskGroupOf(taskId: string): TaskGroupInfo | undefined {
    return this.queuedTaskGroups.find((g) =>
      (g.tasks ?? []).some((t) => t.task_id.value === taskId),
    );
  }

  /** Moves a queued task to the launched set (it is being handed to the executor). */
  launchQueuedTask(taskId: string): Task | undefined {
    const info = this.queuedTasks.get(taskId);
    if (info === undefined) return undefined;
    this.queuedTasks.delete(taskId);
    this.dropFromQueuedGroups(taskId);
    const task = createTask(info, "TASK_STAGING", this.frameworkId);
    this.launchedTasks.set(taskId, task);
    return task;
  }

  /**
   * Records `status` on its task (Mesos' `updateTaskState`): a terminal state
   * moves the task out of the launched (or queued) set, which frees its
   * resources in `allocatedResources()` at once. Returns an error text for a
   * task the executor does not have, or a non-terminal update of a task
   * that was never handed over.
   */
  updateTaskState(status: TaskStatus): string | undefined {
    const taskId = status.task_id.value;
    const terminal = isTerminalState(status.state);
    let task: Task | undefined;
    const queued = this.queuedTasks.get(taskId);
    if (queued !== undefined) {
      if (!terminal) return "Cannot send a non-terminal update for a queued task";
      this.queuedTasks.delete(taskId);
      this.dropFromQueuedGroups(taskId);
      task = createTask(queued, status.state, this.frameworkId);
      this.terminatedTasks.set(taskId, task);
    } else if (this.launchedTasks.has(taskId)) {
      task = this.launchedTasks.get(taskId);
      if (terminal && task !== undefined) {
        this.launchedTasks.delete(taskId);
        this.terminatedTasks.set(taskId, task);
      }
    } else {
      task = this.terminatedTasks.get(taskId);
    }
    if (task === undefined) return `Task ${taskId} is unknown to executor ${this.id}`;
    const statuses = task.statuses ?? [];
    const last = statuses[statuses.length - 1];
    // Repeated states (e.g. health updates) replace the previous entry, as Mesos does.
    if (last !== undefined && last.state === status.state) statuses.pop();
    const { data: _data, ...withoutData } = status;
    statuses.push(withoutData);
    task.statuses = statuses;
    task.state = status.state;
    return undefined;
  }

  /**
   * Restores a task from its checkpoint (agent recovery, Mesos'
   * `recoverTask`): the Task as queued, then its updates in order up to the
   * first terminal one (later ones are leftovers of old agents); the task is
   * completed when that terminal update was acknowledged. Returns the
   * terminal state reached, if any: Mesos counts it again in
   * `slave/tasks_<state>` after a restart.
   */
  recoverTask(
    task: Task,
    updates: readonly { status: TaskStatus; uuid?: Uint8Array }[],
    acknowledged: (uuid: Uint8Array) => boolean,
  ): TaskState | undefined {
    const taskId = task.task_id.value;
    this.launchedTasks.set(taskId, { ...task, framework_id: { value: this.frameworkId } });
    for (const update of updates) {
      if (this.updateTaskState(update.status) !== undefined) continue;
      if (!isTerminalState(update.status.state)) continue;
      if (update.uuid !== undefined && acknowledged(update.uuid)) this.completeTask(taskId);
      return update.status.state;
    }
    return undefined;
  }

  /** The terminal update of `taskId` was acknowledged: it becomes completed. */
  completeTask(taskId: string): void {
    const task = this.terminatedTasks.get(taskId);
    if (task === undefined) return;
    this.terminatedTasks.delete(taskId);
    this.completedTasks.push(task);
    if (this.completedTasks.length > MAX_COMPLETED_TASKS_PER_EXECUTOR) this.completedTasks.shift();
  }

  /** The executor's own resources plus those of its queued and launched tasks. */
  allocatedResources(): Resources {
    const total = resourcesOf(this.info.resources);
    for (const t of this.queuedTasks.values()) total.add(resourcesOf(t.resources));
    for (const t of this.launchedTasks.values()) total.add(resourcesOf(t.resources));
    return total;
  }

  /** Sends an event when the executor is connected; returns false when it is not. */
  send(event: ExecutorEvent): boolean {
    if (this.connection === undefined) return false;
    this.connection.send(event);
    return true;
  }

  private dropFromQueuedGroups(taskId: string): void {
    for (let i = this.queuedTaskGroups.length - 1; i >= 0; i--) {
      const group = this.queuedTaskGroups[i];
      if (group === undefined) continue;
      const rest = (group.tasks ?? []).filter((t) => t.task_id.value !== taskId);
      if (rest.length === (group.tasks ?? []).length) continue;
      if (rest.length === 0) this.queuedTaskGroups.splice(i, 1);
      else this.queuedTaskGroups[i] = { ...group, tasks: rest };
    }
  }
}
