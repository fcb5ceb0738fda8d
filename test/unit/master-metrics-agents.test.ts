/**
 * The master's agent and message counters move on the events Mesos counts
 * them on (src/master/master.cpp): the steps to unreachable, removals and
 * their reasons, re-registrations of agents the master did not have, and
 * framework-to-executor messages.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { MasterIds } from "../../src/common/ids/index.js";
import { MetricsRegistry } from "../../src/common/observability/metrics.js";
import type { SlaveInfo } from "../../src/common/protocol/generated/mesos-internal.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { seededRandom } from "../../src/common/time/random.js";
import { HierarchicalAllocator } from "../../src/master/allocator/index.js";
import { markAgentGone } from "../../src/master/core/agent-health.js";
import { defaultMasterConfig } from "../../src/master/core/config.js";
import { Master } from "../../src/master/core/master.js";
import { DEFAULT_RECOVERY_CONFIG } from "../../src/master/core/recovery.js";
import { startMaintenance, updateSchedule } from "../../src/master/http/maintenance.js";
import { buildMasterInfo } from "../../src/master/master-info.js";
import { MasterMetrics } from "../../src/master/metrics.js";
import { InMemoryRegistrar } from "../../src/master/registrar/in-memory.js";
import { SqliteRegistrar } from "../../src/master/registrar/sqlite.js";
import {
  AGENT_PID,
  type Fixture,
  frameworkInfo,
  MASTER_ID,
  makeMaster,
  registerAgent,
  storedAgentInfo,
  subscribe,
} from "./master-fixture.js";

function metricsOf(master: Master, clock: ManualClock): MetricsRegistry {
  const registry = new MetricsRegistry(clock);
  new MasterMetrics({
    registry,
    master,
    allocator: master.allocator,
    startTime: clock.now(),
    perFramework: false,
    subscribers: () => 0,
    registrySize: () => 0,
  });
  return registry;
}

/** The `master/<name>` values of a snapshot. */
function counts(registry: MetricsRegistry, names: string[]): Record<string, number | undefined> {
  const snap = registry.snapshotNow();
  return Object.fromEntries(names.map((n) => [n, snap[`master/${n}`]]));
}

const AGENT_COUNTERS = [
  "slave_registrations",
  "slave_reregistrations",
  "slave_removals",
  "slave_removals/reason_unhealthy",
  "slave_removals/reason_unregistered",
  "slave_removals/reason_registered",
  "slave_unreachable_scheduled",
  "slave_unreachable_completed",
  "slave_unreachable_canceled",
  "recovery_slave_removals",
];

function expectCounts(registry: MetricsRegistry, expected: Record<string, number>): void {
  const all = counts(registry, AGENT_COUNTERS);
  const want = Object.fromEntries(AGENT_COUNTERS.map((n) => [n, expected[n] ?? 0]));
  assert.deepEqual(all, want);
}

function reregister(f: Fixture, agentId: string, pid = AGENT_PID): Promise<void> {
  const agent = f.master.agents.get(agentId);
  const info: SlaveInfo = agent?.info ?? storedAgentInfo(agentId);
  f.master.reregisterAgent(pid, {
    slave: { ...info, id: { value: agentId } },
    version: "1.12.0",
    agent_capabilities: [{ type: "MULTI_ROLE" }],
  });
  return f.settle();
}

test("master metrics: an agent that stops answering pings is scheduled, completed and removed as unhealthy", async () => {
  const f = makeMaster({ agentPingTimeoutMs: 1000, maxAgentPingTimeouts: 2 });
  const registry = metricsOf(f.master, f.clock);
  const agentId = await registerAgent(f);
  expectCounts(registry, { slave_registrations: 1 });
  for (let i = 0; i < 5 && f.master.agents.has(agentId); i++) {
    f.clock.advance(1000);
    await f.settle();
  }
  assert.ok(f.master.unreachableAgents.has(agentId));
  expectCounts(registry, {
    slave_registrations: 1,
    slave_unreachable_scheduled: 1,
    slave_unreachable_completed: 1,
    slave_removals: 1,
    "slave_removals/reason_unhealthy": 1,
  });
  assert.equal(registry.snapshotNow()["master/slaves_unreachable"], 1);
  // The unreachable agent comes back: a re-registration of an agent the master did not have.
  await reregister(f, agentId);
  assert.ok(f.master.agents.has(agentId));
  assert.equal(counts(registry, ["slave_reregistrations"]).slave_reregistrations, 1);
});

