/**
 * Logging flags taken by the master and the agent (Mesos' logging flags):
 * where log lines go and from which level on.
 */
import { flag } from "./spec.js";

/** The levels `--logging_level` accepts. */
export const LOGGING_LEVELS = ["INFO", "WARNING", "ERROR"] as const;

export const loggingFlags = {
  quiet: flag.bool({
    help: "Write nothing to stderr (log files under --log_dir are still written).",
    default: false,
  }),
  logging_level: flag.string({
    help:
      "Lowest level of messages to log: INFO, WARNING or ERROR. With --quiet this only " +
      "affects the files under --log_dir.",
    default: "INFO",
    validate: (v) =>
      (LOGGING_LEVELS as readonly string[]).includes(v)
        ? undefined
        : `'${v}' is not a valid logging level. Possible values for 'logging_level' flag are: 'INFO', 'WARNING', 'ERROR'.`,
  }),
  log_dir: flag.string({
    help:
      "Directory for log files (glog naming: <program>.<host>.<user>.log.<LEVEL>.<time>.<pid>, " +
      "with <program>.INFO/.WARNING/.ERROR links to the newest). Unset: no files. Does not " +
      "change what goes to stderr. The current file is shown in the web UI and under /files.",
  }),
  logbufsecs: flag.int({
    // Any int, as in Mesos: a negative value buffers nothing, like 0 (glog's reading).
    help: "Longest time, in seconds, that log lines may be held in memory before going to the files. 0 writes each line at once.",
    default: 0,
  }),
  initialize_driver_logging: flag.bool({
    // Mesos' daemons take this flag and never read it; only its scheduler and
    // executor libraries do, from their own environment.
    help:
      "Read by Mesos' scheduler and executor libraries (MESOS_INITIALIZE_DRIVER_LOGGING in " +
      "their environment: whether they set up logging); the master and the agent take it " +
      "and ignore it, as in Mesos. mesos-ts' libraries do not read it.",
    default: true,
  }),
  external_log_file: flag.string({
    help:
      "A log file written by something else (journald, syslog) to show in the web UI and " +
      "under /files instead of the --log_dir file. mesos-ts never writes to it.",
  }),
};
