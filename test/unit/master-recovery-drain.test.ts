/**
 * Agent deactivation and drain state go to the registry before the master
 * acts or answers (DEACTIVATE_AGENT, REACTIVATE_AGENT, DRAIN_AGENT and the
 * move to DRAINED); a failed write answers 503 and changes nothing; a master
 * recovered from the registry keeps deactivated, DRAINING and DRAINED agents
 * so when they re-register.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type {
  Registry_Slave,
  ReregisterSlaveMessage,
} from "../../src/common/protocol/generated/mesos-internal.js";
import {
  operatorDeactivateAgent,
  operatorReactivateAgent,
} from "../../src/master/core/agent-health.js";
import {
  clearDrain,
  drainAgent,
  drainInfoOf,
  reactivationRefused,
} from "../../src/master/core/drain.js";
import type { Master } from "../../src/master/core/master.js";
import {
  HeldRegistrar,
  recoveringMaster,
  type SentMessage,
  storedAgentInfo,
  tracked,
} from "./master-fixture.js";

function reregistration(agentId: string): ReregisterSlaveMessage {
  return {
    slave: storedAgentInfo(agentId),
    version: "1.12.0",
    tasks: [],
    frameworks: [],
    executor_infos: [],
    agent_capabilities: [{ type: "MULTI_ROLE" }, { type: "AGENT_DRAINING" }],
  };
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
};

const pidOf = (id: string): string => `slave(1)@127.0.0.${id.length}:50${id.charCodeAt(1)}`;

/**
 * A master recovered from `stored` (admitted entries for `ids`, with the
 * flags given), with those agents re-registered.
 */
async function setup(ids: string[], flags: Record<string, Partial<Registry_Slave>> = {}) {
  const sent: SentMessage[] = [];
  const fatal: string[] = [];
  const registrar = new HeldRegistrar();
  for (const id of ids) await registrar.apply({ kind: "admit-agent", info: storedAgentInfo(id) });
  for (const [id, f] of Object.entries(flags)) {
    if (f.drain_info !== undefined) {
      await registrar.apply({ kind: "drain-agent", agentId: id, drainInfo: f.drain_info });
      if (f.drain_info.state === "DRAINED") {
        await registrar.apply({ kind: "mark-agent-drained", agentId: id });
      }
    } else if (f.deactivated === true) {
      await registrar.apply({ kind: "deactivate-agent", agentId: id });
    }
  }
  const { master } = recoveringMaster({
    registrar,
    seed: 7,
    sent,
    onFatal: (message) => fatal.push(message),
  });
  master.recover(registrar.snapshot());
  for (const id of ids) master.reregisterAgent(pidOf(id), reregistration(id));
  await settle();
  for (const id of ids) assert.ok(master.agents.has(id), `agent ${id} re-registered`);
  const drains = (id: string) =>
    sent.filter((s) => s.type === "mesos.internal.DrainSlaveMessage" && s.pid === pidOf(id));
  const stored = (id: string) =>
    registrar.snapshot().slaves?.slaves?.find((s) => s.info.id?.value === id);
  return { master, registrar, sent, fatal, drains, stored };
}

const reactivate = (m: Master, id: string) =>
  operatorReactivateAgent(
    m,
    id,
    () => reactivationRefused(m, id),
    () => clearDrain(m, id),
  );

test("drain persistence: DEACTIVATE_AGENT answers only after the registry has it", async () => {
  const s = await setup(["a1"]);
  s.registrar.hold = true;
  const answer = tracked(operatorDeactivateAgent(s.master, "a1"));
  await settle();
  assert.equal(answer.done(), false);
  assert.equal(s.master.agents.get("a1")?.active, true);
  assert.equal(s.master.deactivatedAgents.has("a1"), false);
  s.registrar.release();
  assert.deepEqual(await answer.promise, { status: 200, message: "" });
  assert.equal(s.stored("a1")?.deactivated, true);
  assert.equal(s.master.agents.get("a1")?.active, false);
  assert.equal((await operatorDeactivateAgent(s.master, "nobody")).status, 400);
});

