/**
 * A task's general check (`TaskInfo.check`): runs on the same schedule as a
 * health check but only reports its result, never judges the task. A new
 * `CheckStatusInfo` is reported whenever it differs from the previous one;
 * a probe that could not run (timeout, refused HTTP connection) reports the
 * empty status of its type.
 */

import type { Logger } from "../../common/observability/logger.js";
import type { Clock } from "../../common/time/clock.js";
import type { CheckResultInfo, CheckTiming, ProbeKind } from "./check-info.js";
import type { ProbeResult, Prober } from "./probe.js";
import { ProbeLoop } from "./probe-loop.js";

/** The status reported before any result is known: the check's type and an empty result. */
export function emptyCheckResult(kind: ProbeKind): CheckResultInfo {
  if (kind === "COMMAND") return { type: kind, command: {} };
  if (kind === "HTTP") return { type: kind, http: {} };
  return { type: kind, tcp: {} };
}

/** The `CheckStatusInfo` for one probe outcome. */
export function checkResultOf(kind: ProbeKind, r: ProbeResult): CheckResultInfo {
  if (r.error !== undefined) return emptyCheckResult(kind);
  if (kind === "COMMAND") {
    return r.exitCode === undefined
      ? emptyCheckResult(kind)
      : { type: kind, command: { exit_code: r.exitCode } };
  }
  if (kind === "HTTP") {
    return r.statusCode === undefined
      ? emptyCheckResult(kind)
      : { type: kind, http: { status_code: r.statusCode } };
  }
  return { type: kind, tcp: { succeeded: r.connected === true } };
}

function sameResult(a: CheckResultInfo, b: CheckResultInfo): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Runs one check and reports each changed result. */
export class Checker {
  private readonly loop: ProbeLoop;
  private previous: CheckResultInfo;

  constructor(
    clock: Clock,
    prober: Prober,
    timing: CheckTiming,
    private readonly report: (status: CheckResultInfo) => void,
    private readonly logger?: Logger,
  ) {
    this.previous = emptyCheckResult(prober.kind);
    this.loop = new ProbeLoop(clock, prober, timing, (r) => {
      if (r.transient !== undefined) {
        this.logger?.info(`${prober.kind} check result not available: ${r.transient}`);
        return;
      }
      if (r.error !== undefined) this.logger?.warn(`${prober.kind} check failed: ${r.error}`);
      const next = checkResultOf(prober.kind, r);
      if (sameResult(next, this.previous)) return;
      this.previous = next;
      this.report(next);
    });
  }

  /** The latest reported status (empty until a result is known). */
  get latest(): CheckResultInfo {
    return this.previous;
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }
}
