/**
 * Running tasks on executors: queueing tasks, launching executors in
 * containers, handing tasks over, reacting to container exits, registration
 * timeouts and shutdowns (with their grace period).
 */
import { newContainerId } from "../common/ids/index.js";
import type { RunTaskGroupMessage } from "../common/protocol/generated/mesos-internal.js";
import type {
  ExecutorInfo,
  FrameworkInfo,
  Resource,
  TaskInfo,
  TaskState,
  TaskStatus_Reason,
} from "../common/protocol/generated/mesos-v1.js";
import { isTerminalState } from "../common/protocol/task-states.js";
import type { ContainerTermination } from "./agent-ports.js";
import { AgentStatusFlow } from "./agent-status.js";
import { createTask, Executor, type PendingTermination } from "./executor.js";
import { executorProcessEnvironment } from "./executor-env.js";
import { defaultExecutorCommand } from "./executor-info.js";
import { Framework } from "./framework.js";
import { isSafePathSegment, sandboxPath } from "./paths.js";
import { linkVolumes } from "./volumes.js";
import { resourcesOf } from "./wire-resources.js";
export abstract class AgentExecutors extends AgentStatusFlow {
  protected run(
    frameworkInfo: FrameworkInfo & { id: { value: string } },
    schedulerPid: string | undefined,
    executorInfo: ExecutorInfo,
    tasks: TaskInfo[],
    taskGroup: RunTaskGroupMessage["task_group"] | undefined,
    generatedForCommandTask: boolean,
    launchExecutor: boolean | undefined,
    /** Set when the master's view of our resources is outdated: the tasks are dropped. */
    outdated?: string,
  ): void {
    const frameworkId = frameworkInfo.id.value;
    const executorId = executorInfo.executor_id.value;
    const what = taskGroup === undefined ? "task" : "task group";
    this.o.logger.info(
      `Got assigned ${what} ${tasks.map((t) => `'${t.task_id.value}'`).join(", ")} for framework ${frameworkId}`,
    );
    let framework = this.frameworks.get(frameworkId);
    if (framework === undefined) {
      this.keepFrameworkDirectories(frameworkId);
      framework = new Framework(
        frameworkInfo,
        schedulerPid === "" ? undefined : schedulerPid,
        this.o.config.maxCompletedExecutorsPerFramework,
      );
      // A framework completed earlier (or found finished at recovery) keeps
      // its finished executors and is no longer listed as completed.
      const earlier = this.takeCompletedFramework(frameworkId);
      if (earlier !== undefined) framework.completedExecutors.push(...earlier.completedExecutors);
      this.frameworks.set(frameworkId, framework);
    } else {
      framework.info = frameworkInfo;
      if (schedulerPid !== undefined && schedulerPid !== "") framework.pid = schedulerPid;
    }
    if (framework.state === "TERMINATING") {
      this.o.logger.warn(
        `Ignoring ${what} for framework ${frameworkId} because the framework is terminating`,
      );
      return;
    }
    this.checkpointFramework(framework);
    // Tasks refused before reaching an executor go straight to the status
    // update manager; a framework left with nothing on the agent is removed
    // first (as Mesos does for pending tasks), so its streams survive.
    const drop = (state: TaskState, reason: TaskStatus_Reason, message: string) => {
      if (framework.idle()) this.removeFramework(framework);
      for (const t of tasks) {
        this.counters.validStatusUpdates++;
        this.statusUpdates.update(
          this.agentUpdate(frameworkId, t.task_id.value, state, { message, reason, executorId }),
        );
      }
    };
    const unsafe = [frameworkId, executorId, ...tasks.map((t) => t.task_id.value)].find(
      (id) => !isSafePathSegment(id),
    );
    if (unsafe !== undefined) {
      drop(
        "TASK_ERROR",
        "REASON_TASK_INVALID",
        `'${unsafe}' cannot name a sandbox directory on this agent`,
      );
      return;
    }
    if (this.draining.active) {
      this.o.logger.warn(`Ignoring ${what} for framework ${frameworkId}: the agent is draining`);
      drop(
        framework.droppedState(),
        "REASON_AGENT_DRAINING",
        "Task was received while agent was already draining",
      );
      return;
    }
    if (outdated !== undefined) {
      this.o.logger.warn(`Dropping ${what} for framework ${frameworkId}: ${outdated}`);
      drop(framework.droppedState(), "REASON_INVALID_OFFERS", outdated);
      return;
    }

    let executor = framework.executors.get(executorId);
    // An executor already there gets the volumes of its new tasks here; a new
    // one gets them when its container is launched (volumes.ts).
    const running = executor !== undefined;
    if (executor === undefined) {
      if (launchExecutor === false) {
        drop(
          framework.droppedState(),
          "REASON_EXECUTOR_TERMINATED",
          "No executor is running for the task and the master asked not to launch one",
        );
        return;
      }
      this.keepExecutorDirectories(frameworkId, executorId);
      executor = this.launchExecutor(
        framework,
        executorInfo,
        generatedForCommandTask,
        generatedForCommandTask ? tasks[0] : undefined,
      );
      if (executor === undefined) {
        drop(framework.droppedState(), "REASON_EXECUTOR_TERMINATED", "Agent is not registered");
        return;
      }
    } else if (executor.state === "TERMINATING" || executor.state === "TERMINATED") {
      drop(
        framework.droppedState(),
        "REASON_EXECUTOR_TERMINATED",
        `Executor ${executor.state === "TERMINATING" ? "terminating" : "terminated"}`,
      );
      return;
    }

    for (const t of tasks) {
      executor.queuedTasks.set(t.task_id.value, t);
      framework.noteTask(t.task_id.value, executor);
      this.checkpointed(
        `task '${t.task_id.value}'`,
        (c, ids) => c.task(ids, createTask(t, "TASK_STAGING", frameworkId)),
        executor,
      );
    }
    if (taskGroup !== undefined) executor.queuedTaskGroups.push(taskGroup);
    if (running) this.linkTaskVolumes(executor, [...tasks, ...(taskGroup?.tasks ?? [])]);
    this.o.containerizer.update?.(executor.containerId, executor.allocatedResources());
    if (executor.state === "RUNNING") this.deliverQueued(executor, tasks, taskGroup);
  }

