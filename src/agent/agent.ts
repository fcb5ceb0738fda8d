/** The agent core (see the class comment). */
import { newUuidBytes } from "../common/ids/uuid.js";
import type {
  AcknowledgeOperationStatusMessage,
  ApplyOperationMessage,
  CheckpointResourcesMessage,
  DrainSlaveMessage,
  FrameworkToExecutorMessage,
  KillTaskMessage,
  PingSlaveMessage,
  ReconcileOperationsMessage,
  ReconcileTasksMessage,
  RunTaskGroupMessage,
  RunTaskMessage,
  ShutdownExecutorMessage,
  ShutdownFrameworkMessage,
  SlaveInfo,
  SlaveRegisteredMessage,
  SlaveReregisteredMessage,
  UpdateFrameworkMessage,
} from "../common/protocol/generated/mesos-internal.js";
import type { Operation, Resource, TaskState } from "../common/protocol/generated/mesos-v1.js";
import { Resources } from "../common/resources/index.js";
import { AgentExecutorApi } from "./agent-executor-api.js";
import type { AgentCheckpoint, ExecutorCheckpoint, RunCheckpoint } from "./checkpoint/state.js";
import { Executor } from "./executor.js";
import { executorInfoFor } from "./executor-info.js";
import { Framework } from "./framework.js";
import { FinishedDirectories } from "./gc/finished-directories.js";
import { AgentOperations } from "./operations/agent-operations.js";
import type { OperationStreamFiles, SavedOperationStreams } from "./operations/checkpoint.js";
import { isSafePathSegment, type RunIds, sandboxPath } from "./paths.js";
import { registerMessage, reregisterMessage } from "./registration-messages.js";
import { applyCheckpointedResources } from "./resources-checkpoint.js";
import { uuidKey } from "./status-updates/stream.js";

export * from "./agent-ports.js";

/** An executor restored from the checkpoint, for the runtime to re-attach or clean up. */
export interface RecoveredExecutor {
  ids: RunIds;
  directory: string;
  /** The recorded pid, if any (the process may be gone or another one). */
  pid: number | undefined;
}
/**
 * The agent core: registration with the master, frameworks, executors and
 * tasks, status updates, kills and shutdowns, as Mesos' `Slave` does it.
 * Plain code on an injected clock: every input is a method call (a message
 * from the master, a call from an executor, a container event) that changes
 * state synchronously and emits effects through the ports it was given
 * (`transport` for messages, `containerizer` for processes). No sockets, no
 * files: the daemon wires those at the edges, and tests drive this class
 * directly.
 */
export class Agent extends AgentExecutorApi {
  // ---- registration -----------------------------------------------------------

  /** Starts registering with `master` (`master@ip:port`). */
  start(master: string): void {
    this.o.logger.info(`Agent started with pid ${this.o.config.selfPid}`);
    this.link.detected(master);
  }

  // ---- checkpointed resources (reservations, persistent volumes) -------------

  /** Dynamic reservations and persistent volumes the master asked us to keep. */
  private checkpointedResources: Resource[] = [];
  /**
   * Writes the checkpointed resources and the operations to keep to disk
   * (set by the runtime; see resources-checkpoint.ts).
   */
  resourcesCheckpoint:
    | ((
        resources: Resource[],
        previous: readonly Resource[],
        operations: readonly Operation[],
      ) => Promise<void>)
    | undefined;

  /** The last checkpoint write: the next one starts after it, so the file ends with the newest list. */
  private resourcesWritten: Promise<void> = Promise.resolve();

  /**
   * This start's resource version (Mesos' `resourceVersion`): new on every
   * start, so an operation the master meant for an earlier start is dropped.
   */
  readonly resourceVersion: Buffer = newUuidBytes(this.o.random);

  /** Where operation status update streams are written (set by the runtime). */
  operationFiles: OperationStreamFiles | undefined;

  /** Operations on the agent's own resources (ApplyOperationMessage and its feedback). */
  readonly operations: AgentOperations = new AgentOperations({
    clock: this.o.clock,
    random: this.o.random,
    logger: this.o.logger,
    resourceVersion: this.resourceVersion,
    agentId: () => this.agentId,
    sendToMaster: (type, message) => {
      const master = this.link.master;
      if (master === undefined || this.link.state !== "RUNNING") {
        this.o.logger.warn(
          `Dropping status update of operation (uuid: ${message.operation_uuid === undefined ? "none" : uuidKey(message.operation_uuid.value)}): the agent is ${this.link.state}`,
        );
        return;
      }
      this.o.transport.send(master, type, message);
    },
    staticResources: () => this.o.config.info.resources ?? [],
    checkpointedResources: () => this.checkpointedResources,
    commit: (resources) => this.commitResources(resources),
    files: () => this.operationFiles,
    removed: () => {
      // The last acknowledged operation may end a drain, as the last framework does.
      if (this.frameworks.size === 0 && !this.hasOperations() && this.draining.finish()) {
        this.o.logger.info("Agent finished draining");
      }
    },
  });

