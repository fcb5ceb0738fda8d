/**
 * What Mesos' operational guide has operators do with the registry, against
 * real masters (and a real ZooKeeper for the HA cases): the registrar's log
 * lines they look for, `--quorum` in effect (no "has no effect" warning),
 * the quorum-change procedure, a master whose work dir was lost, backups, a
 * damaged registry in ZooKeeper (the elected master exits naming the znode)
 * and `--log_auto_initialize=false` (no registry: the master exits).
 * The ZooKeeper cases skip when ZooKeeper is not installed.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { silentLogger } from "../../src/common/observability/logger.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { ZkSession } from "../../src/common/zookeeper/session.js";
import { parseZkUrl } from "../../src/common/zookeeper/url.js";
import { leaderOf, running, v1Status } from "../harness/leader.js";
import { operatorCall } from "../harness/operator.js";
import {
  type DaemonHandle,
  getJson,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
  waitForAgents,
  waitLong,
} from "../harness/processes.js";
import { sharedZooKeeper, zookeeperSkip } from "../harness/zookeeper.js";

const skip = zookeeperSkip;
const zk = sharedZooKeeper();

after(async () => {
  await stopAll();
  await zk.stop();
});

async function weightsOf(m: DaemonHandle): Promise<Record<string, number>> {
  const list = (await getJson<{ role: string; weight: number }[]>(`${m.url}/master/weights`)) ?? [];
  return Object.fromEntries(list.map((w) => [w.role, w.weight]));
}

async function putWeight(m: DaemonHandle, role: string, weight: number): Promise<number> {
  const r = await fetch(`${m.url}/master/weights`, {
    method: "PUT",
    body: JSON.stringify([{ role, weight }]),
  });
  await r.arrayBuffer();
  return r.status;
}

test("registry: the registrar logs Mesos' lines for the fetch, the recovery and each write", async () => {
  const master = await startMaster({
    flags: {
      registry: "replicated_log",
      weights: "ops=2",
      agent_reregister_timeout: "10mins",
      // Taken and ignored by the daemons, as in Mesos: no "has no effect yet" warning.
      initialize_driver_logging: false,
    },
  });
  // `--weights` on a first start is written to the registry (Mesos' _recover).
  await waitFor("the registry write logged", () =>
    /Successfully updated the registry in \d/.test(master.logs()),
  );
  const logs = master.logs();
  assert.match(logs, /Successfully fetched the registry \(\d+B\) in \d/);
  assert.match(logs, /Successfully recovered registrar/);
  assert.doesNotMatch(logs, /has no effect yet/);
  assert.match(
    logs,
    /Recovered 0 agents from the registry .*; allowing 10mins for agents to reregister/,
  );
});

test("registry: a standalone master whose work dir was lost starts with an empty registry", async () => {
  const workDir = tempDir("h14-lost-");
  const first = await startMaster({ flags: { work_dir: workDir, registry: "replicated_log" } });
  assert.equal(await putWeight(first, "kept", 3), 200);
  await first.stop();
  const again = await startMaster({ flags: { work_dir: workDir, registry: "replicated_log" } });
  assert.equal((await weightsOf(again)).kept, 3);
  await again.stop();
  rmSync(workDir, { recursive: true, force: true });
  const fresh = await startMaster({ flags: { work_dir: workDir, registry: "replicated_log" } });
  assert.equal((await weightsOf(fresh)).kept, undefined);
  await fresh.stop();
});

const noSqlite = existsSync("/usr/bin/sqlite3") ? false : "the sqlite3 tool is not installed";

test("registry: a standalone registry backed up online with sqlite3 .backup restores into a new work dir", {
  skip: noSqlite,
}, async () => {
  const workDir = tempDir("h14-backup-");
  const backup = join(tempDir("h14-backup-copy-"), "registry.db");
  const master = await startMaster({ flags: { work_dir: workDir, registry: "replicated_log" } });
  assert.equal(await putWeight(master, "saved", 7), 200);
  // While the master runs and holds the database open.
  const copy = spawnSync("/usr/bin/sqlite3", [join(workDir, "registry.db"), `.backup ${backup}`], {
    encoding: "utf8",
  });
  assert.equal(copy.status, 0, copy.stderr);
  await master.stop();
  const restoredDir = join(tempDir("h14-restored-"), "master");
  mkdirSync(restoredDir);
  copyFileSync(backup, join(restoredDir, "registry.db"));
  const restored = await startMaster({
    flags: { work_dir: restoredDir, registry: "replicated_log" },
  });
  assert.equal((await weightsOf(restored)).saved, 7);
  await restored.stop();
});

test("registry/ha: --quorum takes effect; the guide's 3 -> 5 and 5 -> 3 masters procedures keep the registry", {
  skip,
}, async () => {
  const z = await zk.get();
  const url = z.url("/resize");
  const base = { zk: url, registry: "replicated_log", zk_session_timeout: "3secs" };
  const start = (quorum: number, workDir?: string) =>
    startMaster({
      flags: { ...base, quorum, ...(workDir === undefined ? {} : { work_dir: workDir }) },
    });
  const dirs = [tempDir("h14-m-"), tempDir("h14-m-"), tempDir("h14-m-")];
  let masters = [await start(2, dirs[0]), await start(2, dirs[1]), await start(2, dirs[2])];
  let leader = await leaderOf(masters);
  await waitLong("the leader serving", async () => (await v1Status(leader)) === 200);
  for (const m of masters) assert.doesNotMatch(m.logs(), /--quorum' has no effect/);
  assert.equal(await putWeight(leader, "kept", 4), 200);

  // Increase: restart the three with --quorum=3 (one at a time, as a
  // rolling restart), then start two more with --quorum=3.
  for (const [i, m] of masters.entries()) {
    await m.stop();
    masters[i] = await start(3, dirs[i]);
  }
  masters.push(await start(3), await start(3));
  leader = await leaderOf(masters);
  await waitLong("a leader serving with --quorum=3", async () => (await v1Status(leader)) === 200);
  assert.equal((await weightsOf(leader)).kept, 4);

  // Decrease: remove two masters for good, restart the other three with --quorum=2.
  const removed = masters.slice(3);
  for (const m of removed) await m.stop();
  masters = masters.slice(0, 3);
  for (const [i, m] of masters.entries()) {
    await m.stop();
    masters[i] = await start(2, dirs[i]);
  }
  leader = await leaderOf(masters);
  await waitLong("a leader serving with --quorum=2", async () => (await v1Status(leader)) === 200);
  assert.equal((await weightsOf(leader)).kept, 4);

  // Replacing a master: one whose work dir was lost joins again and, once
  // elected, serves the same registry (it lives in ZooKeeper, not the work dir).
  const lost = masters.indexOf(leader);
  const dir = dirs[lost] as string;
  await leader.stop();
  rmSync(dir, { recursive: true, force: true });
  masters[lost] = await start(2, dir);
  const others = masters.filter((_, i) => i !== lost);
  for (const m of others) await m.stop();
  const replaced = masters[lost] as DaemonHandle;
  const back = await start(2);
  await waitLong("the replaced master leading", async () => (await v1Status(replaced)) === 200);
  assert.equal((await weightsOf(replaced)).kept, 4);
  await back.stop();
  await replaced.stop();
});

test("registry/ha: a damaged registry shard in ZooKeeper stops the elected master with the znode's path", {
  skip,
}, async () => {
  const z = await zk.get();
  const url = z.url("/damaged");
  const flags = { zk: url, quorum: 1, registry: "replicated_log", zk_session_timeout: "3secs" };
  const first = await startMaster({ flags });
  await waitLong("the registry created", async () => (await v1Status(first)) === 200);
  await first.stop();

  const parsed = parseZkUrl(url);
  assert.ok(parsed.ok);
  const session = new ZkSession({
    url: parsed.value,
    sessionTimeoutMs: 10_000,
    logger: silentLogger,
    clock: new ManualClock(),
  });
  session.start();
  await session.whenConnected();
  // Bytes that are no protobuf (an invalid wire type).
  await session.transaction([
    { op: "set", path: "/damaged/registry/shard-0003", data: Buffer.from("garbage") },
  ]);
  session.close();

  const second = await startMaster({ flags, waitReady: false });
  await waitLong("the master to exit", () => !running(second));
  assert.equal(second.child.exitCode, 1);
  assert.match(
    second.logs(),
    /Failed to recover registrar: registry shard \/damaged\/registry\/shard-0003 is corrupt/,
  );
});

test("registry: with --log_auto_initialize=false a master that finds no registry.db exits after --registry_fetch_timeout instead of starting empty", async () => {
  const workDir = tempDir("h14-noinit-");
  const flags = {
    work_dir: workDir,
    registry: "replicated_log",
    log_auto_initialize: false,
    registry_fetch_timeout: "2secs",
  };
  const refused = await startMaster({ flags, waitReady: false });
  await waitLong("the master to exit", () => !running(refused));
  assert.equal(refused.child.exitCode, 1);
  const logs = refused.logs();
  assert.match(
    logs,
    /The registry at .*registry\.db does not exist and --log_auto_initialize=false/,
  );
  assert.match(
    logs,
    /Recovery failed: Failed to recover registrar: Failed to perform fetch within 2secs/,
  );
  assert.doesNotMatch(logs, /--log_auto_initialize' has no effect/);
  assert.equal(existsSync(join(workDir, "registry.db")), false);

  // Created once with the default, the registry is then used as usual.
  const creator = await startMaster({ flags: { work_dir: workDir, registry: "replicated_log" } });
  assert.equal(await putWeight(creator, "kept", 2), 200);
  await creator.stop();
  const strict = await startMaster({ flags });
  assert.equal((await weightsOf(strict)).kept, 2);
  await strict.stop();
});

test("registry/ha: with --log_auto_initialize=false an elected master that finds no registry in ZooKeeper exits", {
  skip,
}, async () => {
  const z = await zk.get();
  const flags = {
    zk: z.url("/noinit"),
    quorum: 1,
    registry: "replicated_log",
    zk_session_timeout: "3secs",
    log_auto_initialize: false,
    registry_fetch_timeout: "2secs",
  };
  const refused = await startMaster({ flags, waitReady: false });
  await waitLong("the master to exit", () => !running(refused));
  assert.equal(refused.child.exitCode, 1);
  assert.match(
    refused.logs(),
    /The registry at \/noinit\/registry does not exist and --log_auto_initialize=false/,
  );
  assert.match(refused.logs(), /Failed to perform fetch within 2secs/);

  const creator = await startMaster({ flags: { ...flags, log_auto_initialize: true } });
  await waitLong("the registry created", async () => (await v1Status(creator)) === 200);
  await creator.stop();
  const strict = await startMaster({ flags });
  await waitLong("the master serving its registry", async () => (await v1Status(strict)) === 200);
  await strict.stop();
});

test("registry: --quorum below 1 is refused at start (it would let a lone leader use the registry)", async () => {
  for (const value of ["0", "-1"]) {
    const run = await runBinary("mesos-master", [
      "--ip=127.0.0.1",
      "--port=0",
      `--work_dir=${tempDir("h14-quorum-")}`,
      "--zk=zk://127.0.0.1:1/quorum",
      `--quorum=${value}`,
    ]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(`Invalid value '${value}' for --quorum: must be at least 1`),
    );
  }
});

interface RegistryJson {
  gone?: { slaves?: { id: { value: string } }[] };
}

test("registry: --registry_max_agent_count bounds the gone agents the registry keeps (oldest forgotten first, at --registry_gc_interval)", async () => {
  const workDir = tempDir("h14-gc-");
  const flags = {
    work_dir: workDir,
    registry: "replicated_log",
    registry_gc_interval: "1secs",
    registry_max_agent_count: 1,
  };
  const master = await startMaster({ flags });
  await startAgent({ master: master.address });
  await startAgent({ master: master.address });
  const ids = await waitForAgents(master, 2);
  const gone = async (): Promise<string[]> => {
    const registry = await getJson<RegistryJson>(`${master.url}/registrar(1)/registry`);
    return (registry?.gone?.slaves ?? []).map((s) => s.id.value);
  };
  const [first, second] = ids as [string, string];
  const mark = (id: string) =>
    operatorCall(master, { type: "MARK_AGENT_GONE", mark_agent_gone: { agent_id: { value: id } } });
  assert.equal((await mark(first)).status, 200);
  await waitLong("the first agent recorded as gone", async () => {
    const list = await gone();
    return list.length === 1 && list[0] === first;
  });
  assert.equal((await mark(second)).status, 200);
  // Two gone agents, one allowed: the older is forgotten at the next GC.
  await waitLong("only the newest gone agent left", async () => {
    const list = await gone();
    return list.length === 1 && list[0] === second;
  });
  await waitFor("the GC logged", () =>
    /Garbage collected 0 unreachable and 1 gone agents from the registry/.test(master.logs()),
  );
  await master.stop();
  const again = await startMaster({ flags });
  const registry = await getJson<RegistryJson>(`${again.url}/registrar(1)/registry`);
  assert.deepEqual(
    (registry?.gone?.slaves ?? []).map((s) => s.id.value),
    [second],
  );
  await again.stop();
});

test("registry: --registry_max_agent_age forgets a gone agent once it is older", async () => {
  const master = await startMaster({
    flags: {
      work_dir: tempDir("h14-age-"),
      registry: "replicated_log",
      registry_gc_interval: "1secs",
      registry_max_agent_age: "10secs",
    },
  });
  await startAgent({ master: master.address });
  const [id] = (await waitForAgents(master, 1)) as [string];
  const goneIds = async (): Promise<string[]> => {
    const registry = await getJson<RegistryJson>(`${master.url}/registrar(1)/registry`);
    return (registry?.gone?.slaves ?? []).map((s) => s.id.value);
  };
  const marked = await operatorCall(master, {
    type: "MARK_AGENT_GONE",
    mark_agent_gone: { agent_id: { value: id } },
  });
  assert.equal(marked.status, 200);
  assert.deepEqual(await goneIds(), [id]);
  await waitLong("the gone agent forgotten", async () => (await goneIds()).length === 0);
  // The line follows the stored registry (which the endpoint may already show).
  await waitLong("the garbage collection logged", async () =>
    /Garbage collected 0 unreachable and 1 gone agents from the registry/.test(master.logs()),
  );
});
