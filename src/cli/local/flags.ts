/**
 * The flags of `mesos-local` itself, as Mesos' (`--work_dir`, `--num_slaves`,
 * `--ip`, `--port`) plus the logging flags. Any master or agent flag may be
 * given too (on the command line or as `MESOS_*`): it goes to the master
 * and/or to every agent, whichever knows it.
 */
import { defineFlags } from "../../common/flags/load.js";
import { loggingFlags } from "../../common/flags/logging-flags.js";
import { flag } from "../../common/flags/spec.js";

export const localFlagSchema = defineFlags({
  ...loggingFlags,
  work_dir: flag.string({
    help:
      "Directory under which the master (`master/`) and each agent (`agents/<n>/work`, " +
      "`agents/<n>/run`, `agents/<n>/fetch`) keep their state and sandboxes. Unset: a new " +
      "temporary directory, printed at start and kept afterwards.",
  }),
  num_slaves: flag.int({
    help: "Number of agents to run in the cluster.",
    default: 1,
    validate: (n) => (n < 1 ? "--num_slaves must be at least 1" : undefined),
  }),
  port: flag.port({ help: "Port the cluster (master and agents) listens on.", default: 5050 }),
  ip: flag.string({
    help: "IP address to listen on. Unset: every interface, advertising the host's address.",
  }),
  ip_discovery_command: flag.string({
    help: "Program whose output is the IP address to listen on. Cannot be combined with --ip.",
    validate: (v) => (v.trim() === "" ? "--ip_discovery_command must not be empty" : undefined),
  }),
  version: flag.bool({ help: "Print the version and exit.", default: false }),
});

/** Flags of mesos-local that are its own: never passed on to the master or the agents. */
export const LOCAL_ONLY = new Set([
  "work_dir",
  "num_slaves",
  "port",
  "ip",
  "ip_discovery_command",
  "help",
  "version",
]);
