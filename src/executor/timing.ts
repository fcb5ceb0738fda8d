/** Time allowances both built-in executors (command and default) keep. */

/** Mesos' default kill grace period, when neither the KILL nor the task's kill policy sets one. */
export const DEFAULT_KILL_GRACE_PERIOD_MS = 3000;

/** How long to wait for the acknowledgements of terminal updates before giving up. */
export const TERMINAL_ACK_TIMEOUT_MS = 60_000;

/**
 * Taken off the shutdown grace period so the terminal updates can still
 * reach the agent before it destroys the container (Mesos keeps 2 s: its
 * reaper interval plus one second).
 */
export const SHUTDOWN_BUFFER_MS = 2000;
