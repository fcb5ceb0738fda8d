/**
 * A metrics registry in the manner of libprocess' metrics: named counters,
 * gauges (pushed values, or pulled: computed when a snapshot is taken) and
 * timers, rendered as the flat `/metrics/snapshot` JSON object Mesos serves
 * and as Prometheus text.
 *
 * A timer named `x` appears as `x_ms` (its latest value) plus the window's
 * statistics `x_ms/count`, `/max`, `/min`, `/p50`, `/p90`, `/p95`, `/p99`,
 * `/p999`, `/p9999` (only once it holds two samples, as in Mesos).
 *
 * Prometheus mapping (beyond Mesos): every name is prefixed `mesos_` and
 * each character outside `[A-Za-z0-9_]` becomes `_` (so
 * `master/tasks_running` is `mesos_master_tasks_running`, and
 * `master/frameworks/my%20fw/<id>/calls` loses its punctuation the same
 * way). Counters are `counter`, gauges `gauge`; a timer `x` is a `summary`
 * `mesos_x_ms` with `quantile` labels 0.5 ... 0.9999, `_count` and `_sum`
 * over its window, plus gauges `mesos_x_ms_last`, `_min` and `_max`. When
 * two names sanitise to the same text, the first in name order wins.
 */
import type { Clock } from "../time/clock.js";

/** The values a pulled gauge may produce. */
export type GaugeValue = number | Promise<number>;

/** A monotonically increasing count. */
export interface Counter {
  readonly name: string;
  /** Adds `n` (default 1). */
  inc(n?: number): void;
  readonly value: number;
}

/** A gauge whose value is set by its owner. */
export interface PushGauge {
  readonly name: string;
  set(value: number): void;
  inc(n?: number): void;
  dec(n?: number): void;
  readonly value: number;
}

/** A timed event: record durations in milliseconds. */
export interface Timer {
  /** `<name>_ms` */
  readonly name: string;
  /** Records one duration in milliseconds. */
  record(ms: number): void;
  /** Runs `fn`, recording how long it took (also when it throws). */
  time<T>(fn: () => T): T;
}

/** Window statistics of a timer (or any sample set). */
export interface Statistics {
  count: number;
  sum: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  p9999: number;
}

const PERCENTILES: readonly [keyof Statistics, number][] = [
  ["p50", 0.5],
  ["p90", 0.9],
  ["p95", 0.95],
  ["p99", 0.99],
  ["p999", 0.999],
  ["p9999", 0.9999],
];

/** Linear interpolation between the closest ranks of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  const position = p * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const a = sorted[lower] ?? 0;
  const b = sorted[upper] ?? a;
  return a + (b - a) * (position - lower);
}

/** Statistics of `values`, or undefined with fewer than two (as libprocess). */
export function statisticsOf(values: readonly number[]): Statistics | undefined {
  if (values.length < 2) return undefined;
  const sorted = [...values].sort((x, y) => x - y);
  let sum = 0;
  for (const v of sorted) sum += v;
  const s: Statistics = {
    count: sorted.length,
    sum,
    min: sorted[0] ?? 0,
    max: sorted[sorted.length - 1] ?? 0,
    p50: 0,
    p90: 0,
    p95: 0,
    p99: 0,
    p999: 0,
    p9999: 0,
  };
  for (const [key, p] of PERCENTILES) s[key] = percentile(sorted, p);
  return s;
}

/** Default timer window (one hour, as Mesos' master and allocator timers). */
export const DEFAULT_TIMER_WINDOW_MS = 3_600_000;
/** Samples a timer keeps at most (libprocess' time series capacity). */
export const TIMER_CAPACITY = 1000;

/** What a registered name is. */
export type MetricKind = "counter" | "gauge" | "timer";

interface Entry {
  kind: MetricKind;
  /** Current value (counters, push gauges, timers' last value); pulled gauges use `pull`. */
  read: () => GaugeValue | undefined;
  stats?: () => Statistics | undefined;
}

class TimerImpl implements Timer {
  readonly name: string;
  last: number | undefined;
  private readonly times: number[] = [];
  private readonly values: number[] = [];

  constructor(
    base: string,
    private readonly clock: Clock,
    /** null: no window (only the latest value), as libprocess' timers without one. */
    private readonly windowMs: number | null,
  ) {
    this.name = `${base}_ms`;
  }

