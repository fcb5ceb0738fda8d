/**
 * Runs the allocator on the master's event loop: a full ("batch") cycle
 * every `--allocation_interval`, and a cycle over just the affected agents
 * soon after events that add or free resources (batched: many events in one
 * turn of the loop give one cycle). Cycles run in slices so no single
 * stretch blocks the loop for long, and never overlap; requests that arrive
 * during a cycle are served by one more cycle right after it.
 */

import type { Clock, TimerHandle } from "../../common/time/clock.js";
import type { HierarchicalAllocator } from "./hierarchical-allocator.js";
import type { CycleStats, InverseOfferAllocation, OfferAllocation } from "./types.js";

export interface AllocatorDriverOptions {
  allocator: HierarchicalAllocator;
  clock: Clock;
  /** Batch interval, ms (default: the allocator's `--allocation_interval`). */
  intervalMs?: number;
  /** Delay before an event-driven cycle, ms, to batch events (default 0). */
  batchDelayMs?: number;
  /** Longest synchronous slice, ms (default 10). */
  sliceMs?: number;
  /** Yields to the event loop between slices (default: a 0 ms timer on `clock`). */
  yieldToEventLoop?: () => Promise<void>;
  onOffers: (offers: OfferAllocation[]) => void;
  onInverseOffers?: (inverseOffers: InverseOfferAllocation[]) => void;
  /**
   * Called after each cycle (metrics: `allocator/mesos/allocation_runs`, run
   * time...). `waitedMs`: from the request that made the cycle pending to its
   * start (`allocator/mesos/allocation_run_latency`).
   */
  onCycle?: (stats: CycleStats, kind: "batch" | "event", waitedMs: number) => void;
  /** Called when a cycle throws (a bug); the driver keeps going. */
  onError?: (error: unknown) => void;
}

export class AllocatorDriver {
  private readonly intervalMs: number;
  private readonly batchDelayMs: number;
  private readonly sliceMs: number;
  private readonly yieldFn: () => Promise<void>;
  private periodic: TimerHandle | undefined;
  private soonTimer: TimerHandle | undefined;
  private running = false;
  /** Monotonic time of the first request not yet served by a cycle. */
  private requestedAt: number | undefined;
  private pendingBatch = false;
  private pendingEvent = false;
  private started = false;
  /** Stats of the most recent cycle. */
  lastStats: CycleStats | undefined;
  /** Number of cycles run. */
  runs = 0;

  constructor(private readonly options: AllocatorDriverOptions) {
    this.intervalMs = options.intervalMs ?? options.allocator.intervalMs;
    this.batchDelayMs = options.batchDelayMs ?? 0;
    this.sliceMs = options.sliceMs ?? 10;
    const clock = options.clock;
    this.yieldFn =
      options.yieldToEventLoop ??
      (() =>
        new Promise<void>((resolve) => {
          clock.setTimer(0, resolve);
        }));
  }

  /** Starts periodic cycles and event-driven ones. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const allocator = this.options.allocator;
    allocator.initialize({
      offers: this.options.onOffers,
      ...(this.options.onInverseOffers ? { inverseOffers: this.options.onInverseOffers } : {}),
      allocationWanted: () => this.soon(),
    });
    this.schedulePeriodic();
  }

  stop(): void {
    this.started = false;
    if (this.periodic !== undefined) this.options.clock.cancelTimer(this.periodic);
    if (this.soonTimer !== undefined) this.options.clock.cancelTimer(this.soonTimer);
    this.periodic = undefined;
    this.soonTimer = undefined;
    this.options.allocator.initialize({});
  }

  /** True while a cycle is in progress. */
  get busy(): boolean {
    return this.running;
  }

  /** Requests an event-driven cycle over the allocator's pending candidates. */
  soon(): void {
    if (!this.started || this.soonTimer !== undefined) return;
    this.requestedAt ??= this.options.clock.monotonic();
    this.soonTimer = this.options.clock.setTimer(this.batchDelayMs, () => {
      this.soonTimer = undefined;
      this.request("event");
    });
  }

  /** Runs a batch cycle now (or right after the current one). */
  allocateNow(): void {
    this.request("batch");
  }

  private schedulePeriodic(): void {
    if (!this.started) return;
    this.periodic = this.options.clock.setTimer(this.intervalMs, () => {
      this.periodic = undefined;
      this.request("batch");
    });
  }

  private request(kind: "batch" | "event"): void {
    this.requestedAt ??= this.options.clock.monotonic();
    if (kind === "batch") this.pendingBatch = true;
    else this.pendingEvent = true;
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.pendingBatch || this.pendingEvent) {
        const batch = this.pendingBatch;
        this.pendingBatch = false;
        this.pendingEvent = false;
        const startedAt = this.options.clock.monotonic();
        const waitedMs = startedAt - (this.requestedAt ?? startedAt);
        this.requestedAt = undefined;
        const allocator = this.options.allocator;
        const candidates = allocator.takeCandidates();
        const agentIds = batch || candidates === "all" ? undefined : candidates;
        if (agentIds !== undefined && agentIds.size === 0) continue;
        try {
          const result = await allocator.allocateInSlices({
            ...(agentIds !== undefined ? { agentIds } : {}),
            sliceMs: this.sliceMs,
            yieldToEventLoop: this.yieldFn,
            onOffers: this.options.onOffers,
          });
          this.runs++;
          this.lastStats = result.stats;
          this.options.onCycle?.(result.stats, batch ? "batch" : "event", waitedMs);
        } catch (error) {
          this.options.onError?.(error);
        }
        if (batch) this.schedulePeriodic();
      }
    } finally {
      this.running = false;
    }
  }
}
