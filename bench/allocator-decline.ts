/**
 * A port of Mesos' "DeclineOffers" allocator benchmark: agents with
 * `cpus:24;mem:4096;disk:4096;ports:[31000-32000]`, 16 cpus of each already
 * used by one framework (round robin), one role, and frameworks that decline
 * every offer with an infinite filter. Each round declines the previous
 * round's offers, then times one allocation cycle; after as many rounds as
 * there are frameworks every framework has refused every agent.
 *
 * `DeclineRun` does one round per `step()`, so the benchmark can interleave
 * the rounds of several sizes and variants (this machine is shared: a burst
 * of load then hits all of them alike). Each cycle is timed in wall time and
 * in process CPU time; ratios use CPU time medians, the sturdier of the two
 * under contention.
 */

import { loadavg } from "node:os";
import type { Resource, Resources } from "../src/common/resources/index.js";
import { SystemClock } from "../src/common/time/clock.js";
import { seededRandom } from "../src/common/time/random.js";
import { HierarchicalAllocator } from "../src/master/allocator/hierarchical-allocator.js";
import type { OfferAllocation } from "../src/master/allocator/types.js";
import { AGENT_CAPABILITIES, frameworkInfo, res } from "./lib/allocator-fixtures.js";
import { median, withLoopMonitor, yieldToEventLoop } from "./lib/event-loop.js";
import { serveLockstep } from "./lib/lockstep.js";
import { collectGarbage, heapMb } from "./lib/report.js";

export interface DeclineCase {
  agents: number;
  frameworks: number;
  /** One persistent volume (reserved to the frameworks' role) per agent. */
  volumes?: boolean;
  /** Straight-port baseline (re-sort on every pick, no filter indexes). */
  baseline?: boolean;
  /** Run each cycle in 10 ms slices, yielding to the event loop. */
  sliced?: boolean;
  /** Rounds to run (default 2 x frameworks, as Mesos does). */
  rounds?: number;
  /**
   * Megabytes read through before every timed cycle (untimed), so that
   * every size starts its cycles from the same cold caches (see
   * `evictCaches`). 0 or absent: none.
   */
  evictMb?: number;
}

/** One round's measurements. */
export interface RoundSample {
  wallMs: number;
  cpuMs: number;
  offers: number;
  declineWallMs: number;
  checks: number;
  maxBlockMs: number;
}

const INT_MAX = 2147483647;

/** 16 single-port ranges, like Mesos' fragment(31000-32000, 16). */
function usedResources(role: string): Resources {
  const ports: Resource = {
    name: "ports",
    type: "RANGES",
    ranges: {
      range: Array.from({ length: 16 }, (_, k) => ({ begin: 31000 + 2 * k, end: 31000 + 2 * k })),
    },
  };
  return res("cpus:16;mem:2014;disk:1024").plus(ports).allocate(role);
}

function volume(i: number, role: string): Resource {
  return {
    name: "disk",
    type: "SCALAR",
    scalar: { value: 64 },
    reservations: [{ type: "STATIC", role }],
    disk: { persistence: { id: `vol-${i}` }, volume: { mode: "RW", container_path: "data" } },
  };
}

/**
 * Reads one word per cache line of `buffer`: its lines replace what the
 * caches held (the last round's declines leave a small cluster's state in
 * the processor's shared cache, a large one's mostly not; a master does
 * other work between its cycles). Reads, not writes: written lines would
 * be written back to memory during the timed cycle, a cost of its own.
 */
function evictCaches(buffer: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < buffer.length; i += 8) sum += buffer[i] as number;
  return sum;
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

export class DeclineRun {
  readonly allocator: HierarchicalAllocator;
  readonly rounds: number;
  readonly samples: RoundSample[] = [];
  readonly heapKbPerFramework: number;
  readonly heapKbPerAgent: number;
  readonly setupMs: number;
  private offers: OfferAllocation[] = [];
  private readonly heapAfterSetup: number;
  private readonly evictBuffer: Float64Array | undefined;
  /** Keeps `evictCaches`' reads from being optimized away. */
  evictSink = 0;

