/**
 * The master core after a restart and across partitions: recovery from the
 * registry, the re-registration deadline, the removal limit and rate limit,
 * registry GC, healed partitions, gone agents, and reconciliation answers.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MasterIds } from "../../src/common/ids/index.js";
import type {
  Registry,
  ReregisterSlaveMessage,
  SlaveInfo,
} from "../../src/common/protocol/generated/mesos-internal.js";
import type { FrameworkInfo, Task } from "../../src/common/protocol/generated/mesos-v1.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { seededRandom } from "../../src/common/time/random.js";
import { HierarchicalAllocator } from "../../src/master/allocator/index.js";
import { markAgentGone } from "../../src/master/core/agent-health.js";
import { defaultMasterConfig } from "../../src/master/core/config.js";
import { Master } from "../../src/master/core/master.js";
import { DEFAULT_RECOVERY_CONFIG, type RecoveryConfig } from "../../src/master/core/recovery.js";
import { buildMasterInfo } from "../../src/master/master-info.js";
import { InMemoryRegistrar } from "../../src/master/registrar/in-memory.js";
import {
  FakeStream,
  frameworkInfo,
  MASTER_ID,
  resources,
  runningTask,
  type SentMessage,
} from "./master-fixture.js";

interface Setup {
  master: Master;
  clock: ManualClock;
  sent: SentMessage[];
  registrar: InMemoryRegistrar;
  fatal: string[];
  settle(): Promise<void>;
  ofType(type: string): SentMessage[];
}

const PA = frameworkInfo({
  id: { value: "fw-pa" },
  checkpoint: true,
  capabilities: [{ type: "PARTITION_AWARE" }],
});
const PLAIN = frameworkInfo({ id: { value: "fw-plain" }, checkpoint: true });

function agentInfo(id: string): SlaveInfo {
  return {
    hostname: `host-${id}`,
    port: 5051,
    id: { value: id },
    resources: resources("cpus:4;mem:1024"),
    checkpoint: true,
  };
}

const pidOf = (id: string): string => `slave(1)@127.0.0.${id.length}:${5000 + id.charCodeAt(0)}`;

async function setup(
  registry: Registry,
  recovery: Partial<RecoveryConfig> = {},
  config: { agentReregisterTimeoutMs?: number; agentPingTimeoutMs?: number } = {},
  registrar = new InMemoryRegistrar(),
): Promise<Setup> {
  const clock = new ManualClock();
  const random = seededRandom(3);
  const sent: SentMessage[] = [];
  const fatal: string[] = [];
  const info = buildMasterInfo({ id: MASTER_ID, ip: "127.0.0.1", port: 5050, hostname: "m" });
  const master = new Master({
    config: {
      ...defaultMasterConfig(info),
      agentReregisterTimeoutMs: config.agentReregisterTimeoutMs ?? 60_000,
      agentPingTimeoutMs: config.agentPingTimeoutMs ?? 1_000_000,
      maxAgentPingTimeouts: 2,
    },
    clock,
    random,
    logger: { info: () => {}, warn: () => {}, error: () => {}, verbose: () => {} },
    io: {
      sendToAgent: (pid, type, message) => sent.push({ pid, type, message }),
      linkAgent: () => {},
    },
    allocator: new HierarchicalAllocator({ clock, random }),
    registrar,
    ids: new MasterIds(MASTER_ID),
    recovery: { ...DEFAULT_RECOVERY_CONFIG, ...recovery },
    onFatal: (message) => fatal.push(message),
  });
  // What the registrar remembers is what the master recovers.
  for (const slave of registry.slaves?.slaves ?? []) {
    await registrar.apply({ kind: "admit-agent", info: slave.info });
  }
  master.recover(registry);
  return {
    master,
    clock,
    sent,
    registrar,
    fatal,
    settle: async () => {
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    },
    ofType: (type) => sent.filter((s) => s.type === `mesos.internal.${type}`),
  };
}

function registryOf(...ids: string[]): Registry {
  return { slaves: { slaves: ids.map((id) => ({ info: agentInfo(id) })) } };
}

function reregistration(
  agentId: string,
  tasks: Task[],
  frameworks: FrameworkInfo[],
): ReregisterSlaveMessage {
  return {
    slave: agentInfo(agentId),
    version: "1.12.0",
    tasks,
    frameworks,
    executor_infos: [],
    agent_capabilities: [{ type: "MULTI_ROLE" }],
  };
}

function subscribe(s: Setup, info: FrameworkInfo): FakeStream {
  const stream = new FakeStream(`stream-${info.id?.value}`);
  s.master.subscribe(stream, { framework_info: info });
  return stream;
}

test("master recovery: a recovered agent re-registers with its tasks and no registry write", async () => {
  const s = await setup(registryOf("a1"));
  assert.ok(s.master.recoveredAgents.has("a1"));
  const stream = subscribe(s, PA);
  s.master.reregisterAgent(pidOf("a1"), reregistration("a1", [runningTask("a1", PA, "t1")], [PA]));
  await s.settle();
  assert.equal(s.master.recoveredAgents.size, 0);
  assert.ok(s.master.agents.has("a1"));
  assert.equal(s.master.frameworks.get("fw-pa")?.tasks.get("t1")?.state, "TASK_RUNNING");
  assert.equal(s.ofType("SlaveReregisteredMessage").length, 1);
  // After a failover the framework learns task states by reconciling, not from re-registration.
  assert.equal(stream.statuses().length, 0);
  s.master.reconcile(s.master.frameworks.get("fw-pa")!, { tasks: [] });
  assert.equal(stream.statuses()[0]?.state, "TASK_RUNNING");
  // The deadline passes without removals.
  s.clock.advance(60_000);
  await s.settle();
  assert.ok(s.master.agents.has("a1"));
  assert.deepEqual(s.fatal, []);
});

test("master recovery: agents missing at the deadline become unreachable; reconciliation tells frameworks", async () => {
  const s = await setup(registryOf("a1", "gone-missing"));
  const pa = subscribe(s, PA);
  const plain = subscribe(s, PLAIN);
  s.master.reregisterAgent(pidOf("a1"), reregistration("a1", [], []));
  await s.settle();
  const ask = [{ task_id: { value: "t9" }, agent_id: { value: "gone-missing" } }];
  // Before the deadline an unknown task on a missing agent gets no answer.
  s.master.reconcile(s.master.frameworks.get("fw-pa")!, { tasks: ask });
  assert.equal(pa.statuses().length, 0);
  s.clock.advance(59_999);
  await s.settle();
  assert.ok(s.master.recoveredAgents.has("gone-missing"));
  s.clock.advance(1);
  await s.settle();
  assert.ok(s.master.unreachableAgents.has("gone-missing"));
  assert.equal(s.master.recoveredAgents.size, 0);
  assert.equal(s.registrar.snapshot().unreachable?.slaves?.[0]?.id.value, "gone-missing");
  assert.equal(pa.last("FAILURE")?.failure?.agent_id?.value, "gone-missing");
  s.master.reconcile(s.master.frameworks.get("fw-pa")!, { tasks: ask });
  s.master.reconcile(s.master.frameworks.get("fw-plain")!, { tasks: ask });
  assert.equal(pa.statuses()[0]?.state, "TASK_UNREACHABLE");
  assert.equal(plain.statuses()[0]?.state, "TASK_LOST");
});

test("master recovery: more missing agents than --recovery_agent_removal_limit stops the master", async () => {
  const s = await setup(registryOf("a1", "a2", "a3", "a4"), { removalLimit: 0.5 });
  s.master.reregisterAgent(pidOf("a1"), reregistration("a1", [], []));
  await s.settle();
  s.clock.advance(60_000);
  await s.settle();
  assert.equal(s.fatal.length, 1);
  assert.match(s.fatal[0] ?? "", /removal limit exceeded.*3 of the 4 agents/);
  assert.match(s.fatal[0] ?? "", /--recovery_agent_removal_limit/);
  assert.equal(s.master.unreachableAgents.size, 0);
});

test("master recovery: --agent_removal_rate_limit spaces out the removals", async () => {
  const s = await setup(registryOf("a1", "a2", "a3"), {
    removalRate: { permits: 1, intervalMs: 10_000 },
  });
  s.clock.advance(60_000);
  await s.settle();
  assert.equal(s.master.unreachableAgents.size, 1);
  s.clock.advance(9_999);
  await s.settle();
  assert.equal(s.master.unreachableAgents.size, 1);
  // One comes back while waiting for its permit: it is not removed.
  const waiting = [...s.master.recoveredAgents.keys()];
  s.master.reregisterAgent(pidOf(waiting[1] ?? ""), reregistration(waiting[1] ?? "", [], []));
  await s.settle();
  s.clock.advance(1);
  await s.settle();
  assert.equal(s.master.unreachableAgents.size, 2);
  s.clock.advance(20_000);
  await s.settle();
  assert.equal(s.master.unreachableAgents.size, 2);
  assert.ok(s.master.agents.has(waiting[1] ?? ""));
});

test("master recovery: a healed partition re-adds tasks for live frameworks and shuts down completed ones", async () => {
  const s = await setup({ slaves: { slaves: [] } }, {}, { agentPingTimeoutMs: 1000 });
  const pa = subscribe(s, PA);
  const plain = subscribe(s, PLAIN);
  s.master.registerAgent(pidOf("x"), { slave: agentInfo(""), version: "1.12.0" });
  await s.settle();
  const agentId = [...s.master.agents.keys()][0] ?? "";
  // The partition: two missed pings.
  s.clock.advance(2000);
  await s.settle();
  assert.ok(s.master.unreachableAgents.has(agentId));
  assert.deepEqual(
    s.registrar.snapshot().unreachable?.slaves?.map((u) => u.id.value),
    [agentId],
  );
  // A third framework was torn down meanwhile.
  const doneInfo = frameworkInfo({ id: { value: "fw-done" }, checkpoint: true });
  const done = subscribe(s, doneInfo);
  s.master.teardown(s.master.frameworks.get("fw-done")!);
  assert.ok(done.closed);
  s.master.reregisterAgent(
    pidOf("x"),
    reregistration(
      agentId,
      [
        runningTask(agentId, PA, "t-pa"),
        runningTask(agentId, PLAIN, "t-plain"),
        runningTask(agentId, doneInfo, "t-done"),
      ],
      [PA, PLAIN, doneInfo],
    ),
  );
  await s.settle();
  assert.ok(s.master.agents.has(agentId));
  assert.equal(s.master.unreachableAgents.has(agentId), false);
  assert.equal(pa.statuses().at(-1)?.state, "TASK_RUNNING");
  assert.equal(pa.statuses().at(-1)?.reason, "REASON_AGENT_REREGISTERED");
  assert.equal(plain.statuses().at(-1)?.state, "TASK_RUNNING");
  assert.equal(s.master.frameworks.get("fw-done"), undefined);
  const shutdowns = s
    .ofType("ShutdownFrameworkMessage")
    .map((m) => (m.message as { framework_id: { value: string } }).framework_id.value);
  assert.ok(shutdowns.includes("fw-done"));
});

test("master recovery: a gone agent is recorded in the registry and refused when it comes back", async () => {
  const s = await setup(registryOf("a1"));
  const pa = subscribe(s, PA);
  assert.equal((await markAgentGone(s.master, "a1")).status, 200);
  await s.settle();
  assert.equal(s.registrar.snapshot().gone?.slaves?.[0]?.id.value, "a1");
  s.master.reregisterAgent(pidOf("a1"), reregistration("a1", [], []));
  await s.settle();
  assert.equal(s.ofType("ShutdownMessage").length, 1);
  assert.equal(s.master.agents.has("a1"), false);
  s.master.reconcile(s.master.frameworks.get("fw-pa")!, {
    tasks: [{ task_id: { value: "t" }, agent_id: { value: "a1" } }],
  });
  assert.equal(pa.statuses()[0]?.state, "TASK_GONE_BY_OPERATOR");
});

test("master recovery: the registry GC drops unreachable agents beyond the count bound, oldest first", async () => {
  const registry: Registry = {
    slaves: { slaves: [] },
    unreachable: {
      slaves: ["u1", "u2", "u3"].map((id, i) => ({
        id: { value: id },
        timestamp: { nanoseconds: (i + 1) * 1e6 },
      })),
    },
  };
  const s = await setup(registry, {
    maxAgentCount: 1,
    gcIntervalMs: 1000,
    maxAgentAgeMs: Number.POSITIVE_INFINITY,
  });
  s.clock.advance(1000);
  await s.settle();
  assert.deepEqual([...s.master.unreachableAgents.keys()], ["u3"]);
});

test("master reconciliation: unknown tasks by agent state, partition-aware or not", async () => {
  const s = await setup({ slaves: { slaves: [] } });
  const pa = subscribe(s, PA);
  const plain = subscribe(s, PLAIN);
  s.master.registerAgent(pidOf("r"), { slave: agentInfo(""), version: "1.12.0" });
  await s.settle();
  const registered = [...s.master.agents.keys()][0] ?? "";
  const asks = [
    { task_id: { value: "a" }, agent_id: { value: registered } },
    { task_id: { value: "b" }, agent_id: { value: "never-seen" } },
    { task_id: { value: "c" } },
  ];
  s.master.reconcile(s.master.frameworks.get("fw-pa")!, { tasks: asks });
  s.master.reconcile(s.master.frameworks.get("fw-plain")!, { tasks: asks });
  assert.deepEqual(
    pa.statuses().map((x) => x?.state),
    ["TASK_GONE", "TASK_UNKNOWN", "TASK_UNKNOWN"],
  );
  assert.deepEqual(
    plain.statuses().map((x) => x?.state),
    ["TASK_LOST", "TASK_LOST", "TASK_LOST"],
  );
});

test("master recovery: the registry GC drops entries older than --registry_max_agent_age", async () => {
  const clock = new ManualClock();
  const nowNs = clock.now() * 1e6;
  const registry: Registry = {
    slaves: { slaves: [] },
    gone: {
      slaves: [
        { id: { value: "old" }, timestamp: { nanoseconds: nowNs - 10_000 * 1e6 } },
        { id: { value: "new" }, timestamp: { nanoseconds: nowNs } },
      ],
    },
  };
  const s = await setup(registry, { maxAgentAgeMs: 5_000, gcIntervalMs: 1000 });
  s.clock.advance(1000);
  await s.settle();
  assert.deepEqual([...s.master.goneAgents.keys()], ["new"]);
});

test("master health checks: --agent_removal_rate_limit paces unreachable agents; a pong cancels a pending removal", async () => {
  const s = await setup(
    { slaves: { slaves: [] } },
    { removalRate: { permits: 1, intervalMs: 10_000 } },
    { agentPingTimeoutMs: 1000 },
  );
  for (const name of ["p", "qq", "rrr"]) {
    s.master.registerAgent(pidOf(name), {
      slave: { ...agentInfo(""), hostname: name },
      version: "1.12.0",
    });
    await s.settle();
  }
  assert.equal(s.master.agents.size, 3);
  // Two missed pings: the first removal happens at once, the others wait for permits.
  s.clock.advance(2000);
  await s.settle();
  assert.equal(s.master.unreachableAgents.size, 1);
  // One of the waiting agents answers; it is not removed when its permit comes.
  const waiting = [...s.master.agents.values()];
  s.master.pong(waiting[0]?.pid ?? "");
  s.clock.advance(10_000);
  await s.settle();
  assert.equal(s.master.unreachableAgents.size, 1);
  s.clock.advance(10_000);
  await s.settle();
  assert.equal(s.master.unreachableAgents.size, 2);
  assert.ok(s.master.agents.has(waiting[0]?.id ?? ""));
});
