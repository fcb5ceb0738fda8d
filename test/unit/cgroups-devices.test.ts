/**
 * The pure parts of cgroups/devices, cgroups/blkio and cgroups/all: device
 * whitelist entries and their text, the whitelist built from
 * --allowed_devices, blkio statistics parsing, the expansion of cgroups/all,
 * and the start-up errors of createIsolators (against fake cgroup trees).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { CgroupsHierarchy } from "../../src/agent/containerizer/cgroups/hierarchy.js";
import {
  blkioStatistics,
  parseBlkioValues,
} from "../../src/agent/containerizer/isolators/cgroups-blkio.js";
import {
  buildDeviceWhitelist,
  DEFAULT_DEVICE_WHITELIST,
  type DeviceStat,
  formatDeviceEntry,
  parseAllowedDevices,
  parseDeviceEntry,
} from "../../src/agent/containerizer/isolators/cgroups-devices.js";
import {
  createIsolators,
  expandCgroupsAll,
  type IsolationOptions,
} from "../../src/agent/containerizer/isolators/index.js";
import { ancestorIds } from "../../src/agent/containerizer/isolators/nested-cgroup.js";
import { loadAgentFlags } from "../../src/agent/flags.js";
import { silentLogger } from "../../src/common/observability/logger.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("devices: an entry's text is type, major:minor with * for any, and its access", () => {
  assert.equal(
    formatDeviceEntry({ type: "c", major: 1, minor: 3, read: true, write: true, mknod: true }),
    "c 1:3 rwm",
  );
  assert.equal(formatDeviceEntry({ type: "b", read: false, write: false, mknod: true }), "b *:* m");
  assert.equal(
    formatDeviceEntry({ type: "c", major: 136, read: true, write: false, mknod: false }),
    "c 136:* r",
  );
  assert.equal(formatDeviceEntry({ type: "a", read: true, write: true, mknod: true }), "a");
});

test("devices: entries parse back to the same text, and malformed ones are refused", () => {
  for (const text of DEFAULT_DEVICE_WHITELIST) {
    const entry = parseDeviceEntry(text);
    assert.ok(entry !== undefined, text);
    assert.equal(formatDeviceEntry(entry), text);
  }
  for (const bad of ["x 1:3 rwm", "c 1 rwm", "c 1:3 rwx", "c 1:3", "c a:b rw", ""]) {
    assert.equal(parseDeviceEntry(bad), undefined, bad);
  }
});

test("devices: the default whitelist has null, zero, full, random, urandom, tty, ptmx and pts", () => {
  const built = buildDeviceWhitelist(undefined);
  assert.ok(built.ok);
  const texts = built.value.map(formatDeviceEntry);
  for (const t of ["c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm"]) {
    assert.ok(texts.includes(t), t);
  }
  for (const t of ["c 5:0 rwm", "c 5:2 rwm", "c 136:* rwm", "c *:* m", "b *:* m"]) {
    assert.ok(texts.includes(t), t);
  }
  assert.equal(texts.length, 14);
});

const fakeStat =
  (table: Record<string, DeviceStat>) =>
  (path: string): DeviceStat => {
    const s = table[path];
    if (s === undefined) {
      throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
    }
    return s;
  };

test("devices: --allowed_devices adds each device with its type, numbers and access", () => {
  const built = buildDeviceWhitelist(
    {
      allowed_devices: [
        { device: { path: "/dev/fuse" }, access: { read: true, write: true, mknod: true } },
        { device: { path: "/dev/vda" }, access: { read: true } },
      ],
    },
    fakeStat({
      "/dev/fuse": { kind: "character", major: 10, minor: 229 },
      "/dev/vda": { kind: "block", major: 254, minor: 0 },
    }),
  );
  assert.ok(built.ok);
  assert.deepEqual(built.value.slice(-2).map(formatDeviceEntry), ["c 10:229 rwm", "b 254:0 r"]);
});

test("devices: a missing path, a non-device and a device without access are one-line errors", () => {
  const stat = fakeStat({ "/etc/hostname": { kind: "other", major: 0, minor: 0 } });
  const missing = buildDeviceWhitelist(
    { allowed_devices: [{ device: { path: "/dev/nope" }, access: { read: true } }] },
    stat,
  );
  assert.deepEqual(missing, { ok: false, error: "Cannot allow device '/dev/nope': ENOENT" });
  const file = buildDeviceWhitelist(
    { allowed_devices: [{ device: { path: "/etc/hostname" }, access: { read: true } }] },
    stat,
  );
  assert.ok(!file.ok);
  assert.match(file.error, /not a block or character device/);
  const none = parseAllowedDevices({
    allowed_devices: [{ device: { path: "/dev/fuse" }, access: { read: false } }],
  });
  assert.ok(!none.ok);
  assert.match(none.error, /no access/);
});

test("devices: the --allowed_devices JSON shape is checked", () => {
  const cases: [unknown, RegExp][] = [
    [[], /JSON object/],
    [{ allowed_devices: {} }, /must be an array/],
    [{ allowed_devices: [{ device: { path: "/dev/fuse" } }] }, /'access' object/],
    [{ allowed_devices: [{ device: {}, access: { read: true } }] }, /no device path/],
    [{ allowed_devices: [{ device: { path: "/x" }, access: { read: "yes" } }] }, /true or false/],
  ];
  for (const [json, error] of cases) {
    const r = parseAllowedDevices(json);
    assert.ok(!r.ok, JSON.stringify(json));
    assert.match(r.error, error);
    assert.ok(!r.error.includes("\n"));
  }
  assert.deepEqual(parseAllowedDevices({}), { ok: true, value: [] });
});

const THROTTLE_BYTES = [
  "254:0 Read 81920",
  "254:0 Write 4096",
  "254:0 Sync 4096",
  "254:0 Async 81920",
  "254:0 Discard 0",
  "254:0 Total 86016",
  "7:0 Read 512",
  "7:0 Total 512",
  "Total 86528",
].join("\n");

test("blkio: lines with device and operation, device only, total and lone numbers parse", () => {
  assert.deepEqual(parseBlkioValues("8:16 Read 42\n8:0 17\nTotal 59\n12\nnot a line\n"), [
    { device: { major: 8, minor: 16 }, op: "READ", value: 42 },
    { device: { major: 8, minor: 0 }, value: 17 },
    { op: "TOTAL", value: 59 },
    { value: 12 },
  ]);
  assert.equal(parseBlkioValues(THROTTLE_BYTES).length, 9);
});

test("blkio: throttling statistics have one entry per device, then the total", () => {
  const stats = blkioStatistics({
    throttleIoServiceBytes: THROTTLE_BYTES,
    throttleIoServiced: "254:0 Read 20\n254:0 Write 1\n254:0 Total 21\nTotal 21",
  });
  assert.equal(stats.cfq, undefined);
  const [vda, loop, total] = stats.throttling ?? [];
  assert.deepEqual(vda?.device, { major_number: 254, minor_number: 0 });
  assert.deepEqual(vda?.io_service_bytes?.[0], { op: "READ", value: 81920 });
  assert.equal(vda?.io_service_bytes?.length, 6);
  assert.deepEqual(vda?.io_serviced?.at(-1), { op: "TOTAL", value: 21 });
  assert.deepEqual(loop?.device, { major_number: 7, minor_number: 0 });
  assert.equal(loop?.io_serviced, undefined);
  assert.equal(total?.device, undefined);
  assert.deepEqual(total?.io_service_bytes, [{ op: "TOTAL", value: 86528 }]);
  assert.deepEqual(total?.io_serviced, [{ op: "TOTAL", value: 21 }]);
});

test("blkio: CFQ files fill cfq and cfq_recursive when the kernel has them", () => {
  const stats = blkioStatistics({
    throttleIoServiced: "Total 0",
    cfq: {
      time: "8:0 1500",
      sectors: "8:0 64",
      io_merged: "8:0 Read 2\n8:0 Total 2\nTotal 2",
      sectors_recursive: "8:0 128",
    },
  });
  const [sda, total] = stats.cfq ?? [];
  assert.equal(sda?.time, 1500);
  assert.equal(sda?.sectors, 64);
  assert.deepEqual(sda?.io_merged, [
    { op: "READ", value: 2 },
    { op: "TOTAL", value: 2 },
  ]);
  assert.deepEqual(total?.io_merged, [{ op: "TOTAL", value: 2 }]);
  assert.equal(stats.cfq_recursive?.[0]?.sectors, 128);
});

/** A fake v1 tree: one directory per subsystem, and /proc/mounts text for them. */
function fakeV1(subsystems: string[]): CgroupsHierarchy {
  const base = mkdtempSync(join(tmpdir(), "cgroups-v1-"));
  dirs.push(base);
  const mounts = subsystems
    .map((s) => {
      mkdirSync(join(base, s));
      return `cgroup ${base}/${s} cgroup rw,relatime,${s} 0 0`;
    })
    .join("\n");
  return CgroupsHierarchy.detect(base, "mesos", mounts) as CgroupsHierarchy;
}

