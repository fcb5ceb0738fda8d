/**
 * The `disk/du` isolator as Mesos' docs/isolators/disk-du.md describes it,
 * alone (no other isolation) with a real master and agent: the sandbox's
 * use shows in /monitor/statistics every `--container_disk_watch_interval`,
 * and with `--enforce_container_disk_quota` a task writing past its disk
 * fails with REASON_CONTAINER_LIMITATION_DISK and Mesos' message. The
 * agent's defaults let command executors share host processes; a
 * container this isolator may stop must still end with the limitation, not
 * with the executor's report of a killed command. Needs no root.
 */
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, getJson, stopAll, waitFor } from "../harness/processes.js";
import { executeTask, limitedResourcesOf, sandboxOf, scalar } from "./containerizer-helpers.js";

const skip = process.platform === "win32" ? "needs du" : undefined;
let master: DaemonHandle;
let agent: DaemonHandle;

before(async () => {
  if (skip !== undefined) return;
  ({ master, agent } = await startOneAgentCluster({
    isolation: "disk/du",
    enforce_container_disk_quota: true,
    container_disk_watch_interval: "500ms",
    command_executors_per_process: 16,
  }));
});

after(stopAll);

const small = [scalar("cpus", 0.1), scalar("mem", 64)];

test("disk/du: a task writing past its disk fails with REASON_CONTAINER_LIMITATION_DISK and Mesos' message", {
  skip,
}, async () => {
  const run = await executeTask(master, {
    name: "filler",
    resources: [...small, scalar("disk", 2)],
    command: "dd if=/dev/zero of=fill bs=1M count=6 2>/dev/null; sleep 60",
  });
  assert.equal(run.finalState, "TASK_FAILED", run.stdout);
  assert.equal(run.reason, "REASON_CONTAINER_LIMITATION_DISK", run.stdout);
  assert.match(run.message ?? "", /^Disk usage \(\d+(KB|MB)\) exceeds quota \(2MB\)$/);
  assert.deepEqual(await limitedResourcesOf(master, "filler"), [
    { name: "disk", type: "SCALAR", scalar: { value: 2 } },
  ]);
});

test("disk/du: a task within its disk runs, its use in /monitor/statistics", { skip }, async () => {
  const running = executeTask(master, {
    name: "within",
    resources: [...small, scalar("disk", 64)],
    // Runs until the test creates `stop` in its sandbox.
    command:
      "dd if=/dev/zero of=fill bs=1M count=3 2>/dev/null; while [ ! -e stop ]; do sleep 0.1; done",
  });
  try {
    type Entry = { executor_id: string; statistics: Record<string, number> };
    const stats = await waitFor("the task's disk use", async () => {
      const all = await getJson<Entry[]>(`${agent.url}/monitor/statistics`);
      const s = all?.find((e) => e.executor_id === "within")?.statistics;
      return (s?.disk_used_bytes ?? 0) >= 3 * 1024 * 1024 ? s : undefined;
    });
    assert.equal(stats.disk_limit_bytes, 64 * 1024 * 1024);
  } finally {
    const sandbox = await sandboxOf(agent, "within").catch(() => undefined);
    if (sandbox !== undefined && existsSync(sandbox)) writeFileSync(join(sandbox, "stop"), "");
  }
  const run = await running;
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
});
