/**
 * The command-line flags of `mesos-executor`, the same names Mesos' command
 * executor takes. Never read from the environment (Mesos does not either).
 * Loaded only when the command line is not empty: the flags machinery costs
 * more start-up time than the rest of the executor.
 */
import { defineFlags, flag, loadFlags, loggingFlags, usage } from "../common/flags/index.js";
import type { CommandInfo, Environment } from "./protocol.js";

const containerFlag = (help: string) => flag.string({ help, notYet: true });

/** The flag table (also the source of `--help`). */
export const commandExecutorFlags = defineFlags({
  ...loggingFlags,
  // The executor logs to stderr only (the sandbox's stderr file).
  log_dir: flag.string({ help: loggingFlags.log_dir.help, notYet: true }),
  external_log_file: flag.string({ help: loggingFlags.external_log_file.help, notYet: true }),
  launcher_dir: flag.string({
    help: "Directory of the Mesos helper programs. Accepted for compatibility; not used.",
  }),
  task_command: flag.json({
    help: "A JSON CommandInfo to run instead of the task's own command (set by the agent).",
  }),
  task_environment: flag.json({
    help: "A JSON Environment of extra variables for the task (set by the agent); SECRET entries are skipped.",
  }),
  rootfs: containerFlag("Root filesystem of the task's container image."),
  sandbox_directory: containerFlag(
    "Where the sandbox is mounted inside the task's root filesystem.",
  ),
  working_directory: containerFlag("Working directory of the task inside its root filesystem."),
  user: containerFlag("User the task runs as."),
  effective_capabilities: containerFlag(
    "Linux capabilities granted to the task (JSON CapabilityInfo).",
  ),
  bounding_capabilities: containerFlag(
    "Bounding set of Linux capabilities of the task (JSON CapabilityInfo).",
  ),
  task_launch_info: containerFlag(
    "JSON ContainerLaunchInfo for the task (mounts, namespaces, ...).",
  ),
  tty_slave_path: containerFlag("The TTY to attach to the task."),
  task_supplementary_groups: containerFlag("Comma-separated supplementary group ids of the task."),
});

const UNSUPPORTED = [
  "rootfs",
  "sandbox_directory",
  "working_directory",
  "user",
  "effective_capabilities",
  "bounding_capabilities",
  "task_launch_info",
  "tty_slave_path",
  "task_supplementary_groups",
] as const;

/** What the flags change in the executor's behaviour. */
export interface CommandExecutorSettings {
  taskCommand?: CommandInfo;
  taskEnvironment?: Environment;
  /** Set when a flag asks for something not supported yet: the task is failed with it. */
  launchRefusal?: string;
  /** `--quiet`: no log lines on stderr. */
  quiet?: boolean;
  /** `--logging_level`: the lowest level logged. */
  loggingLevel?: "INFO" | "WARNING" | "ERROR";
  warnings: readonly string[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Parses the command line. Returns the settings, or `{ exit, output }`
 * when the process should print `output` (help or a one-line error) and
 * exit with `exit`.
 */
export function parseCommandExecutorFlags(
  argv: readonly string[],
): CommandExecutorSettings | { exit: number; output: string } {
  const loaded = loadFlags(commandExecutorFlags, { argv });
  if (!loaded.ok) {
    return { exit: 1, output: `${loaded.error}\nSee 'mesos-executor --help'.\n` };
  }
  const flags = loaded.flags.values;
  if (flags.help) return { exit: 0, output: `${usage(commandExecutorFlags, "mesos-executor")}\n` };
  if (flags.task_command !== undefined && !isObject(flags.task_command)) {
    return {
      exit: 1,
      output: "Failed to load flag 'task_command': expected a JSON CommandInfo object\n",
    };
  }
  if (flags.task_environment !== undefined && !isObject(flags.task_environment)) {
    return {
      exit: 1,
      output: "Failed to load flag 'task_environment': expected a JSON Environment object\n",
    };
  }
  const settings: CommandExecutorSettings = {
    warnings: loaded.flags.warnings,
    quiet: flags.quiet,
    loggingLevel: flags.logging_level as "INFO" | "WARNING" | "ERROR",
  };
  if (flags.task_command !== undefined) {
    settings.taskCommand = flags.task_command as unknown as CommandInfo;
  }
  if (flags.task_environment !== undefined) {
    settings.taskEnvironment = flags.task_environment as unknown as Environment;
  }
  const given = UNSUPPORTED.filter((name) => flags[name] !== undefined);
  if (given.length > 0) {
    settings.launchRefusal = `The command executor does not support ${given.map((n) => `--${n}`).join(", ")} yet`;
  }
  return settings;
}
