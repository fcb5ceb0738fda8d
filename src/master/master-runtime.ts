/**
 * Starts a master inside a process host: registrar, allocator and its
 * driver, the master core and the `master` process. `mesos-master` uses it
 * with a host of its own; `mesos-local` uses it with the host it shares
 * with its agents.
 */

import { lookupService } from "node:dns/promises";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Duration } from "../common/flags/duration.js";
import type { LoadedFlags } from "../common/flags/load.js";
import { buildInfoAt, ownVersion } from "../common/http/common-endpoints.js";
import { type OperatorServices, operatorServices } from "../common/http/operator-processes.js";
import { registrarProcess } from "../common/http/registrar-process.js";
import { MasterIds } from "../common/ids/index.js";
import type { Logger } from "../common/observability/logger.js";
import { parseFirewallRules } from "../common/process/firewall.js";
import type { ProcessHost } from "../common/process/process-host.js";
import type { MasterInfo } from "../common/protocol/generated/mesos-v1.js";
import { codecFor } from "../common/protocol/index.js";
import { type Clock, SystemClock, type TimerHandle } from "../common/time/clock.js";
import { type RandomSource, systemRandom } from "../common/time/random.js";
import { AllocatorDriver, HierarchicalAllocator } from "./allocator/index.js";
import { Master } from "./core/master.js";
import { parseRemovalRate, type RecoveryConfig } from "./core/recovery.js";
import type { masterFlagSchema } from "./flags.js";
import { allocatorProcess } from "./http/allocator-process.js";
import { filesForwarder } from "./http/files-forward.js";
import { makeInverseOffers, restoreMaintenance } from "./http/maintenance.js";
import { OperatorEvents } from "./http/operator-events.js";
import { roleQuotas } from "./http/quota.js";
import { RoleWeights } from "./http/roles.js";
import { installMasterSecurity, loadMasterSecurity } from "./http/security.js";
import { StateVersion } from "./http/state-cache.js";
import { StateDocuments } from "./http/state-documents.js";
import type { StateContext } from "./http/state-json.js";
import { buildMasterInfo } from "./master-info.js";
import { MasterProcess } from "./master-process.js";
import { MasterMetrics } from "./metrics.js";
import { InMemoryRegistrar } from "./registrar/in-memory.js";
import type { Registrar } from "./registrar/registrar.js";
import { REGISTRY_FILE, SqliteRegistrar } from "./registrar/sqlite.js";
import { UninitializedRegistrar } from "./registrar/uninitialized.js";
import { masterSettings, withInfo } from "./settings.js";

export interface StartMasterOptions {
  /** A started host; the master process is spawned into it. */
  readonly host: ProcessHost;
  readonly flags: LoadedFlags<typeof masterFlagSchema.flags>;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly random?: RandomSource;
  /** Bound on an operator event stream's unread output (default 8 MiB; tests lower it). */
  readonly maxOperatorStreamBufferBytes?: number;
  /**
   * A registrar made by the caller (the ZooKeeper one with `--zk`). Default:
   * in memory for `--registry=in_memory`, else SQLite in `--work_dir`.
   */
  readonly registrar?: Registrar;
  /** Called when the master must stop (default: log to stderr and exit 1, as Mesos does). */
  readonly onFatal?: (message: string) => void;
  /** With --zk: the ids (master id) this master contended with, so MasterInfo matches its znode. */
  readonly ids?: MasterIds;
  /** With --zk: the host name already worked out for the contender's MasterInfo. */
  readonly hostname?: string;
  /**
   * With --zk: when the process started contending (ms since the epoch);
   * `master/uptime_secs` counts from there, not from the election, as Mesos.
   */
  readonly processStartTime?: number;
  /** With --zk: when this master was elected (before it recovered), Mesos' `elected_time`. */
  readonly electedTime?: number;
  /**
   * With --zk: called once the registry is recovered, just before the
   * `master` process is spawned (the standby's `master` process answers
   * until then).
   */
  readonly beforeSpawn?: () => void;
  /** With --zk: messages the standby dropped (`master/dropped_messages` goes on from there). */
  readonly droppedMessages?: number;
}

