/**
 * Wire compatibility with a scheduler library written by others against
 * Apache Mesos: the npm package `mesos-framework` (0.5.3, JSON over the v1
 * scheduler API with RecordIO), used as its README shows, against the real
 * bin/mesos-master and bin/mesos-agent. The library parses every event
 * itself and reads fields by their Mesos names (offer.url.address.ip,
 * status.uuid, ...): each step below checks that what it read was there.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { Mesos } from "mesos-framework";
import { startOneAgentCluster } from "../harness/cluster.js";
import { freePort, getJson, killProcessGroups, stopAll, waitFor } from "../harness/processes.js";
import {
  type LibraryScheduler,
  startLibraryScheduler,
  stopLibraryScheduler,
  stopResubscribing,
  subscribeAgain,
} from "../third-party/js/library-scheduler.js";

const proto = Mesos.getMesos();
const running: LibraryScheduler[] = [];

after(async () => {
  for (const r of running) {
    stopLibraryScheduler(r);
    // Executors the agent left behind (it leaves them for recovery on SIGTERM).
    killProcessGroups(r.updates.flatMap((u) => u.container_status?.executor_pid ?? []));
  }
  await stopAll();
});

interface FrameworkState {
  id: string;
  name: string;
  tasks: { id: string; state: string }[];
  completed_tasks: { id: string; state: string }[];
}

interface MasterState {
  frameworks: FrameworkState[];
  completed_frameworks: FrameworkState[];
}

test("mesos-framework Scheduler: subscribes, launches command tasks, acknowledges, reconciles, kills and tears down", async () => {
  const { master, agent, agentId } = await startOneAgentCluster(
    {},
    { masterFlags: { allocation_interval: "100ms" } },
  );
  const r = startLibraryScheduler(master, {
    frameworkName: "third-party-js",
    tasks: {
      sleeper: {
        priority: 1,
        commandInfo: new proto.CommandInfo(null, null, true, "sleep 1000", null, null),
        resources: { cpus: 0.1, mem: 32, ports: 1, disk: 0 },
      },
      finisher: {
        priority: 2,
        commandInfo: new proto.CommandInfo(null, null, true, "echo done", null, null),
        resources: { cpus: 0.1, mem: 32, ports: 0, disk: 0 },
      },
    },
  });
  running.push(r);
  const { scheduler } = r;

  // SUBSCRIBED: the library takes the framework id from the event and the
  // stream id from the Mesos-Stream-Id header (it refuses a stream without).
  const subscribed = await waitFor("SUBSCRIBED through mesos-framework", () => r.subscribed[0]);
  assert.match(subscribed.frameworkId, /^[0-9a-f-]+-\d{4}$/);
  assert.match(subscribed.mesosStreamId, /^[0-9a-f-]{36}$/);
  const state = await getJson<MasterState>(`${master.url}/master/state`);
  const framework = state?.frameworks.find((f) => f.id === subscribed.frameworkId);
  assert.equal(framework?.name, "third-party-js");
  await waitFor("a HEARTBEAT", () => r.heartbeats > 0);

  // OFFERS: the library matches resources by `type` and `name` and takes the
  // task's HOST from offer.url.address.ip.
  const offer = await waitFor("an offer", () => r.offers[0]);
  assert.equal(offer.agent_id.value, agentId);
  assert.equal(offer.framework_id.value, subscribed.frameworkId);
  assert.ok(offer.hostname.length > 0);
  assert.equal(offer.url.address.ip, "127.0.0.1");
  assert.equal(offer.url.address.port, agent.port);
  const cpus = offer.resources.find((res) => res.name === "cpus");
  assert.equal(cpus?.type, "SCALAR");
  assert.equal(cpus?.scalar?.value, 2);
  const ports = offer.resources.find((res) => res.name === "ports");
  assert.equal(ports?.type, "RANGES");
  assert.deepEqual(ports?.ranges?.range, [{ begin: 31000, end: 32000 }]);

  // Both tasks launch (ACCEPT answered 202); the finisher runs to the end.
  await waitFor("both tasks launched", () => scheduler.pendingTasks.length === 0);
  const sleeperId = await waitFor(
    "the sleeper's task id",
    () => scheduler.launchedTasks.find((t) => t.name === "sleeper-1")?.taskId,
  );
  const finisherId = await waitFor(
    "the finisher's task id",
    () => r.updates.find((u) => u.task_id.value.includes(".finisher-1."))?.task_id.value,
  );
  const finished = await r.waitForUpdate(finisherId, "TASK_FINISHED");
  assert.equal(finished.source, "SOURCE_EXECUTOR");
  assert.equal(finished.agent_id?.value, agentId);
  assert.ok(finished.uuid !== undefined && Buffer.from(finished.uuid, "base64").length === 16);
  const runningStatus = await r.waitForUpdate(sleeperId, "TASK_RUNNING");
  assert.equal(runningStatus.executor_id?.value, sleeperId);

  // The library's own bookkeeping, from the offer and the updates. (Its
  // `task_launched` event never fires: it expects STAGING -> RUNNING, and the
  // command executor sends TASK_STARTING in between, as Mesos' does.)
  const tracked = await waitFor("the sleeper tracked as running", () =>
    scheduler.launchedTasks.find(
      (t) => t.taskId === sleeperId && t.runtimeInfo?.state === "TASK_RUNNING",
    ),
  );
  assert.equal(tracked.runtimeInfo?.agentId, agentId);
  assert.equal(tracked.runtimeInfo?.executorId, sleeperId);
  assert.equal(tracked.runtimeInfo?.network?.ip, "127.0.0.1");
  const [port = 0] = tracked.runtimeInfo?.network?.ports ?? [];
  assert.ok(port >= 31000 && port <= 32000, `port ${port}`);

  // ACKNOWLEDGE: the library echoes status.uuid back; once the terminal
  // update is acknowledged the master completes the task.
  await waitFor("the finisher completed after its acknowledgement", async () => {
    const s = await getJson<MasterState>(`${master.url}/master/state`);
    const f = s?.frameworks.find((x) => x.id === subscribed.frameworkId);
    return f?.completed_tasks.some((t) => t.id === finisherId && t.state === "TASK_FINISHED");
  });
  const acknowledgeable = r.updates.filter((u) => u.uuid !== undefined).length;
  await r.waitForSent("acknowledge", acknowledgeable);

  // RECONCILE, explicit: the running task, and a task the master never saw
  // (TASK_LOST: the library's framework is not partition-aware). Neither
  // update carries a uuid, so the library acknowledges neither.
  scheduler.reconcile(sleeperId, agentId);
  const explicit = await r.waitForUpdate(
    sleeperId,
    "TASK_RUNNING",
    (u) => u.reason === "REASON_RECONCILIATION",
  );
  assert.equal(explicit.source, "SOURCE_MASTER");
  assert.equal(explicit.uuid, undefined);
  scheduler.reconcile("no-such-task", agentId);
  const lost = await r.waitForUpdate("no-such-task", "TASK_LOST");
  assert.equal(lost.reason, "REASON_RECONCILIATION");
  // Implicit: every task the master knows, here only the sleeper.
  const before = r.updates.length;
  scheduler.reconcile();
  await waitFor("an implicit reconciliation update", () =>
    r.updates
      .slice(before)
      .find((u) => u.task_id.value === sleeperId && u.reason === "REASON_RECONCILIATION"),
  );

  // KILL through the library: the command executor answers TASK_KILLED.
  scheduler.kill(sleeperId, agentId);
  const killed = await r.waitForUpdate(sleeperId, "TASK_KILLED");
  assert.equal(killed.source, "SOURCE_EXECUTOR");

  // Offers the library does not need are declined (202).
  await r.waitForSent("decline");
  assert.deepEqual(r.errors, [], "no call was refused and every event parsed");

  // REVIVE (202): the library's way to clear its decline filters.
  scheduler.revive();
  await r.waitForSent("revive");

  // The library's REQUEST puts its requests beside the call, not under
  // `request`: refused, with Mesos' reason.
  scheduler.request([]);
  await r.waitForError(
    "Reponse status code was '400'. Body was 'Failed to validate scheduler::Call: Expecting 'request' to be present'",
  );

  // TEARDOWN: the master removes the framework and closes the stream.
  stopResubscribing(r);
  scheduler.teardown();
  await r.waitForError("Long-running connection was closed!");
  await waitFor("the framework completed", async () => {
    const s = await getJson<MasterState>(`${master.url}/master/state`);
    return s?.completed_frameworks.some((f) => f.id === subscribed.frameworkId);
  });

  // The library subscribes again with its old framework id when a stream
  // closes; Mesos answers a removed framework with an ERROR event.
  subscribeAgain(r);
  await r.waitForError("Error received from Mesos master: Framework has been removed");
});

test("mesos-framework Scheduler: its HTTP health check (no type, as before Mesos 1.2) runs and reports the task healthy", async () => {
  // The agent offers one port, so the library allocates that one.
  const port = await freePort();
  const { master, agentId } = await startOneAgentCluster({
    resources: `cpus:2;mem:1024;disk:1024;ports:[${port}-${port}]`,
  });
  const server = `require('http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1')`;
  const r = startLibraryScheduler(master, {
    frameworkName: "third-party-js-health",
    tasks: {
      web: {
        commandInfo: new proto.CommandInfo(
          null,
          null,
          true,
          `exec "${process.execPath}" -e "${server}"`,
          null,
          null,
        ),
        resources: { cpus: 0.1, mem: 64, ports: 1, disk: 0 },
        healthCheck: { http: { path: "/" } },
      },
    },
  });
  running.push(r);
  const taskId = await waitFor("the web task launched", () => r.scheduler.launchedTasks[0]?.taskId);
  assert.deepEqual(r.scheduler.launchedTasks[0]?.runtimeInfo?.network?.ports, [port]);
  // The first check runs after HealthCheck's default 15 s delay.
  const healthy = await r.waitForUpdate(taskId, "TASK_RUNNING", (u) => u.healthy === true);
  assert.equal(healthy.reason, "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED");
  assert.equal(healthy.agent_id?.value, agentId);
  assert.deepEqual(r.errors, []);
});
