/**
 * Operation feedback through a real master: a v1 scheduler (the library)
 * reserves resources on an agent that takes operations itself (a fake
 * libprocess agent registered with a resource version). The agent gets an
 * ApplyOperationMessage, its status reaches the scheduler with a uuid, the
 * scheduler's acknowledgement reaches the agent, and GET_OPERATIONS,
 * RECONCILE_OPERATIONS and the metrics follow the operation.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ApplyOperationMessage } from "../../src/common/protocol/generated/mesos-internal.js";
import type {
  Offer,
  OperationStatus,
  Resource,
} from "../../src/common/protocol/generated/mesos-v1.js";
import { codecFor } from "../../src/common/protocol/index.js";
import { resourcesFromString } from "../../src/common/resources/index.js";
import { SchedulerClient } from "../../src/scheduler/index.js";
import type { SchedulerEvent } from "../../src/scheduler/types.js";
import { OperationFakeAgent } from "../harness/fake-agent.js";
import { metricsSnapshot } from "../harness/metrics.js";
import { typedOperatorCall } from "../harness/operator.js";
import { type DaemonHandle, startMaster, stopAll, waitFor } from "../harness/processes.js";

const codecs = {
  call: codecFor("mesos.v1.master.Call"),
  response: codecFor("mesos.v1.master.Response"),
};

function resources(text: string): Resource[] {
  const parsed = resourcesFromString(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value as Resource[];
}

const AGENT_RESOURCES = resources("cpus:4;mem:1024;disk:1024");

function reservedCpus(value: number): Resource {
  return {
    name: "cpus",
    type: "SCALAR",
    scalar: { value },
    reservations: [{ type: "DYNAMIC", role: "web", principal: "ops" }],
    allocation_info: { role: "web" },
  };
}

describe("operation feedback through a real master", () => {
  let master: DaemonHandle;
  let agent: OperationFakeAgent;
  let client: SchedulerClient;
  const events: SchedulerEvent[] = [];

  before(async () => {
    master = await startMaster();
    agent = await OperationFakeAgent.start(master.address);
    await agent.register(AGENT_RESOURCES);
    client = new SchedulerClient({
      master: master.address,
      framework: {
        user: "nobody",
        name: "operation-feedback",
        roles: ["web"],
        principal: "ops",
        capabilities: [{ type: "MULTI_ROLE" }],
      },
      autoAcknowledge: false,
      reconnect: false,
    });
    client.start({ event: (e) => events.push(e) });
  });

  after(async () => {
    client?.close();
    await agent?.stop();
    await stopAll();
  });

  const offers = (): Offer[] =>
    events.flatMap((e) => ("offers" in e ? (e.offers?.offers ?? []) : []));
  const statuses = (): OperationStatus[] =>
    events.flatMap((e) =>
      "update_operation_status" in e && e.update_operation_status !== undefined
        ? [e.update_operation_status.status]
        : [],
    );

  it("RESERVE with an id: ApplyOperationMessage, the agent's status, the acknowledgement", async () => {
    const offer = await waitFor("an offer", () => offers()[0], { timeoutMs: 30_000 });
    const accepted = await client.accept(
      [offer.id],
      [{ type: "RESERVE", id: { value: "r1" }, reserve: { resources: [reservedCpus(1)] } }],
    );
    assert.ok(accepted.ok, accepted.ok ? "" : accepted.error);
    const apply = await agent.nth("mesos.internal.ApplyOperationMessage");
    assert.equal(apply.operation_info.id?.value, "r1");
    assert.deepEqual(
      [...apply.resource_version_uuid.uuid.value],
      [...(agent.resourceVersion ?? [])],
    );
    assert.equal(agent.ofType("mesos.internal.CheckpointResourcesMessage").length, 0);

    const pending = await typedOperatorCall(master, codecs, { type: "GET_OPERATIONS" });
    assert.equal(pending.status, 200);
    const [listed] = pending.response?.get_operations?.operations ?? [];
    assert.equal(listed?.latest_status.state, "OPERATION_PENDING");
    assert.equal(listed?.info.id?.value, "r1");
    assert.deepEqual([...(listed?.uuid.value ?? [])], [...apply.operation_uuid.value]);
    const before = await metricsSnapshot(master);
    assert.equal(before["master/operations/pending"], 1);
    assert.equal(before["master/operations/reserve/pending"], 1);

    const statusUuid = agent.reportStatus(apply, "OPERATION_FINISHED");
    const finished = await waitFor("OPERATION_FINISHED", () =>
      statuses().find((s) => s.state === "OPERATION_FINISHED"),
    );
    assert.equal(finished.operation_id?.value, "r1");
    assert.deepEqual([...(finished.uuid?.value ?? [])], [...statusUuid]);
    // Not acknowledged yet: still listed, in its terminal state (protobuf this time).
    const terminal = await typedOperatorCall(
      master,
      codecs,
      { type: "GET_OPERATIONS" },
      "protobuf",
    );
    assert.equal(
      terminal.response?.get_operations?.operations?.[0]?.latest_status.state,
      "OPERATION_FINISHED",
    );

    const acked = await client.acknowledgeOperationStatus(
      { value: "r1" },
      statusUuid,
      finished.agent_id,
    );
    assert.ok(acked.ok);
    const ack = await agent.nth("mesos.internal.AcknowledgeOperationStatusMessage");
    assert.deepEqual([...ack.status_uuid.value], [...statusUuid]);
    assert.deepEqual([...ack.operation_uuid.value], [...apply.operation_uuid.value]);
    const gone = await typedOperatorCall(master, codecs, { type: "GET_OPERATIONS" });
    assert.deepEqual(gone.response?.get_operations?.operations ?? [], []);
    const after = await metricsSnapshot(master);
    assert.equal(after["master/operations/pending"], 0);
    assert.equal(after["master/operations/finished"], 1);
    assert.equal(after["master/operations/reserve/finished"], 1);
    assert.equal(after["master/valid_operation_status_updates"], 1);
    assert.equal(after["master/valid_operation_status_update_acknowledgements"], 1);

    // Forgotten: reconciliation no longer knows it.
    await client.call({
      type: "RECONCILE_OPERATIONS",
      reconcile_operations: {
        operations: [{ operation_id: { value: "r1" }, agent_id: { value: agent.agentId } }],
      },
    });
    const unknown = await waitFor("OPERATION_UNKNOWN", () =>
      statuses().find((s) => s.state === "OPERATION_UNKNOWN"),
    );
    assert.equal(unknown.message, "Reconciliation: Operation is unknown");
  });

  it("an operator's RESERVE_RESOURCES goes to the agent; the master acknowledges its status", async () => {
    const before = agent.ofType("mesos.internal.ApplyOperationMessage").length;
    const answer = await typedOperatorCall(master, codecs, {
      type: "RESERVE_RESOURCES",
      reserve_resources: {
        agent_id: { value: agent.agentId },
        resources: [
          {
            name: "mem",
            type: "SCALAR",
            scalar: { value: 64 },
            reservations: [{ type: "DYNAMIC", role: "ops-role" }],
          },
        ],
      },
    });
    assert.equal(answer.status, 202, answer.text);
    const apply = await agent.nth("mesos.internal.ApplyOperationMessage", before + 1);
    assert.equal(apply.framework_id, undefined);
    const acks = agent.ofType("mesos.internal.AcknowledgeOperationStatusMessage").length;
    const statusUuid = agent.reportStatus(apply, "OPERATION_FINISHED");
    const ack = await agent.nth("mesos.internal.AcknowledgeOperationStatusMessage", acks + 1);
    assert.deepEqual([...ack.status_uuid.value], [...statusUuid]);
    const listed = await typedOperatorCall(master, codecs, { type: "GET_OPERATIONS" });
    assert.deepEqual(listed.response?.get_operations?.operations ?? [], []);
  });

  it("after re-registration, an operation the agent does not report is reconciled with it", async () => {
    const before = agent.ofType("mesos.internal.ApplyOperationMessage").length;
    await typedOperatorCall(master, codecs, {
      type: "UNRESERVE_RESOURCES",
      unreserve_resources: {
        agent_id: { value: agent.agentId },
        resources: [
          {
            name: "mem",
            type: "SCALAR",
            scalar: { value: 64 },
            reservations: [{ type: "DYNAMIC", role: "ops-role" }],
          },
        ],
      },
    });
    const apply = await agent.nth("mesos.internal.ApplyOperationMessage", before + 1);
    await agent.reregister(AGENT_RESOURCES);
    agent.updateSlave([]);
    const reconcile = await agent.nth("mesos.internal.ReconcileOperationsMessage");
    assert.deepEqual(
      reconcile.operations?.map((o) => [...(o.operation_uuid?.value ?? [])]),
      [[...apply.operation_uuid.value]],
    );
    // The agent never got it: OPERATION_DROPPED, acknowledged by the master (no framework).
    const acks = agent.ofType("mesos.internal.AcknowledgeOperationStatusMessage").length;
    agent.reportStatus(apply, "OPERATION_DROPPED");
    await agent.nth("mesos.internal.AcknowledgeOperationStatusMessage", acks + 1);
    const listed = await typedOperatorCall(master, codecs, { type: "GET_OPERATIONS" });
    assert.deepEqual(listed.response?.get_operations?.operations ?? [], []);
    assert.equal((await metricsSnapshot(master))["master/operations/unreserve/dropped"], 1);
  });
});

describe("GET_OPERATIONS under view_roles ACLs", () => {
  let master: DaemonHandle;
  let agent: OperationFakeAgent;

  before(async () => {
    const acls = {
      permissive: true,
      view_roles: [
        { principals: { type: "ANY" }, roles: { values: ["seen"] } },
        { principals: { type: "ANY" }, roles: { type: "NONE" } },
      ],
    };
    master = await startMaster({ flags: { acls: JSON.stringify(acls) } });
    agent = await OperationFakeAgent.start(master.address);
    await agent.register(AGENT_RESOURCES);
  });

  after(async () => {
    await agent?.stop();
    await stopAll();
  });

  const mem = (role: string): Resource => ({
    name: "mem",
    type: "SCALAR",
    scalar: { value: 32 },
    reservations: [{ type: "DYNAMIC", role }],
  });

  /** Applies an operator call on the agent and returns the operation the agent got. */
  async function operate(
    type: "RESERVE_RESOURCES" | "UNRESERVE_RESOURCES",
    role: string,
  ): Promise<ApplyOperationMessage> {
    const n = agent.ofType("mesos.internal.ApplyOperationMessage").length;
    const body =
      type === "RESERVE_RESOURCES"
        ? { reserve_resources: { agent_id: { value: agent.agentId }, resources: [mem(role)] } }
        : { unreserve_resources: { agent_id: { value: agent.agentId }, resources: [mem(role)] } };
    const answer = await typedOperatorCall(master, codecs, { type, ...body });
    assert.equal(answer.status, 202, answer.text);
    return agent.nth("mesos.internal.ApplyOperationMessage", n + 1);
  }

  it("lists only operations whose consumed resources' roles the caller may view", async () => {
    for (const role of ["seen", "hidden"]) {
      const acks = agent.ofType("mesos.internal.AcknowledgeOperationStatusMessage").length;
      agent.reportStatus(await operate("RESERVE_RESOURCES", role), "OPERATION_FINISHED");
      await agent.nth("mesos.internal.AcknowledgeOperationStatusMessage", acks + 1);
    }
    // Pending UNRESERVEs consume reserved resources: their roles decide.
    await operate("UNRESERVE_RESOURCES", "seen");
    await operate("UNRESERVE_RESOURCES", "hidden");
    const listed = await typedOperatorCall(master, codecs, { type: "GET_OPERATIONS" });
    assert.equal(listed.status, 200);
    assert.deepEqual(
      (listed.response?.get_operations?.operations ?? []).map(
        (o) => o.info.unreserve?.resources?.[0]?.reservations?.[0]?.role,
      ),
      ["seen"],
    );
  });
});