function fakeV2(controllers: string): CgroupsHierarchy {
  const base = mkdtempSync(join(tmpdir(), "cgroups-v2-"));
  dirs.push(base);
  writeFileSync(join(base, "cgroup.controllers"), controllers);
  return CgroupsHierarchy.detect(
    base,
    "mesos",
    `cgroup2 ${base} cgroup2 rw 0 0`,
  ) as CgroupsHierarchy;
}

test("cgroups/all: expands in place to the isolators whose controllers are mounted", () => {
  const c = fakeV1(["cpu", "cpuacct", "memory", "devices", "freezer"]);
  const r = expandCgroupsAll(["posix/disk", "cgroups/all", "cgroups/mem", "namespaces/pid"], c);
  assert.deepEqual(r, {
    ok: true,
    names: ["posix/disk", "cgroups/cpu", "cgroups/mem", "cgroups/devices", "namespaces/pid"],
    loaded: ["cgroups/cpu", "cgroups/mem", "cgroups/devices"],
  });
  const all = expandCgroupsAll(["cgroups/all"], fakeV1(["cpu", "memory", "pids", "blkio"]));
  assert.ok(all.ok);
  assert.deepEqual(all.names, ["cgroups/cpu", "cgroups/mem", "cgroups/pids", "cgroups/blkio"]);
  assert.deepEqual(expandCgroupsAll(["cgroups/cpu"], c), {
    ok: true,
    names: ["cgroups/cpu"],
    loaded: [],
  });
});

