/**
 * The docker executor (our `mesos-docker-executor`): runs the one command
 * task of a DOCKER ContainerInfo with `docker run` and reports it. The agent
 * starts it on the host for a command task whose container is DOCKER.
 *
 * LAUNCH -> TASK_STARTING, `docker run` in the foreground (the container's
 * output goes to this executor's stdout/stderr: the sandbox files, or the
 * container logger's pipes when the agent has one), then
 * `docker inspect` every 500 ms until the container has a pid ->
 * TASK_RUNNING (with the inspect output as `data`, and the container's IP
 * when it has one). `docker run` exits -> TASK_FINISHED on status 0,
 * TASK_FAILED otherwise, TASK_KILLED after a kill. KILL -> TASK_KILLING
 * (when the framework has that capability), then `docker stop -t <grace>`,
 * the grace being the kill's policy, else the task's, else the executor's
 * shutdown grace period (at least `--stop_timeout`). SHUTDOWN kills the
 * same way with what is left of the shutdown grace period.
 * `max_completion_time` kills with no grace and fails with
 * REASON_MAX_COMPLETION_TIME_REACHED. A `health_check` starts with
 * TASK_RUNNING: COMMAND checks run inside the container with `docker exec`,
 * HTTP and TCP checks against 127.0.0.1 (right for host networking); health
 * changes are TASK_RUNNING updates with `healthy`, and reaching
 * `consecutive_failures` kills the task. A task with a general `check`
 * fails at once (TASK_FAILED, `Docker executor does not support checks
 * yet`) without a container, as Mesos' docker executor has no checks. The
 * executor exits once its terminal update is acknowledged.
 */
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import type { Logger } from "../../../common/observability/logger.js";
import type {
  CommandInfo,
  ContainerInfo,
  Resource,
} from "../../../common/protocol/generated/mesos-v1.js";
import { systemClock } from "../../../common/time/clock.js";
import { type HealthCheckInfo, healthCheckTiming } from "../../../executor/checks/check-info.js";
import { HealthChecker, type HealthReport } from "../../../executor/checks/health-checker.js";
import type { Prober } from "../../../executor/checks/probe.js";
import { commandProber, healthCheckProber } from "../../../executor/checks/probers.js";
import { parseDuration } from "../../../executor/duration.js";
import type { ExecutorClient } from "../../../executor/library.js";
import type { IdValue, KillPolicy, TaskInfo, TaskState } from "../../../executor/protocol.js";
import { dockerRunOptions, inspectArgs, parseInspect, runArgs, stopArgs } from "./docker-args.js";
import type { DockerCli } from "./docker-cli.js";

/** Why a task with a `check` (TaskInfo.check, not health_check) fails: Mesos' words. */
export const DOCKER_CHECKS_UNSUPPORTED = "Docker executor does not support checks yet";

/** The executor's flags (as the agent passes them). */
export interface DockerExecutorFlags {
  /** `--container`: the Docker container's name. */
  container: string;
  /** `--sandbox_directory`: the sandbox on the host. */
  sandboxDirectory: string;
  /** `--mapped_directory`: where the sandbox is inside the container. */
  mappedDirectory: string;
  /** `--stop_timeout` in ms (`--docker_stop_timeout`): the least grace a kill gets. */
  stopTimeoutMs: number;
  /** `--cgroups_enable_cfs`. */
  cgroupsEnableCfs: boolean;
  /** `--task_environment`: variables that win over the task's own. */
  taskEnvironment?: Record<string, string>;
}

/** How often `docker inspect` is retried until the container has a pid (Mesos: 500 ms). */
const INSPECT_INTERVAL_MS = 500;
/** How long one `docker inspect` may take (Mesos: 5 s). */
const INSPECT_TIMEOUT_MS = 5_000;
/** Mesos subtracts the reap interval and one second from the shutdown grace. */
const SHUTDOWN_MARGIN_MS = 2_000;
/** The executor exits at the latest this long after its terminal update. */
const EXIT_DEADLINE_MS = 60_000;

/** Runs one task in a Docker container. */
export class DockerExecutor {
  private taskId: IdValue | undefined;
  private task: TaskInfo | undefined;
  private run: ChildProcess | undefined;
  private killed = false;
  private killedByTimeout = false;
  private terminated = false;
  private running = false;
  private completionTimer: NodeJS.Timeout | undefined;
  private terminalUuid: string | undefined;
  /** `docker run` has exited. */
  private runExited = false;
  /** The inspect loop, until it reported TASK_RUNNING or gave up. */
  private inspecting: Promise<void> = Promise.resolve();
  private healthChecker: HealthChecker | undefined;
  private killedByHealthCheck = false;

