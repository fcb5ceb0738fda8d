/**
 * `mesos-local`: a master and `--num_slaves` agents in one process, for
 * trying mesos-ts out. Prints where the master is; runs until Ctrl-C.
 */

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { agentFlagSchema } from "../agent/flags.js";
import { parseDaemonCommandLine, splitCommandLine, wantsHelp } from "../common/flags/index.js";
import { settleListenIp } from "../common/flags/listen-ip.js";
import { createDaemonLogger } from "../common/observability/glog.js";
import { SystemClock } from "../common/time/clock.js";
import { systemRandom } from "../common/time/random.js";
import { masterFlagSchema } from "../master/flags.js";
import { LOCAL_ONLY, localFlagSchema } from "./local/flags.js";
import { startLocalCluster } from "./local/local-cluster.js";

const PROGRAM = "mesos-local";

export async function main(argv: string[]): Promise<number> {
  // Master and agent flags are welcome on the command line: check that every
  // name is known to one of the three, then load ours ignoring the others.
  const known = (name: string) =>
    name in localFlagSchema.flags ||
    name in masterFlagSchema.flags ||
    name in agentFlagSchema.flags;
  const passThrough: string[] = [];
  for (const raw of splitCommandLine(argv).flags) {
    const name = raw.name.startsWith("no-") && !known(raw.name) ? raw.name.slice(3) : raw.name;
    if (!known(name)) {
      process.stderr.write(
        `Failed to load unknown flag '${name}'\n\nSee \`${PROGRAM} --help\` for a list of supported flags.\n`,
      );
      return 1;
    }
    if (!LOCAL_ONLY.has(name)) {
      passThrough.push(raw.value === undefined ? `--${raw.name}` : `--${raw.name}=${raw.value}`);
    }
  }
  const localArgv = argv.filter((a) => {
    const name = splitCommandLine([a]).flags[0]?.name;
    return (
      name === undefined ||
      name in localFlagSchema.flags ||
      (name.startsWith("no-") && name.slice(3) in localFlagSchema.flags)
    );
  });
  const parsed = parseDaemonCommandLine(localFlagSchema, PROGRAM, localArgv, {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  });
  if ("exit" in parsed) {
    if (wantsHelp(argv)) {
      process.stdout.write(
        "\nAny mesos-master or mesos-agent flag may be given as well (see their --help); " +
          "it goes to the master and/or every agent.\n",
      );
    }
    return parsed.exit;
  }
  const values = parsed.flags.values;
  const logger = createDaemonLogger(PROGRAM, values);
  for (const warning of parsed.flags.warnings) logger.warn(warning);

  if (values.ip !== undefined && values.ip_discovery_command !== undefined) {
    process.stderr.write(
      `${PROGRAM}: Only one of --ip or --ip_discovery_command should be specified\n`,
    );
    return 1;
  }
  // The cluster's one address, settled here so master and agents agree on it.
  const ipError = settleListenIp(values, process.env);
  if (ipError !== undefined) {
    logger.error(ipError);
    process.stderr.write(`${PROGRAM}: ${ipError}\n`);
    return 1;
  }
  const ip =
    values.ip ??
    (values.ip_discovery_command === undefined ? undefined : process.env.LIBPROCESS_IP);
  const createdWorkDir = values.work_dir === undefined;
  const workDir = values.work_dir ?? mkdtempSync(join(tmpdir(), "mesos-local-"));
  let cluster: Awaited<ReturnType<typeof startLocalCluster>>;
  try {
    cluster = await startLocalCluster({
      workDir,
      numAgents: values.num_slaves,
      ...(ip === undefined ? {} : { ip }),
      port: values.port,
      passThrough,
      env: process.env,
      logger,
      clock: new SystemClock(),
      random: systemRandom,
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    logger.error(message);
    process.stderr.write(`${PROGRAM}: ${message}\n`);
    logger.close();
    return 1;
  }

  const address = cluster.masterAddress;
  const agents = cluster.agents.map((_, i) => `slave(${i + 1})@${address}`).join(", ");
  process.stdout.write(
    [
      `Master:  master@${address}   (frameworks and tools: --master=${address})`,
      `Agents:  ${agents}`,
      `Web UI:  http://${address}   (the web UI comes in a later release; ` +
        `http://${address}/master/state answers now)`,
      `Work dir: ${workDir}${createdWorkDir ? " (temporary; kept after exit)" : ""}`,
      `Try:     mesos-execute --master=${address} --name=hello --command='echo hello'`,
      "",
    ].join("\n"),
  );

  const outcome = await new Promise<{ kind: string; message: string }>((resolve) => {
    process.once("SIGTERM", () => resolve({ kind: "signal", message: "SIGTERM" }));
    process.once("SIGINT", () => resolve({ kind: "signal", message: "SIGINT" }));
    void cluster.ended.then(resolve);
  });
  logger.info(
    outcome.kind === "signal"
      ? `Received ${outcome.message}; shutting down`
      : `Cluster terminating: ${outcome.message}`,
  );
  await cluster.stop();
  logger.close();
  return outcome.kind === "fatal" ? 1 : 0;
}
