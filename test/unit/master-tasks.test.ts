import assert from "node:assert/strict";
import { test } from "node:test";
import type { Offer, TaskInfo } from "../../src/common/protocol/generated/mesos-v1.js";
import type { FrameworkRecord } from "../../src/master/core/records.js";
import {
  AGENT_PID,
  agentUpdate,
  type FakeStream,
  type Fixture,
  frameworkInfo,
  makeMaster,
  registerAgent,
  resources,
  subscribe,
} from "./master-fixture.js";

interface Launched {
  f: Fixture;
  stream: FakeStream;
  framework: FrameworkRecord;
  offer: Offer;
  agentId: string;
}

async function withOffer(
  info = frameworkInfo(),
  overrides: Parameters<typeof makeMaster>[0] = {},
): Promise<Launched> {
  const f = makeMaster(overrides);
  const agentId = await registerAgent(f);
  const { stream, frameworkId } = subscribe(f, info);
  f.allocate();
  const offer = stream.last("OFFERS")?.offers?.offers?.[0];
  const framework = f.master.frameworks.get(frameworkId);
  assert.ok(offer !== undefined && framework !== undefined);
  return { f, stream, framework, offer, agentId };
}

function task(id: string, agentId: string, text = "cpus:1;mem:128"): TaskInfo {
  return {
    name: `task ${id}`,
    task_id: { value: id },
    agent_id: { value: agentId },
    resources: resources(text),
    command: { value: "sleep 1" },
  };
}

function launch(l: Launched, tasks: TaskInfo[], offerIds = [l.offer.id]): void {
  l.f.master.accept(l.framework, {
    offer_ids: offerIds,
    operations: [{ type: "LAUNCH", launch: { task_infos: tasks } }],
  });
}

test("master tasks: a valid LAUNCH sends RunTaskMessage and tracks the task in TASK_STAGING", async () => {
  const l = await withOffer();
  launch(l, [task("t1", l.agentId)]);
  const run = l.f.sentOfType("mesos.internal.RunTaskMessage")[0];
  assert.ok(run !== undefined);
  assert.equal(run.task.task_id.value, "t1");
  assert.equal(run.framework.id?.value, l.framework.id);
  assert.equal(run.launch_executor, true);
  assert.equal(run.pid, undefined, "HTTP frameworks have no pid");
  assert.equal(run.task.resources?.[0]?.allocation_info?.role, "*", "allocation role injected");
  assert.equal(l.framework.tasks.get("t1")?.state, "TASK_STAGING");
  assert.equal(l.f.master.offers.size, 0);
});

test("master tasks: updates are forwarded with their uuid; terminal ones free resources at once", async () => {
  const l = await withOffer();
  launch(l, [task("t1", l.agentId, "cpus:4;mem:1024")]);
  l.f.master.statusUpdate(agentUpdate(l.framework.id, l.agentId, "t1", "TASK_RUNNING", 1));
  const running = l.stream.last("UPDATE")?.update?.status;
  assert.equal(running?.state, "TASK_RUNNING");
  assert.equal(running?.uuid?.length, 16);
  assert.equal(running?.agent_id?.value, l.agentId);
  l.f.allocate();
  const before = l.stream.ofType("OFFERS").length;
  l.f.master.statusUpdate(agentUpdate(l.framework.id, l.agentId, "t1", "TASK_FINISHED", 2));
  assert.equal(l.framework.tasks.get("t1")?.state, "TASK_FINISHED");
  l.f.clock.advance(6000);
  l.f.allocate();
  const offers = l.stream.ofType("OFFERS");
  assert.equal(offers.length, before + 1, "resources came back before any acknowledgement");
  const cpus = offers[offers.length - 1]?.offers?.offers?.[0]?.resources?.find(
    (r) => r.name === "cpus",
  );
  assert.equal(cpus?.scalar?.value, 4);
});

test("master tasks: ACKNOWLEDGE of the terminal update completes the task and reaches the agent", async () => {
  const l = await withOffer();
  launch(l, [task("t1", l.agentId)]);
  l.f.master.statusUpdate(agentUpdate(l.framework.id, l.agentId, "t1", "TASK_FINISHED", 9));
  const uuid = new Uint8Array(16).fill(9);
  l.f.master.acknowledge(l.framework, {
    agent_id: { value: l.agentId },
    task_id: { value: "t1" },
    uuid,
  });
  assert.equal(l.framework.tasks.has("t1"), false);
  assert.equal(l.framework.completedTasks[0]?.task_id.value, "t1");
  const ack = l.f.sentOfType("mesos.internal.StatusUpdateAcknowledgementMessage")[0];
  assert.deepEqual(ack, {
    slave_id: { value: l.agentId },
    framework_id: { value: l.framework.id },
    task_id: { value: "t1" },
    uuid,
  });
});

