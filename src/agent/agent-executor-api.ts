/**
 * The agent core's side of the v1 executor API: SUBSCRIBE (with the
 * unacknowledged tasks and updates an executor re-sends), UPDATE, MESSAGE,
 * and disconnections.
 */
import type { TaskStatus } from "../common/protocol/generated/mesos-v1.js";
import type {
  Call_Subscribe,
  Event as ExecutorEvent,
} from "../common/protocol/generated/mesos-v1-executor.js";
import { AgentExecutors } from "./agent-executors.js";
import type { ContainerTermination, ExecutorLookup } from "./agent-ports.js";
import type { Executor, ExecutorConnection } from "./executor.js";
import { describeUpdate, wrapExecutorStatus } from "./status-updates/status-update.js";
export abstract class AgentExecutorApi extends AgentExecutors {
  // ---- the executor API -------------------------------------------------------

  /**
   * True until recovery has finished and the agent started looking for its
   * master, or started cleaning up (Mesos' RECOVERING): executors may
   * re-subscribe meanwhile, but their other calls are refused with 503.
   */
  get recovering(): boolean {
    return (
      this.link.master === undefined &&
      !this.waitingForMaster &&
      !this.terminating &&
      !this.cleaningUp
    );
  }

  /**
   * SUBSCRIBE calls of checkpointing frameworks' executors whose containers
   * have not reported their launch yet: the containerizer reports it once
   * the executor's pid record is on disk, and until then a restarted agent
   * could not recover the executor (it would be killed and its tasks
   * failed). Mesos cannot get there: its containerizer checkpoints the pid
   * before the executor process may exec. Ours starts the process first, so
   * the subscription waits instead; nothing reaches the executor meanwhile.
   */
  private readonly heldSubscriptions = new Map<
    Executor,
    { subscribe: Call_Subscribe; connection: ExecutorConnection }
  >();

  /** Recovery is over but no leading master is known yet (ZooKeeper). */
  private waitingForMaster = false;

  /**
   * Recovery has finished with no master detected yet: the agent serves
   * (Mesos' DISCONNECTED) and registers once one is detected.
   */
  recoveredWithoutMaster(): void {
    this.waitingForMaster = true;
  }

  /** Whether the executor API may serve a call for this executor. */
  lookupExecutor(frameworkId: string, executorId: string): ExecutorLookup {
    const framework = this.frameworks.get(frameworkId);
    if (framework === undefined) return { kind: "no-framework" };
    const executor = framework.executors.get(executorId);
    if (executor === undefined) return { kind: "no-executor" };
    return { kind: "found", state: executor.state, containerId: executor.containerId };
  }

