/**
 * A whole cluster in one process: one process host (one listener) runs the
 * master (`master`) and `numAgents` agents (`slave(1)`, `slave(2)`, ...),
 * as Mesos' mesos-local does. Executors are still separate processes. Each
 * agent gets its own work, runtime and fetcher directories under `workDir`.
 */
import { join } from "node:path";
import { type AgentHandle, startAgentInHost } from "../../agent/agent-runtime.js";
import { loadAgentFlags } from "../../agent/flags.js";
import type { LoadedFlags, LoadResult } from "../../common/flags/load.js";
import type { FlagSpecs } from "../../common/flags/spec.js";
import { systemErrorReason } from "../../common/flags/system-error.js";
import { makeDirectories } from "../../common/io/directories.js";
import type { Logger } from "../../common/observability/logger.js";
import { resolveListenAddress } from "../../common/process/listen-address.js";
import { ProcessHost } from "../../common/process/process-host.js";
import type { Clock } from "../../common/time/clock.js";
import type { RandomSource } from "../../common/time/random.js";
import { loadMasterFlags } from "../../master/flags.js";
import { type MasterRuntime, startMaster } from "../../master/master-runtime.js";

export interface LocalClusterOptions {
  readonly workDir: string;
  readonly numAgents: number;
  /** `--ip` (unset: every interface). */
  readonly ip?: string;
  readonly port: number;
  /** Master and agent flags from the command line (`--name=value`), passed on to whoever knows them. */
  readonly passThrough: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: RandomSource;
}

/** A running local cluster. */
export interface LocalCluster {
  readonly host: ProcessHost;
  readonly master: MasterRuntime;
  readonly agents: readonly AgentHandle[];
  /** `ip:port` frameworks and agents use for `--master`. */
  readonly masterAddress: string;
  /** Resolves when an agent must stop (fatal error or asked by the master). */
  readonly ended: Promise<{ kind: string; message: string }>;
  /** Stops the agents (executors get their grace period), the master and the listener. */
  stop(): Promise<void>;
}

/** Starts the cluster; throws an Error with a one-line message when something cannot start. */
export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const { logger, clock } = options;
  const listen = resolveListenAddress({
    ...(options.ip === undefined ? {} : { ip: options.ip }),
    port: options.port,
    env: {},
  });
  if (!listen.ok) throw new Error(listen.error.message);

  // Flags are checked before anything listens.
  const masterFlags = unwrap(
    "master",
    loadMasterFlags({
      argv: [...options.passThrough, `--work_dir=${join(options.workDir, "master")}`],
      env: options.env,
      allowUnknown: true,
    }),
  );
  // As Mesos' mesos-local, the master's work directory is made first.
  const masterDir = masterFlags.values.work_dir ?? join(options.workDir, "master");
  makeDirectoryOrThrow(masterDir, "Failed to create the work_dir for master");
  const host = new ProcessHost({ logger, clock, listen: listen.value, delegate: "master" });
  try {
    await host.start();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `Failed to listen on ${listen.value.bindIp}:${listen.value.bindPort}: ${reason}`,
    );
  }
  const stopAll: (() => Promise<void>)[] = [() => host.stop()];
  let stopped: Promise<void> | undefined;
  const cleanUp = (): Promise<void> => {
    stopped ??= (async () => {
      // Agents first (their executors shut down), then the master, then the listener.
      for (const stop of [...stopAll].reverse()) await stop().catch(() => {});
    })();
    return stopped;
  };
  try {
    const agentFlags = [];
    for (let i = 0; i < options.numAgents; i++) {
      const base = join(options.workDir, "agents", String(i));
      const dirs = { work: join(base, "work"), run: join(base, "run"), fetch: join(base, "fetch") };
      for (const d of Object.values(dirs)) makeDirectoryOrThrow(d, "Failed to create directory");
      agentFlags.push(
        unwrap(
          "agent",
          loadAgentFlags({
            argv: [
              ...options.passThrough,
              `--master=${host.ip}:${host.port}`,
              `--work_dir=${dirs.work}`,
              `--runtime_dir=${dirs.run}`,
              `--fetcher_cache_dir=${dirs.fetch}`,
            ],
            env: options.env,
            allowUnknown: true,
          }),
        ),
      );
    }
    const master = await startMaster({
      host,
      flags: masterFlags,
      logger,
      clock,
      random: options.random,
    });
    stopAll.push(async () => master.stop());
    const masterPid = `master@${host.ip}:${host.port}`;
    const agents: AgentHandle[] = [];
    for (const [i, flags] of agentFlags.entries()) {
      const handle = await startAgentInHost({
        host,
        processId: `slave(${i + 1})`,
        flags: flags.values,
        flagStrings: flags.toStrings(),
        master: masterPid,
        hostname: flags.values.hostname ?? (host.ip.startsWith("127.") ? "localhost" : host.ip),
        logger,
        clock,
        random: options.random,
        local: true,
      });
      agents.push(handle);
      const grace = flags.values.executor_shutdown_grace_period.toMs();
      stopAll.push(() => handle.stop(grace + 5000));
    }
    return {
      host,
      master,
      agents,
      masterAddress: `${host.ip}:${host.port}`,
      ended: Promise.race(agents.map((a) => a.ended)),
      stop: cleanUp,
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

/** Makes `dir` (and its parents) or throws `<what> '<dir>': <reason>`. */
function makeDirectoryOrThrow(dir: string, what: string): void {
  try {
    makeDirectories(dir);
  } catch (error) {
    throw new Error(`${what} '${dir}': ${systemErrorReason(error)}`);
  }
}

function unwrap<S extends FlagSpecs>(who: string, result: LoadResult<S>): LoadedFlags<S> {
  if (!result.ok) throw new Error(`Bad ${who} flags: ${result.error}`);
  return result.flags;
}
