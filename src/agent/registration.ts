/**
 * The agent's side of its connection to the master, as a state machine on
 * an injected clock (Mesos' `detected` / `doReliableRegistration` /
 * `registered` / `ping` / `pingTimeout`):
 *
 * - DISCONNECTED: (re-)registration attempts go out with randomised
 *   exponential backoff: the first after a random time in
 *   [0, --registration_backoff_factor], then each retry after a random time
 *   in [0, bound] where the bound starts at twice the factor and doubles up
 *   to one minute.
 * - RUNNING: registered; the master pings and we pong. No ping within the
 *   total ping timeout (the master's `agent_ping_timeout x
 *   max_agent_ping_timeouts`, 75 s by default) means the master is gone:
 *   back to DISCONNECTED and re-register. A ping saying "not connected" or
 *   a broken connection to the master does the same.
 * - TERMINATING: the agent is shutting down; nothing more is attempted.
 */
import type { Logger } from "../common/observability/logger.js";
import type { Clock, TimerHandle } from "../common/time/clock.js";
import type { RandomSource } from "../common/time/random.js";

/** Mesos' REGISTER_RETRY_INTERVAL_MAX. */
export const REGISTER_RETRY_INTERVAL_MAX_MS = 60_000;
/** Mesos' default total ping timeout: 15 s x 5 pings. */
export const DEFAULT_MASTER_PING_TIMEOUT_MS = 75_000;

export type ConnectionState = "DISCONNECTED" | "RUNNING" | "TERMINATING";

/** What the link asks of the agent. */
export interface RegistrationHooks {
  /** Send one RegisterSlaveMessage (or ReregisterSlaveMessage) to `master`. */
  attempt(master: string): void;
  /** The agent is now registered (or re-registered) with `master`. */
  connected(master: string): void;
  /** The agent lost its master (status updates should pause). */
  disconnected(): void;
  /** Answer a ping. */
  pong(master: string): void;
}

export interface MasterLinkOptions {
  clock: Clock;
  random: RandomSource;
  logger: Logger;
  /** `--registration_backoff_factor` in ms. */
  backoffFactorMs: number;
  hooks: RegistrationHooks;
}

/** The registration state machine. */
export class MasterLink {
  private stateValue: ConnectionState = "DISCONNECTED";
  private masterPid: string | undefined;
  private registrationTimer: TimerHandle | undefined;
  private pingTimer: TimerHandle | undefined;
  private pingTimeoutMs = DEFAULT_MASTER_PING_TIMEOUT_MS;
  /** Number of registration messages sent since the last disconnection (for logs and tests). */
  attempts = 0;

  constructor(private readonly options: MasterLinkOptions) {}

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** The master's UPID text, once detected. */
  get master(): string | undefined {
    return this.masterPid;
  }

  /** The current total ping timeout. */
  get masterPingTimeoutMs(): number {
    return this.pingTimeoutMs;
  }

  /**
   * A master was detected (at start-up, or again after losing it): become
   * DISCONNECTED and start registering after a random share of the backoff
   * factor.
   */
  detected(master: string): void {
    if (this.stateValue === "TERMINATING") return;
    const wasRunning = this.stateValue === "RUNNING";
    this.stateValue = "DISCONNECTED";
    this.cancelPing();
    this.cancelRegistration();
    if (wasRunning) this.options.hooks.disconnected();
    this.masterPid = master;
    this.attempts = 0;
    this.options.logger.info(`New master detected at ${master}`);
    const factor = this.options.backoffFactorMs;
    const delay = factor * this.options.random.next();
    this.registrationTimer = this.options.clock.setTimer(delay, () =>
      this.doReliableRegistration(factor * 2),
    );
  }

  /**
   * No leading master is known any more (ZooKeeper names none, e.g. our
   * session expired): as Mesos' agent, DISCONNECTED without a master, so
   * whatever the former master sends is ignored until a leader is
   * detected again.
   */
  lost(): void {
    if (this.stateValue === "TERMINATING") return;
    const wasRunning = this.stateValue === "RUNNING";
    this.stateValue = "DISCONNECTED";
    this.cancelPing();
    this.cancelRegistration();
    if (wasRunning) this.options.hooks.disconnected();
    this.masterPid = undefined;
    this.options.logger.info("Lost leading master");
  }

