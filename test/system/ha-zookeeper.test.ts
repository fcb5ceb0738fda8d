/**
 * Masters and agents riding out ZooKeeper trouble (real server, real
 * processes): a restart shorter than `--zk_session_timeout` changes
 * nothing; an outage longer than it makes the leader exit on purpose, and a
 * master takes over once ZooKeeper is back. Skips without ZooKeeper.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { elected, leaderOf, running } from "../harness/leader.js";
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
// Long enough for a JVM restart on a loaded machine, short enough to wait out.
const SESSION_TIMEOUT_S = 15;
let zk: ZooKeeper;
const masters: DaemonHandle[] = [];
let agent: DaemonHandle;

async function activeAgents(m: DaemonHandle): Promise<string[]> {
  const s = await getJson<{ slaves: { id: string; active: boolean }[] }>(`${m.url}/master/slaves`);
  return (s?.slaves ?? []).filter((a) => a.active).map((a) => a.id);
}

before(async () => {
  if (skip !== false) return;
  zk = await startZooKeeper();
  for (let i = 0; i < 2; i++) {
    masters.push(
      await startMaster({
        flags: {
          zk: zk.url("/mesos"),
          quorum: 1,
          registry: "replicated_log",
          zk_session_timeout: `${SESSION_TIMEOUT_S}secs`,
        },
      }),
    );
  }
  agent = await startAgent({
    master: zk.url("/mesos"),
    flags: { registration_backoff_factor: "100ms" },
  });
});

after(async () => {
  if (process.env.HA_TEST_LOGS === "1") {
    for (const d of [...masters, agent]) {
      if (d !== undefined) process.stderr.write(`--- ${d.name} ${d.port}\n${d.logs()}\n`);
    }
  }
  await stopAll();
  await zk?.stop();
});

test("ha/zookeeper: a ZooKeeper restart shorter than the session timeout changes no leader", {
  skip,
}, async () => {
  const leader = await leaderOf(masters);
  const [agentId] = await waitFor("the agent registered", async () => {
    const ids = await activeAgents(leader);
    return ids.length === 1 ? ids : undefined;
  });
  const server = zk.servers[0];
  assert.ok(server);
  await server.stop();
  await server.start();
  // Both masters reconnect with their sessions: same leader, same agent.
  await waitFor("the masters to reconnect to ZooKeeper", () =>
    masters.every((m) => (m.logs().match(/ZooKeeper session 0x\w+ connected/g) ?? []).length >= 2),
  );
  assert.ok(running(leader), "the leader keeps running");
  assert.equal(await elected(leader), true);
  assert.deepEqual(await activeAgents(leader), [agentId]);
  assert.ok(!leader.logs().includes("committing suicide"));
});

test("ha/zookeeper: an outage longer than the session timeout makes the leader exit; a master leads again once ZooKeeper returns", {
  skip,
}, async () => {
  const leader = await leaderOf(masters);
  const standby = masters.find((m) => m !== leader);
  assert.ok(standby);
  const server = zk.servers[0];
  assert.ok(server);
  await server.stop();
  const code = await leader.exited;
  assert.equal(code, 1, "the leader exits on purpose");
  assert.match(leader.logs(), /Lost candidacy as a leader .*committing suicide!/);
  assert.ok(running(standby), "a standby waits");
  await server.start();
  const next = await leaderOf([standby], 40_000);
  assert.equal(next, standby);
  await waitFor(
    "the agent to register with the new leader",
    async () => (await activeAgents(next)).length === 1,
    { timeoutMs: 40_000 },
  );
});
