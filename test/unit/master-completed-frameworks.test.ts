/**
 * Completed frameworks across a master failover: the agent reports the
 * frameworks that left it (with their finished tasks) when it re-registers,
 * and a master that failed over lists those tasks again as completed tasks
 * of the frameworks it knows.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Executor } from "../../src/agent/executor.js";
import { Framework } from "../../src/agent/framework.js";
import { AGENT_CAPABILITIES, reregisterMessage } from "../../src/agent/registration-messages.js";
import { MasterIds } from "../../src/common/ids/index.js";
import type {
  ReregisterSlaveMessage,
  SlaveInfo,
} from "../../src/common/protocol/generated/mesos-internal.js";
import type { FrameworkInfo, Task } from "../../src/common/protocol/generated/mesos-v1.js";
import { codecFor } from "../../src/common/protocol/index.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { seededRandom } from "../../src/common/time/random.js";
import { HierarchicalAllocator } from "../../src/master/allocator/index.js";
import { defaultMasterConfig } from "../../src/master/core/config.js";
import { Master } from "../../src/master/core/master.js";
import { DEFAULT_RECOVERY_CONFIG } from "../../src/master/core/recovery.js";
import { buildMasterInfo } from "../../src/master/master-info.js";
import { InMemoryRegistrar } from "../../src/master/registrar/in-memory.js";
import { FakeStream, frameworkInfo, MASTER_ID, resources } from "./master-fixture.js";

const AGENT = "a1";
const PID = "slave(1)@127.0.0.1:5051";
const FW = frameworkInfo({ id: { value: "fw-done" }, checkpoint: true });

function agentInfo(): SlaveInfo {
  return {
    hostname: "host-a1",
    port: 5051,
    id: { value: AGENT },
    resources: resources("cpus:4;mem:1024"),
    checkpoint: true,
  };
}

function finishedTask(framework: FrameworkInfo, taskId: string): Task {
  return {
    name: taskId,
    task_id: { value: taskId },
    framework_id: { value: framework.id?.value ?? "" },
    agent_id: { value: AGENT },
    executor_id: { value: taskId },
    state: "TASK_FINISHED",
    status_update_state: "TASK_FINISHED",
    resources: resources("cpus:1;mem:64"),
  };
}

/** The agent's record of a framework whose only executor ran `acked` (acknowledged) and `unacked`. */
function completedOnAgent(info: FrameworkInfo, acked: Task, unacked: Task): Framework {
  const framework = new Framework(
    info as FrameworkInfo & { id: { value: string } },
    "scheduler(1)@127.0.0.1:4000",
    10,
  );
  const executor = new Executor(
    framework.id,
    { executor_id: { value: "e1" }, command: { value: "true" } },
    "c1",
    "/tmp/none",
    true,
    true,
  );
  executor.terminatedTasks.set(acked.task_id.value, acked);
  executor.completeTask(acked.task_id.value);
  executor.terminatedTasks.set(unacked.task_id.value, unacked);
  executor.state = "TERMINATED";
  framework.executors.set(executor.id, executor);
  framework.retireExecutor(executor);
  return framework;
}

test("agent re-registration: completed frameworks carry their finished tasks, in JSON and protobuf", () => {
  const acked = finishedTask(FW, "t1");
  const unacked = finishedTask(FW, "t2");
  const message = reregisterMessage(
    agentInfo(),
    "1.12.0",
    AGENT_CAPABILITIES,
    [],
    [completedOnAgent(FW, acked, unacked)],
  );
  const archived = message.completed_frameworks ?? [];
  assert.equal(archived.length, 1);
  assert.equal(archived[0]?.framework_info.id?.value, "fw-done");
  assert.equal(archived[0]?.pid, "scheduler(1)@127.0.0.1:4000");
  assert.deepEqual((archived[0]?.tasks ?? []).map((t) => t.task_id.value).sort(), ["t1", "t2"]);
  const codec = codecFor("mesos.internal.ReregisterSlaveMessage");
  const fromWire = codec.decodeProtobuf(codec.encodeProtobuf(message));
  assert.ok(fromWire.ok);
  assert.deepEqual(
    fromWire.value.completed_frameworks?.[0]?.tasks?.map((t) => t.state),
    ["TASK_FINISHED", "TASK_FINISHED"],
  );
  const fromJson = codec.decodeJson(codec.encodeJson(message));
  assert.ok(fromJson.ok);
  assert.equal(fromJson.value.completed_frameworks?.[0]?.tasks?.length, 2);
});

