/**
 * The allocator benchmarks of issue 3, run together: `npm run bench --
 * allocator [--quick] [--repeats=N[,N...]] [--volume-once] [--no-volume]
 * [--scaling-only] [--lockstep=N] [--decompose=N] [--pin] [--evict-mb=N]
 * [decline|sorter|quota]`.
 *
 *  - decline: Mesos' DeclineOffers (plain, with a persistent volume per
 *    agent, sliced, and a straight-port baseline) at 1k/100 .. 10k/1k
 *    agents/frameworks (`--sizes=A/F,...` for others); scaling per doubling
 *    of both (each size in a fresh process, N repeats, default 3, or
 *    6,6,6,1 with `--scaling-only`; sizes rotated; medians, the children's
 *    spread, and the median over every (small, big) pair of children); then
 *    the same steps from the two sizes of each step run in lock-step
 *    (`--lockstep=N` pairs per step, default 1, or 3 with `--scaling-only`;
 *    0 skips them); with `--decompose=N`, N lock-step pairs for each half
 *    of the last step (agents doubled alone, frameworks doubled alone);
 *    `--pin` runs each lock-step child on a processor of its own;
 *    `--evict-mb=N` has every child read through N MB before each timed
 *    cycle, so that all sizes start their cycles from the same cold caches.
 *  - sorter: Mesos' sorter FullSort (allocate, unallocate, full and no-op sort).
 *  - quota: the same allocations with and without quota; empty vs productive
 *    cycle; issue 10's cycle with 100 roles under quota vs none.
 *
 * Every case prints one JSON line and appends a row to docs/benchmarks.md.
 * Cycles are timed after a warm-up (the JIT) and a full collection (setup
 * garbage). Run `node --max-old-space-size=6000 dist/bench/run.js allocator`
 * for the 10k/1k sizes (ten million offer filters at the end).
 */

import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DeclineRun, interleave } from "./allocator-decline.js";
import { quotaCycle, rolesQuotaCycle } from "./allocator-quota.js";
import { run as runSorter } from "./allocator-sorter.js";
import { median } from "./lib/event-loop.js";
import { runLockstep } from "./lib/lockstep.js";
import { reportCase } from "./lib/report.js";

const BENCH = "allocator";

export async function run(args: string[]): Promise<void> {
  const quick = args.includes("--quick");
  // --repeats=N, or one count per size (--repeats=3,3,3,1: the 10k x 1k size
  // alone takes minutes of CPU per repeat).
  // The scaling runs alone default to six children per size (one at 10k x 1k):
  // processes differ by 1.5-2x on this machine, so fewer make a noisy median.
  const scalingOnly = args.includes("--scaling-only");
  const repeatsArg =
    args.find((a) => a.startsWith("--repeats="))?.slice(10) ?? (scalingOnly ? "6,6,6,1" : "3");
  const repeats = repeatsArg.split(",").map((x) => Math.max(1, Number(x) || 1));
  // --sizes=2500/250,5000/500: only these (agents/frameworks) sizes, in this order.
  const sizesArg = args.find((a) => a.startsWith("--sizes="))?.slice(8);
  const sizes = sizesArg?.split(",").map((x) => x.split("/").map(Number) as [number, number]);
  const options: DeclineOptions = {
    repeats,
    volumeOnce: args.includes("--volume-once"),
    noVolume: args.includes("--no-volume"),
    scalingOnly,
    ...(sizes === undefined ? {} : { sizes }),
    lockstep: Number(
      args.find((a) => a.startsWith("--lockstep="))?.slice(11) ?? (scalingOnly ? 3 : 1),
    ),
    decompose: Number(args.find((a) => a.startsWith("--decompose="))?.slice(12) ?? 0),
    pin: args.includes("--pin"),
    evictMb: Number(args.find((a) => a.startsWith("--evict-mb="))?.slice(11) ?? 0) || 0,
  };
  const only = args.filter((a) => !a.startsWith("--"));
  const want = (name: string) => only.length === 0 || only.includes(name);
  if (want("sorter")) runSorter(quick ? ["--quick"] : []);
  if (want("quota")) runQuota(quick);
  if (want("decline")) await runDecline(quick, options);
}

