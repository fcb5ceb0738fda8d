/**
 * The default executor's logic (`mesos-default-executor`, ExecutorInfo
 * type DEFAULT): it runs task groups.
 *
 * Like Mesos' default executor, it asks the agent to launch each task as a
 * nested container (LAUNCH_NESTED_CONTAINER, with the task's image if it has
 * one); when the agent cannot (501, or no container id in SUBSCRIBED), each task's
 * CommandInfo runs as a child process of this executor, in its own session
 * and process group, in its own sandbox `<executor sandbox>/tasks/<id>/`
 * (working directory, `stdout` and `stderr` files, `MESOS_SANDBOX`).
 *
 * Semantics kept from Mesos:
 * - LAUNCH_GROUP: TASK_STARTING for every task, then TASK_RUNNING for each
 *   one that started; a task that cannot start is TASK_FAILED.
 * - A task ending TASK_FAILED or TASK_KILLED (a failure, a KILL, its max
 *   completion time) kills the rest of its group, which end TASK_KILLED.
 *   Other groups of the same executor are not touched.
 * - KILL: TASK_KILLING (framework capability TASK_KILLING_STATE), SIGTERM,
 *   SIGKILL after the grace period (the KILL's kill policy, else the task's,
 *   else 3 s).
 * - SHUTDOWN kills every task; a LAUNCH event shuts the executor down.
 * - The executor exits once it has no task left and every update it sent
 *   is acknowledged (after a 60 s fail-safe without the acknowledgements).
 *
 * I/O stays outside: the agent connection, the process launcher, the task
 * sandboxes, the clock and `exit` are injected, so tests drive this class
 * directly. Differences from Mesos: docs/default-executor.md.
 */
import { constants as osConstants } from "node:os";
import type { Logger } from "../common/observability/logger.js";
import type { Clock, TimerHandle } from "../common/time/clock.js";
import { emptyCheckStatus } from "./check-status.js";
import type { CheckInfo, CheckResultInfo, HealthCheckInfo } from "./checks/check-info.js";
import { checkTiming, healthCheckTiming } from "./checks/check-info.js";
import { Checker } from "./checks/checker.js";
import type { HealthReport } from "./checks/health-checker.js";
import { HealthChecker } from "./checks/health-checker.js";
import type { ProbeContext } from "./checks/probers.js";
import { checkProber, healthCheckProber } from "./checks/probers.js";
import type { UpdateChannel } from "./command-executor.js";
import {
  type CallResult,
  type ContainerEnd,
  type TaskContainers,
  taskVolumes,
} from "./default-executor-containers.js";
import { resolveTaskSecrets } from "./default-executor-secrets.js";
import { formatDuration, nanosToMs } from "./duration.js";
import { describeExit, terminalStateOf } from "./exit-status.js";
import { KillEscalation } from "./kill-escalation.js";
import { allocationRoleOf, buildLaunchSpec, type LaunchSpec } from "./launch-spec.js";
import type { ExecutorHandlers, TaskStatusInput } from "./library.js";
import type { FrameworkInfo, KillPolicy, TaskGroupInfo, TaskInfo, TaskState } from "./protocol.js";
import type { TaskLauncher, TaskProcess } from "./task-process.js";
import {
  DEFAULT_KILL_GRACE_PERIOD_MS,
  SHUTDOWN_BUFFER_MS,
  TERMINAL_ACK_TIMEOUT_MS,
} from "./timing.js";
import { normalizeUuid } from "./uuid.js";

/** A task's sandbox inside the executor's. */
export interface TaskSandbox {
  directory: string;
  stdoutPath: string;
  stderrPath: string;
}

/** Creates the per-task sandboxes; an interface so the logic can be tested without a disk. */
export interface TaskSandboxes {
  /** Creates the sandbox of `taskId` (if needed); or says in one line why it cannot. */
  create(taskId: string): TaskSandbox | { error: string };
  /**
   * The sandbox of the nested container `containerId` that runs `taskId`
   * (`containers/<id>`, created by the agent); paths only.
   */
  nested?(taskId: string, containerId: string): TaskSandbox | { error: string };
  /** Links `tasks/<taskId>` to the nested container's sandbox (as Mesos does). */
  link?(taskId: string, containerId: string): void;
  /**
   * Makes the executor's persistent volume at `containerPath` (relative, in
   * the executor's sandbox) visible at the same path in the sandbox of
   * `taskId`, a task run as a child process; or says in one line why not.
   */
  linkVolume?(taskId: string, containerPath: string): { error: string } | undefined;
}

