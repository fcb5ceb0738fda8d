/**
 * `cgroups/cpu` without `--cgroups_enable_cfs`, as Mesos'
 * docs/isolators/cgroups-cpu.md describes it: CPU shares only (1024 per
 * cpu, no CFS quota), and /monitor/statistics has the cpuacct times but no
 * CFS throttling numbers (Mesos' cpu subsystem reads cpu.stat only with
 * CFS). A real master and agent (root, linux launcher) and a task started
 * with mesos-execute that runs until the test lets it finish. Also
 * `--cgroups_cpu_enable_pids_and_tids_count` (processes and threads from
 * the cgroup).
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CgroupsHierarchy } from "../../src/agent/containerizer/cgroups/hierarchy.js";
import {
  type DaemonHandle,
  getJson,
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
const CGROUPS_ROOT = `mesos-test-cpu-${process.pid}`;
let master: DaemonHandle;
let agent: DaemonHandle;
let countingMaster: DaemonHandle;
let counting: DaemonHandle;
let cgroups: CgroupsHierarchy;

before(async () => {
  if (skip !== undefined) return;
  cgroups = CgroupsHierarchy.detect("/sys/fs/cgroup", CGROUPS_ROOT) as CgroupsHierarchy;
  master = await startMaster();
  agent = await startAgent({
    master: master.address,
    flags: { isolation: "cgroups/cpu", launcher: "linux", cgroups_root: CGROUPS_ROOT },
  });
  await waitForAgents(master, 1);
  countingMaster = await startMaster();
  counting = await startAgent({
    master: countingMaster.address,
    flags: {
      isolation: "cgroups/cpu",
      launcher: "linux",
      cgroups_root: `${CGROUPS_ROOT}-count`,
      cgroups_cpu_enable_pids_and_tids_count: true,
    },
  });
  await waitForAgents(countingMaster, 1);
});

after(async () => {
  await stopAll();
  if (skip === undefined) {
    removeRootCgroups(cgroups);
    removeRootCgroups(
      CgroupsHierarchy.detect("/sys/fs/cgroup", `${CGROUPS_ROOT}-count`) as CgroupsHierarchy,
    );
  }
});

type Entry = { executor_id: string; statistics: Record<string, number> };

/** Statistics of executor `id` once `ready` accepts them. */
function statisticsOf(on: DaemonHandle, id: string, ready: (s: Record<string, number>) => boolean) {
  return waitFor(`statistics of ${id}`, async () => {
    const all = await getJson<Entry[]>(`${on.url}/monitor/statistics`);
    const s = all?.find((e) => e.executor_id === id)?.statistics;
    return s !== undefined && ready(s) ? s : undefined;
  });
}

/** Runs `command` as task `name` on `on`, calls `check` while it runs, then lets it finish. */
async function whileRunning(
  on: { master: DaemonHandle; agent: DaemonHandle },
  name: string,
  command: string,
  check: () => Promise<void>,
): Promise<void> {
  const running = executeTask(on.master, {
    name,
    resources: [scalar("cpus", 0.5), scalar("mem", 64)],
    command,
  });
  try {
    await check();
  } finally {
    const sandbox = await sandboxOf(on.agent, name).catch(() => undefined);
    if (sandbox !== undefined && existsSync(sandbox)) writeFileSync(join(sandbox, "stop"), "");
  }
  const run = await running;
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
}

test("cgroups/cpu without --cgroups_enable_cfs: shares only, and no CFS statistics", {
  skip,
}, async () => {
  const running = executeTask(master, {
    name: "shares",
    resources: [scalar("cpus", 0.5), scalar("mem", 64)],
    // Runs until the test creates `stop` in its sandbox.
    command: "while [ ! -e stop ]; do sleep 0.1; done",
  });
  try {
    const containerId = await waitFor("the task's cpu cgroup", () => {
      try {
        return readdirSync(cgroups.rootPath("cpu"), { withFileTypes: true }).find((e) =>
          e.isDirectory(),
        )?.name;
      } catch {
        return undefined;
      }
    });
    const dir = cgroups.path("cpu", containerId);
    if (cgroups.version === 1) {
      const read = (file: string) => readFileSync(join(dir, file), "utf8").trim();
      // 0.5 for the task and 0.1 for its command executor.
      await waitFor("the task's cpu.shares", () => read("cpu.shares") === "614");
      assert.equal(read("cpu.cfs_quota_us"), "-1");
    } else {
      const read = (file: string) => readFileSync(join(dir, file), "utf8").trim();
      await waitFor("the task's cpu.weight", () => read("cpu.weight") === "60");
      assert.match(read("cpu.max"), /^max /);
    }
    type Entry = { executor_id: string; statistics: Record<string, number> };
    const stats = await waitFor("the task's statistics", async () => {
      const all = await getJson<Entry[]>(`${agent.url}/monitor/statistics`);
      const s = all?.find((e) => e.executor_id === "shares")?.statistics;
      return s?.cpus_user_time_secs !== undefined ? s : undefined;
    });
    assert.equal(stats.cpus_limit, 0.6);
    if (cgroups.version === 1) {
      for (const key of ["cpus_nr_periods", "cpus_nr_throttled", "cpus_throttled_time_secs"]) {
        assert.equal(stats[key], undefined, `${key} in ${JSON.stringify(stats)}`);
      }
    }
  } finally {
    const sandbox = await sandboxOf(agent, "shares").catch(() => undefined);
    if (sandbox !== undefined && existsSync(sandbox)) writeFileSync(join(sandbox, "stop"), "");
  }
  const run = await running;
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
});

test("cgroups/cpu with --cgroups_cpu_enable_pids_and_tids_count: processes and threads from the cgroup", {
  skip,
}, async () => {
  // Two extra processes besides the executor and the task's shell.
  const command =
    "sleep 60 & a=$!; sleep 60 & b=$!; while [ ! -e stop ]; do sleep 0.1; done; kill $a $b";
  await whileRunning({ master: countingMaster, agent: counting }, "counted", command, async () => {
    const stats = await statisticsOf(counting, "counted", (s) => (s.processes ?? 0) >= 4);
    // The Node executor alone runs several threads.
    assert.ok((stats.threads ?? 0) > (stats.processes ?? 0), JSON.stringify(stats));
  });
  // Without the flag there is no thread count.
  await whileRunning({ master, agent }, "uncounted", command, async () => {
    const stats = await statisticsOf(
      agent,
      "uncounted",
      (s) => s.cpus_user_time_secs !== undefined,
    );
    assert.equal(stats.threads, undefined, JSON.stringify(stats));
  });
});
