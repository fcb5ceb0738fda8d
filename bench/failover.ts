/**
 * Failover time with ZooKeeper: three real masters (`--zk`), N simulated
 * agents and one framework. Kill -9 the leader and time, from the kill:
 * (a) another master elected (`master/elected` = 1; includes the killed
 *     leader's ZooKeeper session timeout, here 2 s),
 * (b) all N agents re-registered with it (SlaveReregisteredMessage received),
 * (c) offers flowing to the framework again (first OFFERS after the kill).
 *
 * The simulated agents are libprocess processes `slave(1)`..`slave(N)` in
 * this process (one listener): they register, answer pings and re-register
 * with whatever leader ZooKeeper names, as real agents do, without
 * executors. Cases: 10 and 1,000 agents (`node dist/bench/run.js failover
 * [N ...]`).
 */
import { userInfo } from "node:os";
import { AGENT_CAPABILITIES } from "../src/agent/registration-messages.js";
import { MESOS_COMPATIBLE_VERSION } from "../src/common/flags/shared-flags.js";
import type { Logger } from "../src/common/observability/logger.js";
import { resolveListenAddress } from "../src/common/process/listen-address.js";
import { ProcessBase } from "../src/common/process/process-base.js";
import { ProcessHost } from "../src/common/process/process-host.js";
import { parseUpid } from "../src/common/process/upid.js";
import type { SlaveInfo } from "../src/common/protocol/generated/mesos-internal.js";
import {
  codecFor,
  type MessageTypeMap,
  type MessageTypeName,
} from "../src/common/protocol/index.js";
import { SystemClock } from "../src/common/time/clock.js";
import { MasterDetector } from "../src/common/zookeeper/detector.js";
import { masterInfoPid } from "../src/common/zookeeper/master-info-json.js";
import { ZkSession } from "../src/common/zookeeper/session.js";
import { parseZkUrl } from "../src/common/zookeeper/url.js";
import { SchedulerClient } from "../src/scheduler/index.js";
import {
  type DaemonHandle,
  freePort,
  getJson,
  startMaster,
  stopAll,
  waitFor,
} from "../test/harness/processes.js";
import { startZooKeeper } from "../test/harness/zookeeper.js";
import { reportCase } from "./lib/report.js";

const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {}, verbose: () => {} };

function decoder<K extends MessageTypeName>(type: K) {
  const codec = codecFor(type);
  return (bytes: Uint8Array) => {
    const r = codec.decodeProtobuf(bytes);
    return r.ok ? { ok: true as const, value: r.value } : { ok: false as const, error: r.error };
  };
}

/** One simulated agent. */
class SimAgent extends ProcessBase {
  agentId: string | undefined;
  master: string | undefined;
  reregisteredAt = 0;
  constructor(
    index: number,
    private readonly port: number,
  ) {
    super(`slave(${index})`);
  }

  info(): SlaveInfo {
    const info: SlaveInfo = {
      hostname: `sim-${this.id}`,
      port: this.port,
      resources: [
        { name: "cpus", type: "SCALAR", scalar: { value: 4 } },
        { name: "mem", type: "SCALAR", scalar: { value: 4096 } },
      ],
    } as SlaveInfo;
    if (this.agentId !== undefined) info.id = { value: this.agentId };
    return info;
  }

  protected override initialize(): void {
    this.install(
      "mesos.internal.SlaveRegisteredMessage",
      decoder("mesos.internal.SlaveRegisteredMessage"),
      (_from, m) => {
        this.agentId = m.slave_id.value;
        this.acknowledged = true;
      },
    );
    this.install(
      "mesos.internal.SlaveReregisteredMessage",
      decoder("mesos.internal.SlaveReregisteredMessage"),
      () => {
        this.acknowledged = true;
        this.reregisteredAt = performance.now();
      },
    );
    this.install(
      "mesos.internal.PingSlaveMessage",
      decoder("mesos.internal.PingSlaveMessage"),
      (from) => this.sendMessage(from.toString(), "mesos.internal.PongSlaveMessage", {}),
    );
  }

  sendMessage<K extends MessageTypeName>(to: string, type: K, message: MessageTypeMap[K]): void {
    const upid = parseUpid(to);
    if (upid.ok) this.send(upid.value, type, codecFor(type).encodeProtobuf(message));
  }

  private acknowledged = false;
  private retry: ReturnType<typeof setTimeout> | undefined;

  /**
   * (Re-)registers with `master`, retrying every 500 ms until it answers (a
   * master still taking over drops the first attempts, as real agents see).
   */
  register(master: string): void {
    this.master = master;
    this.acknowledged = false;
    this.attempt(master);
  }

  private attempt(master: string): void {
    if (this.retry !== undefined) clearTimeout(this.retry);
    this.retry = setTimeout(() => {
      if (!this.acknowledged && this.master === master) this.attempt(master);
    }, 500);
    this.send_(master);
  }