/** Everything the default executor needs from its surroundings. */
export interface DefaultExecutorOptions {
  channel: UpdateChannel;
  launcher: TaskLauncher;
  sandboxes: TaskSandboxes;
  clock: Clock;
  logger: Logger;
  executorId: string;
  /** The executor's environment, inherited by every task. */
  baseEnv: Readonly<Record<string, string | undefined>>;
  shutdownGracePeriodMs: number;
  /** `MESOS_CONTAINER_IP` for the tasks (the address the executor reaches the agent from). */
  containerIp?: string;
  /** The user this executor runs as; a task asking for another user is refused. */
  user?: string;
  /** Ends the executor process. */
  exit(code: number): void;
  terminalAckTimeoutMs?: number;
  /**
   * The agent's nested containers: each task then runs in a nested
   * container of this executor's (LAUNCH_CONTAINER, WAIT/KILL_NESTED_CONTAINER),
   * with its own limits. Without it, or when the agent has none, tasks are
   * child processes of the executor.
   */
  containers?: TaskContainers;
  /** A fresh container id (a UUID). */
  newContainerId?: () => string;
  /** How long to wait before asking the agent again about a container after a network failure. */
  waitRetryMs?: number;
}

/** One task of a group, from LAUNCH_GROUP until its terminal update. */
interface TaskRun {
  readonly task: TaskInfo;
  /** Ids of every task of its group (itself included). */
  readonly group: readonly string[];
  process?: TaskProcess;
  escalation?: KillEscalation;
  /** The process was started. */
  launched: boolean;
  /** Why it could not start (reported once the launch is over). */
  launchError?: string;
  /** A KILL, a group kill or a shutdown is under way. */
  killing: boolean;
  /** Its group is being killed already (do not start that again). */
  killingGroup: boolean;
  killedByCompletionTimeout: boolean;
  completionTimer?: TimerHandle;
  /** Where its check commands run (its environment and sandbox). */
  probeContext?: ProbeContext;
  healthChecker?: HealthChecker;
  checker?: Checker;
  lastHealthy?: boolean;
  lastCheck?: CheckResultInfo;
  /** The nested container the task runs in (its id below the executor's). */
  containerId?: string;
}

/** The executor of task groups. */
export class DefaultExecutor {
  private readonly o: DefaultExecutorOptions;
  private frameworkInfo: FrameworkInfo | undefined;
  /** Tasks without a terminal update yet, in launch order. */
  private readonly active = new Map<string, TaskRun>();
  /** Uuids (canonical base64) of updates sent and not acknowledged yet. */
  private readonly unacknowledged = new Set<string>();
  private shuttingDown = false;
  private ackTimer: TimerHandle | undefined;
  private exited = false;
  /** Set once a health check killed a task: later terminal updates say `healthy: false` (as Mesos). */
  private unhealthy = false;
  /** This executor's container (from SUBSCRIBED): the parent of the tasks' containers. */
  private containerId: string | undefined;
  /** The agent answered that it has no nested containers: tasks run as child processes. */
  private nestedUnsupported = false;

