/**
 * The launcher helper: a tiny, long-lived Node process the agent starts
 * once and asks (JSON lines on stdin) to start executors and run short
 * commands. It exists because `child_process.spawn` blocks the calling
 * event loop until the child has exec'ed, and that cost grows with the
 * caller's heap; this process keeps a small heap, so launches stay cheap
 * and never stall the agent.
 *
 * Executors are started in their own session (`setsid`, via `detached`), so
 * they outlive the agent and this helper. The helper reports each one's exit
 * on stdout. When its stdin closes (the agent went away) it exits and leaves
 * the executors running.
 *
 * Paced launches (`paceLimit`, from `--executor_launch_concurrency`): a
 * launch storm is CPU-bound, and 200 Node executors starting at once all
 * finish late (and each costs about twice the CPU: caches and the scheduler
 * thrash). Paced spawns therefore wait here until fewer than the limit are
 * still starting; an executor counts as started once it signals on its
 * ready pipe (fd 3), exits, or after a fixed time.
 *
 * Keep the imports minimal: this file is the whole program.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { getPriority, setPriority } from "node:os";
import type { Readable } from "node:stream";
import {
  type CancelRequest,
  type ExitEvent,
  type LauncherMessage,
  type LauncherRequest,
  PACED_START_MAX_MS,
  READY_FD,
  READY_FD_VARIABLE,
  type RunRequest,
  type SpawnRequest,
  type UserRequest,
} from "./launcher-protocol.js";

const OUTPUT_TAIL_BYTES = 8192;
/** The niceness executors get: the helper's own, before it raised its priority. */
const BASE_PRIORITY = getPriority();
/** How much the helper raises its priority when allowed (root). */
const HELPER_PRIORITY_BOOST = 10;

function reply(message: LauncherMessage): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Field 22 of /proc/<pid>/stat: start time in clock ticks after boot. */
function startTimeOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const value = Number(fields[19]);
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function ids(r: { uid?: number; gid?: number }): { uid?: number; gid?: number } {
  const out: { uid?: number; gid?: number } = {};
  if (r.uid !== undefined) out.uid = r.uid;
  if (r.gid !== undefined) out.gid = r.gid;
  return out;
}

/** Paced spawns waiting for a slot, oldest first. */
const waiting: SpawnRequest[] = [];
/** Paced processes that have not yet signalled that they started. */
let starting = 0;
/** The latest limit a paced request carried. */
let paceLimit = 0;

/** Spawns now, or queues a paced spawn while `paceLimit` processes are starting. */
function requestSpawn(r: SpawnRequest): void {
  if (r.paceLimit === undefined || r.paceLimit <= 0) {
    doSpawn(r, false);
    return;
  }
  paceLimit = r.paceLimit;
  waiting.push(r);
  startWaiting();
}

function startWaiting(): void {
  while (starting < paceLimit && waiting.length > 0) {
    doSpawn(waiting.shift() as SpawnRequest, true);
  }
}

/** A queued spawn the agent no longer wants (its container was destroyed). */
function cancel(r: CancelRequest): void {
  const at = waiting.findIndex((w) => w.id === r.target);
  if (at < 0) return;
  waiting.splice(at, 1);
  reply({ id: r.target, error: "cancelled before it started" });
}

/** Frees the paced slot of a started process exactly once, on the first of its signals. */
function watchStart(child: ChildProcess): void {
  starting++;
  let done = false;
  const release = (): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    ready?.destroy();
    starting--;
    startWaiting();
  };
  const timer = setTimeout(release, PACED_START_MAX_MS);
  const ready = child.stdio[READY_FD] as Readable | null | undefined;
  ready?.once("data", release);
  ready?.once("end", release);
  ready?.once("error", release);
  child.once("exit", release);
  child.once("error", release);
  if (ready === null || ready === undefined) release();
}

