/**
 * `TaskInfo.limits` for top-level containers: the executor's limits from
 * its tasks (Mesos' `computeExecutorLimits`), and what the cgroups cpu and
 * memory isolators write for them as tasks join and leave, against fake
 * cgroup v1 and v2 trees in a temp directory (plain files stand in for the
 * control files).
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { CgroupsHierarchy } from "../../src/agent/containerizer/cgroups/hierarchy.js";
import { CgroupsCpuIsolator } from "../../src/agent/containerizer/isolators/cgroups-cpu.js";
import { CgroupsMemIsolator } from "../../src/agent/containerizer/isolators/cgroups-mem.js";
import type {
  ContainerConfig,
  ContainerResources,
} from "../../src/agent/containerizer/isolators/isolator.js";
import { containerResources } from "../../src/agent/containerizer/posix-containerizer.js";
import { containerLimits, executorLimits } from "../../src/agent/executor-limits.js";
import { resourcesOf } from "../../src/agent/wire-resources.js";
import { silentLogger } from "../../src/common/observability/logger.js";

const MB = 1024 * 1024;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const scalar = (name: string, value: number) => ({
  name,
  type: "SCALAR" as const,
  scalar: { value },
});
const task = (cpus: number, mem: number, limits?: { cpus?: number; mem?: number }) => ({
  resources: [scalar("cpus", cpus), scalar("mem", mem)],
  ...(limits === undefined
    ? {}
    : {
        limits: Object.fromEntries(
          Object.entries(limits).map(([k, v]) => [k, { value: v }] as const),
        ),
      }),
});
const EXECUTOR = [scalar("cpus", 0.1), scalar("mem", 32)];

test("executor limits: none without task limits; a limit sums the tasks' limits, the executor's and the unlimited tasks' requests", () => {
  assert.deepEqual(executorLimits(EXECUTOR, [task(1, 64), task(0.5, 32)], true), {});
  assert.deepEqual(executorLimits(EXECUTOR, [], false), {});
  assert.deepEqual(executorLimits(EXECUTOR, [task(1, 64, { cpus: 2, mem: 128 })], false), {
    cpus: 2.1,
    mem: 160,
  });
  // Two limited tasks and one without limits (with CFS: its request counts in).
  const limits = executorLimits(
    EXECUTOR,
    [task(1, 64, { cpus: 2, mem: 128 }), task(1, 64, { cpus: 3 }), task(0.5, 100)],
    true,
  );
  assert.ok(Math.abs((limits.cpus ?? 0) - 5.6) < 1e-9, String(limits.cpus));
  // mem: 128 (limit) + 32 (executor) + 64 + 100 (requests of tasks without a mem limit).
  assert.equal(limits.mem, 324);
});

test("executor limits: without --cgroups_enable_cfs a task with no cpus limit drops the container's cpus limit", () => {
  const tasks = [task(1, 64, { cpus: 2, mem: 128 }), task(0.5, 64)];
  assert.deepEqual(executorLimits(EXECUTOR, tasks, false), { mem: 224 });
  assert.ok(executorLimits(EXECUTOR, tasks, true).cpus !== undefined);
});

test("executor limits: an infinite task limit makes the container's limit infinite", () => {
  const limits = executorLimits(
    EXECUTOR,
    [task(1, 64, { cpus: 2 }), task(1, 64, { cpus: Number.POSITIVE_INFINITY, mem: 1e9 })],
    true,
  );
  assert.equal(limits.cpus, Number.POSITIVE_INFINITY);
  assert.equal(limits.mem, 1e9 + 32 + 64);
});

test("containerLimits: the executor running in the container, from its queued and launched tasks", () => {
  const executor = {
    containerId: "c1",
    info: { resources: EXECUTOR },
    queuedTasks: new Map([["a", task(1, 64, { cpus: 2 })]]),
    launchedTasks: new Map([["b", task(1, 64, { cpus: 1 })]]),
  };
  const frameworks = new Map([["f", { executors: new Map([["e", executor]]) }]]);
  assert.deepEqual(containerLimits(frameworks, "c1", false), { cpus: 3.1 });
  assert.deepEqual(containerLimits(frameworks, "other", false), {});
  // The queued task finished: the container's limit goes down with it.
  executor.queuedTasks.clear();
  assert.deepEqual(containerLimits(frameworks, "c1", false), { cpus: 1.1 });
  const resources = containerResources(resourcesOf([...EXECUTOR]), { cpus: 1.1, mem: 64 });
  assert.equal(resources.cpuLimit, 1.1);
  assert.equal(resources.memLimitMb, 64);
});

function fakeV1(): { mount: string; cgroups: CgroupsHierarchy } {
  const mount = mkdtempSync(join(tmpdir(), "fake-cgroup1-"));
  dirs.push(mount);
  for (const s of ["cpu", "memory"]) mkdirSync(join(mount, s));
  const mounts =
    `cgroup ${mount}/cpu cgroup rw,cpu,cpuacct 0 0\n` +
    `cgroup ${mount}/memory cgroup rw,memory 0 0\n`;
  const found = CgroupsHierarchy.detect(mount, "mesos", mounts);
  assert.ok(!("error" in found) && found.version === 1, JSON.stringify(found));
  return { mount, cgroups: found };
}

function fakeV2(): { mount: string; cgroups: CgroupsHierarchy } {
  const mount = mkdtempSync(join(tmpdir(), "fake-cgroup2-"));
  dirs.push(mount);
  writeFileSync(join(mount, "cgroup.controllers"), "cpu memory pids\n");
  const found = CgroupsHierarchy.detect(mount, "mesos", `cgroup2 ${mount} cgroup2 rw 0 0\n`);
  assert.ok(!("error" in found) && found.version === 2, JSON.stringify(found));
  return { mount, cgroups: found };
}

function config(containerId: string, resources: ContainerResources): ContainerConfig {
  return {
    containerId,
    directory: "/sandbox",
    executor: { executor_id: { value: "e" } },
    commandExecutor: false,
    resources,
  };
}

const read = (...path: string[]) => readFileSync(join(...path), "utf8");

test("cgroups/cpu v1: a cpus limit sets the quota without CFS, infinity and no limit lift it; shares follow the request", async () => {
  const { mount, cgroups } = fakeV1();
  const isolator = new CgroupsCpuIsolator(cgroups, false);
  const cpu = join(mount, "cpu", "mesos", "c1");
  await isolator.prepare(config("c1", { cpus: 0.1 }));
  assert.equal(read(cpu, "cpu.cfs_quota_us"), "-1");
  // A task with 1 cpu and a limit of 2 joins.
  await isolator.update("c1", { cpus: 1.1, cpuLimit: 2.1 });
  assert.equal(read(cpu, "cpu.shares"), "1126");
  assert.equal(read(cpu, "cpu.cfs_period_us"), "100000");
  assert.equal(read(cpu, "cpu.cfs_quota_us"), "210000");
  // Statistics as Mesos: the limit, and the request as the soft limit.
  let stats = await isolator.usage("c1");
  assert.equal(stats.cpus_limit, 2.1);
  assert.equal(stats.cpus_soft_limit, 1.1);
  await isolator.update("c1", { cpus: 2.1, cpuLimit: Number.POSITIVE_INFINITY });
  assert.equal(read(cpu, "cpu.cfs_quota_us"), "-1");
  stats = await isolator.usage("c1");
  assert.equal(stats.cpus_limit, cpus().length, "an infinite limit: all the host's cpus");
  await isolator.update("c1", { cpus: 1.1, cpuLimit: 0.0001 });
  assert.equal(read(cpu, "cpu.cfs_quota_us"), "1000", "Mesos' smallest quota");
  // The limited task left: no quota without CFS.
  await isolator.update("c1", { cpus: 0.1 });
  assert.equal(read(cpu, "cpu.cfs_quota_us"), "-1");
  stats = await isolator.usage("c1");
  assert.equal(stats.cpus_limit, undefined);
  assert.equal(stats.cpus_soft_limit, undefined);
  // With CFS, no limit: the request; a limit: the limit.
  const withCfs = new CgroupsCpuIsolator(cgroups, true);
  await withCfs.prepare(config("c2", { cpus: 0.5 }));
  const cpu2 = join(mount, "cpu", "mesos", "c2");
  assert.equal(read(cpu2, "cpu.cfs_quota_us"), "50000");
  await withCfs.update("c2", { cpus: 0.5, cpuLimit: 1 });
  assert.equal(read(cpu2, "cpu.cfs_quota_us"), "100000");
  await withCfs.update("c2", { cpus: 0.5, cpuLimit: Number.POSITIVE_INFINITY });
  assert.equal(read(cpu2, "cpu.cfs_quota_us"), "-1");
});

test("cgroups/cpu v2: cpu.max from the limit, 'max' for an infinite one", async () => {
  const { mount, cgroups } = fakeV2();
  const isolator = new CgroupsCpuIsolator(cgroups, false);
  const cpu = join(mount, "mesos", "c1");
  await isolator.prepare(config("c1", { cpus: 0.5, cpuLimit: 1.5 }));
  assert.equal(read(cpu, "cpu.max"), "150000 100000");
  assert.equal(read(cpu, "cpu.weight"), "50");
  await isolator.update("c1", { cpus: 0.5, cpuLimit: Number.POSITIVE_INFINITY });
  assert.equal(read(cpu, "cpu.max"), "max 100000");
  await isolator.update("c1", { cpus: 0.5, cpuLimit: 1 });
  await isolator.update("c1", { cpus: 0.5 });
  assert.equal(read(cpu, "cpu.max"), "max 100000");
});

function memIsolator(
  cgroups: CgroupsHierarchy,
  limitSwap = false,
  commandExecutorAllowanceMb = 0,
): CgroupsMemIsolator {
  return new CgroupsMemIsolator(
    cgroups,
    { logger: silentLogger, limit: () => undefined },
    { limitSwap, commandExecutorAllowanceMb },
  );
}

test("cgroups/mem v1: the mem limit is the hard limit, the request the soft one; the hard limit only rises", async (t) => {
  const { mount, cgroups } = fakeV1();
  const isolator = memIsolator(cgroups, true);
  t.after(() => isolator.cleanup("c1").catch(() => undefined));
  const mem = join(mount, "memory", "mesos", "c1");
  await isolator.prepare(config("c1", { memMb: 32 }));
  assert.equal(read(mem, "memory.limit_in_bytes"), String(32 * MB));
  // A task of 64 MB with a limit of 256 MB joins (the executor's 32 MB in both).
  await isolator.update("c1", { memMb: 96, memLimitMb: 288 });
  assert.equal(read(mem, "memory.soft_limit_in_bytes"), String(96 * MB));
  assert.equal(read(mem, "memory.limit_in_bytes"), String(288 * MB));
  assert.equal(read(mem, "memory.memsw.limit_in_bytes"), String(288 * MB));
  // It leaves: the soft limit follows, the hard limit is not lowered under use.
  await isolator.update("c1", { memMb: 32 });
  assert.equal(read(mem, "memory.soft_limit_in_bytes"), String(32 * MB));
  assert.equal(read(mem, "memory.limit_in_bytes"), String(288 * MB));
  // A fractional limit is cut to whole MB, as Mesos.
  await isolator.update("c1", { memMb: 32, memLimitMb: 300.7 });
  assert.equal(read(mem, "memory.limit_in_bytes"), String(300 * MB));
  await isolator.update("c1", { memMb: 32, memLimitMb: Number.POSITIVE_INFINITY });
  assert.equal(read(mem, "memory.limit_in_bytes"), "-1");
  assert.equal(read(mem, "memory.memsw.limit_in_bytes"), "-1");
  await isolator.update("c1", { memMb: 32, memLimitMb: 512 });
  assert.equal(read(mem, "memory.limit_in_bytes"), "-1", "an infinite limit stays");
});

test("cgroups/mem v2: memory.max from the limit ('max' when infinite), memory.low from the request; recovery keeps 'max'", async (t) => {
  const { mount, cgroups } = fakeV2();
  const isolator = memIsolator(cgroups);
  t.after(() => isolator.cleanup("c1").catch(() => undefined));
  const mem = join(mount, "mesos", "c1");
  await isolator.prepare(config("c1", { memMb: 64, memLimitMb: 128 }));
  assert.equal(read(mem, "memory.max"), String(128 * MB));
  assert.equal(read(mem, "memory.low"), String(64 * MB));
  await isolator.update("c1", { memMb: 64, memLimitMb: Number.POSITIVE_INFINITY });
  assert.equal(read(mem, "memory.max"), "max");
  writeFileSync(join(mem, "memory.stat"), "anon 0\n");
  writeFileSync(join(mem, "memory.current"), "0\n");
  assert.equal(
    (await isolator.usage("c1")).mem_limit_bytes,
    totalmem(),
    "an infinite limit: all the host's memory, as Mesos",
  );
  // A restarted agent reads the unlimited container back and does not cap it.
  const recovered = memIsolator(cgroups);
  t.after(() => recovered.cleanup("c1").catch(() => undefined));
  await recovered.recover(new Map([["c1", 1]]));
  await recovered.update("c1", { memMb: 64 });
  assert.equal(read(mem, "memory.max"), "max");
});

test("cgroups/mem: a recovered command executor keeps its allowance in the soft limit when its tasks did not change", async (t) => {
  const { mount, cgroups } = fakeV1();
  const before = memIsolator(cgroups, false, 64);
  t.after(() => before.cleanup("cmd").catch(() => undefined));
  const mem = join(mount, "memory", "mesos", "cmd");
  await before.prepare({ ...config("cmd", { memMb: 32 }), commandExecutor: true });
  await before.update("cmd", { memMb: 96, memLimitMb: 288 });
  assert.equal(read(mem, "memory.soft_limit_in_bytes"), String((96 + 64) * MB));
  assert.equal(read(mem, "memory.limit_in_bytes"), String((288 + 64) * MB));
  // The agent restarts: the new isolator recovers the container, then the
  // re-subscribed executor's resources arrive (the same task).
  const after_ = memIsolator(cgroups, false, 64);
  t.after(() => after_.cleanup("cmd").catch(() => undefined));
  await after_.recover(new Map([["cmd", 1]]));
  await after_.update("cmd", { memMb: 96, memLimitMb: 288 });
  assert.equal(read(mem, "memory.soft_limit_in_bytes"), String((96 + 64) * MB));
  // A later, bigger limit still gets the allowance.
  await after_.update("cmd", { memMb: 96, memLimitMb: 400 });
  assert.equal(read(mem, "memory.limit_in_bytes"), String((400 + 64) * MB));
  // A custom executor's container gets none.
  const custom = memIsolator(cgroups, false, 64);
  t.after(() => custom.cleanup("custom").catch(() => undefined));
  await custom.prepare(config("custom", { memMb: 128 }));
  const again = memIsolator(cgroups, false, 64);
  t.after(() => again.cleanup("custom").catch(() => undefined));
  await again.recover(new Map([["custom", 1]]));
  await again.update("custom", { memMb: 128 });
  assert.equal(
    read(join(mount, "memory", "mesos", "custom"), "memory.soft_limit_in_bytes"),
    String(128 * MB),
  );
});
