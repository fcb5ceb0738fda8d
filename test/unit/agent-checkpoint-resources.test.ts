/**
 * CheckpointResourcesMessages are written in the order they came, each
 * after the previous write ended, and each write knows the list before it
 * (so a destroyed volume's directory can be found): with two writes in
 * flight, a slow first one could otherwise land last and leave the older
 * list on disk.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Agent } from "../../src/agent/agent.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import type { Resource } from "../../src/common/protocol/generated/mesos-v1.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { seededRandom } from "../../src/common/time/random.js";
import { testAgentConfig } from "../harness/agent-config.js";

const MASTER = "master@127.0.0.1:5050";

const disk = (mb: number): Resource => ({
  name: "disk",
  type: "SCALAR",
  scalar: { value: mb },
  reservations: [{ type: "DYNAMIC", role: "web" }],
});

test("checkpointed resources: writes run one at a time, in message order, each with the list before it", async () => {
  const agent = new Agent({
    config: testAgentConfig({ workDir: "/nonexistent" }),
    clock: new ManualClock(),
    random: seededRandom(3),
    logger: silentLogger,
    transport: { send: () => {}, link: () => {} },
    containerizer: { launch: () => {}, destroy: () => {} },
  });
  agent.start(MASTER);
  const events: string[] = [];
  const finishers: (() => void)[] = [];
  agent.resourcesCheckpoint = (resources, previous) => {
    const label = `${previous.length}->${resources.map((r) => r.scalar?.value).join(",")}`;
    events.push(`start ${label}`);
    return new Promise<void>((resolve) => {
      finishers.push(() => {
        events.push(`end ${label}`);
        resolve();
      });
    });
  };
  agent.checkpointResources(MASTER, { resources: [disk(1)] });
  agent.checkpointResources(MASTER, { resources: [disk(2), disk(3)] });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(events, ["start 0->1"], "the second write waits for the first");
  finishers.shift()?.();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(events, ["start 0->1", "end 0->1", "start 1->2,3"]);
  finishers.shift()?.();
  await new Promise((r) => setImmediate(r));
  assert.equal(events.at(-1), "end 1->2,3");
});