  /**
   * Makes the persistent volumes of tasks sent to an executor that is
   * already running appear in its sandbox, as Mesos' agent adds them to the
   * container when it updates its resources.
   */
  private linkTaskVolumes(executor: Executor, tasks: readonly { resources?: Resource[] }[]): void {
    const resources = tasks.flatMap((t) => t.resources ?? []);
    if (!resources.some((r) => r.disk?.persistence !== undefined)) return;
    linkVolumes(this.o.config.workDir, executor.directory, resources, this.o.logger);
    this.o.containerizer.volumesAdded?.(executor.containerId, resources);
  }

  /** Hands queued tasks (or a queued task group) to a subscribed executor. */
  protected deliverQueued(
    executor: Executor,
    tasks: readonly TaskInfo[],
    taskGroup: RunTaskGroupMessage["task_group"] | undefined,
  ): void {
    const launched = tasks.filter((t) => executor.launchQueuedTask(t.task_id.value) !== undefined);
    if (launched.length === 0) return;
    if (taskGroup !== undefined) {
      this.o.logger.info(
        `Sending task group to executor ${executor.id} of framework ${executor.frameworkId}`,
      );
      executor.send({ type: "LAUNCH_GROUP", launch_group: { task_group: { tasks: launched } } });
      return;
    }
    for (const t of launched) {
      this.o.logger.info(
        `Sending queued task '${t.task_id.value}' to executor ${executor.id} of framework ${executor.frameworkId}`,
      );
      executor.send({ type: "LAUNCH", launch: { task: t } });
    }
  }