  constructor(
    private readonly client: ExecutorClient,
    private readonly docker: DockerCli,
    private readonly flags: DockerExecutorFlags,
    private readonly logger: Logger,
    private readonly exit: (code: number) => void,
  ) {}

  /** Subscribes and handles events. */
  start(): void {
    this.client.start({
      subscribed: () => this.logger.info("Registered docker executor"),
      launch: (task) => this.launch(task),
      kill: (taskId, policy) => this.kill(taskId, policy),
      shutdown: () => this.shutdown(),
      acknowledged: (_taskId, uuid) => {
        if (uuid === this.terminalUuid) this.finish(0);
      },
    });
  }

  private status(
    state: TaskState,
    extra: { message?: string; reason?: string; data?: string; healthy?: boolean } = {},
  ) {
    const taskId = this.taskId;
    if (taskId === undefined) return undefined;
    return this.client.update({ task_id: taskId, state, source: "SOURCE_EXECUTOR", ...extra });
  }

  private launch(task: TaskInfo): void {
    if (this.task !== undefined) {
      this.client.update({
        task_id: task.task_id,
        state: "TASK_FAILED",
        source: "SOURCE_EXECUTOR",
        message: 'Attempted to run multiple tasks using a "docker" executor',
      });
      return;
    }
    this.task = task;
    this.taskId = task.task_id;
    const maxMs = nanosToMs(task.max_completion_time?.nanoseconds);
    if (maxMs !== undefined && maxMs > 0) {
      this.completionTimer = setTimeout(() => this.completionTimeout(maxMs), maxMs);
    }
    this.logger.info(`Starting task ${task.task_id.value}`);
    this.status("TASK_STARTING");
    const container = task.container as ContainerInfo | undefined;
    const command = task.command as CommandInfo | undefined;
    if (container?.type !== "DOCKER" || command === undefined) {
      this.terminate(
        "TASK_FAILED",
        "The docker executor runs only command tasks with a DOCKER container",
      );
      return;
    }
    // Mesos' docker executor has no general checks (MESOS-7250): it aborts
    // on a task with one once the container runs. Refusing before `docker
    // run` gives the same end (the task fails) with its words and no container.
    if (task.check !== undefined) {
      this.terminate("TASK_FAILED", DOCKER_CHECKS_UNSUPPORTED);
      return;
    }
    const options = dockerRunOptions({
      container,
      command,
      name: this.flags.container,
      sandboxDirectory: this.flags.sandboxDirectory,
      mappedDirectory: this.flags.mappedDirectory,
      resources: (task.resources ?? []) as unknown as Resource[],
      limits: task.limits as Record<string, { value: number }> | undefined,
      enableCfsQuota: this.flags.cgroupsEnableCfs,
      env: this.flags.taskEnvironment,
    });
    if (!options.ok) {
      this.terminate("TASK_FAILED", `Failed to create docker run options: ${options.error}`);
      return;
    }
    const argv = this.docker.argv(runArgs(options.value));
    this.logger.info(`Running ${this.docker.o.path} ${argv.join(" ")}`);
    const child = spawn(this.docker.o.path, argv, {
      stdio: ["ignore", "inherit", "inherit"],
      env: process.env,
    });
    this.run = child;
    child.once("error", (e) => {
      this.terminate("TASK_FAILED", `Failed to run docker container: ${e.message}`);
    });
    child.once("exit", (code, signal) => void this.reaped(code, signal));
    this.inspecting = this.inspectUntilStarted();
  }

