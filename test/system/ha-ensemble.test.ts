/**
 * A three-server ZooKeeper ensemble losing one member: the masters keep
 * their leader (clients move to another server within their session), and
 * the registry still takes writes (two of three servers are a quorum).
 * Skips without ZooKeeper.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { elected } from "../harness/leader.js";
import {
  type DaemonHandle,
  getJson,
  startAgent,
  startMaster,
  stopAll,
  waitFor,
} from "../harness/processes.js";
import { startZooKeeper, type ZooKeeper, zookeeperSkip } from "../harness/zookeeper.js";

const skip = zookeeperSkip;
let zk: ZooKeeper;
const masters: DaemonHandle[] = [];

before(async () => {
  if (skip !== false) return;
  zk = await startZooKeeper({ servers: 3 });
  for (let i = 0; i < 2; i++) {
    masters.push(
      await startMaster({
        flags: {
          zk: zk.url("/mesos"),
          quorum: 1,
          registry: "replicated_log",
          zk_session_timeout: "10secs",
        },
      }),
    );
  }
});

after(async () => {
  await stopAll();
  await zk?.stop();
});

test("ha/ensemble: losing one of three ZooKeeper servers changes no leader; writes go on", {
  skip,
}, async () => {
  const leader = await waitFor("a leading master", async () => {
    for (const m of masters) if (await elected(m)) return m;
    return undefined;
  });
  const lost = zk.servers[0];
  assert.ok(lost);
  await lost.stop();
  // If it led the ensemble, the other two elect a new leader first (slow on a loaded machine).
  const rest = zk.servers.filter((server) => server !== lost);
  await waitFor(
    "the other two ZooKeeper servers to serve",
    async () => (await Promise.all(rest.map((server) => server.serving()))).every(Boolean),
    { timeoutMs: 60_000, intervalMs: 200 },
  );
  // A new agent registers: its admission is a registry write in ZooKeeper.
  const agent = await startAgent({
    master: zk.url("/mesos"),
    flags: { registration_backoff_factor: "100ms" },
  });
  await waitFor(
    "the agent registered with the same leader",
    async () => {
      const s = await getJson<{ slaves: { active: boolean }[] }>(`${leader.url}/master/slaves`);
      return (s?.slaves ?? []).filter((a) => a.active).length === 1;
    },
    { timeoutMs: 40_000 },
  );
  assert.equal(await elected(leader), true);
  for (const m of masters) {
    assert.equal(m.child.exitCode, null, `${m.address} keeps running`);
    assert.ok(!m.logs().includes("committing suicide"));
  }
  assert.equal(agent.child.exitCode, null);
});