  protected launchExecutor(
    framework: Framework,
    info: ExecutorInfo,
    generatedForCommandTask: boolean,
    commandTask?: TaskInfo,
  ): Executor | undefined {
    const agentId = this.agentId;
    if (agentId === undefined) return undefined;
    const containerId = newContainerId(this.o.random);
    const ids = {
      agentId,
      frameworkId: framework.id,
      executorId: info.executor_id.value,
      containerId,
    };
    const directory = sandboxPath(this.o.config.workDir, ids);
    const executorInfo: ExecutorInfo = { ...info, framework_id: { value: framework.id } };
    if (info.type === "DEFAULT" && info.command === undefined) {
      executorInfo.command = defaultExecutorCommand(
        this.o.config.launcherDir,
        this.o.config.defaultExecutorPath,
      );
    }
    const checkpoint = framework.info.checkpoint ?? false;
    const executor = new Executor(
      framework.id,
      executorInfo,
      containerId,
      directory,
      generatedForCommandTask,
      checkpoint,
    );
    framework.executors.set(executor.id, executor);
    this.containers.set(containerId, { frameworkId: framework.id, executorId: executor.id });
    this.checkpointed(
      "info",
      (c, runIds) => c.executor(runIds, executorInfo, generatedForCommandTask),
      executor,
    );
    const { config } = this.o;
    const environment = executorProcessEnvironment({
      executor: executorInfo,
      directory,
      agentId,
      agentPid: config.selfPid,
      agentEndpoint: config.endpoint,
      checkpoint,
      extraVariables: config.executorEnvironmentVariables,
      shutdownGracePeriod: config.executorShutdownGracePeriod,
      recoveryTimeout: config.recoveryTimeout,
      reregistrationTimeout: config.executorReregistrationTimeout,
      httpCommandExecutor: config.httpCommandExecutor,
      agentEnv: config.agentEnv,
      ...(config.local === true ? { local: true } : {}),
    });
    const token = config.executorToken?.({
      frameworkId: framework.id,
      executorId: executor.id,
      containerId,
    });
    if (token !== undefined) environment.MESOS_EXECUTOR_AUTHENTICATION_TOKEN = token;
    const user = config.switchUser ? (info.command?.user ?? framework.info.user) : undefined;
    this.o.logger.info(
      `Launching executor '${executor.id}' of framework ${framework.id} with resources ${resourcesOf(executorInfo.resources).toString()} in work directory '${directory}'`,
    );
    this.o.containerizer.launch({
      containerId,
      agentId,
      frameworkId: framework.id,
      executorId: executor.id,
      directory,
      // As Mesos: the default ContainerInfo is part of the launch only, not of the
      // ExecutorInfo the agent keeps and reports.
      executor:
        executorInfo.container === undefined && config.defaultContainerInfo !== undefined
          ? { ...executorInfo, container: config.defaultContainerInfo }
          : executorInfo,
      commandExecutor: generatedForCommandTask,
      ...(commandTask === undefined ? {} : { commandTask }),
      environment,
      user,
      checkpoint,
    });
    return executor;
  }

  /** Checkpoints a checkpointing framework's FrameworkInfo and scheduler pid. */
  protected checkpointFramework(framework: Framework): void {
    const checkpointer = this.o.checkpointer;
    const agentId = this.agentId;
    if (checkpointer === undefined || agentId === undefined || framework.info.checkpoint !== true) {
      return;
    }
    checkpointer
      .framework(agentId, framework.info, framework.pid)
      .catch((e: unknown) =>
        this.o.logger.error(
          `Failed to checkpoint framework ${framework.id}: ${(e as Error).message}`,
        ),
      );
  }

  // ---- container events -------------------------------------------------------

