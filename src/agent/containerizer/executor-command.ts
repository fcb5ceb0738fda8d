/**
 * The program and argv an executor is started with, from its
 * `ExecutorInfo.command` as the Mesos launcher reads it: `shell` (the
 * default) runs `/bin/sh -c <value>`; otherwise `value` is the program and
 * `arguments` its argv (argv[0] included).
 *
 * Our own command executor gets a shortcut: when the command names
 * mesos-ts' `bin/mesos-executor`, the agent runs its compiled entry point
 * with its own Node directly, skipping the launcher script, without V8
 * flags (they make Node drop its built-in code cache) and without the
 * `--launcher_dir` flag it does not need (loading the flags module costs
 * ~15 ms). See docs/architecture/command-executor.md.
 */
import { existsSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { binDir } from "../../common/flags/install-paths.js";
import type { CommandInfo } from "../../common/protocol/generated/mesos-v1.js";
import { MESOS_DEFAULT_EXECUTOR, MESOS_EXECUTOR } from "../executor-info.js";

/** What to exec. */
export interface ExecutorCommand {
  file: string;
  /** argv, argv[0] included. */
  args: string[];
}

/** The compiled command executor entry point. */
export const COMMAND_EXECUTOR_ENTRY = fileURLToPath(
  new URL("../../executor/command-executor-main.js", import.meta.url),
);

function realpathOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** Our `bin/mesos-executor`, resolved (undefined if missing). */
const OUR_EXECUTOR = realpathOrUndefined(join(binDir(), MESOS_EXECUTOR));

/** Absolute, resolved path of `mesos-executor` in `launcherDir`, or undefined when missing. */
export function findCommandExecutor(launcherDir: string): string | undefined {
  return realpathOrUndefined(join(launcherDir, MESOS_EXECUTOR));
}

/** Absolute, resolved path of `mesos-default-executor` in `launcherDir`, or undefined when missing. */
export function findDefaultExecutor(launcherDir: string): string | undefined {
  return realpathOrUndefined(join(launcherDir, MESOS_DEFAULT_EXECUTOR));
}

/** The program and argv for an executor command. */
export function executorCommand(command: CommandInfo | undefined): ExecutorCommand {
  const value = command?.value ?? "";
  if (command?.shell ?? true) return { file: "/bin/sh", args: ["sh", "-c", value] };
  const args = command?.arguments ?? [];
  if (OUR_EXECUTOR !== undefined && value === OUR_EXECUTOR && existsSync(COMMAND_EXECUTOR_ENTRY)) {
    return {
      file: process.execPath,
      args: [
        process.execPath,
        COMMAND_EXECUTOR_ENTRY,
        ...args.slice(1).filter((a) => !a.startsWith("--launcher_dir=")),
      ],
    };
  }
  return { file: value, args: args.length === 0 ? [value] : args };
}
