/**
 * A real master and agent on loopback for the cluster benchmarks
 * (launch-throughput, status-update-pipeline, daemon-rss), plus what they
 * read from /proc: CPU time, memory, the processes of the agent's
 * containers, and each daemon's longest event-loop block (loop-probe.ts).
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleModules } from "../../src/executor/bundle.js";
import type { Offer, TaskStatus } from "../../src/scheduler/index.js";
import {
  findOfferResources,
  parseResourceText,
  SchedulerClient,
  type SchedulerClientOptions,
} from "../../src/scheduler/index.js";
import {
  type DaemonHandle,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitForAgents,
} from "../../test/harness/processes.js";

const here = fileURLToPath(new URL(".", import.meta.url));

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const round1 = (x: number): number => Math.round(x * 10) / 10;
export const round2 = (x: number): number => Math.round(x * 100) / 100;

/** The q-quantile (0..1) of `xs`, rounded to 0.1. */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return round1(s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN);
}

export interface BenchCluster {
  master: DaemonHandle;
  agent: DaemonHandle;
  /** Where the daemons' loop probes write. */
  probeDir: string;
  /** `MESOS_SANDBOX` of every container process contains this. */
  sandboxMarker: string;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  agentResources?: string;
  /** Where master and agent write V8 CPU profiles (see `toggleProfiles`). */
  profileDir?: string;
  masterFlags?: Record<string, string | number | boolean>;
  agentFlags?: Record<string, string | number | boolean>;
  /** Preload the loop probe into the daemons (default true; off for memory measurements). */
  probe?: boolean;
}

/** Starts a master and one agent with the loop probe preloaded. */
export async function startBenchCluster(options: ClusterOptions = {}): Promise<BenchCluster> {
  const probeDir = tempDir("bench-loop-");
  const env =
    options.probe === false
      ? {}
      : {
          BENCH_LOOP_PROBE_DIR: probeDir,
          BENCH_CPU_PROFILE_DIR: options.profileDir ?? "",
          // BENCH_DAEMON_NODE_OPTIONS: extra flags for master and agent (e.g. --perf-basic-prof).
          NODE_OPTIONS: `--import=${join(here, "loop-probe.js")} ${process.env.BENCH_DAEMON_NODE_OPTIONS ?? ""}`,
        };
  const master = await startMaster({
    env,
    flags: { allocation_interval: "100ms", ...options.masterFlags },
  });
  const agent = await startAgent({
    master: master.address,
    env,
    flags: {
      resources: options.agentResources ?? "cpus:64;mem:65536;disk:65536;ports:[31000-32000]",
      ...options.agentFlags,
    },
  });
  await waitForAgents(master, 1);
  return {
    master,
    agent,
    probeDir,
    sandboxMarker: `MESOS_SANDBOX=${agent.workDir}`,
    stop: async () => {
      await stopAll();
      rmSync(probeDir, { recursive: true, force: true });
    },
  };
}

/** Starts, or stops and writes, the CPU profiles of master and agent (when profiling). */
export function toggleProfiles(cluster: BenchCluster): void {
  for (const d of [cluster.master, cluster.agent]) d.child.kill("SIGUSR2");
}

/** Longest event-loop block (ms) `pid` reported between two epoch times (NaN without samples). */
export function loopMaxMs(probeDir: string, pid: number, fromMs: number, toMs: number): number {
  return loopMax(probeDir, pid, fromMs, toMs, 1);
}

/**
 * The most CPU (ms, all threads) a daemon used in one stretch without its
 * 50 ms probe timer firing, between two epoch times: the CPU cost of its
 * longest event-loop turn, which, unlike `loopMaxMs`, does not grow when
 * the machine is busy. NaN for probes that do not record it.
 */
export function loopMaxCpuMs(probeDir: string, pid: number, fromMs: number, toMs: number): number {
  return loopMax(probeDir, pid, fromMs, toMs, 2);
}

function loopMax(probeDir: string, pid: number, fromMs: number, toMs: number, column: number) {
  let text = "";
  try {
    text = readFileSync(join(probeDir, `${pid}.loop`), "utf8");
  } catch {
    return Number.NaN;
  }
  let max = Number.NaN;
  for (const line of text.split("\n")) {
    const fields = line.split(" ").map(Number);
    const at = fields[0];
    const ms = fields[column];
    if (at === undefined || ms === undefined || !Number.isFinite(at) || Number.isNaN(ms)) continue;
    // A window is stamped at its end; it covers the 250 ms before.
    if (at < fromMs || at - 250 > toMs) continue;
    max = Number.isNaN(max) ? ms : Math.max(max, ms);
  }
  return max;
}

