/**
 * The agent's status update flow: updates from executors and from the agent
 * itself are recorded on their task, handed to the status update manager
 * and acknowledged to the executor; the manager forwards them to the master
 * and acknowledgements come back from the framework.
 */

import { LogSite } from "../common/observability/logger.js";
import { parseUpid } from "../common/process/upid.js";
import type {
  StatusUpdate,
  StatusUpdateAcknowledgementMessage,
} from "../common/protocol/generated/mesos-internal.js";
import type { NetworkInfo, TaskStatus } from "../common/protocol/generated/mesos-v1.js";
import { isTerminalState } from "../common/protocol/task-states.js";
import { AgentBase } from "./agent-base.js";
import { hostNetworkInfo, withContainerStatus } from "./container-status.js";
import type { Executor } from "./executor.js";
import { describeUpdate } from "./status-updates/status-update.js";

const SITE_HANDLING = new LogSite();
const SITE_FORWARDING = new LogSite();
export abstract class AgentStatusFlow extends AgentBase {
  private hostNetworks: NetworkInfo[] | undefined;

  // ---- status updates ---------------------------------------------------------

  /**
   * `status` with its container's status when the task reached a live
   * executor (Mesos asks the containerizer in the same cases): not for a
   * task still queued, not for one the agent dropped or lost before the
   * executor had it, not once the container is gone.
   */
  private containerStatusFor(executor: Executor, status: TaskStatus): TaskStatus {
    const taskId = status.task_id.value;
    if (executor.state === "TERMINATED" || executor.queuedTasks.has(taskId)) return status;
    if (
      status.source === "SOURCE_AGENT" &&
      (status.state === "TASK_DROPPED" || status.state === "TASK_LOST") &&
      executor.launchedTasks.has(taskId)
    ) {
      return status;
    }
    if (this.hostNetworks === undefined) {
      const self = parseUpid(this.o.config.selfPid);
      this.hostNetworks = hostNetworkInfo(
        self.ok ? self.value.ip : undefined,
        this.o.config.advertisedIp6,
      );
    }
    return withContainerStatus(status, {
      containerId: executor.containerId,
      pid: executor.pid,
      networkInfos: this.o.containerNetworks?.(executor.containerId) ?? this.hostNetworks,
    });
  }

  /**
   * Handles a status update from an executor (`fromExecutor`) or made by the
   * agent: records the task's new state (a terminal state frees its
   * resources), hands the update to the status update manager, and
   * acknowledges it to the executor once the manager has it.
   */
  statusUpdate(input: StatusUpdate, fromExecutor: boolean): void {
    const update: StatusUpdate = Object.assign({}, input);
    update.status = Object.assign({}, input.status);
    if (update.uuid === undefined) {
      this.o.logger.warn(`Ignoring status update ${describeUpdate(update)} without 'uuid'`);
      this.counters.invalidStatusUpdates++;
      return;
    }
    update.status.uuid = update.uuid;
    update.status.source = fromExecutor ? "SOURCE_EXECUTOR" : "SOURCE_AGENT";
    if (update.executor_id !== undefined) update.status.executor_id = update.executor_id;
    const frameworkId = update.framework_id.value;
    const taskId = update.status.task_id.value;
    const framework = this.frameworks.get(frameworkId);
    if (framework === undefined) {
      this.o.logger.warn(
        `Ignoring status update ${describeUpdate(update)} for unknown framework ${frameworkId}`,
      );
      this.counters.invalidStatusUpdates++;
      return;
    }
    if (framework.state === "TERMINATING") {
      this.o.logger.warn(
        `Ignoring status update ${describeUpdate(update)} for terminating framework ${frameworkId}`,
      );
      this.counters.invalidStatusUpdates++;
      // Mesos leaves the executor waiting for this acknowledgement until its
      // shutdown grace period runs out; acknowledging the dropped update lets
      // it exit as soon as its task is dead.
      if (fromExecutor) {
        framework.executorForTask(taskId)?.send({
          type: "ACKNOWLEDGED",
          acknowledged: { task_id: update.status.task_id, uuid: update.uuid },
        });
      }
      return;
    }
    update.status = this.draining.rewrite(
      update.status,
      framework.hasCapability("PARTITION_AWARE"),
    );
    this.o.logger.info(
      `Handling status update ${describeUpdate(update)}${fromExecutor ? " from executor" : ""}`,
      SITE_HANDLING,
    );
    // As Mesos: a task whose terminal update was acknowledged (completed)
    // no longer belongs to its executor, so a late update for it is passed
    // on as one for an unknown executor.
    const holder = framework.executorForTask(taskId);
    const executor =
      holder !== undefined &&
      (holder.queuedTasks.has(taskId) ||
        holder.launchedTasks.has(taskId) ||
        holder.terminatedTasks.has(taskId))
        ? holder
        : undefined;
    if (executor === undefined) {
      this.o.logger.warn(`Could not find the executor for status update ${describeUpdate(update)}`);
      this.counters.validStatusUpdates++;
      this.statusUpdates.update(update);
      return;
    }
    if (fromExecutor && update.status.state === "TASK_STAGING") {
      this.o.logger.error(
        `Received TASK_STAGING from executor '${executor.id}' which is not allowed. Shutting down the executor`,
      );
      this.shutdownExecutorNow(framework, executor);
      return;
    }
    this.counters.validStatusUpdates++;
    update.status = this.containerStatusFor(executor, update.status);
    const error = executor.updateTaskState(update.status);
    let durable: Promise<void> | undefined;
    if (error !== undefined) {
      this.o.logger.error(`Failed to update state of task '${taskId}': ${error}`);
    } else {
      // As Mesos: a finished task's resources leave its container's limits.
      if (isTerminalState(update.status.state)) {
        this.o.containerizer.update?.(executor.containerId, executor.allocatedResources());
      }
      const outcome = this.statusUpdates.update(update);
      if (!outcome.ok) {
        this.o.logger.error(
          `Failed to handle status update ${describeUpdate(update)}: ${outcome.error}`,
        );
        return;
      }
      durable = outcome.durable;
    }
    if (fromExecutor) {
      const uuid = update.uuid;
      const acknowledge = () =>
        executor.send({
          type: "ACKNOWLEDGED",
          acknowledged: { task_id: update.status.task_id, uuid },
        });
      // A checkpointing framework's update is acknowledged once it is on
      // disk: the executor keeps re-sending it until then.
      if (durable === undefined) acknowledge();
      else durable.then(acknowledge, () => {});
    }
  }