  /**
   * Polls `docker inspect` until the container has started (it has a pid,
   * or it ran and already ended), then reports TASK_RUNNING. Gives up when
   * `docker run` has exited and docker does not know the container.
   */
  private async inspectUntilStarted(): Promise<void> {
    while (!this.terminated && !this.running) {
      try {
        const out = await this.docker.run(inspectArgs(this.flags.container), {
          timeoutMs: INSPECT_TIMEOUT_MS,
        });
        const state = parseInspect(out.stdout);
        if (state.ok && (state.value.pid !== undefined || state.value.started)) {
          if (this.terminated || this.running) return;
          this.running = true;
          if (this.killed) return;
          const extra: { data: string; container_status?: Record<string, unknown> } = {
            data: Buffer.from(out.stdout).toString("base64"),
          };
          this.startHealthCheck();
          this.client.update({
            task_id: this.taskId as IdValue,
            state: "TASK_RUNNING",
            source: "SOURCE_EXECUTOR",
            ...extra,
            ...(state.value.ipAddress === undefined
              ? {}
              : {
                  container_status: {
                    network_infos: [{ ip_addresses: [{ ip_address: state.value.ipAddress }] }],
                  },
                }),
          });
          return;
        }
      } catch {
        // Not created yet (or docker is slow): try again, unless it never will be.
        if (this.runExited) return;
      }
      await new Promise((r) => setTimeout(r, INSPECT_INTERVAL_MS));
    }
  }

  /** Starts the task's health check, if it has one (see the module comment). */
  private startHealthCheck(): void {
    const info = this.task?.health_check as HealthCheckInfo | undefined;
    if (info === undefined) return;
    const prober = this.healthProber(info);
    if (typeof prober === "string") {
      this.logger.error(`Not running the health check: ${prober}`);
      return;
    }
    this.healthChecker = new HealthChecker(
      systemClock,
      prober,
      healthCheckTiming(info),
      (r) => this.healthUpdated(r),
      this.logger,
    );
    this.healthChecker.start();
  }

  private healthProber(info: HealthCheckInfo): Prober | string {
    const type = info.type ?? (info.command !== undefined ? "COMMAND" : undefined);
    if (type !== "COMMAND") return healthCheckProber(info, { launch: { env: {} } as never });
    const command = info.command;
    if (command?.value === undefined) return "the check has no command";
    const inside =
      (command.shell ?? true)
        ? ["sh", "-c", command.value]
        : [command.value, ...(command.arguments ?? [])];
    const args = this.docker.argv(["exec", this.flags.container, ...inside]);
    return commandProber({
      file: this.docker.o.path,
      args,
      argv0: this.docker.o.path,
      env: { ...(process.env as Record<string, string>) },
      overwritten: [],
    });
  }

  private healthUpdated(report: HealthReport): void {
    if (this.killed || this.terminated || this.taskId === undefined) return;
    this.client.update({
      task_id: this.taskId,
      state: "TASK_RUNNING",
      source: "SOURCE_EXECUTOR",
      reason: "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED",
      healthy: report.healthy,
    });
    if (report.killTask) {
      this.logger.warn(
        `Killing task after ${report.consecutiveFailures} consecutive failed health checks`,
      );
      this.killedByHealthCheck = true;
      this.kill(this.taskId, undefined);
    }
  }

  private kill(taskId: IdValue, override: KillPolicy | undefined): void {
    this.logger.info(`Received kill for task ${taskId.value}`);
    const policy = override?.grace_period ?? this.task?.kill_policy?.grace_period;
    const graceMs = nanosToMs(policy?.nanoseconds) ?? this.client.environment.shutdownGracePeriodMs;
    this.killTask(Math.max(graceMs, policy === undefined ? this.flags.stopTimeoutMs : 0));
  }

  private shutdown(): void {
    this.logger.info("Shutting down");
    if (this.run === undefined) {
      this.finish(0);
      return;
    }
    const grace = Math.max(
      Math.max(this.client.environment.shutdownGracePeriodMs, this.flags.stopTimeoutMs) -
        SHUTDOWN_MARGIN_MS,
      0,
    );
    this.killTask(grace);
  }

  private completionTimeout(maxMs: number): void {
    if (this.killed || this.terminated) return;
    this.logger.info(`Killing task which exceeded its maximum completion time of ${maxMs} ms`);
    this.killedByTimeout = true;
    this.killTask(0);
  }

  private killTask(graceMs: number): void {
    if (this.terminated) return;
    this.healthChecker?.stop();
    if (this.completionTimer !== undefined) clearTimeout(this.completionTimer);
    this.completionTimer = undefined;
    if (this.run === undefined) {
      // Nothing was started: the task ends here.
      this.killed = true;
      this.terminate("TASK_KILLED", "Killed before the container was started");
      return;
    }
    if (!this.killed) {
      this.killed = true;
      const capable = (this.client.subscribedInfo?.framework_info.capabilities ?? []).some(
        (c) => c.type === "TASK_KILLING_STATE",
      );
      if (capable && !this.killedByTimeout) this.status("TASK_KILLING");
    }
    this.docker
      .run(stopArgs(this.flags.container, graceMs), { timeoutMs: graceMs + 30_000 })
      .catch((e: unknown) => {
        this.logger.error(
          `Failed to stop container '${this.flags.container}': ${(e as Error).message}`,
        );
      });
  }

