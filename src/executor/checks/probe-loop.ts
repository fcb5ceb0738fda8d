/**
 * The schedule both checkers share: the first probe `delay` after start,
 * each probe bounded by `timeout`, the next one `interval` after the
 * previous finished (so probes never overlap).
 */
import type { Clock, TimerHandle } from "../../common/time/clock.js";
import type { CheckTiming } from "./check-info.js";
import type { ProbeResult, Prober, RunningProbe } from "./probe.js";

/** Runs `prober` on `timing` and hands each outcome to `done`. */
export class ProbeLoop {
  private timer: TimerHandle | undefined;
  private running: RunningProbe | undefined;
  private generation = 0;
  private stopped = true;

  constructor(
    private readonly clock: Clock,
    private readonly prober: Prober,
    private readonly timing: CheckTiming,
    private readonly done: (result: ProbeResult) => void,
  ) {}

  /** Schedules the first probe after the delay. */
  start(): void {
    this.stopped = false;
    this.schedule(this.timing.delayMs);
  }

  /** Stops for good: no further probe starts and no pending result is reported. */
  stop(): void {
    this.stopped = true;
    this.generation++;
    if (this.timer !== undefined) this.clock.cancelTimer(this.timer);
    this.timer = undefined;
    void this.running?.cancel();
    this.running = undefined;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimer(ms, () => {
      this.timer = undefined;
      this.probe();
    });
  }

  private probe(): void {
    if (this.stopped) return;
    const generation = ++this.generation;
    let probe: RunningProbe;
    try {
      probe = this.prober.start();
    } catch (err) {
      this.finish(generation, { error: (err as Error).message });
      return;
    }
    this.running = probe;
    if (this.timing.timeoutMs > 0) {
      const seconds = this.timing.timeoutMs / 1000;
      this.timer = this.clock.setTimer(this.timing.timeoutMs, () => {
        this.timer = undefined;
        const ended = probe.cancel();
        this.finish(
          generation,
          { error: `${this.prober.kind} check timed out after ${seconds}s` },
          ended ?? undefined,
        );
      });
    }
    probe.result.then(
      (result) => this.finish(generation, result),
      (err: unknown) => this.finish(generation, { error: String(err) }),
    );
  }

  /** `ended`: the next probe waits for what the cancelled one started to end. */
  private finish(generation: number, result: ProbeResult, ended?: Promise<void>): void {
    // A result that lost the race against its timeout (or came after stop) is dropped.
    if (generation !== this.generation || this.stopped) return;
    this.generation++;
    this.running = undefined;
    if (this.timer !== undefined) this.clock.cancelTimer(this.timer);
    this.timer = undefined;
    this.done(result);
    if (ended === undefined) {
      this.schedule(this.timing.intervalMs);
      return;
    }
    // The interval starts once it has ended (its time is not the next probe's).
    const after = this.generation;
    void ended.then(
      () => {
        if (after === this.generation) this.schedule(this.timing.intervalMs);
      },
      () => {
        if (after === this.generation) this.schedule(this.timing.intervalMs);
      },
    );
  }
}