  /** The containerizer started (or failed to start) a container. */
  containerLaunched(containerId: string, result: { pid: number } | { error: string }): void {
    const executor = this.executorOfContainer(containerId);
    if ("error" in result) {
      this.counters.containerLaunchErrors++;
      this.o.logger.error(`Container '${containerId}' failed to start: ${result.error}`);
      if (executor !== undefined && executor.containerId === containerId) {
        executor.pendingTermination = {
          state: "TASK_FAILED",
          reason: "REASON_CONTAINER_LAUNCH_FAILED",
          message: `Failed to launch container: ${result.error}`,
        };
      }
      this.o.containerizer.destroy(containerId);
      return;
    }
    if (executor === undefined) {
      this.o.logger.warn(`Killing container '${containerId}' of an unknown executor`);
      this.o.containerizer.destroy(containerId);
      return;
    }
    executor.pid = result.pid;
    this.o.logger.info(
      `Launched executor '${executor.id}' of framework ${executor.frameworkId} (pid ${result.pid})`,
    );
    const framework = this.frameworks.get(executor.frameworkId);
    if (framework?.state === "TERMINATING" || executor.state === "TERMINATING") {
      this.o.logger.warn(`Killing executor '${executor.id}' because it is terminating`);
      this.o.containerizer.destroy(containerId);
      return;
    }
    // The timeout counts from the executor's start, not from the launch
    // request: fetching URIs, or a storm of launches on a busy host, must
    // not eat into the time the executor has to subscribe.
    if (executor.state === "REGISTERING" && executor.registrationTimer === undefined) {
      const frameworkId = executor.frameworkId;
      const executorId = executor.id;
      executor.registrationTimer = this.o.clock.setTimer(
        this.o.config.executorRegistrationTimeout.toMs(),
        () => this.registerExecutorTimeout(frameworkId, executorId, containerId),
      );
    }
  }

  /** A container's processes are gone (executor exit, kill, or failed launch). */
  containerTerminated(containerId: string, termination: ContainerTermination): void {
    const where = this.containers.get(containerId);
    this.containers.delete(containerId);
    if (where === undefined) return;
    const framework = this.frameworks.get(where.frameworkId);
    const executor = framework?.executors.get(where.executorId);
    if (framework === undefined || executor === undefined || executor.containerId !== containerId) {
      return;
    }
    const status = termination.status;
    this.o.logger.info(
      `Executor '${executor.id}' of framework ${framework.id} ${status === undefined ? "has terminated with unknown status" : describeWaitStatus(status)}`,
    );
    if (executor.state === "TERMINATED") return;
    this.counters.executorsTerminated++;
    executor.state = "TERMINATED";
    this.clearExecutorTimers(executor);
    executor.connection?.close();
    executor.connection = undefined;

    if (framework.state !== "TERMINATING") {
      for (const [taskId, task] of [...executor.launchedTasks]) {
        if (!isTerminalState(task.state))
          this.sendExecutorTerminated(executor, taskId, termination);
      }
      for (const taskId of [...executor.queuedTasks.keys()]) {
        this.sendExecutorTerminated(executor, taskId, termination);
      }
    } else {
      for (const [taskId, task] of [...executor.launchedTasks]) {
        executor.launchedTasks.delete(taskId);
        executor.terminatedTasks.set(taskId, task);
      }
    }
    if (!executor.generatedForCommandTask && this.agentId !== undefined) {
      const master = this.link.master;
      if (master !== undefined && this.link.state === "RUNNING") {
        this.o.transport.send(master, "mesos.internal.ExitedExecutorMessage", {
          slave_id: { value: this.agentId },
          framework_id: { value: framework.id },
          executor_id: executor.info.executor_id,
          status: status ?? -1,
        });
      }
    }
    if (this.terminating || framework.state === "TERMINATING" || !executor.incompleteTasks()) {
      this.removeExecutor(framework, executor);
    }
    if (framework.idle()) this.removeFramework(framework);
  }

  protected sendExecutorTerminated(
    executor: Executor,
    taskId: string,
    termination: ContainerTermination,
  ): void {
    // A limitation (memory, disk) is why the container ended, whatever else was pending.
    const limitation = termination.limitation;
    const pending: PendingTermination | undefined =
      limitation === undefined
        ? executor.pendingTermination
        : { state: "TASK_FAILED", ...limitation };
    const messages: string[] = [];
    if (pending !== undefined) messages.push(pending.message);
    else if (termination.message !== undefined) messages.push(termination.message);
    this.statusUpdate(
      this.agentUpdate(executor.frameworkId, taskId, pending?.state ?? "TASK_FAILED", {
        message: messages.length === 0 ? "Executor terminated" : messages.join("; "),
        reason: pending?.reason ?? "REASON_EXECUTOR_TERMINATED",
        executorId: executor.id,
        ...(limitation?.resources === undefined ? {} : { limitedResources: limitation.resources }),
      }),
      false,
    );
  }