/** user + sys CPU time (ms) of `pid` so far, from /proc/<pid>/stat (10 ms ticks). */
export function procCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 (1-based) of the whole line.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

export interface Memory {
  rss: number;
  pss: number;
  priv: number;
}

/** RSS, PSS and private memory (MiB) from /proc/<pid>/smaps_rollup. */
export function memoryOf(pid: number): Memory {
  let text = "";
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  } catch {
    return { rss: Number.NaN, pss: Number.NaN, priv: Number.NaN };
  }
  const kb = (key: string): number =>
    Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0);
  return {
    rss: kb("Rss") / 1024,
    pss: kb("Pss") / 1024,
    priv: (kb("Private_Clean") + kb("Private_Dirty")) / 1024,
  };
}

/** Processes whose environment contains `marker` (the agent's containers), with their argv. */
export function processesWith(marker: string): { pid: number; argv: string[] }[] {
  const found: { pid: number; argv: string[] }[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (!readFileSync(`/proc/${name}/environ`, "latin1").includes(marker)) continue;
      const argv = readFileSync(`/proc/${name}/cmdline`, "latin1").split("\0").filter(Boolean);
      found.push({ pid: Number(name), argv });
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/** Waits until no process carries `marker`; returns how many are left at the deadline. */
export async function waitForNoProcesses(marker: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = processesWith(marker).length;
    if (left === 0 || Date.now() >= deadline) return left;
    await sleep(200);
  }
}

let executorBundle: string | undefined;

/** The bench executor (bench-executor.ts) as one file, written beside it once per run. */
export function benchExecutorBundle(): string {
  if (executorBundle !== undefined) return executorBundle;
  const file = join(here, "bench-executor.bundle.js");
  writeFileSync(file, bundleModules(join(here, "bench-executor.js")));
  executorBundle = file;
  return file;
}

/** `cpus:..;mem:..` as offer resources of `offer`, or throws. */
export function resourcesIn(offer: Offer, text: string): NonNullable<Offer["resources"]> {
  const parsed = parseResourceText(text);
  if (!parsed.ok) throw new Error(`bad resources '${text}'`);
  const found = findOfferResources(offer, parsed.resources);
  if (found === undefined) throw new Error(`offer ${offer.id.value} lacks ${text}`);
  return found as NonNullable<Offer["resources"]>;
}

/** A framework for benchmarks: offers queued, status updates timed. */
export class BenchFramework {
  readonly client: SchedulerClient;
  private readonly offers: Offer[] = [];
  private waiters: (() => void)[] = [];
  /** First time (performance.now) each task reached a state: `${state} ${taskId}` -> ms. */
  readonly firstAt = new Map<string, number>();
  /** Count of updates by state. */
  readonly counts = new Map<string, number>();
  /** Extra per-update hook. */
  onUpdate: ((status: TaskStatus, at: number) => void) | undefined;

  constructor(master: string, name: string, options: Partial<SchedulerClientOptions> = {}) {
    this.client = new SchedulerClient({
      master,
      framework: { user: userInfo().username, name },
      ...options,
    });
    this.client.start({
      offers: (offers) => {
        this.offers.push(...offers);
        this.wake();
      },
      rescind: (offerId) => {
        const at = this.offers.findIndex((o) => o.id.value === offerId.value);
        if (at >= 0) this.offers.splice(at, 1);
      },
      update: (status) => {
        const at = performance.now();
        const key = `${status.state} ${status.task_id.value}`;
        if (!this.firstAt.has(key)) this.firstAt.set(key, at);
        this.counts.set(status.state, (this.counts.get(status.state) ?? 0) + 1);
        this.onUpdate?.(status, at);
        this.wake();
      },
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves when `predicate` holds (checked after every offer and update); throws at the deadline. */
  async until(what: string, predicate: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 500));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next offer (waits for one), or the next one from agent `agentId` when given. */
  async nextOffer(timeoutMs = 30_000, agentId?: string): Promise<Offer> {
    const at = () =>
      this.offers.findIndex((o) => agentId === undefined || o.agent_id.value === agentId);
    await this.until(
      `an offer${agentId === undefined ? "" : ` from ${agentId}`}`,
      () => at() >= 0,
      timeoutMs,
    );
    return this.offers.splice(at(), 1)[0] as Offer;
  }

  /** How many tasks reached `state`. */
  reached(state: string): number {
    let n = 0;
    for (const key of this.firstAt.keys()) if (key.startsWith(`${state} `)) n++;
    return n;
  }

  async close(): Promise<void> {
    if (this.client.state === "subscribed") await this.client.teardown();
    this.client.close();
  }
}
