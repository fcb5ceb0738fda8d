/**
 * The allocator benchmarks of issue 3, run together: `npm run bench --
 * allocator [--quick] [decline|sorter|quota]`.
 *
 *  - decline: Mesos' DeclineOffers (plain, with a persistent volume per
 *    agent, sliced, and a straight-port baseline) at 1k/100 .. 10k/1k
 *    agents/frameworks; scaling per doubling of both.
 *  - sorter: Mesos' sorter FullSort (allocate, unallocate, full and no-op sort).
 *  - quota: the same allocations with and without quota; empty vs productive cycle.
 *
 * Every case prints one JSON line and appends a row to docs/benchmarks.md.
 * Cycles are timed after a warm-up (the JIT) and a full collection (setup
 * garbage). Run `node --max-old-space-size=6000 dist/bench/run.js allocator`
 * for the 10k/1k sizes (ten million offer filters at the end).
 */

import { type DeclineResult, declineOffers } from "./allocator-decline.js";
import { quotaCycle } from "./allocator-quota.js";
import { run as runSorter } from "./allocator-sorter.js";
import { median } from "./lib/event-loop.js";
import { reportCase } from "./lib/report.js";

const BENCH = "allocator";

export async function run(args: string[]): Promise<void> {
  const quick = args.includes("--quick");
  const only = args.filter((a) => !a.startsWith("--"));
  const want = (name: string) => only.length === 0 || only.includes(name);
  if (want("sorter")) runSorter(quick ? ["--quick"] : []);
  if (want("quota")) runQuota(quick);
  if (want("decline")) await runDecline(quick);
}

function runQuota(quick: boolean): void {
  // Warm the JIT on a mid size, both variants.
  for (let i = 0; i < 3; i++) {
    quotaCycle(300, false);
    quotaCycle(300, true);
  }
  const sizes = quick ? [30, 300] : [30, 300, 3000];
  const repeats = 5;
  for (const n of sizes) {
    const plain: number[] = [];
    const quota: number[] = [];
    const emptyPlain: number[] = [];
    const emptyQuota: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const a = quotaCycle(n, false);
      const b = quotaCycle(n, true);
      plain.push(a.productive_cycle_ms);
      emptyPlain.push(a.empty_cycle_ms);
      quota.push(b.productive_cycle_ms);
      emptyQuota.push(b.empty_cycle_ms);
    }
    reportCase(BENCH, `quota vs none: ${n} agents, ${n} roles, 1 framework each`, {
      nonquota_cycle_ms: round(median(plain)),
      quota_cycle_ms: round(median(quota)),
      quota_over_nonquota: round(median(quota) / median(plain)),
      empty_cycle_ms: round(median(emptyQuota)),
      empty_over_productive: round(median(emptyQuota) / median(quota)),
      nonquota_empty_over_productive: round(median(emptyPlain) / median(plain)),
    });
  }
}

async function runDecline(quick: boolean): Promise<void> {
  const sizes: [number, number][] = quick
    ? [
        [1000, 100],
        [2000, 200],
        [4000, 400],
      ]
    : [
        [1000, 100],
        [2500, 250],
        [5000, 500],
        [10000, 1000],
      ];
  // Warm-up (not reported).
  await declineOffers({ agents: 1000, frameworks: 100, rounds: 120 });
  // The cycles after every framework refused every agent all look the same;
  // we run up to 50 of them rather than all remaining F.
  const roundsFor = (f: number) => f + Math.min(f, 50);
  const results = new Map<string, DeclineResult>();
  for (const [agents, frameworks] of sizes) {
    for (const volumes of [false, true]) {
      const r = await declineOffers({ agents, frameworks, volumes, rounds: roundsFor(frameworks) });
      results.set(`${agents}/${frameworks}/${volumes}`, r);
      // Mesos runs 2F rounds: F productive ones and F fully filtered ones.
      const mesosMean = (r.mean_productive_cycle_ms + r.mean_filtered_cycle_ms) / 2;
      reportCase(
        BENCH,
        `decline offers${volumes ? " + volume" : ""}: ${agents} agents x ${frameworks} frameworks`,
        {
          ...declineRow(r),
          mean_over_2F_rounds_ms: round(mesosMean),
        },
      );
    }
  }
  // Scaling per doubling (of agents and frameworks together).
  for (const volumes of [false, true]) {
    for (let i = 1; i < sizes.length; i++) {
      const [a0, f0] = sizes[i - 1] as [number, number];
      const [a1, f1] = sizes[i] as [number, number];
      const r0 = results.get(`${a0}/${f0}/${volumes}`) as DeclineResult;
      const r1 = results.get(`${a1}/${f1}/${volumes}`) as DeclineResult;
      const doublings = Math.log2(a1 / a0);
      const per = (x0: number, x1: number) => round((x1 / x0) ** (1 / doublings));
      reportCase(
        BENCH,
        `decline offers${volumes ? " + volume" : ""} scaling ${a0}/${f0} -> ${a1}/${f1}`,
        {
          productive_cycle_per_doubling: per(
            r0.mean_productive_cycle_ms,
            r1.mean_productive_cycle_ms,
          ),
          median_cycle_per_doubling: per(r0.median_cycle_ms, r1.median_cycle_ms),
          filtered_cycle_per_doubling: per(r0.mean_filtered_cycle_ms, r1.mean_filtered_cycle_ms),
          decline_round_per_doubling: per(r0.mean_decline_round_ms, r1.mean_decline_round_ms),
        },
      );
    }
  }
  // Against a straight port in the same process: same rounds, same sizes.
  for (const [agents, frameworks] of sizes.slice(0, 2)) {
    const rounds = Math.min(frameworks + 5, 60);
    const ours = await declineOffers({ agents, frameworks, rounds });
    const naive = await declineOffers({ agents, frameworks, rounds, baseline: true });
    reportCase(
      BENCH,
      `decline offers vs straight port: ${agents} x ${frameworks}, first ${rounds} rounds`,
      {
        ours_mean_cycle_ms: round(ours.mean_cycle_ms),
        baseline_mean_cycle_ms: round(naive.mean_cycle_ms),
        baseline_over_ours: round(naive.mean_cycle_ms / ours.mean_cycle_ms),
      },
    );
  }
  // Event-loop blocking: the largest size, cycles in 10 ms slices.
  const [agents, frameworks] = sizes[sizes.length - 1] as [number, number];
  const sliced = await declineOffers({ agents, frameworks, sliced: true, rounds: 30 });
  reportCase(BENCH, `decline offers sliced (10 ms): ${agents} x ${frameworks}, 30 rounds`, {
    mean_cycle_ms: round(sliced.mean_cycle_ms),
    max_block_ms: round(sliced.max_block_ms),
    unsliced_max_cycle_ms: round(
      (results.get(`${agents}/${frameworks}/false`) as DeclineResult).max_cycle_ms,
    ),
  });
}

function declineRow(r: DeclineResult): Record<string, number> {
  const { cycles: _cycles, ...rest } = r;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(rest)) out[k] = round(v);
  return out;
}

function round(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(4)) : v;
}
