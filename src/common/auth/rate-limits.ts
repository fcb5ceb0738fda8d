/**
 * Framework rate limiting (`--rate_limits`): calls from frameworks are
 * processed at most `qps` per second per principal; up to `capacity` calls
 * may be outstanding (queued, answered late); one more is refused, and the
 * framework is told (an ERROR event). Principals not listed share the
 * aggregate default limiter; a listed principal without `qps` is not
 * throttled. As in Mesos, `capacity: 0` refuses every call.
 */
import { err, ok, type Result } from "../errors/result.js";
import type { Clock, TimerHandle } from "../time/clock.js";

/** One entry of `limits`. */
export interface RateLimit {
  readonly principal: string;
  /** Absent: this principal is not throttled. */
  readonly qps?: number;
  /** Most outstanding calls; absent: unlimited. */
  readonly capacity?: number;
}

/** Parsed `--rate_limits`. */
export interface RateLimits {
  readonly limits: readonly RateLimit[];
  readonly aggregateDefaultQps?: number;
  readonly aggregateDefaultCapacity?: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A number given as a JSON string (`"qps": "5"`) counts as that number, as
 * stout's JSON-to-protobuf conversion reads numeric fields.
 */
function numeric(v: unknown): unknown {
  if (typeof v !== "string" || v.trim() === "") return v;
  try {
    const parsed: unknown = JSON.parse(v);
    return typeof parsed === "number" ? parsed : v;
  } catch {
    return v;
  }
}

function positive(raw: unknown, where: string): Result<number | undefined, string> {
  const v = numeric(raw);
  if (v === undefined) return ok(undefined);
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    return err(`${where} must be a positive number`);
  }
  return ok(v);
}

function count(raw: unknown, where: string): Result<number | undefined, string> {
  const v = numeric(raw);
  if (v === undefined) return ok(undefined);
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
    return err(`${where} must be a non-negative integer`);
  }
  return ok(v);
}

/** Parses the `--rate_limits` JSON (already decoded); errors name the field. */
export function parseRateLimits(json: unknown): Result<RateLimits, string> {
  if (!isObject(json)) return err("expected a JSON object");
  // Keys other than Mesos' RateLimits fields are ignored, as stout's
  // JSON-to-protobuf conversion skips them.
  const limits: RateLimit[] = [];
  const seen = new Set<string>();
  if (json.limits !== undefined) {
    if (!Array.isArray(json.limits)) return err("'limits' must be an array");
    for (const [i, item] of json.limits.entries()) {
      const where = `limits[${i}]`;
      if (!isObject(item)) return err(`${where}: expected an object`);
      if (typeof item.principal !== "string" || item.principal === "") {
        return err(`${where}: 'principal' is required`);
      }
      if (seen.has(item.principal)) return err(`${where}: duplicate principal '${item.principal}'`);
      seen.add(item.principal);
      const qps = positive(item.qps, `${where}.qps`);
      if (!qps.ok) return qps;
      const capacity = count(item.capacity, `${where}.capacity`);
      if (!capacity.ok) return capacity;
      limits.push({
        principal: item.principal,
        ...(qps.value === undefined ? {} : { qps: qps.value }),
        ...(capacity.value === undefined ? {} : { capacity: capacity.value }),
      });
    }
  }
  const qps = positive(json.aggregate_default_qps, "aggregate_default_qps");
  if (!qps.ok) return qps;
  const capacity = count(json.aggregate_default_capacity, "aggregate_default_capacity");
  if (!capacity.ok) return capacity;
  return ok({
    limits,
    ...(qps.value === undefined ? {} : { aggregateDefaultQps: qps.value }),
    ...(capacity.value === undefined ? {} : { aggregateDefaultCapacity: capacity.value }),
  });
}

/** What happens to one call. */
export type Admission =
  | { readonly kind: "now" }
  | { readonly kind: "later"; readonly ready: Promise<void> }
  | { readonly kind: "refused"; readonly message: string };

const NOW: Admission = { kind: "now" };

/**
 * One throttle: calls are released one every 1/qps seconds, in arrival
 * order; at most `capacity` wait. Mesos counts a call as outstanding until
 * it is processed, so with `capacity: 0` none gets through; with more, the
 * call processed at once never counts against the waiting ones.
 */
class Throttle {
  private readonly intervalMs: number;
  private nextFreeMs = Number.NEGATIVE_INFINITY;
  private readonly waiting: (() => void)[] = [];
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    qps: number,
    readonly capacity: number | undefined,
  ) {
    this.intervalMs = 1000 / qps;
  }

  get outstanding(): number {
    return this.waiting.length;
  }

  admit(): Admission {
    if (this.capacity !== undefined && this.waiting.length >= this.capacity) {
      // Mesos' wording (the caller names the message type in place of "Message").
      return { kind: "refused", message: `Message dropped: capacity(${this.capacity}) exceeded` };
    }
    const now = this.clock.monotonic();
    if (this.waiting.length === 0 && now >= this.nextFreeMs) {
      this.nextFreeMs = now + this.intervalMs;
      return NOW;
    }
    const ready = new Promise<void>((resolve) => this.waiting.push(resolve));
    this.schedule();
    return { kind: "later", ready };
  }

  private schedule(): void {
    if (this.timer !== undefined || this.waiting.length === 0) return;
    const delay = Math.max(0, this.nextFreeMs - this.clock.monotonic());
    this.timer = this.clock.setTimer(delay, () => {
      this.timer = undefined;
      const next = this.waiting.shift();
      if (next !== undefined) {
        this.nextFreeMs = this.clock.monotonic() + this.intervalMs;
        next();
      }
      this.schedule();
    });
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.cancelTimer(this.timer);
    this.timer = undefined;
    for (const w of this.waiting.splice(0)) w();
  }
}

/** Throttles calls per principal as `--rate_limits` says. */
export class FrameworkRateLimiter {
  private readonly byPrincipal = new Map<string, Throttle | null>();
  private readonly aggregate: Throttle | undefined;

  constructor(
    readonly limits: RateLimits,
    clock: Clock,
  ) {
    for (const l of limits.limits) {
      this.byPrincipal.set(
        l.principal,
        l.qps === undefined ? null : new Throttle(clock, l.qps, l.capacity),
      );
    }
    if (limits.aggregateDefaultQps !== undefined) {
      this.aggregate = new Throttle(
        clock,
        limits.aggregateDefaultQps,
        limits.aggregateDefaultCapacity,
      );
    }
  }

  /** Admits a call from a framework of `principal` (undefined: no principal). */
  admit(principal: string | undefined): Admission {
    const own = principal === undefined ? undefined : this.byPrincipal.get(principal);
    if (own === null) return NOW;
    const throttle = own ?? this.aggregate;
    return throttle === undefined ? NOW : throttle.admit();
  }

  /** Releases everything waiting (master stopping). */
  stop(): void {
    for (const t of this.byPrincipal.values()) t?.stop();
    this.aggregate?.stop();
  }
}
