import assert from "node:assert/strict";
import { test } from "node:test";
import { DiskWatch } from "../../src/agent/gc/disk-watch.js";
import {
  GarbageCollector,
  type GcOutcome,
  type RemoveResult,
  remainingDelayMs,
} from "../../src/agent/gc/garbage-collector.js";
import { mountBeneath, mountPointsOf } from "../../src/agent/gc/remove-path.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import { ManualClock } from "../../src/common/time/clock.js";

const SEC = 1000;

/** A collector over a fake disk: `removed` lists the paths deleted, `broken` the ones that fail. */
function setup(present: string[] = []) {
  const clock = new ManualClock();
  const disk = new Set(present);
  const removed: string[] = [];
  const broken = new Set<string>();
  const gc = new GarbageCollector({
    clock,
    logger: silentLogger,
    remove: async (path): Promise<RemoveResult> => {
      if (broken.has(path)) throw new Error("Permission denied");
      if (!disk.has(path)) return "missing";
      for (const p of [...disk]) if (p === path || p.startsWith(`${path}/`)) disk.delete(p);
      removed.push(path);
      return "removed";
    },
  });
  return { clock, gc, disk, removed, broken };
}

/** Lets the removal queue run. */
async function settle(gc: GarbageCollector): Promise<void> {
  for (let i = 0; i < 5; i++) await gc.idle();
}

test("agent gc: a scheduled path is removed once its delay has passed, not before", async () => {
  const { clock, gc, removed } = setup(["/w/a"]);
  const outcome = gc.schedule(10 * SEC, "/w/a");
  assert.equal(gc.pending, 1);
  clock.advance(9 * SEC);
  await settle(gc);
  assert.deepEqual(removed, []);
  clock.advance(1 * SEC);
  assert.deepEqual(await outcome, { kind: "removed" });
  assert.deepEqual(removed, ["/w/a"]);
  assert.equal(gc.pending, 0);
  assert.equal(gc.succeeded, 1);
  assert.equal(gc.failed, 0);
});

test("agent gc: paths fall due in the order of their delays, whatever the order scheduled", async () => {
  const { clock, gc, removed } = setup(["/w/a", "/w/b", "/w/c"]);
  void gc.schedule(30 * SEC, "/w/a");
  void gc.schedule(10 * SEC, "/w/b");
  void gc.schedule(20 * SEC, "/w/c");
  clock.advance(15 * SEC);
  await settle(gc);
  assert.deepEqual(removed, ["/w/b"]);
  clock.advance(15 * SEC);
  await settle(gc);
  assert.deepEqual(removed, ["/w/b", "/w/c", "/w/a"]);
  assert.equal(clock.pendingTimers, 0, "no timer is left armed");
});

test("agent gc: an unscheduled path is kept and its promise says so", async () => {
  const { clock, gc, removed } = setup(["/w/a"]);
  const outcome = gc.schedule(10 * SEC, "/w/a");
  assert.equal(gc.unschedule("/w/a"), true);
  assert.equal(gc.unschedule("/w/a"), false, "a second unschedule finds nothing");
  assert.deepEqual(await outcome, { kind: "unscheduled" });
  clock.advance(20 * SEC);
  await settle(gc);
  assert.deepEqual(removed, []);
  assert.equal(gc.pending, 0);
});

test("agent gc: rescheduling a path replaces its earlier schedule", async () => {
  const { clock, gc, removed } = setup(["/w/a"]);
  const first = gc.schedule(10 * SEC, "/w/a");
  clock.advance(5 * SEC);
  const second = gc.schedule(10 * SEC, "/w/a");
  assert.deepEqual(await first, { kind: "unscheduled" });
  assert.equal(gc.pending, 1);
  clock.advance(6 * SEC);
  await settle(gc);
  assert.deepEqual(removed, [], "the first deadline no longer counts");
  clock.advance(4 * SEC);
  assert.deepEqual(await second, { kind: "removed" });
});

test("agent gc: a path whose removal started cannot be unscheduled", async () => {
  const clock = new ManualClock();
  let finish: () => void = () => undefined;
  const gc = new GarbageCollector({
    clock,
    logger: silentLogger,
    remove: () =>
      new Promise<RemoveResult>((resolve) => {
        finish = () => resolve("removed");
      }),
  });
  const outcome = gc.schedule(0, "/w/a");
  clock.advance(0);
  await Promise.resolve();
  assert.equal(gc.unschedule("/w/a"), false);
  assert.equal(gc.pending, 1, "a path being removed still counts as pending");
  finish();
  assert.deepEqual(await outcome, { kind: "removed" });
  assert.equal(gc.pending, 0);
});

test("agent gc: prune removes at once what falls due within the window and keeps the rest", async () => {
  const { clock, gc, removed } = setup(["/w/old", "/w/new"]);
  void gc.schedule(100 * SEC, "/w/old");
  clock.advance(60 * SEC);
  void gc.schedule(100 * SEC, "/w/new");
  // Allowed age 50 s with gc_delay 100 s: prune what is due within 50 s.
  assert.equal(gc.prune(50 * SEC), 1);
  await settle(gc);
  assert.deepEqual(removed, ["/w/old"]);
  assert.equal(gc.pending, 1);
  assert.equal(gc.succeeded, 1);
});

