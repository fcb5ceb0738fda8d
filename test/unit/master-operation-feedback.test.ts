/**
 * The master's operation tracking (Mesos' operation feedback) against a
 * master core with fakes: agents that register with a resource version get
 * ApplyOperationMessages, their UpdateOperationStatusMessages reach the
 * framework (which acknowledges them) or are acknowledged by the master,
 * and reconciliation, agent removal and UpdateSlaveMessage use the records.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { UpdateOperationStatusMessage } from "../../src/common/protocol/generated/mesos-internal.js";
import type {
  Offer,
  Offer_Operation,
  OperationState,
  Resource,
} from "../../src/common/protocol/generated/mesos-v1.js";
import { markAgentGone, markUnreachable } from "../../src/master/core/agent-health.js";
import { drainAgent, drainInfoOf } from "../../src/master/core/drain.js";
import {
  acknowledgeOperationStatus,
  allOperations,
  operationStatusUpdate,
  reconcileOperations,
  updateAgent,
} from "../../src/master/core/operation-tracking.js";
import { applyOperatorOperation } from "../../src/master/core/operations.js";
import type { FrameworkRecord } from "../../src/master/core/records.js";
import { waitFor } from "../harness/processes.js";
import {
  AGENT_PID,
  type FakeStream,
  type Fixture,
  frameworkInfo,
  makeMaster,
  resources,
  subscribe,
} from "./master-fixture.js";

const VERSION = new Uint8Array(16).fill(9);
const FEEDBACK_CAPABILITIES = ["RESOURCE_PROVIDER", "AGENT_OPERATION_FEEDBACK"];

/** Registers an agent that takes operations (it sends a resource version). */
async function registerTrackedAgent(
  f: Fixture,
  extraCapabilities: string[] = FEEDBACK_CAPABILITIES,
  resourceVersion: Uint8Array | null = VERSION,
): Promise<string> {
  f.master.registerAgent(AGENT_PID, {
    slave: {
      hostname: "agent-host",
      port: 5051,
      resources: resources("cpus:4;mem:1024;disk:1024"),
      checkpoint: true,
    },
    version: "1.12.0",
    agent_capabilities: ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"]
      .concat(extraCapabilities)
      .map((type) => ({ type: type as never })),
    ...(resourceVersion === null ? {} : { resource_version_uuid: { value: resourceVersion } }),
  });
  await f.settle();
  const id = f.sentOfType("mesos.internal.SlaveRegisteredMessage").at(-1)?.slave_id.value;
  assert.ok(id !== undefined, "the agent registers");
  return id;
}

interface Setup {
  f: Fixture;
  stream: FakeStream;
  framework: FrameworkRecord;
  offer: Offer;
  agentId: string;
}

async function setup(
  extraCapabilities?: string[],
  resourceVersion: Uint8Array | null = VERSION,
): Promise<Setup> {
  const f = makeMaster();
  const agentId = await registerTrackedAgent(f, extraCapabilities, resourceVersion);
  const { stream, frameworkId } = subscribe(
    f,
    frameworkInfo({ roles: ["web"], principal: "ops", capabilities: [{ type: "MULTI_ROLE" }] }),
  );
  f.allocate();
  const offer = stream.last("OFFERS")?.offers?.offers?.[0];
  const framework = f.master.frameworks.get(frameworkId);
  assert.ok(offer !== undefined && framework !== undefined);
  return { f, stream, framework, offer, agentId };
}

function reservedCpus(value = 1): Resource {
  return {
    name: "cpus",
    type: "SCALAR",
    scalar: { value },
    reservations: [{ type: "DYNAMIC", role: "web", principal: "ops" }],
    allocation_info: { role: "web" },
  };
}

function reserve(id?: string): Offer_Operation {
  return {
    type: "RESERVE",
    ...(id === undefined ? {} : { id: { value: id } }),
    reserve: { resources: [reservedCpus()] },
  };
}