  protected override hasOperations(): boolean {
    return this.operations.list().length > 0;
  }

  /** The checkpointed list `checkpointedTotal` was computed from. */
  private totalOf: Resource[] | undefined;
  private checkpointedTotal: Resources | undefined;

  /**
   * The agent's total resources: the static ones with the checkpointed
   * reservations and persistent volumes applied (Mesos' `totalResources`:
   * what /state shows and what the agent registers with).
   */
  override get resources(): Resources {
    const checkpointed = this.checkpointedResources;
    if (checkpointed.length === 0) return super.resources;
    if (this.totalOf !== checkpointed) {
      const total = applyCheckpointedResources(super.resources, checkpointed);
      if (!total.ok) this.o.logger.error(`Ignoring checkpointed resources: ${total.error}`);
      this.checkpointedTotal = total.ok ? total.value : super.resources;
      this.totalOf = checkpointed;
    }
    return this.checkpointedTotal as Resources;
  }

  /** Restores the checkpointed resources read at start (before registering). */
  restoreCheckpointedResources(resources: Resource[]): void {
    this.checkpointedResources = resources;
  }

  /**
   * Restores the operations checkpointed with the resources and their
   * status update streams (after `recover`, which gives the agent its id).
   */
  recoverOperations(operations: readonly Operation[], streams: SavedOperationStreams): void {
    this.operations.recover(operations, streams);
  }

  /** CheckpointResourcesMessage: the master's new list of resources to keep. */
  checkpointResources(from: string, message: CheckpointResourcesMessage): void {
    if (from !== this.link.master) {
      this.o.logger.warn(`Ignoring checkpoint resources message from ${from}: not the master`);
      return;
    }
    const resources = message.resources ?? [];
    this.o.logger.info(`Updated checkpointed resources: ${resources.length} resource(s)`);
    void this.commitResources(resources);
  }

  /**
   * Replaces the checkpointed resources (when given) and queues their
   * write, with the operations to keep. Writes run in call order: two in
   * flight could land in either order. Resolves false when it failed (the
   * agent then exits, as Mesos does).
   */
  private commitResources(resources: Resource[] | undefined): Promise<boolean> {
    const previous = this.checkpointedResources;
    if (resources !== undefined) this.checkpointedResources = resources;
    const next = this.checkpointedResources;
    const operations = this.operations.toCheckpoint();
    const write = this.resourcesCheckpoint;
    if (write === undefined) return Promise.resolve(true);
    const done = this.resourcesWritten
      .then(() => write(next, previous, operations))
      .then(
        () => true,
        (e: unknown) => {
          this.fatal(`Failed to checkpoint resources: ${(e as Error).message}`);
          return false;
        },
      );
    this.resourcesWritten = done.then(() => {});
    return done;
  }

  /** ApplyOperationMessage: apply an operation to the agent's own resources and report it. */
  applyOperation(from: string, message: ApplyOperationMessage): void {
    if (!this.fromMaster(from, "apply operation")) return;
    this.operations.apply(message);
  }

  /** AcknowledgeOperationStatusMessage: the master got an operation status update. */
  operationStatusAcknowledgement(from: string, message: AcknowledgeOperationStatusMessage): void {
    if (!this.fromMaster(from, "operation status acknowledgement")) return;
    this.operations.acknowledge(message);
  }

  /** ReconcileOperationsMessage. */
  reconcileOperations(from: string, message: ReconcileOperationsMessage): void {
    if (!this.fromMaster(from, "reconcile operations")) return;
    this.operations.reconcile(message);
  }

  // ---- oversubscription ----------------------------------------------------------

  /**
   * The total oversubscribed (revocable) resources last estimated: what
   * executors hold plus what the resource estimator says is free. Unset
   * until an estimator gives its first estimate (never without one).
   */
  oversubscribedResources: Resources | undefined;

  /** Revocable resources live executors hold (unallocated: no role). */
  allocatedRevocable(): Resources {
    const out = Resources.empty();
    for (const framework of this.frameworks.values()) {
      for (const executor of framework.executors.values()) {
        if (executor.state === "TERMINATED") continue;
        out.add(executor.allocatedResources().revocable().unallocated());
      }
    }
    return out;
  }

  /**
   * A new estimate of oversubscribable resources: the total (held plus
   * free) goes to the master when it changed and we are registered; it is
   * remembered either way and resent after every (re)registration.
   */
  forwardOversubscribed(oversubscribable: Resources): void {
    const total = this.allocatedRevocable().plus(oversubscribable);
    const master = this.link.master;
    const changed =
      this.oversubscribedResources === undefined || !this.oversubscribedResources.equals(total);
    if (changed && this.link.state === "RUNNING" && master !== undefined && this.agentId) {
      this.o.logger.info(`Forwarding total oversubscribed resources ${total.toString()}`);
      this.o.transport.send(master, "mesos.internal.UpdateSlaveMessage", {
        slave_id: { value: this.agentId },
        update_oversubscribed_resources: true,
        oversubscribed_resources: total.toArray() as Resource[],
      });
    }
    this.oversubscribedResources = total;
  }