export interface MasterRuntime {
  readonly core: Master;
  readonly process: MasterProcess;
  readonly info: MasterInfo;
  /** The host's metrics, files and logging (shared with agents in the same host). */
  readonly services: OperatorServices;
  /** `/master/state` and GET_STATE documents (the benchmark reads their counters). */
  readonly documents: StateDocuments;
  readonly operatorEvents: OperatorEvents;
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

/** A clock whose timers bump `changed` before they run (they may change master state). */
function trackingClock(clock: Clock, changed: () => void): Clock {
  return {
    now: () => clock.now(),
    monotonic: () => clock.monotonic(),
    setTimer: (delayMs, fn) =>
      clock.setTimer(delayMs, () => {
        changed();
        fn();
      }),
    cancelTimer: (handle) => clock.cancelTimer(handle),
  };
}

/**
 * `work`, or a rejection with `message` once `ms` passed first (Mesos'
 * `--registry_fetch_timeout` / `--registry_store_timeout`: the operation then
 * counts as failed, whatever the store does later).
 */
function withTimeout<T>(work: Promise<T>, ms: number, clock: Clock, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimer(ms, () => reject(new Error(message)));
    work.then(
      (value) => {
        clock.cancelTimer(timer);
        resolve(value);
      },
      (error: unknown) => {
        clock.cancelTimer(timer);
        reject(error);
      },
    );
  });
}

/** `ms` to the microsecond, in stout's form (a log line's elapsed time). */
function roundedDuration(ms: number): Duration {
  return Duration.microseconds(Math.round(ms * 1000));
}

/**
 * A registrar whose answers bump `changed` before the master's continuation
 * runs, and whose writes fail after `storeTimeout` (the master then stops).
 * It logs each stored write with Mesos' registrar line (`Successfully
 * updated the registry in ...`), which operators look for, and failed ones
 * (`Failed to update registry: ...`; not Mesos' `Registrar aborting`, as a
 * failed operator call leaves this master running).
 */
function trackingRegistrar(
  registrar: Registrar,
  changed: () => void,
  record: (ms: number) => void,
  clock: Clock,
  storeTimeout: Duration,
  logger: Logger,
): Registrar {
  const store = (ms: number, stored: boolean): void => {
    record(ms);
    if (stored) logger.info(`Successfully updated the registry in ${roundedDuration(ms)}`);
  };
  // Operations failing together (one batch, one timeout) log one line.
  let lastFailure: string | undefined;
  const failed = (error: unknown): void => {
    const reason = error instanceof Error ? error.message : String(error);
    if (reason === lastFailure) return;
    lastFailure = reason;
    logger.error(`Failed to update registry: ${reason}`);
  };
  // A batching registrar times its writes; else each operation is one write.
  const batched = registrar.setStoreObserver !== undefined;
  registrar.setStoreObserver?.(store);
  return {
    get durable() {
      return registrar.durable;
    },
    get name() {
      return registrar.name;
    },
    recover: () => registrar.recover(),
    close: () => registrar.close?.(),
    apply: (operation) => {
      const start = batched ? undefined : clock.monotonic();
      const applied = withTimeout(
        registrar.apply(operation),
        storeTimeout.toMs(),
        clock,
        `Failed to perform store within ${storeTimeout.toString()} (--registry_store_timeout)`,
      );
      applied.then(() => {
        lastFailure = undefined;
      }, failed);
      return applied.finally(() => {
        if (start !== undefined) record(clock.monotonic() - start);
        changed();
      });
    },
    snapshot: () => registrar.snapshot(),
  };
}

/** The glog logger's current INFO file, when the logger is one. */
function logFileOf(logger: Logger): string | undefined {
  const l = logger as { logFile?: () => string | undefined };
  return typeof l.logFile === "function" ? l.logFile() : undefined;
}

/**
 * Attaches the master's log at `/master/log`: `--external_log_file`, else
 * the INFO file under `--log_dir`. The file may appear a little later (log
 * buffering), so attaching is retried a few times.
 */
