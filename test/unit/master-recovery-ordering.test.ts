/**
 * The master answers and acts only after the registry has a change:
 * MARK_AGENT_GONE, an agent unregistering, quota, weights and maintenance
 * (with a registrar whose writes the test holds or fails); a failed write
 * answers 503 and changes nothing. And what a restarted master makes of the
 * stored quota, weights and maintenance.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type {
  Registry,
  ReregisterSlaveMessage,
} from "../../src/common/protocol/generated/mesos-internal.js";
import type { Task } from "../../src/common/protocol/generated/mesos-v1.js";
import { markAgentGone } from "../../src/master/core/agent-health.js";
import type { Master } from "../../src/master/core/master.js";
import {
  maintenanceOf,
  restoreMaintenance,
  startMaintenance,
  updateSchedule,
} from "../../src/master/http/maintenance.js";
import { roleQuotas } from "../../src/master/http/quota.js";
import { RoleWeights } from "../../src/master/http/roles.js";
import {
  FakeStream,
  frameworkInfo,
  HeldRegistrar,
  recoveringMaster,
  runningTask,
  type SentMessage,
  storedAgentInfo,
  tracked,
} from "./master-fixture.js";

const PA = frameworkInfo({
  id: { value: "fw-pa" },
  checkpoint: true,
  capabilities: [{ type: "PARTITION_AWARE" }],
});
const PID = "slave(1)@127.0.0.1:5051";

function reregistration(agentId: string, tasks: Task[]): ReregisterSlaveMessage {
  return {
    slave: storedAgentInfo(agentId),
    version: "1.12.0",
    tasks,
    frameworks: tasks.length > 0 ? [PA] : [],
    executor_infos: [],
    agent_capabilities: [{ type: "MULTI_ROLE" }],
  };
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
};

/** A master that recovered agent a1 from `registry`, a1 back with task t1, framework fw-pa. */
async function setup(registry: Registry = {}, beforeAgents?: (m: Master) => void) {
  const sent: SentMessage[] = [];
  const registrar = new HeldRegistrar();
  const { master, allocator } = recoveringMaster({
    registrar,
    seed: 5,
    sent,
    onFatal: (message) => assert.fail(`unexpected fatal: ${message}`),
  });
  await registrar.apply({ kind: "admit-agent", info: storedAgentInfo("a1") });
  master.recover({ ...registry, slaves: { slaves: [{ info: storedAgentInfo("a1") }] } });
  beforeAgents?.(master);
  const stream = new FakeStream("s-pa");
  master.subscribe(stream, { framework_info: PA });
  master.reregisterAgent(PID, reregistration("a1", [runningTask("a1", PA, "t1")]));
  await settle();
  assert.ok(master.agents.has("a1"));
  const ofType = (type: string) => sent.filter((m) => m.type === `mesos.internal.${type}`);
  return { master, registrar, allocator, stream, sent, ofType };
}

test("ordering: MARK_AGENT_GONE answers only once the registry has the agent as gone", async () => {
  const s = await setup();
  s.registrar.hold = true;
  const answer = tracked(markAgentGone(s.master, "a1"));
  await settle();
  assert.equal(answer.done(), false);
  assert.deepEqual(s.registrar.snapshot().gone?.slaves, []);
  // Nothing happened yet: the agent is registered, its task running, nobody told.
  assert.ok(s.master.agents.has("a1"));
  assert.equal(s.master.goneAgents.has("a1"), false);
  assert.equal(s.ofType("ShutdownMessage").length, 0);
  assert.deepEqual(s.stream.statuses(), []);
  // Meanwhile: a second call is told to retry, a re-registration is ignored.
  assert.equal((await markAgentGone(s.master, "a1")).status, 503);
  const reregistered = s.ofType("SlaveReregisteredMessage").length;
  s.master.reregisterAgent(PID, reregistration("a1", [runningTask("a1", PA, "t1")]));
  await settle();
  assert.equal(s.ofType("SlaveReregisteredMessage").length, reregistered);

  s.registrar.release();
  assert.deepEqual(await answer.promise, { status: 200, message: "" });
  assert.equal(s.registrar.snapshot().gone?.slaves?.[0]?.id.value, "a1");
  assert.equal(s.master.agents.has("a1"), false);
  assert.equal(s.ofType("ShutdownMessage").length, 1);
  assert.equal(s.stream.statuses().at(-1)?.state, "TASK_GONE_BY_OPERATOR");
});

