/**
 * The master's operation tracking where it meets other events: an agent
 * that restarted while an operation was on its way (the agent drops it,
 * and its re-registration says what it really has), acknowledgements at
 * scale, and hostile or stale messages. Master core with fakes.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type {
  Offer,
  Offer_Operation,
  Resource,
} from "../../src/common/protocol/generated/mesos-v1.js";
import { drainInfoOf } from "../../src/master/core/drain.js";
import {
  acknowledgeOperationStatus,
  allOperations,
  operationStatusUpdate,
  reconcileOperations,
  updateAgent,
} from "../../src/master/core/operation-tracking.js";
import type { FrameworkRecord } from "../../src/master/core/records.js";
import {
  AGENT_PID,
  type FakeStream,
  type Fixture,
  frameworkInfo,
  HeldRegistrar,
  makeMaster,
  recoveringMaster,
  resources,
  type SentMessage,
  storedAgentInfo,
  subscribe,
} from "./master-fixture.js";

const VERSION = new Uint8Array(16).fill(9);
const CAPABILITIES = [
  "MULTI_ROLE",
  "HIERARCHICAL_ROLE",
  "RESERVATION_REFINEMENT",
  "RESOURCE_PROVIDER",
  "AGENT_OPERATION_FEEDBACK",
].map((type) => ({ type: type as never }));

function agentInfo(id?: string) {
  return {
    ...(id === undefined ? {} : { id: { value: id } }),
    hostname: "agent-host",
    port: 5051,
    resources: resources("cpus:4;mem:1024;disk:1024"),
    checkpoint: true,
  };
}

interface Setup {
  f: Fixture;
  stream: FakeStream;
  framework: FrameworkRecord;
  offer: Offer;
  agentId: string;
}

async function setup(): Promise<Setup> {
  const f = makeMaster();
  f.master.registerAgent(AGENT_PID, {
    slave: agentInfo(),
    version: "1.12.0",
    agent_capabilities: CAPABILITIES,
    resource_version_uuid: { value: VERSION },
  });
  await f.settle();
  const agentId = f.sentOfType("mesos.internal.SlaveRegisteredMessage").at(-1)?.slave_id.value;
  assert.ok(agentId !== undefined, "the agent registers");
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

function reserve(id: string): Offer_Operation {
  const cpus: Resource = {
    name: "cpus",
    type: "SCALAR",
    scalar: { value: 1 },
    reservations: [{ type: "DYNAMIC", role: "web", principal: "ops" }],
    allocation_info: { role: "web" },
  };
  return { type: "RESERVE", id: { value: id }, reserve: { resources: [cpus] } };
}

/** Reserved cpus of role `web` among offered resources (either reservation format). */
function reservedCpus(list: readonly Resource[] | undefined): number {
  let sum = 0;
  for (const r of list ?? []) {
    const web = r.role === "web" || r.reservations?.some((x) => x.role === "web") === true;
    if (r.name === "cpus" && web) {
      sum += r.scalar?.value ?? 0;
    }
  }
  return sum;
}

function allCpus(list: readonly Resource[] | undefined): number {
  let sum = 0;
  for (const r of list ?? []) if (r.name === "cpus") sum += r.scalar?.value ?? 0;
  return sum;
}

test("operation race: an operation dropped by a restarted agent leaves the allocator with what the agent re-registered with", async () => {
  const s = await setup();
  s.f.master.accept(s.framework, {
    offer_ids: [s.offer.id],
    operations: [reserve("r1")],
    filters: { refuse_seconds: 0 },
  });
  const apply = s.f.sentOfType("mesos.internal.ApplyOperationMessage")[0];
  assert.ok(apply !== undefined);
  // The reservation is speculative: the master's view and the allocator have it.
  assert.equal(s.f.master.agents.get(s.agentId)?.totalResources.reserved("web").cpus(), 1);

  // Meanwhile the agent restarted (new resource version): it re-registers
  // with what it has on disk (no reservation) and drops the operation,
  // which carries its old version.
  s.f.master.reregisterAgent(AGENT_PID, {
    slave: agentInfo(s.agentId),
    version: "1.12.0",
    agent_capabilities: CAPABILITIES,
    resource_version_uuid: { value: new Uint8Array(16).fill(10) },
  });
  await s.f.settle();
  operationStatusUpdate(s.f.master, {
    framework_id: { value: s.framework.id },
    slave_id: { value: s.agentId },
    status: {
      operation_id: { value: "r1" },
      state: "OPERATION_DROPPED",
      uuid: { value: new Uint8Array(16).fill(3) },
    },
    latest_status: {
      operation_id: { value: "r1" },
      state: "OPERATION_DROPPED",
      uuid: { value: new Uint8Array(16).fill(3) },
    },
    operation_uuid: apply.operation_uuid,
  });
  acknowledgeOperationStatus(s.f.master, s.framework, {
    operation_id: { value: "r1" },
    uuid: new Uint8Array(16).fill(3),
    agent_id: { value: s.agentId },
  });
  assert.equal(allOperations(s.f.master).length, 0);

  // The master's view follows the agent (as Mesos re-derives the total) ...
  assert.equal(s.f.master.agents.get(s.agentId)?.totalResources.reserved("web").cpus() ?? 0, 0);
  // ... and so must the allocator: the next offer has no reservation the agent lacks.
  const before = s.stream.ofType("OFFERS").length;
  s.f.allocate();
  const offers = s.stream.ofType("OFFERS").slice(before);
  const offered: Resource[] = [];
  for (const event of offers) {
    for (const offer of event.offers?.offers ?? []) offered.push(...(offer.resources ?? []));
  }
  assert.ok(offers.length > 0, "the agent's resources are offered again");
  assert.equal(reservedCpus(offered), 0, "no reserved cpus the agent does not have");
  assert.equal(allCpus(offered), 4);
});