function doSpawn(r: SpawnRequest, paced: boolean): void {
  let out: number | undefined;
  let err: number | undefined;
  let child: ChildProcess;
  try {
    out = openSync(r.stdout, "a");
    err = openSync(r.stderr, "a");
    child = spawn(r.file, r.args.slice(1), {
      argv0: r.args[0] ?? r.file,
      env: paced ? { ...r.env, [READY_FD_VARIABLE]: String(READY_FD) } : r.env,
      cwd: r.cwd,
      detached: true,
      stdio: paced ? ["ignore", out, err, "pipe"] : ["ignore", out, err],
      ...ids(r),
    });
  } catch (e) {
    reply({ id: r.id, error: errorText(e) });
    return;
  } finally {
    if (out !== undefined) closeSync(out);
    if (err !== undefined) closeSync(err);
  }
  if (paced) watchStart(child);
  const pid = child.pid;
  if (pid === undefined) {
    child.once("error", (e) => reply({ id: r.id, error: errorText(e) }));
    return;
  }
  normalPriority(pid);
  child.unref();
  child.once("error", () => {});
  child.once("exit", (code, signal) => {
    const event: ExitEvent = { event: "exit", pid, code, signal };
    reply(event);
  });
  const startTime = startTimeOf(pid);
  reply(startTime === undefined ? { id: r.id, pid } : { id: r.id, pid, startTime });
}

/** A child inherits the helper's raised priority: give it the normal one. */
function normalPriority(pid: number | undefined): void {
  if (pid === undefined || getPriority() === BASE_PRIORITY) return;
  try {
    setPriority(pid, BASE_PRIORITY);
  } catch {
    // Not allowed; it keeps the helper's priority.
  }
}

function doRun(r: RunRequest): void {
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-OUTPUT_TAIL_BYTES);
  };
  let child: ChildProcess;
  try {
    child = spawn(r.file, r.args, {
      stdio: ["ignore", "pipe", "pipe"],
      ...(r.cwd === undefined ? {} : { cwd: r.cwd }),
      ...ids(r),
    });
  } catch (e) {
    reply({ id: r.id, error: errorText(e) });
    return;
  }
  normalPriority(child.pid);
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const timer =
    r.timeoutMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), r.timeoutMs);
  let failed = false;
  child.once("error", (e) => {
    failed = true;
    if (timer !== undefined) clearTimeout(timer);
    reply({ id: r.id, error: errorText(e) });
  });
  child.once("close", (code, signal) => {
    if (timer !== undefined) clearTimeout(timer);
    if (!failed) reply({ id: r.id, code, signal, output });
  });
}

/** `name:x:uid:gid:gecos:home:shell` of `name`, from getent or /etc/passwd. */
function passwdEntry(name: string): string | undefined {
  try {
    return execFileSync("getent", ["passwd", name], { encoding: "utf8" }).split("\n")[0];
  } catch {
    try {
      return readFileSync("/etc/passwd", "utf8")
        .split("\n")
        .find((line) => line.split(":")[0] === name);
    } catch {
      return undefined;
    }
  }
}

function doUser(r: UserRequest): void {
  const line = passwdEntry(r.name);
  const fields = line?.split(":") ?? [];
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  if (
    line === undefined ||
    fields[0] !== r.name ||
    !Number.isInteger(uid) ||
    !Number.isInteger(gid)
  ) {
    reply({ id: r.id, error: `user '${r.name}' does not exist on this agent` });
    return;
  }
  reply({ id: r.id, uid, gid, home: fields[5] ?? "/" });
}

function handle(line: string): void {
  let request: LauncherRequest;
  try {
    request = JSON.parse(line) as LauncherRequest;
  } catch {
    return;
  }
  switch (request.op) {
    case "spawn":
      requestSpawn(request);
      break;
    case "cancel":
      cancel(request);
      break;
    case "run":
      doRun(request);
      break;
    case "user":
      doUser(request);
      break;
  }
}

function main(): void {
  // When a launch storm saturates the CPUs with starting executors, a helper
  // at normal priority gets a small share and spawns slow to a crawl. With
  // the right (root), it runs at a higher priority; executors are reset to
  // the normal one right after they are spawned.
  try {
    setPriority(BASE_PRIORITY - HELPER_PRIORITY_BOOST);
  } catch {
    // Not allowed: stay at the normal priority.
  }
  // A terminal's Ctrl-C reaches the agent's whole process group; the agent
  // decides what happens to executors, so this helper ignores it.
  process.on("SIGINT", () => {});
  process.on("SIGHUP", () => {});
  let buffered = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk: string) => {
    buffered += chunk;
    for (;;) {
      const newline = buffered.indexOf("\n");
      if (newline < 0) break;
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim() !== "") handle(line);
    }
  });
  // The agent went away: leave, without touching the executors.
  process.stdin.on("end", () => process.exit(0));
  process.stdout.on("error", () => process.exit(0));
}

main();