  /** An executor subscribed over the v1 API; `connection` is its event stream. */
  subscribe(
    frameworkId: string,
    executorId: string,
    subscribe: Call_Subscribe,
    connection: ExecutorConnection,
  ): void {
    const framework = this.frameworks.get(frameworkId);
    const executor = framework?.executors.get(executorId);
    if (framework === undefined || executor === undefined) {
      connection.close();
      return;
    }
    this.o.logger.info(
      `Received Subscribe request for HTTP executor '${executorId}' of framework ${frameworkId}`,
    );
    const shutdownNow = (why: string) => {
      this.o.logger.warn(
        `Shutting down executor '${executorId}' of framework ${frameworkId} ${why}`,
      );
      connection.send({ type: "SHUTDOWN" });
      connection.close();
    };
    const refusal =
      this.terminating || this.cleaningUp
        ? "as the agent is terminating"
        : framework.state === "TERMINATING"
          ? "as the framework is terminating"
          : executor.state === "TERMINATING" || executor.state === "TERMINATED"
            ? `because it is in unexpected state ${executor.state}`
            : undefined;
    if (refusal !== undefined) {
      shutdownNow(refusal);
      return;
    }
    // Executors re-subscribing during recovery are judged by their
    // recovered pid record (finishRecovery), not held.
    if (executor.checkpoint && executor.pid === undefined && !this.recovering) {
      this.o.logger.info(
        `Holding the subscription of executor '${executorId}' of framework ${frameworkId} until its pid is checkpointed`,
      );
      this.heldSubscriptions.get(executor)?.connection.close();
      this.heldSubscriptions.set(executor, { subscribe, connection });
      return;
    }
    this.heldSubscriptions.delete(executor);
    if (executor.connection !== undefined) {
      this.o.logger.warn(`Closing already existing HTTP connection from executor '${executorId}'`);
      executor.connection.close();
    }
    executor.state = "RUNNING";
    // SUBSCRIBED must be the first event. Mesos acknowledges the updates
    // re-sent below only once its status update manager has them, which is
    // always after SUBSCRIBED; ours can acknowledge at once, so events meant
    // for the executor are held back until SUBSCRIBED is out (an executor
    // library drops events that come before it).
    const held: ExecutorEvent[] = [];
    const holder: ExecutorConnection = {
      send: (event) => held.push(event),
      close: () => connection.close(),
    };
    executor.connection = holder;
    const release = (first?: ExecutorEvent) => {
      if (executor.connection !== holder) return;
      executor.connection = connection;
      if (first !== undefined) connection.send(first);
      for (const event of held.splice(0)) connection.send(event);
    };
    this.checkpointed("HTTP marker", (c, ids) => c.httpExecutor(ids), executor);
    if (executor.registrationTimer !== undefined) {
      this.o.clock.cancelTimer(executor.registrationTimer);
      executor.registrationTimer = undefined;
    }
    this.armHeartbeat(executor);

    for (const update of subscribe.unacknowledged_updates ?? []) {
      this.executorUpdate(frameworkId, executorId, update.status);
    }
    const unacked = new Set((subscribe.unacknowledged_tasks ?? []).map((t) => t.task_id.value));
    for (const task of [...executor.launchedTasks.values()]) {
      if (task.state === "TASK_STAGING" && !unacked.has(task.task_id.value)) {
        const state = framework.droppedState();
        this.o.logger.info(
          `Transitioning STAGED task ${task.task_id.value} to ${state} because it is unknown to the executor ${executorId}`,
        );
        this.statusUpdate(
          this.agentUpdate(frameworkId, task.task_id.value, state, {
            message: "Task launched during agent restart",
            reason: "REASON_AGENT_RESTARTED",
            executorId,
          }),
          false,
        );
      }
    }
    if (!executor.everSentTask() && executor.queuedTasks.size === 0) {
      this.o.logger.warn(
        `Shutting down executor '${executorId}' because it has never been sent a task and all of its queued tasks have been killed before delivery`,
      );
      release();
      this.shutdownExecutorNow(framework, executor);
      return;
    }
    // As Mesos: the container follows what the executor has now (after an
    // agent restart, its isolators learn its resources here).
    this.o.containerizer.update?.(executor.containerId, executor.allocatedResources());
    release({
      type: "SUBSCRIBED",
      subscribed: {
        executor_info: executor.info,
        framework_info: framework.info,
        agent_info: this.agentInfo(),
        container_id: { value: executor.containerId },
      },
    });
    const grouped = new Set<string>();
    for (const group of [...executor.queuedTaskGroups]) {
      const tasks = group.tasks ?? [];
      for (const t of tasks) grouped.add(t.task_id.value);
      this.deliverQueued(executor, tasks, group);
    }
    const single = [...executor.queuedTasks.values()].filter((t) => !grouped.has(t.task_id.value));
    this.deliverQueued(executor, single, undefined);
  }

  /** The container reported its launch: a held subscription goes ahead now. */
  override containerLaunched(
    containerId: string,
    result: { pid: number } | { error: string },
  ): void {
    super.containerLaunched(containerId, result);
    const executor = this.executorOfContainer(containerId);
    const held = executor === undefined ? undefined : this.heldSubscriptions.get(executor);
    if (executor === undefined || held === undefined || executor.pid === undefined) return;
    this.heldSubscriptions.delete(executor);
    this.subscribe(executor.frameworkId, executor.id, held.subscribe, held.connection);
  }

