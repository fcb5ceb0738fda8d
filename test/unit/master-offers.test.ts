import assert from "node:assert/strict";
import { test } from "node:test";
import type { Offer } from "../../src/common/protocol/generated/mesos-v1.js";
import {
  AGENT_PID,
  frameworkInfo,
  MASTER_ID,
  makeMaster,
  registerAgent,
  subscribe,
} from "./master-fixture.js";

test("master agents: a new agent gets <master-id>-S<n>, a ping, and a link", async () => {
  const f = makeMaster();
  const id = await registerAgent(f);
  assert.equal(id, `${MASTER_ID}-S0`);
  const registered = f.sentOfType("mesos.internal.SlaveRegisteredMessage")[0];
  assert.equal(registered?.connection?.total_ping_timeout_seconds, 75);
  assert.deepEqual(f.sentOfType("mesos.internal.PingSlaveMessage"), [{ connected: true }]);
  assert.deepEqual(f.links, [AGENT_PID]);
});

test("master agents: a registration retry from the same pid gets the same id again", async () => {
  const f = makeMaster();
  const first = await registerAgent(f);
  const second = await registerAgent(f);
  assert.equal(second, first);
  assert.equal(f.master.agents.size, 1);
});

test("master offers: every offered resource carries allocation_info.role; url and hostname set", async () => {
  const f = makeMaster();
  const agentId = await registerAgent(f);
  const { stream, frameworkId } = subscribe(f, frameworkInfo({ role: "web" }));
  f.allocate();
  const offer = stream.last("OFFERS")?.offers?.offers?.[0] as Offer;
  assert.ok(offer !== undefined);
  assert.equal(offer.framework_id.value, frameworkId);
  assert.equal(offer.agent_id.value, agentId);
  assert.equal(offer.hostname, "agent-host");
  assert.equal(offer.allocation_info?.role, "web");
  assert.deepEqual(offer.url, {
    scheme: "http",
    address: { hostname: "agent-host", ip: "127.0.0.1", port: 5051 },
    path: "/slave(1)",
  });
  assert.ok((offer.resources ?? []).length >= 4);
  for (const r of offer.resources ?? []) assert.equal(r.allocation_info?.role, "web");
  assert.match(offer.id.value, new RegExp(`^${MASTER_ID}-O\\d+$`));
});

test("master offers: --offer_timeout rescinds an unanswered offer", async () => {
  const f = makeMaster({ offerTimeoutMs: 10_000 });
  await registerAgent(f);
  const { stream } = subscribe(f);
  f.allocate();
  const offerId = stream.last("OFFERS")?.offers?.offers?.[0]?.id.value;
  f.clock.advance(9_999);
  assert.equal(stream.ofType("RESCIND").length, 0);
  f.clock.advance(1);
  assert.equal(stream.last("RESCIND")?.rescind?.offer_id.value, offerId);
  assert.equal(f.master.offers.size, 0);
});

test("master offers: DECLINE gives the resources back with a refuse filter", async () => {
  const f = makeMaster();
  await registerAgent(f);
  const { stream, frameworkId } = subscribe(f);
  f.allocate();
  const offer = stream.last("OFFERS")?.offers?.offers?.[0];
  assert.ok(offer !== undefined);
  const record = f.master.frameworks.get(frameworkId);
  assert.ok(record !== undefined);
  f.master.decline(record, { offer_ids: [offer.id], filters: { refuse_seconds: 60 } });
  assert.equal(f.master.offers.size, 0);
  f.allocate();
  assert.equal(stream.ofType("OFFERS").length, 1, "filtered for 60 seconds");
  f.clock.advance(61_000);
  f.allocate();
  assert.equal(stream.ofType("OFFERS").length, 2);
});

test("master offers: SUPPRESS stops offers until REVIVE", async () => {
  const f = makeMaster();
  await registerAgent(f);
  const { stream, frameworkId } = subscribe(f);
  const record = f.master.frameworks.get(frameworkId);
  assert.ok(record !== undefined);
  f.master.suppress(record, {});
  f.allocate();
  assert.equal(stream.ofType("OFFERS").length, 0);
  f.master.revive(record, {});
  f.allocate();
  assert.equal(stream.ofType("OFFERS").length, 1);
});

test("master offers: SUPPRESS/REVIVE naming an invalid or foreign role are dropped whole, with Mesos' reason", async () => {
  const f = makeMaster();
  await registerAgent(f);
  const { stream, frameworkId } = subscribe(f, frameworkInfo({ role: "web" }));
  const record = f.master.frameworks.get(frameworkId);
  assert.ok(record !== undefined);
  const warnings: string[] = [];
  f.master.logger.warn = (message: string) => warnings.push(message);
  f.master.suppress(record, { roles: ["web", "other"] });
  f.allocate();
  assert.equal(stream.ofType("OFFERS").length, 1, "nothing was suppressed");
  f.master.suppress(record, { roles: ["/bad"] });
  f.master.revive(record, { roles: ["other"] });
  assert.deepEqual(warnings, [
    `Dropping SUPPRESS call from framework ${frameworkId}: suppression role 'other' is not one of the frameworks's subscribed roles`,
    `Dropping SUPPRESS call from framework ${frameworkId}: suppression role '/bad' is invalid: Role '/bad' cannot start with a slash`,
    `Dropping REVIVE call from framework ${frameworkId}: revive role 'other' is not one of the frameworks's subscribed roles`,
  ]);
});