function acceptOne(s: Setup, operation: Offer_Operation, offer: Offer = s.offer): void {
  s.f.master.accept(s.framework, {
    offer_ids: [offer.id],
    operations: [operation],
    filters: { refuse_seconds: 0 },
  });
}

/** A new offer of the agent's resources (after an ACCEPT gave the rest back). */
function nextOffer(s: Setup): Offer {
  const before = s.stream.ofType("OFFERS").length;
  s.f.allocate();
  const offers = s.stream.ofType("OFFERS");
  assert.ok(offers.length > before, "a new offer");
  const offer = offers.at(-1)?.offers?.offers?.[0];
  assert.ok(offer !== undefined);
  return offer;
}

function statusEvents(stream: FakeStream) {
  return stream
    .ofType("UPDATE_OPERATION_STATUS")
    .map((e) => e.update_operation_status?.status)
    .filter((s) => s !== undefined);
}

/** The agent's answer to an ApplyOperationMessage. */
function agentStatus(
  s: Setup,
  operationUuid: Uint8Array,
  state: OperationState,
  options: {
    frameworkId?: string | null;
    statusUuid?: Uint8Array | null;
    operationId?: string;
  } = {},
): UpdateOperationStatusMessage {
  const statusUuid =
    options.statusUuid === null ? undefined : (options.statusUuid ?? new Uint8Array(16).fill(3));
  const status = {
    ...(options.operationId === undefined ? {} : { operation_id: { value: options.operationId } }),
    state,
    ...(statusUuid === undefined ? {} : { uuid: { value: statusUuid } }),
  };
  const frameworkId =
    options.frameworkId === null ? undefined : (options.frameworkId ?? s.framework.id);
  return {
    ...(frameworkId === undefined ? {} : { framework_id: { value: frameworkId } }),
    slave_id: { value: s.agentId },
    status,
    latest_status: status,
    operation_uuid: { value: operationUuid },
  };
}

/** Sums of `master/operations/*` counts as the metrics see them. */
function countOperations(f: Fixture): Map<string, number> {
  const counts = new Map<string, number>();
  f.master.events.listen({
    operationStateCounted: (type, state, delta) => {
      for (const key of [state, `${type}/${state}`])
        counts.set(key, (counts.get(key) ?? 0) + delta);
    },
  });
  return counts;
}

test("operation feedback: an agent with a resource version is sent the operation, not its checkpointed resources", async () => {
  const s = await setup();
  const counts = countOperations(s.f);
  acceptOne(s, reserve("r1"));
  assert.equal(s.f.sentOfType("mesos.internal.CheckpointResourcesMessage").length, 0);
  const [apply] = s.f.sentOfType("mesos.internal.ApplyOperationMessage");
  assert.ok(apply !== undefined, "ApplyOperationMessage sent");
  assert.equal(apply.framework_id?.value, s.framework.id);
  assert.equal(apply.operation_info.id?.value, "r1");
  assert.equal(apply.operation_info.type, "RESERVE");
  assert.equal(apply.operation_uuid.value.length, 16);
  assert.deepEqual([...apply.resource_version_uuid.uuid.value], [...VERSION]);
  // Speculative: the master's view changed already, and no feedback yet.
  assert.equal(s.f.master.agents.get(s.agentId)?.totalResources.reserved("web").cpus(), 1);
  assert.equal(statusEvents(s.stream).length, 0);
  const [record] = allOperations(s.f.master);
  assert.equal(record?.latest_status.state, "OPERATION_PENDING");
  assert.equal(record?.framework_id?.value, s.framework.id);
  assert.equal(record?.agent_id?.value, s.agentId);
  assert.deepEqual(record?.statuses, []);
  assert.equal(counts.get("OPERATION_PENDING"), 1);
  assert.equal(counts.get("RESERVE/OPERATION_PENDING"), 1);
});