test("master tasks: completed tasks are kept up to --max_completed_tasks_per_framework", async () => {
  const l = await withOffer(frameworkInfo(), { maxCompletedTasksPerFramework: 2 });
  launch(
    l,
    ["a", "b", "c"].map((id) => task(id, l.agentId, "cpus:0.5;mem:32")),
  );
  for (const [i, id] of ["a", "b", "c"].entries()) {
    l.f.master.statusUpdate(agentUpdate(l.framework.id, l.agentId, id, "TASK_FAILED", i + 1));
    l.f.master.acknowledge(l.framework, {
      agent_id: { value: l.agentId },
      task_id: { value: id },
      uuid: new Uint8Array(16).fill(i + 1),
    });
  }
  assert.deepEqual(
    l.framework.completedTasks.map((t) => t.task_id.value),
    ["b", "c"],
  );
});

test("master tasks: duplicate task ids in one ACCEPT: the second gets TASK_ERROR", async () => {
  const l = await withOffer();
  launch(l, [task("dup", l.agentId), task("dup", l.agentId)]);
  const error = l.stream.last("UPDATE")?.update?.status;
  assert.equal(error?.state, "TASK_ERROR");
  assert.equal(error?.reason, "REASON_TASK_INVALID");
  assert.equal(error?.source, "SOURCE_MASTER");
  assert.equal(error?.message, "Task has duplicate ID: dup");
  assert.equal(error?.uuid, undefined, "master updates need no acknowledgement");
  assert.equal(l.f.sentOfType("mesos.internal.RunTaskMessage").length, 1);
});

test("master tasks: resources beyond the offer give TASK_ERROR with the reason", async () => {
  const l = await withOffer();
  launch(l, [task("big", l.agentId, "cpus:64;mem:128")]);
  const error = l.stream.last("UPDATE")?.update?.status;
  assert.equal(error?.state, "TASK_ERROR");
  assert.equal(error?.reason, "REASON_TASK_INVALID");
  assert.match(error?.message ?? "", /^Total resources .* is more than available /);
  assert.equal(l.f.sentOfType("mesos.internal.RunTaskMessage").length, 0);
  assert.equal(l.f.master.offers.size, 0, "the offer is used up; its resources are declined");
});

test("master tasks: a task needs exactly one of command and executor", async () => {
  const l = await withOffer();
  const neither = task("n", l.agentId);
  delete neither.command;
  launch(l, [neither]);
  assert.equal(
    l.stream.last("UPDATE")?.update?.status?.message,
    "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present",
  );
});

test("master tasks: launching on another framework's offer is TASK_LOST (or TASK_DROPPED) with REASON_INVALID_OFFERS", async () => {
  const l = await withOffer();
  const other = subscribe(l.f, frameworkInfo({ capabilities: [{ type: "PARTITION_AWARE" }] }));
  const otherRecord = l.f.master.frameworks.get(other.frameworkId);
  assert.ok(otherRecord !== undefined);
  l.f.master.accept(otherRecord, {
    offer_ids: [l.offer.id],
    operations: [{ type: "LAUNCH", launch: { task_infos: [task("steal", l.agentId)] } }],
  });
  const dropped = other.stream.last("UPDATE")?.update?.status;
  assert.equal(dropped?.state, "TASK_DROPPED");
  assert.equal(dropped?.reason, "REASON_INVALID_OFFERS");
  assert.match(
    dropped?.message ?? "",
    /^Task launched with invalid offers: Offer .* has invalid framework/,
  );
  assert.ok(l.f.master.offers.has(l.offer.id.value), "the owner keeps its offer");
  launch(l, [task("late", l.agentId)], [{ value: "no-such-offer" }]);
  const lost = l.stream.last("UPDATE")?.update?.status;
  assert.equal(lost?.state, "TASK_LOST");
  assert.equal(
    lost?.message,
    "Task launched with invalid offers: Offer no-such-offer is no longer valid",
  );
});

test("master tasks: KILL of an unknown task answers TASK_LOST / TASK_UNKNOWN by reconciliation", async () => {
  const l = await withOffer();
  l.f.master.kill(l.framework, { task_id: { value: "ghost" } });
  const lost = l.stream.last("UPDATE")?.update?.status;
  assert.equal(lost?.state, "TASK_LOST");
  assert.equal(lost?.reason, "REASON_RECONCILIATION");
  const pa = subscribe(l.f, frameworkInfo({ capabilities: [{ type: "PARTITION_AWARE" }] }));
  const paRecord = l.f.master.frameworks.get(pa.frameworkId);
  assert.ok(paRecord !== undefined);
  l.f.master.kill(paRecord, { task_id: { value: "ghost" } });
  assert.equal(pa.stream.last("UPDATE")?.update?.status?.state, "TASK_UNKNOWN");
  l.f.master.kill(paRecord, { task_id: { value: "ghost" }, agent_id: { value: l.agentId } });
  assert.equal(pa.stream.last("UPDATE")?.update?.status?.state, "TASK_GONE");
});

