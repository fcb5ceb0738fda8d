/**
 * Cgroups across an agent restart: a checkpointing framework's task runs
 * under `cgroups/cpu,cgroups/mem`; the agent is killed with SIGKILL and
 * restarted on the same work dir; the recovered container keeps its cgroups
 * and its statistics, and its cgroups are removed once it ends. Needs root
 * and cgroups; skips otherwise.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
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
import { isolationSkipReason, removeRootCgroups } from "./containerizer-helpers.js";

const skip = isolationSkipReason(["cpu", "memory", "freezer"]);
const CGROUPS_ROOT = `mesos-test-${process.pid}`;
let scheduler: ChildProcess | undefined;

after(async () => {
  scheduler?.kill("SIGKILL");
  await stopAll();
  const cgroups = CgroupsHierarchy.detect("/sys/fs/cgroup", CGROUPS_ROOT);
  if (skip === undefined && !("error" in cgroups)) removeRootCgroups(cgroups);
});

type Entry = { executor_id: string; statistics: Record<string, number> };

async function statisticsOf(agent: DaemonHandle, executorId: string) {
  const all = await getJson<Entry[]>(`${agent.url}/monitor/statistics`).catch(() => undefined);
  return all?.find((e) => e.executor_id === executorId)?.statistics;
}

test("cgroups: a recovered container keeps its cgroups and statistics, which are removed when it ends", {
  skip,
}, async () => {
  const cgroups = CgroupsHierarchy.detect("/sys/fs/cgroup", CGROUPS_ROOT) as CgroupsHierarchy;
  const master = await startMaster();
  const port = await freePort();
  const workDir = tempDir("agent-cgroups-recovery-");
  const flags = {
    work_dir: workDir,
    isolation: "cgroups/cpu,cgroups/mem",
    launcher: "linux",
    cgroups_root: CGROUPS_ROOT,
    registration_backoff_factor: "10ms",
    executor_reregistration_timeout: "5secs",
    executor_shutdown_grace_period: "1secs",
  };
  let agent = await startAgent({ master: master.address, port, flags });
  scheduler = spawn(
    process.execPath,
    [
      binPath("mesos-execute"),
      `--master=${master.address}`,
      "--name=long",
      "--command=sleep 600",
      "--resources=cpus:0.1;mem:48",
      "--checkpoint",
    ],
    { stdio: "ignore" },
  );
  // Executor, shell and sleep: the task is running.
  const before = await waitFor("the running task in /monitor/statistics", async () => {
    const s = await statisticsOf(agent, "long");
    return s?.mem_total_bytes !== undefined && (s.processes ?? 0) >= 3 ? s : undefined;
  });
  const [containerId] = await cgroups.containers("memory");
  assert.ok(containerId !== undefined);

  await executorsCheckpointed(workDir);
  agent.kill("SIGKILL");
  await agent.exited;
  agent = await startAgent({ master: master.address, port, flags });
  let last: unknown;
  const afterRestart = await waitFor("statistics of the recovered container", async () => {
    last = await getJson(`${agent.url}/monitor/statistics`).catch(() => undefined);
    const s = await statisticsOf(agent, "long");
    return s?.mem_total_bytes !== undefined ? s : undefined;
  }).catch((e: unknown) => {
    const log = agent
      .logs()
      .split("\n")
      .filter((l) => /ecover|ontainer|cgroup/.test(l));
    throw new Error(`${(e as Error).message}: ${JSON.stringify(last)}\n${log.join("\n")}`);
  });
  assert.equal(afterRestart.mem_limit_bytes, before.mem_limit_bytes);
  assert.ok((afterRestart.processes ?? 0) >= 1, JSON.stringify(afterRestart));
  assert.ok(existsSync(cgroups.path("memory", containerId)));

  // The framework goes away: its executor is shut down, and the cgroups follow.
  scheduler.kill("SIGTERM");
  await waitFor(
    "the recovered container's cgroups to be removed",
    () =>
      !existsSync(cgroups.path("memory", containerId)) &&
      !existsSync(cgroups.path("freezer", containerId)),
    { timeoutMs: 30_000 },
  );
});