test("master metrics: a registered agent that reconnects is no re-registration; one that stays away is removed", async () => {
  const f = makeMaster({ agentReregisterTimeoutMs: 60_000, agentPingTimeoutMs: 1_000_000 });
  const registry = metricsOf(f.master, f.clock);
  const agentId = await registerAgent(f);
  f.master.agentExited(AGENT_PID);
  await reregister(f, agentId);
  assert.equal(f.master.agents.get(agentId)?.connected, true);
  expectCounts(registry, { slave_registrations: 1 });
  f.master.agentExited(AGENT_PID);
  f.clock.advance(60_000);
  await f.settle();
  assert.equal(f.master.agents.has(agentId), false);
  expectCounts(registry, {
    slave_registrations: 1,
    slave_unreachable_scheduled: 1,
    slave_unreachable_completed: 1,
    slave_removals: 1,
    "slave_removals/reason_unhealthy": 1,
  });
});

test("master metrics: removals by unregistration, by a new agent at the same address, by machine DOWN, and marked gone", async () => {
  const f = makeMaster();
  const registry = metricsOf(f.master, f.clock);
  const first = await registerAgent(f, undefined, "slave(1)@127.0.0.1:5051", "host-a");
  f.master.unregisterAgent("slave(1)@127.0.0.1:5051", { slave_id: { value: first } });
  await f.settle();
  expectCounts(registry, {
    slave_registrations: 1,
    slave_removals: 1,
    "slave_removals/reason_unregistered": 1,
  });
  await registerAgent(f, undefined, "slave(1)@127.0.0.1:5052", "host-b");
  // A new agent at the same address replaces the old, disconnected one.
  f.master.agentExited("slave(1)@127.0.0.1:5052");
  await registerAgent(f, undefined, "slave(1)@127.0.0.1:5052", "host-b");
  expectCounts(registry, {
    slave_registrations: 3,
    slave_removals: 2,
    "slave_removals/reason_unregistered": 1,
    "slave_removals/reason_registered": 1,
  });
  // Machine DOWN removes its agent with no reason of its own (as Mesos).
  const machine = { hostname: "host-b", ip: "127.0.0.1" };
  const scheduled = await updateSchedule(f.master, {
    windows: [{ machine_ids: [machine], unavailability: { start: { nanoseconds: 0 } } }],
  });
  assert.ok(scheduled.ok);
  const down = await startMaintenance(f.master, [machine]);
  assert.ok(down.ok, JSON.stringify(down));
  await f.settle();
  expectCounts(registry, {
    slave_registrations: 3,
    slave_removals: 3,
    "slave_removals/reason_unregistered": 1,
    "slave_removals/reason_registered": 1,
  });
  // Marked gone: no removal counter moves (Mesos' markGone counts none).
  const gone = await registerAgent(f, undefined, "slave(1)@127.0.0.1:5053", "host-c");
  const result = await markAgentGone(f.master, gone);
  assert.equal(result.status, 200);
  await f.settle();
  assert.equal(f.master.agents.has(gone), false);
  assert.equal(counts(registry, ["slave_removals"]).slave_removals, 3);
});

