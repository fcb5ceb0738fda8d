/**
 * `mesos-agent` (also run as `mesos-slave`): loads the flags (command line,
 * then `MESOS_*`), answers `--help` / `--version`, sets up logging, then
 * starts the agent.
 */
import { basename } from "node:path";
import { parseDaemonCommandLine } from "../common/flags/daemon-cli.js";
import { settleListenIp } from "../common/flags/listen-ip.js";
import { createDaemonLogger } from "../common/observability/glog.js";
import { agentFlagSchema } from "./flags.js";
import { runAgent } from "./run-agent.js";

/** `mesos-slave` when started under its old name, so usage shows what the user typed. */
function programName(): string {
  const invoked = process.argv[1] === undefined ? "" : basename(process.argv[1]);
  return invoked === "mesos-slave" ? "mesos-slave" : "mesos-agent";
}

export async function main(argv: string[]): Promise<number> {
  const program = programName();
  const parsed = parseDaemonCommandLine(
    agentFlagSchema,
    program,
    argv,
    { stdout: process.stdout, stderr: process.stderr, env: process.env },
    "mesos-agent",
  );
  if ("exit" in parsed) return parsed.exit;
  const logger = createDaemonLogger(program, parsed.flags.values);
  for (const warning of parsed.flags.warnings) logger.warn(warning);
  // Before anything binds: --ip_discovery_command's answer (or --ip) into LIBPROCESS_IP.
  const ipError = settleListenIp(parsed.flags.values, process.env);
  if (ipError !== undefined) {
    logger.error(ipError);
    process.stderr.write(`${program}: ${ipError}\n`);
    logger.close();
    return 1;
  }
  return runAgent(parsed.flags, logger, program);
}