function runQuota(quick: boolean): void {
  // Warm the JIT on a mid size, both variants.
  for (let i = 0; i < 3; i++) {
    quotaCycle(300, false);
    quotaCycle(300, true);
  }
  // Issue 10: 100 roles under quota vs none, alternating, medians.
  {
    const none: number[] = [];
    const quota: number[] = [];
    for (let r = 0; r < (quick ? 3 : 7); r++) {
      none.push(rolesQuotaCycle(false));
      quota.push(rolesQuotaCycle(true));
    }
    reportCase(BENCH, "allocation cycle, 100 roles under quota vs none: 1000 agents", {
      none_cycle_ms: round(median(none)),
      quota_cycle_ms: round(median(quota)),
      quota_over_none: round(median(quota) / median(none)),
    });
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

interface DeclineOptions {
  /** Repeats per size (the last count applies to the remaining sizes). */
  repeats: number[];
  /** Run the persistent-volume variant in the first repeat only. */
  volumeOnce: boolean;
  /** Never run the persistent-volume variant (a shorter scaling check). */
  noVolume: boolean;
  /** Only the scaling runs (no straight-port, memory or sliced cases). */
  scalingOnly: boolean;
  /** Sizes (agents, frameworks) instead of the default ones. */
  sizes?: [number, number][];
  /** Lock-step pairs per scaling step (0: none; see `lockstepScaling`). */
  lockstep: number;
  /** Megabytes each child reads through before every timed cycle (0: none). */
  evictMb: number;
  /** Lock-step pairs per half of the last step (0: none; see `decomposedScaling`). */
  decompose: number;
  /** Lock-step children pinned to processors of their own (see `runLockstep`). */
  pin: boolean;
}

async function runDecline(quick: boolean, options: DeclineOptions): Promise<void> {
  const sizes: [number, number][] =
    options.sizes ??
    (quick
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
        ]);
  // The cycles after every framework refused every agent all look the same;
  // we run up to 50 of them rather than all remaining F.
  const roundsFor = (f: number) => f + Math.min(f, 50);
  // Each size runs in a fresh process (see allocator-decline.ts), `repeats`
  // times, the order of sizes rotated every repeat so that a burst of load
  // on this shared machine does not always hit the same size.
  const repeatsOf = (i: number) =>
    options.repeats[Math.min(i, options.repeats.length - 1)] as number;
  const most = Math.max(...sizes.map((_, i) => repeatsOf(i)));
  const results = new Map<string, ChildResult[]>();
  for (let r = 0; r < most; r++) {
    for (let k = 0; k < sizes.length; k++) {
      const i = (k + r) % sizes.length;
      if (r >= repeatsOf(i)) continue;
      const [agents, frameworks] = sizes[i] as [number, number];
      const volume = !options.noVolume && (r === 0 || !options.volumeOnce);
      const got = await runChildProcess(
        agents,
        frameworks,
        roundsFor(frameworks),
        volume,
        options.evictMb,
      );
      const key = `${agents}/${frameworks}`;
      // Progress, and every child's figure (the rows give medians and spreads).
      process.stderr.write(
        `decline child ${key} repeat ${r + 1}: ${round(got.plain?.median_productive_cycle_cpu_ms ?? Number.NaN)} ms CPU, load ${round(got.plain?.child_load_1m ?? Number.NaN)}\n`,
      );
      results.set(key, [...(results.get(key) ?? []), got]);
    }
  }
  const variants = ["plain", "volume"] as const;
  const medians = new Map<string, Record<string, number>>();
  for (const [agents, frameworks] of sizes) {
    const all = results.get(`${agents}/${frameworks}`) ?? [];
    for (const variant of variants) {
      const runs = all.filter((x) => x[variant] !== undefined);
      if (runs.length === 0) continue;
      const summary = medianSummary(runs.map((x) => x[variant] as Record<string, number>));
      medians.set(`${agents}/${frameworks}/${variant}`, summary);
      // The spread of the children's figures: how far one process may be off.
      const each = runs.map((x) => x[variant]?.median_productive_cycle_cpu_ms as number);
      reportCase(
        BENCH,
        `decline offers${variant === "volume" ? " + volume" : ""}${evictedLabel(options.evictMb)}: ${agents} agents x ${frameworks} frameworks`,
        {
          repeats: runs.length,
          ...rounded(summary),
          productive_cycle_cpu_ms_min: round(Math.min(...each)),
          productive_cycle_cpu_ms_max: round(Math.max(...each)),
        },
      );
    }
  }
  // Growth per doubling of agents and frameworks together. A step of x2.5
  // (1k -> 2.5k) is normalised to a doubling: ratio^(ln 2 / ln 2.5), i.e.
  // ratio^(1 / log2(step)). Ratios of the medians over the repeats, and the
  // smallest and largest ratio of one repeat's pair (run close in time).
  for (const variant of variants) {
    for (let i = 1; i < sizes.length; i++) {
      const [a0, f0] = sizes[i - 1] as [number, number];
      const [a1, f1] = sizes[i] as [number, number];
      const r0 = medians.get(`${a0}/${f0}/${variant}`);
      const r1 = medians.get(`${a1}/${f1}/${variant}`);
      if (r0 === undefined || r1 === undefined) continue;
      const exponent = 1 / Math.log2(a1 / a0);
      const per = (k: string) => round(((r1[k] as number) / (r0[k] as number)) ** exponent);
      const k = "median_productive_cycle_cpu_ms";
      const pairs = (results.get(`${a1}/${f1}`) ?? []).flatMap((x, j) => {
        const y = (results.get(`${a0}/${f0}`) ?? [])[j];
        const t1 = x[variant]?.[k];
        const t0 = y?.[variant]?.[k];
        return t1 === undefined || t0 === undefined ? [] : [(t1 / t0) ** exponent];
      });
      const times = (a: number, f: number) =>
        (results.get(`${a}/${f}`) ?? []).flatMap((x) => {
          const t = x[variant]?.[k];
          return t === undefined ? [] : [t];
        });
      // The fastest repeat of each size: the one least disturbed by other
      // processes on a shared machine (CPU time still grows under load).
      const best = (a: number, f: number) => Math.min(...times(a, f));
      // Every (small, big) combination of children: a ratio estimate that
      // does not hang on which repeats happened to run next to each other.
      const cross = times(a1, f1).flatMap((t1) => times(a0, f0).map((t0) => (t1 / t0) ** exponent));
      reportCase(
        BENCH,
        `decline offers${variant === "volume" ? " + volume" : ""}${evictedLabel(options.evictMb)} scaling ${a0}/${f0} -> ${a1}/${f1}`,
        {
          size_step: a1 / a0,
          productive_cycle_per_doubling: per("median_productive_cycle_cpu_ms"),
          productive_cycle_per_doubling_cross_median: round(median(cross)),
          productive_cycle_per_doubling_pairs_median: round(median(pairs)),
          pairs: pairs.length,
          productive_cycle_per_doubling_min: round(Math.min(...pairs)),
          productive_cycle_per_doubling_max: round(Math.max(...pairs)),
          productive_cycle_per_doubling_best: round((best(a1, f1) / best(a0, f0)) ** exponent),
          productive_wall_per_doubling: per("median_productive_cycle_ms"),
          filtered_cycle_per_doubling: per("median_filtered_cycle_cpu_ms"),
          decline_round_per_doubling: per("median_decline_round_ms"),
        },
      );
    }
  }
  const children: ChildOptions = { pin: options.pin, evictMb: options.evictMb };
  await lockstepScaling(sizes, roundsFor, options.lockstep, children);
  await decomposedScaling(sizes, roundsFor, options.decompose, children);
  if (options.scalingOnly) return;
  // Against a straight port in the same process: same rounds, interleaved
  // (after a warm-up of the JIT in this process).
  await new DeclineRun({ agents: 1000, frameworks: 100, rounds: 60 }).runAll();
  for (const [agents, frameworks] of sizes.slice(0, 2)) {
    const rounds = frameworks + 10;
    const ours = new DeclineRun({ agents, frameworks, rounds });
    const naive = new DeclineRun({ agents, frameworks, rounds, baseline: true });
    await interleave([ours, naive]);
    const cpu = (r: DeclineRun) => r.samples.reduce((a, x) => a + x.cpuMs, 0) / r.samples.length;
    const last = (r: DeclineRun) => median(r.samples.slice(frameworks).map((x) => x.cpuMs));
    reportCase(
      BENCH,
      `decline offers vs straight port: ${agents} x ${frameworks}, ${rounds} rounds`,
      {
        ours_mean_cycle_cpu_ms: round(cpu(ours)),
        baseline_mean_cycle_cpu_ms: round(cpu(naive)),
        baseline_over_ours: round(cpu(naive) / cpu(ours)),
        ours_filtered_cycle_cpu_ms: round(last(ours)),
        baseline_filtered_cycle_cpu_ms: round(last(naive)),
      },
    );
  }
  // Memory, measured on a run alone (the interleaved runs share one heap).
  {
    const [agents, frameworks] = sizes[Math.min(2, sizes.length - 1)] as [number, number];
    const alone = await new DeclineRun({ agents, frameworks, rounds: frameworks + 1 }).runAll();
    const m = alone.summary(true);
    reportCase(
      BENCH,
      `decline offers memory: ${agents} x ${frameworks}, every agent refused by all`,
      {
        heap_kb_per_agent: round(m.heap_kb_per_agent as number),
        heap_kb_per_framework: round(m.heap_kb_per_framework as number),
        filters: m.filters as number,
        heap_b_per_filter: round(m.heap_b_per_filter as number),
        rss_mb: round(m.rss_mb as number),
      },
    );
  }
  // Event-loop blocking: the largest size, cycles in 10 ms slices.
  const [agents, frameworks] = sizes[sizes.length - 1] as [number, number];
  const sliced = await new DeclineRun({ agents, frameworks, sliced: true, rounds: 30 }).runAll();
  const unsliced = medians.get(`${agents}/${frameworks}/plain`) as Record<string, number>;
  const s = sliced.summary();
  reportCase(BENCH, `decline offers sliced (10 ms): ${agents} x ${frameworks}, 30 rounds`, {
    median_cycle_ms: round(median(sliced.samples.map((x) => x.wallMs))),
    max_block_ms: round(s.max_block_ms as number),
    unsliced_median_cycle_ms: round(unsliced.median_productive_cycle_ms as number),
    unsliced_p95_cycle_ms: round(unsliced.p95_cycle_ms as number),
  });
}

/**
 * Growth per doubling from pairs of children run in lock-step (plain
 * variant): the two sizes of a step, each in a process of its own, take
 * turns round by round (bench/lib/lockstep.ts), so that a slow stretch of
 * the machine meets both. Per pair, the ratio of the two children's median
 * productive cycle CPU; the row gives the median over `repeats` pairs.
 */
async function lockstepScaling(
  sizes: [number, number][],
  roundsFor: (frameworks: number) => number,
  repeats: number,
  children: ChildOptions,
): Promise<void> {
  const steps: LockstepStep[] = [];
  for (let i = 1; i < sizes.length; i++) {
    const from = sizes[i - 1] as [number, number];
    const to = sizes[i] as [number, number];
    steps.push({ from, to, label: "lock-step scaling" });
  }
  await lockstepSteps(steps, roundsFor, repeats, children);
}

/**
 * The last step of `sizes` split in two (`--decompose=N`): agents doubled
 * with the frameworks kept, and frameworks doubled with the agents kept, so
 * a row says which of the two dimensions the growth past x2 comes from.
 */
async function decomposedScaling(
  sizes: [number, number][],
  roundsFor: (frameworks: number) => number,
  repeats: number,
  children: ChildOptions,
): Promise<void> {
  if (sizes.length < 2) return;
  const [a0, f0] = sizes[sizes.length - 2] as [number, number];
  const [a1, f1] = sizes[sizes.length - 1] as [number, number];
  await lockstepSteps(
    [
      { from: [a0, f0], to: [a1, f0], label: "lock-step agents only" },
      { from: [a0, f0], to: [a0, f1], label: "lock-step frameworks only" },
    ],
    roundsFor,
    repeats,
    children,
  );
}

/** How the children of the scaling runs run. */
interface ChildOptions {
  /** Each lock-step child on a processor of its own. */
  pin: boolean;
  /** Megabytes read through before every timed cycle (0: none). */
  evictMb: number;
}

/** Row name suffix for children that evict the caches before each cycle. */
function evictedLabel(evictMb: number): string {
  return evictMb > 0 ? ` (caches evicted: ${evictMb} MB)` : "";
}

interface LockstepStep {
  from: [number, number];
  to: [number, number];
  /** Row name part, e.g. "lock-step scaling". */
  label: string;
}

async function lockstepSteps(
  steps: LockstepStep[],
  roundsFor: (frameworks: number) => number,
  repeats: number,
  children: ChildOptions,
): Promise<void> {
  if (repeats <= 0) return;
  const script = join(dirname(fileURLToPath(import.meta.url)), "run.js");
  const { pin, evictMb } = children;
  const child = (a: number, f: number) => ({
    args: [
      "allocator-decline",
      "--lockstep-child",
      String(a),
      String(f),
      String(roundsFor(f)),
      String(evictMb),
    ],
  });
  // A step may grow agents, frameworks or both: normalised by the larger factor.
  const stepOf = ({ from, to }: LockstepStep) => Math.max(to[0] / from[0], to[1] / from[1]);
  const ratios = new Map<number, { ratio: number; small: number; big: number }[]>();
  for (let r = 0; r < repeats; r++) {
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i] as LockstepStep;
      const [a0, f0] = step.from;
      const [a1, f1] = step.to;
      const [s0, s1] = await runLockstep(
        script,
        ["--max-old-space-size=6000"],
        [child(a0, f0), child(a1, f1)],
        { pin },
      );
      const small = median(s0 as number[]);
      const big = median(s1 as number[]);
      const ratio = (big / small) ** (1 / Math.log2(stepOf(step)));
      process.stderr.write(
        `decline ${step.label} ${a0}/${f0} -> ${a1}/${f1} repeat ${r + 1}: ${round(small)} -> ${round(big)} ms CPU, x${round(ratio)} per doubling\n`,
      );
      ratios.set(i, [...(ratios.get(i) ?? []), { ratio, small, big }]);
    }
  }
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i] as LockstepStep;
    const [a0, f0] = step.from;
    const [a1, f1] = step.to;
    const got = ratios.get(i) ?? [];
    const each = got.map((x) => x.ratio);
    reportCase(
      BENCH,
      `decline offers ${step.label}${pin ? " (pinned)" : ""}${evictedLabel(evictMb)} ${a0}/${f0} -> ${a1}/${f1}`,
      {
        size_step: stepOf(step),
        repeats: got.length,
        productive_cycle_per_doubling: round(median(each)),
        productive_cycle_per_doubling_min: round(Math.min(...each)),
        productive_cycle_per_doubling_max: round(Math.max(...each)),
        small_productive_cycle_cpu_ms: round(median(got.map((x) => x.small))),
        big_productive_cycle_cpu_ms: round(median(got.map((x) => x.big))),
      },
    );
  }
}

