/**
 * `TaskInfo.limits` on a top-level container (a command task): a real
 * master, an agent with `--isolation=cgroups/cpu,cgroups/mem` (linux
 * launcher) and tasks started with mesos-execute. The cpus limit becomes
 * the CFS quota even without `--cgroups_enable_cfs` (shares still follow
 * the request), the mem limit the hard memory limit with the request as the
 * soft limit; an infinite limit removes the quota / hard limit that
 * `--cgroups_enable_cfs` or the request would set. The same for a task
 * group's task in cgroups of its own (v1). Memory checks skip without a
 * memory controller.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { after, before, test } from "node:test";
import { CgroupsHierarchy } from "../../src/agent/containerizer/cgroups/hierarchy.js";
import {
  type DaemonHandle,
  getJson,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  waitFor,
  waitForAgents,
} from "../harness/processes.js";
import {
  executeTask,
  isolationSkipReason,
  removeRootCgroups,
  sandboxOf,
  scalar,
} from "./containerizer-helpers.js";

const skip = isolationSkipReason(["cpu", "cpuacct", "freezer"]);
const CGROUPS_ROOT = `mesos-test-limits-${process.pid}`;
const MB = 1024 * 1024;
let master: DaemonHandle;
let plain: DaemonHandle;
let cfsMaster: DaemonHandle;
let cfs: DaemonHandle;
let cgroups: CgroupsHierarchy;
let cfsCgroups: CgroupsHierarchy;
let memory = false;

before(async () => {
  if (skip !== undefined) return;
  cgroups = CgroupsHierarchy.detect("/sys/fs/cgroup", CGROUPS_ROOT) as CgroupsHierarchy;
  cfsCgroups = CgroupsHierarchy.detect("/sys/fs/cgroup", `${CGROUPS_ROOT}-cfs`) as CgroupsHierarchy;
  memory = cgroups.has("memory");
  const isolation = memory ? "cgroups/cpu,cgroups/mem" : "cgroups/cpu";
  master = await startMaster();
  plain = await startAgent({
    master: master.address,
    flags: { isolation, launcher: "linux", cgroups_root: CGROUPS_ROOT },
  });
  await waitForAgents(master, 1);
  cfsMaster = await startMaster();
  cfs = await startAgent({
    master: cfsMaster.address,
    flags: {
      isolation,
      launcher: "linux",
      cgroups_root: `${CGROUPS_ROOT}-cfs`,
      cgroups_enable_cfs: true,
    },
  });
  await waitForAgents(cfsMaster, 1);
});

after(async () => {
  await stopAll();
  if (skip === undefined) {
    removeRootCgroups(cgroups);
    removeRootCgroups(cfsCgroups);
  }
});

/** The container of executor `name` (its sandbox is `.../runs/<container id>`) once its cgroup exists. */
async function containerId(
  agent: DaemonHandle,
  h: CgroupsHierarchy,
  name: string,
): Promise<string> {
  const id = basename(await sandboxOf(agent, name));
  await waitFor("the task's cpu cgroup", () => existsSync(h.path("cpu", id)) || undefined);
  return id;
}

/** Reads control `file` of the container's `subsystem` cgroup. */
function control(h: CgroupsHierarchy, subsystem: "cpu" | "memory", id: string, file: string) {
  return readFileSync(join(h.path(subsystem, id), file), "utf8").trim();
}

/** Runs a task with `limits` on `on` until `check` is done, then lets it finish. */
async function withLimitedTask(
  on: { master: DaemonHandle; agent: DaemonHandle; cgroups: CgroupsHierarchy },
  name: string,
  limits: object,
  check: (id: string) => Promise<void>,
): Promise<void> {
  const running = executeTask(on.master, {
    name,
    resources: [scalar("cpus", 0.5), scalar("mem", 64)],
    limits,
    // Runs until the test creates `stop` in its sandbox.
    command: "while [ ! -e stop ]; do sleep 0.1; done",
  });
  try {
    await check(await containerId(on.agent, on.cgroups, name));
  } finally {
    const sandbox = await sandboxOf(on.agent, name).catch(() => undefined);
    if (sandbox !== undefined && existsSync(sandbox)) writeFileSync(join(sandbox, "stop"), "");
  }
  const run = await running;
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
}