test("operation acknowledgement: only the named agent is looked at, not every registered agent", async () => {
  const s = await setup();
  s.f.master.accept(s.framework, {
    offer_ids: [s.offer.id],
    operations: [reserve("r1")],
    filters: { refuse_seconds: 0 },
  });
  const apply = s.f.sentOfType("mesos.internal.ApplyOperationMessage")[0];
  assert.ok(apply !== undefined);
  const statusUuid = new Uint8Array(16).fill(3);
  const status = {
    operation_id: { value: "r1" },
    state: "OPERATION_FINISHED" as const,
    uuid: { value: statusUuid },
  };
  operationStatusUpdate(s.f.master, {
    framework_id: { value: s.framework.id },
    slave_id: { value: s.agentId },
    status,
    latest_status: status,
    operation_uuid: apply.operation_uuid,
  });
  // Count walks over the registered agents (an acknowledgement is per
  // operation status: at thousands of agents a walk each is a hot loop).
  const agents = s.f.master.agents;
  const values = agents.values.bind(agents);
  let walks = 0;
  Object.defineProperty(agents, "values", {
    configurable: true,
    value: () => {
      walks++;
      return values();
    },
  });
  acknowledgeOperationStatus(s.f.master, s.framework, {
    operation_id: { value: "r1" },
    uuid: statusUuid,
    agent_id: { value: s.agentId },
  });
  // An acknowledgement naming an agent the master does not know walks nothing either.
  acknowledgeOperationStatus(s.f.master, s.framework, {
    operation_id: { value: "r1" },
    uuid: statusUuid,
    agent_id: { value: "no-such-agent" },
  });
  Reflect.deleteProperty(agents, "values");
  assert.equal(walks, 0);
  assert.equal(s.f.sentOfType("mesos.internal.AcknowledgeOperationStatusMessage").length, 1);
  assert.equal(allOperations(s.f.master).length, 0);
});

test("operation drain: after a master failover a draining agent is not DRAINED before it has reported its operations", async () => {
  const registrar = new HeldRegistrar();
  await registrar.apply({ kind: "admit-agent", info: storedAgentInfo("S1") });
  await registrar.apply({
    kind: "drain-agent",
    agentId: "S1",
    drainInfo: { state: "DRAINING", config: {} },
  });
  const sent: SentMessage[] = [];
  const { master } = recoveringMaster({ registrar, seed: 3, sent, onFatal: () => {} });
  master.recover(registrar.snapshot());
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
  };
  // The agent comes back with no task, but with an operator's RESERVE it
  // applied before the failover whose status the old master never acknowledged.
  master.reregisterAgent(AGENT_PID, {
    slave: storedAgentInfo("S1"),
    version: "1.12.0",
    agent_capabilities: [...CAPABILITIES, { type: "AGENT_DRAINING" as never }],
    resource_version_uuid: { value: VERSION },
  });
  await settle();
  assert.ok(master.agents.has("S1"), "the agent re-registered");
  assert.equal(drainInfoOf(master, "S1")?.state, "DRAINING", "its operations are not known yet");

  const operationUuid = new Uint8Array(16).fill(6);
  const finished = {
    state: "OPERATION_FINISHED" as const,
    uuid: { value: new Uint8Array(16).fill(5) },
    agent_id: { value: "S1" },
  };
  updateAgent(master, AGENT_PID, {
    slave_id: { value: "S1" },
    resource_version_uuid: { value: VERSION },
    operations: {
      operations: [
        {
          agent_id: { value: "S1" },
          info: {
            type: "RESERVE",
            reserve: {
              resources: [
                {
                  name: "cpus",
                  type: "SCALAR",
                  scalar: { value: 1 },
                  reservations: [{ type: "DYNAMIC", role: "web" }],
                },
              ],
            },
          },
          latest_status: finished,
          statuses: [finished],
          uuid: { value: operationUuid },
        },
      ],
    },
  });
  await settle();
  assert.equal(
    drainInfoOf(master, "S1")?.state,
    "DRAINING",
    "an unacknowledged operation holds it",
  );

  // The agent sends the status again; the master acknowledges it (no framework) and forgets it.
  operationStatusUpdate(master, {
    slave_id: { value: "S1" },
    status: finished,
    latest_status: finished,
    operation_uuid: { value: operationUuid },
  });
  await settle();
  assert.equal(
    sent.filter((m) => m.type === "mesos.internal.AcknowledgeOperationStatusMessage").length,
    1,
  );
  assert.equal(drainInfoOf(master, "S1")?.state, "DRAINED");
});

