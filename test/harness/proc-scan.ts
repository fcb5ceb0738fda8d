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
      if (env.includes(variable) && alive(Number(name))) out.push(Number(name));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return out;
}

/** SIGKILLs each of `pids`; one that is gone already is passed over. */
export function killEach(pids: Iterable<number>): void {
  for (const pid of pids) {
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
