/** Task state facts schedulers need. */
import type { TaskState } from "../common/protocol/generated/mesos-v1.js";

const TERMINAL: ReadonlySet<TaskState> = new Set<TaskState>([
  "TASK_FINISHED",
  "TASK_FAILED",
  "TASK_KILLED",
  "TASK_ERROR",
  "TASK_LOST",
  "TASK_DROPPED",
  "TASK_GONE",
  "TASK_GONE_BY_OPERATOR",
]);

/** True when a task in `state` will never run again (Mesos' `isTerminalState`). */
export function isTerminalState(state: TaskState): boolean {
  return TERMINAL.has(state);
}