  /**
   * A QoS correction: kill the container of an executor. Its tasks end
   * TASK_GONE (TASK_LOST for frameworks that are not PARTITION_AWARE) with
   * REASON_CONTAINER_PREEMPTED, as in Mesos. Returns why the correction
   * was ignored, or undefined when the kill started.
   */
  preemptExecutor(
    frameworkId: string,
    executorId: string,
    containerId?: string,
  ): string | undefined {
    if (this.terminating || this.link.state === "TERMINATING") return "the agent is terminating";
    const framework = this.frameworks.get(frameworkId);
    if (framework === undefined) return "framework cannot be found";
    if (framework.state === "TERMINATING") return "framework is terminating";
    const executor = framework.executors.get(executorId);
    if (executor === undefined) return "executor cannot be found";
    if (containerId !== undefined && containerId !== executor.containerId) {
      return `container '${containerId}' cannot be found`;
    }
    if (executor.state !== "REGISTERING" && executor.state !== "RUNNING") {
      return `the executor is ${executor.state}`;
    }
    this.o.logger.info(
      `Killing container '${executor.containerId}' for executor '${executorId}' of framework ${frameworkId} as QoS correction`,
    );
    executor.state = "TERMINATING";
    const partitionAware = (framework.info.capabilities ?? []).some(
      (c) => c.type === "PARTITION_AWARE",
    );
    executor.pendingTermination = {
      state: partitionAware ? "TASK_GONE" : "TASK_LOST",
      reason: "REASON_CONTAINER_PREEMPTED",
      message: "Container preempted by QoS correction",
    };
    this.counters.executorsPreempted++;
    this.o.containerizer.destroy(executor.containerId);
    return undefined;
  }

  /** The master lost: operation status updates wait for the next registration. */
  protected override masterLost(): void {
    this.operations.disconnected();
  }

  /**
   * After (re)registering, as a Mesos agent with RESOURCE_PROVIDER: the
   * operations still pending or unacknowledged and the resource version,
   * then the unacknowledged operation updates go out again.
   */
  private afterRegistration(master: string, agentId: string): void {
    const update = this.operations.updateSlaveMessage(agentId);
    // As Mesos: the last estimate goes again to every master we (re)register with.
    if (this.oversubscribedResources !== undefined) {
      update.update_oversubscribed_resources = true;
      update.oversubscribed_resources = this.oversubscribedResources.toArray() as Resource[];
    }
    this.o.logger.info(
      `Forwarding agent update with ${update.operations?.operations?.length ?? 0} operation(s)`,
    );
    this.o.transport.send(master, "mesos.internal.UpdateSlaveMessage", update);
    this.operations.connected();
  }

  /**
   * The SlaveInfo we register with: its resources include the checkpointed
   * ones (the master takes them as the agent's total).
   */
  private registrationInfo(): SlaveInfo {
    const info = this.info;
    if (this.checkpointedResources.length === 0) return info;
    return { ...info, resources: this.resources.toArray() as Resource[] };
  }

  protected attemptRegistration(master: string): void {
    this.o.transport.link(master);
    const { config } = this.o;
    const checkpointed = {
      ...(this.checkpointedResources.length === 0
        ? {}
        : { checkpointed_resources: this.checkpointedResources }),
      resource_version_uuid: { value: this.resourceVersion },
    };
    const info = this.registrationInfo();
    if (this.agentId === undefined) {
      this.o.logger.info(`Registering with master ${master}`);
      this.o.transport.send(master, "mesos.internal.RegisterSlaveMessage", {
        ...registerMessage(info, config.version, config.capabilities),
        ...checkpointed,
      });
    } else {
      this.o.logger.info(`Re-registering with master ${master} as agent ${this.agentId}`);
      this.o.transport.send(master, "mesos.internal.ReregisterSlaveMessage", {
        ...reregisterMessage(
          info,
          config.version,
          config.capabilities,
          this.frameworks.values(),
          this.completedFrameworks,
        ),
        ...checkpointed,
      });
    }
  }

