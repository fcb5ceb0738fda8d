/**
 * Garbage collection removes sandboxes as root, and (with --switch_user)
 * a sandbox belongs to its task's user, who may leave symbolic links in it,
 * reach a nested container's sandbox through a directory of theirs, or swap
 * a directory for a link while root empties the tree. The collector (and
 * the removal of a destroyed volume's data, which the users owned too) must
 * remove the links, never what they point at.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import fsp from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { after, test } from "node:test";
import { type AgentSandboxGc, startSandboxGc } from "../../src/agent/gc/agent-gc.js";
import type { GcOutcome } from "../../src/agent/gc/garbage-collector.js";
import { volumePathOf, writeCheckpointedResources } from "../../src/agent/resources-checkpoint.js";
import { Duration } from "../../src/common/flags/duration.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import type { Resource as WireResource } from "../../src/common/protocol/generated/mesos-v1.js";
import { ManualClock } from "../../src/common/time/clock.js";

const isRoot = process.getuid?.() === 0;
const needsRoot = { skip: isRoot ? false : "needs root (sandboxes given to nobody)" };
const root = mkdtempSync(join(tmpdir(), "mesos-gc-links-"));

after(() => rmSync(root, { recursive: true, force: true }));

const nobody = () => ({
  uid: Number(execFileSync("id", ["-u", "nobody"]).toString()),
  gid: Number(execFileSync("id", ["-g", "nobody"]).toString()),
});

/** A work directory and the agent's collector over it (real removals, manual clock). */
function agentGc(name: string): { workDir: string; clock: ManualClock; gc: AgentSandboxGc } {
  const workDir = join(root, name, "work");
  mkdirSync(workDir, { recursive: true });
  const clock = new ManualClock();
  const gc = startSandboxGc(
    {
      work_dir: workDir,
      gc_delay: Duration.weeks(1),
      gc_disk_headroom: 0.1,
      disk_watch_interval: Duration.days(1),
    },
    clock,
    silentLogger,
  );
  return { workDir, clock, gc };
}

/** Removes `path` now through the collector. */
function collect(h: { clock: ManualClock; gc: AgentSandboxGc }, path: string): Promise<GcOutcome> {
  const outcome = h.gc.collector.schedule(0, path);
  h.clock.advance(0);
  return outcome;
}

/** A run directory (a sandbox) under `workDir`, given to nobody with everything in it. */
function sandboxOf(workDir: string, tree: (sandbox: string) => void): string {
  const sandbox = join(workDir, "slaves/a/frameworks/f/executors/e/runs/c");
  mkdirSync(sandbox, { recursive: true });
  tree(sandbox);
  const { uid, gid } = nobody();
  execFileSync("chown", ["-hR", `${uid}:${gid}`, sandbox]);
  return sandbox;
}

/** A directory of root's with a file in it, that nothing may remove. */
function victimOf(name: string): string {
  const victim = join(root, name, "victim");
  mkdirSync(join(victim, "inner"), { recursive: true });
  writeFileSync(join(victim, "inner", "data"), "keep me\n");
  return victim;
}

function assertIntact(victim: string): void {
  assert.equal(readFileSync(join(victim, "inner", "data"), "utf8"), "keep me\n");
}

test("gc: a sandbox's links are removed, their targets kept", needsRoot, async () => {
  const h = agentGc("links");
  const victim = victimOf("links");
  try {
    const sandbox = sandboxOf(h.workDir, (s) => {
      writeFileSync(join(s, "stdout"), "out\n");
      symlinkSync(victim, join(s, "to-victim"));
      mkdirSync(join(s, "a", "b"), { recursive: true });
      symlinkSync(join(victim, "inner"), join(s, "a", "b", "inner"));
      symlinkSync(join(victim, "inner", "data"), join(s, "a", "data"));
    });
    assert.deepEqual(await collect(h, sandbox), { kind: "removed" });
    assert.equal(existsSync(sandbox), false);
    assertIntact(victim);
  } finally {
    h.gc.stop();
  }
});

test(
  "gc: a nested sandbox reached through the user's link is refused and nothing behind it removed",
  needsRoot,
  async () => {
    // The executor's user links `containers` to a directory holding one named
    // like the nested container: a removal by path would take that one.
    const h = agentGc("nested");
    const victim = victimOf("nested");
    try {
      const sandbox = sandboxOf(h.workDir, (s) =>
        symlinkSync(dirname(victim), join(s, "containers")),
      );
      const nested = join(sandbox, "containers", basename(victim));
      const outcome = await collect(h, nested);
      assert.equal(outcome.kind, "failed");
      assert.match(
        (outcome as { error: string }).error,
        /The sandbox path '.*\/containers' is a symbolic link$/,
      );
      assertIntact(victim);
      assert.ok(lstatSync(join(sandbox, "containers")).isSymbolicLink());
      // The whole sandbox, link included, goes once its executor's run does.
      assert.deepEqual(await collect(h, sandbox), { kind: "removed" });
      assertIntact(victim);
    } finally {
      h.gc.stop();
    }
  },
);