test("master tasks: KILL of a known task is sent to its agent", async () => {
  const l = await withOffer();
  launch(l, [task("t1", l.agentId)]);
  l.f.master.kill(l.framework, { task_id: { value: "t1" } });
  const kill = l.f.sentOfType("mesos.internal.KillTaskMessage")[0];
  assert.equal(kill?.task_id.value, "t1");
  assert.equal(l.f.sent.find((s) => s.type === "mesos.internal.KillTaskMessage")?.pid, AGENT_PID);
});

test("master tasks: implicit reconciliation reports every known task; explicit the asked ones", async () => {
  const l = await withOffer();
  launch(l, [task("t1", l.agentId, "cpus:1;mem:32"), task("t2", l.agentId, "cpus:1;mem:32")]);
  l.f.master.statusUpdate(agentUpdate(l.framework.id, l.agentId, "t1", "TASK_RUNNING"));
  const before = l.stream.ofType("UPDATE").length;
  l.f.master.reconcile(l.framework, {});
  const implicit = l.stream.statuses().slice(before);
  assert.deepEqual(implicit.map((s) => [s?.task_id.value, s?.state, s?.reason]).sort(), [
    ["t1", "TASK_RUNNING", "REASON_RECONCILIATION"],
    ["t2", "TASK_STAGING", "REASON_RECONCILIATION"],
  ]);
  l.f.master.reconcile(l.framework, { tasks: [{ task_id: { value: "t2" } }] });
  assert.equal(l.stream.last("UPDATE")?.update?.status?.state, "TASK_STAGING");
});

test("master tasks: reconciliation carries the task's container status, health and check result", async () => {
  const l = await withOffer();
  launch(l, [task("t1", l.agentId, "cpus:1;mem:32")]);
  const running = agentUpdate(l.framework.id, l.agentId, "t1", "TASK_RUNNING");
  running.update.status.container_status = { container_id: { value: "c1" }, executor_pid: 42 };
  running.update.status.healthy = true;
  running.update.status.check_status = { type: "COMMAND", command: { exit_code: 0 } };
  l.f.master.statusUpdate(running);
  l.f.master.reconcile(l.framework, { tasks: [{ task_id: { value: "t1" } }] });
  const status = l.stream.last("UPDATE")?.update?.status;
  assert.equal(status?.message, "Reconciliation: Latest task state");
  assert.equal(status?.healthy, true);
  assert.deepEqual(status?.check_status, { type: "COMMAND", command: { exit_code: 0 } });
  assert.deepEqual(status?.container_status, { container_id: { value: "c1" }, executor_pid: 42 });
  assert.equal(status?.uuid, undefined);
});

test("master tasks: an unreachable agent's tasks become TASK_LOST for non-partition-aware frameworks", async () => {
  const l = await withOffer(frameworkInfo(), { agentPingTimeoutMs: 1000, maxAgentPingTimeouts: 1 });
  launch(l, [task("t1", l.agentId)]);
  l.f.clock.advance(1000);
  await l.f.settle(); // the registry records the agent as unreachable first
  const lost = l.stream.statuses().find((s) => s?.task_id.value === "t1");
  assert.equal(lost?.state, "TASK_LOST");
  assert.equal(lost?.reason, "REASON_AGENT_REMOVED");
  assert.ok(l.framework.unreachableTasks.has("t1"));
});

test("master tasks: an invalid RESERVE with an id gets OPERATION_ERROR; no TASK_ERROR", async () => {
  const l = await withOffer();
  l.f.master.accept(l.framework, {
    offer_ids: [l.offer.id],
    operations: [
      {
        type: "RESERVE",
        id: { value: "op-1" },
        reserve: { resources: resources("cpus:1") },
      },
    ],
  });
  const status = l.stream.last("UPDATE_OPERATION_STATUS")?.update_operation_status?.status;
  assert.equal(status?.state, "OPERATION_ERROR");
  assert.equal(status?.operation_id?.value, "op-1");
  assert.match(status?.message ?? "", /not dynamically reserved/);
  assert.equal(l.stream.ofType("UPDATE").length, 0);
});

