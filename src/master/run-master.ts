/**
 * `mesos-master` after its flags are loaded: a process host on --ip/--port,
 * the master in it, until SIGTERM, SIGINT or SIGUSR1.
 */
import type { LoadedFlags } from "../common/flags/load.js";
import { systemErrorReason } from "../common/flags/system-error.js";
import { makeDirectories } from "../common/io/directories.js";
import type { GlogLogger } from "../common/observability/glog.js";
import { resolveListenAddress } from "../common/process/listen-address.js";
import { ProcessHost } from "../common/process/process-host.js";
import { SystemClock } from "../common/time/clock.js";
import { parseZkUrlOrFile, type ZkUrl } from "../common/zookeeper/url.js";
import type { masterFlagSchema } from "./flags.js";
import { loadMasterSecurity } from "./http/security.js";
import { startElectedMaster } from "./leadership/elected-master.js";
import { startMaster } from "./master-runtime.js";
import { masterSettings } from "./settings.js";

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
  // Mesos' master has no SIGUSR1 handler, so the signal ends it; here it
  // stops the master as SIGTERM does. Listening from the start also keeps
  // Node from opening its inspector on that signal.
  const usr1: { received: boolean; act?: () => void } = { received: false };
  process.once("SIGUSR1", () => {
    usr1.received = true;
    usr1.act?.();
  });
  // What Mesos checks at start-up (allocator, --roles, --weights, ...) fails
  // before anything listens, for a standby (--zk) master too.
  const settings = masterSettings(values);
  if (!settings.ok) return fail(settings.error);
  const clock = new SystemClock();
  // So does a bad file of a security flag (--credentials, --acls,
  // --rate_limits): Mesos' master reads them as it starts, standby or not.
  try {
    const security = loadMasterSecurity(flags, clock);
    if (security.rateLimiter !== undefined) logger.info("Framework rate limiting enabled");
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  }
  // Mesos' master makes --work_dir for its replicated log before it starts.
  if (values.registry !== "in_memory" && values.work_dir !== undefined) {
    try {
      makeDirectories(values.work_dir);
    } catch (error) {
      return fail(
        `Failed to create work directory '${values.work_dir}': ${systemErrorReason(error)}`,
      );
    }
  }
  let zk: ZkUrl | undefined;
  if (values.zk !== undefined) {
    const parsed = parseZkUrlOrFile(values.zk.value);
    if (!parsed.ok) return fail(`Failed to parse --zk: ${parsed.error}`);
    zk = parsed.value;
  }
  const listen = resolveListenAddress({
    ip: values.ip,
    port: values.port,
    advertiseIp: values.advertise_ip,
    advertisePort: values.advertise_port,
    env: process.env,
  });
  if (!listen.ok) return fail(listen.error.message);
  const host = new ProcessHost({ logger, clock, listen: listen.value, delegate: "master" });
  try {
    await host.start();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return fail(`Failed to listen on ${listen.value.bindIp}:${listen.value.bindPort}: ${reason}`);
  }
  // Losing the leadership, or a registry write refused, ends the process at
  // once (Mesos' master "commits suicide"): its state may be stale.
  const fatal = (message: string): void => {
    logger.error(message);
    process.stderr.write(`${PROGRAM}: ${message}\n`);
    logger.close();
    process.exit(1);
  };
  let runtime: { stop(): void | Promise<void> };
  try {
    runtime =
      zk === undefined
        ? await startMaster({ host, flags, logger, clock })
        : await startElectedMaster({ host, flags, url: zk, logger, clock, fatal });
  } catch (error) {
    await host.stop();
    return fail(error instanceof Error ? error.message : String(error));
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
    usr1.act = () => resolve("SIGUSR1");
    if (usr1.received) usr1.act();
  });
  logger.info(`Received ${signal}; shutting down`);
  await runtime.stop();
  await host.stop();
  logger.close();
  return 0;
}
