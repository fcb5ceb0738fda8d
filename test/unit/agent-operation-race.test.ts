/**
 * A launch the master meant for an earlier start of the agent: the master
 * sends its view of the agent's resource version with each task (as Mesos'
 * RunTaskMessage.resource_version_uuids); an agent that restarted since has
 * another version and drops the tasks, since they may use resources (say a
 * reservation from an operation the restarted agent dropped) it does not have.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Agent } from "../../src/agent/agent.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import type {
  RunTaskMessage,
  StatusUpdateMessage,
} from "../../src/common/protocol/generated/mesos-internal.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { seededRandom } from "../../src/common/time/random.js";
import { testAgentConfig } from "../harness/agent-config.js";

const MASTER = "master@127.0.0.1:5050";

function setup() {
  const clock = new ManualClock();
  const sent: { type: string; message: unknown }[] = [];
  const launched: string[] = [];
  const agent = new Agent({
    config: testAgentConfig({
      info: {
        hostname: "h",
        port: 5051,
        resources: [{ name: "cpus", type: "SCALAR", scalar: { value: 4 } }],
      },
    }),
    clock,
    random: seededRandom(5),
    logger: silentLogger,
    transport: { send: (_to, type, message) => sent.push({ type, message }), link: () => {} },
    containerizer: {
      launch: (request) => {
        launched.push(request.containerId);
      },
      destroy: () => {},
    },
  });
  agent.start(MASTER);
  clock.advance(1000);
  agent.registered(MASTER, { slave_id: { value: "S1" } });
  const updates = () =>
    sent
      .filter((s) => s.type === "mesos.internal.StatusUpdateMessage")
      .map((s) => (s.message as StatusUpdateMessage).update.status);
  return { agent, clock, launched, updates };
}

function runTask(id: string, versions?: RunTaskMessage["resource_version_uuids"]): RunTaskMessage {
  return {
    framework: { id: { value: "F1" }, user: "nobody", name: "f" },
    task: {
      name: id,
      task_id: { value: id },
      agent_id: { value: "S1" },
      resources: [
        {
          name: "cpus",
          type: "SCALAR",
          scalar: { value: 1 },
          reservations: [{ type: "DYNAMIC", role: "web" }],
          allocation_info: { role: "web" },
        },
      ],
      command: { value: "true" },
    },
    launch_executor: true,
    ...(versions === undefined ? {} : { resource_version_uuids: versions }),
  };
}

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

describe("agent launches and the resource version", () => {
  it("drops a task sent for another resource version; runs one for its own or without one", async () => {
    const s = setup();
    s.agent.runTask(MASTER, runTask("stale", [{ uuid: { value: new Uint8Array(16).fill(1) } }]));
    await settle();
    const [dropped] = s.updates();
    assert.equal(dropped?.task_id.value, "stale");
    // Not partition-aware: TASK_LOST, as Mesos' agent.
    assert.equal(dropped?.state, "TASK_LOST");
    assert.equal(dropped?.reason, "REASON_INVALID_OFFERS");
    assert.equal(dropped?.message, "Task assumes outdated resource state");
    assert.equal(s.launched.length, 0, "no container for it");

    s.agent.runTask(MASTER, runTask("current", [{ uuid: { value: s.agent.resourceVersion } }]));
    s.agent.runTask(MASTER, runTask("unversioned"));
    await settle();
    assert.equal(s.launched.length, 2, "both launch their executors");
    assert.deepEqual(
      s.updates().map((u) => u.task_id.value),
      ["stale"],
      "nothing dropped but the stale one",
    );
  });
});
