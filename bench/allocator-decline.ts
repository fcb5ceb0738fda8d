/**
 * A port of Mesos' "DeclineOffers" allocator benchmark: agents with
 * `cpus:24;mem:4096;disk:4096;ports:[31000-32000]`, 16 cpus of each already
 * used by one framework (round robin), one role, and frameworks that decline
 * every offer with an infinite filter. Each round declines the previous
 * round's offers, then times one `allocate()` cycle; after as many rounds as
 * there are frameworks every framework has refused every agent.
 */

import type { Resource, Resources } from "../src/common/resources/index.js";
import { SystemClock } from "../src/common/time/clock.js";
import { seededRandom } from "../src/common/time/random.js";
import { HierarchicalAllocator } from "../src/master/allocator/hierarchical-allocator.js";
import type { OfferAllocation } from "../src/master/allocator/types.js";
import { AGENT_CAPABILITIES, frameworkInfo, res } from "./lib/allocator-fixtures.js";
import { median, withLoopMonitor, yieldToEventLoop } from "./lib/event-loop.js";
import { collectGarbage, heapMb, rssMb } from "./lib/report.js";

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
}

export interface DeclineResult {
  rounds: number;
  /** ms of every cycle, in round order (not reported; for ratios). */
  cycles: number[];
  /** Mean and median ms per allocate() over all rounds. */
  mean_cycle_ms: number;
  median_cycle_ms: number;
  /** Mean ms per cycle over the rounds that still made offers. */
  mean_productive_cycle_ms: number;
  /** Mean ms per cycle once every framework refused every agent. */
  mean_filtered_cycle_ms: number;
  max_cycle_ms: number;
  /** Longest event-loop block measured during the cycles (sliced runs). */
  max_block_ms: number;
  /** Mean ms to handle one round of declines (recoverResources calls). */
  mean_decline_round_ms: number;
  offers: number;
  framework_checks_per_cycle: number;
  rss_mb: number;
  heap_kb_per_framework: number;
  heap_kb_per_agent: number;
  /** Offer filters in force at the end, and heap bytes per filter. */
  filters: number;
  heap_b_per_filter: number;
  setup_ms: number;
}

/** Heap growth since setup per filter (after a full collection). */
function filterBytes(heapAfterSetup: number, filters: number): number {
  if (filters === 0) return 0;
  collectGarbage();
  return ((heapMb() - heapAfterSetup) * 2 ** 20) / filters;
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

export async function declineOffers(c: DeclineCase): Promise<DeclineResult> {
  collectGarbage();
  const heap0 = heapMb();
  const setupStart = performance.now();
  const allocator = new HierarchicalAllocator({
    // Real time: slices are cut by it; the benchmark's filters never expire.
    clock: new SystemClock(),
    random: seededRandom(42),
    ...(c.baseline === true ? { baselineForBenchmarks: true } : {}),
  });
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
  const setupMs = performance.now() - setupStart;
  // Time the cycles, not the collection of setup garbage.
  collectGarbage();
  const heap2 = heapMb();

  const rounds = c.rounds ?? 2 * c.frameworks;
  const cycleMs: number[] = [];
  const productive: number[] = [];
  const filtered: number[] = [];
  const declineMs: number[] = [];
  let offers: OfferAllocation[] = [];
  let total = 0;
  let checks = 0;
  let maxBlock = 0;
  for (let round = 0; round < rounds; round++) {
    const d0 = performance.now();
    for (const o of offers) {
      allocator.recoverResources(o.frameworkId, o.agentId, o.resources, {
        refuse_seconds: INT_MAX,
      });
    }
    declineMs.push(performance.now() - d0);
    let ms: number;
    if (c.sliced === true) {
      const measured = await withLoopMonitor(() =>
        allocator.allocateInSlices({ sliceMs: 10, yieldToEventLoop }),
      );
      ms = measured.ms;
      maxBlock = Math.max(maxBlock, measured.maxBlockMs, measured.result.stats.longestSliceMs);
      offers = measured.result.offers;
      checks += measured.result.stats.frameworkChecks;
    } else {
      const t0 = performance.now();
      const result = allocator.allocate();
      ms = performance.now() - t0;
      maxBlock = Math.max(maxBlock, ms);
      offers = result.offers;
      checks += result.stats.frameworkChecks;
    }
    cycleMs.push(ms);
    (offers.length > 0 ? productive : filtered).push(ms);
    total += offers.length;
  }
  const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  return {
    rounds,
    cycles: cycleMs,
    mean_cycle_ms: mean(cycleMs),
    median_cycle_ms: median(cycleMs),
    mean_productive_cycle_ms: mean(productive),
    mean_filtered_cycle_ms: mean(filtered),
    max_cycle_ms: Math.max(...cycleMs),
    max_block_ms: maxBlock,
    mean_decline_round_ms: mean(declineMs),
    offers: total,
    framework_checks_per_cycle: Math.round(checks / rounds),
    rss_mb: rssMb(),
    heap_kb_per_framework: ((heap1 - heap0) * 1024) / c.frameworks,
    heap_kb_per_agent: ((heap2 - heap1) * 1024) / c.agents,
    filters: allocator.offerFilterCount(),
    heap_b_per_filter: filterBytes(heap2, allocator.offerFilterCount()),
    setup_ms: setupMs,
  };
}

/** `node dist/bench/run.js allocator-decline`: this family only (see bench/allocator.ts). */
export async function run(args: string[]): Promise<void> {
  const { run: runAll } = await import("./allocator.js");
  await runAll(["decline", ...args]);
}
