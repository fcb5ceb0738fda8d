/**
 * The registry in ZooKeeper (src/master/registrar/zookeeper.ts) against a
 * real server: 10,000 agents stay under the znode limit and come back on
 * recovery; a deposed writer can never commit. Skips without ZooKeeper.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { SlaveInfo } from "../../src/common/protocol/generated/mesos-internal.js";
import { SystemClock } from "../../src/common/time/clock.js";
import { joinGroup } from "../../src/common/zookeeper/group.js";
import { ZkSession } from "../../src/common/zookeeper/session.js";
import { parseZkUrl } from "../../src/common/zookeeper/url.js";
import { ZooKeeperRegistrar } from "../../src/master/registrar/zookeeper.js";
import { startZooKeeper, type ZooKeeper, zookeeperSkip } from "../harness/zookeeper.js";

const skip = zookeeperSkip;
const clock = new SystemClock();
const quiet = { info: () => {}, warn: () => {}, error: () => {}, verbose: () => {} };
let zk: ZooKeeper;
const sessions: ZkSession[] = [];

before(async () => {
  if (skip === false) zk = await startZooKeeper();
});

after(async () => {
  for (const s of sessions) s.close();
  await zk?.stop();
});

function session(): ZkSession {
  const url = parseZkUrl(zk.url("/reg"));
  assert.ok(url.ok);
  const s = new ZkSession({ url: url.value, sessionTimeoutMs: 4000, logger: quiet, clock });
  s.start();
  sessions.push(s);
  return s;
}

/** A master's registrar: its own election znode in the group, then the registrar. */
async function master(id: string, deposed: string[] = []) {
  const s = session();
  const member = await joinGroup(s, "/reg", "json.info", Buffer.from("{}"), quiet, clock);
  const registrar = new ZooKeeperRegistrar({
    session: s,
    groupPath: "/reg",
    ownZnode: member.path,
    masterId: id,
    logger: quiet,
    onDeposed: (m) => deposed.push(m),
  });
  return { session: s, member, registrar, deposed };
}

function agent(i: number): SlaveInfo {
  return {
    id: { value: `9f3c2a1e-5b7d-4e0f-8a6b-1c2d3e4f5a6b-S${i}` },
    hostname: `agent-${i}.rack-${i % 40}.example.com`,
    port: 5051,
    resources: [
      { name: "cpus", type: "SCALAR", scalar: { value: 16 } },
      { name: "mem", type: "SCALAR", scalar: { value: 64_000 } },
      { name: "disk", type: "SCALAR", scalar: { value: 900_000 } },
      { name: "ports", type: "RANGES", ranges: { range: [{ begin: 31000, end: 32000 }] } },
    ],
    attributes: [{ name: "rack", type: "TEXT", text: { value: `rack-${i % 40}` } }],
  } as SlaveInfo;
}

test("zk registry: 10,000 agents fit (every shard far below 1 MB) and all come back on recovery", {
  skip,
}, async () => {
  const a = await master("master-a");
  await a.registrar.recover();
  const results = await Promise.all(
    Array.from({ length: 10_000 }, (_, i) =>
      a.registrar.apply({ kind: "admit-agent", info: agent(i) }),
    ),
  );
  assert.ok(results.every((r) => r));
  let largest = 0;
  for (let i = 0; i < 64; i++) {
    const shard = await a.session.getData(`/reg/registry/shard-${String(i).padStart(4, "0")}`);
    assert.ok(shard);
    largest = Math.max(largest, shard.data.byteLength);
  }
  assert.ok(largest < 256 * 1024, `largest shard ${largest} bytes`);
  assert.ok(largest > 0);

  const b = await master("master-b");
  const registry = await b.registrar.recover();
  assert.equal(registry.slaves?.slaves?.length, 10_000);
  assert.ok(
    (registry.slaves?.slaves ?? []).some(
      (s) => s.info.hostname === "agent-9999.rack-39.example.com",
    ),
  );
});

test("zk registry: a master whose election znode is gone can never commit", { skip }, async () => {
  const a = await master("old-leader");
  await a.registrar.recover();
  assert.equal(await a.registrar.apply({ kind: "admit-agent", info: agent(20_001) }), true);
  // The old leader's session ends (its ephemeral znode goes with it)...
  await a.session.remove(a.member.path);
  // ...so its next write is refused and deposes it; nothing is stored.
  await assert.rejects(
    a.registrar.apply({ kind: "admit-agent", info: agent(20_002) }),
    /no longer the leader/,
  );
  assert.equal(a.deposed.length, 1);
  const b = await master("new-leader");
  const registry = await b.registrar.recover();
  const ids = new Set((registry.slaves?.slaves ?? []).map((s) => s.info.id?.value));
  assert.ok(ids.has(agent(20_001).id?.value));
  assert.ok(!ids.has(agent(20_002).id?.value));
});

test("zk registry: two writers never both commit (the registry version decides)", {
  skip,
}, async () => {
  const a = await master("writer-a");
  const b = await master("writer-b");
  await a.registrar.recover();
  await b.registrar.recover();
  const before = a.registrar.writes;
  assert.equal(await a.registrar.apply({ kind: "admit-agent", info: agent(30_001) }), true);
  assert.equal(a.registrar.writes, before + 1);
  // b read the registry before a's write: its write is refused.
  await assert.rejects(
    b.registrar.apply({ kind: "admit-agent", info: agent(30_002) }),
    /no longer the leader/,
  );
  assert.equal(b.deposed.length, 1);
  const check = await master("reader");
  const registry = await check.registrar.recover();
  const ids = new Set((registry.slaves?.slaves ?? []).map((s) => s.info.id?.value));
  assert.ok(ids.has(agent(30_001).id?.value));
  assert.ok(!ids.has(agent(30_002).id?.value));
  assert.equal(check.registrar.writes, before + 1);
});
