/**
 * Quota configs, role weights and the maintenance state in the registry:
 * what the operations do (registry-state.ts), that the SQLite registry keeps
 * them across close and reopen and across SIGKILL, and that a failed write
 * leaves the registry as it was.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import type { MachineInfo } from "../../src/common/protocol/generated/mesos-v1.js";
import type { Schedule } from "../../src/common/protocol/generated/mesos-v1-maintenance.js";
import { InMemoryRegistrar } from "../../src/master/registrar/in-memory.js";
import type { RegistryOperation } from "../../src/master/registrar/registrar.js";
import { RegistryState } from "../../src/master/registrar/registry-state.js";
import { SqliteRegistrar } from "../../src/master/registrar/sqlite.js";

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "registry-settings-"));
  dirs.push(dir);
  return dir;
}

const SCHEDULE: Schedule = {
  windows: [
    {
      machine_ids: [{ hostname: "m1", ip: "10.0.0.1" }, { hostname: "m2" }],
      unavailability: {
        start: { nanoseconds: 1_700_000_000_000_000_000 },
        duration: { nanoseconds: 3_600_000_000_000 },
      },
    },
  ],
};

function machines(down: string[]): MachineInfo[] {
  const window = SCHEDULE.windows?.[0];
  return (window?.machine_ids ?? []).map((id) => ({
    id,
    mode: down.includes(id.hostname ?? "") ? "DOWN" : "DRAINING",
    unavailability: window?.unavailability,
  }));
}

const quota = (role: string, cpus?: number) => ({
  role,
  ...(cpus === undefined
    ? {}
    : { guarantees: { cpus: { value: cpus } }, limits: { cpus: { value: cpus * 2 } } }),
});

test("registry state: quota configs are set per role and an empty config removes the role", () => {
  const s = new RegistryState();
  assert.equal(
    s.apply({ kind: "update-quota", configs: [quota("dev", 1), quota("ops", 2)] }),
    true,
  );
  assert.equal(s.apply({ kind: "update-quota", configs: [quota("dev")] }), true);
  assert.deepEqual(s.toRegistry().quota_configs, [quota("ops", 2)]);
});

test("registry state: weights, schedule and machines appear in the Registry only when set", () => {
  const s = new RegistryState();
  assert.deepEqual(Object.keys(s.toRegistry()).sort(), ["gone", "slaves", "unreachable"]);
  s.apply({
    kind: "update-weights",
    weights: [
      { role: "b", weight: 2 },
      { role: "a", weight: 3 },
    ],
  });
  s.apply({ kind: "update-maintenance", schedule: SCHEDULE, machines: machines(["m2"]) });
  const r = s.toRegistry();
  assert.deepEqual(r.weights, [
    { info: { role: "a", weight: 3 } },
    { info: { role: "b", weight: 2 } },
  ]);
  assert.deepEqual(r.schedules, [SCHEDULE]);
  assert.deepEqual(
    r.machines?.machines?.map((m) => [m.info.id.hostname, m.info.mode]),
    [
      ["m1", "DRAINING"],
      ["m2", "DOWN"],
    ],
  );
  // An empty schedule clears both.
  s.apply({ kind: "update-maintenance", schedule: { windows: [] }, machines: [] });
  assert.equal(s.toRegistry().schedules, undefined);
  assert.equal(s.toRegistry().machines, undefined);
  // RegistryState.from reads back what toRegistry wrote.
  s.apply({ kind: "update-quota", configs: [quota("dev", 1)] });
  assert.deepEqual(RegistryState.from(s.toRegistry()).toRegistry(), s.toRegistry());
});

test("registry state: undoFor puts settings back as they were", () => {
  const s = new RegistryState();
  s.apply({ kind: "update-quota", configs: [quota("dev", 1)] });
  s.apply({ kind: "update-weights", weights: [{ role: "dev", weight: 2 }] });
  s.apply({ kind: "update-maintenance", schedule: SCHEDULE, machines: machines([]) });
  const before = s.toRegistry();
  const ops: RegistryOperation[] = [
    { kind: "update-quota", configs: [quota("dev"), quota("new", 5)] },
    {
      kind: "update-weights",
      weights: [
        { role: "dev", weight: 9 },
        { role: "x", weight: 4 },
      ],
    },
    { kind: "update-maintenance", schedule: { windows: [] }, machines: [] },
  ];
  const undo = ops.map((op) => {
    const u = s.undoFor(op);
    s.apply(op);
    return u;
  });
  assert.notDeepEqual(s.toRegistry(), before);
  for (const u of undo.reverse()) u();
  assert.deepEqual(s.toRegistry(), before);
});

test("in-memory registrar: keeps settings for the running master only", async () => {
  const r = new InMemoryRegistrar();
  assert.equal(
    await r.apply({ kind: "update-weights", weights: [{ role: "a", weight: 2 }] }),
    true,
  );
  assert.deepEqual(r.snapshot().weights, [{ info: { role: "a", weight: 2 } }]);
});

test("sqlite registrar: quota, weights, schedule and machine modes survive close and reopen", async () => {
  const dir = workDir();
  const r = SqliteRegistrar.openInWorkDir(dir);
  // Arriving together: one batch.
  await Promise.all([
    r.apply({ kind: "update-quota", configs: [quota("dev", 1), quota("ops", 2)] }),
    r.apply({ kind: "update-weights", weights: [{ role: "dev", weight: 2.5 }] }),
    r.apply({ kind: "update-maintenance", schedule: SCHEDULE, machines: machines(["m1"]) }),
    r.apply({ kind: "admit-agent", info: { hostname: "h", port: 5051, id: { value: "a1" } } }),
  ]);
  assert.equal(r.stats.batches, 1);
  await r.apply({ kind: "update-quota", configs: [quota("ops")] });
  const written = r.snapshot();
  r.close();
  const again = SqliteRegistrar.openInWorkDir(dir);
  const registry = await again.recover();
  assert.deepEqual(registry, written);
  assert.deepEqual(registry.quota_configs, [quota("dev", 1)]);
  assert.deepEqual(registry.weights, [{ info: { role: "dev", weight: 2.5 } }]);
  assert.deepEqual(registry.schedules, [SCHEDULE]);
  assert.equal(
    registry.machines?.machines?.find((m) => m.info.mode === "DOWN")?.info.id.hostname,
    "m1",
  );
  assert.equal(registry.slaves?.slaves?.[0]?.info.id?.value, "a1");
  // Machines UP: the schedule and machines go away in the database too.
  await again.apply({ kind: "update-maintenance", schedule: { windows: [] }, machines: [] });
  again.close();
  const third = SqliteRegistrar.openInWorkDir(dir);
  assert.equal(third.snapshot().schedules, undefined);
  assert.equal(third.snapshot().machines, undefined);
  third.close();
  const db = new Database(join(dir, "registry.db"), { readonly: true });
  const kinds = db.prepare("SELECT kind FROM registry_entries ORDER BY kind").pluck().all();
  db.close();
  assert.deepEqual(kinds, ["quota", "weight"]);
});

test("sqlite registrar: a failed settings write rejects and leaves the registry unchanged", async () => {
  const dir = workDir();
  const r = SqliteRegistrar.openInWorkDir(dir);
  await r.apply({ kind: "update-weights", weights: [{ role: "dev", weight: 2 }] });
  const before = r.snapshot();
  // Another connection takes the table away: the next write fails inside the transaction.
  const other = new Database(join(dir, "registry.db"));
  other.exec("DROP TABLE registry_entries");
  other.close();
  await assert.rejects(
    r.apply({ kind: "update-weights", weights: [{ role: "dev", weight: 7 }] }),
    /Failed to write the registry at .*registry_entries/,
  );
  await assert.rejects(
    r.apply({ kind: "update-maintenance", schedule: SCHEDULE, machines: machines([]) }),
    /Failed to write the registry/,
  );
  assert.deepEqual(r.snapshot(), before);
  r.close();
});

test("sqlite registrar: stored settings survive SIGKILL of the process", () => {
  const dir = workDir();
  const moduleUrl = pathToFileURL(
    join(import.meta.dirname, "../../src/master/registrar/sqlite.js"),
  ).href;
  const script = `
    const { SqliteRegistrar } = await import(${JSON.stringify(moduleUrl)});
    const r = SqliteRegistrar.openInWorkDir(${JSON.stringify(dir)});
    await r.apply({ kind: "update-quota", configs: [{ role: "dev", guarantees: { cpus: { value: 1 } } }] });
    await r.apply({ kind: "update-maintenance", schedule: ${JSON.stringify(SCHEDULE)}, machines: ${JSON.stringify(machines(["m2"]))} });
    process.kill(process.pid, "SIGKILL");
  `;
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
  });
  assert.equal(child.signal, "SIGKILL", child.stderr);
  const again = SqliteRegistrar.openInWorkDir(dir);
  assert.equal(again.snapshot().quota_configs?.[0]?.role, "dev");
  assert.deepEqual(again.snapshot().schedules, [SCHEDULE]);
  again.close();
});

test("registry state and sqlite: deactivation and drain info of admitted and unreachable agents", async () => {
  const dir = workDir();
  const r = SqliteRegistrar.openInWorkDir(dir);
  const info = (id: string) => ({ hostname: `h-${id}`, port: 5051, id: { value: id } });
  for (const id of ["a", "u1", "u2"]) await r.apply({ kind: "admit-agent", info: info(id) });
  await r.apply({ kind: "mark-agent-unreachable", info: info("u1"), timeNs: 1 });
  await r.apply({ kind: "mark-agent-unreachable", info: info("u2"), timeNs: 2 });
  const drain = { state: "DRAINING" as const, config: { mark_gone: false } };
  assert.equal(await r.apply({ kind: "drain-agent", agentId: "a", drainInfo: drain }), true);
  assert.equal(await r.apply({ kind: "mark-agent-drained", agentId: "a" }), true);
  // Deactivating the older unreachable agent keeps it first in the GC order.
  assert.equal(await r.apply({ kind: "deactivate-agent", agentId: "u1" }), true);
  assert.equal(await r.apply({ kind: "deactivate-agent", agentId: "nobody" }), false);
  assert.equal(await r.apply({ kind: "mark-agent-drained", agentId: "u2" }), false);
  r.close();
  const again = SqliteRegistrar.openInWorkDir(dir);
  const registry = again.snapshot();
  const a = registry.slaves?.slaves?.[0];
  assert.deepEqual(a?.drain_info, { state: "DRAINED", config: { mark_gone: false } });
  assert.equal(a?.deactivated, true);
  assert.deepEqual(
    registry.unreachable?.slaves?.map((u) => [u.id.value, u.deactivated === true]),
    [
      ["u1", true],
      ["u2", false],
    ],
  );
  // Reactivation clears both; a re-admitted agent keeps what it had while unreachable.
  assert.equal(await again.apply({ kind: "reactivate-agent", agentId: "a" }), true);
  assert.equal(await again.apply({ kind: "mark-agent-reachable", info: info("u1") }), true);
  const after = again.snapshot();
  const back = (id: string) => after.slaves?.slaves?.find((s) => s.info.id?.value === id);
  assert.equal(back("a")?.deactivated, undefined);
  assert.equal(back("a")?.drain_info, undefined);
  assert.equal(back("u1")?.deactivated, true);
  again.close();
});
