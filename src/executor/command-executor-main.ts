/**
 * `mesos-executor`: the built-in command executor. The agent starts it in
 * the task's sandbox with the executor environment (`MESOS_FRAMEWORK_ID`,
 * `MESOS_EXECUTOR_ID`, `MESOS_AGENT_ENDPOINT`, ...), stdout/stderr going to
 * the sandbox files; it subscribes, runs the one task it is given and exits.
 *
 * Start-up time is the point of this file's shape: only what SUBSCRIBE
 * needs is loaded before the request goes out; the task logic and
 * node:child_process load while the agent answers, and the flags machinery
 * only when there are flags. Numbers and the exact command line the agent
 * uses: docs/architecture/command-executor.md.
 */
import { closeSync, openSync, realpathSync, writeSync } from "node:fs";
import type { Logger } from "../common/observability/logger.js";
import { tlsEnabled } from "../common/process/tls-client.js";
import { systemClock } from "../common/time/clock.js";
import type { CommandExecutor, TaskPlacement } from "./command-executor.js";
import type { CommandExecutorSettings } from "./command-executor-flags.js";
import {
  type ExecutorEnvironment,
  readExecutorEnvironment,
  restoreTaskVariables,
} from "./executor-environment.js";
import { HOST_VARIABLE, type HostLaunch } from "./host-protocol.js";
import { ExecutorClient, type ExecutorHandlers } from "./library.js";
import { type StderrLoggerOptions, stderrLogger } from "./stderr-logger.js";

type HandlerName = keyof ExecutorHandlers;

/**
 * Handlers that queue events until `attach` provides the real ones, so the
 * subscription can start before the executor logic has loaded.
 */
function deferredHandlers(): {
  handlers: ExecutorHandlers;
  attach(real: ExecutorHandlers): void;
} {
  let target: ExecutorHandlers | undefined;
  const queue: (() => void)[] = [];
  const names: HandlerName[] = [
    "subscribed",
    "launch",
    "launchGroup",
    "kill",
    "acknowledged",
    "message",
    "shutdown",
    "error",
    "heartbeat",
    "disconnected",
  ];
  const handlers: Record<string, (...args: unknown[]) => void> = {};
  for (const name of names) {
    handlers[name] = (...args: unknown[]) => {
      const call = () => (target?.[name] as ((...a: unknown[]) => void) | undefined)?.(...args);
      if (target === undefined) queue.push(call);
      else call();
    };
  }
  return {
    handlers: handlers as ExecutorHandlers,
    attach(real) {
      target = real;
      for (const call of queue.splice(0)) call();
    },
  };
}

/**
 * The variable naming the pipe on which the agent's launcher helper waits
 * for this executor to have started (paced launches,
 * `--executor_launch_concurrency`; src/agent/containerizer/launcher-protocol.ts).
 */
export const READY_FD_VARIABLE = "MESOS_TS_READY_FD";

/**
 * Takes the ready pipe out of the environment (the task must not see it)
 * and returns what signals on it: one byte, then close, before the task's
 * process is forked so the task never inherits the pipe. A no-op when the
 * launch was not paced.
 */
export function readySignal(env: NodeJS.ProcessEnv): () => void {
  const value = env[READY_FD_VARIABLE];
  delete env[READY_FD_VARIABLE];
  const fd = Number(value);
  if (value === undefined || !Number.isInteger(fd) || fd < 3) return () => {};
  let sent = false;
  return () => {
    if (sent) return;
    sent = true;
    try {
      writeSync(fd, "1");
    } catch {
      // The helper stopped waiting (timeout) or went away: nothing to tell.
    }
    try {
      closeSync(fd);
    } catch {
      // Already closed.
    }
  };
}

/** Set in an idle pooled executor's environment (src/agent/containerizer/launcher-protocol.ts). */
export const POOL_VARIABLE = "MESOS_TS_POOLED";

/**
 * A pooled executor (`--executor_pool_size`) was started before its launch:
 * it loads what it will need, then waits for its identity on stdin (the
 * agent's environment for it and the sandbox, one JSON document). Returns
 * false when stdin ends without one (the agent or its helper went away).
 */
async function awaitHandover(): Promise<boolean> {
  // Loaded now, while idle; the later import of the same module is free.
  await import("./task-runtime.js");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return false;
  const handover = JSON.parse(text) as { env: Record<string, string>; cwd: string };
  process.chdir(handover.cwd);
  for (const name of Object.keys(process.env)) delete process.env[name];
  Object.assign(process.env, handover.env);
  return true;
}

