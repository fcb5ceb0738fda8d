/**
 * The master side of operation feedback with a real agent, where the master
 * itself has to act: after a master failover the re-registered agent lists
 * its unacknowledged operation, the new master adopts it (GET_OPERATIONS,
 * RECONCILE_OPERATIONS answer it) and the framework's acknowledgement
 * reaches the agent; an agent marked gone ends its operations with
 * OPERATION_GONE_BY_OPERATOR.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Resource } from "../../src/common/protocol/generated/mesos-v1.js";
import { codecFor } from "../../src/common/protocol/index.js";
import { SchedulerClient } from "../../src/scheduler/index.js";
import type { SchedulerEvent } from "../../src/scheduler/types.js";
import { typedOperatorCall } from "../harness/operator.js";
import {
  type DaemonHandle,
  freePort,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitForAgents,
  waitLong,
} from "../harness/processes.js";
import {
  agentOperations as agentOperationsOf,
  hex,
  operationScheduler,
  reserved,
} from "./operation-feedback-helpers.js";

const masterCodecs = {
  call: codecFor("mesos.v1.master.Call"),
  response: codecFor("mesos.v1.master.Response"),
};

describe("master operation feedback with a real agent", () => {
  let master: DaemonHandle;
  let agent: DaemonHandle;
  let agentId: string;
  let masterOptions: Parameters<typeof startMaster>[0];
  let client: SchedulerClient;
  const events: SchedulerEvent[] = [];

  before(async () => {
    masterOptions = {
      port: await freePort(),
      flags: {
        registry: "replicated_log",
        work_dir: tempDir("master-operation-failover-"),
        allocation_interval: "100ms",
      },
    };
    master = await startMaster(masterOptions);
    agent = await startAgent({
      master: master.address,
      flags: { registration_backoff_factor: "100ms" },
    });
    [agentId = ""] = await waitForAgents(master, 1);
    client = new SchedulerClient({
      master: master.address,
      framework: {
        user: "nobody",
        name: "master-operation-failover",
        roles: ["web"],
        principal: "ops",
        capabilities: [{ type: "MULTI_ROLE" }],
        failover_timeout: 3600,
      },
      autoAcknowledge: false,
      // Follows the master through its restart (same address).
      reconnect: true,
      backoff: { initialMs: 200, maxMs: 1000 },
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
  const masterOperations = async () => {
    const answer = await typedOperatorCall(master, masterCodecs, { type: "GET_OPERATIONS" });
    assert.equal(answer.status, 200, answer.text);
    return answer.response?.get_operations?.operations ?? [];
  };
  const agentOperations = () => agentOperationsOf(agent);
  /** RESERVE `id` and wait for its reliable OPERATION_FINISHED. */
  const reserve = async (id: string, resource: Resource) => {
    await scheduler.reserve(id, resource);
    return waitLong(`OPERATION_FINISHED for ${id}`, () =>
      statuses(id).find((s) => s.state === "OPERATION_FINISHED" && s.uuid !== undefined),
    );
  };

  it("after a master failover the agent's unacknowledged operation is adopted and acknowledged", async () => {
    const finished = await reserve("r1", reserved("cpus", 1));
    const [kept] = await masterOperations();
    assert.equal(kept?.info.id?.value, "r1");
    assert.equal(kept?.latest_status.state, "OPERATION_FINISHED");

    master.kill("SIGKILL");
    await master.exited;
    // Offers of the old master are gone with it.
    scheduler.skipOffersSoFar();
    master = await startMaster(masterOptions);
    // The agent re-registers and lists r1 (UpdateSlaveMessage): the new master adopts it.
    const adopted = await waitLong("r1 adopted by the new master", async () => {
      const listed = await masterOperations().catch(() => []);
      return listed.find((o) => o.info.id?.value === "r1");
    });
    assert.equal(adopted.agent_id?.value, agentId);
    assert.equal(hex(adopted.uuid.value), hex(kept?.uuid.value));
    assert.equal(adopted.latest_status.state, "OPERATION_FINISHED");

    // The framework is back (same id) and asks about r1.
    const count = statuses("r1").length;
    await waitLong("the framework re-subscribed", async () => {
      const r = await client.call({
        type: "RECONCILE_OPERATIONS",
        reconcile_operations: {
          operations: [{ operation_id: { value: "r1" }, agent_id: { value: agentId } }],
        },
      });
      return r.ok;
    });
    // The agent may also re-send its unacknowledged update (with its uuid)
    // meanwhile: the reconciliation answer is the one without a uuid.
    const answer = await waitLong("the reconciliation answer (no uuid)", () =>
      statuses("r1")
        .slice(count)
        .find((s) => s.uuid === undefined),
    );
    assert.equal(answer.state, "OPERATION_FINISHED");

    const acked = await client.acknowledgeOperationStatus(
      { value: "r1" },
      finished.uuid?.value as Uint8Array,
      { value: agentId },
    );
    assert.ok(acked.ok);
    await waitLong("the agent to forget r1", async () => (await agentOperations()).length === 0);
    assert.deepEqual(await masterOperations(), []);
  });

  it("an agent marked gone ends its unacknowledged operation with OPERATION_GONE_BY_OPERATOR", async () => {
    await reserve("r2", reserved("mem", 64));
    const gone = await typedOperatorCall(master, masterCodecs, {
      type: "MARK_AGENT_GONE",
      mark_agent_gone: { agent_id: { value: agentId } },
    });
    assert.equal(gone.status, 200, gone.text);
    const status = await waitLong("OPERATION_GONE_BY_OPERATOR for r2", () =>
      statuses("r2").find((s) => s.state === "OPERATION_GONE_BY_OPERATOR"),
    );
    assert.equal(status.message, "Agent has been marked gone");
    assert.deepEqual(await masterOperations(), []);
  });
});
