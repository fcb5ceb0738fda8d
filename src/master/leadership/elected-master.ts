/**
 * `mesos-master --zk=...`: the master as one of several. It serves as a
 * standby (redirects, local /health, /flags, /version, /metrics, /files)
 * while it contends; once elected it starts the real master in the same
 * host, with the registry in ZooKeeper (unless `--registry=in_memory`).
 * Losing the leadership ends the process (see leadership.ts).
 */
import { lookupService } from "node:dns/promises";
import type { Duration } from "../../common/flags/duration.js";
import type { LoadedFlags } from "../../common/flags/load.js";
import { buildInfoAt, ownVersion } from "../../common/http/common-endpoints.js";
import { operatorServices } from "../../common/http/operator-processes.js";
import { MasterIds } from "../../common/ids/index.js";
import type { Logger } from "../../common/observability/logger.js";
import type { MetricsRegistry } from "../../common/observability/metrics.js";
import type { ProcessHost } from "../../common/process/process-host.js";
import type { DomainInfo, MasterInfo } from "../../common/protocol/generated/mesos-v1.js";
import type { Clock } from "../../common/time/clock.js";
import { systemRandom } from "../../common/time/random.js";
import type { ZkUrl } from "../../common/zookeeper/url.js";
import { zkJoin } from "../../common/zookeeper/url.js";
import { HierarchicalAllocator } from "../allocator/index.js";
import { defaultMasterConfig } from "../core/config.js";
import { Master } from "../core/master.js";
import type { masterFlagSchema } from "../flags.js";
import { loadMasterSecurity } from "../http/security.js";
import { buildMasterInfo } from "../master-info.js";
import { type MasterRuntime, startMaster } from "../master-runtime.js";
import { MasterMetrics } from "../metrics.js";
import { InMemoryRegistrar } from "../registrar/in-memory.js";
import { ZooKeeperRegistrar } from "../registrar/zookeeper.js";
import { Leadership } from "./leadership.js";
import { LogReplicas } from "./log-replicas.js";
import { recoveringView } from "./recovering-view.js";
import { StandbyMasterProcess } from "./standby.js";
import { guardStandby } from "./standby-auth.js";

export interface ElectedMasterOptions {
  readonly host: ProcessHost;
  readonly flags: LoadedFlags<typeof masterFlagSchema.flags>;
  readonly url: ZkUrl;
  readonly logger: Logger;
  readonly clock: Clock;
  /** The process must end now (exit code 1) with this message. */
  readonly fatal: (message: string) => void;
}

export interface ElectedMaster {
  readonly leadership: Leadership;
  /** The running master once elected. */
  readonly runtime: () => MasterRuntime | undefined;
  /** Leaves the election and stops the master (SIGTERM). */
  stop(): Promise<void>;
}

/** The host name for an IP: a reverse lookup bounded in time, else the IP. */
async function hostnameFor(ip: string, clock: Clock): Promise<string> {
  const timeout = new Promise<undefined>((resolve) =>
    clock.setTimer(2000, () => resolve(undefined)),
  );
  const lookup = lookupService(ip, 0).then(
    (r) => r.hostname,
    () => undefined,
  );
  return (await Promise.race([lookup, timeout])) ?? ip;
}

/**
 * What a standby serves under `/metrics/snapshot`: as Mesos' master, which
 * registers its metrics at start, every master, allocator and registrar
 * name, read from an empty master (no agents, frameworks, offers or tasks),
 * with `master/elected` 0 and no registry size until a registry is
 * recovered. `master/uptime_secs` counts from the process start (and goes
 * on from there once elected); `master/dropped_messages` counts what the
 * standby drops. The elected master's metrics replace these.
 */