test("operation feedback: the agent's status goes to the framework with its uuid; the acknowledgement goes back and ends the record", async () => {
  const s = await setup();
  const counts = countOperations(s.f);
  acceptOne(s, reserve("r1"));
  const uuid = s.f.sentOfType("mesos.internal.ApplyOperationMessage")[0]?.operation_uuid.value;
  assert.ok(uuid !== undefined);
  operationStatusUpdate(s.f.master, agentStatus(s, uuid, "OPERATION_FINISHED"));
  const [event] = statusEvents(s.stream);
  assert.equal(event?.state, "OPERATION_FINISHED");
  assert.equal(event?.operation_id?.value, "r1");
  assert.equal(event?.agent_id?.value, s.agentId);
  assert.deepEqual([...(event?.uuid?.value ?? [])], [...new Uint8Array(16).fill(3)]);
  // Terminal but not acknowledged: still known, and nothing acknowledged to the agent.
  assert.equal(allOperations(s.f.master)[0]?.latest_status.state, "OPERATION_FINISHED");
  assert.equal(s.f.sentOfType("mesos.internal.AcknowledgeOperationStatusMessage").length, 0);
  assert.equal(counts.get("OPERATION_PENDING"), 0);
  assert.equal(counts.get("OPERATION_FINISHED"), 1);

  acknowledgeOperationStatus(s.f.master, s.framework, {
    operation_id: { value: "r1" },
    uuid: new Uint8Array(16).fill(3),
    agent_id: { value: s.agentId },
  });
  const [ack] = s.f.sentOfType("mesos.internal.AcknowledgeOperationStatusMessage");
  assert.deepEqual([...(ack?.status_uuid.value ?? [])], [...new Uint8Array(16).fill(3)]);
  assert.deepEqual([...(ack?.operation_uuid.value ?? [])], [...uuid]);
  assert.equal(allOperations(s.f.master).length, 0);
  // The terminal count is a lifetime total.
  assert.equal(counts.get("OPERATION_FINISHED"), 1);

  // A second acknowledgement is for an unknown operation: nothing goes to the agent.
  let invalid = 0;
  s.f.master.events.listen({
    operationAcknowledgementReceived: (valid) => {
      if (!valid) invalid++;
    },
  });
  acknowledgeOperationStatus(s.f.master, s.framework, {
    operation_id: { value: "r1" },
    uuid: new Uint8Array(16).fill(3),
    agent_id: { value: s.agentId },
  });
  assert.equal(invalid, 1);
  assert.equal(s.f.sentOfType("mesos.internal.AcknowledgeOperationStatusMessage").length, 1);
});

test("operation feedback: an acknowledgement of a status the master never saw is ignored", async () => {
  const s = await setup();
  acceptOne(s, reserve("r1"));
  const uuid = s.f.sentOfType("mesos.internal.ApplyOperationMessage")[0]?.operation_uuid.value;
  assert.ok(uuid !== undefined);
  operationStatusUpdate(s.f.master, agentStatus(s, uuid, "OPERATION_FINISHED"));
  acknowledgeOperationStatus(s.f.master, s.framework, {
    operation_id: { value: "r1" },
    uuid: new Uint8Array(16).fill(4),
    agent_id: { value: s.agentId },
  });
  assert.equal(s.f.sentOfType("mesos.internal.AcknowledgeOperationStatusMessage").length, 0);
  assert.equal(allOperations(s.f.master).length, 1);
});

test("operation feedback: an operation without an id is acknowledged by the master and forgotten when terminal", async () => {
  const s = await setup();
  acceptOne(s, reserve());
  const uuid = s.f.sentOfType("mesos.internal.ApplyOperationMessage")[0]?.operation_uuid.value;
  assert.ok(uuid !== undefined);
  operationStatusUpdate(s.f.master, agentStatus(s, uuid, "OPERATION_FINISHED"));
  assert.equal(statusEvents(s.stream).length, 0);
  const [ack] = s.f.sentOfType("mesos.internal.AcknowledgeOperationStatusMessage");
  assert.deepEqual([...(ack?.operation_uuid.value ?? [])], [...uuid]);
  assert.equal(allOperations(s.f.master).length, 0);
});

