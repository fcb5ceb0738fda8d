/**
 * The messages between the agent and its launcher helper: one JSON object
 * per line, each way. Requests carry an `id` the response repeats; the
 * helper also sends `exit` events for the processes it started.
 */

/** Start a long-lived process (an executor) in a new session. */
export interface SpawnRequest {
  id: number;
  op: "spawn";
  file: string;
  /** argv, including argv[0]. */
  args: string[];
  env: Record<string, string>;
  cwd: string;
  /** Files (opened for appending) that receive stdout and stderr. */
  stdout: string;
  stderr: string;
  uid?: number;
  gid?: number;
  /**
   * The program is the launch shim, which runs as root: it is started with
   * a fixed minimal environment, and `env` (the container's) is written to
   * it on this descriptor, read by its last step (shim-environment.ts).
   */
  environmentFd?: number;
  /**
   * Paced launch: at most this many paced processes are starting at a time;
   * the rest wait in the helper. The process gets a pipe as fd
   * {@link READY_FD} (named by {@link READY_FD_VARIABLE} in its
   * environment) and counts as started once it writes to it or closes it,
   * exits, or after {@link PACED_START_MAX_MS}. Only for programs that
   * know the signal (our command executor); unset: started at once.
   */
  paceLimit?: number;
  /**
   * Warm pool (`--executor_pool_size`): when an idle executor started with
   * the same program and argv waits in the pool, it is handed this launch
   * instead of starting a new process (its stdout/stderr files are renamed
   * onto `stdout`/`stderr`, `env` and `cwd` go to it on its stdin); the pool
   * is then refilled to `size` in the background. Only for programs that
   * know the hand-over (our command executor) and launches without a user
   * switch or isolation shim.
   */
  pool?: { dir: string; size: number };
  /**
   * Executor hosts (`--command_executors_per_process`): run this executor
   * in a Node process hosting up to `perProcess` command executors of the
   * same program, arguments and user (started in `dir` when none has room).
   * The reply's pid is the executor's stand-in (src/executor/host-protocol.ts),
   * whose exit is reported like a spawned executor's. `keepIdle`: a host
   * left without executors stays for the next launch (one per program).
   * Only for our command executor without user switch, isolation shim or image.
   */
  host?: { dir: string; perProcess: number; keepIdle: boolean };
}

/** Set in an idle pooled executor's environment: wait for the launch on stdin. */
export const POOL_VARIABLE = "MESOS_TS_POOLED";

/** What a pooled executor reads on its stdin at hand-over (one JSON document, then EOF). */
export interface PoolHandover {
  env: Record<string, string>;
  cwd: string;
}

/** Prefixes of variables read as a process starts: dynamic loader, allocator, Node, OpenSSL. */
const STARTUP_PREFIXES = ["LD_", "MALLOC_", "NODE_", "OPENSSL_"];
const STARTUP_NAMES = new Set(["GLIBC_TUNABLES", "UV_THREADPOOL_SIZE"]);

/**
 * The first variable of `env` that a process acts on only as it starts (a
 * library to preload, Node's extra CAs or options, the allocator's or the
 * thread pool's settings), if any. A pool member or an executor host was
 * started before, and without, the launch's environment, so an executor
 * whose environment holds one is spawned in a process of its own, which
 * behaves as asked. (The locale, read by Node's ICU at start too, is left
 * out: the executor formats nothing by locale, and its task gets the
 * launch's environment either way.)
 */
export function startupVariable(env: Readonly<Record<string, string>>): string | undefined {
  return Object.keys(env).find(
    (name) => STARTUP_NAMES.has(name) || STARTUP_PREFIXES.some((p) => name.startsWith(p)),
  );
}

/** The descriptor a paced process signals readiness on. */
export const READY_FD = 3;

/** The environment variable naming that descriptor (the executor removes it). */
export const READY_FD_VARIABLE = "MESOS_TS_READY_FD";

/** A paced process that has not signalled by then counts as started anyway. */
export const PACED_START_MAX_MS = 3000;

/** Run a short command to completion (archive extraction, chown). */
export interface RunRequest {
  id: number;
  op: "run";
  file: string;
  args: string[];
  cwd?: string;
  uid?: number;
  gid?: number;
  /** Kill it after this long. */
  timeoutMs?: number;
}

/** Look a user up (passwd database). */
export interface UserRequest {
  id: number;
  op: "user";
  name: string;
}

/** Drop a paced spawn still waiting for its turn (it gets an error reply). */
export interface CancelRequest {
  id: number;
  op: "cancel";
  /** The id of the spawn request. */
  target: number;
}

export type LauncherRequest = SpawnRequest | RunRequest | UserRequest | CancelRequest;

export interface SpawnReply {
  id: number;
  pid: number;
  /** Start time of the process in clock ticks since boot (`/proc/<pid>/stat` field 22), if read. */
  startTime?: number;
}

export interface RunReply {
  id: number;
  code: number | null;
  signal: string | null;
  /** The last few KiB of stdout and stderr together. */
  output: string;
}

export interface UserReply {
  id: number;
  uid: number;
  gid: number;
  home: string;
}

export interface ErrorReply {
  id: number;
  error: string;
}

/** A process started by `spawn` ended. */
export interface ExitEvent {
  event: "exit";
  pid: number;
  code: number | null;
  signal: string | null;
}

export type LauncherReply = SpawnReply | RunReply | UserReply | ErrorReply;
export type LauncherMessage = LauncherReply | ExitEvent;
