/**
 * The volume gid manager of `--volume_gid_range` on its own: the range's
 * parsing, allocation order, reuse and exhaustion, release by path prefix
 * (whole path components only), the checkpoint and its recovery (after a
 * reboot SANDBOX_PATH allocations go, as do those of missing paths), and
 * the launch shim's supplementary groups. Ownership changes need root.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { shimCommand } from "../../src/agent/containerizer/launch-shim.js";
import {
  parseVolumeGidRange,
  VolumeGidManager,
  volumeGidsPath,
} from "../../src/agent/volume-gid-manager.js";
import { silentLogger } from "../../src/common/observability/logger.js";
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
