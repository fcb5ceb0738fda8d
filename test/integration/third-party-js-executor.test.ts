/**
 * Wire compatibility of the v1 executor API with the npm package
 * `mesos-framework` (0.5.3): a custom executor written with its Executor
 * class (test/third-party/js/node-executor.ts) runs under the real agent,
 * launched by the library's Scheduler against the real master. Every event
 * the executor gets (SUBSCRIBED, LAUNCH, MESSAGE, KILL, ACKNOWLEDGED,
 * SHUTDOWN) and every call it makes (UPDATE, MESSAGE) crosses the agent.
 *
 * The library's own SUBSCRIBE lacks the `subscribe` field every Mesos agent
 * since 0.26 requires: the first test checks the agent refuses it as Mesos
 * does; the second adds the field in the executor (NODE_EXECUTOR_ADD_SUBSCRIBE)
 * and runs everything else as the library does it.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { helpers, Mesos, type WireOffer } from "mesos-framework";
import { type OneAgentCluster, startOneAgentCluster } from "../harness/cluster.js";
import {
  getJson,
  killProcessGroups,
  repoRoot,
  stopAll,
  waitFor,
  waitLong,
} from "../harness/processes.js";
import {
  type LibraryScheduler,
  startLibraryScheduler,
  stopLibraryScheduler,
  stopResubscribing,
} from "../third-party/js/library-scheduler.js";

const proto = Mesos.getMesos();
const running: LibraryScheduler[] = [];
let cluster: OneAgentCluster;

before(async () => {
  cluster = await startOneAgentCluster({}, { masterFlags: { allocation_interval: "100ms" } });
});
const EXECUTOR_ID = "node-executor";
const EXECUTOR_SCRIPT = join(repoRoot, "dist", "test", "third-party", "js", "node-executor.js");

after(async () => {
  for (const r of running) {
    stopLibraryScheduler(r);
    killProcessGroups(r.updates.flatMap((u) => u.container_status?.executor_pid ?? []));
  }
  await stopAll();
});

function scalar(name: string, value: number) {
  return helpers.stringifyEnumsRecursive(
    new proto.Resource(name, proto.Value.Type.SCALAR, new proto.Value.Scalar(value)),
  );
}

/**
 * The library launches only command tasks from its `tasks` option (it sets
 * TaskInfo.command even when given an executor, which Mesos refuses); its
 * README's way to do more is a custom OFFERS handler. This one launches
 * `taskIds` on the first offer, all on one custom executor running
 * node-executor.js, and declines the rest.
 */
function launchOnExecutor(taskIds: string[], addSubscribe: boolean) {
  let launched = false;
  const environment = new proto.Environment([
    new proto.Environment.Variable("NODE_EXECUTOR_ADD_SUBSCRIBE", addSubscribe ? "1" : "0"),
  ]);
  const executor = new proto.ExecutorInfo(
    new proto.ExecutorID(EXECUTOR_ID),
    null,
    new proto.CommandInfo(null, environment, true, `"${process.execPath}" "${EXECUTOR_SCRIPT}"`),
  );
  return function (this: LibraryScheduler["scheduler"], event: { offers: WireOffer[] }) {
    for (const offer of event.offers) {
      if (launched) {
        this.decline([offer.id], null);
        continue;
      }
      launched = true;
      const tasks = taskIds.map(
        (id) =>
          new proto.TaskInfo(
            id,
            new proto.TaskID(id),
            offer.agent_id,
            [scalar("cpus", 0.1), scalar("mem", 32)],
            helpers.stringifyEnumsRecursive(executor),
          ),
      );
      const launch = helpers.stringifyEnumsRecursive(
        new proto.Offer.Operation(
          proto.Offer.Operation.Type.LAUNCH,
          new proto.Offer.Operation.Launch(tasks),
        ),
      );
      this.accept([offer.id], launch, null);
    }
  };
}

interface AgentExecutor {
  id: string;
  directory: string;
}

interface AgentFramework {
  id: string;
  executors: AgentExecutor[];
  completed_executors?: AgentExecutor[];
}

interface AgentState {
  frameworks: AgentFramework[];
  completed_frameworks?: AgentFramework[];
}

/** The sandbox of executor `executorId` of framework `frameworkId`, running or done. */
async function sandboxOf(frameworkId: string, executorId: string): Promise<string> {
  return waitFor(`the sandbox of ${executorId}`, async () => {
    const state = await getJson<AgentState>(`${cluster.agent.url}/state`);
    const frameworks = [...(state?.frameworks ?? []), ...(state?.completed_frameworks ?? [])];
    return frameworks
      .filter((f) => f.id === frameworkId)
      .flatMap((f) => [...f.executors, ...(f.completed_executors ?? [])])
      .find((e) => e.id === executorId)?.directory;
  });
}

