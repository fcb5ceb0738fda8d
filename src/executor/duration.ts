/**
 * Duration helpers for the executor, on top of the flags module's stout-style
 * `Duration` (a dependency-free file, cheap to load at executor start-up).
 */
import { Duration } from "../common/flags/duration.js";

/** Parses a Mesos duration (`250ms`, `5secs`, `15mins`) into milliseconds, or an error message. */
export function parseDuration(text: string): number | { error: string } {
  const parsed = Duration.parse(text);
  return parsed.ok ? parsed.value.toMs() : { error: `'${text}': ${parsed.error}` };
}

/** Milliseconds of a `DurationInfo.nanoseconds` (int64 as number or string); undefined if unusable. */
export function nanosToMs(nanoseconds: number | string | undefined): number | undefined {
  if (nanoseconds === undefined) return undefined;
  const n = typeof nanoseconds === "string" ? Number(nanoseconds) : nanoseconds;
  return Number.isFinite(n) ? n / 1e6 : undefined;
}

/** Formats milliseconds as Mesos prints durations in logs (`3secs`, `250ms`). */
export function formatDuration(ms: number): string {
  return Duration.milliseconds(ms).toString();
}
