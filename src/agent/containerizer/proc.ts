/**
 * What the agent reads from /proc: a process' start time (to tell it from a
 * later process that reuses its pid), the boot id, the process table (to
 * kill a container's whole tree), and environments (to find a container's
 * processes that left its tree). All reads are asynchronous.
 */
import { readdirSync, readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";

/** One line of the process table. */
export interface ProcEntry {
  pid: number;
  ppid: number;
  pgrp: number;
  session: number;
  /** Clock ticks after boot. */
  startTime: number;
}

/** Parses the text of `/proc/<pid>/stat`. */
export function parseProcStat(pid: number, text: string): ProcEntry | undefined {
  // The command name may hold spaces and parentheses: fields follow the last ')'.
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const f = text.slice(close + 2).split(" ");
  const entry = {
    pid,
    ppid: Number(f[1]),
    pgrp: Number(f[2]),
    session: Number(f[3]),
    startTime: Number(f[19]),
  };
  return Number.isFinite(entry.ppid) && Number.isFinite(entry.startTime) ? entry : undefined;
}

/** The stat line of one process, or undefined when it is gone. */
export async function readProcEntry(pid: number): Promise<ProcEntry | undefined> {
  try {
    return parseProcStat(pid, await readFile(`/proc/${pid}/stat`, "latin1"));
  } catch {
    return undefined;
  }
}

/** Every process on the host. */
export async function readProcTable(): Promise<ProcEntry[]> {
  let names: string[];
  try {
    names = await readdir("/proc");
  } catch {
    return [];
  }
  const pids = names.filter((n) => /^\d+$/.test(n)).map(Number);
  const entries = await Promise.all(pids.map((pid) => readProcEntry(pid)));
  return entries.filter((e): e is ProcEntry => e !== undefined);
}

/** Lets other work run between slices of a long /proc walk. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Every process on the host, read with synchronous reads in slices of
 * `slice` processes with a turn of the event loop between slices. A
 * synchronous read of a /proc file costs a third to a half of the CPU of an
 * asynchronous one (no thread pool round trips, no promise per file), which
 * matters when the table is read for each batch of container kills while
 * hundreds of processes run; a slice blocks the loop for a few ms at most.
 */
export async function readProcTableInSlices(slice = 64): Promise<ProcEntry[]> {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return [];
  }
  const out: ProcEntry[] = [];
  let read = 0;
  for (const name of names) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    try {
      const entry = parseProcStat(pid, readFileSync(`/proc/${pid}/stat`, "latin1"));
      if (entry !== undefined) out.push(entry);
    } catch {
      // Gone meanwhile.
    }
    if (++read % slice === 0) await nextTurn();
  }
  return out;
}

/** What a batch of kills looks for in environments, and what it found. */
export interface MarkedProcesses {
  /** Pids by the `MESOS_DIRECTORY` they carry (executors and their tasks). */
  byDirectory: Map<string, number[]>;
  /** Pids by the container marker they carry (see {@link markerKey}). */
  byContainer: Map<string, number[]>;
}

/**
 * The processes `candidates` keeps whose `MESOS_DIRECTORY` is one of
 * `directories` or whose container marker is one of `containers` (keys of
 * {@link markerKey}), reading environments synchronously in slices (see
 * `readProcTableInSlices`). Reading another process' environment is the
 * costliest /proc read (the kernel copies it out of that process' memory),
 * so callers narrow the candidates first.
 */
export async function markedProcessesInSlices(
  directories: ReadonlySet<string>,
  containers: ReadonlySet<string>,
  candidates: readonly ProcEntry[],
  slice = 64,
): Promise<MarkedProcesses> {
  const found: MarkedProcesses = { byDirectory: new Map(), byContainer: new Map() };
  const add = (map: Map<string, number[]>, key: string, pid: number) => {
    const list = map.get(key);
    if (list === undefined) map.set(key, [pid]);
    else list.push(pid);
  };
  let read = 0;
  for (const e of candidates) {
    if (e.pid <= 2 || e.ppid === 2) continue;
    try {
      const markers = markersOfEnvironment(readFileSync(`/proc/${e.pid}/environ`));
      if (markers.directory !== undefined && directories.has(markers.directory)) {
        add(found.byDirectory, markers.directory, e.pid);
      }
      if (markers.container !== undefined && markers.token !== undefined) {
        const key = markerKey({ id: markers.container, token: markers.token });
        if (containers.has(key)) add(found.byContainer, key, e.pid);
      }
    } catch {
      // Gone, or not ours to read.
    }
    if (++read % slice === 0) await nextTurn();
  }
  return found;
}

/** The host's boot id (`/proc/sys/kernel/random/boot_id`), or "" when unreadable. */
export async function readBootId(): Promise<string> {
  try {
    return (await readFile("/proc/sys/kernel/random/boot_id", "utf8")).trim();
  } catch {
    return "";
  }
}

/**
 * The pids of the tree rooted at `root`: the process, the members of its
 * process group and session (an executor leads both, as it was started with
 * setsid), and all their descendants, wherever they moved.
 */