test("master metrics: with a removal rate limit, a pong before the permit cancels the transition", async () => {
  const clock = new ManualClock();
  const random = seededRandom(5);
  const sent: { type: string }[] = [];
  const master = new Master({
    config: {
      ...defaultMasterConfig(
        buildMasterInfo({ id: MASTER_ID, ip: "127.0.0.1", port: 5050, hostname: "m" }),
      ),
      agentPingTimeoutMs: 1000,
      maxAgentPingTimeouts: 2,
    },
    clock,
    random,
    logger: { info: () => {}, warn: () => {}, error: () => {}, verbose: () => {} },
    io: { sendToAgent: (_pid, type) => sent.push({ type }), linkAgent: () => {} },
    allocator: new HierarchicalAllocator({ clock, random }),
    registrar: new InMemoryRegistrar(),
    ids: new MasterIds(MASTER_ID),
    recovery: { ...DEFAULT_RECOVERY_CONFIG, removalRate: { permits: 1, intervalMs: 60_000 } },
  });
  const f: Fixture = {
    master,
    clock,
    sent: [],
    links: [],
    allocate: () => {},
    settle: () => new Promise((resolve) => setImmediate(resolve)),
    sentOfType: () => [],
  };
  const registry = metricsOf(master, clock);
  const pidA = "slave(1)@127.0.0.1:6001";
  const pidB = "slave(1)@127.0.0.1:6002";
  for (const [pid, host] of [
    [pidA, "host-a"],
    [pidB, "host-b"],
  ] as const) {
    master.registerAgent(pid, {
      slave: { hostname: host, port: 5051, resources: [], checkpoint: true },
      version: "1.12.0",
    });
  }
  await f.settle();
  const [a, b] = [...master.agents.values()].sort((x, y) => x.pid.localeCompare(y.pid));
  assert.ok(a !== undefined && b !== undefined);
  // Neither answers: both transitions are scheduled; A gets the first permit at once.
  for (
    let i = 0;
    i < 10 && counts(registry, ["slave_unreachable_scheduled"]).slave_unreachable_scheduled !== 2;
    i++
  ) {
    clock.advance(1000);
    await f.settle();
  }
  expectCounts(registry, {
    slave_registrations: 2,
    slave_unreachable_scheduled: 2,
    slave_unreachable_completed: 1,
    slave_removals: 1,
    "slave_removals/reason_unhealthy": 1,
  });
  assert.equal(master.agents.has(a.id), false);
  // B answers from now on; its permit comes a minute later and cancels.
  for (let i = 0; i < 70; i++) {
    master.pong(pidB);
    clock.advance(1000);
    await f.settle();
  }
  assert.ok(master.agents.has(b.id));
  expectCounts(registry, {
    slave_registrations: 2,
    slave_unreachable_scheduled: 2,
    slave_unreachable_completed: 1,
    slave_unreachable_canceled: 1,
    slave_removals: 1,
    "slave_removals/reason_unhealthy": 1,
  });
  master.stop();
});

test("master metrics: after a failover, a recovered agent that never reregisters counts in recovery_slave_removals", async () => {
  const clock = new ManualClock();
  const random = seededRandom(9);
  const registrar = new InMemoryRegistrar();
  const master = new Master({
    config: {
      ...defaultMasterConfig(
        buildMasterInfo({ id: MASTER_ID, ip: "127.0.0.1", port: 5050, hostname: "m" }),
      ),
      agentReregisterTimeoutMs: 60_000,
      agentPingTimeoutMs: 1_000_000,
    },
    clock,
    random,
    logger: { info: () => {}, warn: () => {}, error: () => {}, verbose: () => {} },
    io: { sendToAgent: () => {}, linkAgent: () => {} },
    allocator: new HierarchicalAllocator({ clock, random }),
    registrar,
    ids: new MasterIds(MASTER_ID),
    onFatal: (message) => assert.fail(message),
  });
  const registry = metricsOf(master, clock);
  const stored = ["agent-x", "agent-y"].map(storedAgentInfo);
  for (const info of stored) await registrar.apply({ kind: "admit-agent", info });
  master.recover({ slaves: { slaves: stored.map((info) => ({ info })) } });
  const settle = async () => {
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  };
  // agent-y comes back: a re-registration of an agent the master did not have yet.
  master.reregisterAgent("slave(1)@127.0.0.1:7002", {
    slave: stored[1] as SlaveInfo,
    version: "1.12.0",
    agent_capabilities: [{ type: "MULTI_ROLE" }],
  });
  await settle();
  assert.ok(master.agents.has("agent-y"));
  clock.advance(60_000);
  await settle();
  assert.ok(master.unreachableAgents.has("agent-x"));
  expectCounts(registry, {
    slave_reregistrations: 1,
    slave_unreachable_scheduled: 1,
    slave_unreachable_completed: 1,
    slave_removals: 1,
    "slave_removals/reason_unhealthy": 1,
    recovery_slave_removals: 1,
  });
  master.stop();
});

