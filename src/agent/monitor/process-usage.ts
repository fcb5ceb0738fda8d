/**
 * Resource usage of a process tree read from /proc (the POSIX isolators'
 * way in Mesos: no cgroups, so the sum over the executor's processes).
 *
 * A hosted command executor (`--command_executors_per_process`) is known to
 * the agent by its stand-in's pid, which has no children: its tree is
 * extended with the task processes its host started for that sandbox (the
 * host's children carrying the stand-in's `MESOS_DIRECTORY`) and their
 * trees. The host's own CPU and memory are charged to no container.
 */
import { readFile } from "node:fs/promises";
import { standInOfEnvironment } from "../../executor/host-protocol.js";
import {
  directoryOfEnvironment,
  type ProcEntry,
  processTree,
  readProcTable,
} from "../containerizer/proc.js";

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
  const hostChildren = new Map<number, Promise<Map<string, number[]>>>();
  for (const root of roots) {
    const pids = processTree(root, procs);
    if (pids.length === 1) {
      for (const task of await hostedTasks(root, procs, hostChildren)) {
        for (const pid of processTree(task, procs)) if (!pids.includes(pid)) pids.push(pid);
      }
    }
    const usages = await Promise.all(pids.map(readUsage));
    out.set(root, sumUsage(usages.filter((u): u is ProcessUsage => u !== undefined)));
  }
  return out;
}

/**
 * The task processes of the hosted executor whose stand-in is `pid` (none
 * when `pid` is no stand-in). `cache` keeps, per host, its children by
 * sandbox, so each of its children's environments is read once per call.
 */
async function hostedTasks(
  pid: number,
  table: readonly ProcEntry[],
  cache: Map<number, Promise<Map<string, number[]>>>,
): Promise<number[]> {
  let standIn: ReturnType<typeof standInOfEnvironment>;
  try {
    standIn = standInOfEnvironment(await readFile(`/proc/${pid}/environ`));
  } catch {
    return [];
  }
  if (standIn === undefined) return [];
  let children = cache.get(standIn.hostPid);
  if (children === undefined) {
    children = childrenBySandbox(standIn.hostPid, table);
    cache.set(standIn.hostPid, children);
  }
  return (await children).get(standIn.directory) ?? [];
}

/** A host's child processes that are not stand-ins (its executors' tasks), by `MESOS_DIRECTORY`. */
async function childrenBySandbox(
  hostPid: number,
  table: readonly ProcEntry[],
): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  await Promise.all(
    table
      .filter((e) => e.ppid === hostPid)
      .map(async (e) => {
        let env: Buffer;
        try {
          env = await readFile(`/proc/${e.pid}/environ`);
        } catch {
          return;
        }
        if (standInOfEnvironment(env) !== undefined) return;
        const directory = directoryOfEnvironment(env);
        if (directory === undefined) return;
        const list = out.get(directory);
        if (list === undefined) out.set(directory, [e.pid]);
        else list.push(e.pid);
      }),
  );
  return out;
}
