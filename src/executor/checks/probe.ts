/**
 * One run of a check: the interface the checkers schedule, so their timing
 * is tested with fake probes and a manual clock.
 */

/** What one probe observed. */
export interface ProbeResult {
  /** COMMAND: exit status (absent when killed by a signal). */
  exitCode?: number;
  /** HTTP: response status. */
  statusCode?: number;
  /** TCP: whether the connection was established. */
  connected?: boolean;
  /** Why the probe could not produce a result (spawn error, connection refused, ...). */
  error?: string;
  /**
   * Why there is no result this time, for a reason that is not the
   * check's (the agent was unreachable, the check container was killed
   * with its task): nothing is reported, the next probe runs as scheduled.
   */
  transient?: string;
}

/** A running probe. `cancel` stops it (on timeout); its promise may then never settle. */
export interface RunningProbe {
  result: Promise<ProbeResult>;
  /**
   * Stops the probe. A promise: what it started ends only then (a check
   * container being killed), and the next probe is scheduled after that, as
   * Mesos' checker completes a timed-out probe once its container has ended.
   */
  cancel(): void | Promise<void>;
}

/** Starts probes of one kind against one task. */
export interface Prober {
  readonly kind: "COMMAND" | "HTTP" | "TCP";
  start(): RunningProbe;
}

/** Mesos counts HTTP answers in [200, 400) as healthy. */
export function httpStatusHealthy(status: number): boolean {
  return status >= 200 && status < 400;
}

/** Whether a probe result counts as a success for a health check. */
export function probeHealthy(kind: Prober["kind"], r: ProbeResult): boolean {
  if (r.error !== undefined) return false;
  switch (kind) {
    case "COMMAND":
      return r.exitCode === 0;
    case "HTTP":
      return r.statusCode !== undefined && httpStatusHealthy(r.statusCode);
    case "TCP":
      return r.connected === true;
  }
}