  /** `docker run` ended: the task's terminal state follows from how (after TASK_RUNNING, if any). */
  private async reaped(code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    this.runExited = true;
    await Promise.race([this.inspecting, new Promise((r) => setTimeout(r, INSPECT_TIMEOUT_MS))]);
    if (this.terminated) return;
    const how = code !== null ? `exited with status ${code}` : `terminated with signal ${signal}`;
    const message = `Container ${how}`;
    this.logger.info(message);
    if (this.killedByTimeout) {
      this.terminate("TASK_FAILED", message, "REASON_MAX_COMPLETION_TIME_REACHED");
    } else if (this.killed) {
      const healthy = this.killedByHealthCheck ? false : undefined;
      this.terminate("TASK_KILLED", message, undefined, healthy);
    } else {
      this.terminate(code === 0 ? "TASK_FINISHED" : "TASK_FAILED", message);
    }
  }

  private terminate(state: TaskState, message: string, reason?: string, healthy?: boolean): void {
    if (this.terminated) return;
    this.terminated = true;
    this.healthChecker?.stop();
    if (this.completionTimer !== undefined) clearTimeout(this.completionTimer);
    this.terminalUuid = this.status(state, {
      message,
      ...(reason === undefined ? {} : { reason }),
      ...(healthy === undefined ? {} : { healthy }),
    });
    setTimeout(() => this.finish(0), EXIT_DEADLINE_MS).unref();
  }

  private finish(code: number): void {
    this.client.stop();
    this.exit(code);
  }
}

function nanosToMs(nanos: number | string | undefined): number | undefined {
  if (nanos === undefined) return undefined;
  const n = Number(nanos);
  return Number.isFinite(n) ? Math.floor(n / 1e6) : undefined;
}

/** Parses the executor's flags; a one-line error for a missing or bad one. */
export function parseDockerExecutorFlags(
  argv: readonly string[],
): { flags: DockerExecutorFlags; docker: string; socket: string } | { error: string } {
  const values = new Map<string, string>();
  for (const arg of argv) {
    if (!arg.startsWith("--")) continue;
    const eq = arg.indexOf("=");
    if (eq < 0) values.set(arg.slice(2), "true");
    else values.set(arg.slice(2, eq), arg.slice(eq + 1));
  }
  for (const required of ["container", "docker", "sandbox_directory", "mapped_directory"]) {
    if (!values.has(required)) return { error: `Missing required option --${required}` };
  }
  let stopTimeoutMs = 0;
  const stop = values.get("stop_timeout");
  if (stop !== undefined) {
    const parsed = parseDuration(stop);
    if (typeof parsed !== "number") return { error: `Bad --stop_timeout: ${parsed.error}` };
    stopTimeoutMs = parsed;
  }
  let taskEnvironment: Record<string, string> | undefined;
  const env = values.get("task_environment");
  if (env !== undefined) {
    try {
      const parsed = JSON.parse(env) as unknown;
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        return { error: "Failed to parse --task_environment: not a JSON object" };
      }
      taskEnvironment = {};
      for (const [k, v] of Object.entries(parsed)) {
        if (typeof v !== "string") {
          return { error: `Value of key '${k}' in --task_environment is not a string` };
        }
        taskEnvironment[k] = v;
      }
    } catch (e) {
      return { error: `Failed to parse --task_environment: ${(e as Error).message}` };
    }
  }
  const cfs = values.get("cgroups_enable_cfs");
  return {
    flags: {
      container: values.get("container") as string,
      sandboxDirectory: values.get("sandbox_directory") as string,
      mappedDirectory: values.get("mapped_directory") as string,
      stopTimeoutMs,
      cgroupsEnableCfs: cfs === "true" || cfs === "1",
      ...(taskEnvironment === undefined ? {} : { taskEnvironment }),
    },
    docker: values.get("docker") as string,
    socket: values.get("docker_socket") ?? "/var/run/docker.sock",
  };
}