function attachMasterLog(
  services: OperatorServices,
  logger: Logger,
  clock: Clock,
  logDir: string | undefined,
  external: string | undefined,
): void {
  const path =
    external ??
    logFileOf(logger) ??
    (logDir === undefined ? undefined : join(logDir, "mesos-master.INFO"));
  if (path === undefined) return;
  let attempts = 0;
  const attempt = (): void => {
    services.files.attach(path, "/master/log").then(
      () => logger.verbose(1, `Attached ${path} at /master/log`),
      (error: unknown) => {
        if (++attempts < 10) clock.setTimer(1000, attempt);
        else logger.warn(`Cannot serve the master log at /master/log: ${String(error)}`);
      },
    );
  };
  attempt();
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
  const security = loadMasterSecurity(options.flags, clock);
  if (values.firewall_rules !== undefined) {
    const rules = parseFirewallRules(values.firewall_rules);
    if (!rules.ok) throw new Error(rules.error);
    host.setFirewall(rules.value);
  }
  const services = operatorServices(host, {
    clock,
    logger,
    memoryProfiling: values.memory_profiling,
  });
  const version = new StateVersion();
  const changed = (): void => version.bump();
  let metrics: MasterMetrics | undefined;
  const recovery = recoveryConfig(values);
  if (typeof recovery === "string") throw new Error(recovery);
  const plainRegistrar = options.registrar ?? openRegistrar(values, logger);
  const registrar = trackingRegistrar(
    plainRegistrar,
    changed,
    (ms) => metrics?.stateStore.record(ms),
    clock,
    values.registry_store_timeout,
    logger,
  );
  const fetchStart = clock.monotonic();
  let registry: Awaited<ReturnType<Registrar["recover"]>>;
  try {
    registry = await withTimeout(
      registrar.recover(),
      values.registry_fetch_timeout.toMs(),
      clock,
      `Recovery failed: Failed to recover registrar: Failed to perform fetch within ${values.registry_fetch_timeout.toString()} (--registry_fetch_timeout)`,
    );
  } catch (error) {
    registrar.close?.();
    throw error;
  }
  const fetchMs = clock.monotonic() - fetchStart;
  const registryBytes = codecFor("mesos.internal.Registry").encodeProtobuf(registry).byteLength;
  logger.info(
    `Successfully fetched the registry (${registryBytes}B) in ${roundedDuration(fetchMs)}`,
  );
  logger.info("Successfully recovered registrar");
  const hostname =
    options.hostname ??
    values.hostname ??
    (values.hostname_lookup ? await hostnameFor(host.ip) : host.ip);
  const ids = options.ids ?? MasterIds.create(random);
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
  options.beforeSpawn?.();
  const process = host.spawn(new MasterProcess());
  const registrarRoute = host.spawn(
    registrarProcess({ snapshot: () => registrar.snapshot(), masterInfo: info }),
  );
  const core = new Master({
    config: withInfo(settings.value, info),
    clock: trackingClock(clock, changed),
    random,
    logger,
    io: process.io(),
    allocator,
    registrar,
    ids,
    recovery,
    ...(options.processStartTime === undefined ? {} : { startTime: options.processStartTime }),
    onFatal:
      options.onFatal ??
      ((message) => {
        globalThis.process.stderr.write(`mesos-master: ${message}\n`);
        globalThis.process.exit(1);
      }),
  });
  const electedTime = options.electedTime ?? clock.now();
  const state: StateContext = {
    master: core,
    build: buildInfoAt(core.startTime),
    pid: process.self.toString(),
    cluster: values.cluster,
    logDir: values.log_dir,
    externalLogFile: values.external_log_file,
    flags: options.flags.toStrings(),
    electedTime,
  };
  const documents = new StateDocuments(state, {
    version,
    now: () => clock.monotonic(),
    yieldToEventLoop: () => new Promise<void>((resolve) => setImmediate(resolve)),
    onCacheHit: () => metrics?.httpCacheHits.inc(),
  });
  const operatorEvents = new OperatorEvents({
    master: core,
    documents,
    clock,
    logger,
    maxSubscribers: values.max_operator_event_stream_subscribers,
    ...(options.maxOperatorStreamBufferBytes === undefined
      ? {}
      : { maxBufferedBytes: options.maxOperatorStreamBufferBytes }),
  });
  const weights = new RoleWeights(settings.value.weights, allocator, registrar);
  metrics = new MasterMetrics({
    registry: services.metrics,
    master: core,
    allocator,
    startTime: options.processStartTime ?? core.startTime,
    perFramework: values.publish_per_framework_metrics,
    subscribers: () => operatorEvents.count,
    registrySize: () =>
      codecFor("mesos.internal.Registry").encodeProtobuf(plainRegistrar.snapshot()).byteLength,
    queuedOperations: () => plainRegistrar.queuedOperations ?? 0,
    droppedBefore: options.droppedMessages ?? 0,
  });
  metrics.stateFetch.record(fetchMs);
  const masterMetrics = metrics;
  process.attachCore(core, {
    state,
    ownVersion: ownVersion(),
    services,
    documents,
    operatorEvents,
    weights,
    metrics: masterMetrics,
  });
  installMasterSecurity({
    host,
    process,
    master: core,
    security,
    metrics: services.metrics,
    onAuthenticate: () => masterMetrics.message("authenticate"),
  });
  const allocatorRoute = host.spawn(
    allocatorProcess({
      allocator,
      authorizer: security.authorizer,
      frameworkUser: (id) => core.frameworks.get(id)?.info.user,
    }),
  );
  services.setFilesForwarder(filesForwarder(core, logger));
  attachMasterLog(services, logger, clock, values.log_dir, values.external_log_file);
  const driver = new AllocatorDriver({
    allocator,
    clock,
    onOffers: (offers) => {
      changed();
      core.offer(offers);
    },
    onInverseOffers: (inverse) => makeInverseOffers(core, inverse),
    onCycle: (stats, _kind, waitedMs) => masterMetrics.allocationCycle(stats, waitedMs),
    onError: (error) => logger.error(`Allocation cycle failed: ${String(error)}`),
  });
  driver.start();
  const stopWhitelist = watchWhitelist(settings.value.whitelistPath, allocator, clock, logger);
  logger.info(`Master ${info.id} (${hostname}) started on ${host.address}`);
  logger.info(`Using the ${registrar.name} registrar (durable: ${registrar.durable})`);
  logger.info(`The newly elected leader is ${process.self.toString()} with id ${info.id}`);
  logger.info("Elected as the leading master!");
  core.recover(registry);
  // Quota, weights and maintenance as the registry has them (Mesos' _recover).
  roleQuotas(core).restore(registry.quota_configs ?? []);
  weights.recover(registry, logger, values.weights);
  restoreMaintenance(core, registry);
  return {
    core,
    process,
    info,
    services,
    documents,
    operatorEvents,
    stop: () => {
      stopWhitelist();
      security.rateLimiter?.stop();
      driver.stop();
      operatorEvents.stop();
      core.stop();
      registrar.close?.();
      if (process.spawned) host.terminate(process);
      if (registrarRoute.spawned) host.terminate(registrarRoute);
      if (allocatorRoute.spawned) host.terminate(allocatorRoute);
    },
  };
}