  /** SlaveRegisteredMessage. */
  registered(from: string, message: SlaveRegisteredMessage): void {
    const id = message.slave_id.value;
    if (this.agentId !== undefined && this.agentId !== id) {
      if (from === this.link.master && this.link.state === "RUNNING") {
        this.fatal(`Registered but got wrong id: ${id} (expected: ${this.agentId})`);
      }
      return;
    }
    if (!isSafePathSegment(id)) {
      this.o.logger.error(`Ignoring registration with unusable agent id '${id}'`);
      return;
    }
    const wasRunning = this.link.state === "RUNNING";
    if (!this.link.registered(from, message.connection?.total_ping_timeout_seconds)) return;
    if (wasRunning) {
      this.o.logger.warn(`Already registered with master ${from}`);
      return;
    }
    this.agentId = id;
    this.o.logger.info(`Registered with master ${from}; given agent ID ${id}`);
    this.checkpointAgent(id);
    this.afterRegistration(from, id);
  }

  /** SlaveReregisteredMessage. */
  reregistered(from: string, message: SlaveReregisteredMessage): void {
    if (from !== this.link.master) {
      this.o.logger.warn(
        `Ignoring re-registration message from ${from} because it is not the expected master: ${this.link.master ?? "None"}`,
      );
      return;
    }
    if (this.agentId !== message.slave_id.value) {
      this.fatal(
        `Re-registered but got wrong id: ${message.slave_id.value} (expected: ${this.agentId ?? "none"})`,
      );
      return;
    }
    const wasRunning = this.link.state === "RUNNING";
    if (!this.link.registered(from, message.connection?.total_ping_timeout_seconds)) return;
    if (wasRunning) {
      this.o.logger.warn(`Already re-registered with master ${from}`);
    } else {
      this.o.logger.info(`Re-registered with master ${from}`);
      // The info may have grown (--reconfiguration_policy=additive): keep the checkpoint current.
      this.checkpointAgent(message.slave_id.value);
      this.afterRegistration(from, message.slave_id.value);
    }
    for (const reconcile of message.reconciliations ?? []) this.reconcile(reconcile);
  }

  protected reconcile(reconcile: ReconcileTasksMessage): void {
    const agentId = this.agentId;
    if (agentId === undefined) return;
    const frameworkId = reconcile.framework_id.value;
    const framework = this.frameworks.get(frameworkId);
    const partitionAware = (reconcile.framework?.capabilities ?? []).some(
      (c) => c.type === "PARTITION_AWARE",
    );
    for (const status of reconcile.statuses ?? []) {
      const taskId = status.task_id.value;
      if (framework?.executorForTask(taskId) !== undefined) continue;
      const state: TaskState = partitionAware ? "TASK_DROPPED" : "TASK_LOST";
      this.o.logger.warn(
        `Agent reconciling task ${taskId} of framework ${frameworkId} in state ${state}: task unknown to the agent`,
      );
      this.statusUpdates.update(
        this.agentUpdate(frameworkId, taskId, state, {
          message: "Reconciliation: task unknown to the agent",
          reason: "REASON_RECONCILIATION",
        }),
      );
    }
  }

  /** PingSlaveMessage. */
  ping(from: string, message: PingSlaveMessage): void {
    this.link.ping(from, message.connected);
  }

  /** A linked peer's connection broke. */
  exited(pid: string): void {
    this.o.logger.info(`Got exited event for ${pid}`);
    this.link.exited(pid);
  }

  // ---- launching tasks ------------------------------------------------------

  /** RunTaskMessage: run a task (with its own executor or a made-up command executor). */
  runTask(from: string, message: RunTaskMessage): void {
    if (!this.fromMaster(from, "run task")) return;
    const task = message.task;
    const frameworkInfo = message.framework;
    if (frameworkInfo.id === undefined) {
      this.o.logger.error(
        `Ignoring run task message from ${from} because it does not have a framework ID`,
      );
      return;
    }
    if ((task.executor === undefined) === (task.command === undefined)) {
      this.o.logger.error(
        `Ignoring task ${task.task_id.value}: it needs either a CommandInfo or an ExecutorInfo`,
      );
      return;
    }
    const executorInfo = executorInfoFor(frameworkInfo, task, {
      launcherDir: this.o.config.launcherDir,
      executorPath: this.o.config.commandExecutorPath,
    });
    this.run(
      { ...frameworkInfo, id: frameworkInfo.id },
      message.pid,
      executorInfo,
      [task],
      undefined,
      task.executor === undefined,
      message.launch_executor,
      this.outdatedResources(message.resource_version_uuids),
    );
  }

  /**
   * Mesos' check of a launch against the resource version the master sent:
   * another one means the master's view of our resources predates this
   * start (an operation it applied may never have reached us), so the
   * tasks are dropped rather than run on resources we may not have.
   */
  private outdatedResources(
    versions: RunTaskMessage["resource_version_uuids"],
  ): string | undefined {
    const mine = versions?.find((v) => v.resource_provider_id === undefined);
    if (mine === undefined) return undefined;
    return Buffer.from(mine.uuid.value).equals(this.resourceVersion)
      ? undefined
      : "Task assumes outdated resource state";
  }

