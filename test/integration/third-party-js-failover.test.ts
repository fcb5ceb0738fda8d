/**
 * Scheduler failover as the npm library `mesos-framework` (0.5.3) does it
 * with `useZk`: it keeps the framework id and its tasks in ZooKeeper, and a
 * new Scheduler (the restarted process) subscribes again with that id and
 * reconciles the tasks it loaded. Against the real master and agent, with a
 * real ZooKeeper holding only the library's data; skips without ZooKeeper.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { Mesos, type SchedulerOptions } from "mesos-framework";
import { startOneAgentCluster } from "../harness/cluster.js";
import { getJson, killProcessGroups, stopAll, waitFor } from "../harness/processes.js";
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
  for (const r of running) {
    stopLibraryScheduler(r);
    killProcessGroups(r.updates.flatMap((u) => u.container_status?.executor_pid ?? []));
  }
  await stopAll();
  await zookeeper.stop();
});

interface MasterFrameworks {
  frameworks: { id: string; active: boolean; connected?: boolean }[];
}

/** The library's ZooKeeper data for `path`, as text (undefined while absent). */
function zkText(r: LibraryScheduler, path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    r.scheduler.zkClient?.getData(path, (error, data) =>
      resolve(error ? undefined : data?.toString()),
    );
  });
}

test("mesos-framework Scheduler with useZk: a restarted scheduler subscribes with its stored framework id and reconciles its running task", {
  skip: zookeeperSkip,
}, async () => {
  const zk = await zookeeper.get();
  const { master, agentId } = await startOneAgentCluster(
    {},
    { masterFlags: { allocation_interval: "100ms" } },
  );
  const frameworkName = "third-party-js-failover";
  const options: Omit<SchedulerOptions, "masterUrl" | "port"> = {
    frameworkName,
    useZk: true,
    zkUrl: zk.connect,
    zkPrefix: "/mesos-framework-test-",
    tasks: {
      sleeper: {
        commandInfo: new proto.CommandInfo(null, null, true, "sleep 1000", null, null),
        resources: { cpus: 0.1, mem: 32, ports: 0, disk: 0 },
      },
    },
  };
  const first = startLibraryScheduler(master, options);
  running.push(first);
  const { frameworkId } = await waitFor("the first SUBSCRIBED", () => first.subscribed[0]);
  const taskId = await waitFor(
    "the sleeper launched",
    () => first.scheduler.launchedTasks[0]?.taskId,
  );
  await first.waitForUpdate(taskId, "TASK_RUNNING");
  const servicePath = `/mesos-framework-test-${frameworkName}`;
  await waitFor("the framework id and the running task stored in ZooKeeper", async () => {
    const id = await zkText(first, `${servicePath}/framework-id`);
    const task = await zkText(first, `${servicePath}/tasks/${taskId}`);
    return id === frameworkId && task?.includes('"state":"TASK_RUNNING"');
  });

  // The first scheduler goes away: the master keeps the framework (one
  // week of failover timeout) and its task, disconnected.
  stopLibraryScheduler(first);
  await waitFor("the framework disconnected", async () => {
    const state = await getJson<MasterFrameworks>(`${master.url}/master/frameworks`);
    return state?.frameworks.some((f) => f.id === frameworkId && f.active === false);
  });

  const second = startLibraryScheduler(master, options);
  running.push(second);
  const again = await waitFor("the second SUBSCRIBED", () => second.subscribed[0]);
  assert.equal(again.frameworkId, frameworkId);
  // Its sync() reconciles the task it loaded from ZooKeeper.
  const reconciled = await second.waitForUpdate(
    taskId,
    "TASK_RUNNING",
    (u) => u.reason === "REASON_RECONCILIATION",
  );
  assert.equal(reconciled.agent_id?.value, agentId);
  assert.deepEqual(
    second.scheduler.launchedTasks.map((t) => t.taskId),
    [taskId],
    "the loaded task is not launched again",
  );
  const state = await getJson<MasterFrameworks>(`${master.url}/master/frameworks`);
  assert.equal(state?.frameworks.find((f) => f.id === frameworkId)?.active, true);
  assert.deepEqual(second.errors, []);
});