async function failedOverMaster(): Promise<{ master: Master; settle(): Promise<void> }> {
  const clock = new ManualClock();
  const random = seededRandom(5);
  const registrar = new InMemoryRegistrar();
  const info = buildMasterInfo({ id: MASTER_ID, ip: "127.0.0.1", port: 5050, hostname: "m" });
  const master = new Master({
    config: { ...defaultMasterConfig(info), agentPingTimeoutMs: 1_000_000 },
    clock,
    random,
    logger: { info: () => {}, warn: () => {}, error: () => {}, verbose: () => {} },
    io: { sendToAgent: () => {}, linkAgent: () => {} },
    allocator: new HierarchicalAllocator({ clock, random }),
    registrar,
    ids: new MasterIds(MASTER_ID),
    recovery: DEFAULT_RECOVERY_CONFIG,
    onFatal: (message) => assert.fail(message),
  });
  await registrar.apply({ kind: "admit-agent", info: agentInfo() });
  master.recover({ slaves: { slaves: [{ info: agentInfo() }] } });
  return {
    master,
    settle: async () => {
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    },
  };
}

function reregistration(
  completed: Array<{ info: FrameworkInfo; tasks: Task[] }>,
): ReregisterSlaveMessage {
  return {
    slave: agentInfo(),
    version: "1.12.0",
    tasks: [],
    frameworks: [],
    executor_infos: [],
    agent_capabilities: [{ type: "MULTI_ROLE" }],
    completed_frameworks: completed.map((c) => ({ framework_info: c.info, tasks: c.tasks })),
  };
}

test("master failover: a re-subscribed framework gets back the finished tasks the agent reports", async () => {
  const { master, settle } = await failedOverMaster();
  master.subscribe(new FakeStream("s"), { framework_info: FW });
  master.reregisterAgent(PID, reregistration([{ info: FW, tasks: [finishedTask(FW, "t1")] }]));
  await settle();
  const framework = master.frameworks.get("fw-done");
  assert.deepEqual(
    framework?.completedTasks.map((t) => [t.task_id.value, t.state, t.agent_id.value]),
    [["t1", "TASK_FINISHED", AGENT]],
  );
  assert.equal(framework?.tasks.size, 0);
});

test("master failover: finished tasks of a framework the master does not know are dropped", async () => {
  const { master, settle } = await failedOverMaster();
  const other = frameworkInfo({ id: { value: "fw-other" }, checkpoint: true });
  master.subscribe(new FakeStream("s"), { framework_info: other });
  master.reregisterAgent(PID, reregistration([{ info: FW, tasks: [finishedTask(FW, "t1")] }]));
  await settle();
  assert.ok(master.agents.has(AGENT));
  assert.equal(master.frameworks.has("fw-done"), false);
  assert.equal(master.completedFrameworks.length, 0);
  assert.equal(master.frameworks.get("fw-other")?.completedTasks.length, 0);
});

test("master failover: a finished task already listed is not listed twice", async () => {
  const { master, settle } = await failedOverMaster();
  master.subscribe(new FakeStream("s"), { framework_info: FW });
  const framework = master.frameworks.get("fw-done");
  assert.ok(framework);
  framework.completedTasks.push(finishedTask(FW, "t1"));
  master.reregisterAgent(
    PID,
    reregistration([{ info: FW, tasks: [finishedTask(FW, "t1"), finishedTask(FW, "t2")] }]),
  );
  await settle();
  assert.deepEqual(
    framework.completedTasks.map((t) => t.task_id.value),
    ["t1", "t2"],
  );
});
