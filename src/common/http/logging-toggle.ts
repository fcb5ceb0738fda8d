/**
 * Temporary verbosity changes: `/logging/toggle?level=N&duration=D` and the
 * v1 GET_LOGGING_LEVEL / SET_LOGGING_LEVEL calls, over the glog logger's
 * `setLevel` (which reverts to the starting verbosity when the duration
 * passes). The rules are libprocess': both parameters or neither (neither
 * answers the current level), a level below the starting one is refused by
 * the endpoint (the v1 call accepts any level, as Mesos).
 */
import { numifyInteger } from "../files/numify.js";
import { Duration } from "../flags/duration.js";
import type { HttpRequest } from "./request.js";
import { badRequest, type HttpResponse, ok } from "./response.js";

/** What the toggle needs from the logger (GlogLogger implements it). */
export interface VerbosityControl {
  /** The VLOG verbosity in force. */
  readonly verbosity: number;
  /** Sets the verbosity for `durationMs`, then back to the starting one. */
  setLevel(level: number, durationMs: number): void;
}

/** The logging level state of one process host. */
export class LoggingLevels {
  /** The verbosity at start (the level changes revert to). */
  readonly original: number;

  constructor(private readonly control: VerbosityControl) {
    this.original = control.verbosity;
  }

  /** The verbosity now (GET_LOGGING_LEVEL). */
  get level(): number {
    return this.control.verbosity;
  }

  /**
   * Sets `level` for `durationMs` (SET_LOGGING_LEVEL). Returns a one-line
   * reason instead when the values are unusable.
   */
  set(level: number, durationMs: number): string | undefined {
    if (!Number.isInteger(level) || level < 0) return `Invalid level '${level}'`;
    if (!Number.isFinite(durationMs)) return `Invalid duration ${durationMs}ms`;
    // A negative duration (v1 Durations are signed) has already passed: the
    // level is set and reverts at once, as in Mesos, rather than refused.
    this.control.setLevel(level, Math.max(0, durationMs));
    return undefined;
  }

  /** `/logging/toggle` (any method, as in Mesos). */
  toggle = (request: HttpRequest): HttpResponse => {
    const level = request.query.get("level");
    const duration = request.query.get("duration");
    if (level === null && duration === null) return ok(`${this.level}\n`);
    if (level !== null && duration === null) {
      return badRequest("Expecting 'duration=value' in query.\n");
    }
    if (level === null) return badRequest("Expecting 'level=value' in query.\n");
    // An `int` in stout's syntax (`0x2` is 2); the error is stout's own line.
    const parsed = numifyInteger(level, 32);
    if (!parsed.ok) return badRequest(`${parsed.error}.\n`);
    const v = parsed.value;
    if (v < 0) return badRequest(`Invalid level '${v}'.\n`);
    if (v < this.original) return badRequest(`'${v}' < original level.\n`);
    const d = Duration.parse(duration ?? "");
    if (!d.ok) return badRequest(`${d.error}.\n`);
    const reason = this.set(v, d.value.ns / 1e6);
    return reason === undefined ? ok() : badRequest(`${reason}.\n`);
  };
}

/** Help text of `/logging/toggle`. */
export const LOGGING_TOGGLE_HELP =
  "Sets the logging verbosity level for a specified duration.\n" +
  "Query: level=N (VLOG verbosity, not below the starting one) and duration=D (e.g. 10secs), " +
  "both or neither; neither answers the current level. The level returns to the starting one " +
  "once the duration has passed.";
