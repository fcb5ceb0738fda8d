/**
 * `mesos-agent` after its flags are loaded: a process host on --ip/--port
 * (5051), the agent in it, until SIGTERM/SIGINT, a ShutdownMessage from the
 * master (exit 0) or a fatal error (exit 1).
 */

import { reverse } from "node:dns/promises";
import { hostname as osHostname } from "node:os";
import type { LoadedFlags } from "../common/flags/load.js";
import { listedModules } from "../common/flags/modules.js";
import { systemErrorReason } from "../common/flags/system-error.js";
import { makeDirectories } from "../common/io/directories.js";
import type { GlogLogger } from "../common/observability/glog.js";
import { parseFirewallRules } from "../common/process/firewall.js";
import { resolveListenAddress } from "../common/process/listen-address.js";
import { ProcessHost } from "../common/process/process-host.js";
import { SystemClock } from "../common/time/clock.js";
import { systemRandom } from "../common/time/random.js";
import { type AgentHandle, startAgentInHost } from "./agent-runtime.js";
import { LOGROTATE_MODULE_NAME } from "./containerizer/logger/logrotate-settings.js";
import type { agentFlagSchema } from "./flags.js";
import { followMaster } from "./master-address.js";
import { FIXED_ESTIMATOR_MODULE, LOAD_QOS_MODULE } from "./oversubscription/modules.js";

/** The hostname to report: --hostname, else the advertised IP's name (or the IP itself). */
async function agentHostname(
  flag: string | undefined,
  lookup: boolean,
  ip: string,
): Promise<string> {
  if (flag !== undefined && flag !== "") return flag;
  if (!lookup) return ip;
  try {
    const names = await reverse(ip);
    if (names[0] !== undefined && names[0] !== "") return names[0];
  } catch {
    // fall through
  }
  return ip === "127.0.0.1" ? "localhost" : osHostname();
}

/** Runs the agent; resolves with the process exit code. */
export async function runAgent(
  flags: LoadedFlags<typeof agentFlagSchema.flags>,
  logger: GlogLogger,
  program = "mesos-agent",
): Promise<number> {
  const values = flags.values;
  const fail = (message: string): number => {
    logger.error(message);
    process.stderr.write(`${program}: ${message}\n`);
    logger.close();
    return 1;
  };
  logger.info(`Flags at startup: ${flags.toCommandLine()}`);
  // As Mesos' agent, the work directory is made first; failing that ends the start.
  try {
    makeDirectories(values.work_dir);
  } catch (error) {
    return fail(
      `Failed to create agent work directory '${values.work_dir}': ${systemErrorReason(error)}`,
    );
  }
  // Mesos would load (or fail on) every listed library; mesos-ts has a few modules built in.
  const builtIn = [LOGROTATE_MODULE_NAME, FIXED_ESTIMATOR_MODULE, LOAD_QOS_MODULE];
  for (const [library, module] of listedModules(values.modules, values.modules_dir)) {
    if (builtIn.includes(module)) continue;
    logger.warn(
      `Module '${module}' (library '${library}') is not loaded: mesos-ts loads no C++ modules ` +
        `(${builtIn.join(", ")} are built in)`,
    );
  }
  if (values.master === undefined) {
    return fail("--master_detector is not supported yet; give the master with --master=host:port");
  }
  const clock = new SystemClock();
  const followed = await followMaster(values.master.value, {
    logger,
    clock,
    sessionTimeoutMs: values.zk_session_timeout.toMs(),
  });
  if (!followed.ok) return fail(followed.error);
  const master = followed.value;
  const stopAndFail = (message: string): number => {
    master.stop();
    return fail(message);
  };
  // Mesos' SIGUSR1: unregister and shut every executor down, once started.
  // Listening from the start also keeps Node from opening its inspector.
  const usr1: { received: boolean; act?: () => void } = { received: false };
  process.once("SIGUSR1", () => {
    usr1.received = true;
    usr1.act?.();
  });
  const listen = resolveListenAddress({
    ip: values.ip,
    port: values.port,
    advertiseIp: values.advertise_ip,
    advertisePort: values.advertise_port,
    env: process.env,
  });
  if (!listen.ok) return stopAndFail(listen.error.message);
  const host = new ProcessHost({ logger, clock, listen: listen.value, delegate: "slave(1)" });
  if (values.firewall_rules !== undefined) {
    const rules = parseFirewallRules(values.firewall_rules);
    if (!rules.ok) return stopAndFail(rules.error);
    host.setFirewall(rules.value);
  }
  try {
    await host.start();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return stopAndFail(
      `Failed to listen on ${listen.value.bindIp}:${listen.value.bindPort}: ${reason}`,
    );
  }
  // The latest leader (ZooKeeper): recovery may outlast a failover. As in
  // Mesos, the agent follows leaders only once recovery is over, and then
  // starts with the current one, not the one that led when it started.
  let leader = master.pid;
  let handle: AgentHandle | undefined;
  master.onNewLeader((pid) => {
    leader = pid;
    const agent = handle?.agent;
    if (agent !== undefined && !agent.recovering && !agent.isCleaningUp) {
      agent.link.detected(pid);
    }
  });
  master.onLost(() => {
    leader = undefined;
    const agent = handle?.agent;
    if (agent !== undefined && !agent.recovering && !agent.isCleaningUp) {
      // Recovery is over: without a master the agent is not "recovering" again.
      agent.recoveredWithoutMaster();
      agent.link.lost();
    }
  });
  try {
    handle = await startAgentInHost({
      host,
      flags: values,
      flagStrings: flags.toStrings(),
      get master() {
        return leader;
      },
      hostname: await agentHostname(values.hostname, values.hostname_lookup, host.ip),
      logger,
      clock,
      random: systemRandom,
    });
  } catch (error) {
    await host.stop();
    return stopAndFail(error instanceof Error ? error.message : String(error));
  }

  const started = handle;
  // A leader found after recovery ended without one but before the handle was set.
  const agent = started.agent;
  if (leader !== undefined && agent.link.master === undefined && !agent.recovering) {
    if (!agent.isTerminating && !agent.isCleaningUp) agent.link.detected(leader);
  }
  const outcome = await new Promise<{ kind: string; message: string }>((resolve) => {
    process.once("SIGTERM", () => resolve({ kind: "signal", message: "SIGTERM" }));
    process.once("SIGINT", () => resolve({ kind: "signal", message: "SIGINT" }));
    const unregister = (): void => {
      agent.unregisterAndShutDown("Received SIGUSR1 signal");
      resolve({ kind: "unregistered", message: "SIGUSR1" });
    };
    if (usr1.received) unregister();
    else usr1.act = unregister;
    void started.ended.then(resolve);
  });
  if (outcome.kind === "signal") logger.info(`Received ${outcome.message}; shutting down`);
  else if (outcome.kind !== "unregistered") logger.info(`Agent terminating: ${outcome.message}`);
  const grace = values.executor_shutdown_grace_period.toMs();
  await started.stop(outcome.kind === "fatal" ? 0 : grace + 5000);
  master.stop();
  await host.stop();
  logger.close();
  return outcome.kind === "fatal" ? 1 : 0;
}
