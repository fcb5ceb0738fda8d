/**
 * A task's health check (`TaskInfo.health_check`), as Mesos runs it:
 *
 * - the first success reports healthy, and so does the first success after
 *   failures;
 * - failures while the task has never been healthy and is still within
 *   `grace_period_seconds` of the checker's start are ignored;
 * - every other failure reports unhealthy with the count of consecutive
 *   failures, and asks for the task to be killed once that count reaches
 *   `consecutive_failures`.
 */

import type { Logger } from "../../common/observability/logger.js";
import type { Clock } from "../../common/time/clock.js";
import type { HealthCheckTiming } from "./check-info.js";
import type { ProbeResult, Prober } from "./probe.js";
import { probeHealthy } from "./probe.js";
import { ProbeLoop } from "./probe-loop.js";

/** One health report (Mesos' `TaskHealthStatus`). */
export interface HealthReport {
  healthy: boolean;
  consecutiveFailures: number;
  /** True when the failure limit is reached: the executor should kill the task. */
  killTask: boolean;
}

/** Runs one health check and reports health transitions and failures. */
export class HealthChecker {
  private readonly loop: ProbeLoop;
  private readonly startedAt: number;
  private initializing = true;
  private failures = 0;

  constructor(
    private readonly clock: Clock,
    prober: Prober,
    private readonly timing: HealthCheckTiming,
    private readonly report: (r: HealthReport) => void,
    private readonly logger?: Logger,
  ) {
    this.startedAt = clock.monotonic();
    this.loop = new ProbeLoop(clock, prober, timing, (r) => this.result(prober.kind, r));
  }

  /** Starts probing (first probe after `delay_seconds`). */
  start(): void {
    this.loop.start();
  }

  /** Stops probing; nothing is reported afterwards. */
  stop(): void {
    this.loop.stop();
  }

  private result(kind: Prober["kind"], r: ProbeResult): void {
    if (r.transient !== undefined) {
      this.logger?.info(`${kind} health check result not available: ${r.transient}`);
      return;
    }
    if (probeHealthy(kind, r)) {
      if (this.initializing || this.failures > 0) {
        this.initializing = false;
        this.failures = 0;
        this.report({ healthy: true, consecutiveFailures: 0, killTask: false });
      }
      return;
    }
    const elapsed = this.clock.monotonic() - this.startedAt;
    if (
      this.initializing &&
      this.timing.gracePeriodMs > 0 &&
      elapsed <= this.timing.gracePeriodMs
    ) {
      this.logger?.info(`Ignoring failed ${kind} health check: still in grace period`);
      return;
    }
    this.failures++;
    const why = r.error ?? describe(kind, r);
    this.logger?.warn(`${kind} health check failed ${this.failures} times consecutively: ${why}`);
    this.report({
      healthy: false,
      consecutiveFailures: this.failures,
      killTask: this.failures >= this.timing.consecutiveFailures,
    });
  }
}

function describe(kind: Prober["kind"], r: ProbeResult): string {
  if (kind === "COMMAND") return `command exited with status ${r.exitCode ?? "unknown"}`;
  if (kind === "HTTP") return `HTTP status ${r.statusCode ?? "unknown"} not in [200, 400)`;
  return "connection failed";
}
