/** The agent core's shared state and helpers (see AgentBase). */
import { newStatusUpdateUuid } from "../common/ids/index.js";
import type { SlaveInfo, StatusUpdate } from "../common/protocol/generated/mesos-internal.js";
import type {
  AgentInfo,
  Resource,
  TaskState,
  TaskStatus_Reason,
} from "../common/protocol/generated/mesos-v1.js";
import type { Resources } from "../common/resources/index.js";
import type { AgentConfig, AgentCounters, AgentOptions } from "./agent-ports.js";
import { EXECUTOR_HEARTBEAT_INTERVAL_MS, MAX_COMPLETED_FRAMEWORKS } from "./agent-ports.js";
import { AgentDrain } from "./drain.js";
import type { Executor } from "./executor.js";
import type { Framework } from "./framework.js";
import type { SandboxGc } from "./gc/sandbox-gc.js";
import {
  executorPath,
  frameworkPath,
  metaRoot,
  metaRunPath,
  metaTaskPath,
  type RunIds,
  sandboxPath,
} from "./paths.js";
import { MasterLink } from "./registration.js";
import { type StreamRecord, TaskStatusUpdateManager } from "./status-updates/manager.js";
import { createStatusUpdate } from "./status-updates/status-update.js";
import { resourcesOf } from "./wire-resources.js";
/**
 * The agent's state and the helpers every part of it uses. The core is
 * layered by concern: this base (state, identity, cleanup), the status
 * update flow (agent-status.ts), executors and containers
 * (agent-executors.ts), the executor API (agent-executor-api.ts), and the
 * master's messages (agent.ts, the class callers use).
 */
export abstract class AgentBase {
  readonly frameworks = new Map<string, Framework>();
  readonly completedFrameworks: Framework[] = [];
  readonly link: MasterLink;
  readonly statusUpdates: TaskStatusUpdateManager;
  /** The drain the master asked for (DrainSlaveMessage), while it lasts. */
  readonly draining = new AgentDrain();
  readonly counters: AgentCounters = {
    validStatusUpdates: 0,
    invalidStatusUpdates: 0,
    validFrameworkMessages: 0,
    invalidFrameworkMessages: 0,
    containerLaunchErrors: 0,
    executorsTerminated: 0,
    executorsPreempted: 0,
  };
  /** Wall-clock seconds when the agent started. */
  readonly startTime: number;
  protected agentId: string | undefined;
  protected terminating = false;
  /**
   * Recovered with `--recover=cleanup`: the old executors are being killed
   * and the agent exits after (Mesos' TERMINATING state after recovery).
   */
  protected cleaningUp = false;
  protected readonly containers = new Map<string, { frameworkId: string; executorId: string }>();
  protected readonly totalResources: Resources;
  /**
   * Garbage collection of finished sandboxes and checkpoint directories
   * (set by the runtime before recovery; unset, nothing is ever removed).
   */
  sandboxGc: SandboxGc | undefined;

  constructor(protected readonly o: AgentOptions) {
    this.startTime = o.clock.now() / 1000;
    this.totalResources = resourcesOf(o.config.info.resources);
    this.statusUpdates = new TaskStatusUpdateManager({
      clock: o.clock,
      logger: o.logger,
      forward: (update) => this.forward(update),
      checkpoint: (record) => this.checkpointRecord(record),
    });
    this.link = new MasterLink({
      clock: o.clock,
      random: o.random,
      logger: o.logger,
      backoffFactorMs: o.config.registrationBackoffFactor.toMs(),
      hooks: {
        attempt: (master) => this.attemptRegistration(master),
        connected: () => this.statusUpdates.resume(),
        disconnected: () => {
          this.statusUpdates.pause();
          this.masterLost();
        },
        pong: (master) => this.o.transport.send(master, "mesos.internal.PongSlaveMessage", {}),
      },
    });
  }

  // ---- identity and views ---------------------------------------------------

  /** The id the master gave us, once registered. */
  get id(): string | undefined {
    return this.agentId;
  }

  /** The SlaveInfo as registered (with the id once known). */
  get info(): SlaveInfo {
    const info = { ...this.o.config.info };
    if (this.agentId !== undefined) info.id = { value: this.agentId };
    return info;
  }

  /** The agent's total resources. */
  get resources(): Resources {
    return this.totalResources;
  }

  get config(): AgentConfig {
    return this.o.config;
  }

  /** True once shutting down (ShutdownMessage or stop). */
  get isTerminating(): boolean {
    return this.terminating;
  }

  /** True once recovery in `--recover=cleanup` mode is over and the old executors are being killed. */
  get isCleaningUp(): boolean {
    return this.cleaningUp;
  }

  // ---- checkpointing ------------------------------------------------------------

  /** The ids naming an executor's run (for its checkpoint and sandbox paths). */
  protected runIds(executor: Executor): RunIds {
    return {
      agentId: this.agentId ?? "",
      frameworkId: executor.frameworkId,
      executorId: executor.id,
      containerId: executor.containerId,
    };
  }

