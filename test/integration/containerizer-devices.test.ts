/**
 * cgroups/devices and cgroups/blkio with real cgroup v1 hierarchies: two
 * masters, each with one agent, so each task lands on a known agent.
 * Agent "plain" runs `--isolation=cgroups/devices,cgroups/blkio`; agent
 * "allowed" also has `--allowed_devices` naming a block device of this
 * machine. Needs root and the v1 devices, blkio and freezer hierarchies,
 * plus one of /dev/loop0, /dev/sda, /dev/vda, /dev/nvme0n1; skips otherwise.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CgroupsHierarchy } from "../../src/agent/containerizer/cgroups/hierarchy.js";
import {
  type DaemonHandle,
  freePort,
  getJson,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
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

const CGROUPS_ROOT = `mesos-test-devices-${process.pid}`;
const BLOCK_DEVICE = ["/dev/loop0", "/dev/sda", "/dev/vda", "/dev/nvme0n1"].find((p) => {
  try {
    return statSync(p).isBlockDevice();
  } catch {
    return false;
  }
});

function skipReason(): string | undefined {
  const basic = isolationSkipReason(["devices", "blkio", "freezer"]);
  if (basic !== undefined) return `${basic} (cgroup v1 devices/blkio hierarchies)`;
  const found = CgroupsHierarchy.detect("/sys/fs/cgroup", CGROUPS_ROOT);
  if ("error" in found || found.version !== 1) return "needs cgroup v1 devices/blkio hierarchies";
  if (BLOCK_DEVICE === undefined) return "needs a block device (/dev/loop0, sda, vda or nvme0n1)";
  return undefined;
}

const skip = skipReason();
let cgroups: CgroupsHierarchy;
let plainMaster: DaemonHandle;
let plain: DaemonHandle;
let allowedMaster: DaemonHandle;
let allowed: DaemonHandle;

const agentFlags = {
  isolation: "cgroups/devices,cgroups/blkio",
  launcher: "linux",
  cgroups_root: CGROUPS_ROOT,
  executor_shutdown_grace_period: "1secs",
};

before(async () => {
  if (skip !== undefined) return;
  cgroups = CgroupsHierarchy.detect("/sys/fs/cgroup", CGROUPS_ROOT) as CgroupsHierarchy;
  [plainMaster, allowedMaster] = await Promise.all([startMaster(), startMaster()]);
  const whitelist = {
    allowed_devices: [{ device: { path: BLOCK_DEVICE }, access: { read: true } }],
  };
  [plain, allowed] = await Promise.all([
    startAgent({ master: plainMaster.address, flags: agentFlags }),
    startAgent({
      master: allowedMaster.address,
      flags: { ...agentFlags, allowed_devices: JSON.stringify(whitelist) },
    }),
  ]);
  await Promise.all([waitForAgents(plainMaster, 1), waitForAgents(allowedMaster, 1)]);
});

after(async () => {
  await stopAll();
  if (skip !== undefined) return;
  removeRootCgroups(cgroups);
  for (const s of ["devices", "blkio"] as const) {
    try {
      rmdirSync(cgroups.rootPath(s));
    } catch {
      // Not created, or not empty.
    }
  }
});

/** Container ids with a cgroup under our root for `subsystem`. */
function containerCgroups(subsystem: "devices" | "blkio"): string[] {
  try {
    return readdirSync(cgroups.rootPath(subsystem), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

/** Writes to /dev/null, then reads one byte of the block device. */
const readDevice = () => `echo x > /dev/null || exit 3; head -c1 ${BLOCK_DEVICE} > /dev/null`;

test("cgroups/devices: a task can write /dev/null but may not open a block device", {
  skip,
}, async () => {
  const run = await executeTask(plainMaster, {
    name: "denied",
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: readDevice(),
  });
  assert.equal(run.finalState, "TASK_FAILED", run.stdout);
  const stderr = readFileSync(join(await sandboxOf(plain, "denied"), "stderr"), "utf8");
  assert.match(stderr, /Operation not permitted/);
  await waitFor("the container's devices cgroup to be removed", () =>
    containerCgroups("devices").length === 0 ? true : undefined,
  );
});

test("cgroups/devices: with --allowed_devices naming the block device, the task reads it", {
  skip,
}, async () => {
  const run = await executeTask(allowedMaster, {
    name: "allowed",
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: readDevice(),
  });
  const stderr = readFileSync(join(await sandboxOf(allowed, "allowed"), "stderr"), "utf8");
  assert.equal(run.finalState, "TASK_FINISHED", `${run.stdout}\n${stderr}`);
});

test("cgroups/blkio: a running task's blkio_statistics appear in /monitor/statistics", {
  skip,
}, async () => {
  const running = executeTask(allowedMaster, {
    name: "io",
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: "while [ ! -e stop ]; do sleep 0.2; done",
  });
  try {
    type Entry = { executor_id: string; statistics: { blkio_statistics?: unknown } };
    let last: unknown;
    const blkio = await waitFor("blkio_statistics in /monitor/statistics", async () => {
      const all = await getJson<Entry[]>(`${allowed.url}/monitor/statistics`);
      last = all;
      return all?.find((e) => e.executor_id === "io")?.statistics.blkio_statistics;
    }).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}: ${JSON.stringify(last)}`);
    });
    const throttling = (blkio as { throttling?: { device?: unknown }[] }).throttling;
    assert.ok(Array.isArray(throttling), JSON.stringify(blkio));
    // The last entry is the total over all devices (no device numbers).
    assert.equal(throttling.at(-1)?.device, undefined, JSON.stringify(blkio));
    assert.equal(containerCgroups("blkio").length, 1);
  } finally {
    writeFileSync(join(await sandboxOf(allowed, "io"), "stop"), "");
  }
  const run = await running;
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
});

test("cgroups/devices: an --allowed_devices path that does not exist stops the agent at start-up", {
  skip,
}, async () => {
  const whitelist = {
    allowed_devices: [{ device: { path: "/dev/no-such-device" }, access: { read: true } }],
  };
  const run = await runBinary(
    "mesos-agent",
    [
      `--master=${plainMaster.address}`,
      `--work_dir=${tempDir("devices-bad-")}`,
      `--port=${await freePort()}`,
      "--isolation=cgroups/devices",
      "--launcher=linux",
      `--cgroups_root=${CGROUPS_ROOT}`,
      `--allowed_devices=${JSON.stringify(whitelist)}`,
    ],
    { timeoutMs: 30_000 },
  );
  assert.notEqual(run.code, 0);
  assert.match(run.stdout + run.stderr, /Cannot allow device '\/dev\/no-such-device': ENOENT/);
});

test("cgroups/devices: the default executor's nested containers get the same device list", {
  skip,
}, async () => {
  const task = (id: string, command: string, share?: boolean) => ({
    name: id,
    task_id: { value: id },
    agent_id: { value: "" },
    resources: [scalar("cpus", 0.1), scalar("mem", 32)],
    command: { value: command },
    ...(share === undefined
      ? {}
      : { container: { type: "MESOS", linux_info: { share_cgroups: share } } }),
  });
  const group = (tasks: object[]) =>
    runBinary(
      "mesos-execute",
      [`--master=${plainMaster.address}`, `--task_group=${JSON.stringify({ tasks })}`],
      { timeoutMs: 45_000 },
    );
  // One group each: Mesos wants one share_cgroups value per group and executor.
  for (const [id, share] of [
    ["null-shared", undefined],
    ["null-own", false],
  ] as const) {
    const fine = await group([task(id, "echo x > /dev/null", share)]);
    assert.match(
      fine.stdout,
      new RegExp(`status update TASK_FINISHED for task '${id}'`),
      fine.stdout,
    );
  }
  const denied = await group([task("nested-dev", readDevice(), false)]);
  assert.match(denied.stdout, /status update TASK_FAILED for task 'nested-dev'/, denied.stdout);
  // Its nested sandbox (.../containers/<id>/stderr) says why.
  const stderrs = readdirSync(plain.workDir, { recursive: true, encoding: "utf8" }).filter((f) =>
    /containers\/[^/]+\/stderr$/.test(f),
  );
  const texts = stderrs.map((f) => readFileSync(join(plain.workDir, f), "utf8"));
  assert.ok(
    texts.some((t) => t.includes("Operation not permitted")),
    JSON.stringify(stderrs),
  );
  await waitFor("the task groups' devices cgroups to be removed", () =>
    containerCgroups("devices").length === 0 ? true : undefined,
  );
});

test("cgroups/all: the agent loads every cgroup isolator whose v1 hierarchy is mounted", {
  skip,
}, async () => {
  const agent = await startAgent({
    master: plainMaster.address,
    flags: { ...agentFlags, isolation: "cgroups/all,filesystem/posix" },
  });
  try {
    const line = await waitFor(
      "the isolation line in the agent's log",
      () => /Isolation: (\S+);/.exec(agent.logs())?.[1],
    );
    const expected = [
      ["cpu", "cgroups/cpu"],
      ["memory", "cgroups/mem"],
      ["pids", "cgroups/pids"],
      ["devices", "cgroups/devices"],
      ["blkio", "cgroups/blkio"],
    ]
      .filter(([subsystem]) => cgroups.has(subsystem as "cpu"))
      .map(([, name]) => name);
    assert.deepEqual(line.split(","), expected);
  } finally {
    await agent.stop();
  }
});
