/**
 * The built-in command executor's logic: one task, run as a child process.
 *
 * LAUNCH -> TASK_STARTING, spawn, TASK_RUNNING. The process exits ->
 * TASK_FINISHED (status 0) or TASK_FAILED ("Command exited with status N",
 * "Command terminated with signal Killed"), or TASK_KILLED when we killed
 * it. KILL -> TASK_KILLING (only for frameworks with TASK_KILLING_STATE),
 * SIGTERM to the task's process tree, SIGKILL when the grace period ends
 * (KILL's kill policy, else the task's, else 3 s). A later KILL may only
 * shorten the remaining grace period. SHUTDOWN kills the task within the
 * shutdown grace period. The executor exits once the agent acknowledges the
 * terminal update, or after a fail-safe timeout.
 *
 * I/O stays outside: the agent connection, the process launcher, the clock
 * and `exit` are injected, so tests drive this class directly.
 */
import type { Logger } from "../common/observability/logger.js";
import { isTerminalState } from "../common/protocol/task-states.js";
import type { Clock, TimerHandle } from "../common/time/clock.js";
import { emptyCheckStatus } from "./check-status.js";
import type { CheckInfo, CheckResultInfo, HealthCheckInfo } from "./checks/check-info.js";
import { checkTiming, healthCheckTiming } from "./checks/check-info.js";
import { Checker } from "./checks/checker.js";
import type { HealthReport } from "./checks/health-checker.js";
import { HealthChecker } from "./checks/health-checker.js";
import { checkProber, healthCheckProber, imageRootOf } from "./checks/probers.js";
import { formatDuration, nanosToMs } from "./duration.js";
import { describeExit, terminalStateOf } from "./exit-status.js";
import { KillEscalation } from "./kill-escalation.js";
import { allocationRoleOf, buildLaunchSpec } from "./launch-spec.js";
import type { ExecutorHandlers, TaskStatusInput } from "./library.js";
import type {
  CommandInfo,
  Environment,
  FrameworkInfo,
  IdValue,
  KillPolicy,
  TaskInfo,
  TaskState,
  TaskStatus,
} from "./protocol.js";
import type { TaskLauncher, TaskProcess } from "./task-process.js";
import {
  DEFAULT_KILL_GRACE_PERIOD_MS,
  SHUTDOWN_BUFFER_MS,
  TERMINAL_ACK_TIMEOUT_MS,
} from "./timing.js";

/** The part of the agent connection the command executor uses. */
export interface UpdateChannel {
  update(status: TaskStatusInput): string;
  /** False once the connection is lost for good (no update can be delivered any more). */
  canDeliver(): boolean;
}

/** Everything the command executor needs from its surroundings. */
export interface CommandExecutorOptions {
  channel: UpdateChannel;
  launcher: TaskLauncher;
  clock: Clock;
  logger: Logger;
  executorId: string;
  /** The executor's environment, inherited by the task. */
  baseEnv: Readonly<Record<string, string | undefined>>;
  shutdownGracePeriodMs: number;
  /** `--task_command`: replaces the task's CommandInfo. */
  taskCommand?: CommandInfo;
  /** `--task_environment`: extra variables from the agent. */
  taskEnvironment?: Environment;
  /** When set, every launch fails with this message (e.g. an unsupported flag was given). */
  launchRefusal?: string;
  /**
   * Where the task runs when the executor does not own its process (a
   * hosted executor, `--command_executors_per_process`): the sandbox as its
   * working directory, its output files, stdin from /dev/null. Unset: the
   * task inherits the executor's working directory, stdout and stderr.
   */
  placement?: TaskPlacement;
  /** Ends the executor (its process, or its slot in a host). */
  exit(code: number): void;
  terminalAckTimeoutMs?: number;
}

/** The sandbox and output files of a hosted executor's task. */
export interface TaskPlacement {
  cwd: string;
  stdout: string;
  stderr: string;
}

/** One command task's executor. */
export class CommandExecutor {
  private readonly o: CommandExecutorOptions;
  private frameworkInfo: FrameworkInfo | undefined;
  private task: TaskInfo | undefined;
  private process: TaskProcess | undefined;
  private launched = false;
  private killed = false;
  private killedByMaxCompletionTime = false;
  private terminated = false;
  private exiting = false;
  /** `exit` was called: nothing more is sent or done. */
  private ended = false;
  private killPolicy: KillPolicy | undefined;
  private escalation: KillEscalation | undefined;
  private completionTimer: TimerHandle | undefined;
  private ackTimer: TimerHandle | undefined;
  private healthChecker: HealthChecker | undefined;
  private checker: Checker | undefined;
  private killedByHealthCheck = false;
  /** Health as last reported, carried by later check updates (as Mesos copies the last status). */
  private lastHealthy: boolean | undefined;
  private lastCheck: CheckResultInfo | undefined;