test("ordering: MARK_AGENT_GONE with a failed registry write answers 503 and changes nothing", async () => {
  const s = await setup();
  s.registrar.failNext = "disk I/O error";
  const answer = await markAgentGone(s.master, "a1");
  assert.equal(answer.status, 503);
  assert.match(answer.message, /Failed to mark agent 'a1' gone in the registry: disk I\/O error/);
  assert.ok(s.master.agents.has("a1"));
  assert.equal(s.master.goneAgents.has("a1"), false);
  assert.equal(s.ofType("ShutdownMessage").length, 0);
  assert.deepEqual(s.stream.statuses(), []);
  // It can be tried again.
  assert.equal((await markAgentGone(s.master, "a1")).status, 200);
  assert.equal(s.master.goneAgents.has("a1"), true);
});

test("ordering: frameworks hear of an agent that unregistered only after the registry write", async () => {
  const s = await setup();
  s.registrar.hold = true;
  s.master.unregisterAgent(PID, { slave_id: { value: "a1" } });
  await settle();
  // The master's own view changed at once; frameworks were not told yet.
  assert.equal(s.master.agents.has("a1"), false);
  assert.equal(s.stream.last("FAILURE"), undefined);
  assert.deepEqual(s.stream.statuses(), []);
  assert.equal(s.registrar.snapshot().slaves?.slaves?.length, 1);
  // A re-registration during the write is ignored.
  s.master.reregisterAgent(PID, reregistration("a1", []));
  await settle();
  assert.equal(s.master.agents.has("a1"), false);

  s.registrar.release();
  await settle();
  assert.equal(s.registrar.snapshot().slaves?.slaves?.length, 0);
  assert.equal(s.stream.last("FAILURE")?.failure?.agent_id?.value, "a1");
  // Not a partition: a partition-aware framework's task is gone (Mesos' __removeSlave).
  assert.equal(s.stream.statuses()[0]?.state, "TASK_GONE_BY_OPERATOR");
  assert.equal(s.stream.statuses()[0]?.reason, "REASON_AGENT_REMOVED_BY_OPERATOR");
});

test("ordering: quota is answered after its registry write; a failed write is a 503 and no change", async () => {
  const s = await setup();
  const quotas = roleQuotas(s.master);
  const config = {
    role: "dev",
    guarantees: { cpus: { value: 1 } },
    limits: { cpus: { value: 2 } },
  };
  s.registrar.failNext = "database is locked";
  const failed = await quotas.update([config], false);
  assert.deepEqual(failed, {
    ok: false,
    status: 503,
    message: "Failed to store quota in the registry: database is locked",
  });
  assert.deepEqual(quotas.status().configs, []);

  s.registrar.hold = true;
  const answer = tracked(quotas.update([config], false));
  await settle();
  assert.equal(answer.done(), false);
  assert.deepEqual(quotas.status().configs, []);
  s.registrar.release();
  assert.deepEqual(await answer.promise, { ok: true });
  assert.deepEqual(quotas.status().configs, [config]);
  assert.deepEqual(s.registrar.snapshot().quota_configs, [config]);
  // Removal is stored too.
  assert.deepEqual(await quotas.remove("dev"), { ok: true });
  assert.equal(s.registrar.snapshot().quota_configs, undefined);
});

test("ordering: weights are stored before they apply; a failed write is a 503 and no change", async () => {
  const s = await setup();
  const weights = new RoleWeights([], s.allocator, s.registrar);
  s.registrar.failNext = "disk full";
  const failed = await weights.update([{ role: "dev", weight: 3 }], undefined);
  assert.equal(failed?.status, 503);
  assert.match(failed?.message ?? "", /Failed to store weights in the registry: disk full/);
  assert.deepEqual(weights.list(), []);
  assert.equal(await weights.update([{ role: "dev", weight: 3 }], undefined), undefined);
  assert.deepEqual(weights.list(), [{ role: "dev", weight: 3 }]);
  assert.deepEqual(s.registrar.snapshot().weights, [{ info: { role: "dev", weight: 3 } }]);
  // Invalid weights are refused before any write.
  assert.equal((await weights.update([{ role: "dev", weight: -1 }], undefined))?.status, 400);
});