type ChildResult = Partial<Record<"plain" | "volume", Record<string, number>>>;

/** Runs one size in a fresh process (6 GB heap: ten million filters at 10k x 1k). */
function runChildProcess(
  agents: number,
  frameworks: number,
  rounds: number,
  volume: boolean,
  evictMb: number,
): Promise<ChildResult> {
  const script = join(dirname(fileURLToPath(import.meta.url)), "run.js");
  const args = ["--max-old-space-size=6000", script, "allocator-decline", "--child"];
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [
        ...args,
        String(agents),
        String(frameworks),
        String(rounds),
        volume ? "volume" : "plain",
        String(evictMb),
      ],
      { maxBuffer: 1 << 24 },
      (error, stdout, stderr) => {
        if (error !== null) {
          reject(
            new Error(`decline child ${agents}x${frameworks} failed: ${error.message}\n${stderr}`),
          );
          return;
        }
        const last = stdout.trim().split("\n").pop() ?? "";
        resolve(JSON.parse(last) as ChildResult);
      },
    );
  });
}

/** Per key, the median over several summaries. */
function medianSummary(summaries: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of Object.keys(summaries[0] ?? {})) {
    out[key] = median(summaries.map((s) => s[key] as number).filter((v) => Number.isFinite(v)));
  }
  return out;
}

function rounded(summary: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(summary)) out[k] = round(v);
  return out;
}

function round(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(4)) : v;
}
