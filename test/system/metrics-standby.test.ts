/**
 * Master metrics across a ZooKeeper election: a standby serves
 * `master/elected` 0 and `master/uptime_secs` since it started, and once it
 * is elected its uptime still counts from its start (as Mesos' master, whose
 * metrics live from process start), not from the election. Skips when
 * ZooKeeper is not installed.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { elected, leaderOf } from "../harness/leader.js";
import { type DaemonHandle, getJson, startMaster, stopAll, waitFor } from "../harness/processes.js";
import {
  startZooKeeper,
  ZOOKEEPER_MISSING,
  type ZooKeeper,
  zookeeperAvailable,
} from "../harness/zookeeper.js";

const skip = zookeeperAvailable() ? false : ZOOKEEPER_MISSING;
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

test("metrics: a standby's uptime counts from its start, and keeps counting once it is elected", {
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
  const before = standby["master/uptime_secs"] ?? 0;
  first.kill("SIGKILL");
  await leaderOf([second], 60_000);
  const leader = await metrics(second);
  assert.equal(leader["master/elected"], 1);
  assert.ok(
    (leader["master/uptime_secs"] ?? 0) >= before,
    `uptime ${leader["master/uptime_secs"]} went back from ${before} at the election`,
  );
});
