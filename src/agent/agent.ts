/** The agent core (see the class comment). */
import type {
  FrameworkToExecutorMessage,
  KillTaskMessage,
  PingSlaveMessage,
  ReconcileTasksMessage,
  RunTaskGroupMessage,
  RunTaskMessage,
  ShutdownExecutorMessage,
  ShutdownFrameworkMessage,
  SlaveRegisteredMessage,
  SlaveReregisteredMessage,
  UpdateFrameworkMessage,
} from "../common/protocol/generated/mesos-internal.js";
import type { TaskState } from "../common/protocol/generated/mesos-v1.js";
import { AgentExecutorApi } from "./agent-executor-api.js";
import { executorInfoFor } from "./executor-info.js";
import { isSafePathSegment } from "./paths.js";
import { registerMessage, reregisterMessage } from "./registration-messages.js";

export * from "./agent-ports.js";
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

  protected attemptRegistration(master: string): void {
    this.o.transport.link(master);
    const { config } = this.o;
    if (this.agentId === undefined) {
      this.o.logger.info(`Registering with master ${master}`);
      this.o.transport.send(
        master,
        "mesos.internal.RegisterSlaveMessage",
        registerMessage(this.info, config.version, config.capabilities),
      );
    } else {
      this.o.logger.info(`Re-registering with master ${master} as agent ${this.agentId}`);
      this.o.transport.send(
        master,
        "mesos.internal.ReregisterSlaveMessage",
        reregisterMessage(this.info, config.version, config.capabilities, this.frameworks.values()),
      );
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
    );
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
   * Stops the agent: shuts down every framework (executors get SHUTDOWN and
   * are killed after their grace period) and calls `onTerminated` once all
   * are gone. With `keepCheckpointed`, executors of checkpointing frameworks
   * are left running for a later agent to recover, as Mesos does on SIGTERM.
   */
  beginTermination(options: { keepCheckpointed?: boolean } = {}): void {
    if (!this.terminating) {
      this.terminating = true;
      this.link.terminate();
      this.statusUpdates.pause();
    }
    for (const framework of [...this.frameworks.values()]) {
      if (options.keepCheckpointed === true && framework.info.checkpoint === true) {
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
