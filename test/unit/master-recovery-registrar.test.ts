/**
 * The registrars: the operation semantics they share (registry-state.ts) and
 * the durable SQLite registry (reopening, batching, damaged files, SIGKILL).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { pathToFileURL } from "node:url";
import type { SlaveInfo } from "../../src/common/protocol/generated/mesos-internal.js";
import { InMemoryRegistrar } from "../../src/master/registrar/in-memory.js";
import { RegistryState } from "../../src/master/registrar/registry-state.js";
import { RegistryOpenError, SqliteRegistrar } from "../../src/master/registrar/sqlite.js";

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "registry-test-"));
  dirs.push(dir);
  return dir;
}

function agent(id: string, hostname = `host-${id}`): SlaveInfo {
  return {
    hostname,
    port: 5051,
    id: { value: id },
    resources: [{ name: "cpus", type: "SCALAR", scalar: { value: 2 } }],
  };
}

const ids = (list: { id: { value: string } }[] | undefined): string[] =>
  (list ?? []).map((s) => s.id.value);
const admittedIds = (r: SqliteRegistrar | InMemoryRegistrar): string[] =>
  (r.snapshot().slaves?.slaves ?? []).map((s) => s.info.id?.value ?? "");

test("registry state: each operation changes only what it should", () => {
  const s = new RegistryState();
  assert.equal(s.apply({ kind: "admit-agent", info: agent("a") }), true);
  assert.equal(s.apply({ kind: "admit-agent", info: agent("a") }), false);
  assert.equal(s.apply({ kind: "mark-agent-unreachable", info: agent("a"), timeNs: 5 }), true);
  assert.equal(s.apply({ kind: "mark-agent-unreachable", info: agent("a"), timeNs: 6 }), false);
  assert.deepEqual([...s.unreachable.keys()], ["a"]);
  assert.equal(s.apply({ kind: "mark-agent-reachable", info: agent("a") }), true);
  assert.equal(s.apply({ kind: "mark-agent-reachable", info: agent("a") }), false);
  assert.deepEqual([...s.unreachable.keys()], []);
  // An agent the registry never heard of (pruned) is admitted when it comes back.
  assert.equal(s.apply({ kind: "mark-agent-reachable", info: agent("b") }), true);
  assert.equal(s.apply({ kind: "mark-agent-gone", agentId: "b", timeNs: 9 }), true);
  assert.equal(s.apply({ kind: "mark-agent-gone", agentId: "b", timeNs: 9 }), false);
  assert.equal(s.apply({ kind: "mark-agent-gone", agentId: "nobody", timeNs: 9 }), false);
  assert.equal(s.apply({ kind: "update-agent", info: agent("a", "renamed") }), true);
  assert.equal(s.admitted.get("a")?.info.hostname, "renamed");
  assert.equal(s.apply({ kind: "remove-agent", info: agent("a") }), true);
  assert.equal(s.apply({ kind: "prune", unreachable: [], gone: ["b"] }), true);
  assert.equal(s.apply({ kind: "prune", unreachable: ["x"], gone: ["b"] }), false);
  assert.deepEqual(s.toRegistry(), {
    slaves: { slaves: [] },
    unreachable: { slaves: [] },
    gone: { slaves: [] },
  });
});

test("in-memory registrar: answers operations like the registry state", async () => {
  const r = new InMemoryRegistrar();
  assert.equal(await r.apply({ kind: "admit-agent", info: agent("a") }), true);
  assert.equal(await r.apply({ kind: "admit-agent", info: agent("a") }), false);
  assert.deepEqual(admittedIds(r), ["a"]);
});

test("sqlite registrar: admitted, unreachable and gone agents survive close and reopen", async () => {
  const dir = workDir();
  const r = SqliteRegistrar.openInWorkDir(dir);
  await r.apply({ kind: "admit-agent", info: agent("a") });
  await r.apply({ kind: "admit-agent", info: agent("b") });
  await r.apply({ kind: "admit-agent", info: agent("c") });
  await r.apply({ kind: "mark-agent-unreachable", info: agent("b"), timeNs: 1_000_000_123 });
  await r.apply({ kind: "mark-agent-gone", agentId: "c", timeNs: 2_000_000_000 });
  r.close();
  const again = SqliteRegistrar.openInWorkDir(dir);
  const registry = await again.recover();
  assert.deepEqual(admittedIds(again), ["a"]);
  assert.equal(registry.slaves?.slaves?.[0]?.info.hostname, "host-a");
  assert.equal(registry.slaves?.slaves?.[0]?.info.resources?.[0]?.scalar?.value, 2);
  assert.deepEqual(ids(registry.unreachable?.slaves), ["b"]);
  assert.equal(registry.unreachable?.slaves?.[0]?.timestamp.nanoseconds, 1_000_000_123);
  assert.deepEqual(ids(registry.gone?.slaves), ["c"]);
  // And the reopened registry keeps working.
  assert.equal(await again.apply({ kind: "mark-agent-reachable", info: agent("b") }), true);
  again.close();
  const third = SqliteRegistrar.openInWorkDir(dir);
  assert.deepEqual(admittedIds(third).sort(), ["a", "b"]);
  assert.deepEqual(ids(third.snapshot().unreachable?.slaves), []);
  third.close();
});

test("sqlite registrar: unreachable agents come back oldest first", async () => {
  const dir = workDir();
  const r = SqliteRegistrar.openInWorkDir(dir);
  for (const id of ["z", "y", "x"]) await r.apply({ kind: "admit-agent", info: agent(id) });
  for (const id of ["y", "z", "x"]) {
    await r.apply({ kind: "mark-agent-unreachable", info: agent(id), timeNs: 1 });
  }
  r.close();
  const again = SqliteRegistrar.openInWorkDir(dir);
  assert.deepEqual(ids(again.snapshot().unreachable?.slaves), ["y", "z", "x"]);
  again.close();
});

test("sqlite registrar: operations arriving together are committed in one batch", async () => {
  const r = SqliteRegistrar.openInWorkDir(workDir());
  const answers = await Promise.all([
    r.apply({ kind: "admit-agent", info: agent("a") }),
    r.apply({ kind: "admit-agent", info: agent("b") }),
    r.apply({ kind: "admit-agent", info: agent("a") }),
    r.apply({ kind: "mark-agent-unreachable", info: agent("b"), timeNs: 3 }),
  ]);
  assert.deepEqual(answers, [true, true, false, true]);
  assert.deepEqual(r.stats, { batches: 1, operations: 4 });
  await r.apply({ kind: "remove-agent", info: agent("a") });
  assert.deepEqual(r.stats, { batches: 2, operations: 5 });
  r.close();
});

test("sqlite registrar: a damaged file is refused with its path and what to do", () => {
  const dir = workDir();
  const path = join(dir, "registry.db");
  writeFileSync(path, "this is not an sqlite database, just some text ".repeat(200));
  assert.throws(
    () => SqliteRegistrar.openInWorkDir(dir),
    (error: unknown) =>
      error instanceof RegistryOpenError &&
      error.message.includes(path) &&
      /move it away/.test(error.message),
  );
});

test("sqlite registrar: a file whose pages are damaged is refused in one line naming the problems", async () => {
  const dir = workDir();
  const r = SqliteRegistrar.openInWorkDir(dir);
  for (const id of ["a", "b", "c"]) await r.apply({ kind: "admit-agent", info: agent(id) });
  r.close();
  // Zeros over the second page onwards: SQLite opens the file, its check finds broken trees.
  const path = join(dir, "registry.db");
  const bytes = readFileSync(path);
  bytes.fill(0, 4096, Math.min(bytes.length, 8096));
  writeFileSync(path, bytes);
  assert.throws(
    () => SqliteRegistrar.openInWorkDir(dir),
    (error: unknown) =>
      error instanceof RegistryOpenError &&
      /integrity check failed|malformed/.test(error.message) &&
      !error.message.includes("\n"),
  );
});

test("sqlite registrar: operations after close are refused", async () => {
  const r = SqliteRegistrar.openInWorkDir(workDir());
  r.close();
  await assert.rejects(r.apply({ kind: "admit-agent", info: agent("a") }), /closed/);
});

test("sqlite registrar: an answered operation survives SIGKILL of the process", () => {
  const dir = workDir();
  const moduleUrl = pathToFileURL(
    join(import.meta.dirname, "../../src/master/registrar/sqlite.js"),
  ).href;
  const script = `
    const { SqliteRegistrar } = await import(${JSON.stringify(moduleUrl)});
    const r = SqliteRegistrar.openInWorkDir(${JSON.stringify(dir)});
    const info = { hostname: "h", port: 5051, id: { value: "survivor" } };
    await r.apply({ kind: "admit-agent", info });
    await r.apply({ kind: "mark-agent-unreachable", info, timeNs: 42 });
    process.kill(process.pid, "SIGKILL");
  `;
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
  });
  assert.equal(child.signal, "SIGKILL", child.stderr);
  const again = SqliteRegistrar.openInWorkDir(dir);
  assert.deepEqual(ids(again.snapshot().unreachable?.slaves), ["survivor"]);
  again.close();
});

test("sqlite registrar: updated agent info and pruned entries are stored", async () => {
  const dir = workDir();
  const r = SqliteRegistrar.openInWorkDir(dir);
  await r.apply({ kind: "admit-agent", info: agent("a") });
  await r.apply({ kind: "admit-agent", info: agent("b") });
  await r.apply({ kind: "update-agent", info: agent("a", "new-name") });
  await r.apply({ kind: "mark-agent-unreachable", info: agent("b"), timeNs: 7 });
  assert.equal(await r.apply({ kind: "prune", unreachable: ["b"], gone: [] }), true);
  r.close();
  const again = SqliteRegistrar.openInWorkDir(dir);
  assert.equal(again.snapshot().slaves?.slaves?.[0]?.info.hostname, "new-name");
  assert.deepEqual(ids(again.snapshot().unreachable?.slaves), []);
  again.close();
});