test("agent gc: removing a directory drops the paths scheduled beneath it, not its siblings", async () => {
  const { clock, gc, removed } = setup(["/w/e", "/w/e/runs/1", "/w/e2"]);
  const run = gc.schedule(20 * SEC, "/w/e/runs/1");
  void gc.schedule(10 * SEC, "/w/e");
  const sibling = gc.schedule(20 * SEC, "/w/e2");
  clock.advance(10 * SEC);
  assert.deepEqual(await run, { kind: "removed" });
  assert.equal(gc.pending, 1, "only the sibling is left");
  assert.deepEqual(removed, ["/w/e"]);
  assert.equal(gc.succeeded, 1, "the nested path is not counted twice");
  clock.advance(10 * SEC);
  assert.deepEqual(await sibling, { kind: "removed" });
});

test("agent gc: a failed removal is counted and reported; a missing path is neither", async () => {
  const { clock, gc, broken } = setup(["/w/a"]);
  broken.add("/w/a");
  const failed = gc.schedule(1 * SEC, "/w/a");
  const missing = gc.schedule(1 * SEC, "/w/gone");
  clock.advance(1 * SEC);
  const outcome: GcOutcome = await failed;
  assert.equal(outcome.kind, "failed");
  assert.match(outcome.kind === "failed" ? outcome.error : "", /Permission denied/);
  assert.deepEqual(await missing, { kind: "missing" });
  assert.equal(gc.failed, 1);
  assert.equal(gc.succeeded, 0);
  assert.equal(gc.pending, 0);
});

test("agent gc: stop cancels the timer and resolves waiting paths as unscheduled", async () => {
  const { clock, gc, removed } = setup(["/w/a"]);
  const outcome = gc.schedule(10 * SEC, "/w/a");
  gc.stop();
  assert.deepEqual(await outcome, { kind: "unscheduled" });
  assert.equal(clock.pendingTimers, 0);
  clock.advance(20 * SEC);
  await settle(gc);
  assert.deepEqual(removed, []);
});

test("agent gc recovery: the delay counts from the directory's mtime and never goes below 0", () => {
  const now = 1_000_000_000;
  const week = 7 * 24 * 3600 * SEC;
  assert.equal(remainingDelayMs(week, now, now), week, "just modified: the whole delay");
  assert.equal(remainingDelayMs(week, now - 2 * 24 * 3600 * SEC, now), 5 * 24 * 3600 * SEC);
  assert.equal(remainingDelayMs(week, now - 2 * week, now), 0, "older than the delay: now");
  assert.equal(
    remainingDelayMs(week, now + 10 * SEC, now),
    week + 10 * SEC,
    "mtime ahead of the clock",
  );
});

test("agent gc disk watch: every interval it prunes by gc_delay minus the allowed age", async () => {
  const clock = new ManualClock();
  const windows: number[] = [];
  let usage = 0.5;
  const watch = new DiskWatch({
    clock,
    logger: silentLogger,
    intervalMs: 60 * SEC,
    gcDelayMs: 1000 * SEC,
    diskHeadroom: 0.1,
    usage: async () => usage,
    gc: {
      prune: (withinMs) => {
        windows.push(withinMs);
        return 0;
      },
    },
  });
  assert.equal(watch.maxAllowedAgeMs, 900 * SEC, "before a check: as for an empty disk");
  watch.start();
  clock.advance(59 * SEC);
  await Promise.resolve();
  assert.deepEqual(windows, [], "the first check comes one interval after start");
  clock.advance(1 * SEC);
  for (let i = 0; i < 3; i++) await Promise.resolve();
  assert.equal(watch.maxAllowedAgeMs, 400 * SEC);
  assert.deepEqual(windows, [600 * SEC]);
  usage = 0.95;
  clock.advance(60 * SEC);
  for (let i = 0; i < 3; i++) await Promise.resolve();
  assert.equal(watch.maxAllowedAgeMs, 0, "a full disk allows no age: everything scheduled goes");
  assert.deepEqual(windows, [600 * SEC, 1000 * SEC]);
  watch.stop();
  assert.equal(clock.pendingTimers, 0);
});

test("agent gc disk watch: a failed usage read skips the prune and keeps watching", async () => {
  const clock = new ManualClock();
  let calls = 0;
  const watch = new DiskWatch({
    clock,
    logger: silentLogger,
    intervalMs: 10 * SEC,
    gcDelayMs: 100 * SEC,
    diskHeadroom: 0.1,
    usage: () => Promise.reject(new Error("statfs failed")),
    gc: {
      prune: () => {
        calls++;
        return 0;
      },
    },
  });
  watch.start();
  clock.advance(10 * SEC);
  for (let i = 0; i < 3; i++) await Promise.resolve();
  assert.equal(calls, 0);
  assert.equal(clock.pendingTimers, 1, "the next check is armed");
  watch.stop();
});

test("agent gc remover: a mount point inside a sandbox is found (octal escapes decoded)", () => {
  const info = [
    "22 1 8:1 / / rw - ext4 /dev/sda1 rw",
    "40 22 8:1 /vol /w/slaves/a/runs/1/my\\040data rw - ext4 /dev/sda1 rw",
  ].join("\n");
  const points = mountPointsOf(info);
  assert.deepEqual(points, ["/", "/w/slaves/a/runs/1/my data"]);
  assert.equal(mountBeneath("/w/slaves/a", points), "/w/slaves/a/runs/1/my data");
  assert.equal(mountBeneath("/w/slaves/a/runs/10", points), undefined);
  assert.equal(mountBeneath("/w/slaves/b", points), undefined);
});
