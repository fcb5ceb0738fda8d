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
import { type ChildProcess, execFileSync, type StdioOptions, spawn } from "node:child_process";
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
} from "node:fs";
import { getPriority, setPriority } from "node:os";
import type { Readable, Writable } from "node:stream";
import { onLines } from "../../common/io/lines.js";
import { HOST_VARIABLE, hostKey, parseHostEvent } from "../../executor/host-protocol.js";
import {
  type CancelRequest,
  type ExitEvent,
  type LauncherMessage,
  type LauncherRequest,
  PACED_START_MAX_MS,
  POOL_VARIABLE,
  type PoolHandover,
  READY_FD,
  READY_FD_VARIABLE,
  type RunRequest,
  type SpawnRequest,
  type UserRequest,
} from "./launcher-protocol.js";
import { openSandboxOutput } from "./sandbox-no-follow.js";
import { environmentScript, rootStepEnvironment } from "./shim-environment.js";

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

/** An idle pre-started executor (warm pool). */
interface PoolMember {
  child: ChildProcess;
  pid: number;
  /** What it was started as (a launch must match). */
  key: string;
  stdout: string;
  stderr: string;
}

/** Idle pooled executors, oldest first. */
const pool: PoolMember[] = [];
let poolSerial = 0;
let refillTimer: NodeJS.Timeout | undefined;
/** Pool members that died idle in a row (a crash loop stops refilling). */
let idleDeaths = 0;
/** How much nicer than executors idle pool members start (they are background work). */
const POOL_NICENESS = 5;

const poolKey = (r: SpawnRequest): string => JSON.stringify([r.file, r.args]);

/** Hands `r` to an idle pooled executor; false when none fits. */
function handOver(r: SpawnRequest): boolean {
  if (r.uid !== undefined || r.gid !== undefined) return false;
  const key = poolKey(r);
  const at = pool.findIndex((m) => m.key === key);
  if (at < 0) return false;
  const member = pool.splice(at, 1)[0] as PoolMember;
  try {
    // What the sandbox files already hold (e.g. fetcher output) goes first.
    for (const [from, to] of [
      [r.stdout, member.stdout],
      [r.stderr, member.stderr],
    ] as const) {
      let before: Buffer | undefined;
      try {
        if (statSync(from).size > 0) before = readFileSync(from);
      } catch {
        before = undefined;
      }
      if (before !== undefined) appendFileSync(to, before);
      renameSync(to, from);
    }
    const handover: PoolHandover = { env: r.env, cwd: r.cwd };
    member.child.stdin?.end(`${JSON.stringify(handover)}\n`);
  } catch (e) {
    try {
      process.kill(member.pid, "SIGKILL");
    } catch {
      // gone
    }
    // The launch still happens, as a plain spawn (what the sandbox files held was kept).
    process.stderr.write(
      `launcher helper: hand-over to a pooled executor failed: ${errorText(e)}\n`,
    );
    return false;
  }
  try {
    setPriority(member.pid, BASE_PRIORITY);
  } catch {
    // Not allowed (not root): it was never lowered.
  }
  idleDeaths = 0;
  const startTime = startTimeOf(member.pid);
  reply(
    startTime === undefined
      ? { id: r.id, pid: member.pid }
      : { id: r.id, pid: member.pid, startTime },
  );
  return true;
}

/** Starts idle executors like `r` until the pool holds `r.pool.size` (soon, not now). */
function refill(r: SpawnRequest): void {
  const config = r.pool;
  if (config === undefined || refillTimer !== undefined) return;
  // A pool that keeps dying (a broken executor) is not restarted at once forever.
  // Not at once: a new member booting would compete for the CPU with the
  // executor just handed over (or spawned), which is on a task's critical path.
  const delay = idleDeaths >= 3 ? 10_000 : 250;
  refillTimer = setTimeout(() => {
    refillTimer = undefined;
    const key = poolKey(r);
    // Members of an older program (the agent was upgraded) make room.
    for (const m of pool.filter((x) => x.key !== key)) {
      pool.splice(pool.indexOf(m), 1);
      m.child.stdin?.end();
    }
    cleanPoolDir(config.dir);
    while (pool.length < config.size) {
      if (!startPoolMember(r, config.dir, key)) break;
    }
  }, delay);
  refillTimer.unref();
}

let poolDirCleaned = false;

/** Removes the files of pool members of earlier helpers (they exited with their helper). */
function cleanPoolDir(dir: string): void {
  if (poolDirCleaned) return;
  poolDirCleaned = true;
  try {
    for (const name of readdirSync(dir)) {
      if (!name.startsWith(`${process.pid}-`)) unlinkSync(`${dir}/${name}`);
    }
  } catch {
    // no directory yet
  }
}