  constructor(readonly c: DeclineCase) {
    collectGarbage();
    const heap0 = heapMb();
    const setupStart = performance.now();
    this.allocator = new HierarchicalAllocator({
      // Real time: slices are cut by it; the benchmark's filters never expire.
      clock: new SystemClock(),
      random: seededRandom(42),
      ...(c.baseline === true ? { baselineForBenchmarks: true } : {}),
    });
    const allocator = this.allocator;
    const role = c.volumes === true ? "role1" : "*";
    const frameworkIds: string[] = [];
    for (let i = 0; i < c.frameworks; i++) {
      const id = `framework-${i}`;
      frameworkIds.push(id);
      allocator.addFramework(id, frameworkInfo(id, [role]));
    }
    collectGarbage();
    const heap1 = heapMb();
    const base = res("cpus:24;mem:4096;disk:4096;ports:[31000-32000]");
    const used = usedResources(role);
    for (let i = 0; i < c.agents; i++) {
      const id = `agent-${i}`;
      const total = c.volumes === true ? base.plus(volume(i, role)) : base;
      const owner = frameworkIds[i % c.frameworks] as string;
      allocator.addAgent(
        id,
        { id: { value: id }, hostname: id },
        AGENT_CAPABILITIES,
        undefined,
        total,
        new Map([[owner, used]]),
      );
    }
    // Adding frameworks and agents asked for allocations; start from a clean slate.
    allocator.takeCandidates();
    this.setupMs = performance.now() - setupStart;
    // Time the cycles, not the collection of setup garbage.
    collectGarbage();
    this.heapAfterSetup = heapMb();
    this.heapKbPerFramework = ((heap1 - heap0) * 1024) / c.frameworks;
    this.heapKbPerAgent = ((this.heapAfterSetup - heap1) * 1024) / c.agents;
    this.rounds = c.rounds ?? 2 * c.frameworks;
    const evictMb = c.evictMb ?? 0;
    this.evictBuffer = evictMb > 0 ? new Float64Array((evictMb * 2 ** 20) / 8) : undefined;
  }

  get done(): boolean {
    return this.samples.length >= this.rounds;
  }

  /** Declines the previous round's offers, then runs and times one cycle. */
  async step(): Promise<void> {
    const allocator = this.allocator;
    const d0 = performance.now();
    for (const o of this.offers) {
      allocator.recoverResources(o.frameworkId, o.agentId, o.resources, {
        refuse_seconds: INT_MAX,
      });
    }
    const declineWallMs = performance.now() - d0;
    if (this.evictBuffer !== undefined) this.evictSink += evictCaches(this.evictBuffer);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let sample: RoundSample;
    if (this.c.sliced === true) {
      const measured = await withLoopMonitor(() =>
        allocator.allocateInSlices({ sliceMs: 10, yieldToEventLoop }),
      );
      const stats = measured.result.stats;
      this.offers = measured.result.offers;
      sample = {
        wallMs: measured.ms,
        cpuMs: cpuMsSince(cpu0),
        offers: this.offers.length,
        declineWallMs,
        checks: stats.frameworkChecks,
        maxBlockMs: Math.max(measured.maxBlockMs, stats.longestSliceMs),
      };
    } else {
      const result = allocator.allocate();
      const wallMs = performance.now() - t0;
      this.offers = result.offers;
      sample = {
        wallMs,
        cpuMs: cpuMsSince(cpu0),
        offers: this.offers.length,
        declineWallMs,
        checks: result.stats.frameworkChecks,
        maxBlockMs: wallMs,
      };
    }
    this.samples.push(sample);
  }

  /** Runs every remaining round. */
  async runAll(): Promise<this> {
    while (!this.done) await this.step();
    return this;
  }

