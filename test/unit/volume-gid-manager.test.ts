/**
 * The volume gid manager of `--volume_gid_range` on its own: the range's
 * parsing, allocation order, reuse and exhaustion, release by path prefix
 * (whole path components only), the checkpoint and its recovery (after a
 * reboot SANDBOX_PATH allocations go, as do those of missing paths), and
 * the launch shim's supplementary groups. Ownership changes need root.
 */
import assert from "node:assert/strict";
import {
  chmodSync,
  chownSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { ContainerConfig } from "../../src/agent/containerizer/isolators/isolator.js";
import {
  topSandbox,
  VolumeGidIsolator,
} from "../../src/agent/containerizer/isolators/volume-gid.js";
import { shimCommand } from "../../src/agent/containerizer/launch-shim.js";
import {
  parseVolumeGidRange,
  VolumeGidManager,
  volumeGidsPath,
} from "../../src/agent/volume-gid-manager.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import type { ExecutorInfo, Volume } from "../../src/common/protocol/generated/mesos-v1.js";
import { tempDir } from "../harness/processes.js";

const root = process.getuid?.() === 0;

function manager(workDir: string, range = "[40000-40001]") {
  const parsed = parseVolumeGidRange(range);
  assert.ok(parsed.ok);
  return new VolumeGidManager({
    workDir,
    range: parsed.value,
    logger: silentLogger,
    primaryGidOf: async () => 0,
  });
}

test("parseVolumeGidRange: ranges only, in gid bounds, not empty", () => {
  const ok = parseVolumeGidRange("[10-12, 20-20]");
  assert.deepEqual(ok, { ok: true, value: [10, 12, 20, 20] });
  const error = (text: string) => {
    const r = parseVolumeGidRange(text);
    return r.ok ? "" : r.error;
  };
  assert.equal(error("7"), "Invalid volume gid range type SCALAR, expecting RANGES");
  assert.equal(error("{a}"), "Invalid volume gid range type SET, expecting RANGES");
  assert.match(error("[9-3]"), /range 9-3 begins after it ends/);
  assert.match(error("[1-4294967295]"), /larger than the largest gid 4294967294/);
  assert.equal(error("x"), "Failed to parse volume gid range 'x'");
});

describe("VolumeGidManager", { skip: root ? false : "chown needs root" }, () => {
  test("allocates in order, reuses a path's gid, says when the range is used up", async () => {
    const work = tempDir("vgm-alloc-");
    const m = manager(work);
    const [a, b, c] = ["a", "b", "c"].map((n) => join(work, n));
    for (const dir of [a, b, c]) mkdirSync(dir as string, { mode: 0o755 });
    writeFileSync(join(a as string, "f"), "x");
    assert.equal(await m.allocate(a as string, "PERSISTENT"), 40000);
    assert.equal(await m.allocate(a as string, "PERSISTENT"), 40000);
    assert.equal(await m.allocate(b as string, "SANDBOX_PATH"), 40001);
    assert.equal(m.freeCount, 0);
    await assert.rejects(m.allocate(c as string, "PERSISTENT"), /exhausted/);
    const s = statSync(a as string);
    assert.equal(s.gid, 40000);
    assert.equal(s.mode & 0o2020, 0o2020);
    assert.equal(statSync(join(a as string, "f")).gid, 40000);
    // A directory already owned by a gid of the range (another volume's mount) keeps it.
    mkdirSync(join(a as string, "inner"));
    assert.equal(await m.allocate(join(a as string, "inner"), "SANDBOX_PATH"), 40000);
    assert.equal(m.allocations().length, 2);
  });

  test("releases by whole path components and gives SANDBOX_PATH volumes their owner's group back", async () => {
    const work = tempDir("vgm-release-");
    const m = manager(work);
    const sandbox = join(work, "runs", "c1");
    const other = join(work, "runs", "c10");
    mkdirSync(join(sandbox, "v"), { recursive: true });
    mkdirSync(join(other, "v"), { recursive: true });
    await m.allocate(join(sandbox, "v"), "SANDBOX_PATH");
    await m.allocate(join(other, "v"), "SANDBOX_PATH");
    await m.deallocate(sandbox);
    assert.equal(m.freeCount, 1);
    assert.deepEqual(
      m.allocations().map((i) => i.path),
      [join(other, "v")],
    );
    const back = statSync(join(sandbox, "v"));
    assert.equal(back.gid, 0);
    assert.equal(back.mode & 0o2020, 0);
  });

  test("recovery: allocations survive; after a reboot SANDBOX_PATH ones go, and missing paths' always", async () => {
    const work = tempDir("vgm-recover-");
    const volume = join(work, "volume");
    const sandboxVolume = join(work, "runs", "c1", "v");
    const gone = join(work, "gone");
    for (const dir of [volume, sandboxVolume, gone]) mkdirSync(dir, { recursive: true });
    const first = manager(work, "[40000-40002]");
    await first.allocate(volume, "PERSISTENT");
    await first.allocate(sandboxVolume, "SANDBOX_PATH");
    await first.allocate(gone, "PERSISTENT");
    assert.ok(existsSync(volumeGidsPath(work)));
    const saved = JSON.parse(readFileSync(volumeGidsPath(work), "utf8")) as { infos: unknown[] };
    assert.equal(saved.infos.length, 3);

    const { rmSync } = await import("node:fs");
    rmSync(gone, { recursive: true });
    const restarted = manager(work, "[40000-40002]");
    await restarted.recover(false);
    assert.deepEqual(
      restarted
        .allocations()
        .map((i) => i.gid)
        .sort(),
      [40000, 40001],
    );
    assert.equal(restarted.freeCount, 1);
    // The next new volume gets the gid the missing one gave back.
    mkdirSync(join(work, "new"));
    assert.equal(await restarted.allocate(join(work, "new"), "PERSISTENT"), 40002);

    const rebooted = manager(work, "[40000-40002]");
    await rebooted.recover(true);
    assert.deepEqual(
      rebooted
        .allocations()
        .map((i) => i.path)
        .sort(),
      [join(work, "new"), volume].sort(),
    );
    assert.equal(
      statSync(sandboxVolume).gid,
      0,
      "the released SANDBOX_PATH volume is root's again",
    );
  });

  test("a destroyed volume whose directory stays (a MOUNT disk's root) gets its owner's group back", async () => {
    const work = tempDir("vgm-mount-");
    const mountRoot = join(work, "disk1");
    mkdirSync(mountRoot);
    const m = manager(work);
    assert.equal(await m.allocate(mountRoot, "PERSISTENT"), 40000);
    // DESTROY empties the mount point, then gives the gid back.
    await m.deallocate(mountRoot);
    const s = statSync(mountRoot);
    assert.equal(s.gid, 0, "users of the gid's next volume do not get into the disk");
    assert.equal(s.mode & 0o2020, 0);
    assert.equal(m.freeCount, 2);
  });

  test("a gid of an earlier range stays allocated but is not handed out again", async () => {
    const work = tempDir("vgm-range-change-");
    const volume = join(work, "volume");
    mkdirSync(volume);
    await manager(work, "[40000-40000]").allocate(volume, "PERSISTENT");
    const changed = manager(work, "[41000-41000]");
    await changed.recover(false);
    assert.equal(changed.freeCount, 1);
    await changed.deallocate(volume);
    assert.equal(changed.freeCount, 1);
    assert.deepEqual(changed.allocations(), []);
  });
});

describe("links a task planted", { skip: root ? false : "chown needs root" }, () => {
  /** `<work>/etc` with a root-only `shadow` (group 0, 0640) and a directory `v` of group 12345. */
  function outside(work: string) {
    const etc = join(work, "etc");
    mkdirSync(join(etc, "v"), { recursive: true, mode: 0o755 });
    chownSync(join(etc, "v"), 0, 12345);
    chmodSync(join(etc, "v"), 0o2775);
    writeFileSync(join(etc, "shadow"), "secret", { mode: 0o640 });
    return etc;
  }

  test("a SANDBOX_PATH volume reached through a link in the parent's sandbox is refused", async () => {
    const work = tempDir("vgm-link-");
    const etc = outside(work);
    const sandbox = join(work, "runs", "c1");
    mkdirSync(sandbox, { recursive: true });
    // The task's `a` leads to /etc: `a/v` must not make /etc/v the volume's.
    symlinkSync(etc, join(sandbox, "a"));
    const m = manager(work);
    await assert.rejects(m.allocate(join(sandbox, "a", "v"), "SANDBOX_PATH", sandbox));
    assert.equal(statSync(join(etc, "v")).gid, 12345);
  });

  test("hard and symbolic links in a volume keep the group of the file they lead to", async () => {
    const work = tempDir("vgm-hardlink-");
    const etc = outside(work);
    const volume = join(work, "volume");
    mkdirSync(volume);
    // A hard link to a file outside (what fs.protected_hardlinks=0 lets a task make).
    linkSync(join(etc, "shadow"), join(volume, "h"));
    symlinkSync(join(etc, "v"), join(volume, "l"));
    writeFileSync(join(volume, "own"), "x");
    const m = manager(work);
    assert.equal(await m.allocate(volume, "PERSISTENT"), 40000);
    assert.equal(statSync(join(volume, "own")).gid, 40000);
    assert.equal(statSync(join(etc, "shadow")).gid, 0);
    assert.equal(statSync(join(etc, "v")).gid, 12345);
  });

  test("a release does not follow a directory the task swapped for a link", async () => {
    const work = tempDir("vgm-swap-");
    const etc = outside(work);
    const sandbox = join(work, "runs", "c1");
    mkdirSync(join(sandbox, "w", "v"), { recursive: true });
    const m = manager(work);
    assert.equal(await m.allocate(join(sandbox, "w", "v"), "SANDBOX_PATH", sandbox), 40000);
    // While the gid is held, the task moves `w` away and links /etc in its place.
    renameSync(join(sandbox, "w"), join(sandbox, "w.old"));
    symlinkSync(etc, join(sandbox, "w"));
    await m.deallocate(sandbox);
    const v = statSync(join(etc, "v"));
    assert.equal(v.gid, 12345, "the group of /etc/v is left alone");
    assert.equal(v.mode & 0o2020, 0o2020);
  });

  test("the checkpoint keeps a SANDBOX_PATH volume's root for releases after a restart", async () => {
    const work = tempDir("vgm-root-");
    const sandbox = join(work, "runs", "c1");
    mkdirSync(join(sandbox, "v"), { recursive: true });
    await manager(work).allocate(join(sandbox, "v"), "SANDBOX_PATH", sandbox);
    const restarted = manager(work);
    await restarted.recover(false);
    assert.deepEqual(restarted.allocations(), [
      { type: "SANDBOX_PATH", path: join(sandbox, "v"), gid: 40000, root: sandbox },
    ]);
  });
});

describe("VolumeGidIsolator", { skip: root ? false : "chown needs root" }, () => {
  const nobody = { uid: 65534, gid: 65534 };
  function parentVolume(path: string): Volume {
    return {
      container_path: "x",
      mode: "RW",
      source: { type: "SANDBOX_PATH", sandbox_path: { type: "PARENT", path } },
    } as Volume;
  }
  function prepare(isolator: VolumeGidIsolator, parent: string, volume: Volume) {
    return isolator.prepare({
      containerId: "top/mesos/child",
      directory: join(parent, "containers", "child"),
      parentDirectory: parent,
      executor: { container: { type: "MESOS", volumes: [volume] } } as ExecutorInfo,
      user: nobody,
      commandExecutor: false,
      resources: {} as ContainerConfig["resources"],
    });
  }

  test("a PARENT volume linked out of the parent's sandbox gets a gid only when it is the container's persistent volume", async () => {
    const work = tempDir("vgi-linkout-");
    const etc = join(work, "etc");
    mkdirSync(etc);
    chownSync(etc, 0, 12345);
    const volume = join(work, "volumes", "roles", "r", "pv");
    mkdirSync(volume, { recursive: true });
    const parent = join(work, "runs", "top");
    mkdirSync(join(parent, "containers", "child"), { recursive: true });
    chownSync(parent, 0, 0);
    symlinkSync(etc, join(parent, "etc"));
    symlinkSync(volume, join(parent, "pv"));
    const m = manager(work);
    const isolator = new VolumeGidIsolator({
      manager: m,
      persistentVolumesOf: () => [],
      heldVolumesOf: (id) => (id === "top" ? [volume] : []),
      forget: () => {},
      workDir: work,
      sandboxPathVolumes: true,
    });
    assert.equal(await prepare(isolator, parent, parentVolume("etc")), undefined);
    assert.equal(statSync(etc).gid, 12345, "a link to /etc gives the task no gid of /etc");
    assert.deepEqual(await prepare(isolator, parent, parentVolume("pv")), {
      supplementaryGroups: [40000],
    });
    assert.equal(statSync(volume).gid, 40000);
    assert.deepEqual(m.allocations(), [{ type: "PERSISTENT", path: volume, gid: 40000 }]);
  });

  test("topSandbox: the top-level sandbox from a nested parent's", () => {
    assert.equal(topSandbox("a/mesos/b", "/w/runs/a"), "/w/runs/a");
    assert.equal(topSandbox("a/mesos/b/mesos/c", "/w/runs/a/containers/b"), "/w/runs/a");
    assert.equal(topSandbox("a/mesos/b/mesos/c", "/elsewhere/b2"), "/elsewhere/b2");
  });
});

test("the launch shim gives the switched user the volume gids as its supplementary groups", () => {
  const command = { file: "/bin/true", args: ["true"] };
  const user = { uid: 65534, gid: 65534 };
  const plain = shimCommand(command, { rlimits: ["--nofile=10:10"] }, user);
  assert.ok(plain.args.includes("--clear-groups"));
  const grouped = shimCommand(command, { supplementaryGroups: [30000, 30001] }, user);
  assert.ok(grouped.args.includes("--groups=30000,30001"), grouped.args.join(" "));
  assert.ok(!grouped.args.includes("--clear-groups"));
  const chrooted = shimCommand(
    command,
    { rootfs: "/img", mountNamespace: true, supplementaryGroups: [30000] },
    user,
  );
  assert.ok(chrooted.args.includes("--groups=30000"), chrooted.args.join(" "));
});