  /** RunTaskGroupMessage: run a task group on the given executor. */
  runTaskGroup(from: string, message: RunTaskGroupMessage): void {
    if (!this.fromMaster(from, "run task group")) return;
    const frameworkInfo = message.framework;
    if (frameworkInfo.id === undefined) {
      this.o.logger.error(
        `Ignoring run task group message from ${from} because it does not have a framework ID`,
      );
      return;
    }
    const tasks = message.task_group.tasks ?? [];
    this.run(
      { ...frameworkInfo, id: frameworkInfo.id },
      undefined,
      message.executor,
      tasks,
      message.task_group,
      false,
      message.launch_executor,
      this.outdatedResources(message.resource_version_uuids),
    );
  }

  // ---- kills and shutdowns ----------------------------------------------------

  /** KillTaskMessage. */
  killTask(from: string, message: KillTaskMessage): void {
    if (!this.fromMaster(from, "kill task")) return;
    const frameworkId = message.framework_id.value;
    const taskId = message.task_id.value;
    this.o.logger.info(`Asked to kill task ${taskId} of framework ${frameworkId}`);
    if (this.terminating) {
      this.o.logger.warn(`Cannot kill task ${taskId} because the agent is terminating`);
      return;
    }
    const framework = this.frameworks.get(frameworkId);
    if (framework === undefined || framework.state === "TERMINATING") {
      this.o.logger.warn(
        `Ignoring kill task ${taskId} of framework ${frameworkId} because ${framework === undefined ? "no such framework is running" : "the framework is terminating"}`,
      );
      return;
    }
    const executor = framework.executorForTask(taskId);
    if (executor === undefined) {
      this.o.logger.warn(
        `Cannot kill task ${taskId} of framework ${frameworkId} because no corresponding executor is running`,
      );
      this.statusUpdate(
        this.agentUpdate(frameworkId, taskId, framework.droppedState(), {
          message: "Cannot find executor",
          reason: "REASON_EXECUTOR_TERMINATED",
        }),
        false,
      );
      return;
    }
    switch (executor.state) {
      case "REGISTERING":
        this.killQueued(executor, taskId);
        return;
      case "TERMINATING":
      case "TERMINATED":
        this.o.logger.warn(
          `Ignoring kill task ${taskId} because the executor '${executor.id}' is ${executor.state.toLowerCase()}`,
        );
        return;
      case "RUNNING":
        if (executor.queuedTasks.has(taskId)) {
          this.killQueued(executor, taskId);
          if (!executor.everSentTask() && executor.queuedTasks.size === 0) {
            this.shutdownExecutorNow(framework, executor);
          }
          return;
        }
        executor.send({
          type: "KILL",
          kill: {
            task_id: message.task_id,
            ...(message.kill_policy === undefined ? {} : { kill_policy: message.kill_policy }),
          },
        });
    }
  }

  /**
   * DrainSlaveMessage: kill every task (see drain.ts). An agent with no
   * framework left has nothing to drain.
   */
  drain(from: string, message: DrainSlaveMessage): void {
    if (!this.fromMaster(from, "drain")) return;
    if (this.frameworks.size === 0 && !this.hasOperations()) {
      this.o.logger.info(
        "Received a drain request; the agent has no tasks or operations, so draining is complete",
      );
      return;
    }
    const grace = message.config.max_grace_period?.nanoseconds;
    this.o.logger.info(
      `Initiating drain${this.draining.active ? " (replacing the previous drain)" : ""}: ` +
        `mark_gone=${message.config.mark_gone === true}` +
        (grace === undefined ? "" : `, max_grace_period=${grace / 1e9}s`),
    );
    this.draining.start(message.config, this.o.clock.now());
    for (const framework of [...this.frameworks.values()]) {
      for (const executor of [...framework.executors.values()]) {
        const tasks = [...executor.launchedTasks.values(), ...executor.queuedTasks.values()];
        for (const task of tasks) {
          const id = task.task_id.value;
          // A task group's queued tasks are killed together with the first one.
          if (!executor.launchedTasks.has(id) && !executor.queuedTasks.has(id)) continue;
          const policy = this.draining.killPolicy(task.kill_policy);
          this.killTask(from, {
            framework_id: { value: framework.id },
            task_id: task.task_id,
            ...(policy === undefined ? {} : { kill_policy: policy }),
          });
        }
      }
    }
  }

  /** ShutdownExecutorMessage. */
  shutdownExecutor(from: string, message: ShutdownExecutorMessage): void {
    if (!this.fromMaster(from, "shutdown executor")) return;
    const frameworkId = message.framework_id?.value ?? "";
    const executorId = message.executor_id?.value ?? "";
    this.o.logger.info(
      `Asked to shut down executor '${executorId}' of framework ${frameworkId} by ${from}`,
    );
    const framework = this.frameworks.get(frameworkId);
    const executor = framework?.executors.get(executorId);
    if (framework === undefined || framework.state === "TERMINATING" || executor === undefined) {
      this.o.logger.warn(
        `Ignoring shutdown of executor '${executorId}' of framework ${frameworkId}: unknown or terminating`,
      );
      return;
    }
    if (executor.state === "TERMINATING" || executor.state === "TERMINATED") return;
    this.shutdownExecutorNow(framework, executor);
  }