function standbyMasterMetrics(
  registry: MetricsRegistry,
  info: MasterInfo,
  ids: MasterIds,
  clock: Clock,
  logger: Logger,
  startTime: number,
): MasterMetrics {
  const allocator = new HierarchicalAllocator({ clock, random: systemRandom });
  const empty = new Master({
    config: defaultMasterConfig(info),
    clock,
    random: systemRandom,
    logger,
    // Nothing is sent: a standby has no agents.
    io: { sendToAgent: () => {}, linkAgent: () => {} },
    allocator,
    registrar: new InMemoryRegistrar(),
    ids,
  });
  return new MasterMetrics({
    registry,
    master: empty,
    allocator,
    startTime,
    perFramework: false,
    subscribers: () => 0,
    registrySize: () => {
      throw new Error("Not recovered yet");
    },
    elected: false,
  });
}

/** Starts contending; the master starts when this one is elected. */
export async function startElectedMaster(options: ElectedMasterOptions): Promise<ElectedMaster> {
  const { host, flags, url, logger, clock, fatal } = options;
  const values = flags.values;
  const services = operatorServices(host, { clock, logger });
  const processStartTime = clock.now();
  const hostname =
    values.hostname ?? (values.hostname_lookup ? await hostnameFor(host.ip, clock) : host.ip);
  const ids = MasterIds.create(systemRandom);
  const info = buildMasterInfo({
    id: ids.masterId,
    ip: host.ip,
    port: host.port,
    hostname,
    domain: values.domain as DomainInfo | undefined,
  });
  const standbyMetrics = standbyMasterMetrics(
    services.metrics,
    info,
    ids,
    clock,
    logger,
    processStartTime,
  );
  const standby = host.spawn(
    new StandbyMasterProcess({
      flags: flags.toStrings(),
      build: buildInfoAt(clock.now()),
      ownVersion: ownVersion(),
      onDropped: () => standbyMetrics.droppedMessages.inc(),
    }),
  );
  // As libprocess authenticates before Mesos' handlers redirect: bad
  // security flags stop the master here, at start.
  const security = loadMasterSecurity(flags, clock);
  guardStandby(host, standby, security);
  let runtime: MasterRuntime | undefined;
  // Set once the leadership (and its session) exists, below.
  let replicas: LogReplicas | undefined;
  const leadership = new Leadership({
    url,
    sessionTimeoutMs: values.zk_session_timeout.toMs(),
    info,
    logger,
    clock,
    fatal,
    onLeader: (leader) => standby.setLeader(leader),
    onElected: async (member) => {
      const electedTime = clock.now();
      logger.info(`Elected through ZooKeeper as ${member.path}; recovering the registry`);
      // Elected from now on, while it waits for a quorum and reads the
      // registry too: Mesos' gauge reads elected(), not recovered.
      services.metrics.gauge("master/elected", () => 1);
      // Until the registry is recovered the standby's process answers, as
      // Mesos' elected master before recovery: state endpoints from an
      // empty master, the v1 APIs 503 "Master has not finished recovery",
      // registry writes once recovered, messages dropped.
      let served: () => void = () => {};
      let notServed: (error: unknown) => void = () => {};
      const recovered = new Promise<void>((resolve, reject) => {
        served = resolve;
        notServed = reject;
      });
      // Nobody may be waiting on it: a failed recovery ends the process anyway.
      recovered.catch(() => {});
      standby.setRecovering(
        info,
        recoveringView({
          host,
          flags,
          info,
          ids,
          clock,
          logger,
          services,
          metrics: standbyMetrics,
          security,
          processStartTime,
          electedTime,
          recovered,
        }),
      );
      if (replicas !== undefined) {
        await waitForQuorum(replicas, leadership, url, values, logger, clock, fatal);
      }
      const registrar =
        values.registry === "in_memory"
          ? undefined
          : new ZooKeeperRegistrar({
              session: leadership.session,
              groupPath: url.path,
              ownZnode: member.path,
              masterId: ids.masterId,
              logger,
              onDeposed: (message) => fatal(`${message}... committing suicide!`),
              autoInitialize: values.log_auto_initialize,
              ...(replicas === undefined
                ? {}
                : {
                    beforeStore: quorumGate(
                      replicas,
                      values.quorum ?? 1,
                      values.registry_store_timeout,
                      logger,
                      clock,
                      fatal,
                    ),
                  }),
            });
      runtime = await startMaster({
        host,
        flags,
        logger,
        clock,
        ids,
        hostname,
        processStartTime,
        electedTime,
        beforeSpawn: () => host.terminate(standby),
        droppedMessages: standbyMetrics.droppedMessages.value,
        onFatal: fatal,
        ...(registrar === undefined ? {} : { registrar }),
      }).catch((error: unknown) => {
        notServed(error);
        throw error;
      });
      served();
    },
  });
  logger.info(
    `Master ${info.id} (${hostname}) started on ${host.address} as a candidate; ` +
      "waiting to be elected",
  );
  if (values.registry !== "in_memory") {
    // Mesos' registry log: every master's replica is in the group, whether it leads or not.
    const quorum = values.quorum ?? 1;
    const log = new LogReplicas({
      session: leadership.session,
      zkPath: url.path,
      pid: `log-replica(1)@${host.address}`,
      quorum,
      logger,
      clock,
    });
    services.metrics.gauge("registrar/log/ensemble_size", () => log.ensembleSize);
    services.metrics.gauge("registrar/log/recovered", () => (log.recovered ? 1 : 0));
    log.start();
    replicas = log;
  }
  leadership.start();
  return {
    leadership,
    runtime: () => runtime,
    stop: async () => {
      runtime?.stop();
      await replicas?.stop();
      await leadership.stop();
    },
  };
}