  /**
   * Writes a checkpoint of a checkpointing executor's run in the background
   * (failures are logged: the agent goes on, as the data can be rebuilt
   * from the master and the executor except after a crash).
   */
  protected checkpointed(
    what: string,
    write: (checkpointer: NonNullable<AgentOptions["checkpointer"]>, ids: RunIds) => Promise<void>,
    executor: Executor,
  ): void {
    const checkpointer = this.o.checkpointer;
    if (checkpointer === undefined || !executor.checkpoint || this.agentId === undefined) return;
    write(checkpointer, this.runIds(executor)).catch((e: unknown) =>
      this.o.logger.error(
        `Failed to checkpoint the ${what} of executor '${executor.id}': ${(e as Error).message}`,
      ),
    );
  }

  /** The status update manager's hook: checkpoints records of checkpointing executors' tasks. */
  private checkpointRecord(record: StreamRecord): Promise<void> | undefined {
    const checkpointer = this.o.checkpointer;
    if (checkpointer === undefined || this.agentId === undefined) return undefined;
    const frameworkId =
      record.kind === "update" ? record.update.framework_id.value : record.frameworkId;
    const taskId = record.kind === "update" ? record.update.status.task_id.value : record.taskId;
    const executor = this.frameworks.get(frameworkId)?.executorForTask(taskId);
    if (executor === undefined || !executor.checkpoint) return undefined;
    const ids = this.runIds(executor);
    return record.kind === "update"
      ? checkpointer.update(ids, taskId, record.update)
      : checkpointer.acknowledgement(ids, taskId, record.uuid);
  }

  // ---- helpers ----------------------------------------------------------------

  protected removeExecutor(framework: Framework, executor: Executor): void {
    this.o.logger.info(`Cleaning up executor '${executor.id}' of framework ${framework.id}`);
    if (executor.checkpoint) {
      this.checkpointed("executor sentinel", (c, ids) => c.executorCompleted(ids), executor);
    }
    this.clearExecutorTimers(executor);
    executor.connection?.close();
    executor.connection = undefined;
    framework.retireExecutor(executor);
    this.collectExecutor(framework, executor);
  }

  /**
   * Schedules a finished executor's directories for removal, as Mesos
   * does when it removes an executor: the run's sandbox and the executor
   * directory holding it, and for a checkpointing executor the same two in
   * the checkpoint tree. A new run of the same executor unschedules the
   * executor directories again (`keepExecutorDirectories`).
   */
  private collectExecutor(framework: Framework, executor: Executor): void {
    const gc = this.sandboxGc;
    const agentId = this.agentId;
    if (gc === undefined || agentId === undefined) return;
    const { workDir } = this.o.config;
    const ids = this.runIds(executor);
    gc.schedule(sandboxPath(workDir, ids));
    gc.schedule(executorPath(workDir, agentId, framework.id, executor.id));
    if (executor.checkpoint) {
      gc.schedule(metaRunPath(workDir, ids));
      gc.schedule(executorPath(metaRoot(workDir), agentId, framework.id, executor.id));
    }
  }

  /**
   * Schedules the checkpoint directory of a checkpointing executor's task
   * once the task is completed (its terminal update acknowledged), as Mesos
   * does, so long-lived executors do not pile up task checkpoints. Call it
   * right after `executor.completeTask(taskId)`.
   */
  protected collectTaskCheckpoint(executor: Executor, taskId: string): void {
    const gc = this.sandboxGc;
    if (gc === undefined || this.agentId === undefined || !executor.checkpoint) return;
    gc.schedule(metaTaskPath(this.o.config.workDir, this.runIds(executor), taskId));
  }

  /** A framework is back on the agent: its directories are no longer garbage. */
  protected keepFrameworkDirectories(frameworkId: string): void {
    const gc = this.sandboxGc;
    const agentId = this.agentId;
    if (gc === undefined || agentId === undefined) return;
    const { workDir } = this.o.config;
    gc.unschedule(frameworkPath(workDir, agentId, frameworkId));
    gc.unschedule(frameworkPath(metaRoot(workDir), agentId, frameworkId));
  }

  /** An executor gets a new run: its directories are no longer garbage. */
  protected keepExecutorDirectories(frameworkId: string, executorId: string): void {
    const gc = this.sandboxGc;
    const agentId = this.agentId;
    if (gc === undefined || agentId === undefined) return;
    const { workDir } = this.o.config;
    gc.unschedule(executorPath(workDir, agentId, frameworkId, executorId));
    gc.unschedule(executorPath(metaRoot(workDir), agentId, frameworkId, executorId));
  }

  protected removeFramework(framework: Framework): void {
    if (this.frameworks.get(framework.id) !== framework) return;
    this.o.logger.info(`Cleaning up framework ${framework.id}`);
    this.frameworks.delete(framework.id);
    this.statusUpdates.cleanup(framework.id);
    this.rememberCompletedFramework(framework);
    this.collectFramework(framework);
    if (this.frameworks.size === 0 && !this.hasOperations() && this.draining.finish()) {
      this.o.logger.info("Agent finished draining");
    }
    if (this.terminating && this.frameworks.size === 0) this.o.onTerminated?.();
  }

