/**
 * The agent core tells the containerizer an executor's resources when the
 * executor (re-)subscribes, as Mesos does: after an agent restart this is
 * how a recovered container's isolators learn its resources again. A
 * terminal status update shrinks them to what is left.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Agent } from "../../src/agent/agent.js";
import { FileCheckpointer } from "../../src/agent/checkpoint/checkpointer.js";
import { readCheckpoints } from "../../src/agent/checkpoint/state.js";
import type { ExecutorConnection } from "../../src/agent/executor.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import type { Resources } from "../../src/common/resources/index.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { seededRandom } from "../../src/common/time/random.js";
import { testAgentConfig } from "../harness/agent-config.js";

const MASTER = "master@127.0.0.1:5050";
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const connection: ExecutorConnection = { send: () => {}, close: () => {} };

function agentOn(workDir: string) {
  const checkpointer = new FileCheckpointer(workDir);
  const clock = new ManualClock();
  const updates: { id: string; resources: Resources }[] = [];
  const launches: string[] = [];
  const agent = new Agent({
    config: testAgentConfig({ workDir }),
    clock,
    random: seededRandom(5),
    logger: silentLogger,
    transport: { send: () => {}, link: () => {} },
    containerizer: {
      launch: (l) => launches.push(l.containerId),
      destroy: () => {},
      update: (id, resources) => updates.push({ id, resources }),
    },
    checkpointer,
  });
  return { agent, clock, updates, launches, checkpointer };
}

const scalar = (name: string, value: number) => ({
  name,
  type: "SCALAR" as const,
  scalar: { value },
});

test("a recovered executor's re-subscription updates its container with the executor's and its tasks' resources", async () => {
  const workDir = mkdtempSync(join(tmpdir(), "agent-resubscribe-"));
  dirs.push(workDir);
  const first = agentOn(workDir);
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
      resources: [
        scalar("cpus", 0.5),
        scalar("mem", 64),
        { name: "ports", type: "RANGES", ranges: { range: [{ begin: 31000, end: 31000 }] } },
      ],
      command: { value: "sleep 100" },
    },
  });
  const [containerId] = first.launches;
  assert.ok(containerId !== undefined);
  first.agent.containerLaunched(containerId, { pid: 4242 });
  first.agent.subscribe("F", "t", {}, connection);
  first.agent.executorUpdate("F", "t", {
    task_id: { value: "t" },
    state: "TASK_RUNNING",
    uuid: new Uint8Array(16).fill(7),
  });
  await first.checkpointer.idle();

  const state = readCheckpoints(workDir, true, "boot");
  assert.ok(state.agent);
  const second = agentOn(workDir);
  second.agent.recover(state.agent);
  assert.equal(second.updates.length, 0, "nothing before the executor re-subscribes");
  second.agent.subscribe("F", "t", {}, connection);
  assert.equal(second.updates.length, 1);
  const [update] = second.updates;
  assert.equal(update?.id, containerId);
  // The task's resources plus the command executor's own (cpus:0.1;mem:32).
  assert.ok(Math.abs((update?.resources.cpus() ?? 0) - 0.6) < 1e-9, update?.resources.toString());
  assert.equal(update?.resources.mem(), 96);
  assert.deepEqual(update?.resources.ports(), { range: [{ begin: 31000, end: 31000 }] });
});

test("a terminal status update takes the task's resources out of its container's limits", async () => {
  const workDir = mkdtempSync(join(tmpdir(), "agent-terminal-update-"));
  dirs.push(workDir);
  const a = agentOn(workDir);
  a.agent.start(MASTER);
  a.clock.advance(1000);
  a.agent.registered(MASTER, { slave_id: { value: "A-S0" } });
  a.agent.runTask(MASTER, {
    framework: { user: "u", name: "fw", id: { value: "F" } },
    framework_id: { value: "F" },
    task: {
      name: "t",
      task_id: { value: "t" },
      agent_id: { value: "A-S0" },
      resources: [scalar("cpus", 0.5), scalar("mem", 64)],
      command: { value: "sleep 100" },
    },
  });
  const [containerId] = a.launches;
  assert.ok(containerId !== undefined);
  a.agent.containerLaunched(containerId, { pid: 4242 });
  a.agent.subscribe("F", "t", {}, connection);
  const running = { task_id: { value: "t" }, state: "TASK_RUNNING" as const };
  a.agent.executorUpdate("F", "t", { ...running, uuid: new Uint8Array(16).fill(1) });
  const before = a.updates.length;
  assert.equal(a.updates.at(-1)?.resources.mem(), 96, "the task's mem while it runs");
  a.agent.executorUpdate("F", "t", {
    task_id: { value: "t" },
    state: "TASK_FINISHED",
    uuid: new Uint8Array(16).fill(2),
  });
  assert.equal(a.updates.length, before + 1);
  const last = a.updates.at(-1);
  assert.equal(last?.id, containerId);
  // Only the command executor's own resources are left (cpus:0.1;mem:32).
  assert.equal(last?.resources.mem(), 32);
  assert.ok(Math.abs((last?.resources.cpus() ?? 0) - 0.1) < 1e-9, last?.resources.toString());
});