/** One command executor's surroundings: its own process, or a slot in an executor host. */
interface ExecutorSetup {
  /** Its environment (what its task inherits); a private copy when hosted. */
  env: Record<string, string | undefined>;
  environment: ExecutorEnvironment;
  settings: CommandExecutorSettings;
  logger: Logger;
  /** Hosted: where the task runs (the executor does not own the process' cwd and stdio). */
  placement?: TaskPlacement;
  /** Called right before the task is forked (the paced launch's ready signal). */
  started(): void;
  /** The shutdown deadline passed before the task logic loaded. */
  deadlineBeforeLoad(): void;
}

/** A running command executor. */
interface RunningExecutor {
  /** Resolves with the exit code once the executor is done. */
  done: Promise<number>;
  /** SHUTDOWN-like stop (a signal to the executor or its host). */
  shutdown(): void;
  /** Its container is being destroyed: kill the task, stop at once, send nothing more. */
  abandon(): void;
}

/**
 * Starts one command executor: subscribes at once, loads the task logic
 * while the agent answers, then runs the task it is given.
 */
function startExecutor(setup: ExecutorSetup): RunningExecutor {
  const { environment, logger } = setup;
  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => {
    resolveDone = resolve;
  });
  let executor: CommandExecutor | undefined;
  let pending: "shutdown" | "abandon" | undefined;
  let finished = false;
  let subscribeSent = (): void => {};
  const sent = new Promise<void>((resolve) => {
    subscribeSent = resolve;
  });
  const exit = (code: number): void => {
    if (finished) return;
    finished = true;
    client.stop();
    resolveDone(code);
  };
  const client = new ExecutorClient(environment, {
    logger,
    onShutdownDeadline: () => {
      if (executor !== undefined) executor.forceExit();
      else setup.deadlineBeforeLoad();
    },
    onFirstSubscribeSent: () => subscribeSent(),
  });
  const deferred = deferredHandlers();
  // Subscribe first; the rest loads once the request is on the wire, while
  // the agent answers (loading earlier would hold the request back).
  client.start(deferred.handlers);
  void sent
    .then(() => import("./task-runtime.js"))
    .then(({ CommandExecutor: Executor, childProcessLauncher }) => {
      if (finished) return;
      const { settings } = setup;
      executor = new Executor({
        channel: {
          update: (status) => client.update(status),
          canDeliver: () => client.state !== "shutdown" && client.state !== "stopped",
        },
        launcher: {
          launch: (spec, callbacks) => {
            setup.started();
            return childProcessLauncher.launch(spec, callbacks);
          },
        },
        clock: systemClock,
        logger,
        executorId: environment.executorId,
        baseEnv: setup.env,
        shutdownGracePeriodMs: environment.shutdownGracePeriodMs,
        ...(settings.taskCommand !== undefined ? { taskCommand: settings.taskCommand } : {}),
        ...(settings.taskEnvironment !== undefined
          ? { taskEnvironment: settings.taskEnvironment }
          : {}),
        ...(settings.launchRefusal !== undefined ? { launchRefusal: settings.launchRefusal } : {}),
        ...(setup.placement !== undefined ? { placement: setup.placement } : {}),
        exit,
      });
      deferred.attach(executor.handlers());
      if (pending === "abandon") executor.abandon();
      else if (pending === "shutdown") executor.shutdown();
    });
  return {
    done,
    shutdown() {
      if (executor !== undefined) executor.shutdown();
      else pending ??= "shutdown";
    },
    abandon() {
      if (executor !== undefined) {
        executor.abandon();
        return;
      }
      // No task can be running before the logic has loaded.
      pending = "abandon";
      exit(137);
    },
  };
}