  protected registerExecutorTimeout(frameworkId: string, executorId: string, containerId: string) {
    const framework = this.frameworks.get(frameworkId);
    const executor = framework?.executors.get(executorId);
    if (framework === undefined || executor === undefined) return;
    executor.registrationTimer = undefined;
    if (framework.state === "TERMINATING" || executor.containerId !== containerId) return;
    if (executor.state !== "REGISTERING") return;
    const timeout = this.o.config.executorRegistrationTimeout;
    this.o.logger.info(
      `Terminating executor '${executorId}' of framework ${frameworkId} because it did not register within ${timeout}`,
    );
    executor.state = "TERMINATING";
    executor.pendingTermination = {
      state: "TASK_FAILED",
      reason: "REASON_EXECUTOR_REGISTRATION_TIMEOUT",
      message: `Executor did not register within ${timeout}`,
    };
    this.o.containerizer.destroy(containerId);
  }

  /** Kills a task (or its whole task group) before it reached the executor. */
  protected killQueued(executor: Executor, taskId: string): void {
    const group = executor.queuedTaskGroupOf(taskId);
    const ids = group === undefined ? [taskId] : (group.tasks ?? []).map((t) => t.task_id.value);
    const message =
      group === undefined
        ? "Killed before delivery to the executor"
        : "A task within the task group was killed before delivery to the executor";
    for (const id of ids) {
      this.statusUpdate(
        this.agentUpdate(executor.frameworkId, id, "TASK_KILLED", {
          message,
          reason: "REASON_TASK_KILLED_DURING_LAUNCH",
          executorId: executor.id,
        }),
        false,
      );
    }
  }

  protected shutdownFrameworkNow(framework: Framework): void {
    if (framework.state === "TERMINATING") return;
    this.o.logger.info(`Shutting down framework ${framework.id}`);
    framework.state = "TERMINATING";
    for (const executor of [...framework.executors.values()]) {
      if (executor.state === "REGISTERING" || executor.state === "RUNNING") {
        this.shutdownExecutorNow(framework, executor);
      } else if (executor.state === "TERMINATED") {
        this.removeExecutor(framework, executor);
      }
    }
    if (framework.idle()) this.removeFramework(framework);
  }

  /**
   * Asks the executor to shut down (SHUTDOWN event) and destroys its
   * container when it has not exited within its shutdown grace period.
   */
  protected shutdownExecutorNow(framework: Framework, executor: Executor): void {
    if (executor.state !== "REGISTERING" && executor.state !== "RUNNING") return;
    this.o.logger.info(`Shutting down executor '${executor.id}' of framework ${framework.id}`);
    executor.state = "TERMINATING";
    executor.send({ type: "SHUTDOWN" });
    const nanos = executor.info.shutdown_grace_period?.nanoseconds;
    const graceMs =
      nanos === undefined ? this.o.config.executorShutdownGracePeriod.toMs() : nanos / 1e6;
    const containerId = executor.containerId;
    executor.shutdownTimer = this.o.clock.setTimer(graceMs, () => {
      executor.shutdownTimer = undefined;
      const current = this.frameworks.get(framework.id)?.executors.get(executor.id);
      if (current?.containerId !== containerId || current.state !== "TERMINATING") return;
      this.o.logger.info(`Killing executor '${executor.id}' of framework ${framework.id}`);
      this.o.containerizer.destroy(containerId);
    });
  }
}

/**
 * `exited with status 1` / `terminated with signal 9` for a raw wait status
 * (as waitpid reports it: exit code in bits 8-15, or the signal in bits 0-6).
 */
export function describeWaitStatus(status: number): string {
  const signal = status & 0x7f;
  if (signal === 0) return `exited with status ${(status >> 8) & 0xff}`;
  return `terminated with signal ${signal}`;
}