test("operation feedback: a failed speculative operation keeps the master's view (as Mesos)", async () => {
  const s = await setup();
  acceptOne(s, reserve("r1"));
  const uuid = s.f.sentOfType("mesos.internal.ApplyOperationMessage")[0]?.operation_uuid.value;
  assert.ok(uuid !== undefined);
  operationStatusUpdate(s.f.master, agentStatus(s, uuid, "OPERATION_FAILED"));
  assert.equal(statusEvents(s.stream)[0]?.state, "OPERATION_FAILED");
  assert.equal(s.f.master.agents.get(s.agentId)?.totalResources.reserved("web").cpus(), 1);
});

test("operation feedback: the operation id of an agent's status is taken from the master's record", async () => {
  const s = await setup();
  acceptOne(s, reserve("r1"));
  const uuid = s.f.sentOfType("mesos.internal.ApplyOperationMessage")[0]?.operation_uuid.value;
  assert.ok(uuid !== undefined);
  // As an agent answers a reconciliation for an operation it never got: no framework, no id.
  operationStatusUpdate(
    s.f.master,
    agentStatus(s, uuid, "OPERATION_DROPPED", { frameworkId: null }),
  );
  const [event] = statusEvents(s.stream);
  assert.equal(event?.state, "OPERATION_DROPPED");
  assert.equal(event?.operation_id?.value, "r1");
});

test("operation feedback: an update for an operation or agent the master does not know is not acknowledged", async () => {
  const s = await setup();
  let invalid = 0;
  s.f.master.events.listen({
    operationStatusUpdateReceived: (valid) => {
      if (!valid) invalid++;
    },
  });
  operationStatusUpdate(
    s.f.master,
    agentStatus(s, new Uint8Array(16).fill(7), "OPERATION_FINISHED"),
  );
  operationStatusUpdate(s.f.master, {
    ...agentStatus(s, new Uint8Array(16).fill(7), "OPERATION_FINISHED"),
    slave_id: { value: "no-such-agent" },
  });
  assert.equal(invalid, 2);
  assert.equal(s.f.sentOfType("mesos.internal.AcknowledgeOperationStatusMessage").length, 0);
});

test("operation feedback: a tracked agent without AGENT_OPERATION_FEEDBACK or RESOURCE_PROVIDER refuses operations with an id", async () => {
  const noFeedback = await setup(["RESOURCE_PROVIDER"]);
  acceptOne(noFeedback, reserve("r1"));
  assert.equal(
    statusEvents(noFeedback.stream)[0]?.message,
    `Operation on agent default resources requested feedback, but agent ${noFeedback.agentId} ` +
      "does not have the required AGENT_OPERATION_FEEDBACK and RESOURCE_PROVIDER capabilities",
  );
  assert.equal(statusEvents(noFeedback.stream)[0]?.state, "OPERATION_ERROR");
  assert.equal(noFeedback.f.sentOfType("mesos.internal.ApplyOperationMessage").length, 0);

  const noProvider = await setup([]);
  acceptOne(noProvider, reserve("r1"));
  assert.equal(
    statusEvents(noProvider.stream)[0]?.message,
    `Operation requested feedback, but agent ${noProvider.agentId} does not have the required ` +
      "RESOURCE_PROVIDER capability",
  );
  // Without an id there is no feedback to give: the operation is applied.
  acceptOne(noProvider, reserve(), nextOffer(noProvider));
  assert.equal(noProvider.f.sentOfType("mesos.internal.ApplyOperationMessage").length, 1);
});

test("operation feedback: an agent without a resource version keeps the checkpoint path and immediate feedback", async () => {
  const s = await setup(FEEDBACK_CAPABILITIES, null);
  acceptOne(s, reserve("r1"));
  assert.equal(s.f.sentOfType("mesos.internal.ApplyOperationMessage").length, 0);
  assert.equal(s.f.sentOfType("mesos.internal.CheckpointResourcesMessage").length, 1);
  const [event] = statusEvents(s.stream);
  assert.equal(event?.state, "OPERATION_FINISHED");
  assert.equal(event?.uuid, undefined);
  assert.equal(allOperations(s.f.master).length, 0);
});

