/**
 * What tests learn about processes from /proc (Linux): whether a pid still
 * runs, which processes carry a marker in their environment, and killing the
 * ones a test left behind.
 */
import { readdirSync, readFileSync } from "node:fs";

/** Whether `pid` is a process that has not ended (a zombie counts as ended). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat.charAt(stat.lastIndexOf(")") + 2) !== "Z";
  } catch {
    return false;
  }
}

/**
 * Pids of the running processes whose environment holds `variable`
 * (`NAME=value`), machine-wide: give the marker a value no other test uses.
 */
export function carrying(variable: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`, "utf8").split("\0");
      if (env.includes(variable) && alive(Number(name))) {
        out.push(Number(name));
        noteStart(Number(name));
      }
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return out;
}

/**
 * Start times (clock ticks after boot) of the pids `carrying` found. With
 * pid_max at 32768 a pid noted early in a run can belong to another test's
 * process by the time it is killed: `killEach` spares a pid whose process
 * started at another time than the one noted.
 */
const noted = new Map<number, string>();

function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // Field 22; the fields after the command's closing parenthesis start at field 3.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function noteStart(pid: number): void {
  const start = startTime(pid);
  if (start !== undefined) noted.set(pid, start);
}

/**
 * SIGKILLs each of `pids`; one that is gone already is passed over, and so
 * is one that `carrying` found and that is now another process (its pid reused).
 */
export function killEach(pids: Iterable<number>): void {
  for (const pid of pids) {
    const expected = noted.get(pid);
    if (expected !== undefined && startTime(pid) !== expected) continue;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone already.
    }
  }
}

/** The environment (`NAME=value` entries) of `pid`; empty once it is gone or not ours to read. */
export function environ(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/environ`, "latin1").split("\0");
  } catch {
    return [];
  }
}
