/**
 * The line protocol between the agent's launcher helper and an executor
 * host: one Node process running several command executors
 * (`--command_executors_per_process`, docs/architecture/command-executor.md).
 *
 * The helper writes one {@link HostLaunch} per line on the host's stdin;
 * the host writes {@link HostEvent}s, one per line, on its stdout. Each
 * hosted (logical) executor is represented to the agent by a stand-in: a
 * tiny process the host starts for it in its own session, whose pid the
 * agent records as the executor's. The stand-in lives exactly as long as
 * the logical executor (the host ends it when the executor ends; it exits
 * by itself when the host dies), and killing it (the agent destroying the
 * container) makes the host end that executor and its task only.
 *
 * Pure: no I/O, so the parsing is unit-tested.
 */

/** Set (to "1") in an executor host's environment. */
export const HOST_VARIABLE = "MESOS_TS_EXECUTOR_HOST";

/** In a stand-in's environment: the pid of the host running its executor. */
export const HOSTED_BY_VARIABLE = "MESOS_TS_HOSTED_BY";

/** argv[0] of stand-ins, so `ps` shows what they are. */
export const STAND_IN_ARGV0 = "mesos-executor-hosted";

/** One executor to run: its environment as the agent built it, sandbox and output files. */
export interface HostLaunch {
  op: "launch";
  /** The helper's request id, repeated in the answer. */
  id: number;
  env: Record<string, string>;
  /** The sandbox (the executor's and its task's working directory). */
  cwd: string;
  /** Files (appended to) for the task's stdout, and the executor's log lines and the task's stderr. */
  stdout: string;
  stderr: string;
}

/** What a host reports. */
export type HostEvent =
  /** The executor runs; `pid` (and `startTime`) identify its stand-in. */
  | { event: "started"; id: number; pid: number; startTime?: number }
  /** The executor could not be started. */
  | { event: "failed"; id: number; error: string }
  /** The executor whose stand-in is `pid` ended (with `code`, or killed by `signal`). */
  | { event: "exit"; pid: number; code: number | null; signal: string | null };

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const isPositiveInt = (v: unknown): v is number =>
  typeof v === "number" && Number.isInteger(v) && v > 0;

function stringRecord(v: unknown): Record<string, string> | undefined {
  if (!isRecord(v)) return undefined;
  for (const value of Object.values(v)) if (typeof value !== "string") return undefined;
  return v as Record<string, string>;
}

/** Parses one line of a host's stdin; a one-line reason when it is not a valid launch. */
export function parseHostLaunch(line: string): HostLaunch | { error: string } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { error: "not JSON" };
  }
  if (!isRecord(v) || v.op !== "launch") return { error: "not a launch" };
  if (!isPositiveInt(v.id)) return { error: "the launch has no valid id" };
  const env = stringRecord(v.env);
  if (env === undefined) return { error: "the launch's env is not a map of strings" };
  for (const field of ["cwd", "stdout", "stderr"] as const) {
    const value = v[field];
    if (typeof value !== "string" || value === "") {
      return { error: `the launch has no ${field}` };
    }
  }
  return {
    op: "launch",
    id: v.id,
    env,
    cwd: v.cwd as string,
    stdout: v.stdout as string,
    stderr: v.stderr as string,
  };
}

/** Parses one line of a host's stdout; undefined when it is not an event. */
export function parseHostEvent(line: string): HostEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isRecord(v)) return undefined;
  switch (v.event) {
    case "started": {
      if (!isPositiveInt(v.id) || !isPositiveInt(v.pid)) return undefined;
      const out: HostEvent = { event: "started", id: v.id, pid: v.pid };
      if (typeof v.startTime === "number" && Number.isFinite(v.startTime)) {
        out.startTime = v.startTime;
      }
      return out;
    }
    case "failed":
      if (!isPositiveInt(v.id) || typeof v.error !== "string") return undefined;
      return { event: "failed", id: v.id, error: v.error };
    case "exit": {
      if (!isPositiveInt(v.pid)) return undefined;
      const code = typeof v.code === "number" && Number.isInteger(v.code) ? v.code : null;
      const signal = typeof v.signal === "string" ? v.signal : null;
      if (code === null && signal === null) return undefined;
      return { event: "exit", pid: v.pid, code, signal };
    }
    default:
      return undefined;
  }
}

/**
 * The key hosts are shared under: executors share a host only when they run
 * the same program with the same arguments as the same user.
 */
export function hostKey(r: {
  file: string;
  args: readonly string[];
  uid?: number;
  gid?: number;
}): string {
  return JSON.stringify([r.file, r.args, r.uid ?? null, r.gid ?? null]);
}

/**
 * Which stand-in a raw environment block (`/proc/<pid>/environ`) belongs to:
 * the host's pid and the sandbox, when the process is a stand-in.
 */
export function standInOfEnvironment(
  env: Buffer,
): { hostPid: number; directory: string } | undefined {
  let hostPid: number | undefined;
  let directory: string | undefined;
  for (const entry of env.toString("utf8").split("\0")) {
    const eq = entry.indexOf("=");
    if (eq < 0) continue;
    const name = entry.slice(0, eq);
    if (name === HOSTED_BY_VARIABLE) hostPid = Number(entry.slice(eq + 1));
    else if (name === "MESOS_DIRECTORY") directory = entry.slice(eq + 1);
  }
  if (hostPid === undefined || !isPositiveInt(hostPid) || directory === undefined) return undefined;
  return { hostPid, directory };
}
