/**
 * cgroup v2 behind the isolator interfaces, against a fake cgroup2 tree in a
 * temp directory (plain files stand in for the control files): detection,
 * `cgroup.subtree_control`, memory.max / memory.swap.max / memory.oom.group,
 * memory.events OOM kills, memory.current / memory.stat, cpu.weight and
 * cpu.max, cpu.stat, pids.current, cgroup.kill and removing nested cgroups.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  CgroupsHierarchy,
  killCgroup,
  removeCgroup,
  subtreePids,
} from "../../src/agent/containerizer/cgroups/hierarchy.js";
import { CgroupsCpuIsolator } from "../../src/agent/containerizer/isolators/cgroups-cpu.js";
import { CgroupsMemIsolator } from "../../src/agent/containerizer/isolators/cgroups-mem.js";
import { CgroupsPidsIsolator } from "../../src/agent/containerizer/isolators/cgroups-pids.js";
import type {
  ContainerConfig,
  ContainerLimitation,
} from "../../src/agent/containerizer/isolators/isolator.js";
import { silentLogger } from "../../src/common/observability/logger.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fake unified mount offering `controllers`; returns the hierarchy over it. */
function fakeV2(controllers = "cpuset cpu io memory hugetlb pids"): {
  mount: string;
  cgroups: CgroupsHierarchy;
} {
  const mount = mkdtempSync(join(tmpdir(), "fake-cgroup2-"));
  dirs.push(mount);
  writeFileSync(join(mount, "cgroup.controllers"), `${controllers}\n`);
  const found = CgroupsHierarchy.detect(mount, "mesos", `cgroup2 ${mount} cgroup2 rw 0 0\n`);
  assert.ok(!("error" in found), JSON.stringify(found));
  return { mount, cgroups: found };
}

const read = (...path: string[]) => readFileSync(join(...path), "utf8");

function config(containerId: string, cpus: number, memMb: number): ContainerConfig {
  return {
    containerId,
    directory: "/sandbox",
    executor: { executor_id: { value: "e" } },
    commandExecutor: false,
    resources: { cpus, memMb },
  };
}

test("cgroup v2: a host with only the unified tree uses it; a hybrid host with cpu and memory on v1 uses v1", () => {
  const { cgroups } = fakeV2();
  assert.equal(cgroups.version, 2);
  assert.ok(cgroups.has("memory") && cgroups.has("cpu") && cgroups.has("pids"));
  // cpu accounting and freezing are part of v2 itself.
  assert.ok(cgroups.has("cpuacct") && cgroups.has("freezer"));
  const hybrid = CgroupsHierarchy.detect(
    "/sys/fs/cgroup",
    "mesos",
    [
      "cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0",
      "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0",
      "cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0",
    ].join("\n"),
  );
  assert.ok(!("error" in hybrid) && hybrid.version === 1);
});

test("cgroup v2: a unified tree whose cpu and memory controllers are bound to v1 is not usable", () => {
  const mount = mkdtempSync(join(tmpdir(), "fake-cgroup2-"));
  dirs.push(mount);
  writeFileSync(join(mount, "cgroup.controllers"), "hugetlb\n");
  const found = CgroupsHierarchy.detect(mount, "mesos", `cgroup2 ${mount} cgroup2 rw 0 0\n`);
  assert.ok("error" in found);
  assert.match(found.error, /no cgroup hierarchy with the cpu or memory controller/);
});

test("cgroup v2: container cgroups sit under the root with the controllers enabled on the way; nested ones below their parent", async () => {
  const { mount, cgroups } = fakeV2();
  const path = await cgroups.create("memory", "c1");
  assert.equal(path, join(mount, "mesos", "c1"));
  assert.equal(read(mount, "cgroup.subtree_control"), "+cpu +memory +pids");
  assert.equal(read(mount, "mesos", "cgroup.subtree_control"), "+cpu +memory +pids");
  // One tree: every controller's path is the same directory.
  assert.equal(cgroups.path("cpu", "c1"), path);
  assert.equal(cgroups.path("freezer", "c1/mesos/n1"), join(mount, "mesos", "c1", "mesos", "n1"));
});