test("drain persistence: a failed write answers 503 and leaves the agent as it was", async () => {
  const s = await setup(["a1"]);
  s.registrar.failNext = "disk I/O error";
  const deactivated = await operatorDeactivateAgent(s.master, "a1");
  assert.equal(deactivated.status, 503);
  assert.match(deactivated.message, /disk I\/O error/);
  assert.equal(s.master.agents.get("a1")?.active, true);
  assert.equal(s.master.deactivatedAgents.has("a1"), false);

  s.registrar.failNext = "disk I/O error";
  const drained = await drainAgent(s.master, { agent_id: { value: "a1" } });
  assert.equal(drained.status, 503);
  assert.equal(drainInfoOf(s.master, "a1"), undefined);
  assert.equal(s.drains("a1").length, 0);
  assert.equal(s.stored("a1")?.drain_info, undefined);
  assert.equal(s.master.agents.get("a1")?.active, true);
  assert.deepEqual(s.fatal, []);
});

test("drain persistence: DRAIN_AGENT is stored before the agent is told; DRAINED is stored before it shows", async () => {
  const s = await setup(["a1"]);
  s.registrar.hold = true;
  const answer = tracked(
    drainAgent(s.master, { agent_id: { value: "a1" }, max_grace_period: { seconds: 5 } }),
  );
  await settle();
  assert.equal(answer.done(), false);
  assert.equal(s.drains("a1").length, 0);
  assert.equal(drainInfoOf(s.master, "a1"), undefined);
  s.registrar.release();
  s.registrar.hold = true; // hold the DRAINED write that follows (the agent has no task)
  assert.deepEqual(await answer.promise, { status: 200, message: "" });
  assert.equal(s.drains("a1").length, 1);
  assert.equal(drainInfoOf(s.master, "a1")?.state, "DRAINING");
  assert.equal(s.stored("a1")?.drain_info?.state, "DRAINING");
  assert.equal(s.stored("a1")?.deactivated, true);
  assert.deepEqual(s.stored("a1")?.drain_info?.config.max_grace_period, { nanoseconds: 5e9 });
  // REACTIVATE of a DRAINING agent is refused.
  assert.equal((await reactivate(s.master, "a1")).status, 400);
  s.registrar.release();
  await settle();
  assert.equal(s.stored("a1")?.drain_info?.state, "DRAINED");
  assert.equal(drainInfoOf(s.master, "a1")?.state, "DRAINED");
  // Reactivation is stored first too; a failed write changes nothing.
  s.registrar.failNext = "disk full";
  assert.equal((await reactivate(s.master, "a1")).status, 503);
  assert.equal(drainInfoOf(s.master, "a1")?.state, "DRAINED");
  assert.equal(s.master.agents.get("a1")?.active, false);
  assert.deepEqual(await reactivate(s.master, "a1"), { status: 200, message: "" });
  assert.equal(drainInfoOf(s.master, "a1"), undefined);
  assert.equal(s.stored("a1")?.drain_info, undefined);
  assert.equal(s.stored("a1")?.deactivated, undefined);
  assert.equal(s.master.agents.get("a1")?.active, true);
  assert.deepEqual(s.fatal, []);
});

test("drain persistence: a failed DRAINED write stops the master (it recovers DRAINING)", async () => {
  const s = await setup(["a1"]);
  s.registrar.failKind = "mark-agent-drained";
  assert.equal((await drainAgent(s.master, { agent_id: { value: "a1" } })).status, 200);
  await settle();
  assert.equal(s.stored("a1")?.drain_info?.state, "DRAINING");
  assert.equal(s.fatal.length, 1);
  assert.match(s.fatal[0] ?? "", /DRAINED in the registry/);
});