test("operation drain: a draining agent that reports no operations after re-registering becomes DRAINED", async () => {
  const registrar = new HeldRegistrar();
  await registrar.apply({ kind: "admit-agent", info: storedAgentInfo("S1") });
  await registrar.apply({
    kind: "drain-agent",
    agentId: "S1",
    drainInfo: { state: "DRAINING", config: {} },
  });
  const sent: SentMessage[] = [];
  const { master } = recoveringMaster({ registrar, seed: 3, sent, onFatal: () => {} });
  master.recover(registrar.snapshot());
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
  };
  master.reregisterAgent(AGENT_PID, {
    slave: storedAgentInfo("S1"),
    version: "1.12.0",
    agent_capabilities: [...CAPABILITIES, { type: "AGENT_DRAINING" as never }],
    resource_version_uuid: { value: VERSION },
  });
  await settle();
  updateAgent(master, AGENT_PID, {
    slave_id: { value: "S1" },
    resource_version_uuid: { value: VERSION },
    operations: { operations: [] },
  });
  await settle();
  assert.equal(drainInfoOf(master, "S1")?.state, "DRAINED");
});

test("operation reconciliation: explicit reconciliation finds operations without walking every agent", async () => {
  const s = await setup();
  s.f.master.accept(s.framework, {
    offer_ids: [s.offer.id],
    operations: [reserve("r1")],
    filters: { refuse_seconds: 0 },
  });
  const agents = s.f.master.agents;
  const values = agents.values.bind(agents);
  let walks = 0;
  Object.defineProperty(agents, "values", {
    configurable: true,
    value: () => {
      walks++;
      return values();
    },
  });
  reconcileOperations(s.f.master, s.framework, [
    // Known, though the framework names no agent (or another one).
    { operation_id: { value: "r1" } },
    { operation_id: { value: "r1" }, agent_id: { value: "elsewhere" } },
    { operation_id: { value: "r2" }, agent_id: { value: s.agentId } },
  ]);
  Reflect.deleteProperty(agents, "values");
  assert.equal(walks, 0);
  const answers = s.stream
    .ofType("UPDATE_OPERATION_STATUS")
    .map((e) => [
      e.update_operation_status?.status.operation_id?.value,
      e.update_operation_status?.status.state,
    ]);
  assert.deepEqual(answers, [
    ["r1", "OPERATION_PENDING"],
    ["r1", "OPERATION_PENDING"],
    ["r2", "OPERATION_UNKNOWN"],
  ]);
  // Once the operation is over and acknowledged, it is unknown again.
  const apply = s.f.sentOfType("mesos.internal.ApplyOperationMessage")[0];
  assert.ok(apply !== undefined);
  const status = {
    operation_id: { value: "r1" },
    state: "OPERATION_FINISHED" as const,
    uuid: { value: new Uint8Array(16).fill(3) },
  };
  operationStatusUpdate(s.f.master, {
    framework_id: { value: s.framework.id },
    slave_id: { value: s.agentId },
    status,
    latest_status: status,
    operation_uuid: apply.operation_uuid,
  });
  acknowledgeOperationStatus(s.f.master, s.framework, {
    operation_id: { value: "r1" },
    uuid: status.uuid.value,
    agent_id: { value: s.agentId },
  });
  reconcileOperations(s.f.master, s.framework, [{ operation_id: { value: "r1" } }]);
  assert.equal(
    s.stream.ofType("UPDATE_OPERATION_STATUS").at(-1)?.update_operation_status?.status.state,
    "OPERATION_UNKNOWN",
  );
});

test("operation race: a launch carries the agent's resource version as the master knows it", async () => {
  const s = await setup();
  s.f.master.accept(s.framework, {
    offer_ids: [s.offer.id],
    operations: [
      reserve("r1"),
      {
        type: "LAUNCH",
        launch: {
          task_infos: [
            {
              name: "t1",
              task_id: { value: "t1" },
              agent_id: { value: s.agentId },
              resources: reserve("r1").reserve?.resources,
              command: { value: "true" },
            },
          ],
        },
      },
    ],
  });
  const [run] = s.f.sentOfType("mesos.internal.RunTaskMessage");
  assert.ok(run !== undefined, "the task is sent");
  assert.deepEqual(
    run.resource_version_uuids?.map((v) => [...v.uuid.value]),
    [[...VERSION]],
  );
});