  private send_(master: string): void {
    const upid = parseUpid(master);
    if (upid.ok) this.link(upid.value);
    const common = {
      slave: this.info(),
      version: MESOS_COMPATIBLE_VERSION,
      agent_capabilities: [...AGENT_CAPABILITIES],
    };
    if (this.agentId === undefined) {
      this.sendMessage(master, "mesos.internal.RegisterSlaveMessage", common);
    } else {
      this.sendMessage(master, "mesos.internal.ReregisterSlaveMessage", {
        ...common,
        frameworks: [],
        tasks: [],
        executor_infos: [],
      });
    }
  }
}

async function elected(m: DaemonHandle): Promise<boolean> {
  if (m.child.exitCode !== null || m.child.signalCode !== null) return false;
  const s = await getJson<Record<string, number>>(`${m.url}/metrics/snapshot`).catch(
    () => undefined,
  );
  return s?.["master/elected"] === 1;
}

async function runCase(agents: number): Promise<void> {
  const zk = await startZooKeeper();
  const url = zk.url("/mesos");
  const masters: DaemonHandle[] = [];
  for (let i = 0; i < 3; i++) {
    masters.push(
      await startMaster({
        flags: {
          zk: url,
          quorum: 2,
          registry: "replicated_log",
          zk_session_timeout: "2secs",
          allocation_interval: "100ms",
          hostname_lookup: false,
        },
      }),
    );
  }
  const leader = await waitFor("a leader", async () => {
    for (const m of masters) if (await elected(m)) return m;
    return undefined;
  });
  const clock = new SystemClock();
  const port = await freePort();
  const listen = resolveListenAddress({ ip: "127.0.0.1", port, env: {} });
  if (!listen.ok) throw new Error(listen.error.message);
  const host = new ProcessHost({ logger: quiet, clock, listen: listen.value });
  await host.start();
  const sims: SimAgent[] = [];
  for (let i = 1; i <= agents; i++) sims.push(host.spawn(new SimAgent(i, port)));
  const zkUrl = parseZkUrl(url);
  if (!zkUrl.ok) throw new Error(zkUrl.error);
  const session = new ZkSession({
    url: zkUrl.value,
    sessionTimeoutMs: 10_000,
    logger: quiet,
    clock,
  });
  const detector = new MasterDetector({ session, groupPath: "/mesos", logger: quiet, clock });
  session.start();
  detector.start();
  const first = await detector.waitForLeader(30_000);
  if (first === undefined) throw new Error("no leader");
  for (const s of sims) s.register(masterInfoPid(first.info));
  await waitFor(`${agents} agents registered`, () => sims.every((s) => s.agentId !== undefined), {
    timeoutMs: 120_000,
    intervalMs: 100,
  });
  detector.onChange((l) => {
    // Mesos' agents re-register as soon as their detector names a new leader.
    if (l === undefined) return;
    for (const s of sims) s.register(masterInfoPid(l.info));
  });

  let lastOffersAt = 0;
  const client = new SchedulerClient({
    master: url,
    framework: { user: userInfo().username, name: "failover-bench", failover_timeout: 3600 },
    backoff: { initialMs: 100, maxMs: 500 },
  });
  client.start({
    offers: (offers) => {
      lastOffersAt = performance.now();
      void client.decline(
        offers.map((o) => o.id),
        { refuse_seconds: 0.1 },
      );
    },
  });
  await waitFor("offers before the kill", () => lastOffersAt > 0, { timeoutMs: 60_000 });

  const t0 = performance.now();
  leader.kill("SIGKILL");
  const others = masters.filter((m) => m !== leader);
  await waitFor(
    "a new leader",
    async () => {
      for (const m of others) if (await elected(m)) return m;
      return undefined;
    },
    { timeoutMs: 60_000, intervalMs: 20 },
  );
  const electedMs = performance.now() - t0;
  await waitFor("all agents re-registered", () => sims.every((s) => s.reregisteredAt > t0), {
    timeoutMs: 60_000,
    intervalMs: 20,
  }).catch((error: unknown) => {
    for (const m of others) {
      const lines = m.logs().split("\n");
      const wanted = lines.filter((l) => /regist|agent|Elected|rror/i.test(l)).slice(-15);
      process.stderr.write(`--- ${m.address}\n${wanted.join("\n")}\n`);
    }
    throw error;
  });
  const reregisteredMs = Math.max(...sims.map((s) => s.reregisteredAt)) - t0;
  await waitFor("offers after the failover", () => lastOffersAt > t0 + electedMs, {
    timeoutMs: 120_000,
    intervalMs: 20,
  });
  const offersMs = lastOffersAt - t0;
  reportCase("failover", `${agents} agents, 3 masters, zk_session_timeout=2secs`, {
    elected_ms: Math.round(electedMs),
    all_reregistered_ms: Math.round(reregisteredMs),
    offers_flowing_ms: Math.round(offersMs),
  });
  client.close();
  detector.stop();
  session.close();
  await host.stop();
  await stopAll();
  await zk.stop();
}

/** `node dist/bench/run.js failover [N ...]` (default: 10 and 1000 agents). */
export async function run(args: string[]): Promise<void> {
  const counts = args.length > 0 ? args.map(Number) : [10, 1000];
  for (const n of counts) await runCase(n);
}