test("ordering: maintenance changes are stored first; machine DOWN shuts agents only after the write", async () => {
  const s = await setup();
  // Both fields: as in Mesos, a machine is its agents' hostname and IP.
  const machine = { hostname: "host-a1", ip: "127.0.0.1" };
  const schedule = {
    windows: [{ machine_ids: [machine], unavailability: { start: { nanoseconds: 5e18 } } }],
  };
  s.registrar.failNext = "disk full";
  const failed = await updateSchedule(s.master, schedule);
  assert.equal(failed.ok, false);
  assert.equal(!failed.ok && failed.status, 503);
  assert.deepEqual(maintenanceOf(s.master).schedule, { windows: [] });
  assert.deepEqual(await updateSchedule(s.master, schedule), { ok: true });

  s.registrar.hold = true;
  const down = tracked(startMaintenance(s.master, [machine]));
  await settle();
  assert.equal(down.done(), false);
  assert.equal(s.ofType("ShutdownMessage").length, 0);
  assert.equal(maintenanceOf(s.master).down.size, 0);
  s.registrar.release();
  assert.deepEqual(await down.promise, { ok: true });
  assert.equal(s.ofType("ShutdownMessage").length, 1);
  const stored = s.registrar.snapshot();
  assert.deepEqual(stored.schedules, [schedule]);
  assert.deepEqual(
    stored.machines?.machines?.map((m) => [m.info.id.hostname, m.info.mode]),
    [["host-a1", "DOWN"]],
  );
});

test("recovery: stored quota, weights and maintenance come back; stored weights win over --weights", async () => {
  const config = { role: "dev", guarantees: { cpus: { value: 1 } } };
  const schedule = {
    windows: [{ machine_ids: [{ hostname: "h9" }], unavailability: { start: { nanoseconds: 1 } } }],
  };
  const registry: Registry = {
    quota_configs: [config],
    weights: [{ info: { role: "dev", weight: 4 } }],
    schedules: [schedule],
    machines: { machines: [{ info: { id: { hostname: "h9" }, mode: "DOWN" } }] },
  };
  const s = await setup(registry);
  roleQuotas(s.master).restore(registry.quota_configs ?? []);
  restoreMaintenance(s.master, registry);
  const warnings: string[] = [];
  const logger = {
    info: () => {},
    warn: (m: string) => warnings.push(m),
    error: () => {},
    verbose: () => {},
  };
  const flagged = new RoleWeights([{ role: "ops", weight: 2 }], s.allocator, s.registrar);
  flagged.recover(registry, logger, "ops=2");
  assert.deepEqual(roleQuotas(s.master).status().configs, [config]);
  assert.deepEqual(maintenanceOf(s.master).schedule, schedule);
  assert.deepEqual([...maintenanceOf(s.master).down.values()], [{ hostname: "h9" }]);
  assert.deepEqual(flagged.list(), [{ role: "dev", weight: 4 }]);
  assert.match(warnings[0] ?? "", /Ignoring --weights flag 'ops=2'/);
  // Without stored weights the flag's weights are written on first start.
  const fresh = new RoleWeights([{ role: "ops", weight: 2 }], s.allocator, s.registrar);
  fresh.recover({}, logger, "ops=2");
  await settle();
  assert.deepEqual(fresh.list(), [{ role: "ops", weight: 2 }]);
  assert.deepEqual(s.registrar.snapshot().weights, [{ info: { role: "ops", weight: 2 } }]);
});

test("recovery: an agent re-registering after a restart gets its stored maintenance window on offers", async () => {
  const start = { nanoseconds: 7e18 };
  const registry: Registry = {
    schedules: [
      {
        windows: [
          { machine_ids: [{ hostname: "host-a1", ip: "127.0.0.1" }], unavailability: { start } },
        ],
      },
    ],
    machines: {
      machines: [{ info: { id: { hostname: "host-a1", ip: "127.0.0.1" }, mode: "DRAINING" } }],
    },
  };
  const s = await setup(registry, (m) => restoreMaintenance(m, registry));
  s.master.offer(s.allocator.allocate().offers);
  const offer = s.stream.last("OFFERS")?.offers?.offers?.[0];
  assert.equal(offer?.agent_id.value, "a1");
  assert.deepEqual(offer?.unavailability?.start, start);
});