  /** Sends the update in flight of a stream to the master (called by the status update manager). */
  protected forward(input: StatusUpdate): void {
    const master = this.link.master;
    if (this.link.state !== "RUNNING" || master === undefined) {
      this.o.logger.warn(
        `Dropping status update ${describeUpdate(input)} sent by the status update manager because the agent is not registered`,
      );
      return;
    }
    const update: StatusUpdate = Object.assign({}, input);
    update.status = Object.assign({}, input.status);
    if (update.uuid !== undefined) update.status.uuid = update.uuid;
    const taskId = update.status.task_id.value;
    const executor = this.frameworks.get(update.framework_id.value)?.executorForTask(taskId);
    const task = executor?.launchedTasks.get(taskId) ?? executor?.terminatedTasks.get(taskId);
    if (task !== undefined) {
      task.status_update_state = update.status.state;
      if (update.uuid !== undefined) task.status_update_uuid = update.uuid;
      update.latest_state = task.state;
    }
    this.o.logger.info(
      `Forwarding the update ${describeUpdate(update)} to ${master}`,
      SITE_FORWARDING,
    );
    this.o.transport.send(master, "mesos.internal.StatusUpdateMessage", {
      update,
      pid: this.o.config.selfPid,
    });
  }

  /** StatusUpdateAcknowledgementMessage (the framework acknowledged an update). */
  statusUpdateAcknowledgement(from: string, message: StatusUpdateAcknowledgementMessage): void {
    if (from.startsWith("master")) {
      if (this.link.state !== "RUNNING") {
        this.o.logger.warn(
          `Dropping status update acknowledgement for ${message.framework_id.value} because the agent is not registered`,
        );
        return;
      }
      if (from !== this.link.master) {
        this.o.logger.warn(
          `Ignoring status update acknowledgement from ${from} because it is not the expected master: ${this.link.master ?? "None"}`,
        );
        return;
      }
    }
    const frameworkId = message.framework_id.value;
    const taskId = message.task_id.value;
    const outcome = this.statusUpdates.acknowledgement(frameworkId, taskId, message.uuid);
    if (!outcome.ok) {
      this.o.logger.error(
        `Failed to handle status update acknowledgement for task ${taskId}: ${outcome.error}`,
      );
      return;
    }
    const framework = this.frameworks.get(frameworkId);
    if (framework === undefined) return;
    const executor = framework.executorForTask(taskId);
    if (executor === undefined) return;
    if (executor.terminatedTasks.has(taskId) && outcome.streamTerminated) {
      executor.completeTask(taskId);
      this.collectTaskCheckpoint(executor, taskId);
    }
    if (executor.state === "TERMINATED" && !executor.incompleteTasks()) {
      this.removeExecutor(framework, executor);
    }
    if (framework.idle()) this.removeFramework(framework);
  }
}