test("master metrics: MESSAGE calls count as valid or invalid framework-to-executor messages", async () => {
  const f = makeMaster();
  const registry = metricsOf(f.master, f.clock);
  const agentId = await registerAgent(f);
  const { frameworkId } = subscribe(f, frameworkInfo());
  const framework = f.master.frameworks.get(frameworkId);
  assert.ok(framework !== undefined);
  const message = (agent: string) =>
    f.master.message(framework, {
      agent_id: { value: agent },
      executor_id: { value: "e" },
      data: new Uint8Array([1]),
    });
  message(agentId);
  message("no-such-agent");
  f.master.agentExited(AGENT_PID);
  message(agentId);
  assert.equal(f.sentOfType("mesos.internal.FrameworkToExecutorMessage").length, 1);
  assert.deepEqual(
    counts(registry, [
      "valid_framework_to_executor_messages",
      "invalid_framework_to_executor_messages",
    ]),
    { valid_framework_to_executor_messages: 1, invalid_framework_to_executor_messages: 2 },
  );
});

test("master metrics: a role's share and offer filter gauges go when the allocator stops tracking it", async () => {
  const f = makeMaster();
  const registry = new MetricsRegistry(f.clock);
  const metrics = new MasterMetrics({
    registry,
    master: f.master,
    allocator: f.master.allocator,
    startTime: f.clock.now(),
    perFramework: false,
    subscribers: () => 0,
    registrySize: () => 0,
  });
  await registerAgent(f);
  const cycle = () =>
    metrics.allocationCycle(
      {
        candidates: 0,
        skipped: {},
        visited: 0,
        offers: 0,
        frameworkChecks: 0,
        elapsedMs: 1,
        longestSliceMs: 1,
      } as never,
      0,
    );
  const { frameworkId } = subscribe(
    f,
    frameworkInfo({ roles: ["web"], capabilities: [{ type: "MULTI_ROLE" }] }),
  );
  cycle();
  const share = "allocator/mesos/roles/web/shares/dominant";
  const filters = "allocator/mesos/offer_filters/roles/web/active";
  assert.equal(registry.has(share), true);
  assert.equal(registry.has(filters), true);
  const framework = f.master.frameworks.get(frameworkId);
  assert.ok(framework !== undefined);
  f.master.teardown(framework);
  await f.settle();
  cycle();
  assert.equal(registry.has(share), false);
  assert.equal(registry.has(filters), false);
});

test("master metrics: registrar/state_fetch keeps only its latest value; state_store has window statistics", () => {
  const f = makeMaster();
  const registry = new MetricsRegistry(f.clock);
  const metrics = new MasterMetrics({
    registry,
    master: f.master,
    allocator: f.master.allocator,
    startTime: f.clock.now(),
    perFramework: false,
    subscribers: () => 0,
    registrySize: () => 0,
  });
  let snap = registry.snapshotNow();
  assert.equal(snap["registrar/state_fetch_ms"], undefined, "no value before the first fetch");
  for (const ms of [3, 5, 7]) {
    metrics.stateFetch.record(ms);
    metrics.stateStore.record(ms);
  }
  snap = registry.snapshotNow();
  assert.equal(snap["registrar/state_fetch_ms"], 7);
  assert.equal(snap["registrar/state_fetch_ms/count"], undefined);
  assert.equal(snap["registrar/state_fetch_ms/p50"], undefined);
  assert.equal(snap["registrar/state_store_ms"], 7);
  assert.equal(snap["registrar/state_store_ms/count"], 3);
  assert.equal(snap["registrar/state_store_ms/p50"], 5);
  assert.equal(snap["registrar/state_store_ms/p9999"] !== undefined, true);
});

