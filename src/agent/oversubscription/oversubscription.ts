/**
 * The agent's oversubscription loops, as Mesos' agent runs them once
 * recovery is over: every `--oversubscribed_resources_interval` the
 * resource estimator's estimate goes to the agent (which tells the master
 * when it changed), and the QoS controller's corrections are carried out
 * at most every `--qos_correction_interval_min`.
 */
import type { Logger } from "../../common/observability/logger.js";
import type { Clock, TimerHandle } from "../../common/time/clock.js";
import type { Agent } from "../agent.js";
import type { ExecutorAllocation, QoSController, ResourceEstimator } from "./modules.js";

/**
 * The shortest pause between two QoS correction rounds. Mesos asks its
 * controller again as soon as the last answer came (the default
 * `--qos_correction_interval_min` is 0ns); a round here is synchronous, so
 * back to back would hold the agent's event loop.
 */
export const MIN_QOS_ROUND_MS = 100;

export interface OversubscriptionOptions {
  agent: Agent;
  clock: Clock;
  logger: Logger;
  estimator: ResourceEstimator | undefined;
  controller: QoSController | undefined;
  estimateIntervalMs: number;
  correctionIntervalMs: number;
}

/** Live executors and what they were given (Mesos' ResourceUsage, without statistics). */
export function executorAllocations(agent: Agent): ExecutorAllocation[] {
  const out: ExecutorAllocation[] = [];
  for (const framework of agent.frameworks.values()) {
    for (const executor of framework.executors.values()) {
      if (executor.state === "TERMINATED") continue;
      out.push({
        frameworkId: framework.id,
        executorId: executor.id,
        containerId: executor.containerId,
        allocated: executor.allocatedResources(),
      });
    }
  }
  return out;
}

/** Runs the estimator and controller loops until `stop()`. */
export class Oversubscription {
  private estimateTimer: TimerHandle | undefined;
  private correctionTimer: TimerHandle | undefined;
  private stopped = false;

  constructor(private readonly o: OversubscriptionOptions) {}

  start(): void {
    if (this.o.estimator !== undefined) this.estimate();
    if (this.o.controller !== undefined) this.correct();
  }

  stop(): void {
    this.stopped = true;
    if (this.estimateTimer !== undefined) this.o.clock.cancelTimer(this.estimateTimer);
    if (this.correctionTimer !== undefined) this.o.clock.cancelTimer(this.correctionTimer);
  }

  private estimate(): void {
    const { agent, estimator, logger } = this.o;
    if (this.stopped || estimator === undefined) return;
    try {
      const free = estimator.oversubscribable(executorAllocations(agent));
      logger.verbose(
        2,
        `Received oversubscribable resources ${free.toString()} from the estimator`,
      );
      agent.forwardOversubscribed(free);
    } catch (e) {
      logger.error(`Failed to get oversubscribable resources: ${(e as Error).message}`);
    }
    this.estimateTimer = this.o.clock.setTimer(this.o.estimateIntervalMs, () => this.estimate());
  }

  private correct(): void {
    const { agent, controller, logger } = this.o;
    if (this.stopped || controller === undefined) return;
    const delay = Math.max(this.o.correctionIntervalMs, MIN_QOS_ROUND_MS);
    this.correctionTimer = this.o.clock.setTimer(delay, () => this.correct());
    let kills: ReturnType<QoSController["corrections"]>;
    try {
      kills = controller.corrections(executorAllocations(agent));
    } catch (e) {
      logger.warn(`Failed to get corrections from the QoS controller: ${(e as Error).message}`);
      return;
    }
    if (kills.length > 0) logger.verbose(1, `Received ${kills.length} QoS corrections`);
    for (const kill of kills) {
      const ignored = agent.preemptExecutor(kill.frameworkId, kill.executorId, kill.containerId);
      if (ignored !== undefined) {
        logger.warn(
          `Ignoring QoS correction KILL on executor '${kill.executorId}' of framework ${kill.frameworkId}: ${ignored}`,
        );
      }
    }
  }
}
