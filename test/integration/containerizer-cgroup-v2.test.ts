/**
 * cgroup v2 for real, as far as this machine allows. The first test uses the
 * unified mount itself (no controller needed): a container cgroup with a
 * nested cgroup below it, processes in both, killed through `cgroup.kill`
 * (or freezing, on kernels before 5.14) and removed. The second needs the memory controller in the unified tree
 * (a v2-only host); where memory is bound to v1 (hybrid hosts such as this
 * one, whose unified tree offers only hugetlb) it skips and says so.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  CgroupsHierarchy,
  cgroupPids,
  killCgroup,
  removeCgroup,
} from "../../src/agent/containerizer/cgroups/hierarchy.js";
import { CgroupsMemIsolator } from "../../src/agent/containerizer/isolators/cgroups-mem.js";
import type { ContainerLimitation } from "../../src/agent/containerizer/isolators/isolator.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import { waitFor } from "../harness/processes.js";

/** The cgroup2 mount point, if any. */
function unifiedMount(): string | undefined {
  try {
    for (const line of readFileSync("/proc/mounts", "utf8").split("\n")) {
      const [, mountPoint, type] = line.split(" ");
      if (type === "cgroup2" && mountPoint !== undefined) return mountPoint;
    }
  } catch {
    // not Linux
  }
  return undefined;
}

const mount = unifiedMount();
const controllers =
  mount === undefined
    ? []
    : readFileSync(join(mount, "cgroup.controllers"), "utf8").trim().split(/\s+/).filter(Boolean);
const rootSkip =
  process.getuid?.() !== 0 ? "needs root" : mount === undefined ? "no cgroup2 mount" : undefined;
const memorySkip =
  rootSkip ??
  (controllers.includes("memory")
    ? undefined
    : `the unified hierarchy at ${mount} offers only '${controllers.join(" ")}': memory is bound to cgroup v1 here, so v2 limits cannot be tested for real`);

/** A `sleep` placed in `cgroup` (it writes its own pid into cgroup.procs before exec). */
function sleeperIn(cgroup: string): number {
  const child = spawn(
    "/bin/sh",
    ["-c", `echo $$ > ${join(cgroup, "cgroup.procs")} && exec sleep 60`],
    { stdio: "ignore", detached: true },
  );
  child.unref();
  return child.pid as number;
}

test("cgroup v2 (real unified mount): a container cgroup and its nested cgroup are killed through cgroup.kill and removed", {
  skip: rootSkip,
}, async () => {
  const container = join(mount as string, `mesos-v2-test-${process.pid}`);
  const nested = join(container, "mesos", "child");
  mkdirSync(nested, { recursive: true });
  try {
    sleeperIn(container);
    sleeperIn(nested);
    await waitFor(
      "both sleepers in their cgroups",
      async () =>
        (await cgroupPids(container)).length === 1 && (await cgroupPids(nested)).length === 1,
    );
    assert.equal(await killCgroup(container, 2, 5000), 2);
    assert.deepEqual(await cgroupPids(nested), []);
    await removeCgroup(container);
    assert.equal(existsSync(container), false);
  } finally {
    await killCgroup(container, 2, 2000).catch(() => undefined);
    await removeCgroup(container).catch(() => undefined);
  }
});

test("cgroup v2 (real): cgroups/mem limits a process with memory.max and reports its OOM kill", {
  skip: memorySkip,
}, async () => {
  const root = `mesos-v2-test-${process.pid}`;
  const found = CgroupsHierarchy.detect(mount as string, root);
  assert.ok(!("error" in found) && found.version === 2);
  const limits: ContainerLimitation[] = [];
  const mem = new CgroupsMemIsolator(
    found,
    { logger: silentLogger, limit: (_id, l) => limits.push(l) },
    { limitSwap: true, commandExecutorAllowanceMb: 0 },
  );
  await mem.prepare({
    containerId: "hog",
    directory: "/tmp",
    executor: { executor_id: { value: "hog" } },
    commandExecutor: false,
    resources: { memMb: 64 },
  });
  const cgroup = found.path("memory", "hog");
  const hog = spawn(
    "/bin/sh",
    [
      "-c",
      `echo $$ > ${join(cgroup, "cgroup.procs")} && exec ${process.execPath} -e "Buffer.alloc(200 * 1024 * 1024, 1)"`,
    ],
    { stdio: "ignore" },
  );
  await new Promise((resolve) => hog.on("exit", resolve));
  await waitFor("the OOM kill to be reported", () => limits.length > 0);
  assert.equal(limits[0]?.reason, "REASON_CONTAINER_LIMITATION_MEMORY");
  await mem.cleanup("hog");
  assert.equal(existsSync(cgroup), false);
  writeFileSync(join(mount as string, root, "cgroup.subtree_control"), "");
  await removeCgroup(join(mount as string, root)).catch(() => undefined);
});