test("master tasks: LAUNCH_GROUP starts the executor with all its tasks", async () => {
  const l = await withOffer();
  const executor = {
    type: "DEFAULT" as const,
    executor_id: { value: "e1" },
    framework_id: { value: l.framework.id },
    resources: resources("cpus:0.1;mem:32;disk:32"),
  };
  const tasks = ["g1", "g2"].map((id) => {
    const t = task(id, l.agentId, "cpus:0.5;mem:64");
    delete t.command;
    return t;
  });
  l.f.master.accept(l.framework, {
    offer_ids: [l.offer.id],
    operations: [{ type: "LAUNCH_GROUP", launch_group: { executor, task_group: { tasks } } }],
  });
  const run = l.f.sentOfType("mesos.internal.RunTaskGroupMessage")[0];
  assert.equal(run?.task_group.tasks?.length, 2);
  assert.equal(run?.launch_executor, true);
  assert.ok(l.framework.hasExecutor(l.agentId, "e1"));
  assert.equal(l.framework.tasks.get("g1")?.executor_id?.value, "e1");
});

test("master tasks: a task group joining a running executor must match its tasks' share_cgroups", async () => {
  const l = await withOffer();
  const executor = {
    type: "DEFAULT" as const,
    executor_id: { value: "e1" },
    framework_id: { value: l.framework.id },
    resources: resources("cpus:0.1;mem:32;disk:32"),
  };
  const member = (id: string, shareCgroups?: boolean): TaskInfo => {
    const t = task(id, l.agentId, "cpus:0.5;mem:64");
    delete t.command;
    if (shareCgroups !== undefined) {
      t.container = { type: "MESOS", linux_info: { share_cgroups: shareCgroups } };
    }
    return t;
  };
  l.f.master.accept(l.framework, {
    offer_ids: [l.offer.id],
    operations: [
      { type: "LAUNCH_GROUP", launch_group: { executor, task_group: { tasks: [member("g1")] } } },
    ],
    filters: { refuse_seconds: 0 },
  });
  l.f.allocate();
  const next = l.stream.last("OFFERS")?.offers?.offers?.[0];
  assert.ok(next !== undefined && next.id.value !== l.offer.id.value);
  l.f.master.accept(l.framework, {
    offer_ids: [next.id],
    operations: [
      {
        type: "LAUNCH_GROUP",
        launch_group: { executor, task_group: { tasks: [member("g2", false)] } },
      },
    ],
  });
  const status = l.stream.statuses().find((s) => s?.task_id.value === "g2");
  assert.equal(status?.state, "TASK_ERROR");
  assert.equal(status?.reason, "REASON_TASK_GROUP_INVALID");
  assert.equal(
    status?.message,
    "If set, the value of 'share_cgroups' must be the same for all tasks in each task group " +
      "and under a single executor",
  );
  assert.equal(l.f.sentOfType("mesos.internal.RunTaskGroupMessage").length, 1);
});

test("master tasks: an executor that exits is forgotten and reported as FAILURE", async () => {
  const l = await withOffer();
  const withExecutor = task("x", l.agentId, "cpus:0.5;mem:64");
  delete withExecutor.command;
  withExecutor.executor = {
    executor_id: { value: "custom" },
    command: { value: "./my-executor" },
    resources: resources("cpus:0.1;mem:32"),
  };
  launch(l, [withExecutor]);
  assert.ok(l.framework.hasExecutor(l.agentId, "custom"));
  l.f.master.exitedExecutor(AGENT_PID, {
    slave_id: { value: l.agentId },
    framework_id: { value: l.framework.id },
    executor_id: { value: "custom" },
    status: 256,
  });
  assert.equal(l.framework.hasExecutor(l.agentId, "custom"), false);
  const failure = l.stream.last("FAILURE")?.failure;
  assert.equal(failure?.executor_id?.value, "custom");
  assert.equal(failure?.status, 256);
});

test("master tasks: SHUTDOWN and MESSAGE for an agent that is not registered are dropped with Mesos' log lines", async () => {
  const l = await withOffer();
  const warnings: string[] = [];
  l.f.master.logger.warn = (message: string) => warnings.push(message);
  l.f.master.shutdown(l.framework, { agent_id: { value: "nope" }, executor_id: { value: "e" } });
  l.f.master.message(l.framework, {
    agent_id: { value: "nope" },
    executor_id: { value: "e" },
    data: new Uint8Array([1]),
  });
  assert.deepEqual(warnings, [
    `Unable to shutdown executor 'e' of framework ${l.framework.id} of unknown agent nope`,
    `Cannot send framework message for framework ${l.framework.id} to agent nope because agent is not registered`,
  ]);
  assert.equal(l.f.sentOfType("mesos.internal.ShutdownExecutorMessage").length, 0);
  l.f.master.shutdown(l.framework, { agent_id: { value: l.agentId }, executor_id: { value: "e" } });
  assert.equal(l.f.sentOfType("mesos.internal.ShutdownExecutorMessage").length, 1);
});
