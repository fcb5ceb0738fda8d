/**
 * `mesos-default-executor`: the built-in executor of task groups
 * (ExecutorInfo type DEFAULT). The agent starts it from `--launcher_dir`
 * with `--launcher_dir=...`, in the executor's sandbox, with the executor
 * environment (`MESOS_FRAMEWORK_ID`, `MESOS_EXECUTOR_ID`,
 * `MESOS_SLAVE_PID`, `MESOS_SANDBOX`, ...). It subscribes, runs every task
 * group it is given (docs/default-executor.md) and exits once all tasks have
 * ended and their updates are acknowledged.
 */
import { realpathSync } from "node:fs";
import { isIP } from "node:net";
import { userInfo } from "node:os";
import { isAnyIp, lookupHostIp } from "../common/process/listen-address.js";
import { systemClock } from "../common/time/clock.js";
import { DefaultExecutor } from "./default-executor.js";
import { AgentTaskContainers } from "./default-executor-containers.js";
import { parseDefaultExecutorFlags } from "./default-executor-flags.js";
import { taskSandboxesIn } from "./default-executor-sandbox.js";
import { readExecutorEnvironment, restoreTaskVariables } from "./executor-environment.js";
import { ExecutorClient } from "./library.js";
import { stderrLogger } from "./stderr-logger.js";
import { childProcessLauncher } from "./task-process.js";

function currentUser(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

/** Runs the default executor; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  // Tasks run as child processes (MESOS_DEFAULT_EXECUTOR_CHILD_PROCESSES=1) inherit this
  // environment: give back the Node start-up variables the agent kept from this process.
  restoreTaskVariables(process.env);
  const settings = parseDefaultExecutorFlags(argv);
  if ("exit" in settings) {
    (settings.exit === 0 ? process.stdout : process.stderr).write(settings.output);
    return settings.exit;
  }
  const logger = stderrLogger(systemClock, "default_executor.ts", {
    verbosity: Number(process.env.GLOG_v ?? 0),
    minimum: settings.loggingLevel,
    quiet: settings.quiet,
  });
  for (const warning of settings.warnings) logger.warn(warning);

  const environment = readExecutorEnvironment(process.env);
  if ("error" in environment) {
    logger.error(`Failed to start the executor: ${environment.error}`);
    return 1;
  }
  // Mesos' default executor needs the sandbox (task sandboxes go under it).
  const sandbox = environment.sandbox;
  if (sandbox === undefined || sandbox === "") {
    logger.error(
      "Failed to start the executor: expecting 'MESOS_SANDBOX' to be set in the environment",
    );
    return 1;
  }
  // Tasks must not see the executor's credentials.
  delete process.env.MESOS_EXECUTOR_AUTHENTICATION_TOKEN;

  // The tasks share the executor's network: its address towards the agent.
  const libprocessIp = process.env.LIBPROCESS_IP;
  const agentHost = environment.agent.host;
  // A container with a network of its own (network/cni) gets LIBPROCESS_IP=0.0.0.0: its
  // address is what its hostname resolves to, as libprocess finds it for Mesos' executor.
  const containerIp =
    libprocessIp !== undefined && isAnyIp(libprocessIp)
      ? await lookupHostIp()
      : libprocessIp !== undefined && isIP(libprocessIp) !== 0
        ? libprocessIp
        : agentHost !== undefined && isIP(agentHost) !== 0
          ? agentHost
          : undefined;
  const user = currentUser();

  let forceExit = (): void => process.exit(1);
  const client = new ExecutorClient(environment, {
    logger,
    onShutdownDeadline: () => forceExit(),
  });

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
    const executor = new DefaultExecutor({
      channel: {
        update: (status) => client.update(status),
        canDeliver: () => client.state !== "shutdown" && client.state !== "stopped",
      },
      launcher: childProcessLauncher,
      sandboxes: taskSandboxesIn(sandbox),
      clock: systemClock,
      logger,
      executorId: environment.executorId,
      baseEnv: process.env,
      shutdownGracePeriodMs: environment.shutdownGracePeriodMs,
      ...(containerIp !== undefined ? { containerIp } : {}),
      ...(user !== undefined ? { user } : {}),
      // Tasks run in nested containers of the agent (Mesos' way); MESOS_DEFAULT_EXECUTOR_CHILD_PROCESSES=1
      // keeps them as child processes of the executor.
      ...(process.env.MESOS_DEFAULT_EXECUTOR_CHILD_PROCESSES === "1"
        ? {}
        : {
            containers: new AgentTaskContainers(environment.agent, environment.authenticationToken),
          }),
      exit,
    });
    forceExit = () => executor.forceExit();
    // A signal to the executor (e.g. the agent stopping it) kills the tasks
    // within the shutdown grace period instead of orphaning them.
    const onSignal = (signal: NodeJS.Signals): void => {
      logger.info(`Received ${signal}`);
      executor.shutdown();
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    client.start(executor.handlers());
  });
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(new URL(import.meta.url));
  } catch {
    return false;
  }
}

// Run directly (`node dist/src/executor/default-executor-main.js`) as well as through bin/.
if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`mesos-default-executor: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
