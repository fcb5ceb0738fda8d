/**
 * `mesos-master` after its flags are loaded: a process host on --ip/--port,
 * the master in it, until SIGTERM or SIGINT.
 */
import type { LoadedFlags } from "../common/flags/load.js";
import type { GlogLogger } from "../common/observability/glog.js";
import { resolveListenAddress } from "../common/process/listen-address.js";
import { ProcessHost } from "../common/process/process-host.js";
import { SystemClock } from "../common/time/clock.js";
import type { masterFlagSchema } from "./flags.js";
import { startMaster } from "./master-runtime.js";

const PROGRAM = "mesos-master";

/** Runs the master until a termination signal; returns the exit code. */
export async function runMaster(
  flags: LoadedFlags<typeof masterFlagSchema.flags>,
  logger: GlogLogger,
): Promise<number> {
  const values = flags.values;
  const fail = (message: string): number => {
    logger.error(message);
    process.stderr.write(`${PROGRAM}: ${message}\n`);
    logger.close();
    return 1;
  };
  logger.info(`Flags at startup: ${flags.toCommandLine()}`);
  if (values.zk !== undefined) {
    return fail("--zk is not supported yet (high availability issue); run a standalone master");
  }
  const listen = resolveListenAddress({
    ip: values.ip,
    port: values.port,
    advertiseIp: values.advertise_ip,
    advertisePort: values.advertise_port,
    env: process.env,
  });
  if (!listen.ok) return fail(listen.error.message);
  const clock = new SystemClock();
  const host = new ProcessHost({ logger, clock, listen: listen.value, delegate: "master" });
  try {
    await host.start();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return fail(`Failed to listen on ${listen.value.bindIp}:${listen.value.bindPort}: ${reason}`);
  }
  let runtime: Awaited<ReturnType<typeof startMaster>>;
  try {
    runtime = await startMaster({ host, flags, logger, clock });
  } catch (error) {
    await host.stop();
    return fail(error instanceof Error ? error.message : String(error));
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  logger.info(`Received ${signal}; shutting down`);
  runtime.stop();
  await host.stop();
  logger.close();
  return 0;
}
