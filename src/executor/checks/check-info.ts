/**
 * JSON shapes of `mesos.v1.HealthCheck`, `mesos.v1.CheckInfo` and
 * `mesos.v1.CheckStatusInfo` as executors read them, plus their defaults
 * turned into milliseconds. Types only apart from `healthCheckTiming` and
 * `checkTiming`.
 */
import type { CommandInfo } from "../protocol.js";

/** `HealthCheck.HTTPCheckInfo` / `CheckInfo.Http`. */
export interface HttpCheckSpec {
  /** `http` (default) or `https` (health checks only). */
  scheme?: string;
  port?: number;
  /** Request path; must start with '/' (default '/'). */
  path?: string;
  /** `IPv4` (default: 127.0.0.1) or `IPv6` (::1); health checks only. */
  protocol?: string;
}

/** `HealthCheck.TCPCheckInfo` / `CheckInfo.Tcp`. */
export interface TcpCheckSpec {
  port?: number;
  /** `IPv4` (default: 127.0.0.1) or `IPv6` (::1); health checks only. */
  protocol?: string;
}

/** The probe of a check or health check. */
export type ProbeKind = "COMMAND" | "HTTP" | "TCP";

/** `mesos.v1.HealthCheck`. */
export interface HealthCheckInfo {
  type?: "UNKNOWN" | ProbeKind;
  command?: CommandInfo;
  http?: HttpCheckSpec;
  tcp?: TcpCheckSpec;
  delay_seconds?: number;
  interval_seconds?: number;
  timeout_seconds?: number;
  consecutive_failures?: number;
  grace_period_seconds?: number;
}

/** `mesos.v1.CheckInfo`. */
export interface CheckInfo {
  type?: "UNKNOWN" | ProbeKind;
  command?: { command?: CommandInfo };
  http?: HttpCheckSpec;
  tcp?: TcpCheckSpec;
  delay_seconds?: number;
  interval_seconds?: number;
  timeout_seconds?: number;
}

/** `mesos.v1.CheckStatusInfo`: the latest result of a check (empty while unknown). */
export interface CheckResultInfo {
  type?: "UNKNOWN" | ProbeKind;
  command?: { exit_code?: number };
  http?: { status_code?: number };
  tcp?: { succeeded?: boolean };
}

/** When and how long probes run, in milliseconds. */
export interface CheckTiming {
  delayMs: number;
  intervalMs: number;
  /** 0 means no timeout. */
  timeoutMs: number;
}

/** Health check timing plus when failures count and kill. */
export interface HealthCheckTiming extends CheckTiming {
  consecutiveFailures: number;
  gracePeriodMs: number;
}

// Mesos' proto defaults (seconds).
const DEFAULT_DELAY_S = 15;
const DEFAULT_INTERVAL_S = 10;
const DEFAULT_TIMEOUT_S = 20;
const DEFAULT_CONSECUTIVE_FAILURES = 3;
const DEFAULT_GRACE_PERIOD_S = 10;

function seconds(value: number | undefined, fallback: number): number {
  const s = typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : fallback;
  return s * 1000;
}

/** The timing of a `CheckInfo`, defaults filled in. */
export function checkTiming(check: CheckInfo | HealthCheckInfo): CheckTiming {
  return {
    delayMs: seconds(check.delay_seconds, DEFAULT_DELAY_S),
    intervalMs: seconds(check.interval_seconds, DEFAULT_INTERVAL_S),
    timeoutMs: seconds(check.timeout_seconds, DEFAULT_TIMEOUT_S),
  };
}

/** The timing of a `HealthCheck`, defaults filled in. */
export function healthCheckTiming(check: HealthCheckInfo): HealthCheckTiming {
  const failures = check.consecutive_failures;
  return {
    ...checkTiming(check),
    consecutiveFailures:
      // 0 is kept: as in Mesos, the first counted failure then kills.
      typeof failures === "number" && Number.isFinite(failures) && failures >= 0
        ? Math.floor(failures)
        : DEFAULT_CONSECUTIVE_FAILURES,
    gracePeriodMs: seconds(check.grace_period_seconds, DEFAULT_GRACE_PERIOD_S),
  };
}