  constructor(options: DefaultExecutorOptions) {
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
        this.containerId = info.container_id?.value;
      },
      launch: () => {
        // The agent sends task groups only; a single task is a mistake.
        this.o.logger.error("LAUNCH event is not supported by the default executor");
        this.shutdown();
      },
      launchGroup: (group) => this.launchGroup(group),
      kill: (taskId, policy) => this.killTask(taskId.value, policy),
      acknowledged: (_taskId, uuid) => this.acknowledged(uuid),
      shutdown: () => this.shutdown(),
      error: (message) => this.o.logger.error(`Error: ${message}`),
      message: () => {},
      heartbeat: () => {},
    };
  }

  /** Ids of the tasks that have not reached a terminal state. */
  activeTasks(): string[] {
    return [...this.active.keys()];
  }

  // --- updates ------------------------------------------------------------

  private status(
    run: TaskRun,
    state: TaskState,
    extra: { reason?: string; message?: string; limitation?: Record<string, unknown> } = {},
  ): TaskStatusInput {
    const status: TaskStatusInput = {
      task_id: run.task.task_id,
      state,
      source: "SOURCE_EXECUTOR",
      executor_id: { value: this.o.executorId },
      timestamp: this.o.clock.now() / 1000,
      ...extra,
    };
    // Updates made from scratch carry the empty check status (as Mesos);
    // check and health updates put the latest in.
    const check = emptyCheckStatus(run.task.check);
    if (check !== undefined) status.check_status = check;
    return status;
  }

  private forward(status: TaskStatusInput): void {
    this.o.logger.info(
      `Sending ${status.state} for task ${status.task_id.value}${status.message !== undefined ? `: ${status.message}` : ""}`,
    );
    const uuid = normalizeUuid(this.o.channel.update(status));
    if (uuid !== undefined) this.unacknowledged.add(uuid);
  }

  private acknowledged(uuid: string): void {
    const key = normalizeUuid(uuid);
    if (key === undefined || !this.unacknowledged.delete(key)) return;
    if (this.active.size === 0 && this.unacknowledged.size === 0) {
      this.o.logger.info("Every task has ended and every update is acknowledged; exiting");
      this.terminate(0);
    }
  }

  // --- launching ----------------------------------------------------------

  private launchGroup(group: TaskGroupInfo): void {
    const log = this.o.logger;
    const tasks: TaskInfo[] = [];
    for (const task of group.tasks ?? []) {
      const id = task.task_id.value;
      if (this.active.has(id) || tasks.some((t) => t.task_id.value === id)) {
        log.error(`Ignoring task '${id}' of a task group: a task with that id is already running`);
        continue;
      }
      tasks.push(task);
    }
    if (tasks.length === 0) return;
    // New work: the executor is not about to exit any more.
    this.cancelAckTimer();
    const ids = tasks.map((t) => t.task_id.value);
    log.info(`Launching task group with tasks ${formatIds(ids)}`);

    const runs: TaskRun[] = tasks.map((task) => ({
      task,
      group: ids,
      launched: false,
      killing: false,
      killingGroup: false,
      killedByCompletionTimeout: false,
    }));
    for (const run of runs) {
      this.active.set(run.task.task_id.value, run);
      this.forward(this.status(run, "TASK_STARTING"));
    }
    if (this.shuttingDown) {
      for (const run of runs) this.finish(run, "TASK_FAILED", "The executor is shutting down");
      return;
    }

    // Start every task, then report: TASK_RUNNING for those that started,
    // then the failures (which kill the rest of the group).
    const refused: TaskRun[] = [];
    const nested = this.nestedParent() !== undefined;
    for (const run of runs) {
      if (nested) run.containerId = this.o.newContainerId?.() ?? randomId();
      const spec = this.launchSpec(run);
      if ("error" in spec) {
        run.launchError = spec.error;
        refused.push(run);
        continue;
      }
      if (nested) this.launchNested(run, spec);
      else this.startLocal(run, spec);
    }
    for (const run of runs) {
      if (run.launched && this.active.get(run.task.task_id.value) === run) this.running(run);
    }
    for (const run of refused) {
      if (this.active.get(run.task.task_id.value) === run) {
        log.error(run.launchError ?? "");
        this.finish(run, "TASK_FAILED", run.launchError);
      }
    }
  }

  /** The parent container id when tasks go to nested containers. */
  private nestedParent(): string | undefined {
    if (this.o.containers === undefined || this.nestedUnsupported) return undefined;
    return this.containerId;
  }

  /** Starts the task as a child process of the executor; false when it could not start. */
  private startLocal(run: TaskRun, spec: LaunchSpec): boolean {
    const id = run.task.task_id.value;
    const started = this.o.launcher.launch(spec, {
      exited: (code, signal) => this.reaped(id, code, signal),
      failed: (message) => this.launchFailed(id, message),
    });
    if (started === undefined) return false; // `failed` reports it.
    run.process = started;
    run.launched = true;
    run.probeContext = {
      launch: { baseEnv: spec.env },
      ...(spec.cwd !== undefined ? { sandbox: spec.cwd } : {}),
    };
    this.o.logger.info(`Forked command of task ${id} at ${started.pid}`);
    return true;
  }

  /** TASK_RUNNING, then the max completion timer and the checks. */
  private running(run: TaskRun): void {
    this.forward(this.status(run, "TASK_RUNNING"));
    this.armCompletionTimer(run);
    this.startChecks(run);
  }

  /** Asks the agent to start the task in a nested container; TASK_RUNNING once it runs. */
  private launchNested(run: TaskRun, spec: LaunchSpec): void {
    const containers = this.o.containers as TaskContainers;
    const parent = this.containerId as string;
    const child = run.containerId as string;
    const id = run.task.task_id.value;
    void containers.launch(parent, child, run.task, spec.env).then((result) => {
      if (this.active.get(id) !== run) return;
      if (!result.ok) {
        if (result.unsupported) {
          this.o.logger.warn(
            `The agent has no nested containers (${result.error}); running tasks as child processes`,
          );
          this.nestedUnsupported = true;
          delete run.containerId;
          const local = this.launchSpec(run);
          if ("error" in local) this.finish(run, "TASK_FAILED", local.error);
          else if (this.startLocal(run, local)) this.afterLaunch(run);
          return;
        }
        // As Mesos' default executor: the agent's answer is the task's message.
        const message =
          result.body ?? `Failed to launch the container of task '${id}': ${result.error}`;
        this.o.logger.error(
          `Failed to launch the container of task '${id}': ${result.body ?? result.error}`,
        );
        this.finish(run, "TASK_FAILED", message);
        return;
      }
      run.launched = true;
      run.process = {
        pid: 0,
        signalTree: (signal) => {
          void containers.kill(parent, child, signalNumber(signal));
        },
      };
      run.probeContext = this.nestedProbeContext(spec, `${parent}.${child}`);
      this.o.sandboxes.link?.(id, child);
      this.o.logger.info(`Launched task ${id} in nested container ${parent}.${child}`);
      this.waitNested(run, parent, child);
      this.afterLaunch(run);
    });
  }

  /**
   * Where the checks of a task in the nested container `taskContainer` run:
   * as Mesos, its COMMAND checks in DEBUG containers nested in the task's
   * (its root filesystem, namespaces and environment), through the agent;
   * HTTP and TCP checks from here (the task shares this executor's network).
   * An agent client without container sessions (tests' fakes) keeps them
   * as child processes in the task's environment and sandbox.
   */
  private nestedProbeContext(spec: LaunchSpec, taskContainer: string): ProbeContext {
    const c = this.o.containers;
    const local: ProbeContext = {
      launch: { baseEnv: spec.env },
      ...(spec.cwd !== undefined ? { sandbox: spec.cwd } : {}),
    };
    if (c?.launchSession === undefined || c.remove === undefined) return local;
    const containers = {
      launchSession: c.launchSession.bind(c),
      wait: c.wait.bind(c),
      kill: c.kill.bind(c),
      remove: c.remove.bind(c),
    };
    return { ...local, nested: { containers, taskContainer, logger: this.o.logger } };
  }

  /** A task that started late: running, unless its group or the executor is going down. */
  private afterLaunch(run: TaskRun): void {
    if (run.killingGroup || this.shuttingDown) {
      const limit = Math.max(0, this.o.shutdownGracePeriodMs - SHUTDOWN_BUFFER_MS);
      this.kill(run, this.shuttingDown ? Math.min(this.graceOf(run), limit) : this.graceOf(run));
      return;
    }
    this.running(run);
  }

  /** WAIT_NESTED_CONTAINER until the task's container ends (asked again after network failures). */
  private waitNested(run: TaskRun, parent: string, child: string): void {
    const containers = this.o.containers as TaskContainers;
    const id = run.task.task_id.value;
    void containers.wait(parent, child).then((result) => {
      if (this.active.get(id) !== run || this.exited) return;
      if (!result.ok && (result.status === 0 || result.retryable === true)) {
        this.o.logger.warn(
          `Waiting for the container of task ${id} failed: ${result.error}; retrying`,
        );
        this.o.clock.setTimer(this.o.waitRetryMs ?? 1000, () =>
          this.waitNested(run, parent, child),
        );
        return;
      }
      this.nestedEnded(run, result);
    });
  }

  /** The task's nested container ended: its terminal update (the agent's state and reason win). */
  private nestedEnded(run: TaskRun, result: CallResult<ContainerEnd>): void {
    run.escalation?.cancel();
    let state: TaskState;
    let reason: string | undefined;
    let message: string | undefined;
    let limitation: Record<string, unknown> | undefined;
    if (!result.ok) {
      state = run.killing && !run.killedByCompletionTimeout ? "TASK_KILLED" : "TASK_FAILED";
      if (run.killedByCompletionTimeout) reason = "REASON_MAX_COMPLETION_TIME_REACHED";
      if (state === "TASK_FAILED") message = "Unable to retrieve command's termination information";
    } else {
      const end = result.value;
      if (end.exit_status === undefined) {
        // E.g. a container adopted by a restarted agent: its status is lost.
        const killed = run.killing && !run.killedByCompletionTimeout;
        state = killed ? "TASK_KILLED" : "TASK_FAILED";
        if (run.killedByCompletionTimeout) reason = "REASON_MAX_COMPLETION_TIME_REACHED";
        message = "Command terminated with unknown status";
      } else {
        const { code, signal } = decodeWaitStatus(end.exit_status);
        const outcome = terminalStateOf({
          maxCompletionTimeReached: run.killedByCompletionTimeout,
          killed: run.killing,
          code,
          signal,
        });
        state = outcome.state;
        reason = outcome.reason;
        message = `Command ${describeExit(code, signal)}`;
      }
      if (end.state !== undefined) state = end.state as TaskState;
      if (end.reason !== undefined) reason = end.reason;
      limitation = end.limitation;
      if (end.message !== undefined) {
        message = message === undefined ? end.message : `${message}: ${end.message}`;
      }
    }
    this.o.logger.info(
      `Child container ${this.containerId}.${run.containerId} of task '${run.task.task_id.value}' completed in state ${state}${message === undefined ? "" : `: ${message}`}`,
    );
    this.finish(run, state, message, reason, limitation);
  }

  /** Program, arguments, environment, directory and output files of a task; or why not. */
  private launchSpec(run: TaskRun): LaunchSpec | { error: string } {
    const task = run.task;
    const id = task.task_id.value;
    const command = task.command;
    if (command === undefined) return { error: `Expecting task '${id}' to have a command` };
    const container = task.container as
      | { docker?: unknown; mesos?: { image?: unknown } }
      | undefined;
    const child = run.containerId;
    const inImage = container?.docker !== undefined || container?.mesos?.image !== undefined;
    // Only the agent can run a task in its own image (a nested container with a rootfs).
    if (inImage && child === undefined) {
      return {
        error: `Task '${id}' asks for a container image; this agent has no nested containers to run it in`,
      };
    }
    const user = command.user;
    if (user !== undefined && this.o.user !== undefined && user !== this.o.user) {
      return {
        error: `Task '${id}' asks to run as user '${user}'; running tasks of a group as another user than the executor's ('${this.o.user}') is not supported yet`,
      };
    }
    if (task.container !== undefined && child === undefined) {
      this.o.logger.warn(`Ignoring the ContainerInfo of task '${id}' (it runs as a child process)`);
    }
    // A child process has no environment_secret isolator in front of it:
    // resolve its secrets here rather than drop them (a nested container's
    // are the agent's). See default-executor-secrets.ts.
    const secrets = child === undefined ? resolveTaskSecrets(command) : undefined;
    if (secrets !== undefined && "error" in secrets) {
      return { error: `Failed to launch task '${id}': ${secrets.error}` };
    }
    const sandbox =
      child !== undefined && this.o.sandboxes.nested !== undefined
        ? this.o.sandboxes.nested(id, child)
        : this.o.sandboxes.create(id);
    if ("error" in sandbox) {
      return { error: `Failed to create the sandbox of task '${id}': ${sandbox.error}` };
    }
    if (child === undefined) {
      // As Mesos' default executor maps each persistent volume of a task into
      // its sandbox (a nested container gets a PARENT volume, see
      // taskContainer): a child process gets a symlink to the executor's.
      for (const volume of taskVolumes(task)) {
        const linked = this.o.sandboxes.linkVolume?.(id, volume.container_path);
        if (linked !== undefined) {
          return {
            error: `Failed to map the persistent volume '${volume.container_path}' into the sandbox of task '${id}': ${linked.error}`,
          };
        }
        if (volume.mode === "RO") {
          this.o.logger.warn(
            `Task '${id}' gets read-write access to its read-only volume '${volume.container_path}' (a symlink cannot be read-only)`,
          );
        }
      }
    }
    const role = allocationRoleOf(task);
    const spec = buildLaunchSpec(
      // In an image, docker/runtime may take the program from the image's
      // Entrypoint/Cmd: the agent checks the command; only its variables count here.
      inImage ? { ...command, shell: true, value: command.value || "true" } : command,
      {
        // In an image, as Mesos, the task gets its own variables only (the
        // executor's environment is the host's); the agent sets MESOS_SANDBOX
        // and the image's Env. Otherwise the task's own sandbox, which its
        // CommandInfo may still override.
        baseEnv: inImage ? {} : { ...this.o.baseEnv, MESOS_SANDBOX: sandbox.directory },
        ...(role !== undefined ? { allocationRole: role } : {}),
        ...(secrets !== undefined ? { taskEnvironment: secrets.environment } : {}),
      },
    );
    if ("error" in spec) return { error: `Invalid command of task '${id}': ${spec.error}` };
    for (const name of spec.overwritten) {
      this.o.logger.info(`Overwriting environment variable '${name}' of task '${id}'`);
    }
    if (this.o.containerIp !== undefined) spec.env.MESOS_CONTAINER_IP = this.o.containerIp;
    spec.cwd = sandbox.directory;
    spec.stdoutPath = sandbox.stdoutPath;
    spec.stderrPath = sandbox.stderrPath;
    return spec;
  }

  private armCompletionTimer(run: TaskRun): void {
    const ms = nanosToMs(run.task.max_completion_time?.nanoseconds);
    if (ms === undefined || ms <= 0) return;
    const id = run.task.task_id.value;
    run.completionTimer = this.o.clock.setTimer(ms, () => {
      run.completionTimer = undefined;
      if (this.active.get(id) !== run || run.killing) return;
      this.o.logger.info(
        `Killing task ${id} which exceeded its maximum completion time of ${formatDuration(ms)}`,
      );
      run.killedByCompletionTimeout = true;
      this.kill(run, 0);
    });
  }

  private startChecks(run: TaskRun): void {
    const ctx = run.probeContext;
    const id = run.task.task_id.value;
    if (ctx === undefined) return;
    const log = this.o.logger;
    if (run.task.health_check !== undefined) {
      const info = run.task.health_check as HealthCheckInfo;
      const prober = healthCheckProber(info, ctx);
      if (typeof prober === "string")
        log.error(`Not running the health check of '${id}': ${prober}`);
      else {
        run.healthChecker = new HealthChecker(
          this.o.clock,
          prober,
          healthCheckTiming(info),
          (r) => this.healthUpdated(run, r),
          log,
        );
        run.healthChecker.start();
      }
    }
    if (run.task.check !== undefined) {
      const info = run.task.check as CheckInfo;
      const prober = checkProber(info, ctx);
      if (typeof prober === "string") log.error(`Not running the check of '${id}': ${prober}`);
      else {
        run.checker = new Checker(
          this.o.clock,
          prober,
          checkTiming(info),
          (s) => this.checkUpdated(run, s),
          log,
        );
        run.checker.start();
      }
    }
  }

  private stopChecks(run: TaskRun): void {
    run.healthChecker?.stop();
    run.checker?.stop();
  }

  private healthUpdated(run: TaskRun, report: HealthReport): void {
    if (this.active.get(run.task.task_id.value) !== run || run.killing) return;
    run.lastHealthy = report.healthy;
    const update = this.status(run, "TASK_RUNNING", {
      reason: "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED",
    });
    update.healthy = report.healthy;
    if (run.lastCheck !== undefined) update.check_status = run.lastCheck;
    this.forward(update);
    if (report.killTask) {
      this.unhealthy = true;
      this.o.logger.warn(
        `Killing task ${run.task.task_id.value} after ${report.consecutiveFailures} consecutive failed health checks`,
      );
      this.kill(run, this.graceOf(run));
    }
  }

  private checkUpdated(run: TaskRun, status: CheckResultInfo): void {
    if (this.active.get(run.task.task_id.value) !== run || run.killing) return;
    run.lastCheck = status;
    const update = this.status(run, "TASK_RUNNING", { reason: "REASON_TASK_CHECK_STATUS_UPDATED" });
    update.check_status = status;
    if (run.lastHealthy !== undefined) update.healthy = run.lastHealthy;
    this.forward(update);
  }

  private launchFailed(id: string, message: string): void {
    const run = this.active.get(id);
    if (run === undefined) return;
    this.o.logger.error(`Task ${id} could not start: ${message}`);
    this.finish(run, "TASK_FAILED", message);
  }

  // --- killing ------------------------------------------------------------

  /** The grace period of a kill not given one by a KILL event. */
  private graceOf(run: TaskRun): number {
    return Math.max(
      0,
      nanosToMs(run.task.kill_policy?.grace_period?.nanoseconds) ?? DEFAULT_KILL_GRACE_PERIOD_MS,
    );
  }

  private killTask(id: string, policy: KillPolicy | undefined): void {
    const log = this.o.logger;
    if (this.shuttingDown) {
      log.warn(`Ignoring kill for task '${id}' since the executor is shutting down`);
      return;
    }
    const run = this.active.get(id);
    if (run === undefined) {
      log.warn(`Ignoring kill for task '${id}' as it is no longer active`);
      return;
    }
    const grace = Math.max(0, nanosToMs(policy?.grace_period?.nanoseconds) ?? this.graceOf(run));
    log.info(`Received kill for task '${id}' with grace period of ${formatDuration(grace)}`);
    this.kill(run, grace);
  }

  /** SIGTERM now, SIGKILL after `graceMs`; a kill under way may only get a closer SIGKILL. */
  private kill(run: TaskRun, graceMs: number): void {
    if (!run.launched || run.process === undefined) return; // it ends on its own (launch failed)
    if (run.completionTimer !== undefined) {
      this.o.clock.cancelTimer(run.completionTimer);
      run.completionTimer = undefined;
    }
    if (run.killing) {
      run.escalation?.request(graceMs);
      return;
    }
    run.killing = true;
    this.stopChecks(run);
    const canKilling =
      this.frameworkInfo?.capabilities?.some((c) => c.type === "TASK_KILLING_STATE") ?? false;
    if (canKilling && !run.killedByCompletionTimeout) {
      this.forward(this.status(run, "TASK_KILLING"));
    }
    this.o.logger.info(`Killing task ${run.task.task_id.value}`);
    run.escalation = new KillEscalation(run.process, this.o.clock, this.o.logger);
    run.escalation.request(graceMs);
  }

  // --- endings ------------------------------------------------------------

  private reaped(id: string, code: number | null, signal: NodeJS.Signals | null): void {
    const run = this.active.get(id);
    if (run === undefined) return;
    run.escalation?.cancel();
    const { state, reason } = terminalStateOf({
      maxCompletionTimeReached: run.killedByCompletionTimeout,
      killed: run.killing,
      code,
      signal,
    });
    const message = `Command ${describeExit(code, signal)}`;
    this.o.logger.info(`Task ${id}: ${message} (pid: ${run.process?.pid})`);
    // Whatever the task left in its process group dies with it.
    run.process?.signalTree("SIGKILL");
    this.finish(run, state, message, reason);
  }

  /** Sends the terminal update of `run`, kills the rest of its group if it failed, forgets it. */
  private finish(
    run: TaskRun,
    state: TaskState,
    message?: string,
    reason?: string,
    limitation?: Record<string, unknown>,
  ): void {
    const id = run.task.task_id.value;
    if (this.active.get(id) !== run) return;
    if (run.completionTimer !== undefined) this.o.clock.cancelTimer(run.completionTimer);
    run.completionTimer = undefined;
    this.stopChecks(run);
    const final = this.status(run, state, {
      ...(message !== undefined ? { message } : {}),
      ...(reason !== undefined ? { reason } : {}),
      ...(limitation !== undefined ? { limitation } : {}),
    });
    if (this.unhealthy) final.healthy = false;
    this.forward(final);
    this.active.delete(id);
    if (
      !this.shuttingDown &&
      !run.killingGroup &&
      (state === "TASK_FAILED" || state === "TASK_KILLED")
    ) {
      this.killGroup(run);
    }
    if (this.active.size === 0) this.allTasksEnded();
  }

  /** A failed or killed task takes the rest of its group with it (Mesos' default policy). */
  private killGroup(run: TaskRun): void {
    this.o.logger.info(`Killing task group containing tasks ${formatIds(run.group)}`);
    run.killingGroup = true;
    for (const otherId of run.group) {
      const other = this.active.get(otherId);
      if (other === undefined || other === run) continue;
      other.killingGroup = true;
      if (other.killing) continue;
      if (!other.launched) continue; // its launch failure is reported on its own
      this.kill(other, this.graceOf(other));
    }
  }

  private allTasksEnded(): void {
    if (!this.o.channel.canDeliver()) {
      this.o.logger.info("Every task has ended; not connected to the agent, exiting");
      this.terminate(0);
      return;
    }
    if (this.unacknowledged.size === 0) {
      this.o.logger.info("Every task has ended and every update is acknowledged; exiting");
      this.terminate(0);
      return;
    }
    if (this.ackTimer !== undefined) return;
    const timeout = this.o.terminalAckTimeoutMs ?? TERMINAL_ACK_TIMEOUT_MS;
    this.o.logger.info(`Every task has ended; exiting once the agent acknowledges the updates`);
    this.ackTimer = this.o.clock.setTimer(timeout, () => {
      this.ackTimer = undefined;
      this.o.logger.error(
        `Did not receive the acknowledgements of ${this.unacknowledged.size} status update(s) within ${formatDuration(timeout)}; exiting`,
      );
      this.terminate(1);
    });
  }

  private cancelAckTimer(): void {
    if (this.ackTimer !== undefined) this.o.clock.cancelTimer(this.ackTimer);
    this.ackTimer = undefined;
  }

  /** SHUTDOWN from the agent, a lost agent, or a signal to the executor. */
  shutdown(): void {
    const log = this.o.logger;
    if (this.shuttingDown) {
      log.warn("Ignoring shutdown since it is in progress");
      return;
    }
    log.info("Shutting down");
    this.shuttingDown = true;
    if (this.active.size === 0) {
      this.allTasksEnded();
      return;
    }
    // Leave time for the terminal updates before the agent destroys the container.
    const limit = Math.max(0, this.o.shutdownGracePeriodMs - SHUTDOWN_BUFFER_MS);
    for (const run of [...this.active.values()]) {
      this.kill(run, Math.min(this.graceOf(run), limit));
    }
  }

  /** Last resort when the shutdown grace period is over: SIGKILL every task and exit. */
  forceExit(): void {
    this.o.logger.warn("Shutdown grace period elapsed; killing the tasks and exiting");
    for (const run of this.active.values()) run.process?.signalTree("SIGKILL");
    this.terminate(1);
  }

  private terminate(code: number): void {
    if (this.exited) return;
    this.exited = true;
    this.cancelAckTimer();
    for (const run of this.active.values()) {
      run.escalation?.cancel();
      if (run.completionTimer !== undefined) this.o.clock.cancelTimer(run.completionTimer);
    }
    this.o.exit(code);
  }
}

/** `[ a, b ]`, as Mesos prints lists of ids. */
function formatIds(ids: readonly string[]): string {
  return `[ ${ids.join(", ")} ]`;
}

/** A random container id (UUID v4). */
function randomId(): string {
  return globalThis.crypto.randomUUID();
}

/** The number of a signal name (SIGKILL when unknown). */
function signalNumber(signal: NodeJS.Signals): number {
  return osConstants.signals[signal] ?? 9;
}

/** A raw wait status as an exit code or a signal name. */
export function decodeWaitStatus(status: number): {
  code: number | null;
  signal: NodeJS.Signals | null;
} {
  const termSig = status & 0x7f;
  if (termSig === 0) return { code: (status >> 8) & 0xff, signal: null };
  const name = Object.entries(osConstants.signals).find(([, n]) => n === termSig)?.[0];
  return { code: null, signal: (name ?? "SIGKILL") as NodeJS.Signals };
}