function startPoolMember(r: SpawnRequest, dir: string, key: string): boolean {
  const n = ++poolSerial;
  const stdout = `${dir}/${process.pid}-${n}.stdout`;
  const stderr = `${dir}/${process.pid}-${n}.stderr`;
  let out: number | undefined;
  let err: number | undefined;
  let child: ChildProcess;
  try {
    mkdirSync(dir, { recursive: true });
    out = openSync(stdout, "a");
    err = openSync(stderr, "a");
    child = spawn(r.file, r.args.slice(1), {
      argv0: r.args[0] ?? r.file,
      // Nothing of `r`'s environment: the member may serve another framework's
      // launch, and its process keeps its start-up environment in /proc (where
      // that launch's task can read it). It needs no PATH (`r.file` is absolute,
      // the agent's own Node) and reads nothing else before the hand-over, which
      // replaces its whole environment.
      env: { [POOL_VARIABLE]: "1" },
      cwd: dir,
      detached: true,
      stdio: ["pipe", out, err],
    });
  } catch {
    return false;
  } finally {
    if (out !== undefined) closeSync(out);
    if (err !== undefined) closeSync(err);
  }
  const pid = child.pid;
  if (pid === undefined) {
    child.once("error", () => {});
    return false;
  }
  // Only root can give the priority back at hand-over, so only root lowers it.
  if (process.getuid?.() === 0) {
    try {
      setPriority(pid, Math.min(19, BASE_PRIORITY + POOL_NICENESS));
    } catch {
      // keeps the helper's priority
    }
  }
  child.unref();
  child.stdin?.on("error", () => {});
  child.once("error", () => {});
  const member: PoolMember = { child, pid, key, stdout, stderr };
  pool.push(member);
  child.once("exit", (code, signal) => {
    const idle = pool.indexOf(member);
    if (idle >= 0) {
      // Died before any launch: not an executor of a container, nothing to report.
      pool.splice(idle, 1);
      idleDeaths++;
      for (const file of [stdout, stderr]) {
        try {
          unlinkSync(file);
        } catch {
          // already gone
        }
      }
      return;
    }
    const event: ExitEvent = { event: "exit", pid, code, signal };
    reply(event);
  });
  return true;
}

/** A Node process running several command executors (`--command_executors_per_process`). */
interface ExecutorHost {
  child: ChildProcess;
  pid: number;
  key: string;
  /** Still taking launches (its stdin is open). */
  accepting: boolean;
  /** Launches sent and not yet answered, by request id. */
  pending: Set<number>;
  /** Stand-in pids of its running executors. */
  live: Set<number>;
}

/** Running hosts, oldest first. */
const hosts: ExecutorHost[] = [];
let hostSerial = 0;

/** Runs `r` in an executor host with room, starting one if none has. */
function hostedSpawn(r: SpawnRequest): void {
  const config = r.host as NonNullable<SpawnRequest["host"]>;
  const key = hostKey(r);
  let host = hosts.find(
    (h) => h.key === key && h.accepting && h.pending.size + h.live.size < config.perProcess,
  );
  host ??= startHost(r, config.dir, key);
  if (host === undefined) {
    // Could not start a host: run the executor in its own process.
    doSpawn(r, false);
    return;
  }
  host.pending.add(r.id);
  const launch = {
    op: "launch",
    id: r.id,
    env: r.env,
    cwd: r.cwd,
    stdout: r.stdout,
    stderr: r.stderr,
  };
  host.child.stdin?.write(`${JSON.stringify(launch)}\n`);
}

function startHost(r: SpawnRequest, dir: string, key: string): ExecutorHost | undefined {
  const log = `${dir}/${process.pid}-${++hostSerial}.log`;
  let err: number | undefined;
  let child: ChildProcess;
  try {
    mkdirSync(dir, { recursive: true });
    err = openSync(log, "a");
    child = spawn(r.file, r.args.slice(1), {
      argv0: r.args[0] ?? r.file,
      // As a pool member's (startPoolMember): the host serves launches of any
      // framework with its program and user, so it starts with nothing of `r`'s
      // environment; each hosted executor gets its own (HostLaunch.env).
      env: { [HOST_VARIABLE]: "1" },
      cwd: dir,
      detached: true,
      stdio: ["pipe", "pipe", err],
      ...ids(r),
    });
  } catch (e) {
    process.stderr.write(`launcher helper: cannot start an executor host: ${errorText(e)}\n`);
    return undefined;
  } finally {
    if (err !== undefined) closeSync(err);
  }
  const pid = child.pid;
  if (pid === undefined) {
    child.once("error", () => {});
    return undefined;
  }
  normalPriority(pid);
  child.unref();
  child.stdin?.on("error", () => {});
  const host: ExecutorHost = {
    child,
    pid,
    key,
    accepting: true,
    pending: new Set(),
    live: new Set(),
  };
  hosts.push(host);
  if (child.stdout !== null) {
    onLines(child.stdout, (line) => hostEvent(host, line, r.host?.keepIdle === true));
  }
  child.once("error", () => {});
  child.once("exit", (code, signal) => {
    host.accepting = false;
    try {
      // Kept only when the host had something to say.
      if (statSync(log).size === 0) unlinkSync(log);
    } catch {
      // already gone
    }
    const at = hosts.indexOf(host);
    if (at >= 0) hosts.splice(at, 1);
    const how = signal === null ? `status ${code}` : `signal ${signal}`;
    for (const id of host.pending) {
      reply({ id, error: `the executor host (pid ${pid}) exited (${how}) before starting it` });
    }
    host.pending.clear();
    // Its executors ended with it (their stand-ins exit when it does).
    for (const standIn of host.live) reply({ event: "exit", pid: standIn, code, signal });
    host.live.clear();
  });
  return host;
}

