/**
 * Operation feedback on the agent core (Mesos' agent with
 * AGENT_OPERATION_FEEDBACK): the resource version in (re)registration, the
 * UpdateSlaveMessage after it, ApplyOperationMessage applied to the
 * checkpointed resources and reported reliably until acknowledged,
 * OPERATION_DROPPED for another resource version, OPERATION_FAILED for an
 * operation that does not fit, and master-initiated reconciliation.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Agent } from "../../src/agent/agent.js";
import { getOperations } from "../../src/agent/http/operator-api.js";
import { LocalAuthorizer, parseAcls } from "../../src/common/auth/acls.js";
import { setRequestAuthorizer } from "../../src/common/auth/request-auth.js";
import { HttpRequest } from "../../src/common/http/request.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import type {
  ApplyOperationMessage,
  UpdateOperationStatusMessage,
  UpdateSlaveMessage,
} from "../../src/common/protocol/generated/mesos-internal.js";
import type {
  Offer_Operation,
  Operation,
  Resource,
} from "../../src/common/protocol/generated/mesos-v1.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { seededRandom } from "../../src/common/time/random.js";
import { testAgentConfig } from "../harness/agent-config.js";

const MASTER = "master@127.0.0.1:5050";

const cpus = (value: number, role?: string): Resource => ({
  name: "cpus",
  type: "SCALAR",
  scalar: { value },
  ...(role === undefined ? {} : { reservations: [{ type: "DYNAMIC", role }] }),
});

function setup(seed = 7) {
  const clock = new ManualClock();
  const sent: { to: string; type: string; message: unknown }[] = [];
  const writes: { resources: Resource[]; operations: readonly Operation[] }[] = [];
  const agent = new Agent({
    config: testAgentConfig({ info: { hostname: "h", port: 5051, resources: [cpus(4)] } }),
    clock,
    random: seededRandom(seed),
    logger: silentLogger,
    transport: { send: (to, type, message) => sent.push({ to, type, message }), link: () => {} },
    containerizer: { launch: () => {}, destroy: () => {} },
  });
  agent.resourcesCheckpoint = async (resources, _previous, operations) => {
    writes.push({ resources, operations });
  };
  const of = <T>(type: string) =>
    sent.filter((s) => s.type === `mesos.internal.${type}`).map((s) => s.message as T);
  const register = () => {
    agent.start(MASTER);
    clock.advance(1000);
    agent.registered(MASTER, { slave_id: { value: "S1" } });
  };
  return { clock, sent, writes, agent, of, register };
}

const uuid = (n: number): Uint8Array => new Uint8Array(16).fill(n);

function apply(
  agent: Agent,
  operation: Offer_Operation,
  n: number,
  version: Uint8Array = agent.resourceVersion,
): ApplyOperationMessage {
  const message: ApplyOperationMessage = {
    framework_id: { value: "F1" },
    operation_info: operation,
    operation_uuid: { value: uuid(n) },
    resource_version_uuid: { uuid: { value: version } },
  };
  agent.applyOperation(MASTER, message);
  return message;
}

const reserve = (id: string): Offer_Operation => ({
  type: "RESERVE",
  id: { value: id },
  // As from an offer: allocated to the framework's role.
  reserve: { resources: [{ ...cpus(1, "web"), allocation_info: { role: "web" } }] },
});

/** Lets the write chain and the (immediate) stream checkpoints settle. */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