export function processTree(root: number, table: readonly ProcEntry[]): number[] {
  const children = new Map<number, number[]>();
  for (const e of table) {
    const list = children.get(e.ppid);
    if (list === undefined) children.set(e.ppid, [e.pid]);
    else list.push(e.pid);
  }
  const found = new Set<number>();
  const queue: number[] = [];
  const add = (pid: number) => {
    if (pid <= 1 || found.has(pid)) return;
    found.add(pid);
    queue.push(pid);
  };
  if (table.some((e) => e.pid === root)) add(root);
  for (const e of table) if (e.session === root || e.pgrp === root) add(e.pid);
  while (queue.length > 0) {
    const pid = queue.pop() as number;
    for (const child of children.get(pid) ?? []) add(child);
  }
  return [...found];
}

/**
 * Set in the environment of every nested, standalone and DEBUG container's
 * process (and so inherited by all it starts), with
 * {@link CONTAINER_TOKEN_VARIABLE}: the container's id, as Mesos prints it
 * (`<parent>.<child>`). A restarted agent finds a container's processes by
 * the two when it has no cgroup to look in: neither their working
 * directory (a container in an image works in /mnt/mesos/sandbox of its
 * own mount namespace) nor their session (a process may leave it) tells
 * reliably whose they are. Mesos sets no such variable: its launcher keeps
 * the process from running until its pid is checkpointed.
 */
export const CONTAINER_ID_VARIABLE = "MESOS_TS_CONTAINER_ID";

/**
 * A random value per launch, checkpointed before the process starts. The
 * id alone is not enough to kill by: a standalone container's id is the
 * caller's choice, and another agent on the host (another `--work_dir`, or
 * one running in a container) may run a container of the same id. (A
 * process that copies another launch's marker into its own environment
 * only gets itself killed with that container.)
 */
export const CONTAINER_TOKEN_VARIABLE = "MESOS_TS_CONTAINER_TOKEN";

/** What one container launch's processes carry in their environment. */
export interface ContainerMarker {
  /** {@link CONTAINER_ID_VARIABLE}'s value. */
  id: string;
  /** {@link CONTAINER_TOKEN_VARIABLE}'s value. */
  token: string;
}

/** A marker as one string (ids and tokens hold no newline). */
export function markerKey(marker: ContainerMarker): string {
  return `${marker.id}\n${marker.token}`;
}

const DIRECTORY_PREFIX = Buffer.from("MESOS_DIRECTORY=");
const CONTAINER_PREFIX = Buffer.from(`${CONTAINER_ID_VARIABLE}=`);
const TOKEN_PREFIX = Buffer.from(`${CONTAINER_TOKEN_VARIABLE}=`);

/** The value of `MESOS_DIRECTORY` in a raw environment block, if set. */
export function directoryOfEnvironment(env: Buffer): string | undefined {
  return markersOfEnvironment(env).directory;
}

/** What a process carries to be found by, in a raw environment block. */
export interface EnvironmentMarkers {
  /** `MESOS_DIRECTORY`. */
  directory?: string;
  /** {@link CONTAINER_ID_VARIABLE}. */
  container?: string;
  /** {@link CONTAINER_TOKEN_VARIABLE}. */
  token?: string;
}

/** `MESOS_DIRECTORY` and a container's marker in a raw environment block, where set. */
export function markersOfEnvironment(env: Buffer): EnvironmentMarkers {
  const out: EnvironmentMarkers = {};
  let at = 0;
  while (at < env.length) {
    let end = env.indexOf(0, at);
    if (end < 0) end = env.length;
    if (env.subarray(at, at + DIRECTORY_PREFIX.length).equals(DIRECTORY_PREFIX)) {
      out.directory ??= env.subarray(at + DIRECTORY_PREFIX.length, end).toString("utf8");
    } else if (env.subarray(at, at + CONTAINER_PREFIX.length).equals(CONTAINER_PREFIX)) {
      out.container ??= env.subarray(at + CONTAINER_PREFIX.length, end).toString("utf8");
    } else if (env.subarray(at, at + TOKEN_PREFIX.length).equals(TOKEN_PREFIX)) {
      out.token ??= env.subarray(at + TOKEN_PREFIX.length, end).toString("utf8");
    }
    at = end + 1;
  }
  return out;
}

/**
 * Pids of processes whose `MESOS_DIRECTORY` (which every process of a
 * container inherits) is one of `directories`, by directory. Processes whose
 * environment cannot be read are skipped; each environment is read once.
 */
export async function processesWithDirectories(
  directories: ReadonlySet<string>,
  table: readonly ProcEntry[],
): Promise<Map<string, number[]>> {
  const found = new Map<string, number[]>();
  await Promise.all(
    table.map(async (e) => {
      if (e.pid <= 2 || e.ppid === 2) return;
      try {
        const directory = directoryOfEnvironment(await readFile(`/proc/${e.pid}/environ`));
        if (directory === undefined || !directories.has(directory)) return;
        const list = found.get(directory);
        if (list === undefined) found.set(directory, [e.pid]);
        else list.push(e.pid);
      } catch {
        // Gone, or not ours to read.
      }
    }),
  );
  return found;
}

/** Sends `signal` to each pid, ignoring those already gone. */
export function signalAll(pids: Iterable<number>, signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone (or never ours).
    }
  }
}

/** True while `pid` exists with the given start time (a reused pid does not count). */
export async function isSameProcess(pid: number, startTime: number | undefined): Promise<boolean> {
  const entry = await readProcEntry(pid);
  if (entry === undefined) return false;
  return startTime === undefined || entry.startTime === startTime;
}