test("cgroups/all: on cgroup v2 it leaves out devices and blkio", () => {
  const r = expandCgroupsAll(["cgroups/all"], fakeV2("cpu memory pids io"));
  assert.ok(r.ok);
  assert.deepEqual(r.names, ["cgroups/cpu", "cgroups/mem", "cgroups/pids"]);
});

function options(cgroups: CgroupsHierarchy, names: string[], extra = {}): IsolationOptions {
  return {
    names,
    cgroups,
    root: true,
    enableCfs: false,
    limitSwap: false,
    diskWatchIntervalMs: 1000,
    enforceDiskQuota: false,
    du: async () => ({ code: 0, output: "" }),
    commandExecutorAllowanceMb: 64,
    ...extra,
  };
}

const context = { logger: silentLogger, limit: () => {} };

test("isolation: cgroups/devices and cgroups/blkio are built on v1 and refused on v2", () => {
  const v1 = createIsolators(
    options(fakeV1(["cpu", "devices", "blkio"]), ["cgroups/devices", "cgroups/blkio"]),
    context,
  );
  assert.ok(v1.ok);
  assert.deepEqual(
    v1.isolators.map((i) => i.name),
    ["cgroups/devices", "cgroups/blkio"],
  );
  const v2 = createIsolators(options(fakeV2("cpu memory"), ["cgroups/devices"]), context);
  assert.ok(!v2.ok);
  assert.match(v2.error, /needs the cgroup v1 devices hierarchy.*eBPF/);
  const missing = createIsolators(options(fakeV1(["cpu"]), ["cgroups/blkio"]), context);
  assert.deepEqual(missing, { ok: false, error: "The blkio cgroup controller is not available" });
});

