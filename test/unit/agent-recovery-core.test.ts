import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Agent, type AgentConfig, type ContainerLaunch } from "../../src/agent/agent.js";
import { FileCheckpointer } from "../../src/agent/checkpoint/checkpointer.js";
import { readCheckpoints } from "../../src/agent/checkpoint/state.js";
import type { ExecutorConnection } from "../../src/agent/executor.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import type {
  ReregisterSlaveMessage,
  StatusUpdateMessage,
} from "../../src/common/protocol/generated/mesos-internal.js";
import type { Event } from "../../src/common/protocol/generated/mesos-v1-executor.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { seededRandom } from "../../src/common/time/random.js";
import { testAgentConfig } from "../harness/agent-config.js";

const MASTER = "master@127.0.0.1:5050";
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function config(workDir: string): AgentConfig {
  return testAgentConfig({ workDir });
}

class Connection implements ExecutorConnection {
  events: Event[] = [];
  send(event: Event): void {
    this.events.push(event);
  }
  close(): void {}
}

function agentOn(workDir: string, checkpointer: FileCheckpointer) {
  const clock = new ManualClock();
  const sent: { type: string; message: unknown }[] = [];
  const launches: ContainerLaunch[] = [];
  const destroyed: string[] = [];
  const agent = new Agent({
    config: config(workDir),
    clock,
    random: seededRandom(3),
    logger: silentLogger,
    transport: { send: (_to, type, message) => sent.push({ type, message }), link: () => {} },
    containerizer: {
      launch: (l) => launches.push(l),
      destroy: (id) => destroyed.push(id),
    },
    checkpointer,
  });
  return { agent, clock, sent, launches, destroyed };
}

const tick = () => new Promise((r) => setImmediate(r));

/** A registered agent that was given task `t` of checkpointing framework `F`. */
function agentRunningTask() {
  const workDir = mkdtempSync(join(tmpdir(), "agent-core-recovery-"));
  dirs.push(workDir);
  const checkpointer = new FileCheckpointer(workDir);
  const first = agentOn(workDir, checkpointer);
  first.agent.start(MASTER);
  first.clock.advance(1000);
  first.agent.registered(MASTER, { slave_id: { value: "A-S0" } });
  first.agent.runTask(MASTER, {
    framework: { user: "u", name: "fw", id: { value: "F" }, checkpoint: true },
    framework_id: { value: "F" },
    task: {
      name: "t",
      task_id: { value: "t" },
      agent_id: { value: "A-S0" },
      resources: [],
      command: { value: "sleep 100" },
    },
  });
  return { workDir, checkpointer, first };
}

/** The same agent, dead once its checkpoint is on disk: its work dir and checkpoint. */
async function checkpointedTask() {
  const { workDir, checkpointer } = agentRunningTask();
  await checkpointer.idle();
  const state = readCheckpoints(workDir, true, "boot");
  assert.ok(state.agent);
  return { workDir, state: { ...state, agent: state.agent } };
}

describe("agent core recovery", () => {
  it("a restarted agent restores its id, executor and task, and re-registers with them", async () => {
    const { workDir, checkpointer, first } = agentRunningTask();
    const launch = first.launches[0];
    assert.ok(launch);
    first.agent.containerLaunched(launch.containerId, { pid: 4242 });
    const connection = new Connection();
    first.agent.subscribe("F", "t", {}, connection);
    const uuid = new Uint8Array(16).fill(7);
    first.agent.executorUpdate("F", "t", {
      task_id: { value: "t" },
      state: "TASK_RUNNING",
      uuid,
    });
    await checkpointer.idle();
    await tick();
    assert.ok(
      connection.events.some((e) => e.type === "ACKNOWLEDGED"),
      "acknowledged to the executor once on disk",
    );
    const forwarded = first.sent.filter((s) => s.type === "mesos.internal.StatusUpdateMessage");
    assert.equal(forwarded.length, 1);
    // The agent dies here: the update was never acknowledged by the framework.

    const state = readCheckpoints(workDir, true, "boot");
    assert.ok(state.agent);
    const secondCheckpointer = new FileCheckpointer(workDir);
    const second = agentOn(workDir, secondCheckpointer);
    const recovered = second.agent.recover(state.agent);
    assert.equal(second.agent.id, "A-S0");
    assert.deepEqual(
      recovered.map((r) => r.ids.containerId),
      [launch.containerId],
    );
    assert.equal(second.agent.reregisteringExecutors, 1);
    second.agent.subscribe("F", "t", {}, new Connection());
    assert.equal(second.agent.reregisteringExecutors, 0);
    second.agent.start(MASTER);
    second.clock.advance(1000);
    const reregister = second.sent.find((s) => s.type === "mesos.internal.ReregisterSlaveMessage");
    assert.ok(reregister, "re-registers (same id) instead of registering");
    const message = reregister.message as ReregisterSlaveMessage;
    assert.equal(message.slave.id?.value, "A-S0");
    assert.deepEqual(
      (message.tasks ?? []).map((t) => [t.task_id.value, t.state]),
      [["t", "TASK_RUNNING"]],
    );
    second.agent.reregistered(MASTER, { slave_id: { value: "A-S0" } });
    await secondCheckpointer.idle();
    const replayed = second.sent
      .filter((s) => s.type === "mesos.internal.StatusUpdateMessage")
      .map((s) => (s.message as StatusUpdateMessage).update.status.state);
    assert.deepEqual(replayed, ["TASK_RUNNING"], "the unacknowledged update is sent again");
  });

  it("executors that do not re-subscribe in time are destroyed and their tasks lost", async () => {
    const { workDir, state } = await checkpointedTask();
    const secondCheckpointer = new FileCheckpointer(workDir);
    const second = agentOn(workDir, secondCheckpointer);
    const [recovered] = second.agent.recover(state.agent);
    assert.ok(recovered);
    second.agent.reregisterExecutorTimeout();
    assert.deepEqual(second.destroyed, [recovered.ids.containerId]);
    second.agent.containerTerminated(recovered.ids.containerId, { status: 9 });
    await secondCheckpointer.idle();
    second.agent.start(MASTER);
    second.clock.advance(1000);
    second.agent.reregistered(MASTER, { slave_id: { value: "A-S0" } });
    const updates = second.sent
      .filter((s) => s.type === "mesos.internal.StatusUpdateMessage")
      .map((s) => (s.message as StatusUpdateMessage).update.status);
    assert.deepEqual(
      updates.map((u) => [u.state, u.reason]),
      [["TASK_LOST", "REASON_EXECUTOR_REREGISTRATION_TIMEOUT"]],
    );
  });

  it("--recover=cleanup: once the old executors are being killed, the agent is no longer recovering (its /state answers) and a re-subscribing executor is shut down", async () => {
    const { workDir, state } = await checkpointedTask();
    const second = agentOn(workDir, new FileCheckpointer(workDir));
    const [recovered] = second.agent.recover(state.agent);
    assert.ok(recovered);
    assert.equal(second.agent.recovering, true);
    second.agent.cleanupRecovered();
    assert.equal(second.agent.recovering, false, "Mesos answers /state while TERMINATING");
    assert.equal(second.agent.isCleaningUp, true);
    assert.deepEqual(second.destroyed, [recovered.ids.containerId]);
    const late = new Connection();
    second.agent.subscribe("F", "t", {}, late);
    assert.deepEqual(
      late.events.map((e) => e.type),
      ["SHUTDOWN"],
    );
  });
});
