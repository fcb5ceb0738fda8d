/**
 * Quota, weights and maintenance across a leader failover (real masters
 * elected through a real ZooKeeper, registry in ZooKeeper): the newly
 * elected master answers GET_QUOTA, GET_WEIGHTS, GET_MAINTENANCE_SCHEDULE
 * and GET_MAINTENANCE_STATUS as the killed leader did. Skips without
 * ZooKeeper.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { leaderOf } from "../harness/leader.js";
import { operatorCall as call } from "../harness/operator.js";
import { startMaster, stopAll } from "../harness/processes.js";
import { startZooKeeper, type ZooKeeper, zookeeperSkip } from "../harness/zookeeper.js";

const skip = zookeeperSkip;
let zk: ZooKeeper | undefined;

after(async () => {
  await stopAll();
  await zk?.stop();
});

const READS = [
  "GET_QUOTA",
  "GET_WEIGHTS",
  "GET_MAINTENANCE_SCHEDULE",
  "GET_MAINTENANCE_STATUS",
] as const;

test("ha: the newly elected master recovers quota, weights and maintenance from the ZooKeeper registry", {
  skip,
}, async () => {
  zk = await startZooKeeper();
  const flags = {
    zk: zk.url("/mesos"),
    quorum: 1,
    registry: "replicated_log",
    zk_session_timeout: "3secs",
    allocation_interval: "100ms",
  };
  const masters = [await startMaster({ flags }), await startMaster({ flags })];
  const leader = await leaderOf(masters);
  const changes = [
    {
      type: "UPDATE_QUOTA",
      update_quota: {
        force: true,
        quota_configs: [{ role: "dev", guarantees: { cpus: { value: 1 } } }],
      },
    },
    { type: "UPDATE_WEIGHTS", update_weights: { weight_infos: [{ role: "dev", weight: 2 }] } },
    {
      type: "UPDATE_MAINTENANCE_SCHEDULE",
      update_maintenance_schedule: {
        schedule: {
          windows: [
            {
              machine_ids: [{ hostname: "m1" }, { hostname: "m2" }],
              unavailability: { start: { nanoseconds: 4e18 } },
            },
          ],
        },
      },
    },
    { type: "START_MAINTENANCE", start_maintenance: { machines: [{ hostname: "m2" }] } },
  ];
  for (const change of changes) {
    const answer = await call(leader, change);
    assert.equal(answer.status, 200, `${change.type}: ${answer.text}`);
  }
  const before = new Map<string, string>();
  for (const type of READS) before.set(type, (await call(leader, { type })).text);
  assert.match(before.get("GET_MAINTENANCE_STATUS") ?? "", /down_machines.*m2/);

  leader.kill("SIGKILL");
  const next = await leaderOf(masters.filter((m) => m !== leader));
  for (const type of READS) {
    const answer = await call(next, { type });
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(JSON.parse(answer.text), JSON.parse(before.get(type) ?? ""), type);
  }
});