  constructor(options: CommandExecutorOptions) {
    this.o = options;
  }

  /** Callbacks to plug into `ExecutorClient.start()`. */
  handlers(): ExecutorHandlers {
    return {
      subscribed: (info) => {
        this.o.logger.info(
          `Subscribed executor on ${info.agent_info.hostname ?? "the agent"} (framework '${info.framework_info.name ?? ""}')`,
        );
        this.frameworkInfo = info.framework_info;
      },
      launch: (task) => this.launch(task),
      launchGroup: () => {
        this.o.logger.error("LAUNCH_GROUP event is not supported by the command executor");
        this.shutdown();
      },
      kill: (taskId, policy) => this.kill(taskId, policy),
      acknowledged: (_taskId, _uuid, update) => this.acknowledged(update),
      shutdown: () => this.shutdown(),
      error: (message) => this.o.logger.error(`Error: ${message}`),
      message: () => {},
      heartbeat: () => {},
    };
  }

  /** True once the task's process has ended. */
  get taskTerminated(): boolean {
    return this.terminated;
  }

  private status(
    taskId: IdValue,
    state: TaskState,
    extra: { reason?: string; message?: string } = {},
  ): TaskStatusInput {
    const status: TaskStatusInput = {
      task_id: taskId,
      state,
      source: "SOURCE_EXECUTOR",
      executor_id: { value: this.o.executorId },
      timestamp: this.o.clock.now() / 1000,
      ...extra,
    };
    // A task with a check carries a check status in every update: the empty
    // one in updates made from scratch (STARTING, RUNNING, KILLING, the
    // terminal one), as Mesos; check and health updates put the latest in.
    const check = emptyCheckStatus(this.task?.check);
    if (check !== undefined) status.check_status = check;
    return status;
  }

  private forward(status: TaskStatusInput): void {
    if (this.ended) return;
    this.o.logger.info(
      `Sending ${status.state} for task ${status.task_id.value}${status.message !== undefined ? `: ${status.message}` : ""}`,
    );
    this.o.channel.update(status);
  }

  private launch(task: TaskInfo): void {
    const log = this.o.logger;
    if (this.launched || this.task !== undefined) {
      this.forward(
        this.status(task.task_id, "TASK_FAILED", {
          message: 'Attempted to run multiple tasks using a "command" executor',
        }),
      );
      return;
    }
    this.task = task;
    this.forward(this.status(task.task_id, "TASK_STARTING"));
    if (this.exiting) {
      this.fail(task.task_id, "The executor is shutting down");
      return;
    }
    this.killPolicy = task.kill_policy;

    if (this.o.launchRefusal !== undefined) {
      this.fail(task.task_id, this.o.launchRefusal);
      return;
    }
    const command = this.o.taskCommand ?? task.command;
    if (command === undefined) {
      this.fail(task.task_id, `Expecting task '${task.task_id.value}' to have a command`);
      return;
    }
    const context = {
      baseEnv: this.o.baseEnv,
      ...(this.o.taskEnvironment !== undefined ? { taskEnvironment: this.o.taskEnvironment } : {}),
      ...(allocationRoleOf(task) !== undefined ? { allocationRole: allocationRoleOf(task) } : {}),
    };
    const built = buildLaunchSpec(command, context);
    const place = this.o.placement;
    const spec =
      "error" in built || place === undefined
        ? built
        : {
            ...built,
            cwd: place.cwd,
            stdoutPath: place.stdout,
            stderrPath: place.stderr,
            ignoreStdin: true,
          };
    if ("error" in spec) {
      this.fail(task.task_id, `Invalid command of task '${task.task_id.value}': ${spec.error}`);
      return;
    }
    for (const name of spec.overwritten) log.info(`Overwriting environment variable '${name}'`);

    const maxCompletionMs = nanosToMs(task.max_completion_time?.nanoseconds);
    if (maxCompletionMs !== undefined && maxCompletionMs > 0) {
      log.info(
        `Task ${task.task_id.value} has a max completion time of ${formatDuration(maxCompletionMs)}`,
      );
      this.completionTimer = this.o.clock.setTimer(maxCompletionMs, () => {
        this.completionTimer = undefined;
        if (this.terminated || this.killed) return;
        log.info(
          `Killing task ${task.task_id.value} which exceeded its maximum completion time of ${formatDuration(maxCompletionMs)}`,
        );
        this.killedByMaxCompletionTime = true;
        this.killWithGrace(0);
      });
    }

    log.info(`Starting task ${task.task_id.value}`);
    const started = this.o.launcher.launch(spec, {
      exited: (code, signal) => this.reaped(code, signal),
      failed: (message) => {
        this.cancelTimers();
        this.fail(task.task_id, message);
      },
    });
    if (started === undefined) return;
    this.process = started;
    this.launched = true;
    log.info(`Forked command at ${started.pid}`);
    this.forward(this.status(task.task_id, "TASK_RUNNING"));
    const image = imageRootOf(this.o.taskCommand);
    this.startChecks(task, {
      launch: context,
      // A hosted executor has no stderr of its own: its task's stderr file stands in.
      ...(place === undefined ? {} : { sandbox: place.cwd, output: place.stderr }),
      ...(image === undefined ? {} : { image }),
    });
  }

