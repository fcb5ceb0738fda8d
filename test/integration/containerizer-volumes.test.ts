/**
 * Container volumes, disk quota and rlimits with the Mesos containerizer:
 * an agent with `--isolation=filesystem/linux,posix/disk,posix/rlimits`,
 * `--enforce_container_disk_quota` and a short disk watch interval, and
 * tasks started with mesos-execute. Needs root (mount namespaces); skips
 * otherwise.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, repoRoot, stopAll, tempDir } from "../harness/processes.js";
import { executeTask, limitedResourcesOf, sandboxOf, scalar } from "./containerizer-helpers.js";

const skip =
  process.platform !== "linux" || process.getuid?.() !== 0
    ? "needs root on Linux (mount namespaces)"
    : undefined;
let master: DaemonHandle;
let agent: DaemonHandle;
let creatable: string;

before(async () => {
  if (skip !== undefined) return;
  creatable = tempDir("mesos-host-path-");
  ({ master, agent } = await startOneAgentCluster({
    isolation: "filesystem/linux,posix/disk,posix/rlimits",
    enforce_container_disk_quota: true,
    container_disk_watch_interval: "500ms",
    host_path_volume_force_creation: creatable,
  }));
});

after(stopAll);

const small = [scalar("cpus", 0.1), scalar("mem", 32)];

// A volume at /tmp hides the host's /tmp from the container, and with it an
// executor installed under /tmp (a checkout in /tmp cannot run there).
const underTmp = resolve(repoRoot).startsWith("/tmp/")
  ? `mesos-ts is installed under /tmp (${resolve(repoRoot)}): a private /tmp would hide its executor`
  : undefined;

test("filesystem/linux: a volume from the sandbox gives the task a private /tmp", {
  skip: skip ?? underTmp,
}, async () => {
  const name = `private-${process.pid}-${Date.now()}`;
  const run = await executeTask(master, {
    name: "private-tmp",
    resources: small,
    command: `echo secret > /tmp/${name} && ls -A /tmp`,
    container: {
      type: "MESOS",
      volumes: [{ container_path: "/tmp", host_path: "tmp", mode: "RW" }],
    },
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  const sandbox = await sandboxOf(agent, "private-tmp");
  assert.equal(readFileSync(join(sandbox, "tmp", name), "utf8"), "secret\n");
  assert.equal(existsSync(join("/tmp", name)), false, "the file leaked into the host's /tmp");
  assert.match(readFileSync(join(sandbox, "stdout"), "utf8"), new RegExp(`^${name}$`, "m"));
});

test("filesystem/linux: a read-only host volume can be read but not written", {
  skip,
}, async () => {
  const host = tempDir("mesos-ro-volume-");
  writeFileSync(join(host, "data"), "hello from the host\n");
  const run = await executeTask(master, {
    name: "read-only",
    resources: small,
    command: "cat ro/data && if touch ro/new 2>/dev/null; then echo WRITABLE; exit 1; fi",
    container: { type: "MESOS", volumes: [{ container_path: "ro", host_path: host, mode: "RO" }] },
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  const sandbox = await sandboxOf(agent, "read-only");
  assert.match(readFileSync(join(sandbox, "stdout"), "utf8"), /hello from the host/);
  assert.equal(existsSync(join(host, "new")), false);
});

test("volume/host_path: a missing host path under --host_path_volume_force_creation is created and mounted", {
  skip,
}, async () => {
  const host = join(creatable, "made", "for", "task");
  const run = await executeTask(master, {
    name: "forced-host-path",
    resources: small,
    command: "echo written > data/file",
    container: {
      type: "MESOS",
      volumes: [{ container_path: "data", host_path: host, mode: "RW" }],
    },
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  assert.equal(readFileSync(join(host, "file"), "utf8"), "written\n");
});

test("posix/disk: a task writing past its disk quota fails with REASON_CONTAINER_LIMITATION_DISK", {
  skip,
}, async () => {
  const run = await executeTask(master, {
    name: "filler",
    resources: [...small, scalar("disk", 2)],
    command: "dd if=/dev/zero of=fill bs=1M count=8 2>/dev/null; sleep 60",
  });
  assert.equal(run.finalState, "TASK_FAILED", run.stdout);
  assert.equal(run.reason, "REASON_CONTAINER_LIMITATION_DISK", run.stdout);
  // Mesos' wording and byte units (stout's Bytes: 8200KB, 2MB).
  assert.match(run.message ?? "", /^Disk usage \(\d+(KB|MB)\) exceeds quota \(2MB\)$/);
  // The status names the quota that was exceeded, as Mesos' TaskStatus.limitation does.
  assert.deepEqual(await limitedResourcesOf(master, "filler"), [
    { name: "disk", type: "SCALAR", scalar: { value: 2 } },
  ]);
});

test("posix/rlimits: the task runs with the rlimits of its ContainerInfo", { skip }, async () => {
  const run = await executeTask(master, {
    name: "rlimits",
    resources: small,
    command: "grep -E 'Max (processes|open files)' /proc/self/limits",
    container: {
      type: "MESOS",
      rlimit_info: {
        rlimits: [
          { type: "RLMT_NPROC", soft: 1234, hard: 5678 },
          { type: "RLMT_NOFILE", soft: 123, hard: 456 },
        ],
      },
    },
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  const stdout = readFileSync(join(await sandboxOf(agent, "rlimits"), "stdout"), "utf8");
  assert.match(stdout, /^Max processes +1234 +5678 /m);
  // Node (the command executor) raises its soft open-files limit to the hard one, and the task inherits that.
  assert.match(stdout, /^Max open files +\d+ +456 /m);
});
