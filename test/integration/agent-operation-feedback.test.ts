/**
 * Operation feedback end to end, real master and real agent: a framework
 * RESERVEs with an operation id; the agent applies the ApplyOperationMessage
 * and reports OPERATION_FINISHED with a uuid, which reaches the framework;
 * the agent lists the operation in GET_OPERATIONS until the framework's
 * acknowledgement reaches it. An operation left unacknowledged survives an
 * agent restart: its status update is sent again (the same uuid) once the
 * agent is back, and acknowledging it then clears it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { readResourceState } from "../../src/agent/resources-checkpoint.js";
import type { Resource } from "../../src/common/protocol/generated/mesos-v1.js";
import { SchedulerClient } from "../../src/scheduler/index.js";
import type { SchedulerEvent } from "../../src/scheduler/types.js";
import {
  type DaemonHandle,
  freePort,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitLong,
} from "../harness/processes.js";
import {
  agentOperations as agentOperationsOf,
  hex,
  operationScheduler,
  reserved,
} from "./operation-feedback-helpers.js";

describe("agent operation feedback with a real master", () => {
  let master: DaemonHandle;
  let agent: DaemonHandle;
  let agentPort: number;
  const workDir = tempDir("agent-operation-feedback-");
  let client: SchedulerClient;
  const events: SchedulerEvent[] = [];

  const startOurAgent = () =>
    startAgent({
      master: master.address,
      port: agentPort,
      flags: { work_dir: workDir, registration_backoff_factor: "10ms" },
    });

  before(async () => {
    master = await startMaster();
    agentPort = await freePort();
    agent = await startOurAgent();
    client = new SchedulerClient({
      master: master.address,
      framework: {
        user: "nobody",
        name: "agent-operation-feedback",
        roles: ["web"],
        principal: "ops",
        capabilities: [{ type: "MULTI_ROLE" }],
      },
      autoAcknowledge: false,
      reconnect: false,
    });
    client.start({ event: (e) => events.push(e) });
    scheduler = operationScheduler(client, events);
  });

  after(async () => {
    client?.close();
    await stopAll();
  });

  let scheduler: ReturnType<typeof operationScheduler>;
  const statuses = (id: string) => scheduler.statuses(id);
  const reserve = (id: string, resource: Resource) => scheduler.reserve(id, resource);
  const agentOperations = () => agentOperationsOf(agent);

  it("RESERVE: OPERATION_FINISHED from the agent with a uuid; acknowledged, the agent forgets it", async () => {
    await reserve("r1", reserved("cpus", 1));
    const finished = await waitLong("OPERATION_FINISHED for r1", () =>
      statuses("r1").find((s) => s.state === "OPERATION_FINISHED"),
    );
    assert.equal(finished.uuid?.value.length, 16, "sent reliably: a uuid to acknowledge");
    const listed = await agentOperations();
    assert.equal(listed.length, 1, "unacknowledged: the agent lists it");
    assert.equal(listed[0]?.info.id?.value, "r1");
    assert.equal(listed[0]?.latest_status.state, "OPERATION_FINISHED");
    assert.equal(hex(listed[0]?.latest_status.uuid?.value), hex(finished.uuid?.value));
    const onDisk = readResourceState(workDir);
    assert.ok(
      onDisk.resources.some((r) => r.name === "cpus" && r.reservations?.[0]?.role === "web"),
      "the agent checkpointed the reservation",
    );

    const acked = await client.acknowledgeOperationStatus(
      { value: "r1" },
      finished.uuid?.value as Uint8Array,
      finished.agent_id,
    );
    assert.ok(acked.ok);
    await waitLong("the agent to forget r1", async () => (await agentOperations()).length === 0);
    await waitLong("r1 gone from the agent's checkpoint too", () => {
      return readResourceState(workDir).operations.length === 0;
    });
  });

  it("an unacknowledged operation is sent again after the agent restarts", async () => {
    await reserve("r2", reserved("mem", 64));
    const first = await waitLong("OPERATION_FINISHED for r2", () =>
      statuses("r2").find((s) => s.state === "OPERATION_FINISHED"),
    );
    const count = statuses("r2").length;
    agent.kill("SIGKILL");
    await agent.exited;
    agent = await startOurAgent();
    const again = await waitLong(
      "r2's update again after the restart",
      () => statuses("r2")[count],
    );
    assert.equal(again.state, "OPERATION_FINISHED");
    assert.equal(hex(again.uuid?.value), hex(first.uuid?.value), "the same status update");
    const listed = await agentOperations();
    assert.deepEqual(
      listed.map((o) => o.info.id?.value),
      ["r2"],
      "the restarted agent still lists it",
    );

    const acked = await client.acknowledgeOperationStatus(
      { value: "r2" },
      again.uuid?.value as Uint8Array,
      again.agent_id,
    );
    assert.ok(acked.ok);
    await waitLong("the agent to forget r2", async () => (await agentOperations()).length === 0);
  });
});