  private startChecks(task: TaskInfo, ctx: Parameters<typeof checkProber>[1]): void {
    const log = this.o.logger;
    if (task.health_check !== undefined) {
      const info = task.health_check as HealthCheckInfo;
      const prober = healthCheckProber(info, ctx);
      if (typeof prober === "string") log.error(`Not running the health check: ${prober}`);
      else {
        this.healthChecker = new HealthChecker(
          this.o.clock,
          prober,
          healthCheckTiming(info),
          (r) => this.healthUpdated(r),
          log,
        );
        this.healthChecker.start();
      }
    }
    if (task.check !== undefined) {
      const info = task.check as CheckInfo;
      const prober = checkProber(info, ctx);
      if (typeof prober === "string") log.error(`Not running the check: ${prober}`);
      else {
        this.checker = new Checker(
          this.o.clock,
          prober,
          checkTiming(info),
          (s) => this.checkUpdated(s),
          log,
        );
        this.checker.start();
      }
    }
  }

  private healthUpdated(report: HealthReport): void {
    const task = this.task;
    // No health news once the task is being killed or has ended.
    if (task === undefined || this.killed || this.terminated) return;
    this.lastHealthy = report.healthy;
    const update = this.status(task.task_id, "TASK_RUNNING", {
      reason: "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED",
    });
    update.healthy = report.healthy;
    if (this.lastCheck !== undefined) update.check_status = this.lastCheck;
    this.forward(update);
    if (report.killTask) {
      this.o.logger.warn(
        `Killing task ${task.task_id.value} after ${report.consecutiveFailures} consecutive failed health checks`,
      );
      this.killedByHealthCheck = true;
      this.kill(task.task_id, undefined);
    }
  }

  private checkUpdated(status: CheckResultInfo): void {
    const task = this.task;
    if (task === undefined || this.killed || this.terminated) return;
    this.lastCheck = status;
    const update = this.status(task.task_id, "TASK_RUNNING", {
      reason: "REASON_TASK_CHECK_STATUS_UPDATED",
    });
    update.check_status = status;
    if (this.lastHealthy !== undefined) update.healthy = this.lastHealthy;
    this.forward(update);
  }

  /** Sends TASK_FAILED for a task that never ran, then waits for its acknowledgement. */
  private fail(taskId: IdValue, message: string): void {
    this.o.logger.error(message);
    this.terminated = true;
    this.forward(this.status(taskId, "TASK_FAILED", { message }));
    this.awaitTerminalAck();
  }

  private kill(taskId: IdValue, override: KillPolicy | undefined): void {
    const log = this.o.logger;
    if (this.task === undefined) {
      // The agent lost the LAUNCH (MESOS-8297): exiting lets it clean up.
      log.error(`Received KILL for task ${taskId.value} before any task was launched; exiting`);
      this.terminate(1);
      return;
    }
    if (taskId.value !== this.task.task_id.value) {
      log.warn(`Ignoring KILL for unknown task ${taskId.value}`);
      return;
    }
    if (this.completionTimer !== undefined) {
      this.o.clock.cancelTimer(this.completionTimer);
      this.completionTimer = undefined;
    }
    const fromEvent = nanosToMs(override?.grace_period?.nanoseconds);
    const fromTask = nanosToMs(this.killPolicy?.grace_period?.nanoseconds);
    const grace = Math.max(0, fromEvent ?? fromTask ?? DEFAULT_KILL_GRACE_PERIOD_MS);
    log.info(
      `Received kill for task ${taskId.value} with grace period of ${formatDuration(grace)}`,
    );
    this.killWithGrace(grace);
  }