test("operation feedback: an operator's operation is sent without a framework and acknowledged by the master", async () => {
  const f = makeMaster();
  const agentId = await registerTrackedAgent(f);
  const outcome = applyOperatorOperation(
    f.master,
    agentId,
    {
      type: "RESERVE",
      reserve: {
        resources: [
          {
            name: "mem",
            type: "SCALAR",
            scalar: { value: 64 },
            reservations: [{ type: "DYNAMIC", role: "web" }],
          },
        ],
      },
    },
    undefined,
  );
  assert.deepEqual(outcome, { ok: true });
  const [apply] = f.sentOfType("mesos.internal.ApplyOperationMessage");
  assert.ok(apply !== undefined);
  assert.equal(apply.framework_id, undefined);
  assert.equal(allOperations(f.master)[0]?.framework_id, undefined);
  operationStatusUpdate(f.master, {
    slave_id: { value: agentId },
    status: { state: "OPERATION_FINISHED", uuid: { value: new Uint8Array(16).fill(5) } },
    operation_uuid: apply.operation_uuid,
  });
  assert.equal(f.sentOfType("mesos.internal.AcknowledgeOperationStatusMessage").length, 1);
  assert.equal(allOperations(f.master).length, 0);
});

test("operation feedback: reconciliation answers the latest status without a uuid", async () => {
  const s = await setup();
  acceptOne(s, reserve("r1"));
  reconcileOperations(s.f.master, s.framework, []);
  assert.equal(statusEvents(s.stream)[0]?.state, "OPERATION_PENDING");
  assert.equal(statusEvents(s.stream)[0]?.operation_id?.value, "r1");
  const uuid = s.f.sentOfType("mesos.internal.ApplyOperationMessage")[0]?.operation_uuid.value;
  assert.ok(uuid !== undefined);
  operationStatusUpdate(s.f.master, agentStatus(s, uuid, "OPERATION_FINISHED"));
  reconcileOperations(s.f.master, s.framework, [
    { operation_id: { value: "r1" }, agent_id: { value: s.agentId } },
    { operation_id: { value: "other" }, agent_id: { value: s.agentId } },
  ]);
  const [, , known, unknown] = statusEvents(s.stream);
  assert.equal(known?.state, "OPERATION_FINISHED");
  assert.equal(known?.uuid, undefined);
  assert.equal(unknown?.state, "OPERATION_UNKNOWN");
  assert.equal(unknown?.message, "Reconciliation: Operation is unknown");
});

test("operation feedback: an agent marked unreachable ends its operations with OPERATION_UNREACHABLE", async () => {
  const s = await setup();
  const counts = countOperations(s.f);
  acceptOne(s, reserve("r1"));
  const agent = s.f.master.agents.get(s.agentId);
  assert.ok(agent !== undefined);
  markUnreachable(s.f.master, agent, "health check timed out");
  await s.f.settle();
  const [event] = statusEvents(s.stream);
  assert.equal(event?.state, "OPERATION_UNREACHABLE");
  assert.equal(event?.message, "Agent was marked unreachable");
  assert.equal(event?.operation_id?.value, "r1");
  assert.equal(allOperations(s.f.master).length, 0);
  assert.equal(counts.get("OPERATION_PENDING"), 0);
  assert.equal(counts.get("OPERATION_UNREACHABLE"), 1);
  reconcileOperations(s.f.master, s.framework, [
    { operation_id: { value: "r1" }, agent_id: { value: s.agentId } },
  ]);
  assert.equal(statusEvents(s.stream)[1]?.state, "OPERATION_UNREACHABLE");
  assert.equal(statusEvents(s.stream)[1]?.message, "Reconciliation: Agent is unreachable");
});