test("mesos-framework Executor: its own SUBSCRIBE is refused as Mesos refuses it, and the task fails", async () => {
  const r = startLibraryScheduler(cluster.master, {
    frameworkName: "third-party-js-executor-as-is",
    handlers: { OFFERS: launchOnExecutor(["never-runs"], false) },
  });
  running.push(r);
  const failed = await r.waitForUpdate("never-runs", "TASK_FAILED");
  assert.equal(failed.reason, "REASON_EXECUTOR_TERMINATED");
  // FAILURE: the executor exited (with 0, after its stream closed).
  const failure = await waitFor("a FAILURE event", () => r.failures[0]);
  assert.equal(failure.executor_id?.value, EXECUTOR_ID);
  assert.equal(failure.agent_id?.value, cluster.agentId);
  assert.equal(failure.status, 0);
  const frameworkId = r.scheduler.frameworkId ?? "";
  const directory = await sandboxOf(frameworkId, EXECUTOR_ID);
  // The library prints each response body it reads.
  assert.match(
    readFileSync(join(directory, "stdout"), "utf8"),
    /^BODY: Failed to validate Executor::Call: Expecting 'subscribe' to be present$/m,
  );
  stopLibraryScheduler(r);
});

test("mesos-framework Executor: a custom node executor runs tasks, messages both ways, is killed and shut down", async () => {
  const { master, agent, agentId } = cluster;
  const r = startLibraryScheduler(master, {
    frameworkName: "third-party-js-executor",
    handlers: { OFFERS: launchOnExecutor(["finish-me", "kill-me"], true) },
  });
  running.push(r);
  const { scheduler } = r;

  // LAUNCH reaches the executor; its UPDATE (TASK_RUNNING) reaches the
  // scheduler with the ids the agent fills in.
  const first = await r.waitForUpdate("finish-me", "TASK_RUNNING");
  await r.waitForUpdate("kill-me", "TASK_RUNNING");
  assert.equal(first.source, "SOURCE_EXECUTOR");
  // As in Mesos, the agent copies executor_id into the status only when the
  // executor set it there (this one does not).
  assert.equal(first.executor_id, undefined);
  assert.equal(first.agent_id?.value, agentId);
  assert.equal(first.message, "started by node-executor");

  // Executor -> scheduler MESSAGE, decoded by the library.
  const hello = await waitLong("the executor's message", () =>
    r.messages.find((m) => m.data === "running finish-me"),
  );
  assert.equal(hello.executorId.value, EXECUTOR_ID);
  assert.equal(hello.agentId.value, agentId);

  // Scheduler -> executor MESSAGE: the executor finishes that task.
  scheduler.message(agentId, EXECUTOR_ID, "finish finish-me");
  const finished = await r.waitForUpdate("finish-me", "TASK_FINISHED");
  assert.equal(finished.message, "finished by node-executor");

  // KILL goes to the custom executor, which answers TASK_KILLED itself.
  scheduler.kill("kill-me", agentId);
  const killed = await r.waitForUpdate("kill-me", "TASK_KILLED");
  assert.equal(killed.message, "killed by node-executor");

  // The scheduler acknowledged each update; the agent passes each
  // acknowledgement on to the executor (ACKNOWLEDGED), which logs it.
  const directory = await sandboxOf(r.scheduler.frameworkId ?? "", EXECUTOR_ID);
  const stderr = () => readFileSync(join(directory, "stderr"), "utf8");
  const acknowledgements = r.updates
    .filter((u) => u.uuid !== undefined)
    .map((u) => `acknowledged ${u.task_id.value} ${u.uuid}`);
  assert.equal(acknowledgements.length, 4);
  await waitLong("each update acknowledged to the executor", () =>
    acknowledgements.every((line) => stderr().includes(line)),
  );
  assert.match(stderr(), /^subscribed \{/m);
  assert.doesNotMatch(stderr(), /library error|error event/);

  // The library's SHUTDOWN call carries its executor under `kill`, which
  // then lacks its required task_id: refused, with Mesos' reason.
  scheduler.shutdown(agentId, EXECUTOR_ID);
  await r.waitForError(
    "Reponse status code was '400'. Body was 'Failed to convert JSON into Call protobuf: Missing required fields: kill.task_id'",
  );

  // TEARDOWN: the agent sends SHUTDOWN; the executor exits on it.
  stopResubscribing(r);
  scheduler.teardown();
  await r.waitForSent("teardown");
  await waitLong("the executor shut down and exited", () => /^exiting$/m.test(stderr())).catch(
    (error: unknown) => {
      throw new Error(`${String(error)}; executor's stderr:\n${stderr()}`);
    },
  );
  assert.match(stderr(), /^shutdown$/m);
  await waitFor("the agent to forget the framework", async () => {
    const s = await getJson<AgentState>(`${agent.url}/state`);
    return s !== undefined && !s.frameworks.some((f) => f.id === r.scheduler.frameworkId);
  });
  assert.deepEqual(
    r.errors.filter(
      (e) => !e.includes("Long-running connection was closed!") && !e.includes("kill.task_id"),
    ),
    [],
  );
});
