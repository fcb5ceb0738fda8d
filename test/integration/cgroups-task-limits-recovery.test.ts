/**
 * `TaskInfo.limits` across an agent restart: a checkpointing framework's
 * command task with a cpus limit runs under `cgroups/cpu,cgroups/mem`; the agent is
 * killed with SIGKILL and restarted on the same work dir, this time with
 * `--cgroups_enable_cfs`. The recovered container's limit is computed again
 * from its task: its quota stays at the limit (with the limit lost, CFS
 * would cap it at its request) and /monitor/statistics reports the limit.
 * Needs root and cgroups; skips otherwise.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { after, test } from "node:test";
import { CgroupsHierarchy } from "../../src/agent/containerizer/cgroups/hierarchy.js";
import { executorsCheckpointed } from "../harness/checkpoints.js";
import {
  binPath,
  type DaemonHandle,
  freePort,
  getJson,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
} from "../harness/processes.js";
import {
  isolationSkipReason,
  removeRootCgroups,
  sandboxOf,
  scalar,
} from "./containerizer-helpers.js";

const skip = isolationSkipReason(["cpu", "cpuacct", "memory", "freezer"]);
const CGROUPS_ROOT = `mesos-test-limits-rec-${process.pid}`;
let scheduler: ChildProcess | undefined;

after(async () => {
  scheduler?.kill("SIGKILL");
  await stopAll();
  const cgroups = CgroupsHierarchy.detect("/sys/fs/cgroup", CGROUPS_ROOT);
  if (skip === undefined && !("error" in cgroups)) removeRootCgroups(cgroups);
});

async function statisticsOf(agent: DaemonHandle, executorId: string) {
  const all = await getJson<{ executor_id: string; statistics: Record<string, number> }[]>(
    `${agent.url}/monitor/statistics`,
  ).catch(() => undefined);
  return all?.find((e) => e.executor_id === executorId)?.statistics;
}

test("limits: a recovered container keeps its cpus limit as its quota", { skip }, async () => {
  const cgroups = CgroupsHierarchy.detect("/sys/fs/cgroup", CGROUPS_ROOT) as CgroupsHierarchy;
  const master = await startMaster();
  const port = await freePort();
  const workDir = tempDir("agent-limits-recovery-");
  const flags = {
    work_dir: workDir,
    // cgroups/mem: the executor runs in a process of its own, which outlives the agent.
    isolation: "cgroups/cpu,cgroups/mem",
    launcher: "linux",
    cgroups_root: CGROUPS_ROOT,
    registration_backoff_factor: "10ms",
    executor_reregistration_timeout: "5secs",
    executor_shutdown_grace_period: "1secs",
  };
  let agent = await startAgent({ master: master.address, port, flags });
  const task = {
    name: "burst",
    task_id: { value: "burst" },
    agent_id: { value: "" },
    resources: [scalar("cpus", 0.5), scalar("mem", 64)],
    limits: { cpus: { value: 2 } },
    command: { value: "sleep 600" },
  };
  scheduler = spawn(
    process.execPath,
    [
      binPath("mesos-execute"),
      `--master=${master.address}`,
      `--task=${JSON.stringify(task)}`,
      "--checkpoint",
    ],
    { stdio: "ignore" },
  );
  const containerId = basename(await sandboxOf(agent, "burst"));
  const quota = () => {
    try {
      return readFileSync(
        join(cgroups.path("cpu", containerId), "cpu.cfs_quota_us"),
        "utf8",
      ).trim();
    } catch {
      return undefined;
    }
  };
  // The task's limit plus the command executor's 0.1 cpus.
  await waitFor("the limit as the quota", () => quota() === "210000");
  // Executor, shell and sleep: the task is running.
  await waitFor("the running task in /monitor/statistics", async () => {
    const s = await statisticsOf(agent, "burst");
    return (s?.processes ?? 0) >= 3 ? s : undefined;
  });

  await executorsCheckpointed(workDir);
  agent.kill("SIGKILL");
  await agent.exited;
  agent = await startAgent({
    master: master.address,
    port,
    flags: { ...flags, cgroups_enable_cfs: true },
  });
  // The statistics show the limit once the recovered container's limits
  // reached its isolators (without them: the allocation's 0.6 cpus).
  const stats = await waitFor("the recovered container's limit in its statistics", async () => {
    const s = await statisticsOf(agent, "burst");
    return s?.cpus_limit !== undefined && Math.abs(s.cpus_limit - 2.1) < 1e-9 ? s : undefined;
  }).catch(async (e: unknown) => {
    throw new Error(
      `${(e as Error).message}: ${JSON.stringify(await statisticsOf(agent, "burst"))} quota ${quota()}\n${agent
        .logs()
        .split("\n")
        .filter((l) => /ecover|xecutor|pdate/.test(l))
        .slice(-40)
        .join("\n")}`,
    );
  });
  assert.ok(Math.abs((stats.cpus_soft_limit ?? 0) - 0.6) < 1e-9, JSON.stringify(stats));
  // Written in the same update: the limit, not CFS' cap at the 0.6 cpus request.
  await waitFor("the limit as the quota after the restart", () => quota() === "210000");
  assert.equal(quota(), "210000");

  // The framework goes away: its executor is shut down, and the cgroups follow.
  scheduler.kill("SIGTERM");
  await waitFor(
    "the recovered container's cgroups to be removed",
    () =>
      !existsSync(cgroups.path("cpu", containerId)) &&
      !existsSync(cgroups.path("freezer", containerId)),
    { timeoutMs: 30_000 },
  );
});
