/**
 * Resource usage of a process tree read from /proc (the POSIX isolators'
 * way in Mesos: no cgroups, so the sum over the executor's processes).
 */
import { readFile } from "node:fs/promises";
import { type ProcEntry, processTree, readProcTable } from "../containerizer/proc.js";

/** Linux' USER_HZ: /proc times are in these ticks on every mainstream architecture. */
const TICKS_PER_SECOND = 100;
/** Page size used for `rss` in /proc/<pid>/stat (4 KiB on x86-64 and arm64 kernels we run on). */
const PAGE_SIZE = 4096;

/** What one process contributes. */
export interface ProcessUsage {
  threads: number;
  userTicks: number;
  systemTicks: number;
  rssPages: number;
}

/** The summed usage of a tree. */
export interface TreeUsage {
  processes: number;
  threads: number;
  cpusUserTimeSecs: number;
  cpusSystemTimeSecs: number;
  memRssBytes: number;
}

/** Parses the usage fields of `/proc/<pid>/stat` text (fields after the command name). */
export function parseUsage(text: string): ProcessUsage | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  // f[0] is field 3 (state): utime is field 14, stime 15, num_threads 20, rss 24.
  const f = text.slice(close + 2).split(" ");
  const usage = {
    userTicks: Number(f[11]),
    systemTicks: Number(f[12]),
    threads: Number(f[17]),
    rssPages: Number(f[21]),
  };
  return Object.values(usage).every(Number.isFinite) ? usage : undefined;
}

/** Sums per-process usages into a tree's. */
export function sumUsage(usages: readonly ProcessUsage[]): TreeUsage {
  let threads = 0;
  let user = 0;
  let system = 0;
  let rss = 0;
  for (const u of usages) {
    threads += u.threads;
    user += u.userTicks;
    system += u.systemTicks;
    rss += u.rssPages;
  }
  return {
    processes: usages.length,
    threads,
    cpusUserTimeSecs: user / TICKS_PER_SECOND,
    cpusSystemTimeSecs: system / TICKS_PER_SECOND,
    memRssBytes: rss * PAGE_SIZE,
  };
}

async function readUsage(pid: number): Promise<ProcessUsage | undefined> {
  try {
    return parseUsage(await readFile(`/proc/${pid}/stat`, "latin1"));
  } catch {
    return undefined; // exited meanwhile
  }
}

/** Usage of the tree under each root, from one pass over the process table. */
export async function treeUsages(
  roots: readonly number[],
  table?: readonly ProcEntry[],
): Promise<Map<number, TreeUsage>> {
  const out = new Map<number, TreeUsage>();
  if (roots.length === 0) return out;
  const procs = table ?? (await readProcTable());
  for (const root of roots) {
    const pids = processTree(root, procs);
    const usages = await Promise.all(pids.map(readUsage));
    out.set(root, sumUsage(usages.filter((u): u is ProcessUsage => u !== undefined)));
  }
  return out;
}
