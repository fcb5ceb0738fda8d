/**
 * Agent deactivation and drain state in the ZooKeeper registry
 * (src/master/registrar/zookeeper.ts) against a real server: what one leader
 * wrote for admitted and unreachable agents (deactivated, DRAINING, DRAINED,
 * reactivated) the next leader recovers, and a master core recovered from it
 * restores the drain states; end to end, a `--zk` master SIGKILLed and
 * started again keeps a deactivated and a DRAINED agent so. Skips without
 * ZooKeeper.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { MasterIds } from "../../src/common/ids/index.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { seededRandom } from "../../src/common/time/random.js";
import type { ZkSession } from "../../src/common/zookeeper/session.js";
import { HierarchicalAllocator } from "../../src/master/allocator/index.js";
import { defaultMasterConfig } from "../../src/master/core/config.js";
import { drainInfoOf } from "../../src/master/core/drain.js";
import { Master } from "../../src/master/core/master.js";
import { buildMasterInfo } from "../../src/master/master-info.js";
import { type AgentView, agentViews, operatorCall } from "../harness/operator.js";
import {
  type DaemonHandle,
  getJson,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
} from "../harness/processes.js";
import { zkRegistrarLeader } from "../harness/zk-registrar.js";
import { startZooKeeper, type ZooKeeper, zookeeperSkip } from "../harness/zookeeper.js";

const skip = zookeeperSkip;
const quiet = { info: () => {}, warn: () => {}, error: () => {}, verbose: () => {} };
let zk: ZooKeeper;
const sessions: ZkSession[] = [];

before(async () => {
  if (skip === false) zk = await startZooKeeper();
});

after(async () => {
  for (const s of sessions) s.close();
  await stopAll();
  await zk?.stop();
});

const leader = (id: string, group: string) =>
  zkRegistrarLeader(zk, sessions, id, group, { shards: 4 });

const info = (id: string) => ({ hostname: `h-${id}`, port: 5051, id: { value: id } });

test("zk registry: deactivation and drain state written by one leader are recovered by the next", {
  skip,
}, async () => {
  const a = await leader("master-a", "/drains");
  await a.registrar.recover();
  for (const id of ["off", "draining", "drained", "back", "u1"]) {
    await a.registrar.apply({ kind: "admit-agent", info: info(id) });
  }
  const config = { mark_gone: false, max_grace_period: { nanoseconds: 5e9 } };
  const draining = { state: "DRAINING" as const, config };
  await Promise.all([
    a.registrar.apply({ kind: "deactivate-agent", agentId: "off" }),
    a.registrar.apply({ kind: "drain-agent", agentId: "draining", drainInfo: draining }),
    a.registrar.apply({ kind: "drain-agent", agentId: "drained", drainInfo: draining }),
    a.registrar.apply({ kind: "deactivate-agent", agentId: "back" }),
    a.registrar.apply({ kind: "mark-agent-unreachable", info: info("u1"), timeNs: 7 }),
  ]);
  assert.equal(await a.registrar.apply({ kind: "mark-agent-drained", agentId: "drained" }), true);
  assert.equal(await a.registrar.apply({ kind: "reactivate-agent", agentId: "back" }), true);
  assert.equal(
    await a.registrar.apply({ kind: "drain-agent", agentId: "u1", drainInfo: draining }),
    true,
  );
  a.session.close();

  const b = await leader("master-b", "/drains");
  const recovered = await b.registrar.recover();
  const slave = (id: string) => recovered.slaves?.slaves?.find((s) => s.info.id?.value === id);
  assert.equal(slave("off")?.deactivated, true);
  assert.equal(slave("off")?.drain_info, undefined);
  assert.deepEqual(slave("draining")?.drain_info, draining);
  assert.equal(slave("draining")?.deactivated, true);
  assert.equal(slave("drained")?.drain_info?.state, "DRAINED");
  assert.equal(slave("back")?.deactivated, undefined);
  const u1 = recovered.unreachable?.slaves?.find((s) => s.id.value === "u1");
  assert.equal(u1?.drain_info?.state, "DRAINING");
  assert.equal(u1?.deactivated, true);

  // A master core recovered from it knows each agent's state before they re-register.
  const manual = new ManualClock();
  const master = new Master({
    config: defaultMasterConfig(
      buildMasterInfo({ id: "m-b", ip: "127.0.0.1", port: 5050, hostname: "m" }),
    ),
    clock: manual,
    random: seededRandom(3),
    logger: quiet,
    io: { sendToAgent: () => {}, linkAgent: () => {} },
    allocator: new HierarchicalAllocator({ clock: manual, random: seededRandom(3) }),
    registrar: b.registrar,
    ids: new MasterIds("m-b"),
    onFatal: (message) => assert.fail(message),
  });
  master.recover(recovered);
  assert.deepEqual([...master.deactivatedAgents].sort(), ["drained", "draining", "off", "u1"]);
  assert.equal(drainInfoOf(master, "draining")?.state, "DRAINING");
  assert.equal(drainInfoOf(master, "drained")?.state, "DRAINED");
  assert.equal(drainInfoOf(master, "u1")?.state, "DRAINING");
  master.stop();
});

const operator = operatorCall;

async function agentsOf(master: DaemonHandle): Promise<Map<string, AgentView>> {
  return (await agentViews(master)) ?? new Map();
}

test("zk master restart: a deactivated and a DRAINED agent stay so after the --zk master is SIGKILLed", {
  skip,
}, async () => {
  const masterOptions = () => ({
    flags: {
      zk: zk.url("/mesos-drain"),
      quorum: 1,
      registry: "replicated_log",
      zk_session_timeout: "2secs",
      allocation_interval: "100ms",
      work_dir: tempDir("master-drain-zk-"),
    },
  });
  const master = await startMaster(masterOptions());
  const agentFlags = { registration_backoff_factor: "100ms" };
  await startAgent({ master: zk.url("/mesos-drain"), flags: agentFlags });
  await startAgent({ master: zk.url("/mesos-drain"), flags: agentFlags });
  const ids = await waitFor(
    "two agents registered",
    async () => {
      const all = await agentsOf(master);
      return all.size === 2 ? [...all.keys()].sort() : undefined;
    },
    { timeoutMs: 30_000 },
  );
  const [deactivated, drained] = ids as [string, string];
  const agentCall = (type: string, id: string) => ({
    type,
    [type.toLowerCase()]: { agent_id: { value: id } },
  });
  assert.equal((await operator(master, agentCall("DEACTIVATE_AGENT", deactivated))).status, 200);
  assert.equal((await operator(master, agentCall("DRAIN_AGENT", drained))).status, 200);
  await waitFor(
    "the agent DRAINED",
    async () => (await agentsOf(master)).get(drained)?.drain_info?.state === "DRAINED",
  );

  master.kill("SIGKILL");
  await master.exited;
  // A new master (its own work dir: the registry is in ZooKeeper) is elected once the old session expires.
  const next = await startMaster(masterOptions());
  const seen = await waitFor(
    "both agents re-registered with the new leader",
    async () => {
      const state = await getJson<{ elected_time?: number }>(`${next.url}/master/state`);
      if (state?.elected_time === undefined) return undefined;
      const all = await agentsOf(next);
      return all.size === 2 ? all : undefined;
    },
    { timeoutMs: 40_000 },
  );
  assert.equal(seen.get(deactivated)?.active, false);
  assert.equal(seen.get(deactivated)?.deactivated, true);
  assert.equal(seen.get(drained)?.active, false);
  assert.equal(seen.get(drained)?.drain_info?.state, "DRAINED");
  assert.equal((await operator(next, agentCall("REACTIVATE_AGENT", drained))).status, 200);
  assert.equal((await agentsOf(next)).get(drained)?.active, true);
});