function hostEvent(host: ExecutorHost, line: string, keepIdle: boolean): void {
  const event = parseHostEvent(line);
  if (event === undefined) {
    if (line.trim() !== "") process.stderr.write(`launcher helper: host ${host.pid}: ${line}\n`);
    return;
  }
  switch (event.event) {
    case "started":
      if (!host.pending.delete(event.id)) return;
      host.live.add(event.pid);
      reply(
        event.startTime === undefined
          ? { id: event.id, pid: event.pid }
          : { id: event.id, pid: event.pid, startTime: event.startTime },
      );
      return;
    case "failed":
      if (!host.pending.delete(event.id)) return;
      reply({ id: event.id, error: `the executor host could not start it: ${event.error}` });
      break;
    case "exit": {
      if (!host.live.delete(event.pid)) return;
      const exit: ExitEvent = {
        event: "exit",
        pid: event.pid,
        code: event.code,
        signal: event.signal,
      };
      reply(exit);
      break;
    }
  }
  retireIdle(host, keepIdle);
}

/** A host left without executors exits, unless it is the one idle host kept for its program. */
function retireIdle(host: ExecutorHost, keepIdle: boolean): void {
  if (!host.accepting || host.pending.size + host.live.size > 0) return;
  const anotherIdle = hosts.some(
    (h) => h !== host && h.key === host.key && h.accepting && h.pending.size + h.live.size === 0,
  );
  if (keepIdle && !anotherIdle) return;
  host.accepting = false;
  host.child.stdin?.end();
}

/** Spawns now, or queues a paced spawn while `paceLimit` processes are starting. */
function requestSpawn(r: SpawnRequest): void {
  // The shim (environmentFd) is never hosted nor pooled: those take their environment otherwise.
  const shim = r.environmentFd !== undefined;
  if (!shim && r.host !== undefined && r.host.perProcess > 1) {
    hostedSpawn(r);
    return;
  }
  if (!shim && r.pool !== undefined && r.pool.size > 0) {
    const handed = handOver(r);
    refill(r);
    if (handed) return;
  }
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
    // The sandbox may be writable by the task's user, and this process may
    // be root: no link is followed, no named pipe (fetched from an archive)
    // waited on for good, with every later launch behind it.
    out = openSandboxOutput(r.stdout);
    err = openSandboxOutput(r.stderr);
    const env = paced ? { ...r.env, [READY_FD_VARIABLE]: String(READY_FD) } : r.env;
    const stdio: StdioOptions = paced ? ["ignore", out, err, "pipe"] : ["ignore", out, err];
    const envFd = r.environmentFd;
    if (envFd !== undefined) {
      while (stdio.length < envFd) stdio.push("ignore");
      stdio[envFd] = "pipe";
    }
    child = spawn(r.file, r.args.slice(1), {
      argv0: r.args[0] ?? r.file,
      // The shim's steps run as root: never with the container's environment (a PATH or
      // LD_PRELOAD of the task's choice); its last step gets that on envFd.
      env: envFd === undefined ? env : rootStepEnvironment(env),
      cwd: r.cwd,
      detached: true,
      stdio,
      ...ids(r),
    });
    if (envFd !== undefined) sendEnvironment(child, envFd, env);
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

/**
 * Writes `env` to the shim on its descriptor `fd` and closes this end once
 * the kernel has it all (the shim reads what was written after that too),
 * so that no descriptor stays open here for the container's lifetime.
 */
function sendEnvironment(child: ChildProcess, fd: number, env: Record<string, string>): void {
  const socket = child.stdio[fd] as (Writable & { destroy(): void }) | null | undefined;
  if (socket === null || socket === undefined) return;
  // The shim ended before reading (it said why on stderr): nothing to do.
  socket.on("error", () => socket.destroy());
  socket.end(environmentScript(env), () => socket.destroy());
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
  onLines(process.stdin, (line) => {
    if (line.trim() !== "") handle(line);
  });
  // The agent went away: leave, without touching the executors.
  process.stdin.on("end", () => process.exit(0));
  process.stdout.on("error", () => process.exit(0));
}

main();