  /** ShutdownFrameworkMessage: kill everything of the framework. */
  shutdownFramework(from: string, message: ShutdownFrameworkMessage): void {
    if (!this.fromMaster(from, "shutdown framework")) return;
    const framework = this.frameworks.get(message.framework_id.value);
    if (framework === undefined) {
      this.o.logger.warn(`Cannot shut down unknown framework ${message.framework_id.value}`);
      return;
    }
    this.shutdownFrameworkNow(framework);
  }

  /** FrameworkToExecutorMessage: deliver framework data to its executor. */
  frameworkMessage(from: string, message: FrameworkToExecutorMessage): void {
    if (!this.isSchedulerPid(from, message) && !this.fromMaster(from, "framework message")) return;
    const frameworkId = message.framework_id.value;
    const executorId = message.executor_id.value;
    const framework = this.frameworks.get(frameworkId);
    const executor = framework?.executors.get(executorId);
    if (framework === undefined || framework.state === "TERMINATING" || executor === undefined) {
      this.o.logger.warn(
        `Dropping framework message for executor '${executorId}' of framework ${frameworkId}: unknown framework or executor`,
      );
      this.counters.invalidFrameworkMessages++;
      return;
    }
    if (executor.state !== "RUNNING") {
      this.o.logger.warn(
        `Dropping framework message for executor '${executorId}' of framework ${frameworkId} because the executor is ${executor.state}`,
      );
      this.counters.invalidFrameworkMessages++;
      return;
    }
    executor.send({ type: "MESSAGE", message: { data: message.data } });
    this.counters.validFrameworkMessages++;
  }

  /** UpdateFrameworkMessage: new FrameworkInfo or scheduler pid. */
  updateFramework(from: string, message: UpdateFrameworkMessage): void {
    if (!this.fromMaster(from, "update framework")) return;
    const framework = this.frameworks.get(message.framework_id.value);
    if (framework === undefined) return;
    if (message.framework_info?.id !== undefined) {
      framework.info = { ...message.framework_info, id: message.framework_info.id };
    }
    if (message.pid !== undefined) framework.pid = message.pid === "" ? undefined : message.pid;
    this.checkpointFramework(framework);
  }

  // ---- recovery ---------------------------------------------------------------

  /**
   * Restores the agent from its checkpoint before `start` (Mesos'
   * `recoverFramework` / `recoverExecutor` / `recoverTask`): the agent id,
   * the frameworks, the latest run of every executor not yet completed
   * (waiting to re-subscribe, state REGISTERING), their tasks with the
   * states their updates gave them, and the status update streams (replayed
   * once registered). Returns the executors for the runtime to re-attach.
   */
  recover(checkpoint: AgentCheckpoint): RecoveredExecutor[] {
    this.agentId = checkpoint.id;
    const recovered: RecoveredExecutor[] = [];
    const finished = new FinishedDirectories(this.o.config.workDir, checkpoint.id, this.sandboxGc);
    for (const saved of checkpoint.frameworks.values()) {
      if (saved.info === undefined || saved.executors.size === 0) finished.framework(saved.id);
      if (saved.info === undefined || saved.info.checkpoint !== true) {
        this.o.logger.warn(
          `Not recovering framework ${saved.id}: ${saved.info === undefined ? "no framework info was checkpointed" : "it does not checkpoint"}`,
        );
        continue;
      }
      const framework = new Framework(
        { ...saved.info, id: { value: saved.id } },
        saved.pid,
        this.o.config.maxCompletedExecutorsPerFramework,
      );
      for (const savedExecutor of saved.executors.values()) {
        const run =
          savedExecutor.latest === undefined
            ? undefined
            : savedExecutor.runs.get(savedExecutor.latest);
        if (savedExecutor.info === undefined || run === undefined) {
          this.o.logger.warn(
            `Not recovering executor '${savedExecutor.id}' of framework ${saved.id}: ${savedExecutor.info === undefined ? "no executor info" : "no latest run"} was checkpointed`,
          );
          finished.executor(saved.id, savedExecutor.id);
          continue;
        }
        // Only the latest run can be live: earlier ones are garbage.
        for (const other of savedExecutor.runs.keys()) {
          if (other !== run.containerId) finished.run(saved.id, savedExecutor.id, other);
        }
        if (run.completed) {
          this.recoverCompletedRun(framework, savedExecutor, run, checkpoint.id);
          finished.run(saved.id, savedExecutor.id, run.containerId);
          finished.executor(saved.id, savedExecutor.id);
          continue;
        }
        const ids: RunIds = {
          agentId: checkpoint.id,
          frameworkId: saved.id,
          executorId: savedExecutor.id,
          containerId: run.containerId,
        };
        const directory = sandboxPath(this.o.config.workDir, ids);
        const executor = new Executor(
          saved.id,
          { ...savedExecutor.info, framework_id: { value: saved.id } },
          run.containerId,
          directory,
          savedExecutor.generatedForCommandTask,
          true,
        );
        executor.pid = run.identity?.pid ?? run.forkedPid;
        for (const task of run.tasks.values()) {
          if (task.info === undefined) {
            this.o.logger.warn(`Not recovering task ${task.id}: no task info was checkpointed`);
            continue;
          }
          this.countRecoveredEnd(
            executor.recoverTask(task.info, task.updates, (uuid) => task.acks.has(uuidKey(uuid))),
          );
          const pending = this.statusUpdates.recover(saved.id, task.id, task.updates, task.acks);
          if (pending > 0) {
            this.o.logger.info(
              `Recovered ${pending} unacknowledged status update(s) of task ${task.id} of framework ${saved.id}`,
            );
          }
        }
        framework.executors.set(executor.id, executor);
        this.containers.set(run.containerId, { frameworkId: saved.id, executorId: executor.id });
        recovered.push({ ids, directory, pid: executor.pid });
        this.o.logger.info(
          `Recovered executor '${executor.id}' of framework ${saved.id} (container ${run.containerId}, ${executor.launchedTasks.size} live task(s))`,
        );
      }
      if (framework.executors.size > 0) {
        this.frameworks.set(saved.id, framework);
      } else if (saved.executors.size > 0) {
        // Nothing of it is live: removed at once, as Mesos' recoverFramework
        // does, so it is listed among the completed frameworks (with its
        // finished executors) until newer ones push it out.
        this.o.logger.info(`Framework ${saved.id} has no live executor left: it is completed`);
        this.rememberCompletedFramework(framework);
        finished.frameworkNow(framework);
      }
    }
    return recovered;
  }