  record(ms: number): void {
    this.last = ms;
    if (this.windowMs === null) return;
    this.times.push(this.clock.monotonic());
    this.values.push(ms);
    // Drop the oldest half at once when full, so recording stays O(1) amortised.
    if (this.values.length > TIMER_CAPACITY) {
      const drop = this.values.length - TIMER_CAPACITY / 2;
      this.times.splice(0, drop);
      this.values.splice(0, drop);
    }
  }

  time<T>(fn: () => T): T {
    const start = this.clock.monotonic();
    try {
      return fn();
    } finally {
      this.record(this.clock.monotonic() - start);
    }
  }

  stats(): Statistics | undefined {
    if (this.windowMs === null) return undefined;
    const cutoff = this.clock.monotonic() - this.windowMs;
    let first = 0;
    while (first < this.times.length && (this.times[first] ?? 0) < cutoff) first++;
    if (first > 0) {
      this.times.splice(0, first);
      this.values.splice(0, first);
    }
    return statisticsOf(this.values);
  }
}

/** A snapshot: metric name -> value, names sorted. */
export type MetricsSnapshot = Record<string, number>;

/**
 * The registry of one process host (shared by the master and agents of
 * `mesos-local`, as libprocess' metrics are process-wide). Registering a
 * name twice replaces the older metric.
 */
export class MetricsRegistry {
  private readonly entries = new Map<string, Entry>();
  /** Window sums of timers at the last snapshot, for Prometheus `_sum`. */
  private readonly sums = new Map<string, number>();

  constructor(private readonly clock: Clock) {}

  /** A counter starting at 0. */
  counter(name: string): Counter {
    let value = 0;
    const c: Counter = {
      name,
      inc: (n = 1) => {
        value += n;
      },
      get value() {
        return value;
      },
    };
    this.entries.set(name, { kind: "counter", read: () => value });
    return c;
  }

  /**
   * A counter whose count its owner keeps elsewhere, read when a snapshot is
   * taken (it is a `counter` to Prometheus, unlike a pulled gauge).
   */
  counterFrom(name: string, read: () => number): void {
    this.entries.set(name, { kind: "counter", read });
  }

  /** A gauge whose value its owner sets. */
  pushGauge(name: string, initial = 0): PushGauge {
    let value = initial;
    const g: PushGauge = {
      name,
      set: (v) => {
        value = v;
      },
      inc: (n = 1) => {
        value += n;
      },
      dec: (n = 1) => {
        value -= n;
      },
      get value() {
        return value;
      },
    };
    this.entries.set(name, { kind: "gauge", read: () => value });
    return g;
  }

  /**
   * A gauge computed when a snapshot is taken. `pull` may return a promise
   * (the snapshot's `timeout` bounds the wait); a throw or rejection leaves
   * the metric out of that snapshot.
   */
  gauge(name: string, pull: () => GaugeValue): void {
    this.entries.set(name, { kind: "gauge", read: pull });
  }

  /**
   * A timer `name` (shown as `<name>_ms`), with statistics over `windowMs`;
   * `null` keeps only the latest value (no `/count`, `/p50`, ...).
   */
  timer(name: string, windowMs: number | null = DEFAULT_TIMER_WINDOW_MS): Timer {
    const t = new TimerImpl(name, this.clock, windowMs);
    this.entries.set(t.name, { kind: "timer", read: () => t.last, stats: () => t.stats() });
    return t;
  }

  /** Removes a metric (a timer by its `<name>_ms`). */
  remove(name: string): void {
    this.entries.delete(name);
  }