test("master metrics: registrar/queued_operations counts the registry operations waiting for the next write", async () => {
  const f = makeMaster();
  const dir = mkdtempSync(join(tmpdir(), "queued-ops-"));
  const registrar = SqliteRegistrar.openInWorkDir(dir);
  try {
    const registry = new MetricsRegistry(f.clock);
    new MasterMetrics({
      registry,
      master: f.master,
      allocator: f.master.allocator,
      startTime: f.clock.now(),
      perFramework: false,
      subscribers: () => 0,
      registrySize: () => 0,
      queuedOperations: () => registrar.queuedOperations,
    });
    const queued = () => registry.snapshotNow()["registrar/queued_operations"];
    assert.equal(queued(), 0);
    const writes = ["a", "b"].map((id) =>
      registrar.apply({ kind: "admit-agent", info: storedAgentInfo(id) }),
    );
    // Both wait for the write the registrar has scheduled.
    assert.equal(queued(), 2);
    assert.deepEqual(await Promise.all(writes), [true, true]);
    assert.equal(queued(), 0);
  } finally {
    registrar.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("master metrics: launches refused at ACCEPT count in tasks_<state> and their source/reason, as Mesos", async () => {
  const f = makeMaster();
  const registry = metricsOf(f.master, f.clock);
  const agentId = await registerAgent(f);
  const { stream, frameworkId } = subscribe(f, frameworkInfo());
  const framework = f.master.frameworks.get(frameworkId);
  assert.ok(framework !== undefined);
  const task = (id: string, cpus: number) => ({
    name: id,
    task_id: { value: id },
    agent_id: { value: agentId },
    resources: [{ name: "cpus", type: "SCALAR" as const, scalar: { value: cpus } }],
    command: { value: "true" },
  });
  // An offer that does not exist: the task is lost (not partition-aware).
  f.master.accept(framework, {
    offer_ids: [{ value: "no-such-offer" }],
    operations: [{ type: "LAUNCH", launch: { task_infos: [task("lost", 0.1)] } }],
  });
  // A task asking for more than the offer holds: TASK_ERROR.
  f.allocate();
  const offer = stream.last("OFFERS")?.offers?.offers?.[0];
  assert.ok(offer !== undefined);
  f.master.accept(framework, {
    offer_ids: [offer.id],
    operations: [{ type: "LAUNCH", launch: { task_infos: [task("greedy", 1000)] } }],
  });
  const states = stream
    .ofType("UPDATE")
    .map((e) => `${e.update?.status.task_id.value}:${e.update?.status.state}`);
  assert.deepEqual(states, ["lost:TASK_LOST", "greedy:TASK_ERROR"]);
  const snap = registry.snapshotNow();
  assert.equal(snap["master/tasks_lost"], 1);
  assert.equal(snap["master/tasks_error"], 1);
  assert.equal(snap["master/task_lost/source_master/reason_invalid_offers"], 1);
  assert.equal(snap["master/task_error/source_master/reason_task_invalid"], 1);
});

test("master metrics: the SQLite registrar times each batched write once (registrar/state_store_ms), not each operation", async () => {
  const dir = mkdtempSync(join(tmpdir(), "store-timer-"));
  const registrar = SqliteRegistrar.openInWorkDir(dir);
  try {
    const writes: number[] = [];
    registrar.setStoreObserver((ms) => writes.push(ms));
    const together = ["a", "b", "c"].map((id) =>
      registrar.apply({ kind: "admit-agent", info: storedAgentInfo(id) }),
    );
    await Promise.all(together);
    assert.equal(writes.length, 1, "three operations, one write");
    await registrar.apply({ kind: "admit-agent", info: storedAgentInfo("d") });
    assert.equal(writes.length, 2);
    assert.ok(writes.every((ms) => ms >= 0));
  } finally {
    registrar.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
