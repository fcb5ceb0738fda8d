/**
 * Master detection as the npm scheduler library `mesos-framework` (0.5.3)
 * does it: pointed at any master, it follows the 307 a non-leading master
 * answers SUBSCRIBE with, parsing host and port out of the `Location` header
 * (Mesos' scheme-less `//host:port/path`). Two real masters elected through a
 * real ZooKeeper; skips when ZooKeeper is not installed.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { Mesos } from "mesos-framework";
import { leaderOf } from "../harness/leader.js";
import {
  type DaemonHandle,
  startAgent,
  startMaster,
  stopAll,
  waitFor,
} from "../harness/processes.js";
import { sharedZooKeeper, zookeeperSkip } from "../harness/zookeeper.js";
import {
  type LibraryScheduler,
  startLibraryScheduler,
  stopLibraryScheduler,
} from "../third-party/js/library-scheduler.js";

const zookeeper = sharedZooKeeper();
const running: LibraryScheduler[] = [];
const proto = Mesos.getMesos();

after(async () => {
  for (const r of running) stopLibraryScheduler(r);
  await stopAll();
  await zookeeper.stop();
});

test("mesos-framework Scheduler: pointed at a standby master, follows its 307 to the leader and runs a task there", {
  skip: zookeeperSkip,
}, async () => {
  const zk = await zookeeper.get();
  const flags = { zk: zk.url("/mesos"), allocation_interval: "100ms" };
  const masters: DaemonHandle[] = [];
  for (let i = 0; i < 2; i++) masters.push(await startMaster({ flags }));
  const leader = await leaderOf(masters);
  const standby = masters.find((m) => m !== leader);
  assert.ok(standby !== undefined);
  await startAgent({ master: zk.url("/mesos") });

  const r = startLibraryScheduler(standby, {
    frameworkName: "third-party-js-redirect",
    tasks: {
      echo: {
        commandInfo: new proto.CommandInfo(null, null, true, "echo redirected", null, null),
        resources: { cpus: 0.1, mem: 32, ports: 0, disk: 0 },
      },
    },
  });
  running.push(r);
  const subscribed = await waitFor("SUBSCRIBED after the redirect", () => r.subscribed[0]);
  // The library now talks to the leader's port, taken from the Location.
  assert.equal(Number(r.scheduler.options.port), leader.port);
  assert.ok(subscribed.frameworkId.length > 0);
  const taskId = await waitFor(
    "the echo task's first update",
    () => r.updates.find((u) => u.task_id.value.includes(".echo-1."))?.task_id.value,
  );
  await r.waitForUpdate(taskId, "TASK_FINISHED");
  assert.deepEqual(r.errors, []);
});
