/**
 * The Mesos containerizer with real cgroups and namespaces: a real master,
 * an agent with `--isolation=cgroups/cpu,cgroups/mem,namespaces/pid` (CFS
 * on), and tasks started with mesos-execute. Needs root and cgroup v1 (or
 * v2) with the cpu, memory and freezer controllers; skips otherwise.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CgroupsHierarchy } from "../../src/agent/containerizer/cgroups/hierarchy.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, getJson, stopAll, waitFor } from "../harness/processes.js";
import {
  executeTask,
  isolationSkipReason,
  limitedResourcesOf,
  processesWithMarker,
  removeRootCgroups,
  sandboxOf,
  scalar,
} from "./containerizer-helpers.js";

const skip = isolationSkipReason(["cpu", "cpuacct", "memory", "freezer"]);
const CGROUPS_ROOT = `mesos-test-${process.pid}`;
let master: DaemonHandle;
let agent: DaemonHandle;
let cgroups: CgroupsHierarchy;

before(async () => {
  if (skip !== undefined) return;
  cgroups = CgroupsHierarchy.detect("/sys/fs/cgroup", CGROUPS_ROOT) as CgroupsHierarchy;
  ({ master, agent } = await startOneAgentCluster({
    isolation: "cgroups/cpu,cgroups/mem,namespaces/pid,filesystem/linux",
    launcher: "linux",
    cgroups_root: CGROUPS_ROOT,
    cgroups_enable_cfs: true,
    executor_shutdown_grace_period: "1secs",
  }));
});

after(async () => {
  await stopAll();
  if (skip === undefined) removeRootCgroups(cgroups);
});

/** Container ids that have a cgroup under our root for `subsystem`. */
function containerCgroups(subsystem: "cpuacct" | "memory" | "freezer" | "cpu"): string[] {
  try {
    return readdirSync(cgroups.rootPath(subsystem), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

test("cgroups/mem: a mem:64 task allocating 200 MB fails with REASON_CONTAINER_LIMITATION_MEMORY", {
  skip,
}, async () => {
  // The hog fills its memory from user space. (`dd bs=200M` was flaky: the
  // kernel fills dd's buffer inside read(), and with the container's OOM
  // killer disabled a charge over the limit from kernel context is refused
  // instead of waiting, so dd got a short read, exited 0 and the task slept on.)
  const run = await executeTask(master, {
    name: "hog",
    resources: [scalar("cpus", 0.2), scalar("mem", 64)],
    command: `${process.execPath} -e "Buffer.alloc(200 * 1024 * 1024, 1); setTimeout(() => {}, 60000)"`,
  });
  assert.equal(run.finalState, "TASK_FAILED", run.stdout);
  assert.equal(run.reason, "REASON_CONTAINER_LIMITATION_MEMORY", run.stdout);
  assert.match(run.message ?? "", /Memory limit exceeded/);
  // The status names the memory in use at the limit, as Mesos' TaskStatus.limitation does.
  const limited = await limitedResourcesOf(master, "hog");
  assert.equal(limited?.[0]?.name, "mem");
  assert.ok((limited?.[0]?.scalar?.value ?? 0) > 0, JSON.stringify(limited));
  await waitFor(
    "the container's cgroups to be removed",
    () => containerCgroups("memory").length === 0 && containerCgroups("freezer").length === 0,
  );
});

test("cgroups/mem: a mem:64 task allocating 20 MB finishes", { skip }, async () => {
  const run = await executeTask(master, {
    name: "small",
    resources: [scalar("cpus", 0.2), scalar("mem", 64)],
    command: "dd if=/dev/zero of=/dev/null bs=20M count=1",
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
});

test("cgroups/cpu with CFS: a busy loop with cpus:0.5 is held to about half a core, and the statistics show it", {
  skip,
}, async () => {
  const earlier = new Set(containerCgroups("cpuacct"));
  const running = executeTask(master, {
    name: "busy",
    resources: [scalar("cpus", 0.5), scalar("mem", 64)],
    // Busy until the test creates `stop` in the sandbox (`[` is a shell builtin: no forks).
    command: "while [ ! -e stop ]; do :; done",
  });
  // Whatever happens, stop the busy loop (a failure must not leave it running).
  try {
    const containerId = await waitFor("the busy task's cpuacct cgroup", () =>
      containerCgroups("cpuacct").find((id) => !earlier.has(id)),
    );
    const cpuNs = () => {
      const dir = cgroups.path("cpuacct", containerId);
      if (cgroups.version === 1) return Number(readFileSync(join(dir, "cpuacct.usage"), "utf8"));
      const line = readFileSync(join(dir, "cpu.stat"), "utf8").match(/^usage_usec (\d+)/m);
      return Number(line?.[1]) * 1000;
    };
    if (cgroups.version === 1) {
      // The limits are written right after the cgroup is created.
      const cpu = cgroups.path("cpu", containerId);
      const read = (file: string) => readFileSync(join(cpu, file), "utf8").trim();
      await waitFor("the CFS quota of 0.6 cpus", () => read("cpu.cfs_quota_us") === "60000");
      assert.equal(read("cpu.shares"), "614");
    }
    // Skip the start-up of the executor, then measure over ~2 s.
    await new Promise((r) => setTimeout(r, 1500));
    const u0 = cpuNs();
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, 2000));
    const u1 = cpuNs();
    const t1 = process.hrtime.bigint();
    const share = (u1 - u0) / Number(t1 - t0);
    // The quota is 0.6 cpus (0.5 for the task, 0.1 for its executor).
    assert.ok(share < 0.8, `the container used ${share.toFixed(2)} cores, more than its quota`);
    assert.ok(share > 0.1, `the container used only ${share.toFixed(2)} cores`);

    type Entry = { executor_id: string; statistics: Record<string, number> };
    let last: unknown;
    const stats = await waitFor("CFS periods in /monitor/statistics", async () => {
      const all = await getJson<Entry[]>(`${agent.url}/monitor/statistics`);
      last = all;
      const s = all?.find((e) => e.executor_id === "busy")?.statistics;
      return s !== undefined && (s.cpus_nr_periods ?? 0) > 0 ? s : undefined;
    }).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}: ${JSON.stringify(last)}`);
    });
    assert.ok((stats.cpus_user_time_secs ?? 0) + (stats.cpus_system_time_secs ?? 0) > 0.1);
    // Throttling shows only when the host leaves the task more than its quota.
    if (share > 0.5) assert.ok((stats.cpus_nr_throttled ?? 0) > 0, JSON.stringify(stats));
    assert.equal(stats.cpus_limit, 0.6);
    assert.ok((stats.mem_limit_bytes ?? 0) > 64 * 1024 * 1024, JSON.stringify(stats));
    assert.ok((stats.mem_rss_bytes ?? 0) > 0, JSON.stringify(stats));
    assert.ok((stats.processes ?? 0) >= 2, JSON.stringify(stats));
  } finally {
    writeFileSync(join(await sandboxOf(agent, "busy"), "stop"), "");
  }
  const run = await running;
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
});

test("namespaces/pid: the task sees only its container's processes, with the executor as pid 1", {
  skip,
}, async () => {
  const run = await executeTask(master, {
    name: "ps",
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: "ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' '",
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  const stdout = readFileSync(join(await sandboxOf(agent, "ps"), "stdout"), "utf8");
  const pids = (stdout.split("\n").find((l) => /^\d+( \d+)* ?$/.test(l)) ?? "")
    .trim()
    .split(" ")
    .map(Number);
  assert.ok(pids.includes(1), stdout);
  // pid 1 (the executor), the shell, ls, grep, tr: a handful, not the host's hundreds.
  assert.ok(pids.length <= 8, `the task saw ${pids.length} processes: ${stdout}`);
});

test("namespaces/pid: killing a task leaves no process behind and its cgroups are removed", {
  skip,
}, async () => {
  const marker = `${process.pid}${Date.now() % 100000}`;
  const run = await executeTask(master, {
    name: "forker",
    resources: [scalar("cpus", 0.1), scalar("mem", 64)],
    command: `sleep 1${marker} & (setsid sleep 2${marker} &) ; sleep 3${marker}`,
    killAfter: "2secs",
  });
  assert.equal(run.finalState, "TASK_KILLED", run.stdout);
  await waitFor("the container's cgroups to be removed", () =>
    ["memory", "cpu", "cpuacct", "freezer"].every(
      (s) => containerCgroups(s as "memory").length === 0,
    ),
  );
  await waitFor(
    "no process of the task to be left",
    () => processesWithMarker(marker).length === 0,
    {
      timeoutMs: 30_000,
    },
  );
  assert.ok(!existsSync(join(cgroups.rootPath("freezer"), "forker")));
});
