/**
 * Event-loop block measurement for benchmarks: how long the loop was
 * unable to run other work while something executed.
 */

import { monitorEventLoopDelay } from "node:perf_hooks";

/** Times a synchronous function; the whole call blocks the loop. */
export function timeSync<T>(fn: () => T): { result: T; ms: number } {
  const start = performance.now();
  const result = fn();
  return { result, ms: performance.now() - start };
}

/**
 * Runs `fn` (which may yield) while sampling event-loop delay; returns the
 * longest stretch the loop was blocked, in ms (1 ms resolution).
 */
export async function withLoopMonitor<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; ms: number; maxBlockMs: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const start = performance.now();
  const result = await fn();
  const ms = performance.now() - start;
  // Let the histogram take one more sample after the last stretch.
  await new Promise<void>((resolve) => setTimeout(resolve, 2));
  h.disable();
  return { result, ms, maxBlockMs: h.max / 1e6 };
}

/** Yields to the event loop (lets timers and I/O run). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/** Median of a list of numbers. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1
    ? (s[mid] as number)
    : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