/** Runs the command executor; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  if (process.env[HOST_VARIABLE] === "1") return runHost(argv);
  if (process.env[POOL_VARIABLE] === "1" && !(await awaitHandover())) return 0;
  // The task gets the Node start-up variables the agent kept from this process.
  restoreTaskVariables(process.env);
  const settings = await readSettings(argv);
  if ("exit" in settings) return settings.exit;

  const logger = stderrLogger(systemClock, "executor.ts", loggerOptions(process.env, settings));
  for (const warning of settings.warnings) logger.warn(warning);
  const environment = readExecutorEnvironment(process.env);
  if ("error" in environment) {
    logger.error(`Failed to start the executor: ${environment.error}`);
    return 1;
  }
  // Tasks must not see the executor's credentials.
  delete process.env.MESOS_EXECUTOR_AUTHENTICATION_TOKEN;
  const started = readySignal(process.env);
  const running = startExecutor({
    env: process.env,
    environment,
    settings,
    logger,
    started,
    deadlineBeforeLoad: () => process.exit(1),
  });
  // A signal to the executor (e.g. the agent stopping it) kills the task
  // within the shutdown grace period instead of orphaning it.
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info(`Received ${signal}`);
    running.shutdown();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  const code = await running.done;
  process.off("SIGTERM", onSignal);
  process.off("SIGINT", onSignal);
  // Safety net should a stray handle keep the loop alive; unref'd, so it
  // never delays a clean exit.
  setTimeout(() => process.exit(code), 2000).unref();
  return code;
}

/** The command line's flags (loaded only when there are some), or the exit to take. */
async function readSettings(argv: string[]): Promise<CommandExecutorSettings | { exit: number }> {
  if (argv.length === 0) return { warnings: [] };
  const { parseCommandExecutorFlags } = await import("./command-executor-flags.js");
  const parsed = parseCommandExecutorFlags(argv);
  if ("exit" in parsed) {
    (parsed.exit === 0 ? process.stdout : process.stderr).write(parsed.output);
    return { exit: parsed.exit };
  }
  return parsed;
}

function loggerOptions(
  env: Readonly<Record<string, string | undefined>>,
  settings: CommandExecutorSettings,
): StderrLoggerOptions {
  return {
    verbosity: Number(env.GLOG_v ?? 0),
    ...(settings.loggingLevel !== undefined ? { minimum: settings.loggingLevel } : {}),
    ...(settings.quiet !== undefined ? { quiet: settings.quiet } : {}),
  };
}

/**
 * An executor host (`--command_executors_per_process`): runs the command
 * executors the launcher helper hands it, each with its own environment,
 * sandbox, log and agent connection (src/executor/executor-host.ts).
 */
async function runHost(argv: string[]): Promise<number> {
  const settings = await readSettings(argv);
  if ("exit" in settings) return settings.exit;
  const { serveExecutorHost } = await import("./task-runtime.js");
  return serveExecutorHost({
    start: (launch) => startHostedExecutor(launch, settings),
  });
}

/** Starts one hosted executor from its launch (nothing of the host's own environment is used). */
function startHostedExecutor(
  launch: HostLaunch,
  settings: CommandExecutorSettings,
): RunningExecutor | { error: string } {
  const env: Record<string, string | undefined> = { ...launch.env };
  restoreTaskVariables(env);
  delete env[READY_FD_VARIABLE];
  if (tlsEnabled(env)) {
    return { error: "executors talking TLS to the agent are not hosted" };
  }
  let fd: number;
  try {
    fd = openSync(launch.stderr, "a");
  } catch (e) {
    return { error: `cannot open '${launch.stderr}': ${(e as Error).message}` };
  }
  let open = true;
  const logger = stderrLogger(systemClock, "executor.ts", {
    ...loggerOptions(env, settings),
    write: (line) => {
      if (!open) return;
      try {
        writeSync(fd, line);
      } catch {
        // The sandbox went away; nothing to log to.
      }
    },
  });
  const closeLog = (): void => {
    if (!open) return;
    open = false;
    closeSync(fd);
  };
  for (const warning of settings.warnings) logger.warn(warning);
  const environment = readExecutorEnvironment(env);
  if ("error" in environment) {
    logger.error(`Failed to start the executor: ${environment.error}`);
    closeLog();
    return { error: environment.error };
  }
  delete env.MESOS_EXECUTOR_AUTHENTICATION_TOKEN;
  const running = startExecutor({
    env,
    environment,
    settings,
    logger,
    placement: { cwd: launch.cwd, stdout: launch.stdout, stderr: launch.stderr },
    started: () => {},
    deadlineBeforeLoad: () => running.abandon(),
  });
  void running.done.then(closeLog);
  return running;
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    // import.meta.filename (Node >= 20.11) and the global URL spare loading node:url.
    const self = import.meta.filename ?? decodeURIComponent(new URL(import.meta.url).pathname);
    return realpathSync(script) === self;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`mesos-executor: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