  /** A held subscription ends with its container. */
  override containerTerminated(containerId: string, termination: ContainerTermination): void {
    for (const [executor, held] of this.heldSubscriptions) {
      if (executor.containerId !== containerId) continue;
      this.heldSubscriptions.delete(executor);
      held.connection.close();
    }
    super.containerTerminated(containerId, termination);
  }

  /** The executor's event stream ended (it disconnected). */
  executorDisconnected(frameworkId: string, executorId: string, connection: ExecutorConnection) {
    const executor = this.frameworks.get(frameworkId)?.executors.get(executorId);
    if (executor !== undefined && this.heldSubscriptions.get(executor)?.connection === connection) {
      this.heldSubscriptions.delete(executor);
      return;
    }
    if (executor?.connection !== connection) return;
    this.o.logger.info(`Executor '${executorId}' of framework ${frameworkId} disconnected`);
    executor.connection = undefined;
    if (executor.heartbeatTimer !== undefined) this.o.clock.cancelTimer(executor.heartbeatTimer);
    executor.heartbeatTimer = undefined;
  }

  /** UPDATE call from an executor. */
  executorUpdate(frameworkId: string, executorId: string, status: TaskStatus): void {
    const agentId = this.agentId ?? "";
    const update = wrapExecutorStatus(frameworkId, agentId, status, this.o.clock.now() / 1000);
    // As Mesos: a status naming another agent is dropped (the call was
    // still accepted; the executor gets no acknowledgement for it).
    const named = status.agent_id?.value;
    if (named !== undefined && named !== agentId) {
      this.o.logger.warn(
        `Ignoring status update ${describeUpdate(update)} due to Slave ID mismatch; expected '${agentId}', received '${named}'`,
      );
      this.counters.invalidStatusUpdates++;
      return;
    }
    // A preempted executor's container is being destroyed: Mesos kills the
    // executor with its tasks at once, so it never reports them. An executor
    // sharing a host process outlives its task for a moment: what it says
    // now would hide the preemption from the framework.
    const executor = this.frameworks.get(frameworkId)?.executors.get(executorId);
    if (
      executor?.state === "TERMINATING" &&
      executor.pendingTermination?.reason === "REASON_CONTAINER_PREEMPTED"
    ) {
      this.o.logger.warn(
        `Ignoring status update ${describeUpdate(update)} from executor '${executorId}' preempted by a QoS correction`,
      );
      return;
    }
    this.statusUpdate(update, true);
  }

  /** MESSAGE call from an executor: forward to its framework. */
  executorMessage(frameworkId: string, executorId: string, data: Uint8Array): void {
    if (this.link.state !== "RUNNING" || this.agentId === undefined) {
      this.o.logger.warn(
        `Dropping framework message from executor '${executorId}' to framework ${frameworkId} because the agent is not registered`,
      );
      this.counters.invalidFrameworkMessages++;
      return;
    }
    const framework = this.frameworks.get(frameworkId);
    if (framework === undefined || framework.state === "TERMINATING") {
      this.o.logger.warn(
        `Ignoring framework message from executor '${executorId}' to framework ${frameworkId}: the framework is ${framework === undefined ? "unknown" : "terminating"}`,
      );
      this.counters.invalidFrameworkMessages++;
      return;
    }
    const to = framework.pid ?? this.link.master;
    if (to === undefined) return;
    this.o.transport.send(to, "mesos.internal.ExecutorToFrameworkMessage", {
      slave_id: { value: this.agentId },
      framework_id: { value: frameworkId },
      executor_id: { value: executorId },
      data,
    });
    this.counters.validFrameworkMessages++;
  }
}