test("limits: a cpus limit is the CFS quota without --cgroups_enable_cfs; a mem limit the hard limit", {
  skip,
}, async () => {
  await withLimitedTask(
    { master, agent: plain, cgroups },
    "limited",
    { cpus: { value: 2 }, mem: { value: 256 } },
    async (id) => {
      const cpu = (file: string) => control(cgroups, "cpu", id, file);
      if (cgroups.version === 1) {
        // The task's limit plus the command executor's 0.1 cpus, per 100 ms.
        await waitFor("the container's CFS quota", () => cpu("cpu.cfs_quota_us") === "210000");
        assert.equal(cpu("cpu.cfs_period_us"), "100000");
        // Shares still follow the request (0.5 + 0.1 cpus).
        assert.equal(cpu("cpu.shares"), "614");
      } else {
        await waitFor("the container's cpu.max", () => cpu("cpu.max") === "210000 100000");
        assert.equal(cpu("cpu.weight"), "60");
      }
      // Statistics as Mesos: the limit, and the request as the soft limit.
      const stats = await waitFor("the limits in /monitor/statistics", async () => {
        const all = await getJson<{ executor_id: string; statistics: Record<string, number> }[]>(
          `${plain.url}/monitor/statistics`,
        );
        return all?.find((e) => e.executor_id === "limited")?.statistics;
      });
      assert.ok(Math.abs((stats.cpus_limit ?? 0) - 2.1) < 1e-9, JSON.stringify(stats));
      assert.ok(Math.abs((stats.cpus_soft_limit ?? 0) - 0.6) < 1e-9, JSON.stringify(stats));
      if (!memory) return;
      const mem = (file: string) => Number(control(cgroups, "memory", id, file));
      const [hardFile, softFile] =
        cgroups.version === 1
          ? ["memory.limit_in_bytes", "memory.soft_limit_in_bytes"]
          : ["memory.max", "memory.low"];
      // Limit and request differ by the task's 256 - 64 MB (both carry the
      // executor's share on top).
      await waitFor("the container's hard memory limit", () => {
        const gap = mem(hardFile) - mem(softFile);
        return gap === (256 - 64) * MB ? true : undefined;
      });
      assert.ok(mem(softFile) >= (64 + 32) * MB, `soft limit ${mem(softFile)}`);
    },
  );
});

test("limits: an infinite cpus limit lifts the quota --cgroups_enable_cfs sets; an infinite mem limit lifts the hard limit", {
  skip,
}, async () => {
  await withLimitedTask(
    { master: cfsMaster, agent: cfs, cgroups: cfsCgroups },
    "unlimited",
    { cpus: { value: "Infinity" }, mem: { value: "Infinity" } },
    async (id) => {
      const cpu = (file: string) => control(cfsCgroups, "cpu", id, file);
      const mem = (file: string) => control(cfsCgroups, "memory", id, file);
      // Wait for the task's resources to arrive (shares from 0.5 + 0.1 cpus),
      // then see that CFS set no quota.
      if (cfsCgroups.version === 1) {
        await waitFor("the task's cpu.shares", () => cpu("cpu.shares") === "614");
        await waitFor("no CFS quota", () => cpu("cpu.cfs_quota_us") === "-1");
        if (memory) {
          await waitFor("no hard memory limit", () =>
            // The kernel shows "unlimited" as the largest page-aligned value.
            Number(mem("memory.limit_in_bytes")) > 2 ** 60 ? true : undefined,
          );
          assert.ok(Number(mem("memory.soft_limit_in_bytes")) < 2 ** 40);
        }
      } else {
        await waitFor("the task's cpu.weight", () => cpu("cpu.weight") === "60");
        await waitFor("no CFS quota", () => cpu("cpu.max").startsWith("max "));
        if (memory) await waitFor("no hard memory limit", () => mem("memory.max") === "max");
      }
    },
  );
});

test("limits: without limits, --cgroups_enable_cfs caps the container at its request", {
  skip,
}, async () => {
  await withLimitedTask(
    { master: cfsMaster, agent: cfs, cgroups: cfsCgroups },
    "requested",
    {},
    async (id) => {
      const cpu = (file: string) => control(cfsCgroups, "cpu", id, file);
      if (cfsCgroups.version === 1) {
        await waitFor("the CFS quota", () => cpu("cpu.cfs_quota_us") === "60000");
      } else {
        await waitFor("the CFS quota", () => cpu("cpu.max") === "60000 100000");
      }
    },
  );
});

/** `<parent>/mesos/<child>` cpu cgroups under `h`'s root. */
function nestedCpuCgroups(h: CgroupsHierarchy): string[] {
  const out: string[] = [];
  const dirs = (path: string) => {
    try {
      return readdirSync(path, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return [];
    }
  };
  for (const parent of dirs(h.rootPath("cpu"))) {
    for (const child of dirs(join(h.rootPath("cpu"), parent, "mesos"))) {
      out.push(join(h.rootPath("cpu"), parent, "mesos", child));
    }
  }
  return out;
}

test("limits: a task group's task with cgroups of its own gets its cpus limit as its quota without --cgroups_enable_cfs", {
  skip,
}, async (t) => {
  if (cgroups.version !== 1) {
    t.skip("nested cgroups of their own need cgroup v1 (on v2 they share the executor's)");
    return;
  }
  const tasks = [
    {
      name: "burst",
      task_id: { value: "burst" },
      agent_id: { value: "" },
      resources: [scalar("cpus", 0.1), scalar("mem", 32)],
      limits: { cpus: { value: 0.5 } },
      command: { value: "sleep 30" },
      container: { type: "MESOS", linux_info: { share_cgroups: false } },
    },
  ];
  const running = runBinary(
    "mesos-execute",
    [
      `--master=${master.address}`,
      `--task_group=${JSON.stringify({ tasks })}`,
      "--kill_after=4secs",
    ],
    { timeoutMs: 45_000 },
  );
  const dir = await waitFor("the task's own cpu cgroup", () => nestedCpuCgroups(cgroups)[0]);
  const read = (file: string) => readFileSync(join(dir, file), "utf8").trim();
  await waitFor("its CFS quota", () => read("cpu.cfs_quota_us") === "50000");
  // Shares follow its 0.1 cpus request, not the limit.
  assert.equal(read("cpu.shares"), "102");
  const run = await running;
  assert.match(run.stdout, /TASK_KILLED/, run.stdout);
  await waitFor("the nested cgroups to be removed", () => nestedCpuCgroups(cgroups).length === 0);
});
