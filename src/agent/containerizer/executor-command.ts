/**
 * The program and argv an executor is started with, from its
 * `ExecutorInfo.command` as the Mesos launcher reads it: `shell` (the
 * default) runs `/bin/sh -c <value>`; otherwise `value` is the program and
 * `arguments` its argv (argv[0] included).
 *
 * Our own executors get a shortcut: when the command names mesos-ts'
 * `bin/mesos-executor` or `bin/mesos-default-executor`, the agent runs the
 * compiled program with its own Node (`process.execPath`) directly,
 * skipping the `#!/usr/bin/env node` launcher script (a PATH lookup, an
 * extra module and possibly another Node), without V8 flags (they make Node
 * drop its built-in code cache: +15-20 ms CPU per start) and without the
 * `--launcher_dir` flag neither needs (loading the flags module costs
 * ~15 ms). The command executor runs from its single-file bundle, written
 * by the build (`node dist/src/executor/launch-command.js`) and refreshed
 * here when stale. See docs/architecture/command-executor.md.
 */
import { realpathSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { binDir } from "../../common/flags/install-paths.js";
import { read as readTlsSetting, tlsEnabled } from "../../common/process/tls-client.js";
import type { CommandInfo } from "../../common/protocol/generated/mesos-v1.js";
import {
  NODE_STARTUP_VARIABLES,
  TASK_VARIABLE_PREFIX,
} from "../../executor/executor-environment.js";
import {
  ensureCommandExecutorBundle,
  ensureDefaultExecutorBundle,
  ensureDockerExecutorBundle,
} from "../../executor/launch-command.js";
import { MESOS_DEFAULT_EXECUTOR, MESOS_EXECUTOR } from "../executor-info.js";

/** What to exec. */
export interface ExecutorCommand {
  file: string;
  /** argv, argv[0] included. */
  args: string[];
  /**
   * The program signals on its ready pipe once it has started (our command
   * executor does), so its launch can be paced (`--executor_launch_concurrency`).
   */
  signalsReady?: boolean;
  /**
   * The program is the launch shim: it runs as root with a fixed minimal
   * environment and gets the container's on this descriptor (shim-environment.ts).
   */
  environmentFd?: number;
}

/** The compiled command executor entry point (the module tree). */
export const COMMAND_EXECUTOR_ENTRY = fileURLToPath(
  new URL("../../executor/command-executor-main.js", import.meta.url),
);

/** The compiled default executor entry point. */
export const DEFAULT_EXECUTOR_ENTRY = fileURLToPath(
  new URL("../../executor/default-executor-main.js", import.meta.url),
);

function realpathOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** Our `bin/mesos-executor` and `bin/mesos-default-executor`, resolved (undefined if missing). */
const OUR_EXECUTOR = realpathOrUndefined(join(binDir(), MESOS_EXECUTOR));
const OUR_DEFAULT_EXECUTOR = realpathOrUndefined(join(binDir(), MESOS_DEFAULT_EXECUTOR));

/** Which command executor script the agent runs, and why (for one log line at start-up). */
export interface CommandExecutorScript {
  entry: string;
  bundled: boolean;
  /** Set when the bundle could not be used. */
  reason?: string;
}

let script: CommandExecutorScript | undefined;

/**
 * The command executor script: the bundle (checked against the compiled
 * modules and rewritten when stale, once per process), else the module
 * tree. Called by the agent at start-up so the check costs no launch.
 */
export function commandExecutorScript(): CommandExecutorScript {
  if (script !== undefined) return script;
  // The default executor's bundle is checked now too, not at its first launch.
  defaultExecutorScript();
  const result = ensureCommandExecutorBundle();
  script =
    result.error === undefined
      ? { entry: result.entry, bundled: true }
      : { entry: COMMAND_EXECUTOR_ENTRY, bundled: false, reason: result.error };
  return script;
}

let defaultScript: CommandExecutorScript | undefined;

/**
 * The default executor script: its bundle run through the code cache
 * (checked and rewritten when stale, once per process), else the module tree.
 */
export function defaultExecutorScript(): CommandExecutorScript {
  if (defaultScript !== undefined) return defaultScript;
  const result = ensureDefaultExecutorBundle();
  defaultScript =
    result.error === undefined
      ? { entry: result.entry, bundled: true }
      : { entry: DEFAULT_EXECUTOR_ENTRY, bundled: false, reason: result.error };
  return defaultScript;
}

let dockerScript: CommandExecutorScript | undefined;

/**
 * The docker executor script: its bundle run through the code cache
 * (checked once, at the first docker launch), else its compiled module.
 */
export function dockerExecutorScript(): CommandExecutorScript {
  if (dockerScript !== undefined) return dockerScript;
  const result = ensureDockerExecutorBundle();
  dockerScript =
    result.error === undefined
      ? { entry: result.entry, bundled: true }
      : { entry: result.entry, bundled: false, reason: result.error };
  return dockerScript;
}

/** The start-up log line about the command executor script. */
export function describeCommandExecutorScript(): string {
  const s = commandExecutorScript();
  return s.bundled
    ? `Command executors run from the bundle ${s.entry}`
    : `Command executors run from ${s.entry} (slower start): the bundle is unusable: ${s.reason}`;
}

/** Absolute, resolved path of `mesos-executor` in `launcherDir`, or undefined when missing. */
export function findCommandExecutor(launcherDir: string): string | undefined {
  return realpathOrUndefined(join(launcherDir, MESOS_EXECUTOR));
}

/** Absolute, resolved path of `mesos-default-executor` in `launcherDir`, or undefined when missing. */
export function findDefaultExecutor(launcherDir: string): string | undefined {
  return realpathOrUndefined(join(launcherDir, MESOS_DEFAULT_EXECUTOR));
}

function withoutLauncherDir(args: readonly string[]): string[] {
  return args.slice(1).filter((a) => !a.startsWith("--launcher_dir="));
}

/** The program and argv for an executor command. */
export function executorCommand(command: CommandInfo | undefined): ExecutorCommand {
  const value = command?.value ?? "";
  if (command?.shell ?? true) return { file: "/bin/sh", args: ["sh", "-c", value] };
  const args = command?.arguments ?? [];
  if (OUR_EXECUTOR !== undefined && value === OUR_EXECUTOR) {
    // Checked once (commandExecutorScript), not per launch.
    const { entry } = commandExecutorScript();
    return {
      file: process.execPath,
      args: [process.execPath, entry, ...withoutLauncherDir(args)],
      signalsReady: true,
    };
  }
  if (OUR_DEFAULT_EXECUTOR !== undefined && value === OUR_DEFAULT_EXECUTOR) {
    return {
      file: process.execPath,
      args: [process.execPath, defaultExecutorScript().entry, ...withoutLauncherDir(args)],
    };
  }
  return { file: value, args: args.length === 0 ? [value] : args };
}

/** Whether `command` starts one of our own (Node) executors, which the agent runs itself. */
export function isOurExecutor(command: CommandInfo | undefined): boolean {
  if (command === undefined || (command.shell ?? true)) return false;
  return (
    (OUR_EXECUTOR !== undefined && command.value === OUR_EXECUTOR) ||
    (OUR_DEFAULT_EXECUTOR !== undefined && command.value === OUR_DEFAULT_EXECUTOR)
  );
}

/** TLS is on without a CA file: the executor's own TLS checks may rely on Node's CA store. */
function tlsWithoutCaFile(env: Readonly<Record<string, string>>): boolean {
  return tlsEnabled(env) && readTlsSetting(env, "CA_FILE") === undefined;
}

/**
 * Keeps the variables that change how Node starts (`NODE_EXTRA_CA_CERTS`:
 * +~50 ms CPU per start; `NODE_OPTIONS`) out of our own executors' Node,
 * passing them as `MESOS_TS_TASK_<name>`: the command executor puts them
 * back into its task's environment (`restoreTaskVariables`). Other
 * executors' environments are left alone, and so is `NODE_EXTRA_CA_CERTS`
 * when TLS is on without `LIBPROCESS_SSL_CA_FILE` (the executor may need
 * those CAs itself). They only get there through
 * `--executor_environment_variables` or the task's own environment: the
 * agent never passes its own environment to executors.
 */
export function shieldNodeStartupVariables(
  command: CommandInfo | undefined,
  env: Record<string, string>,
): void {
  if (isOurExecutor(command)) moveNodeStartupVariables(env);
}

/** {@link shieldNodeStartupVariables} for an environment known to start one of ours. */
export function moveNodeStartupVariables(env: Record<string, string>): void {
  for (const name of NODE_STARTUP_VARIABLES) {
    const value = env[name];
    if (value === undefined) continue;
    if (name === "NODE_EXTRA_CA_CERTS" && tlsWithoutCaFile(env)) continue;
    delete env[name];
    env[TASK_VARIABLE_PREFIX + name] = value;
  }
}
