/**
 * `mesos-master`: loads the flags (command line, then `MESOS_*`), answers
 * `--help` / `--version`, sets up logging, then starts the master.
 */
import { parseDaemonCommandLine } from "../common/flags/daemon-cli.js";
import { settleListenIp } from "../common/flags/listen-ip.js";
import { createDaemonLogger } from "../common/observability/glog.js";
import { masterFlagSchema } from "./flags.js";
import { runMaster } from "./run-master.js";

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
  // Before anything binds: --ip_discovery_command's answer (or --ip) into LIBPROCESS_IP.
  const ipError = settleListenIp(parsed.flags.values, process.env);
  if (ipError !== undefined) {
    logger.error(ipError);
    process.stderr.write(`${PROGRAM}: ${ipError}\n`);
    logger.close();
    return 1;
  }
  return runMaster(parsed.flags, logger);
}