  /**
   * Sandboxes of the finished runs recovery found (one per executor whose
   * latest run had completed): browsable in `/files` again until garbage
   * collection removes them, as Mesos attaches them at recovery.
   */
  readonly recoveredCompletedRuns: { ids: RunIds; directory: string }[] = [];

  /**
   * A finished executor run still in the checkpoint (Mesos' `recoverExecutor`
   * with a completed run): its tasks get their states back from their
   * updates and count again in `slave/tasks_<state>`, the executor counts in
   * `slave/executors_terminated`, and it is listed among the framework's
   * completed executors (bounded by `--max_completed_executors_per_framework`).
   */
  private recoverCompletedRun(
    framework: Framework,
    saved: ExecutorCheckpoint,
    run: RunCheckpoint,
    agentId: string,
  ): void {
    const info = saved.info;
    if (info === undefined) return;
    const ids: RunIds = {
      agentId,
      frameworkId: framework.id,
      executorId: saved.id,
      containerId: run.containerId,
    };
    const directory = sandboxPath(this.o.config.workDir, ids);
    const done = new Executor(
      framework.id,
      { ...info, framework_id: { value: framework.id } },
      run.containerId,
      directory,
      saved.generatedForCommandTask,
      true,
    );
    done.state = "TERMINATED";
    for (const task of run.tasks.values()) {
      if (task.info === undefined) {
        this.o.logger.warn(`Not recovering task ${task.id}: no task info was checkpointed`);
        continue;
      }
      this.countRecoveredEnd(
        done.recoverTask(task.info, task.updates, (uuid) => task.acks.has(uuidKey(uuid))),
      );
    }
    // A task whose terminal update never made it to the checkpoint is left
    // in a live state: it cannot be live in a finished run, so it is listed
    // with the terminated ones (in its last known state), as Mesos does.
    for (const [taskId, task] of [...done.launchedTasks]) {
      done.launchedTasks.delete(taskId);
      done.terminatedTasks.set(taskId, task);
    }
    this.counters.executorsTerminated++;
    framework.retireExecutor(done);
    this.recoveredCompletedRuns.push({ ids, directory });
    this.o.logger.info(
      `Recovered completed executor '${saved.id}' of framework ${framework.id} (container ${run.containerId})`,
    );
  }

  /**
   * Terminal states the recovered checkpoints replayed, per task state
   * (`TASK_FINISHED` ...): Mesos' `slave/tasks_<state>` counters start from
   * these after a restart, not from 0.
   */
  readonly recoveredTaskEnds = new Map<TaskState, number>();

  private countRecoveredEnd(state: TaskState | undefined): void {
    if (state === undefined) return;
    this.recoveredTaskEnds.set(state, (this.recoveredTaskEnds.get(state) ?? 0) + 1);
  }