  /** Removes every metric whose name starts with `prefix`. */
  removePrefix(prefix: string): void {
    for (const name of [...this.entries.keys()]) {
      if (name.startsWith(prefix)) this.entries.delete(name);
    }
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Registered names (timers as `<name>_ms`), sorted. */
  names(): string[] {
    return [...this.entries.keys()].sort();
  }

  /**
   * Every metric's value. Pulled gauges that have not answered within
   * `timeoutMs` (no limit when undefined) are left out, as Mesos does.
   */
  async snapshot(timeoutMs?: number): Promise<MetricsSnapshot> {
    const { values, pending } = this.collect();
    if (pending.length > 0) {
      let timer: ReturnType<Clock["setTimer"]> | undefined;
      const all = Promise.all(
        pending.map(async ([name, p]) => {
          try {
            const v = await p;
            values.set(name, v);
          } catch {
            // A failed gauge is omitted.
          }
        }),
      );
      if (timeoutMs === undefined) await all;
      else {
        await Promise.race([
          all,
          new Promise<void>((resolve) => {
            timer = this.clock.setTimer(timeoutMs, resolve);
          }),
        ]);
        if (timer !== undefined) this.clock.cancelTimer(timer);
      }
    }
    return this.render(values);
  }

  /** The snapshot without waiting: pulled gauges that return promises are left out. */
  snapshotNow(): MetricsSnapshot {
    return this.render(this.collect().values);
  }

  /** Prometheus text exposition of a snapshot (see the module comment for the mapping). */
  async prometheus(timeoutMs?: number): Promise<string> {
    const snap = await this.snapshot(timeoutMs);
    return renderPrometheus(
      snap,
      (name) => this.entries.get(name)?.kind,
      (name) => this.sums.get(name) ?? 0,
    );
  }

  private collect(): {
    values: Map<string, number>;
    pending: [string, Promise<number>][];
  } {
    const values = new Map<string, number>();
    const pending: [string, Promise<number>][] = [];
    for (const [name, e] of this.entries) {
      let v: GaugeValue | undefined;
      try {
        v = e.read();
      } catch {
        continue;
      }
      if (v === undefined) continue;
      if (typeof v === "number") values.set(name, v);
      else pending.push([name, v]);
    }
    return { values, pending };
  }

  private render(values: Map<string, number>): MetricsSnapshot {
    const out = new Map<string, number>(values);
    for (const [name, e] of this.entries) {
      const s = e.stats?.();
      if (s === undefined) continue;
      out.set(`${name}/count`, s.count);
      out.set(`${name}/max`, s.max);
      out.set(`${name}/min`, s.min);
      for (const [key] of PERCENTILES) out.set(`${name}/${key}`, s[key]);
      this.sums.set(name, s.sum);
    }
    const result: MetricsSnapshot = {};
    for (const name of [...out.keys()].sort()) result[name] = out.get(name) ?? 0;
    return result;
  }
}

/** `mesos_` + the name with every character outside `[A-Za-z0-9_]` turned into `_`. */
export function prometheusName(name: string): string {
  return `mesos_${name.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

function promNumber(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

const STAT_SUFFIXES = new Set(["count", "max", "min", ...PERCENTILES.map(([k]) => k)]);
const QUANTILE: Record<string, string> = {
  p50: "0.5",
  p90: "0.9",
  p95: "0.95",
  p99: "0.99",
  p999: "0.999",
  p9999: "0.9999",
};

/** Renders a snapshot as Prometheus text; `kindOf` names each base metric's kind. */
export function renderPrometheus(
  snap: MetricsSnapshot,
  kindOf: (name: string) => MetricKind | undefined,
  sumOf: (timerName: string) => number = () => 0,
): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  const emit = (promName: string, type: string, samples: string[]): void => {
    if (seen.has(promName)) return;
    seen.add(promName);
    lines.push(`# TYPE ${promName} ${type}`, ...samples);
  };
  for (const [name, value] of Object.entries(snap)) {
    const kind = kindOf(name);
    if (kind === "counter" || kind === "gauge") {
      const p = prometheusName(name);
      emit(p, kind, [`${p} ${promNumber(value)}`]);
      continue;
    }
    if (kind === "timer") {
      const p = prometheusName(name);
      emit(`${p}_last`, "gauge", [`${p}_last ${promNumber(value)}`]);
      continue;
    }
    // A statistic of a timer: `<timer>/<stat>`.
    const slash = name.lastIndexOf("/");
    const base = name.slice(0, slash);
    const stat = name.slice(slash + 1);
    if (slash < 0 || kindOf(base) !== "timer" || !STAT_SUFFIXES.has(stat)) continue;
    const p = prometheusName(base);
    if (stat === "count") {
      const samples: string[] = [];
      for (const [k, q] of Object.entries(QUANTILE)) {
        const v = snap[`${base}/${k}`];
        if (v !== undefined) samples.push(`${p}{quantile="${q}"} ${promNumber(v)}`);
      }
      samples.push(`${p}_sum ${promNumber(sumOf(base))}`);
      samples.push(`${p}_count ${promNumber(value)}`);
      emit(p, "summary", samples);
    } else if (stat === "min" || stat === "max") {
      emit(`${p}_${stat}`, "gauge", [`${p}_${stat} ${promNumber(value)}`]);
    }
  }
  return `${lines.join("\n")}\n`;
}
