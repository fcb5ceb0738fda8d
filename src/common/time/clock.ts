/**
 * The only place that touches real time. Everything that needs "now" or a
 * timer takes a `Clock`, so tests can drive time by hand (`ManualClock`).
 */

/** An opaque handle to a scheduled timer. */
export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  /** Wall-clock milliseconds since the Unix epoch. */
  now(): number;
  /** Monotonic milliseconds (fractional), for measuring intervals. */
  monotonic(): number;
  /** Runs `fn` once after `delayMs` (clamped to >= 0). */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  cancelTimer(handle: TimerHandle): void;
}

/** The real clock: `Date.now`, `performance.now` and Node timers. */
export class SystemClock implements Clock {
  private nextId = 1;
  private readonly timers = new Map<number, NodeJS.Timeout>();

  now(): number {
    return Date.now();
  }

  monotonic(): number {
    return performance.now();
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    const t = setTimeout(
      () => {
        this.timers.delete(id);
        fn();
      },
      Math.max(0, delayMs),
    );
    this.timers.set(id, t);
    return { id };
  }

  cancelTimer(handle: TimerHandle): void {
    const t = this.timers.get(handle.id);
    if (t !== undefined) {
      clearTimeout(t);
      this.timers.delete(handle.id);
    }
  }
}

interface PendingTimer {
  id: number;
  due: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that only moves when told to. Timers fire in due order (ties in
 * the order they were set) during `advance`.
 */
export class ManualClock implements Clock {
  private current: number;
  private mono = 0;
  private nextId = 1;
  private seq = 0;
  private readonly pending = new Map<number, PendingTimer>();

  constructor(startMs = 1_700_000_000_000) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  monotonic(): number {
    return this.mono;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    this.pending.set(id, { id, due: this.mono + Math.max(0, delayMs), seq: this.seq++, fn });
    return { id };
  }

  cancelTimer(handle: TimerHandle): void {
    this.pending.delete(handle.id);
  }

  /** Number of timers not yet fired. */
  get pendingTimers(): number {
    return this.pending.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.mono + ms;
    for (;;) {
      let next: PendingTimer | undefined;
      for (const t of this.pending.values()) {
        if (
          t.due <= target &&
          (next === undefined || t.due < next.due || (t.due === next.due && t.seq < next.seq))
        ) {
          next = t;
        }
      }
      if (next === undefined) break;
      this.pending.delete(next.id);
      this.current += next.due - this.mono;
      this.mono = next.due;
      next.fn();
    }
    this.current += target - this.mono;
    this.mono = target;
  }
}

/** The process-wide real clock, for binaries' `main` to inject. */
export const systemClock: Clock = new SystemClock();

/**
 * Calls `fn` every `intervalMs` on `clock` until the returned function is
 * called (nothing is scheduled for a zero interval).
 */
export function repeatEvery(clock: Clock, intervalMs: number, fn: () => void): () => void {
  if (!(intervalMs > 0)) return () => {};
  let stopped = false;
  let timer: TimerHandle;
  const tick = () => {
    fn();
    if (!stopped) timer = clock.setTimer(intervalMs, tick);
  };
  timer = clock.setTimer(intervalMs, tick);
  return () => {
    stopped = true;
    clock.cancelTimer(timer);
  };
}