test("cgroups/mem on v2: memory.max from mem, OOM group kill on, swap off with --cgroups_limit_swap; statistics from memory.current and memory.stat", async () => {
  const { mount, cgroups } = fakeV2();
  const limits: [string, ContainerLimitation][] = [];
  const mem = new CgroupsMemIsolator(
    cgroups,
    { logger: silentLogger, limit: (id, l) => limits.push([id, l]) },
    { limitSwap: true, commandExecutorAllowanceMb: 64 },
  );
  const prep = await mem.prepare(config("c2", 1, 128));
  const dir = join(mount, "mesos", "c2");
  assert.deepEqual(prep.cgroupProcs, [join(dir, "cgroup.procs")]);
  assert.equal(read(dir, "memory.max"), String(128 * 1024 * 1024));
  assert.equal(read(dir, "memory.oom.group"), "1");
  assert.equal(read(dir, "memory.swap.max"), "0");
  // Raised with the resources, never lowered.
  await mem.update("c2", { memMb: 256 });
  assert.equal(read(dir, "memory.max"), String(256 * 1024 * 1024));
  await mem.update("c2", { memMb: 64 });
  assert.equal(read(dir, "memory.max"), String(256 * 1024 * 1024));

  writeFileSync(join(dir, "memory.current"), "5000000\n");
  writeFileSync(
    join(dir, "memory.stat"),
    "anon 3000000\nfile 1500000\nfile_mapped 200000\nunevictable 4096\n",
  );
  const stats = await mem.usage("c2");
  assert.equal(stats.mem_total_bytes, 5_000_000);
  assert.equal(stats.mem_limit_bytes, 256 * 1024 * 1024);
  assert.equal(stats.mem_rss_bytes, 3_000_000);
  assert.equal(stats.mem_anon_bytes, 3_000_000);
  assert.equal(stats.mem_cache_bytes, 1_500_000);
  assert.equal(stats.mem_file_bytes, 1_500_000);
  assert.equal(stats.mem_mapped_file_bytes, 200_000);
  assert.equal(stats.mem_unevictable_bytes, 4096);

  // The kernel's OOM kill shows in memory.events: reported once, with the reason.
  writeFileSync(join(dir, "memory.events"), "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n");
  writeFileSync(join(dir, "memory.peak"), String(256 * 1024 * 1024));
  for (let i = 0; i < 100 && limits.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(limits.length, 1);
  const [id, limitation] = limits[0] as [string, ContainerLimitation];
  assert.equal(id, "c2");
  assert.equal(limitation.reason, "REASON_CONTAINER_LIMITATION_MEMORY");
  assert.equal(limitation.message, "Memory limit exceeded: Requested: 256MB Maximum Used: 256MB");
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(limits.length, 1, "reported once");
  // Stop the poll: the fake cgroup cannot be rmdir'ed, so clean up by hand.
  rmSync(dir, { recursive: true, force: true });
  await mem.cleanup("c2").catch(() => undefined);
});

test("cgroups/mem on v2: an OOM kill the poll has not seen yet is reported when the container is cleaned up", async () => {
  const { mount, cgroups } = fakeV2();
  const limits: string[] = [];
  const mem = new CgroupsMemIsolator(
    cgroups,
    { logger: silentLogger, limit: (id) => limits.push(id) },
    { limitSwap: false, commandExecutorAllowanceMb: 0 },
  );
  await mem.prepare(config("c3", 1, 64));
  const dir = join(mount, "mesos", "c3");
  assert.throws(
    () => read(dir, "memory.swap.max"),
    /ENOENT/,
    "swap is left alone without the flag",
  );
  writeFileSync(join(dir, "memory.events"), "oom 1\noom_kill 0\noom_group_kill 1\n");
  writeFileSync(join(dir, "cgroup.kill"), "");
  await mem.cleanup("c3").catch(() => undefined); // rmdir of the fake directory fails
  assert.deepEqual(limits, ["c3"]);
  assert.equal(read(dir, "cgroup.kill"), "1", "cgroup.kill kills what is left");
});

test("cgroups/cpu on v2: cpu.weight 100 per cpu (as Mesos), cpu.max with CFS; times and throttling from cpu.stat", async () => {
  const { mount, cgroups } = fakeV2();
  const cpu = new CgroupsCpuIsolator(cgroups, true);
  await cpu.prepare(config("c4", 0.5, 32));
  const dir = join(mount, "mesos", "c4");
  // Mesos' cgroups2 cpu controller: 100 per cpu.
  assert.equal(read(dir, "cpu.weight"), "50");
  assert.equal(read(dir, "cpu.max"), "50000 100000");
  await cpu.update("c4", { cpus: 2 });
  assert.equal(read(dir, "cpu.weight"), "200");
  assert.equal(read(dir, "cpu.max"), "200000 100000");
  writeFileSync(
    join(dir, "cpu.stat"),
    "usage_usec 3500000\nuser_usec 2500000\nsystem_usec 1000000\nnr_periods 40\nnr_throttled 10\nthrottled_usec 750000\n",
  );
  const stats = await cpu.usage("c4");
  assert.equal(stats.cpus_user_time_secs, 2.5);
  assert.equal(stats.cpus_system_time_secs, 1);
  assert.equal(stats.cpus_nr_periods, 40);
  assert.equal(stats.cpus_nr_throttled, 10);
  assert.equal(stats.cpus_throttled_time_secs, 0.75);
});

test("cgroups/pids on v2: processes from cgroup.procs, threads from pids.current", async () => {
  const { mount, cgroups } = fakeV2();
  const pids = new CgroupsPidsIsolator(cgroups);
  await pids.prepare(config("c5", 1, 32));
  const dir = join(mount, "mesos", "c5");
  writeFileSync(join(dir, "cgroup.procs"), "101\n102\n");
  writeFileSync(join(dir, "pids.current"), "7\n");
  const stats = await pids.usage("c5");
  assert.equal(stats.processes, 2);
  assert.equal(stats.threads, 7);
});

test("cgroups: a container's pids include its nested containers'; removing it removes the nested cgroups first", async () => {
  const base = mkdtempSync(join(tmpdir(), "fake-cgroups-"));
  dirs.push(base);
  const parent = join(base, "p");
  mkdirSync(join(parent, "mesos", "n1"), { recursive: true });
  mkdirSync(join(parent, "mesos", "n2"), { recursive: true });
  writeFileSync(join(parent, "cgroup.procs"), "1\n");
  writeFileSync(join(parent, "mesos", "n1", "cgroup.procs"), "2\n3\n");
  assert.deepEqual((await subtreePids(parent)).sort(), [1, 2, 3]);
  for (const f of [join(parent, "cgroup.procs"), join(parent, "mesos", "n1", "cgroup.procs")]) {
    rmSync(f);
  }
  await removeCgroup(parent);
  assert.throws(() => read(parent, "x"), /ENOENT/);
  // cgroup.kill on v2 (the kernel kills the whole subtree); nothing left to wait for.
  const v2 = join(base, "k");
  mkdirSync(v2);
  writeFileSync(join(v2, "cgroup.kill"), "");
  assert.equal(await killCgroup(v2, 2, 1000), 0);
  assert.equal(read(v2, "cgroup.kill"), "1");
});
