/**
 * Test harness: start the real mesos-ts binaries as child processes on
 * loopback, wait until they serve, and clean them up. Integration tests use
 * these instead of in-process fakes.
 *
 *   const master = await startMaster();
 *   const agent = await startAgent({ master: master.address });
 *   await waitForAgents(master, 1);
 *   ...
 *   after(stopAll);
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root (this file runs from dist/test/harness). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** Path of a launcher in bin/. */
export function binPath(name: string): string {
  return join(repoRoot, "bin", name);
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const tempDirs: string[] = [];

/** A fresh temporary directory, removed by `stopAll()`. */
export function tempDir(prefix = "mesos-ts-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Mount points below `dir` in this process' mount namespace, in mount order (empty off Linux). */
export function mountsUnder(dir: string): string[] {
  let table: string;
  try {
    table = readFileSync("/proc/self/mounts", "utf8");
  } catch {
    return [];
  }
  return table
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((target) => target.startsWith(`${dir}/`));
}

/** Polls `probe` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  const interval = options.intervalMs ?? 50;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const suffix = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`timed out waiting for ${what}${suffix}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/**
 * `waitFor` with a 60 s limit, for waits on executors: they start slowly
 * when the shared CI machine is very busy.
 */
export function waitLong<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
): Promise<T> {
  return waitFor(what, probe, { timeoutMs: 60_000 });
}

/** SIGKILLs the process group of each pid (executors a test started); ones already gone are skipped. */
export function killProcessGroups(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** GET `url` and parse JSON; undefined when the server does not answer 200. */
export async function getJson<T = unknown>(url: string): Promise<T | undefined> {
  const response = await fetch(url);
  if (response.status !== 200) return undefined;
  return (await response.json()) as T;
}

export interface DaemonHandle {
  readonly name: string;
  readonly port: number;
  /** `127.0.0.1:<port>`, what `--master=` takes. */
  readonly address: string;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly workDir: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or null when killed by a signal) once the process exits. */
  readonly exited: Promise<number | null>;
  /** Everything the process wrote to stdout and stderr so far. */
  logs(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
}

export interface DaemonOptions {
  /** Flags as name -> value (`true` gives `--name`). `--port`, `--ip`, `--work_dir` are filled in unless given. */
  flags?: Record<string, string | number | boolean>;
  env?: NodeJS.ProcessEnv;
  port?: number;
  /** How long to wait for `/health` (default 60 s: CI machines can be heavily loaded). */
  readyTimeoutMs?: number;
  /**
   * False: resolve once spawned, without waiting for `/health` (for a daemon
   * expected to exit at once, e.g. an agent the master refuses).
   */
  waitReady?: boolean;
}

const daemons = new Set<DaemonHandle>();

function toArgs(flags: Record<string, string | number | boolean>): string[] {
  return Object.entries(flags).map(([k, v]) =>
    v === true ? `--${k}` : v === false ? `--no-${k}` : `--${k}=${v}`,
  );
}

/**
 * The test process' environment without proxy settings: agents fetch through
 * `http_proxy` and friends as Mesos' libcurl does, and a machine that sets
 * them (for package downloads, say) would send the tests' loopback fetches
 * to its proxy. Tests that want a proxy pass it in `env`.
 */
export function environmentWithoutProxies(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ["http_proxy", "https_proxy", "all_proxy", "no_proxy"]) {
    delete env[name];
    delete env[name.toUpperCase()];
  }
  return env;
}

/**
 * A fetcher cache directory of one agent's own. Every agent clears its cache
 * directory when it starts (as Mesos does); agents of tests running side by
 * side must not share Mesos' default `/tmp/mesos/fetch`, or one agent's
 * start removes files another agent is fetching into (and fails on them).
 */
export function agentFetcherCacheDir(): string {
  return tempDir("mesos-agent-fetch-");
}

/** Spawns bin/<binary> with flags, output captured to a log file in its work dir. */
export async function startDaemon(
  binary: string,
  defaultPort: number | undefined,
  options: DaemonOptions & { extraFlags?: Record<string, string | number | boolean> } = {},
): Promise<DaemonHandle> {
  const port = options.port ?? (await freePort());
  const workDir = tempDir(`${binary}-`);
  const flags: Record<string, string | number | boolean> = {
    ip: "127.0.0.1",
    port: port ?? defaultPort,
    work_dir: workDir,
    ...options.extraFlags,
    ...options.flags,
  };
  if (binary === "mesos-agent" && flags.fetcher_cache_dir === undefined) {
    flags.fetcher_cache_dir = agentFetcherCacheDir();
  }
  const logFile = join(workDir, `${binary}.log`);
  const out = openSync(logFile, "a");
  const child = spawn(process.execPath, [binPath(binary), ...toArgs(flags)], {
    stdio: ["ignore", out, out],
    env: { ...environmentWithoutProxies(), ...options.env },
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  const handle: DaemonHandle = {
    name: binary,
    port,
    address: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    workDir,
    child,
    exited,
    logs: () => readFileSync(logFile, "utf8"),
    kill: (signal = "SIGKILL") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    stop: async (graceMs = 5000) => {
      daemons.delete(handle);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => handle.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  daemons.add(handle);
  if (options.waitReady === false) return handle;
  let early: number | null | undefined;
  void exited.then((code) => {
    early = code;
  });
  await waitFor(
    `${binary} on port ${port} to answer /health`,
    async () => {
      if (early !== undefined) {
        throw new Error(`${binary} exited with ${early}:\n${handle.logs()}`);
      }
      const response = await fetch(`${handle.url}/health`).catch(() => undefined);
      return response?.status === 200;
    },
    { timeoutMs: options.readyTimeoutMs ?? 60_000 },
  ).catch((error: unknown) => {
    handle.kill();
    throw error instanceof Error && !error.message.includes(handle.logs())
      ? new Error(`${error.message}\n--- ${binary} log ---\n${handle.logs()}`)
      : error;
  });
  return handle;
}

/** Starts bin/mesos-master (in-memory registry unless flags say otherwise). */
export function startMaster(options: DaemonOptions = {}): Promise<DaemonHandle> {
  return startDaemon("mesos-master", 5050, {
    ...options,
    extraFlags: { registry: "in_memory" },
  });
}

/** Starts bin/mesos-agent registered to `master` (`host:port`). */
export function startAgent(options: DaemonOptions & { master: string }): Promise<DaemonHandle> {
  return startDaemon("mesos-agent", 5051, {
    ...options,
    extraFlags: {
      master: options.master,
      resources: "cpus:2;mem:1024;disk:1024;ports:[31000-32000]",
    },
  });
}

interface MasterStateSlaves {
  slaves?: Array<{ id: string; active?: boolean }>;
}

/** Waits until the master's /master/state lists at least `count` active agents; returns their ids. */
export async function waitForAgents(master: DaemonHandle, count: number): Promise<string[]> {
  return waitFor(`${count} agent(s) registered with ${master.address}`, async () => {
    const state = await getJson<MasterStateSlaves>(`${master.url}/master/state`);
    const active = (state?.slaves ?? []).filter((s) => s.active !== false);
    return active.length >= count ? active.map((s) => s.id) : undefined;
  });
}

/**
 * Waits until the master lists each of `taskIds` as TASK_RUNNING. A test
 * that kills an agent to test recovery waits for this first: a launch the
 * crash cuts short (no pid recorded yet) is destroyed on recovery, not
 * recovered, as in Mesos.
 */
export async function waitForTasksRunning(
  master: DaemonHandle,
  taskIds: readonly string[],
): Promise<void> {
  await waitLong(`task(s) ${taskIds.join(", ")} running`, async () => {
    const doc = await getJson<{ tasks?: { id: string; state: string }[] }>(
      `${master.url}/master/tasks`,
    );
    const running = new Set(
      (doc?.tasks ?? []).filter((t) => t.state === "TASK_RUNNING").map((t) => t.id),
    );
    return taskIds.every((id) => running.has(id)) ? true : undefined;
  });
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs bin/<binary> to completion (killed after `timeoutMs`) and collects its output. */
export function runBinary(
  binary: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [binPath(binary), ...args], {
      env: { ...environmentWithoutProxies(), ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.stdin.end(options.input ?? "");
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Stops every daemon started through this module and removes temp dirs. */
export async function stopAll(): Promise<void> {
  await Promise.all([...daemons].map((d) => d.stop()));
  for (const dir of tempDirs.splice(0)) {
    // A test that failed midway can leave an agent's mounts (a container's
    // /dev/shm, a secret volume) in its directories: rmdir would get EBUSY.
    for (const target of mountsUnder(dir).reverse()) spawnSync("umount", ["-l", target]);
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

process.once("exit", () => {
  for (const d of daemons) d.kill("SIGKILL");
});

/** Waits (waitLong) until `daemon` has exited: its exit code (null when a signal ended it). */
export function exitCodeOf(daemon: DaemonHandle): Promise<number | null> {
  return waitLong(`${daemon.name} to exit`, () =>
    daemon.child.exitCode === null && daemon.child.signalCode === null
      ? undefined
      : { code: daemon.child.exitCode },
  ).then((exit) => exit.code);
}
