/**
 * The command-line flags of `mesos-default-executor`: Mesos' set
 * (`--launcher_dir` and the logging flags). The agent passes
 * `--launcher_dir`; nothing here is read from the environment.
 */
import { defineFlags, flag, loadFlags, loggingFlags, usage } from "../common/flags/index.js";

/** The flag table (also the source of `--help`). */
export const defaultExecutorFlags = defineFlags({
  ...loggingFlags,
  // The executor logs to stderr only (the sandbox's stderr file).
  log_dir: flag.string({ help: loggingFlags.log_dir.help, notYet: true }),
  external_log_file: flag.string({ help: loggingFlags.external_log_file.help, notYet: true }),
  launcher_dir: flag.string({
    help: "Directory of the Mesos helper programs. Accepted for compatibility; not used yet (checks will use it).",
  }),
});

/** What the flags change in the executor's behaviour. */
export interface DefaultExecutorSettings {
  quiet: boolean;
  loggingLevel: "INFO" | "WARNING" | "ERROR";
  warnings: readonly string[];
}

/**
 * Parses the command line. Returns the settings, or `{ exit, output }`
 * when the process should print `output` (help or a one-line error) and
 * exit with `exit`.
 */
export function parseDefaultExecutorFlags(
  argv: readonly string[],
): DefaultExecutorSettings | { exit: number; output: string } {
  const loaded = loadFlags(defaultExecutorFlags, { argv });
  if (!loaded.ok) {
    return { exit: 1, output: `${loaded.error}\nSee 'mesos-default-executor --help'.\n` };
  }
  const flags = loaded.flags.values;
  if (flags.help) {
    return { exit: 0, output: `${usage(defaultExecutorFlags, "mesos-default-executor")}\n` };
  }
  return {
    quiet: flags.quiet,
    loggingLevel: flags.logging_level as "INFO" | "WARNING" | "ERROR",
    warnings: loaded.flags.warnings,
  };
}
