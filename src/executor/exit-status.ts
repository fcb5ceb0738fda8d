/**
 * Words for how a task process ended, as Mesos reports them in
 * TaskStatus.message: "Command exited with status 3", "Command terminated
 * with signal Killed" (the signal's strsignal(3) description on glibc).
 */

import type { TaskState } from "./protocol.js";

// glibc's strsignal() texts for the Linux signals a task can die of.
const SIGNAL_DESCRIPTIONS: Record<string, string> = {
  SIGHUP: "Hangup",
  SIGINT: "Interrupt",
  SIGQUIT: "Quit",
  SIGILL: "Illegal instruction",
  SIGTRAP: "Trace/breakpoint trap",
  SIGABRT: "Aborted",
  SIGIOT: "Aborted",
  SIGBUS: "Bus error",
  SIGFPE: "Floating point exception",
  SIGKILL: "Killed",
  SIGUSR1: "User defined signal 1",
  SIGSEGV: "Segmentation fault",
  SIGUSR2: "User defined signal 2",
  SIGPIPE: "Broken pipe",
  SIGALRM: "Alarm clock",
  SIGTERM: "Terminated",
  SIGSTKFLT: "Stack fault",
  SIGCHLD: "Child exited",
  SIGCONT: "Continued",
  SIGSTOP: "Stopped (signal)",
  SIGTSTP: "Stopped",
  SIGTTIN: "Stopped (tty input)",
  SIGTTOU: "Stopped (tty output)",
  SIGURG: "Urgent I/O condition",
  SIGXCPU: "CPU time limit exceeded",
  SIGXFSZ: "File size limit exceeded",
  SIGVTALRM: "Virtual timer expired",
  SIGPROF: "Profiling timer expired",
  SIGWINCH: "Window changed",
  SIGIO: "I/O possible",
  SIGPOLL: "I/O possible",
  SIGPWR: "Power failure",
  SIGSYS: "Bad system call",
};

/** The strsignal-style description of a signal name (`SIGKILL` -> `Killed`). */
export function describeSignal(signal: string): string {
  return SIGNAL_DESCRIPTIONS[signal] ?? `Unknown signal ${signal}`;
}

/** "exited with status N" or "terminated with signal <description>", from Node's exit callback. */
export function describeExit(code: number | null, signal: string | null): string {
  if (signal !== null) return `terminated with signal ${describeSignal(signal)}`;
  if (code !== null) return `exited with status ${code}`;
  return "exited with an unknown status";
}

/**
 * The terminal state (and reason) of a task whose process ended: a task
 * killed for its max completion time fails with that reason, a killed task is
 * TASK_KILLED, exit 0 is TASK_FINISHED, anything else TASK_FAILED.
 */
export function terminalStateOf(ended: {
  maxCompletionTimeReached: boolean;
  killed: boolean;
  code: number | null;
  signal: string | null;
}): { state: TaskState; reason?: string } {
  if (ended.maxCompletionTimeReached) {
    return { state: "TASK_FAILED", reason: "REASON_MAX_COMPLETION_TIME_REACHED" };
  }
  if (ended.killed) return { state: "TASK_KILLED" };
  if (ended.code === 0 && ended.signal === null) return { state: "TASK_FINISHED" };
  return { state: "TASK_FAILED" };
}