/** The registrar the flags ask for (a damaged registry file throws a one-line error). */
function openRegistrar(values: StartMasterOptions["flags"]["values"], logger: Logger): Registrar {
  if (values.registry === "in_memory" || values.work_dir === undefined) {
    return new InMemoryRegistrar();
  }
  const file = join(values.work_dir, REGISTRY_FILE);
  if (!values.log_auto_initialize && !existsSync(file)) {
    return new UninitializedRegistrar(file, logger);
  }
  return SqliteRegistrar.openInWorkDir(values.work_dir, { logger });
}

/** The core's recovery settings from the flags, or an error line. */
function recoveryConfig(values: StartMasterOptions["flags"]["values"]): RecoveryConfig | string {
  const limit = Number(values.recovery_agent_removal_limit.replace(/%$/, "")) / 100;
  let removalRate: RecoveryConfig["removalRate"];
  if (values.agent_removal_rate_limit !== undefined) {
    const parsed = parseRemovalRate(values.agent_removal_rate_limit, (text) => {
      const d = Duration.parse(text);
      return d.ok && d.value.toMs() > 0 ? d.value.toMs() : undefined;
    });
    if (typeof parsed === "string") return parsed;
    removalRate = parsed;
  }
  return {
    removalLimit: limit,
    removalRate,
    gcIntervalMs: values.registry_gc_interval.toMs(),
    maxAgentAgeMs: values.registry_max_agent_age.toMs(),
    maxAgentCount: values.registry_max_agent_count,
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