  /**
   * SlaveRegisteredMessage or SlaveReregisteredMessage arrived from `from`.
   * Returns false (and changes nothing) when it is not from our master.
   */
  registered(from: string, totalPingTimeoutSeconds: number | undefined): boolean {
    if (from !== this.masterPid && this.isSameMasterElsewhere(from)) {
      // We dialled the master under one address (e.g. 127.0.0.1) and it
      // advertises another: adopt the one it answers with, or nothing it
      // sends later would be recognised.
      this.options.logger.info(
        `Master ${this.masterPid ?? ""} answers as ${from}; using that address`,
      );
      this.masterPid = from;
    }
    if (from !== this.masterPid) {
      this.options.logger.warn(
        `Ignoring registration message from ${from} because it is not the expected master: ${this.masterPid ?? "None"}`,
      );
      return false;
    }
    if (this.stateValue === "TERMINATING") return false;
    this.pingTimeoutMs =
      totalPingTimeoutSeconds === undefined
        ? DEFAULT_MASTER_PING_TIMEOUT_MS
        : Math.trunc(totalPingTimeoutSeconds) * 1000;
    const wasRunning = this.stateValue === "RUNNING";
    this.stateValue = "RUNNING";
    this.cancelRegistration();
    this.armPingTimer();
    if (!wasRunning) this.options.hooks.connected(from);
    return true;
  }

  /** PingSlaveMessage from `from`; `connected` is the master's view of us. */
  ping(from: string, connected: boolean): void {
    if (this.stateValue === "TERMINATING") return;
    if (!connected && this.stateValue === "RUNNING") {
      this.options.logger.info(
        "Master marked the agent as disconnected but the agent considers itself registered! Forcing re-registration.",
      );
      this.options.hooks.pong(from);
      this.detected(this.masterPid ?? from);
      return;
    }
    if (this.stateValue === "RUNNING") this.armPingTimer();
    this.options.hooks.pong(from);
  }

  /** The connection to `pid` broke (a linked peer exited). */
  exited(pid: string): void {
    if (pid !== this.masterPid) return;
    this.options.logger.warn("Master disconnected! Waiting for it to come back");
    // Mesos waits for the ping timeout here; with a standalone master that is
    // 75 s of silence, so we start re-registering at once instead.
    if (this.stateValue === "RUNNING") this.detected(pid);
  }

  /** The agent is going away: stop all timers and attempts. */
  terminate(): void {
    this.stateValue = "TERMINATING";
    this.cancelPing();
    this.cancelRegistration();
  }

  /** A reply from `master@<other ip>:<same port>` while we are registering. */
  private isSameMasterElsewhere(from: string): boolean {
    const ours = this.masterPid;
    if (ours === undefined || this.stateValue !== "DISCONNECTED") return false;
    const port = (pid: string) => pid.slice(pid.lastIndexOf(":") + 1);
    return from.startsWith("master@") && ours.startsWith("master@") && port(from) === port(ours);
  }

  private doReliableRegistration(maxBackoffMs: number): void {
    this.registrationTimer = undefined;
    if (this.stateValue !== "DISCONNECTED" || this.masterPid === undefined) return;
    this.attempts++;
    this.options.hooks.attempt(this.masterPid);
    const bound = Math.min(maxBackoffMs, REGISTER_RETRY_INTERVAL_MAX_MS);
    const delay = bound * this.options.random.next();
    this.options.logger.verbose(
      1,
      `Will retry registration in ${Math.round(delay)}ms if necessary`,
    );
    this.registrationTimer = this.options.clock.setTimer(delay, () =>
      this.doReliableRegistration(bound * 2),
    );
  }

  private armPingTimer(): void {
    this.cancelPing();
    this.pingTimer = this.options.clock.setTimer(this.pingTimeoutMs, () => {
      this.pingTimer = undefined;
      if (this.stateValue !== "RUNNING" || this.masterPid === undefined) return;
      this.options.logger.info(`No pings from master received within ${this.pingTimeoutMs}ms`);
      this.detected(this.masterPid);
    });
  }

  private cancelPing(): void {
    if (this.pingTimer !== undefined) this.options.clock.cancelTimer(this.pingTimer);
    this.pingTimer = undefined;
  }

  private cancelRegistration(): void {
    if (this.registrationTimer !== undefined) {
      this.options.clock.cancelTimer(this.registrationTimer);
    }
    this.registrationTimer = undefined;
  }
}
