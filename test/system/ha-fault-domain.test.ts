/**
 * Masters of one cluster must share a region: a master whose `--domain`
 * names another region than the elected leader's exits, as Mesos' does.
 * Real ZooKeeper and real masters; skips when ZooKeeper is not installed.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { leaderOf } from "../harness/leader.js";
import { type DaemonHandle, runBinary, startMaster, stopAll } from "../harness/processes.js";
import { startZooKeeper, type ZooKeeper, zookeeperSkip } from "../harness/zookeeper.js";

const skip = zookeeperSkip;
let zk: ZooKeeper;
let leader: DaemonHandle;
const workDirs: string[] = [];

function domain(region: string, zone: string): string {
  return JSON.stringify({ fault_domain: { region: { name: region }, zone: { name: zone } } });
}

before(async () => {
  if (skip !== false) return;
  zk = await startZooKeeper();
  leader = await startMaster({
    flags: {
      zk: zk.url("/mesos"),
      quorum: 1,
      registry: "in_memory",
      domain: domain("eu", "rack1"),
    },
  });
  await leaderOf([leader]);
});

after(async () => {
  await stopAll();
  await zk?.stop();
  for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
});

function standby(domainFlag: string | undefined): Promise<{ code: number | null; out: string }> {
  const workDir = mkdtempSync(join(tmpdir(), "ha-domain-"));
  workDirs.push(workDir);
  const args = [
    `--zk=${zk.url("/mesos")}`,
    "--quorum=1",
    "--registry=in_memory",
    "--ip=127.0.0.1",
    "--port=0",
    `--work_dir=${workDir}`,
    ...(domainFlag === undefined ? [] : [`--domain=${domainFlag}`]),
  ];
  // A master in the leader's region stays up as a standby: killed after 8 s.
  return runBinary("mesos-master", args, { timeoutMs: 8_000 }).then((r) => ({
    code: r.code,
    out: r.stdout + r.stderr,
  }));
}

test("ha: a master in another region than the leader exits", { skip }, async () => {
  const other = await standby(domain("us", "rack1"));
  assert.equal(other.code, 1, other.out);
  assert.match(
    other.out,
    /Leading master uses domain \{region: eu, zone: rack1\}; this master is configured to use domain \{region: us, zone: rack1\}; all masters in the same cluster must use the same region/,
  );
});

test("ha: masters in the leader's region, or without a domain, stay as standbys", {
  skip,
}, async () => {
  const [sameRegion, noDomain] = await Promise.all([
    standby(domain("eu", "rack2")),
    standby(undefined),
  ]);
  for (const run of [sameRegion, noDomain]) {
    // Killed by the timeout (no exit code of its own), after seeing the leader.
    assert.equal(run.code, null, run.out);
    assert.match(run.out, /The newly elected leader is/);
  }
});