/**
 * A registry write waits for a quorum of log replicas, as a write to Mesos'
 * replicated log does. Still short of one after `--registry_store_timeout`,
 * the master exits: Mesos' master aborts when a registry update fails.
 */
function quorumGate(
  replicas: LogReplicas,
  quorum: number,
  storeTimeout: Duration,
  logger: Logger,
  clock: Clock,
  fatal: (message: string) => void,
): () => Promise<void> {
  return async () => {
    if (replicas.ensembleSize >= quorum) return;
    logger.warn(
      `Only ${replicas.ensembleSize} of the ${quorum} log replicas a registry write needs ` +
        `(--quorum) are in ${replicas.path}; the write waits (up to --registry_store_timeout)`,
    );
    const timer = clock.setTimer(storeTimeout.toMs(), () =>
      fatal(
        `Failed to update registry: Failed to perform store within ${storeTimeout.toString()} ` +
          `(${replicas.ensembleSize} of the ${quorum} log replicas needed are in ${replicas.path})`,
      ),
    );
    await replicas.waitFor(quorum);
    clock.cancelTimer(timer);
  };
}

/**
 * Waits until enough masters are in the log replica group to recover: a
 * quorum once the registry exists, every one of the `2 * quorum - 1`
 * masters for a registry never written (Mesos' log auto-initializes only
 * then). After `--registry_fetch_timeout` the master exits, as Mesos' does
 * when its registrar cannot recover; a supervisor restarts it to try again.
 */
async function waitForQuorum(
  replicas: LogReplicas,
  leadership: Leadership,
  url: ZkUrl,
  values: LoadedFlags<typeof masterFlagSchema.flags>["values"],
  logger: Logger,
  clock: Clock,
  fatal: (message: string) => void,
): Promise<void> {
  const quorum = values.quorum ?? 1;
  const timeout = values.registry_fetch_timeout;
  let needed = quorum;
  const timer = clock.setTimer(timeout.toMs(), () =>
    fatal(
      `Recovery failed: Failed to recover registrar: Failed to perform fetch within ${timeout.toString()} ` +
        `(${replicas.ensembleSize} of the ${needed} log replicas needed are in ${replicas.path})`,
    ),
  );
  await replicas.whenJoined();
  const initialized = await leadership.session.exists(zkJoin(url.path, "registry"));
  needed = initialized ? quorum : 2 * quorum - 1;
  if (replicas.ensembleSize >= needed) {
    clock.cancelTimer(timer);
    return;
  }
  logger.info(
    `Waiting for ${needed} log replicas in ${replicas.path} before recovering the registry ` +
      `(--quorum=${quorum}${initialized ? "" : ", a new registry needs every master"}); ` +
      `${replicas.ensembleSize} there now`,
  );
  await replicas.waitFor(needed);
  clock.cancelTimer(timer);
}