test("isolation: a bad --allowed_devices device is a start-up error of cgroups/devices", () => {
  const r = createIsolators(
    options(fakeV1(["cpu", "devices"]), ["cgroups/devices"], {
      allowedDevices: {
        allowed_devices: [{ device: { path: "/nonexistent/dev" }, access: { read: true } }],
      },
    }),
    context,
  );
  assert.deepEqual(r, { ok: false, error: "Cannot allow device '/nonexistent/dev': ENOENT" });
});

test("isolation: cgroups/devices prepares a cgroup the executor joins, and cleanup removes it", async () => {
  const c = fakeV1(["cpu", "devices"]);
  const r = createIsolators(options(c, ["cgroups/all"]), context);
  assert.ok(r.ok);
  const devices = r.isolators.find((i) => i.name === "cgroups/devices");
  assert.ok(devices !== undefined);
  const path = c.path("devices", "c1");
  const prep = await devices.prepare({
    containerId: "c1",
    directory: "/tmp",
    executor: { executor_id: { value: "e" } } as never,
    commandExecutor: true,
    resources: {},
  });
  assert.deepEqual(prep?.cgroupProcs, [`${path}/cgroup.procs`]);
  // Plain files stand in for the control files: the last write is the last entry.
  assert.equal(readFileSync(join(path, "devices.deny"), "utf8"), "a");
  assert.equal(readFileSync(join(path, "devices.allow"), "utf8"), "c 1:8 rwm");
  rmSync(join(path, "devices.deny"));
  rmSync(join(path, "devices.allow"));
  await devices.cleanup("c1");
  assert.equal(existsSync(path), false);
});

test("flags: --allowed_devices is loaded as a DeviceWhitelist and a wrong shape is refused", () => {
  const base = ["--master=127.0.0.1:5050", "--work_dir=/tmp/x"];
  const good = JSON.stringify({
    allowed_devices: [{ device: { path: "/dev/fuse" }, access: { read: true } }],
  });
  const loaded = loadAgentFlags({ argv: [...base, `--allowed_devices=${good}`] });
  assert.ok(loaded.ok);
  assert.deepEqual(loaded.flags.values.allowed_devices, JSON.parse(good));
  const bad = loadAgentFlags({ argv: [...base, '--allowed_devices={"allowed_devices":{}}'] });
  assert.ok(!bad.ok);
  assert.match(bad.error, /'allowed_devices' must be an array/);
});

test("nested containers: ancestors of a nested id, nearest first", () => {
  assert.deepEqual(ancestorIds("a/mesos/b/mesos/c"), ["a/mesos/b", "a"]);
  assert.deepEqual(ancestorIds("a"), []);
});

test("nested containers: sharing ones join the parent's devices cgroup, others get their own", async () => {
  const c = fakeV1(["cpu", "devices", "blkio"]);
  const r = createIsolators(options(c, ["cgroups/devices", "cgroups/blkio"]), context);
  assert.ok(r.ok);
  const config = (containerId: string, share?: boolean) => ({
    containerId,
    directory: "/tmp",
    executor: {
      executor_id: { value: "e" },
      ...(share === undefined ? {} : { container: { linux_info: { share_cgroups: share } } }),
    } as never,
    commandExecutor: false,
    resources: {},
  });
  const [devices, blkio] = r.isolators;
  assert.ok(devices !== undefined && blkio !== undefined);
  await devices.prepare(config("p"));
  const shared = await devices.prepare(config("p/mesos/x"));
  assert.deepEqual(shared?.cgroupProcs, [`${c.path("devices", "p")}/cgroup.procs`]);
  assert.equal(existsSync(c.path("devices", "p/mesos/x")), false);
  const own = await devices.prepare(config("p/mesos/y", false));
  assert.deepEqual(own?.cgroupProcs, [`${c.path("devices", "p/mesos/y")}/cgroup.procs`]);
  assert.equal(readFileSync(join(c.path("devices", "p/mesos/y"), "devices.deny"), "utf8"), "a");
  await blkio.prepare(config("p"));
  const io = await blkio.prepare(config("p/mesos/x", true));
  assert.deepEqual(io?.cgroupProcs, [`${c.path("blkio", "p")}/cgroup.procs`]);
  // Cleaning up a sharing nested container leaves its parent's cgroup alone.
  await blkio.cleanup("p/mesos/x");
  assert.equal(existsSync(c.path("blkio", "p")), true);
});
