/**
 * `mesos-master`: loads the flags (command line, then `MESOS_*`), answers
 * `--help` / `--version`, sets up logging, then starts the master.
 */
import { parseDaemonCommandLine } from "../common/flags/daemon-cli.js";
import type { LoadedFlags } from "../common/flags/load.js";
import { createDaemonLogger, type GlogLogger } from "../common/observability/glog.js";
import { masterFlagSchema } from "./flags.js";

const PROGRAM = "mesos-master";

export async function main(argv: string[]): Promise<number> {
  const parsed = parseDaemonCommandLine(masterFlagSchema, PROGRAM, argv, {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  });
  if ("exit" in parsed) return parsed.exit;
  const logger = createDaemonLogger(PROGRAM, parsed.flags.values);
  for (const warning of parsed.flags.warnings) logger.warn(warning);
  return runMaster(parsed.flags, logger);
}

/**
 * Runs the master with loaded flags until it stops; returns the exit code.
 * The master itself lands with the cluster work, which replaces this body.
 */
async function runMaster(
  flags: LoadedFlags<typeof masterFlagSchema.flags>,
  logger: GlogLogger,
): Promise<number> {
  logger.info(`Flags at startup: ${flags.toCommandLine()}`);
  process.stderr.write(`${PROGRAM}: the master is not available yet in this build\n`);
  logger.close();
  return 1;
}
