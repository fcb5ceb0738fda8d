/** Task state facts the master, agents, executors and schedulers share. */
import type { TaskState } from "./generated/mesos-v1.js";

/** States after which a task never changes again (TASK_LOST included, as in Mesos). */
export const TERMINAL_TASK_STATES: readonly TaskState[] = [
  "TASK_FINISHED",
  "TASK_FAILED",
  "TASK_KILLED",
  "TASK_ERROR",
  "TASK_LOST",
  "TASK_DROPPED",
  "TASK_GONE",
  "TASK_GONE_BY_OPERATOR",
];

const TERMINAL: ReadonlySet<string> = new Set(TERMINAL_TASK_STATES);

/** Mesos' `isTerminalState`: true when a task in `state` will never run again. */
export function isTerminalState(state: TaskState | string | undefined): boolean {
  return state !== undefined && TERMINAL.has(state);
}
