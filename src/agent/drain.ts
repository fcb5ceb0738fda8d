/**
 * Agent draining on the agent (Mesos 1.9 `DrainSlaveMessage`): the master
 * asks the agent to kill every task. While draining:
 * - every task gets a kill, its kill policy's grace period capped by the
 *   drain's `max_grace_period`;
 * - TASK_KILLING and TASK_KILLED updates carry `REASON_AGENT_DRAINING`
 *   (Mesos' REASON_SLAVE_DRAINING), and become TASK_GONE_BY_OPERATOR for
 *   partition-aware frameworks when the drain marks the agent gone;
 * - new tasks are dropped (TASK_DROPPED, or TASK_LOST for frameworks that
 *   are not partition-aware) with the same reason.
 * Draining ends once no framework is left on the agent (every task ended and
 * its updates were acknowledged).
 *
 * The drain config is kept in memory: an agent that restarts while
 * draining gets it again from the master when it re-registers.
 */
import type {
  DrainConfig,
  KillPolicy,
  TaskStatus,
  TimeInfo,
} from "../common/protocol/generated/mesos-v1.js";

/** The drain in progress on an agent, if any. */
export class AgentDrain {
  private current: { config: DrainConfig; startedMs: number } | undefined;

  /** The drain config while draining. */
  get config(): DrainConfig | undefined {
    return this.current?.config;
  }

  /** When draining started, for `estimated_drain_start_time`. */
  get startTime(): TimeInfo | undefined {
    return this.current === undefined
      ? undefined
      : { nanoseconds: Math.round(this.current.startedMs * 1e6) };
  }

  get active(): boolean {
    return this.current !== undefined;
  }

  /** Starts (or restarts, with a new config) draining. */
  start(config: DrainConfig, nowMs: number): void {
    this.current = { config, startedMs: nowMs };
  }

  /** Draining is over; returns true when it was in progress. */
  finish(): boolean {
    const was = this.current !== undefined;
    this.current = undefined;
    return was;
  }

  /**
   * The kill policy to kill a task with: the drain's `max_grace_period`
   * when the task has no grace period or a longer one, otherwise none (the
   * task's own applies).
   */
  killPolicy(task: KillPolicy | undefined): KillPolicy | undefined {
    const max = this.current?.config.max_grace_period;
    if (max === undefined) return undefined;
    const own = task?.grace_period?.nanoseconds;
    if (own === undefined || own > max.nanoseconds) {
      return { grace_period: { nanoseconds: max.nanoseconds } };
    }
    return undefined;
  }

  /**
   * A task status as sent while draining: KILLING and KILLED say why, and
   * become TASK_GONE_BY_OPERATOR for a partition-aware framework when the
   * agent will be marked gone. Other states pass unchanged.
   */
  rewrite(status: TaskStatus, partitionAware: boolean): TaskStatus {
    const config = this.current?.config;
    if (config === undefined) return status;
    if (status.state !== "TASK_KILLING" && status.state !== "TASK_KILLED") return status;
    const out: TaskStatus = { ...status, reason: "REASON_AGENT_DRAINING" };
    if (config.mark_gone === true && partitionAware) out.state = "TASK_GONE_BY_OPERATOR";
    return out;
  }
}
