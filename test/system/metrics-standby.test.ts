/**
 * Master metrics across a ZooKeeper election: as Mesos' master, a standby
 * serves every master name (an empty master's values, `master/elected` 0,
 * `master/uptime_secs` since it started) and counts the messages it drops;
 * once elected, its uptime and dropped messages go on from there. Skips when
 * ZooKeeper is not installed.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { elected, leaderOf } from "../harness/leader.js";
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
let zk: ZooKeeper | undefined;

after(async () => {
  await stopAll();
  await zk?.stop();
});

async function metrics(m: DaemonHandle): Promise<Record<string, number>> {
  const snap = await getJson<Record<string, number>>(`${m.url}/metrics/snapshot`);
  assert.ok(snap !== undefined);
  return snap;
}

test("metrics: a standby serves the master names, counts what it drops, and its uptime and drops go on once elected", {
  skip,
}, async () => {
  zk = await startZooKeeper();
  const flags = {
    zk: zk.url("/mesos-metrics"),
    quorum: 1,
    registry: "in_memory",
    zk_session_timeout: "3secs",
  };
  const first = await startMaster({ flags });
  await leaderOf([first]);
  const second = await startMaster({ flags });
  assert.equal(await elected(second), false);
  // Let the standby run a while (observed, not slept) before the leader goes.
  const standby = await waitFor(
    "the standby to have run 3 s",
    async () => {
      const snap = await metrics(second);
      return (snap["master/uptime_secs"] ?? 0) >= 3 ? snap : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
  assert.equal(standby["master/elected"], 0);
  for (const name of [
    "master/slaves_active",
    "master/frameworks_active",
    "master/tasks_running",
    "master/tasks_finished",
    "master/messages_register_slave",
    "master/cpus_total",
    "allocator/mesos/allocation_runs",
    "registrar/queued_operations",
  ]) {
    assert.equal(standby[name], 0, name);
  }
  assert.equal(standby["registrar/registry_size_bytes"], undefined, "no registry recovered");
  // An agent told to talk to the standby: its registrations are dropped and counted.
  const lost = await startAgent({
    master: second.address,
    flags: { registration_backoff_factor: "100ms" },
  });
  const dropped = await waitFor(
    "the standby to drop the agent's registrations",
    async () => {
      const n = (await metrics(second))["master/dropped_messages"] ?? 0;
      return n >= 2 ? n : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
  await lost.stop();
  const before = (await metrics(second))["master/uptime_secs"] ?? 0;
  first.kill("SIGKILL");
  await leaderOf([second], 60_000);
  const leader = await metrics(second);
  assert.equal(leader["master/elected"], 1);
  assert.ok(
    (leader["master/uptime_secs"] ?? 0) >= before,
    `uptime ${leader["master/uptime_secs"]} went back from ${before} at the election`,
  );
  assert.ok((leader["master/dropped_messages"] ?? 0) >= dropped);
});
