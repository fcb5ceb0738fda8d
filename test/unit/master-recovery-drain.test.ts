/**
 * Agent deactivation and drain state go to the registry before the master
 * acts or answers (DEACTIVATE_AGENT, REACTIVATE_AGENT, DRAIN_AGENT and the
 * move to DRAINED); a failed write answers 503 and changes nothing; a master
 * recovered from the registry keeps deactivated, DRAINING and DRAINED agents
 * so when they re-register.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MasterIds } from "../../src/common/ids/index.js";
import type {
  Registry,
  Registry_Slave,
  ReregisterSlaveMessage,
  SlaveInfo,
} from "../../src/common/protocol/generated/mesos-internal.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { seededRandom } from "../../src/common/time/random.js";
import { HierarchicalAllocator } from "../../src/master/allocator/index.js";
import {
  operatorDeactivateAgent,
  operatorReactivateAgent,
} from "../../src/master/core/agent-health.js";
import { defaultMasterConfig } from "../../src/master/core/config.js";
import {
  clearDrain,
  drainAgent,
  drainInfoOf,
  reactivationRefused,
} from "../../src/master/core/drain.js";
import { Master } from "../../src/master/core/master.js";
import { buildMasterInfo } from "../../src/master/master-info.js";
import { InMemoryRegistrar } from "../../src/master/registrar/in-memory.js";
import type { Registrar, RegistryOperation } from "../../src/master/registrar/registrar.js";
import { MASTER_ID, resources, type SentMessage } from "./master-fixture.js";

/** An in-memory registrar whose writes can be held back or made to fail. */
class HeldRegistrar implements Registrar {
  readonly durable = true;
  readonly name = "held";
  readonly inner = new InMemoryRegistrar();
  hold = false;
  failNext: string | undefined;
  /** Operations of this kind fail. */
  failKind: RegistryOperation["kind"] | undefined;
  private held: (() => void)[] = [];

  recover(): Promise<Registry> {
    return this.inner.recover();
  }
  snapshot(): Registry {
    return this.inner.snapshot();
  }
  apply(operation: RegistryOperation): Promise<boolean> {
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure !== undefined) return Promise.reject(new Error(failure));
    if (operation.kind === this.failKind) return Promise.reject(new Error("refused"));
    if (!this.hold) return this.inner.apply(operation);
    return new Promise((resolve, reject) => {
      this.held.push(() => this.inner.apply(operation).then(resolve, reject));
    });
  }
  release(): void {
    this.hold = false;
    const held = this.held;
    this.held = [];
    for (const write of held) write();
  }
}

function agentInfo(id: string): SlaveInfo {
  return {
    hostname: `host-${id}`,
    port: 5051,
    id: { value: id },
    resources: resources("cpus:4;mem:1024"),
    checkpoint: true,
  };
}

function reregistration(agentId: string): ReregisterSlaveMessage {
  return {
    slave: agentInfo(agentId),
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
  const clock = new ManualClock();
  const random = seededRandom(7);
  const sent: SentMessage[] = [];
  const fatal: string[] = [];
  const registrar = new HeldRegistrar();
  const allocator = new HierarchicalAllocator({ clock, random });
  for (const id of ids) await registrar.apply({ kind: "admit-agent", info: agentInfo(id) });
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
  const master = new Master({
    config: {
      ...defaultMasterConfig(
        buildMasterInfo({ id: MASTER_ID, ip: "127.0.0.1", port: 5050, hostname: "m" }),
      ),
      agentReregisterTimeoutMs: 600_000,
      agentPingTimeoutMs: 1_000_000,
    },
    clock,
    random,
    logger: { info: () => {}, warn: () => {}, error: () => {}, verbose: () => {} },
    io: {
      sendToAgent: (pid, type, message) => sent.push({ pid, type, message }),
      linkAgent: () => {},
    },
    allocator,
    registrar,
    ids: new MasterIds(MASTER_ID),
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

function tracked<T>(promise: Promise<T>): { done: () => boolean; promise: Promise<T> } {
  let done = false;
  void promise.finally(() => {
    done = true;
  });
  return { done: () => done, promise };
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
  await s.registrar.apply({ kind: "mark-agent-unreachable", info: agentInfo("a1"), timeNs: 1 });
  const clock = new ManualClock();
  const fresh = new Master({
    config: {
      ...defaultMasterConfig(
        buildMasterInfo({ id: MASTER_ID, ip: "127.0.0.1", port: 5050, hostname: "m" }),
      ),
      agentReregisterTimeoutMs: 600_000,
      agentPingTimeoutMs: 1_000_000,
    },
    clock,
    random: seededRandom(1),
    logger: { info: () => {}, warn: () => {}, error: () => {}, verbose: () => {} },
    io: {
      sendToAgent: (pid, type, message) => s.sent.push({ pid, type, message }),
      linkAgent: () => {},
    },
    allocator: new HierarchicalAllocator({ clock, random: seededRandom(1) }),
    registrar: s.registrar,
    ids: new MasterIds(MASTER_ID),
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
