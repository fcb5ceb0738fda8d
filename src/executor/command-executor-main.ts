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
import { closeSync, realpathSync, writeSync } from "node:fs";
import { systemClock } from "../common/time/clock.js";
import type { CommandExecutorSettings } from "./command-executor-flags.js";
import { readExecutorEnvironment, restoreTaskVariables } from "./executor-environment.js";
import { ExecutorClient, type ExecutorHandlers } from "./library.js";
import { stderrLogger } from "./stderr-logger.js";

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

/** Runs the command executor; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  if (process.env[POOL_VARIABLE] === "1" && !(await awaitHandover())) return 0;
  // The task gets the Node start-up variables the agent kept from this process.
  restoreTaskVariables(process.env);
  let settings: CommandExecutorSettings = { warnings: [] };
  if (argv.length > 0) {
    const { parseCommandExecutorFlags } = await import("./command-executor-flags.js");
    const parsed = parseCommandExecutorFlags(argv);
    if ("exit" in parsed) {
      (parsed.exit === 0 ? process.stdout : process.stderr).write(parsed.output);
      return parsed.exit;
    }
    settings = parsed;
  }

  const logger = stderrLogger(systemClock, "executor.ts", {
    verbosity: Number(process.env.GLOG_v ?? 0),
    ...(settings.loggingLevel !== undefined ? { minimum: settings.loggingLevel } : {}),
    ...(settings.quiet !== undefined ? { quiet: settings.quiet } : {}),
  });
  for (const warning of settings.warnings) logger.warn(warning);
  const environment = readExecutorEnvironment(process.env);
  if ("error" in environment) {
    logger.error(`Failed to start the executor: ${environment.error}`);
    return 1;
  }
  // Tasks must not see the executor's credentials.
  delete process.env.MESOS_EXECUTOR_AUTHENTICATION_TOKEN;
  const started = readySignal(process.env);

  let forceExit = (): void => process.exit(1);
  let subscribeSent = (): void => {};
  const sent = new Promise<void>((resolve) => {
    subscribeSent = resolve;
  });
  const client = new ExecutorClient(environment, {
    logger,
    onShutdownDeadline: () => forceExit(),
    onFirstSubscribeSent: () => subscribeSent(),
  });
  const deferred = deferredHandlers();
  // Subscribe first; the rest loads once the request is on the wire, while
  // the agent answers (loading earlier would hold the request back).
  client.start(deferred.handlers);
  await sent;

  const { CommandExecutor, childProcessLauncher } = await import("./task-runtime.js");

  return new Promise((resolve) => {
    let finished = false;
    const exit = (code: number): void => {
      if (finished) return;
      finished = true;
      client.stop();
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      // Safety net should a stray handle keep the loop alive; unref'd, so it
      // never delays a clean exit.
      setTimeout(() => process.exit(code), 2000).unref();
      resolve(code);
    };
    const executor = new CommandExecutor({
      channel: {
        update: (status) => client.update(status),
        canDeliver: () => client.state !== "shutdown" && client.state !== "stopped",
      },
      launcher: {
        launch: (spec, callbacks) => {
          started();
          return childProcessLauncher.launch(spec, callbacks);
        },
      },
      clock: systemClock,
      logger,
      executorId: environment.executorId,
      baseEnv: process.env,
      shutdownGracePeriodMs: environment.shutdownGracePeriodMs,
      ...(settings.taskCommand !== undefined ? { taskCommand: settings.taskCommand } : {}),
      ...(settings.taskEnvironment !== undefined
        ? { taskEnvironment: settings.taskEnvironment }
        : {}),
      ...(settings.launchRefusal !== undefined ? { launchRefusal: settings.launchRefusal } : {}),
      exit,
    });
    forceExit = () => executor.forceExit();
    // A signal to the executor (e.g. the agent stopping it) kills the task
    // within the shutdown grace period instead of orphaning it.
    const onSignal = (signal: NodeJS.Signals): void => {
      logger.info(`Received ${signal}`);
      executor.shutdown();
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    deferred.attach(executor.handlers());
  });
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