test("drain persistence: a recovered master keeps deactivated, DRAINING and DRAINED agents so", async () => {
  const config = { mark_gone: false };
  const s = await setup(["a1", "a2", "a3", "a4"], {
    a1: { deactivated: true },
    a2: { drain_info: { state: "DRAINING", config } },
    a3: { drain_info: { state: "DRAINED", config } },
  });
  const active = (id: string) => s.master.agents.get(id)?.active;
  assert.equal(active("a1"), false);
  assert.equal(s.drains("a1").length, 0);
  assert.equal(drainInfoOf(s.master, "a1"), undefined);
  // A DRAINING agent is told to drain again; with no task left it becomes DRAINED.
  assert.equal(active("a2"), false);
  assert.equal(s.drains("a2").length, 1);
  assert.equal(drainInfoOf(s.master, "a2")?.state, "DRAINED");
  assert.equal(s.stored("a2")?.drain_info?.state, "DRAINED");
  // A DRAINED one gets the message too (Mesos sends it in either state) and stays DRAINED.
  assert.equal(active("a3"), false);
  assert.equal(s.drains("a3").length, 1);
  assert.equal(drainInfoOf(s.master, "a3")?.state, "DRAINED");
  assert.equal(active("a4"), true);
  for (const id of ["a1", "a2", "a3"]) assert.ok(s.master.deactivatedAgents.has(id));
  // Reactivation brings them back and clears the registry.
  assert.equal((await reactivate(s.master, "a1")).status, 200);
  assert.equal((await reactivate(s.master, "a3")).status, 200);
  assert.equal(active("a1"), true);
  assert.equal(active("a3"), true);
  assert.equal(s.stored("a1")?.deactivated, undefined);
  assert.equal(s.stored("a3")?.drain_info, undefined);
  assert.deepEqual(s.fatal, []);
});

test("drain persistence: an unreachable agent can be deactivated and drained; both survive its return", async () => {
  const s = await setup(["a1"]);
  // Make a1 unreachable in the registry and in the master, as a health check timeout would.
  await s.registrar.apply({
    kind: "mark-agent-unreachable",
    info: storedAgentInfo("a1"),
    timeNs: 1,
  });
  const { master: fresh } = recoveringMaster({
    registrar: s.registrar,
    seed: 1,
    sent: s.sent,
    onFatal: (message) => s.fatal.push(message),
  });
  fresh.recover(s.registrar.snapshot());
  assert.ok(fresh.unreachableAgents.has("a1"));
  assert.equal((await drainAgent(fresh, { agent_id: { value: "a1" } })).status, 200);
  assert.equal(
    s.registrar.snapshot().unreachable?.slaves?.[0]?.drain_info?.state,
    "DRAINING",
    "stored on the unreachable entry",
  );
  const before = s.drains("a1").length;
  fresh.reregisterAgent(pidOf("a1"), reregistration("a1"));
  await settle();
  assert.equal(fresh.agents.get("a1")?.active, false);
  assert.equal(s.drains("a1").length, before + 1);
  assert.equal(drainInfoOf(fresh, "a1")?.state, "DRAINED");
  assert.equal(s.stored("a1")?.deactivated, true);
  assert.equal(s.stored("a1")?.drain_info?.state, "DRAINED");
  assert.deepEqual(s.fatal, []);
});

test("drain persistence: an agent that unregisters leaves no deactivation or drain state behind", async () => {
  const s = await setup(["a1"]);
  assert.equal((await operatorDeactivateAgent(s.master, "a1")).status, 200);
  assert.equal((await drainAgent(s.master, { agent_id: { value: "a1" } })).status, 200);
  s.master.unregisterAgent(pidOf("a1"), { slave_id: { value: "a1" } });
  await settle();
  assert.equal(s.master.agents.has("a1"), false);
  assert.equal(s.master.deactivatedAgents.has("a1"), false);
  assert.equal(drainInfoOf(s.master, "a1"), undefined);
  assert.equal(s.stored("a1"), undefined);
});
