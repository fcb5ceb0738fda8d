import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Agent,
  type AgentConfig,
  type Containerizer,
  type ContainerLaunch,
} from "../../src/agent/agent.js";
import type { ExecutorConnection } from "../../src/agent/executor.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import type {
  RunTaskMessage,
  StatusUpdateMessage,
} from "../../src/common/protocol/generated/mesos-internal.js";
import type {
  TaskInfo,
  TaskState,
  TaskStatus,
} from "../../src/common/protocol/generated/mesos-v1.js";
import type { Event } from "../../src/common/protocol/generated/mesos-v1-executor.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { seededRandom } from "../../src/common/time/random.js";
import { testAgentConfig } from "../harness/agent-config.js";

const MASTER = "master@127.0.0.1:5050";
const FRAMEWORK = "F-0000";
const AGENT_ID = "M-S0";

interface Sent {
  to: string;
  type: string;
  message: unknown;
}

function config(): AgentConfig {
  return testAgentConfig({
    info: {
      hostname: "h",
      port: 5051,
      checkpoint: true,
      resources: [{ name: "cpus", type: "SCALAR", scalar: { value: 4 } }],
    },
    capabilities: [{ type: "MULTI_ROLE" }],
  });
}

class FakeContainerizer implements Containerizer {
  launches: ContainerLaunch[] = [];
  destroyed: string[] = [];
  launch(launch: ContainerLaunch): void {
    this.launches.push(launch);
  }
  destroy(containerId: string): void {
    this.destroyed.push(containerId);
  }
}

class FakeConnection implements ExecutorConnection {
  events: Event[] = [];
  closed = false;
  send(event: Event): void {
    this.events.push(event);
  }
  close(): void {
    this.closed = true;
  }
  types(): string[] {
    return this.events.map((e) => e.type ?? "");
  }
}

function setup() {
  const clock = new ManualClock();
  const sent: Sent[] = [];
  const containerizer = new FakeContainerizer();
  const fatal: string[] = [];
  const agent = new Agent({
    config: config(),
    clock,
    random: seededRandom(7),
    logger: silentLogger,
    transport: {
      send: (to, type, message) => sent.push({ to, type, message }),
      link: () => {},
    },
    containerizer,
    onFatal: (m) => fatal.push(m),
  });
  const of = (type: string) => sent.filter((s) => s.type === `mesos.internal.${type}`);
  const updates = () =>
    of("StatusUpdateMessage").map((s) => (s.message as StatusUpdateMessage).update);
  return { clock, sent, containerizer, agent, of, updates, fatal };
}

function register(t: ReturnType<typeof setup>): void {
  t.agent.start(MASTER);
  t.clock.advance(1000);
  t.agent.registered(MASTER, { slave_id: { value: AGENT_ID } });
}

function commandTask(id: string, command = "sleep 100"): TaskInfo {
  return {
    name: id,
    task_id: { value: id },
    agent_id: { value: AGENT_ID },
    resources: [{ name: "cpus", type: "SCALAR", scalar: { value: 1 } }],
    command: { value: command },
  };
}

function runMessage(task: TaskInfo, extra: Partial<RunTaskMessage> = {}): RunTaskMessage {
  return {
    framework: { user: "u", name: "fw", id: { value: FRAMEWORK } },
    task,
    ...extra,
  };
}

let uuidSeq = 0;
function executorStatus(taskId: string, state: TaskState): TaskStatus {
  const uuid = new Uint8Array(16);
  uuid[0] = ++uuidSeq;
  uuid[6] = 0x40;
  return { task_id: { value: taskId }, state, source: "SOURCE_EXECUTOR", uuid, timestamp: 1 };
}

/** Registers, runs `t1`, starts and subscribes its executor. */
function running(taskId = "t1") {
  const t = setup();
  register(t);
  t.agent.runTask(MASTER, runMessage(commandTask(taskId)));
  const launch = t.containerizer.launches[0] as ContainerLaunch;
  t.agent.containerLaunched(launch.containerId, { pid: 1234 });
  const conn = new FakeConnection();
  t.agent.subscribe(FRAMEWORK, taskId, {}, conn);
  return { ...t, launch, conn };
}

