/**
 * Killing one task process with a grace period: SIGTERM to its process
 * tree now, SIGKILL when the grace period ends. A later request may only
 * bring the SIGKILL closer (a retried KILL with a shorter kill policy),
 * never push it back. Shared by the command executor and the default
 * executor so both kill the same way.
 */
import type { Logger } from "../common/observability/logger.js";
import type { Clock, TimerHandle } from "../common/time/clock.js";
import { formatDuration } from "./duration.js";
import type { TaskProcess } from "./task-process.js";

/** The SIGTERM-then-SIGKILL kill of one task process. */
export class KillEscalation {
  private startedAt = 0;
  private deadline = 0;
  private timer: TimerHandle | undefined;
  private begun = false;

  constructor(
    private readonly process: TaskProcess,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** True once the SIGTERM has been sent. */
  get started(): boolean {
    return this.begun;
  }

  /**
   * First call: SIGTERM the process tree and schedule the SIGKILL in
   * `graceMs`. Later calls: move the SIGKILL to `graceMs` after the first
   * call if that is sooner; otherwise nothing changes.
   */
  request(graceMs: number): void {
    const now = this.clock.monotonic();
    if (this.begun) {
      const deadline = this.startedAt + graceMs;
      if (deadline >= this.deadline) return;
      const remaining = Math.max(0, deadline - now);
      this.logger.info(
        `Rescheduling escalation to SIGKILL in ${formatDuration(remaining)} from now`,
      );
      this.cancel();
      this.deadline = deadline;
      this.timer = this.clock.setTimer(remaining, () => this.escalate(graceMs));
      return;
    }
    this.logger.info(`Sending SIGTERM to process tree at pid ${this.process.pid}`);
    this.process.signalTree("SIGTERM");
    this.logger.info(`Scheduling escalation to SIGKILL in ${formatDuration(graceMs)} from now`);
    this.begun = true;
    this.startedAt = now;
    this.deadline = now + graceMs;
    this.timer = this.clock.setTimer(graceMs, () => this.escalate(graceMs));
  }

  /** Stops a pending escalation (the process has ended). */
  cancel(): void {
    if (this.timer !== undefined) this.clock.cancelTimer(this.timer);
    this.timer = undefined;
  }

  private escalate(graceMs: number): void {
    this.timer = undefined;
    const pid = this.process.pid;
    this.logger.info(
      `Process ${pid} did not terminate after ${formatDuration(graceMs)}, sending SIGKILL to process tree at ${pid}`,
    );
    this.process.signalTree("SIGKILL");
  }
}