describe("agent operation feedback", () => {
  it("registers with a resource version and reports its operations after registering", () => {
    const { agent, of, register } = setup();
    register();
    const registration = of<{ resource_version_uuid?: { value: Uint8Array } }>(
      "RegisterSlaveMessage",
    )[0];
    assert.equal(agent.resourceVersion.length, 16);
    assert.deepEqual(registration?.resource_version_uuid?.value, agent.resourceVersion);
    const [update] = of<UpdateSlaveMessage>("UpdateSlaveMessage");
    assert.equal(update?.slave_id.value, "S1");
    assert.deepEqual(update?.resource_version_uuid?.value, agent.resourceVersion);
    assert.deepEqual(update?.operations, { operations: [] });
    assert.equal(update?.update_oversubscribed_resources, false);
  });

  it("each agent start has its own resource version", () => {
    const a = setup(1).agent;
    const b = setup(2).agent;
    assert.notDeepEqual(a.resourceVersion, b.resourceVersion);
  });

  it("applies a RESERVE, reports OPERATION_FINISHED after the checkpoint, resends until acknowledged", async () => {
    const { agent, clock, writes, of, register } = setup();
    register();
    apply(agent, reserve("op1"), 1);
    assert.equal(of("UpdateOperationStatusMessage").length, 0, "not before the write");
    await settle();
    assert.deepEqual(writes.at(-1)?.resources, [cpus(1, "web")]);
    assert.equal(writes.at(-1)?.operations.length, 1, "the operation is checkpointed with them");
    const [update] = of<UpdateOperationStatusMessage>("UpdateOperationStatusMessage");
    assert.ok(update !== undefined);
    assert.equal(update.status.state, "OPERATION_FINISHED");
    assert.equal(update.status.operation_id?.value, "op1");
    assert.equal(update.status.agent_id?.value, "S1");
    assert.equal(update.status.uuid?.value.length, 16);
    assert.equal(update.latest_status?.state, "OPERATION_FINISHED");
    assert.equal(update.framework_id?.value, "F1");
    assert.equal(update.slave_id?.value, "S1");
    assert.deepEqual(update.operation_uuid?.value, uuid(1));
    assert.equal(agent.operations.list().length, 1);

    clock.advance(10_000);
    assert.equal(of("UpdateOperationStatusMessage").length, 2, "resent after 10 s");
    clock.advance(19_999);
    assert.equal(of("UpdateOperationStatusMessage").length, 2, "then after 20 s");
    clock.advance(1);
    assert.equal(of("UpdateOperationStatusMessage").length, 3);

    const statusUuid = update.status.uuid?.value as Uint8Array;
    agent.operationStatusAcknowledgement(MASTER, {
      status_uuid: { value: statusUuid },
      operation_uuid: { value: uuid(1) },
    });
    await settle();
    assert.equal(
      agent.operations.list().length,
      0,
      "an acknowledged terminal operation is forgotten",
    );
    assert.equal(writes.at(-1)?.operations.length, 0, "and no longer checkpointed");
    assert.deepEqual(writes.at(-1)?.resources, [cpus(1, "web")], "its reservation stays");
    clock.advance(600_000);
    assert.equal(of("UpdateOperationStatusMessage").length, 3, "no resend after the ACK");
  });

  it("drops an operation for another resource version and fails one that does not fit", async () => {
    const { agent, writes, of, register } = setup();
    register();
    apply(agent, reserve("old"), 1, new Uint8Array(16).fill(9));
    apply(agent, { type: "UNRESERVE", unreserve: { resources: [cpus(1, "web")] } }, 2);
    await settle();
    const updates = of<UpdateOperationStatusMessage>("UpdateOperationStatusMessage");
    assert.deepEqual(
      updates.map((u) => u.status.state),
      ["OPERATION_DROPPED", "OPERATION_FAILED"],
    );
    assert.match(updates[0]?.status.message ?? "", /^Mismatched resource version /);
    assert.match(updates[1]?.status.message ?? "", /^Failed to apply UNRESERVE: /);
    assert.ok(
      updates.every((u) => u.status.uuid !== undefined),
      "both are sent reliably",
    );
    assert.ok(
      writes.every((w) => w.resources.length === 0),
      "neither changed the checkpointed resources",
    );
  });

  it("after re-registering, lists the unacknowledged operation and sends its update again", async () => {
    const { agent, clock, of, register } = setup();
    register();
    apply(agent, reserve("op1"), 1);
    await settle();
    assert.equal(of("UpdateOperationStatusMessage").length, 1);
    agent.exited(MASTER);
    clock.advance(60_000);
    assert.equal(of("UpdateOperationStatusMessage").length, 1, "nothing while disconnected");
    agent.reregistered(MASTER, { slave_id: { value: "S1" } });
    const updates = of<UpdateSlaveMessage>("UpdateSlaveMessage");
    assert.equal(updates.length, 2);
    const listed = updates[1]?.operations?.operations ?? [];
    assert.equal(listed.length, 1);
    assert.equal(listed[0]?.latest_status.state, "OPERATION_FINISHED");
    assert.equal(of("UpdateOperationStatusMessage").length, 2, "resent on re-registration");
    const reregistration = of<{ resource_version_uuid?: { value: Uint8Array } }>(
      "ReregisterSlaveMessage",
    )[0];
    assert.deepEqual(reregistration?.resource_version_uuid?.value, agent.resourceVersion);
  });

  it("answers the master's reconciliation of an unknown operation with OPERATION_DROPPED", async () => {
    const { agent, of, register } = setup();
    register();
    apply(agent, reserve("op1"), 1);
    await settle();
    const before = of("UpdateOperationStatusMessage").length;
    agent.reconcileOperations(MASTER, {
      operations: [{ operation_uuid: { value: uuid(1) } }, { operation_uuid: { value: uuid(5) } }],
    });
    const updates = of<UpdateOperationStatusMessage>("UpdateOperationStatusMessage").slice(before);
    assert.equal(updates.length, 1, "only the unknown one is answered");
    assert.equal(updates[0]?.status.state, "OPERATION_DROPPED");
    assert.equal(updates[0]?.status.uuid, undefined, "best effort: nothing to acknowledge");
    assert.deepEqual(updates[0]?.operation_uuid?.value, uuid(5));
  });

  it("answers a framework's reconciliation: the latest status of a known operation, OPERATION_UNKNOWN on a resource provider", async () => {
    const { agent, of, register } = setup();
    register();
    apply(agent, reserve("op1"), 1);
    await settle();
    const before = of("UpdateOperationStatusMessage").length;
    agent.reconcileOperations(MASTER, {
      framework_id: { value: "F1" },
      operations: [
        { operation_id: { value: "op1" } },
        { operation_id: { value: "nobody-knows" } },
        { operation_id: { value: "on-rp" }, resource_provider_id: { value: "rp1" } },
      ],
    });
    const updates = of<UpdateOperationStatusMessage>("UpdateOperationStatusMessage").slice(before);
    assert.deepEqual(
      updates.map((u) => [u.status.operation_id?.value, u.status.state, u.status.uuid]),
      [
        ["op1", "OPERATION_FINISHED", undefined],
        ["on-rp", "OPERATION_UNKNOWN", undefined],
      ],
      "the unknown one on the agent's own resources is the master's to answer",
    );
    assert.equal(updates[0]?.framework_id?.value, "F1");
    assert.deepEqual(updates[0]?.operation_uuid?.value, uuid(1));
    assert.equal(updates[1]?.status.resource_provider_id?.value, "rp1");
  });

  it("ignores operations from a process that is not the master, and malformed ones", async () => {
    const { agent, writes, of, register } = setup();
    register();
    agent.applyOperation("scheduler-1@127.0.0.1:9", {
      operation_info: reserve("x"),
      operation_uuid: { value: uuid(3) },
      resource_version_uuid: { uuid: { value: agent.resourceVersion } },
    });
    agent.applyOperation(MASTER, {
      operation_info: reserve("short-uuid"),
      operation_uuid: { value: new Uint8Array(3) },
      resource_version_uuid: { uuid: { value: agent.resourceVersion } },
    });
    await settle();
    assert.equal(writes.length, 0);
    assert.equal(of("UpdateOperationStatusMessage").length, 0);
    assert.equal(agent.operations.list().length, 0, "nor one whose uuid is not a uuid");
  });

  it("a drain lasts until the agent's operations are acknowledged, as in Mesos", async () => {
    const { agent, of, register } = setup();
    register();
    apply(agent, reserve("op1"), 1);
    await settle();
    agent.drain(MASTER, { config: {} });
    assert.equal(agent.draining.active, true, "an unacknowledged operation keeps it draining");
    const [update] = of<UpdateOperationStatusMessage>("UpdateOperationStatusMessage");
    agent.operationStatusAcknowledgement(MASTER, {
      status_uuid: { value: update?.status.uuid?.value as Uint8Array },
      operation_uuid: { value: uuid(1) },
    });
    assert.equal(agent.draining.active, false, "drained once it is acknowledged");
    agent.drain(MASTER, { config: {} });
    assert.equal(agent.draining.active, false, "nothing left: drained at once");
  });

  it("GET_OPERATIONS shows a caller only the operations on roles it may view", async () => {
    const { agent, register } = setup();
    register();
    apply(agent, reserve("on-web"), 1);
    apply(
      agent,
      {
        type: "RESERVE",
        id: { value: "on-db" },
        reserve: { resources: [{ ...cpus(1, "db"), allocation_info: { role: "db" } }] },
      },
      2,
    );
    await settle();
    const request = () =>
      new HttpRequest({
        method: "POST",
        path: "/api/v1",
        rawQuery: "",
        headers: {},
        body: new Uint8Array(),
        remoteAddress: "127.0.0.1",
        remotePort: 1,
      });
    const ids = (r: HttpRequest) =>
      (getOperations(agent, r).operations ?? []).map((o) => o.info.id?.value).sort();
    assert.deepEqual(ids(request()), ["on-db", "on-web"], "without ACLs, all of them");
    const acls = parseAcls({
      view_roles: [
        { principals: { type: "ANY" }, roles: { values: ["web"] } },
        { principals: { type: "ANY" }, roles: { type: "NONE" } },
      ],
    });
    assert.ok(acls.ok, JSON.stringify(acls));
    const guarded = request();
    setRequestAuthorizer(guarded, new LocalAuthorizer(acls.value));
    assert.deepEqual(ids(guarded), ["on-web"], "a reservation on 'db' is not for this caller");
    const none = request();
    const nothing = parseAcls({
      view_roles: [{ principals: { type: "ANY" }, roles: { type: "NONE" } }],
    });
    assert.ok(nothing.ok);
    setRequestAuthorizer(none, new LocalAuthorizer(nothing.value));
    assert.deepEqual(ids(none), []);
  });
});