describe("agent core", () => {
  it("registers with SlaveInfo (checkpoint=true), version and capabilities, and keeps the id it is given", () => {
    const t = setup();
    t.agent.start(MASTER);
    t.clock.advance(1000);
    const register = t.of("RegisterSlaveMessage");
    assert.ok(register.length >= 1, "attempted within the backoff factor");
    assert.deepEqual(register[0]?.message, {
      slave: config().info,
      version: "1.12.0",
      agent_capabilities: [{ type: "MULTI_ROLE" }],
      resource_version_uuid: { value: t.agent.resourceVersion },
    });
    t.agent.registered(MASTER, { slave_id: { value: AGENT_ID } });
    assert.equal(t.agent.id, AGENT_ID);
    assert.equal(t.agent.link.state, "RUNNING");
  });

  it("re-registers with ReregisterSlaveMessage carrying its tasks after losing the master", () => {
    const t = running();
    t.agent.exited(MASTER);
    t.clock.advance(1000);
    const rereg = t.of("ReregisterSlaveMessage");
    assert.equal(rereg.length, 1);
    const message = rereg[0]?.message as { slave: { id?: { value: string } }; tasks: unknown[] };
    assert.equal(message.slave.id?.value, AGENT_ID);
    assert.equal(message.tasks.length, 1);
  });

  it("ignores a registration naming a different id once registered", () => {
    const t = setup();
    register(t);
    t.agent.reregistered(MASTER, { slave_id: { value: "other" } });
    assert.equal(t.fatal.length, 1);
  });

  it("launches a command task's executor in the Mesos sandbox with the executor environment", () => {
    const t = setup();
    register(t);
    t.agent.runTask(MASTER, runMessage(commandTask("t1")));
    assert.equal(t.containerizer.launches.length, 1);
    const launch = t.containerizer.launches[0] as ContainerLaunch;
    assert.equal(
      launch.directory,
      `/work/slaves/${AGENT_ID}/frameworks/${FRAMEWORK}/executors/t1/runs/${launch.containerId}`,
    );
    assert.equal(launch.commandExecutor, true);
    assert.equal(launch.environment.MESOS_EXECUTOR_ID, "t1");
    assert.equal(launch.environment.MESOS_SANDBOX, launch.directory);
    assert.equal(launch.environment.MESOS_AGENT_ENDPOINT, "127.0.0.1:5051");
    assert.equal(launch.user, undefined, "no user switch without root");
  });

  it("ignores RunTaskMessage from anyone but the master", () => {
    const t = setup();
    register(t);
    t.agent.runTask("master@10.9.9.9:1", runMessage(commandTask("t1")));
    assert.equal(t.containerizer.launches.length, 0);
  });

  it("sends SUBSCRIBED then LAUNCH to a subscribing executor", () => {
    const t = running();
    assert.deepEqual(t.conn.types(), ["SUBSCRIBED", "LAUNCH"]);
    const subscribed = t.conn.events[0]?.subscribed;
    assert.equal(subscribed?.container_id?.value, t.launch.containerId);
    assert.equal(subscribed?.agent_info.id?.value, AGENT_ID);
    assert.equal(t.conn.events[1]?.launch?.task.task_id.value, "t1");
  });

  it("acknowledges an executor's update at once and forwards it to the master with the agent's pid", () => {
    const t = running();
    const status = executorStatus("t1", "TASK_RUNNING");
    t.agent.executorUpdate(FRAMEWORK, "t1", status);
    const ack = t.conn.events.find((e) => e.type === "ACKNOWLEDGED");
    assert.deepEqual(ack?.acknowledged?.uuid, status.uuid);
    const forwarded = t.of("StatusUpdateMessage");
    assert.equal(forwarded.length, 1);
    const message = forwarded[0]?.message as StatusUpdateMessage;
    assert.equal(message.pid, "slave(1)@127.0.0.1:5051");
    assert.equal(message.update.status.state, "TASK_RUNNING");
    assert.equal(message.update.latest_state, "TASK_RUNNING");
    assert.equal(message.update.slave_id?.value, AGENT_ID);
  });

  it("frees a task's resources as soon as its terminal update arrives", () => {
    const t = running();
    const executor = t.agent.frameworks.get(FRAMEWORK)?.executors.get("t1");
    assert.equal(executor?.allocatedResources().cpus(), 1.1);
    t.agent.executorUpdate(FRAMEWORK, "t1", executorStatus("t1", "TASK_FINISHED"));
    assert.equal(executor?.allocatedResources().cpus(), 0.1);
  });

  it("keeps updates of a task in order until each is acknowledged, and re-sends", () => {
    const t = running();
    const r = executorStatus("t1", "TASK_RUNNING");
    const f = executorStatus("t1", "TASK_FINISHED");
    t.agent.executorUpdate(FRAMEWORK, "t1", r);
    t.agent.executorUpdate(FRAMEWORK, "t1", f);
    assert.deepEqual(
      t.updates().map((u) => u.status.state),
      ["TASK_RUNNING"],
    );
    t.clock.advance(10_000);
    assert.deepEqual(
      t.updates().map((u) => u.status.state),
      ["TASK_RUNNING", "TASK_RUNNING"],
    );
    t.agent.statusUpdateAcknowledgement(MASTER, {
      slave_id: { value: AGENT_ID },
      framework_id: { value: FRAMEWORK },
      task_id: { value: "t1" },
      uuid: r.uuid as Uint8Array,
    });
    assert.deepEqual(
      t.updates().map((u) => u.status.state),
      ["TASK_RUNNING", "TASK_RUNNING", "TASK_FINISHED"],
    );
  });

  it("does not forward updates while disconnected and resends them after re-registering", () => {
    const t = running();
    t.agent.exited(MASTER);
    t.agent.executorUpdate(FRAMEWORK, "t1", executorStatus("t1", "TASK_RUNNING"));
    assert.equal(t.updates().length, 0);
    t.clock.advance(1000);
    t.agent.reregistered(MASTER, { slave_id: { value: AGENT_ID } });
    assert.equal(t.updates().length, 1);
  });

  it("fails the unfinished tasks of an executor that exits, with REASON_EXECUTOR_TERMINATED", () => {
    const t = running();
    t.agent.executorUpdate(FRAMEWORK, "t1", executorStatus("t1", "TASK_RUNNING"));
    const [first] = t.updates();
    t.agent.statusUpdateAcknowledgement(MASTER, {
      slave_id: { value: AGENT_ID },
      framework_id: { value: FRAMEWORK },
      task_id: { value: "t1" },
      uuid: first?.uuid as Uint8Array,
    });
    t.agent.containerTerminated(t.launch.containerId, { status: 9 });
    const last = t.updates().at(-1);
    assert.equal(last?.status.state, "TASK_FAILED");
    assert.equal(last?.status.reason, "REASON_EXECUTOR_TERMINATED");
    assert.equal(last?.status.source, "SOURCE_AGENT");
    assert.equal(t.of("ExitedExecutorMessage").length, 0, "not for command executors");
  });

  it("fails queued tasks with REASON_CONTAINER_LAUNCH_FAILED and the reason when the container cannot start", () => {
    const t = setup();
    register(t);
    t.agent.runTask(MASTER, runMessage(commandTask("t1")));
    const launch = t.containerizer.launches[0] as ContainerLaunch;
    t.agent.containerLaunched(launch.containerId, {
      error:
        "Failed to fetch 'http://x/y.tgz': Error downloading resource, received HTTP return code 404",
    });
    assert.deepEqual(t.containerizer.destroyed, [launch.containerId]);
    t.agent.containerTerminated(launch.containerId, {});
    const [update] = t.updates();
    assert.equal(update?.status.state, "TASK_FAILED");
    assert.equal(update?.status.reason, "REASON_CONTAINER_LAUNCH_FAILED");
    assert.match(
      update?.status.message ?? "",
      /^Failed to launch container: Failed to fetch .*404/,
    );
  });

  it("destroys an executor that does not subscribe in time and fails its task", () => {
    const t = setup();
    register(t);
    t.agent.runTask(MASTER, runMessage(commandTask("t1")));
    const launch = t.containerizer.launches[0] as ContainerLaunch;
    t.agent.containerLaunched(launch.containerId, { pid: 1 });
    t.clock.advance(60_000);
    assert.deepEqual(t.containerizer.destroyed, [launch.containerId]);
    t.agent.containerTerminated(launch.containerId, { status: 9 });
    const [update] = t.updates();
    assert.equal(update?.status.reason, "REASON_EXECUTOR_REGISTRATION_TIMEOUT");
    assert.equal(update?.status.message, "Executor did not register within 1mins");
  });

  it("passes a kill to a running executor and kills a queued task itself", () => {
    const t = running();
    t.agent.killTask(MASTER, { framework_id: { value: FRAMEWORK }, task_id: { value: "t1" } });
    assert.equal(t.conn.events.at(-1)?.type, "KILL");

    const u = setup();
    register(u);
    u.agent.runTask(MASTER, runMessage(commandTask("t2")));
    u.agent.killTask(MASTER, { framework_id: { value: FRAMEWORK }, task_id: { value: "t2" } });
    const [update] = u.updates();
    assert.equal(update?.status.state, "TASK_KILLED");
    assert.equal(update?.status.reason, "REASON_TASK_KILLED_DURING_LAUNCH");
  });

  it("answers a kill for an unknown task with TASK_LOST (TASK_DROPPED for partition-aware frameworks)", () => {
    const t = running();
    t.agent.killTask(MASTER, { framework_id: { value: FRAMEWORK }, task_id: { value: "nope" } });
    assert.equal(t.updates().at(-1)?.status.state, "TASK_LOST");
  });

  it("shuts a framework's executors down with SHUTDOWN, then kills them after the grace period", () => {
    const t = running();
    t.agent.shutdownFramework(MASTER, { framework_id: { value: FRAMEWORK } });
    assert.equal(t.conn.events.at(-1)?.type, "SHUTDOWN");
    t.agent.executorUpdate(FRAMEWORK, "t1", executorStatus("t1", "TASK_KILLED"));
    assert.equal(t.conn.events.at(-1)?.type, "ACKNOWLEDGED", "dropped but acknowledged");
    t.clock.advance(4_999);
    assert.deepEqual(t.containerizer.destroyed, []);
    t.clock.advance(1);
    assert.deepEqual(t.containerizer.destroyed, [t.launch.containerId]);
    t.agent.containerTerminated(t.launch.containerId, { status: 9 });
    assert.equal(t.agent.frameworks.size, 0);
    assert.equal(t.agent.completedFrameworks.length, 1);
    assert.equal(t.updates().length, 0, "no updates for a framework being shut down");
  });

  it("relays framework messages to the executor and executor messages to the master", () => {
    const t = running();
    const data = new Uint8Array([1, 2, 3]);
    t.agent.frameworkMessage(MASTER, {
      slave_id: { value: AGENT_ID },
      framework_id: { value: FRAMEWORK },
      executor_id: { value: "t1" },
      data,
    });
    assert.deepEqual(t.conn.events.at(-1), { type: "MESSAGE", message: { data } });
    t.agent.executorMessage(FRAMEWORK, "t1", data);
    assert.equal(t.of("ExecutorToFrameworkMessage")[0]?.to, MASTER);
  });

  it("reports a custom executor's exit to the master with ExitedExecutorMessage", () => {
    const t = setup();
    register(t);
    const task: TaskInfo = {
      name: "c",
      task_id: { value: "c1" },
      agent_id: { value: AGENT_ID },
      executor: { executor_id: { value: "custom" }, command: { value: "./my-executor" } },
    };
    t.agent.runTask(MASTER, runMessage(task));
    const launch = t.containerizer.launches[0] as ContainerLaunch;
    assert.equal(launch.commandExecutor, false);
    assert.equal(launch.executorId, "custom");
    t.agent.containerLaunched(launch.containerId, { pid: 5 });
    t.agent.containerTerminated(launch.containerId, { status: 1 << 8 });
    const exited = t.of("ExitedExecutorMessage");
    assert.equal(exited.length, 1);
    assert.deepEqual(exited[0]?.message, {
      slave_id: { value: AGENT_ID },
      framework_id: { value: FRAMEWORK },
      executor_id: { value: "custom" },
      status: 256,
    });
  });

  it("refuses task ids that cannot name a sandbox directory", () => {
    const t = setup();
    register(t);
    t.agent.runTask(MASTER, runMessage(commandTask("../escape")));
    assert.equal(t.containerizer.launches.length, 0);
    assert.equal(t.updates()[0]?.status.state, "TASK_ERROR");
    assert.equal(t.agent.frameworks.size, 0, "nothing of the framework is left");
  });
});