  /** Recovered executors that have not re-subscribed yet. */
  get reregisteringExecutors(): number {
    let n = 0;
    for (const framework of this.frameworks.values()) {
      for (const executor of framework.executors.values()) {
        if (executor.state === "REGISTERING") n++;
      }
    }
    return n;
  }

  /**
   * The executor re-registration timeout after recovery: executors that
   * did not re-subscribe are destroyed, their tasks then end TASK_GONE
   * (partition-aware frameworks) or TASK_LOST with
   * REASON_EXECUTOR_REREGISTRATION_TIMEOUT, as Mesos does.
   */
  reregisterExecutorTimeout(): void {
    const timeout = this.o.config.executorReregistrationTimeout;
    for (const framework of this.frameworks.values()) {
      for (const executor of framework.executors.values()) {
        if (executor.state !== "REGISTERING") continue;
        this.o.logger.info(
          `Killing un-reregistered executor '${executor.id}' of framework ${framework.id}`,
        );
        executor.state = "TERMINATING";
        executor.pendingTermination = {
          state: framework.hasCapability("PARTITION_AWARE") ? "TASK_GONE" : "TASK_LOST",
          reason: "REASON_EXECUTOR_REREGISTRATION_TIMEOUT",
          message: `Executor did not reregister within ${timeout}`,
        };
        this.o.containerizer.destroy(executor.containerId);
      }
    }
  }

  /** Kills every recovered executor (`--recover=cleanup`). */
  cleanupRecovered(): void {
    // Recovery is over (`/state` answers again), and the agent never registers.
    this.cleaningUp = true;
    for (const framework of [...this.frameworks.values()]) {
      for (const executor of framework.executors.values()) {
        if (executor.state === "TERMINATED") continue;
        executor.state = "TERMINATING";
        this.o.containerizer.destroy(executor.containerId);
      }
    }
  }

  private checkpointAgent(id: string): void {
    this.o.checkpointer
      ?.agent({ ...this.info, id: { value: id } })
      .catch((e: unknown) =>
        this.o.logger.error(`Failed to checkpoint the agent info: ${(e as Error).message}`),
      );
  }

  /** ShutdownMessage: the master asks the agent to go away (e.g. it was removed). */
  shutdown(from: string, reason: string | undefined): void {
    if (from !== this.link.master) {
      this.o.logger.warn(`Ignoring shutdown message from ${from}: not our master`);
      return;
    }
    this.o.logger.info(
      `Agent asked to shut down by ${from}${reason === undefined ? "" : ` because '${reason}'`}`,
    );
    this.beginTermination();
  }

  /**
   * SIGUSR1, as in Mesos: a registered agent tells its master it leaves for
   * good (UnregisterSlaveMessage), and every executor is shut down, those
   * of checkpointing frameworks too. `beginTermination` ends it.
   */
  unregisterAndShutDown(reason: string): void {
    const master = this.link.master;
    if (this.agentId !== undefined && master !== undefined) {
      this.o.logger.info(`${reason}; unregistering and shutting down`);
      this.o.transport.send(master, "mesos.internal.UnregisterSlaveMessage", {
        slave_id: { value: this.agentId },
      });
    } else {
      this.o.logger.info(`${reason}; shutting down`);
    }
    this.leavingForGood = true;
    this.beginTermination();
  }

  /** Set by `unregisterAndShutDown`: no executor is left running for a later agent. */
  private leavingForGood = false;

  /**
   * Stops the agent: shuts down every framework (executors get SHUTDOWN and
   * are killed after their grace period) and calls `onTerminated` once all
   * are gone. With `keepCheckpointed`, executors of checkpointing frameworks
   * are left running for a later agent to recover, as Mesos does on SIGTERM
   * (not after `unregisterAndShutDown`).
   */
  beginTermination(options: { keepCheckpointed?: boolean } = {}): void {
    const keepCheckpointed = options.keepCheckpointed === true && !this.leavingForGood;
    if (!this.terminating) {
      this.terminating = true;
      this.link.terminate();
      this.statusUpdates.pause();
      this.operations.disconnected();
    }
    for (const framework of [...this.frameworks.values()]) {
      if (keepCheckpointed && framework.info.checkpoint === true) {
        // Left running for the next agent; their event streams end now so
        // they start re-subscribing (and the process is free to exit).
        for (const executor of framework.executors.values()) {
          this.clearExecutorTimers(executor);
          executor.connection?.close();
          executor.connection = undefined;
        }
        this.frameworks.delete(framework.id);
        continue;
      }
      this.shutdownFrameworkNow(framework);
    }
    if (this.frameworks.size === 0) this.o.onTerminated?.();
  }

  protected isSchedulerPid(from: string, message: FrameworkToExecutorMessage): boolean {
    const pid = this.frameworks.get(message.framework_id.value)?.pid;
    return pid !== undefined && pid === from;
  }
}
export { describeWaitStatus } from "./agent-executors.js";