  /** Summary numbers for the report (`memory`: heap figures, meaningful only for a run alone). */
  summary(memory = false): Record<string, number> {
    const s = this.samples;
    const productive = s.filter((x) => x.offers > 0);
    const filtered = s.filter((x) => x.offers === 0);
    const mean = (xs: number[]) =>
      xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
    const prodCpu = median(productive.map((x) => x.cpuMs));
    const filtCpu = median(filtered.map((x) => x.cpuMs));
    const filters = this.allocator.offerFilterCount();
    const walls = s.map((x) => x.wallMs).sort((a, b) => a - b);
    const out: Record<string, number> = {
      rounds: s.length,
      median_productive_cycle_cpu_ms: prodCpu,
      mean_productive_cycle_ms: mean(productive.map((x) => x.wallMs)),
      median_productive_cycle_ms: median(productive.map((x) => x.wallMs)),
      median_filtered_cycle_cpu_ms: filtered.length === 0 ? Number.NaN : filtCpu,
      // Mesos runs 2F rounds: F productive ones, then F fully filtered ones.
      mean_over_2F_rounds_ms:
        (mean(productive.map((x) => x.wallMs)) + mean(filtered.map((x) => x.wallMs))) / 2,
      p95_cycle_ms: walls[Math.floor(0.95 * (walls.length - 1))] ?? Number.NaN,
      max_cycle_ms: walls[walls.length - 1] ?? Number.NaN,
      max_block_ms: Math.max(...s.map((x) => x.maxBlockMs)),
      median_decline_round_ms: median(s.map((x) => x.declineWallMs)),
      offers: s.reduce((a, x) => a + x.offers, 0),
      framework_checks_per_cycle: Math.round(mean(s.map((x) => x.checks))),
      filters,
      setup_ms: this.setupMs,
    };
    if (memory) {
      collectGarbage();
      out.heap_kb_per_framework = this.heapKbPerFramework;
      out.heap_kb_per_agent = this.heapKbPerAgent;
      out.heap_b_per_filter =
        filters === 0 ? 0 : ((heapMb() - this.heapAfterSetup) * 2 ** 20) / filters;
      out.rss_mb = process.memoryUsage().rss / 2 ** 20;
    }
    return out;
  }
}

/** Steps every run one round at a time, in turn, until all are done. */
export async function interleave(runs: DeclineRun[]): Promise<void> {
  while (runs.some((r) => !r.done)) {
    for (const r of runs) if (!r.done) await r.step();
  }
}

/**
 * One size in a process of its own (`--child AGENTS FRAMEWORKS ROUNDS
 * plain|volume [EVICT_MB]`): a JIT warm-up, then the plain and the volume variants
 * interleaved (plain alone with `plain`); prints `{"plain": summary,
 * "volume": summary}`. The scaling runs use a fresh
 * process per size so that no size pays for another's heap (a 10k x 1k run
 * holds ten million filters, which every later collection would walk).
 */
async function runChild(args: string[]): Promise<void> {
  const [agents, frameworks, rounds] = args.slice(0, 3).map(Number) as [number, number, number];
  const withVolume = args[3] !== "plain";
  const evictMb = Number(args[4] ?? 0);
  const loadStart = loadavg()[0] as number;
  await new DeclineRun({ agents: 1000, frameworks: 100, rounds: 60 }).runAll();
  const plain = new DeclineRun({ agents, frameworks, rounds, evictMb });
  const volume = withVolume
    ? new DeclineRun({ agents, frameworks, rounds, volumes: true, evictMb })
    : undefined;
  await interleave(volume === undefined ? [plain] : [plain, volume]);
  // The machine's load while this size ran (the parent's row shows it at report time).
  const load = { child_load_1m: (loadStart + (loadavg()[0] as number)) / 2 };
  const out = {
    plain: { ...plain.summary(), ...load },
    ...(volume === undefined ? {} : { volume: { ...volume.summary(), ...load } }),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

/**
 * One size as a lock-step child (`--lockstep-child AGENTS FRAMEWORKS ROUNDS
 * [EVICT_MB]`,
 * see bench/lib/lockstep.ts): the JIT warm-up, then one round of the plain
 * variant per request, answering its cycle's CPU time (counted when the
 * cycle made offers: the productive cycles, as in the summaries).
 */
function runLockstepChild(args: string[]): Promise<void> {
  const [agents, frameworks, rounds] = args.slice(0, 3).map(Number) as [number, number, number];
  const evictMb = Number(args[3] ?? 0);
  return serveLockstep(async () => {
    await new DeclineRun({ agents: 1000, frameworks: 100, rounds: 60 }).runAll();
    const run = new DeclineRun({ agents, frameworks, rounds, evictMb });
    return {
      rounds: run.rounds,
      step: async () => {
        await run.step();
        const last = run.samples[run.samples.length - 1] as RoundSample;
        return { sample: last.cpuMs, counted: last.offers > 0 };
      },
    };
  });
}

/** `node dist/bench/run.js allocator-decline`: this family only (see bench/allocator.ts). */
export async function run(args: string[]): Promise<void> {
  if (args[0] === "--child") return runChild(args.slice(1));
  if (args[0] === "--lockstep-child") return runLockstepChild(args.slice(1));
  const { run: runAll } = await import("./allocator.js");
  await runAll(["decline", ...args]);
}