  /**
   * Lists a removed framework among the completed ones, at most
   * MAX_COMPLETED_FRAMEWORKS (oldest dropped first) and once per id: a
   * framework completed again replaces its earlier entry, as in Mesos'
   * bounded map.
   */
  protected rememberCompletedFramework(framework: Framework): void {
    const earlier = this.completedFrameworks.findIndex((f) => f.id === framework.id);
    if (earlier >= 0) {
      this.completedFrameworks[earlier] = framework;
      return;
    }
    this.completedFrameworks.push(framework);
    if (this.completedFrameworks.length > MAX_COMPLETED_FRAMEWORKS) {
      this.completedFrameworks.shift();
    }
  }

  /**
   * A completed framework is back on the agent: its entry leaves the
   * completed list and is returned, for the new record to take over its
   * completed executors (as Mesos does when a task arrives for it).
   */
  protected takeCompletedFramework(frameworkId: string): Framework | undefined {
    const at = this.completedFrameworks.findIndex((f) => f.id === frameworkId);
    if (at < 0) return undefined;
    return this.completedFrameworks.splice(at, 1)[0];
  }

  /** Schedules a departed framework's directories (work, and checkpoint if it checkpoints). */
  private collectFramework(framework: Framework): void {
    const gc = this.sandboxGc;
    const agentId = this.agentId;
    if (gc === undefined || agentId === undefined) return;
    const { workDir } = this.o.config;
    gc.schedule(frameworkPath(workDir, agentId, framework.id));
    if (framework.info.checkpoint === true) {
      gc.schedule(frameworkPath(metaRoot(workDir), agentId, framework.id));
    }
  }

  protected clearExecutorTimers(executor: Executor): void {
    for (const timer of [
      executor.registrationTimer,
      executor.shutdownTimer,
      executor.heartbeatTimer,
    ]) {
      if (timer !== undefined) this.o.clock.cancelTimer(timer);
    }
    executor.registrationTimer = undefined;
    executor.shutdownTimer = undefined;
    executor.heartbeatTimer = undefined;
  }

  protected armHeartbeat(executor: Executor): void {
    if (executor.heartbeatTimer !== undefined) this.o.clock.cancelTimer(executor.heartbeatTimer);
    const interval = this.o.config.executorHeartbeatIntervalMs ?? EXECUTOR_HEARTBEAT_INTERVAL_MS;
    executor.heartbeatTimer = this.o.clock.setTimer(interval, () => {
      executor.heartbeatTimer = undefined;
      if (executor.connection === undefined || executor.state === "TERMINATED") return;
      executor.send({ type: "HEARTBEAT" });
      this.armHeartbeat(executor);
    });
  }

  protected executorOfContainer(containerId: string): Executor | undefined {
    const where = this.containers.get(containerId);
    if (where === undefined) return undefined;
    return this.frameworks.get(where.frameworkId)?.executors.get(where.executorId);
  }

  /** The v1 AgentInfo (as SUBSCRIBED carries it). */
  agentInfo(): AgentInfo {
    const info = this.info;
    const out: AgentInfo = { hostname: info.hostname };
    if (info.port !== undefined) out.port = info.port;
    if (info.resources !== undefined) out.resources = info.resources;
    if (info.attributes !== undefined) out.attributes = info.attributes;
    if (info.id !== undefined) out.id = info.id;
    if (info.domain !== undefined) out.domain = info.domain;
    return out;
  }

  protected agentUpdate(
    frameworkId: string,
    taskId: string,
    state: TaskState,
    extra: {
      message?: string;
      reason?: TaskStatus_Reason;
      executorId?: string;
      limitedResources?: Resource[];
    },
  ): StatusUpdate {
    return createStatusUpdate({
      frameworkId,
      agentId: this.agentId ?? "",
      taskId,
      state,
      source: "SOURCE_AGENT",
      uuid: newStatusUpdateUuid(this.o.random),
      timestamp: this.o.clock.now() / 1000,
      ...extra,
    });
  }

  protected fromMaster(from: string, what: string): boolean {
    if (from === this.link.master) return true;
    this.o.logger.warn(
      `Ignoring ${what} message from ${from} because it is not the expected master: ${this.link.master ?? "None"}`,
    );
    return false;
  }

  /** The agent lost its registered master (status updates pause); for the parts below. */
  protected masterLost(): void {}

  /** True while operations are pending or unacknowledged (a drain waits for them, as Mesos). */
  protected hasOperations(): boolean {
    return false;
  }

  protected fatal(message: string): void {
    this.o.logger.error(`${message}. Committing suicide`);
    this.link.terminate();
    this.o.onFatal?.(message);
  }

  /** Sends the update in flight of a stream to the master. */
  protected abstract forward(update: StatusUpdate): void;
  /** Sends one registration attempt. */
  protected abstract attemptRegistration(master: string): void;
  /** Asks an executor to shut down, killing it after its grace period. */
  protected abstract shutdownExecutorNow(framework: Framework, executor: Executor): void;
}
