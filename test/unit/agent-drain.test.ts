/**
 * The agent core while draining (DrainSlaveMessage) and with executor
 * tokens, driven directly with fakes.
 */
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
import type { StatusUpdateMessage } from "../../src/common/protocol/generated/mesos-internal.js";
import type { TaskInfo, TaskStatus } from "../../src/common/protocol/generated/mesos-v1.js";
import type { Event } from "../../src/common/protocol/generated/mesos-v1-executor.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { seededRandom } from "../../src/common/time/random.js";
import { testAgentConfig } from "../harness/agent-config.js";

const MASTER = "master@127.0.0.1:5050";
const FRAMEWORK = "F-0000";

function config(extra: Partial<AgentConfig> = {}): AgentConfig {
  return testAgentConfig({
    info: { hostname: "h", port: 5051, resources: [] },
    capabilities: [{ type: "AGENT_DRAINING" }],
    ...extra,
  });
}

function task(id: string, graceSecs?: number): TaskInfo {
  return {
    name: id,
    task_id: { value: id },
    agent_id: { value: "S0" },
    resources: [],
    command: { value: "sleep 100" },
    ...(graceSecs === undefined
      ? {}
      : { kill_policy: { grace_period: { nanoseconds: graceSecs * 1e9 } } }),
  };
}

function setup(extra: Partial<AgentConfig> = {}) {
  const clock = new ManualClock();
  const sent: { type: string; message: unknown }[] = [];
  const launches: ContainerLaunch[] = [];
  const containerizer: Containerizer = {
    launch: (launch) => {
      launches.push(launch);
    },
    destroy: () => {},
  };
  const agent = new Agent({
    config: config(extra),
    clock,
    random: seededRandom(3),
    logger: silentLogger,
    transport: { send: (_to, type, message) => sent.push({ type, message }), link: () => {} },
    containerizer,
  });
  agent.start(MASTER);
  clock.advance(1000);
  agent.registered(MASTER, { slave_id: { value: "S0" } });
  const run = (t: TaskInfo) =>
    agent.runTask(MASTER, {
      framework: { user: "u", name: "fw", id: { value: FRAMEWORK } },
      task: t,
    });
  const updates = () =>
    sent
      .filter((s) => s.type === "mesos.internal.StatusUpdateMessage")
      .map((s) => (s.message as StatusUpdateMessage).update.status);
  return { clock, agent, launches, run, updates };
}

function subscribe(t: ReturnType<typeof setup>, executorId: string): Event[] {
  const events: Event[] = [];
  const launch = t.launches.find((l) => l.executorId === executorId) as ContainerLaunch;
  t.agent.containerLaunched(launch.containerId, { pid: 42 });
  const connection: ExecutorConnection = { send: (e) => events.push(e), close: () => {} };
  t.agent.subscribe(FRAMEWORK, executorId, {}, connection);
  return events;
}

const status = (id: string, state: TaskStatus["state"], n: number): TaskStatus => {
  const uuid = new Uint8Array(16);
  uuid[0] = n;
  uuid[6] = 0x40;
  return { task_id: { value: id }, state, source: "SOURCE_EXECUTOR", uuid, timestamp: 1 };
};

describe("agent draining", () => {
  it("kills each task with the grace period capped, drops new tasks and marks KILLED updates", () => {
    const t = setup();
    t.run(task("long", 60));
    t.run(task("short", 1));
    const long = subscribe(t, "long");
    const short = subscribe(t, "short");
    t.agent.executorUpdate(FRAMEWORK, "long", status("long", "TASK_RUNNING", 1));
    t.agent.executorUpdate(FRAMEWORK, "short", status("short", "TASK_RUNNING", 2));

    t.agent.drain(MASTER, { config: { max_grace_period: { nanoseconds: 3e9 } } });
    assert.deepEqual(t.agent.draining.config, { max_grace_period: { nanoseconds: 3e9 } });
    const kill = (events: Event[]) => events.find((e) => e.type === "KILL")?.kill;
    assert.deepEqual(kill(long)?.kill_policy, { grace_period: { nanoseconds: 3e9 } });
    assert.equal(kill(short)?.kill_policy, undefined, "a shorter own grace period stays");

    t.run(task("late"));
    const late = t.updates().find((s) => s.task_id.value === "late");
    assert.equal(late?.state, "TASK_LOST", "the framework is not partition-aware");
    assert.equal(late?.reason, "REASON_AGENT_DRAINING");
    assert.equal(t.launches.length, 2, "no executor for a task sent while draining");

    // The KILLED update goes to the master once RUNNING is acknowledged.
    t.agent.statusUpdateAcknowledgement(MASTER, {
      slave_id: { value: "S0" },
      framework_id: { value: FRAMEWORK },
      task_id: { value: "long" },
      uuid: status("long", "TASK_RUNNING", 1).uuid ?? new Uint8Array(),
    });
    t.agent.executorUpdate(FRAMEWORK, "long", status("long", "TASK_KILLED", 3));
    const killed = t
      .updates()
      .filter((s) => s.task_id.value === "long")
      .at(-1);
    assert.equal(killed?.state, "TASK_KILLED");
    assert.equal(killed?.reason, "REASON_AGENT_DRAINING");
  });

  it("with no framework on the agent there is nothing to drain", () => {
    const t = setup();
    t.agent.drain(MASTER, { config: { mark_gone: true } });
    assert.equal(t.agent.draining.active, false);
  });

  it("ignores a drain request from anyone but the master", () => {
    const t = setup();
    t.run(task("a"));
    t.agent.drain("master@10.0.0.9:5050", { config: {} });
    assert.equal(t.agent.draining.active, false);
  });
});

describe("executor tokens", () => {
  it("an executor is launched with the token made for its framework, executor and container", () => {
    const made: unknown[] = [];
    const t = setup({
      executorToken: (ids) => {
        made.push(ids);
        return "token-1";
      },
    });
    t.run(task("a"));
    const launch = t.launches[0] as ContainerLaunch;
    assert.equal(launch.environment.MESOS_EXECUTOR_AUTHENTICATION_TOKEN, "token-1");
    assert.deepEqual(made, [
      { frameworkId: FRAMEWORK, executorId: "a", containerId: launch.containerId },
    ]);
    const none = setup();
    none.run(task("b"));
    assert.equal(none.launches[0]?.environment.MESOS_EXECUTOR_AUTHENTICATION_TOKEN, undefined);
  });
});