test("operation feedback: an agent marked gone ends its operations with OPERATION_GONE_BY_OPERATOR", async () => {
  const s = await setup();
  acceptOne(s, reserve("r1"));
  assert.equal((await markAgentGone(s.f.master, s.agentId)).status, 200);
  const [event] = statusEvents(s.stream);
  assert.equal(event?.state, "OPERATION_GONE_BY_OPERATOR");
  assert.equal(event?.message, "Agent has been marked gone");
  assert.equal(allOperations(s.f.master).length, 0);
});

test("operation feedback: UpdateSlaveMessage reconciles operations the agent lacks and adopts ones the master lacks", async () => {
  const s = await setup();
  acceptOne(s, reserve("r1"));
  const uuid = s.f.sentOfType("mesos.internal.ApplyOperationMessage")[0]?.operation_uuid.value;
  assert.ok(uuid !== undefined);
  const adopted = new Uint8Array(16).fill(8);
  updateAgent(s.f.master, AGENT_PID, {
    slave_id: { value: s.agentId },
    resource_version_uuid: { value: new Uint8Array(16).fill(10) },
    operations: {
      operations: [
        {
          framework_id: { value: s.framework.id },
          agent_id: { value: s.agentId },
          info: reserve("r0"),
          latest_status: { operation_id: { value: "r0" }, state: "OPERATION_PENDING" },
          uuid: { value: adopted },
        },
      ],
    },
  });
  const [reconcile] = s.f.sentOfType("mesos.internal.ReconcileOperationsMessage");
  assert.deepEqual(
    reconcile?.operations?.map((o) => [...(o.operation_uuid?.value ?? [])]),
    [[...uuid]],
  );
  assert.deepEqual(
    [...(s.f.master.agents.get(s.agentId)?.resourceVersion ?? [])],
    [...new Uint8Array(16).fill(10)],
  );
  assert.deepEqual(
    allOperations(s.f.master)
      .map((o) => o.info.id?.value)
      .sort(),
    ["r0", "r1"],
  );
  // The agent answers the reconciliation: it never got r1.
  operationStatusUpdate(
    s.f.master,
    agentStatus(s, uuid, "OPERATION_DROPPED", { frameworkId: null, statusUuid: null }),
  );
  assert.equal(statusEvents(s.stream)[0]?.state, "OPERATION_DROPPED");
  assert.equal(statusEvents(s.stream)[0]?.operation_id?.value, "r1");
  // Not sent reliably: nothing to acknowledge, so it goes at once.
  assert.deepEqual(
    allOperations(s.f.master).map((o) => o.info.id?.value),
    ["r0"],
  );
  // The next ApplyOperationMessage carries the agent's new resource version.
  acceptOne(s, reserve("r2"), nextOffer(s));
  const apply = s.f.sentOfType("mesos.internal.ApplyOperationMessage").at(-1);
  assert.deepEqual(
    [...(apply?.resource_version_uuid.uuid.value ?? [])],
    [...new Uint8Array(16).fill(10)],
  );
});

test("operation feedback: after the framework is removed, the master acknowledges its operations' updates", async () => {
  const s = await setup();
  acceptOne(s, reserve("r1"));
  const uuid = s.f.sentOfType("mesos.internal.ApplyOperationMessage")[0]?.operation_uuid.value;
  assert.ok(uuid !== undefined);
  s.f.master.teardown(s.framework);
  operationStatusUpdate(s.f.master, agentStatus(s, uuid, "OPERATION_FINISHED"));
  assert.equal(s.f.sentOfType("mesos.internal.AcknowledgeOperationStatusMessage").length, 1);
  assert.equal(allOperations(s.f.master).length, 0);
});

test("operation feedback: a disconnected framework's update waits (no acknowledgement for the agent to stop retrying)", async () => {
  const s = await setup();
  acceptOne(s, reserve("r1"));
  const uuid = s.f.sentOfType("mesos.internal.ApplyOperationMessage")[0]?.operation_uuid.value;
  assert.ok(uuid !== undefined);
  s.f.master.schedulerStreamClosed(s.stream);
  operationStatusUpdate(s.f.master, agentStatus(s, uuid, "OPERATION_FINISHED"));
  assert.equal(s.f.sentOfType("mesos.internal.AcknowledgeOperationStatusMessage").length, 0);
  assert.equal(allOperations(s.f.master)[0]?.latest_status.state, "OPERATION_FINISHED");
});