/**
 * Makes the user's swap land between the remover's look at `<dir>/deep` (a
 * directory) and its going in, right after that look: `deep` is moved aside
 * and a link to `victim` put in its place. `swapped()` says it happened.
 */
function swapOnLook(dir: string, victim: string): { swapped: () => boolean; restore: () => void } {
  const realLstat = fsp.lstat;
  let swapped = false;
  fsp.lstat = (async (...args: Parameters<typeof realLstat>) => {
    const st = await realLstat(...args);
    if (!swapped && basename(String(args[0])) === "deep" && st.isDirectory()) {
      swapped = true;
      renameSync(join(dir, "deep"), join(dir, "moved"));
      symlinkSync(victim, join(dir, "deep"));
      const { uid, gid } = nobody();
      chownSync(join(dir, "moved"), uid, gid);
    }
    return st;
  }) as typeof realLstat;
  syncBuiltinESMExports();
  return {
    swapped: () => swapped,
    restore: () => {
      fsp.lstat = realLstat;
      syncBuiltinESMExports();
    },
  };
}

test(
  "gc: a directory swapped for a link while the sandbox is emptied is not followed",
  needsRoot,
  async () => {
    const h = agentGc("swap");
    const victim = victimOf("swap");
    const sandbox = sandboxOf(h.workDir, (s) => {
      mkdirSync(join(s, "a", "deep", "deeper"), { recursive: true });
      writeFileSync(join(s, "a", "deep", "deeper", "f"), "x\n");
    });
    const swap = swapOnLook(join(sandbox, "a"), victim);
    try {
      assert.deepEqual(await collect(h, sandbox), { kind: "removed" });
      assert.ok(swap.swapped(), "the swap happened during the removal");
      assert.equal(existsSync(sandbox), false);
      assertIntact(victim);
      assert.deepEqual(readdirSync(victim), ["inner"]);
    } finally {
      swap.restore();
      h.gc.stop();
    }
  },
);

test(
  "DESTROY: a user's volume is removed without following its links, even one swapped in midway",
  needsRoot,
  async () => {
    const work = join(root, "volume", "work");
    mkdirSync(work, { recursive: true });
    const victim = victimOf("volume");
    const volume = {
      name: "disk",
      type: "SCALAR",
      scalar: { value: 64 },
      reservations: [{ type: "DYNAMIC", role: "db", principal: "ops" }],
      disk: {
        persistence: { id: "pg", principal: "ops" },
        volume: { mode: "RW", container_path: "d" },
      },
    } as WireResource;
    await writeCheckpointedResources(work, [volume]);
    const dir = volumePathOf(work, volume as never) as string;
    mkdirSync(join(dir, "a", "deep", "deeper"), { recursive: true });
    symlinkSync(victim, join(dir, "to-victim"));
    symlinkSync(join(victim, "inner"), join(dir, "a", "inner"));
    const { uid, gid } = nobody();
    execFileSync("chown", ["-hR", `${uid}:${gid}`, dir]);
    const swap = swapOnLook(join(dir, "a"), victim);
    try {
      await writeCheckpointedResources(work, [], [volume]);
      assert.ok(swap.swapped(), "the swap happened during the removal");
      assert.equal(existsSync(dir), false);
      assertIntact(victim);
      assert.deepEqual(readdirSync(victim), ["inner"]);
    } finally {
      swap.restore();
    }
  },
);

test("gc: removing many sandboxes lets the event loop turn meanwhile", needsRoot, async () => {
  const h = agentGc("many");
  const sandboxes: string[] = [];
  for (let i = 0; i < 20; i++) {
    const run = join(h.workDir, `slaves/a/frameworks/f/executors/e${i}/runs/c`);
    mkdirSync(join(run, "d"), { recursive: true });
    for (let j = 0; j < 20; j++) writeFileSync(join(run, "d", `f${j}`), "x");
    sandboxes.push(run);
  }
  let turns = 0;
  let done = false;
  const spin = () => {
    if (done) return;
    turns++;
    setImmediate(spin);
  };
  try {
    setImmediate(spin);
    const outcomes = await Promise.all(sandboxes.map((s) => collect(h, s)));
    done = true;
    assert.ok(
      outcomes.every((o) => o.kind === "removed"),
      JSON.stringify(outcomes),
    );
    assert.ok(sandboxes.every((s) => !existsSync(s)));
    // Each removal waits on the file system one call at a time: other work
    // runs between them (a synchronous removal would let none).
    assert.ok(turns >= sandboxes.length, `only ${turns} turns of the event loop`);
  } finally {
    done = true;
    h.gc.stop();
  }
});

test("gc: a path outside the work directory is refused", async () => {
  const h = agentGc("outside");
  const victim = victimOf("outside");
  try {
    const outcome = await collect(h, join(h.workDir, "..", "victim"));
    assert.equal(outcome.kind, "failed");
    assert.match((outcome as { error: string }).error, /is not inside the work directory/);
    assertIntact(victim);
  } finally {
    h.gc.stop();
  }
});