  private killWithGrace(graceMs: number): void {
    const log = this.o.logger;
    if (this.terminated || this.task === undefined) return;
    if (!this.launched || this.process === undefined) return;

    if (this.killed) {
      // Retried or overriding kills may only bring the SIGKILL closer.
      this.escalation?.request(graceMs);
      return;
    }

    const framework = this.frameworkInfo;
    const canKilling =
      framework?.capabilities?.some((c) => c.type === "TASK_KILLING_STATE") ?? false;
    if (canKilling && !this.killedByMaxCompletionTime) {
      this.forward(this.status(this.task.task_id, "TASK_KILLING"));
    }
    this.killed = true;
    this.escalation = new KillEscalation(this.process, this.o.clock, log);
    this.escalation.request(graceMs);
  }

  private cancelTimers(): void {
    this.healthChecker?.stop();
    this.checker?.stop();
    this.escalation?.cancel();
    if (this.completionTimer !== undefined) this.o.clock.cancelTimer(this.completionTimer);
    this.completionTimer = undefined;
  }

  private reaped(code: number | null, signal: NodeJS.Signals | null): void {
    const task = this.task;
    if (task === undefined || this.ended) return;
    this.terminated = true;
    this.cancelTimers();

    const { state, reason } = terminalStateOf({
      maxCompletionTimeReached: this.killedByMaxCompletionTime,
      killed: this.killed,
      code,
      signal,
    });
    const message = `Command ${describeExit(code, signal)}`;
    this.o.logger.info(`${message} (pid: ${this.process?.pid})`);
    const final = this.status(task.task_id, state, {
      message,
      ...(reason !== undefined ? { reason } : {}),
    });
    // Mesos marks a task killed for failing its health check unhealthy (no special reason).
    if (this.killed && this.killedByHealthCheck) final.healthy = false;
    this.forward(final);
    // Whatever the task left behind in its group dies with it, as it would
    // when the agent destroys the container.
    this.process?.signalTree("SIGKILL");
    this.awaitTerminalAck();
  }

  private awaitTerminalAck(): void {
    if (!this.o.channel.canDeliver()) {
      this.o.logger.info("Not connected to the agent; exiting without acknowledgement");
      this.terminate(0);
      return;
    }
    if (this.ackTimer !== undefined) return;
    this.ackTimer = this.o.clock.setTimer(
      this.o.terminalAckTimeoutMs ?? TERMINAL_ACK_TIMEOUT_MS,
      () => {
        this.o.logger.error(
          "Did not receive ACK for the terminal status update from the agent; exiting",
        );
        this.terminate(1);
      },
    );
  }

  private acknowledged(update: TaskStatus | undefined): void {
    // Only our own task's terminal update ends the executor (not the
    // TASK_FAILED of a refused second task).
    const ours = update !== undefined && update.task_id.value === this.task?.task_id.value;
    if (ours && this.terminated && isTerminalState(update.state)) {
      this.o.logger.info(`Terminal update for task ${update.task_id.value} acknowledged; exiting`);
      this.terminate(0);
    }
  }

  /** SHUTDOWN from the agent, a lost agent, or a signal to the executor. */
  shutdown(): void {
    const log = this.o.logger;
    log.info("Shutting down");
    this.exiting = true;
    if (this.launched && !this.terminated) {
      const grace = Math.max(0, this.o.shutdownGracePeriodMs - SHUTDOWN_BUFFER_MS);
      this.killWithGrace(grace);
      return;
    }
    if (this.terminated) {
      // Waiting for the terminal acknowledgement; leave now if it cannot come.
      if (!this.o.channel.canDeliver()) this.terminate(0);
      return;
    }
    this.terminate(0);
  }

  /** Last resort when the shutdown grace period is over: SIGKILL everything and exit. */
  forceExit(): void {
    this.o.logger.warn("Shutdown grace period elapsed; killing the task and exiting");
    if (!this.terminated) this.process?.signalTree("SIGKILL");
    this.terminate(1);
  }

  /**
   * The container is being destroyed under a hosted executor (its stand-in
   * was killed): SIGKILL the task's tree and end without another update,
   * as a destroyed executor process would.
   */
  abandon(): void {
    if (this.ended) return;
    this.o.logger.warn("The executor's container is being destroyed; killing the task");
    if (this.launched && !this.terminated) this.process?.signalTree("SIGKILL");
    this.terminate(137);
  }

  private terminate(code: number): void {
    if (this.ended) return;
    this.ended = true;
    if (this.ackTimer !== undefined) this.o.clock.cancelTimer(this.ackTimer);
    this.ackTimer = undefined;
    this.cancelTimers();
    this.o.exit(code);
  }
}
