/**
 * Starts a master inside a process host: registrar, allocator and its
 * driver, the master core and the `master` process. `mesos-master` uses it
 * with a host of its own; `mesos-local` uses it with the host it shares
 * with its agents.
 */
import { lookupService } from "node:dns/promises";
import { readFile } from "node:fs/promises";
import type { LoadedFlags } from "../common/flags/load.js";
import { MESOS_COMPATIBLE_VERSION } from "../common/flags/shared-flags.js";
import { MasterIds } from "../common/ids/index.js";
import type { Logger } from "../common/observability/logger.js";
import type { ProcessHost } from "../common/process/process-host.js";
import type { MasterInfo } from "../common/protocol/generated/mesos-v1.js";
import { type Clock, SystemClock, type TimerHandle } from "../common/time/clock.js";
import { type RandomSource, systemRandom } from "../common/time/random.js";
import { AllocatorDriver, HierarchicalAllocator } from "./allocator/index.js";
import { Master } from "./core/master.js";
import type { masterFlagSchema } from "./flags.js";
import type { BuildInfo } from "./http/state-json.js";
import { buildMasterInfo } from "./master-info.js";
import { MasterProcess } from "./master-process.js";
import { ownVersion } from "./own-version.js";
import { InMemoryRegistrar } from "./registrar/in-memory.js";
import { masterSettings, withInfo } from "./settings.js";

export interface StartMasterOptions {
  /** A started host; the master process is spawned into it. */
  readonly host: ProcessHost;
  readonly flags: LoadedFlags<typeof masterFlagSchema.flags>;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly random?: RandomSource;
}

export interface MasterRuntime {
  readonly core: Master;
  readonly process: MasterProcess;
  readonly info: MasterInfo;
  /** Stops timers, the allocator driver and every scheduler stream; terminates the process. */
  stop(): void;
}

/** How often `--whitelist` is re-read (Mesos' WHITELIST_WATCH_INTERVAL). */
const WHITELIST_WATCH_MS = 5000;

/** The host name for an IP: a reverse lookup (bounded in time), else the IP itself. */
async function hostnameFor(ip: string): Promise<string> {
  const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 2000));
  const lookup = lookupService(ip, 0).then(
    (r) => r.hostname,
    () => undefined,
  );
  return (await Promise.race([lookup, timeout])) ?? ip;
}

function buildInfo(start: number): BuildInfo {
  const date = new Date(start);
  return {
    version: MESOS_COMPATIBLE_VERSION,
    buildDate: date.toISOString().replace("T", " ").slice(0, 19),
    buildTime: Math.floor(start / 1000),
    buildUser: "mesos-ts",
  };
}

/** Starts the master in `host`. Throws an Error with a one-line message for bad flags. */
export async function startMaster(options: StartMasterOptions): Promise<MasterRuntime> {
  const { host, logger } = options;
  const clock = options.clock ?? new SystemClock();
  const random = options.random ?? systemRandom;
  const values = options.flags.values;
  const settings = masterSettings(values);
  if (!settings.ok) throw new Error(settings.error);
  if (values.roles !== undefined) {
    logger.warn("The '--roles' flag is deprecated. This flag will be removed in the future.");
  }
  const registrar = new InMemoryRegistrar();
  if (values.registry !== "in_memory") {
    logger.warn(
      `--registry=${values.registry} is not durable yet in mesos-ts: the registry is kept in ` +
        "memory and lost when the master restarts (agents then re-register as unknown agents)",
    );
  }
  await registrar.recover();
  const hostname =
    values.hostname ?? (values.hostname_lookup ? await hostnameFor(host.ip) : host.ip);
  const ids = MasterIds.create(random);
  const info = buildMasterInfo({
    id: ids.masterId,
    ip: host.ip,
    port: host.port,
    hostname,
    domain: settings.value.domain,
  });
  const allocator = new HierarchicalAllocator({
    clock,
    random,
    logger,
    allocationIntervalMs: settings.value.allocationIntervalMs,
    roleSorter: settings.value.roleSorter,
    frameworkSorter: settings.value.frameworkSorter,
    fairnessExcludeResourceNames: settings.value.fairnessExcludeResourceNames,
    filterGpuResources: settings.value.filterGpuResources,
    minAllocatableResources: settings.value.minAllocatableResources,
    weights: settings.value.weights,
    recoveryTimeoutMs: settings.value.recoveryTimeoutMs,
    agentRecoveryFactor: settings.value.agentRecoveryFactor,
    ...(settings.value.config.roleWhitelist === undefined
      ? {}
      : { roleWhitelist: settings.value.config.roleWhitelist }),
    ...(settings.value.domain === undefined ? {} : { domain: settings.value.domain as never }),
  });
  const process = host.spawn(new MasterProcess());
  const core = new Master({
    config: withInfo(settings.value, info),
    clock,
    random,
    logger,
    io: process.io(),
    allocator,
    registrar,
    ids,
  });
  const electedTime = clock.now();
  process.attachCore(
    core,
    {
      master: core,
      build: buildInfo(core.startTime),
      pid: process.self.toString(),
      cluster: values.cluster,
      logDir: values.log_dir,
      externalLogFile: values.external_log_file,
      flags: options.flags.toStrings(),
      electedTime,
    },
    ownVersion(),
  );
  const driver = new AllocatorDriver({
    allocator,
    clock,
    onOffers: (offers) => core.offer(offers),
    onError: (error) => logger.error(`Allocation cycle failed: ${String(error)}`),
  });
  driver.start();
  const stopWhitelist = watchWhitelist(settings.value.whitelistPath, allocator, clock, logger);
  logger.info(`Master ${info.id} (${hostname}) started on ${host.address}`);
  logger.info(`Using the ${registrar.name} registrar (durable: ${registrar.durable})`);
  logger.info(`The newly elected leader is ${process.self.toString()} with id ${info.id}`);
  logger.info("Elected as the leading master!");
  logger.info(`Recovered 0 agents from the ${registrar.name} registry`);
  return {
    core,
    process,
    info,
    stop: () => {
      stopWhitelist();
      driver.stop();
      core.stop();
      if (process.spawned) host.terminate(process);
    },
  };
}

/** Re-reads `--whitelist` every few seconds and hands changes to the allocator. */
function watchWhitelist(
  path: string | undefined,
  allocator: HierarchicalAllocator,
  clock: Clock,
  logger: Logger,
): () => void {
  if (path === undefined || path === "*") return () => {};
  let timer: TimerHandle | undefined;
  let stopped = false;
  let last: string | undefined;
  const read = (): void => {
    readFile(path, "utf8").then(
      (text) => {
        if (stopped) return;
        const hosts = text
          .split("\n")
          .map((l) => l.trim())
          .filter((l) => l !== "");
        const key = hosts.join("\n");
        if (key !== last) allocator.updateWhitelist(hosts);
        last = key;
        timer = clock.setTimer(WHITELIST_WATCH_MS, read);
      },
      (error: unknown) => {
        if (stopped) return;
        logger.error(`Error reading whitelist file: ${String(error)}. Retrying`);
        timer = clock.setTimer(WHITELIST_WATCH_MS, read);
      },
    );
  };
  read();
  return () => {
    stopped = true;
    if (timer !== undefined) clock.cancelTimer(timer);
  };
}