test("master agents: a broken connection rescinds the agent's offers and stops offers from it", async () => {
  const f = makeMaster();
  await registerAgent(f);
  const { stream } = subscribe(f);
  f.allocate();
  f.master.agentExited(AGENT_PID);
  assert.equal(stream.ofType("RESCIND").length, 1);
  f.allocate();
  assert.equal(stream.ofType("OFFERS").length, 1);
});

test("master agents: missing pongs make the agent unreachable (FAILURE to frameworks)", async () => {
  const f = makeMaster({ agentPingTimeoutMs: 1000, maxAgentPingTimeouts: 3 });
  const agentId = await registerAgent(f);
  const { stream } = subscribe(f);
  f.clock.advance(2000);
  f.master.pong(AGENT_PID);
  // Next ping at 3 s, then three unanswered timeouts: 4, 5 and 6 s.
  f.clock.advance(3999);
  assert.ok(f.master.agents.has(agentId));
  f.clock.advance(1);
  await f.settle(); // the registry records the agent as unreachable first
  assert.equal(f.master.agents.has(agentId), false);
  assert.ok(f.master.unreachableAgents.has(agentId));
  assert.equal(stream.last("FAILURE")?.failure?.agent_id?.value, agentId);
});

test("master agents: a disconnected agent that does not re-register is marked unreachable", async () => {
  const f = makeMaster({ agentReregisterTimeoutMs: 60_000, agentPingTimeoutMs: 100_000 });
  const agentId = await registerAgent(f);
  f.master.agentExited(AGENT_PID);
  f.clock.advance(59_999);
  assert.ok(f.master.agents.has(agentId));
  f.clock.advance(1);
  await f.settle();
  assert.equal(f.master.agents.has(agentId), false);
});

test("master agents: re-registration of a disconnected agent reactivates it", async () => {
  const f = makeMaster();
  const agentId = await registerAgent(f);
  const agent = f.master.agents.get(agentId);
  assert.ok(agent !== undefined);
  f.master.agentExited(AGENT_PID);
  assert.equal(agent.active, false);
  f.master.reregisterAgent(AGENT_PID, {
    slave: { ...agent.info },
    version: "1.12.0",
    agent_capabilities: agent.capabilities,
  });
  await f.settle();
  assert.equal(agent.connected, true);
  assert.equal(agent.active, true);
  assert.equal(f.sentOfType("mesos.internal.SlaveReregisteredMessage")[0]?.slave_id.value, agentId);
});

test("master agents: an unknown agent re-registering is admitted with its tasks", async () => {
  const f = makeMaster();
  const { stream, frameworkId } = subscribe(f, frameworkInfo({ id: { value: "fw-1" } }));
  assert.equal(frameworkId, "fw-1");
  f.master.reregisterAgent(AGENT_PID, {
    slave: { hostname: "agent-host", id: { value: "old-S3" }, resources: [], checkpoint: true },
    version: "1.12.0",
    frameworks: [frameworkInfo({ id: { value: "fw-1" } })],
    tasks: [
      {
        name: "t",
        task_id: { value: "t1" },
        framework_id: { value: "fw-1" },
        agent_id: { value: "old-S3" },
        state: "TASK_RUNNING",
        resources: [],
      },
    ],
  });
  await f.settle();
  assert.ok(f.master.agents.has("old-S3"));
  assert.ok(f.master.frameworks.get("fw-1")?.tasks.has("t1"));
  const update = stream.last("UPDATE")?.update?.status;
  assert.equal(update?.state, "TASK_RUNNING");
  assert.equal(update?.reason, "REASON_AGENT_REREGISTERED");
});

test("master offers: schedulers without RESERVATION_REFINEMENT get the old format (role '*')", async () => {
  const f = makeMaster();
  await registerAgent(f);
  const old = subscribe(f, frameworkInfo());
  f.allocate();
  for (const r of old.stream.last("OFFERS")?.offers?.offers?.[0]?.resources ?? []) {
    assert.equal(r.role, "*");
    assert.equal(r.reservations, undefined);
    assert.equal(r.allocation_info?.role, "*");
  }
  const oldRecord = f.master.frameworks.get(old.frameworkId);
  assert.ok(oldRecord !== undefined);
  f.master.teardown(oldRecord);
  const modern = subscribe(
    f,
    frameworkInfo({ capabilities: [{ type: "RESERVATION_REFINEMENT" }] }),
  );
  f.allocate();
  const offered = modern.stream.last("OFFERS")?.offers?.offers?.[0]?.resources ?? [];
  assert.ok(offered.length > 0);
  for (const r of offered) assert.equal(r.role, undefined);
});
