/**
 * Quota, weights and maintenance in the ZooKeeper registry
 * (src/master/registrar/zookeeper.ts) against a real server: what one
 * leader stored, the next leader recovers; a registry created before the
 * settings node existed gets one. Skips without ZooKeeper.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ZkSession } from "../../src/common/zookeeper/session.js";
import { zkRegistrarLeader } from "../harness/zk-registrar.js";
import { startZooKeeper, type ZooKeeper, zookeeperSkip } from "../harness/zookeeper.js";

const skip = zookeeperSkip;
let zk: ZooKeeper;
const sessions: ZkSession[] = [];

before(async () => {
  if (skip === false) zk = await startZooKeeper();
});

after(async () => {
  for (const s of sessions) s.close();
  await zk?.stop();
});

const leader = (id: string, group: string) =>
  zkRegistrarLeader(zk, sessions, id, group, { shards: 4 });

test("zk registry: quota, weights and maintenance written by one leader are recovered by the next", {
  skip,
}, async () => {
  const a = await leader("master-a", "/settings");
  await a.registrar.recover();
  const schedule = {
    windows: [
      {
        machine_ids: [{ hostname: "m1" }],
        unavailability: { start: { nanoseconds: 1_000_000_000 } },
      },
    ],
  };
  await Promise.all([
    a.registrar.apply({
      kind: "update-quota",
      configs: [
        { role: "dev", guarantees: { cpus: { value: 1 } }, limits: { cpus: { value: 2 } } },
      ],
    }),
    a.registrar.apply({ kind: "update-weights", weights: [{ role: "dev", weight: 3 }] }),
    a.registrar.apply({
      kind: "update-maintenance",
      schedule,
      machines: [
        {
          id: { hostname: "m1" },
          mode: "DOWN",
          unavailability: schedule.windows[0]?.unavailability,
        },
      ],
    }),
    a.registrar.apply({
      kind: "admit-agent",
      info: { hostname: "h", port: 5051, id: { value: "a1" } },
    }),
  ]);
  await a.registrar.apply({ kind: "update-weights", weights: [{ role: "ops", weight: 0.5 }] });
  const written = a.registrar.snapshot();
  a.session.close();

  const b = await leader("master-b", "/settings");
  const recovered = await b.registrar.recover();
  assert.deepEqual(recovered.quota_configs, written.quota_configs);
  assert.deepEqual(recovered.weights, [
    { info: { role: "dev", weight: 3 } },
    { info: { role: "ops", weight: 0.5 } },
  ]);
  assert.deepEqual(recovered.schedules, [schedule]);
  assert.equal(recovered.machines?.machines?.[0]?.info.mode, "DOWN");
  assert.equal(recovered.slaves?.slaves?.[0]?.info.id?.value, "a1");
  // The new leader keeps writing settings on top of what it recovered.
  await b.registrar.apply({ kind: "update-quota", configs: [{ role: "dev" }] });
  assert.equal(b.registrar.snapshot().quota_configs, undefined);
});

test("zk registry: a registry without a settings node (older layout) gets an empty one", {
  skip,
}, async () => {
  const a = await leader("master-a", "/older");
  await a.registrar.recover();
  await a.session.remove("/older/registry/settings");
  a.session.close();
  const b = await leader("master-b", "/older");
  const recovered = await b.registrar.recover();
  assert.equal(recovered.weights, undefined);
  await b.registrar.apply({ kind: "update-weights", weights: [{ role: "x", weight: 2 }] });
  assert.deepEqual(b.registrar.snapshot().weights, [{ info: { role: "x", weight: 2 } }]);
});