test("operation feedback: a re-registering agent's new resource version is used; without AGENT_OPERATION_FEEDBACK its terminal operations with an id go", async () => {
  const s = await setup();
  acceptOne(s, reserve("r1"));
  const uuid = s.f.sentOfType("mesos.internal.ApplyOperationMessage")[0]?.operation_uuid.value;
  assert.ok(uuid !== undefined);
  operationStatusUpdate(s.f.master, agentStatus(s, uuid, "OPERATION_FINISHED"));
  const reregister = (capabilities: string[], version: Uint8Array) => {
    s.f.master.reregisterAgent(AGENT_PID, {
      slave: {
        id: { value: s.agentId },
        hostname: "agent-host",
        port: 5051,
        resources: resources("cpus:4;mem:1024;disk:1024"),
        checkpoint: true,
      },
      version: "1.12.0",
      agent_capabilities: ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"]
        .concat(capabilities)
        .map((type) => ({ type: type as never })),
      resource_version_uuid: { value: version },
    });
  };
  reregister(FEEDBACK_CAPABILITIES, new Uint8Array(16).fill(11));
  await s.f.settle();
  const agent = s.f.master.agents.get(s.agentId);
  assert.deepEqual([...(agent?.resourceVersion ?? [])], [...new Uint8Array(16).fill(11)]);
  // Still waiting for the framework's acknowledgement.
  assert.equal(allOperations(s.f.master).length, 1);
  reregister(["RESOURCE_PROVIDER"], new Uint8Array(16).fill(12));
  await s.f.settle();
  assert.equal(allOperations(s.f.master).length, 0);
});

test("operation feedback: reconciling an operation on a resource provider asks the agent", async () => {
  const s = await setup();
  reconcileOperations(s.f.master, s.framework, [
    {
      operation_id: { value: "on-provider" },
      agent_id: { value: s.agentId },
      resource_provider_id: { value: "rp1" },
    },
  ]);
  assert.equal(statusEvents(s.stream).length, 0);
  const [asked] = s.f.sentOfType("mesos.internal.ReconcileOperationsMessage");
  assert.equal(asked?.framework_id?.value, s.framework.id);
  assert.equal(asked?.operations?.[0]?.operation_id?.value, "on-provider");
  assert.equal(asked?.operations?.[0]?.resource_provider_id?.value, "rp1");
});

test("operation feedback: a draining agent becomes DRAINED only once its operations are acknowledged", async () => {
  const s = await setup([...FEEDBACK_CAPABILITIES, "AGENT_DRAINING"]);
  acceptOne(s, reserve("r1"));
  const uuid = s.f.sentOfType("mesos.internal.ApplyOperationMessage")[0]?.operation_uuid.value;
  assert.ok(uuid !== undefined);
  assert.equal((await drainAgent(s.f.master, { agent_id: { value: s.agentId } })).status, 200);
  await s.f.settle();
  assert.equal(drainInfoOf(s.f.master, s.agentId)?.state, "DRAINING");
  operationStatusUpdate(s.f.master, agentStatus(s, uuid, "OPERATION_FINISHED"));
  await s.f.settle();
  assert.equal(drainInfoOf(s.f.master, s.agentId)?.state, "DRAINING", "not acknowledged yet");
  acknowledgeOperationStatus(s.f.master, s.framework, {
    operation_id: { value: "r1" },
    uuid: new Uint8Array(16).fill(3),
    agent_id: { value: s.agentId },
  });
  await waitFor("DRAINED", () => drainInfoOf(s.f.master, s.agentId)?.state === "DRAINED", {
    timeoutMs: 5_000,
    intervalMs: 1,
  });
});
