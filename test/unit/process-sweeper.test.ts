import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { readProcEntry } from "../../src/agent/containerizer/proc.js";
import { ProcessSweeper } from "../../src/agent/containerizer/process-sweeper.js";
import { silentLogger } from "../../src/common/observability/logger.js";

const dir = mkdtempSync(join(tmpdir(), "sweeper-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function started(pid: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const entry = await readProcEntry(pid);
    if (entry !== undefined) return entry.startTime;
    if (Date.now() > deadline) throw new Error(`process ${pid} did not show up`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function sleeper(sandbox: string) {
  const child = spawn("sleep", ["30"], {
    detached: true,
    stdio: "ignore",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", MESOS_DIRECTORY: sandbox },
  });
  const exit = new Promise<string | null>((r) => child.once("exit", (_c, signal) => r(signal)));
  return { child, exit, pid: child.pid ?? 0 };
}

describe("process sweeper", () => {
  it("kills a container's leftover found by its MESOS_DIRECTORY when given the executor's start time", async () => {
    const sandbox = join(dir, "a");
    const left = sleeper(sandbox);
    try {
      const startTime = await started(left.pid);
      const killed = await new ProcessSweeper(silentLogger).kill(undefined, sandbox, startTime);
      assert.equal(killed, 1);
      assert.equal(await left.exit, "SIGKILL");
    } finally {
      left.child.kill("SIGKILL");
    }
  });

  it("does not read processes older than the container's executor", async () => {
    const sandbox = join(dir, "b");
    const older = sleeper(sandbox);
    try {
      const startTime = await started(older.pid);
      // An executor said to start a tick later cannot have started this process.
      const killed = await new ProcessSweeper(silentLogger).kill(undefined, sandbox, startTime + 1);
      assert.equal(killed, 0);
      assert.notEqual(await readProcEntry(older.pid), undefined);
    } finally {
      older.child.kill("SIGKILL");
    }
  });

  it("leaves a process that took an ended root's pid (another start time) and its session alone", async () => {
    // Stands in for the newcomer at the pid of a container's first process
    // that ended before the pass; its own session, with a child.
    const newcomer = spawn("/bin/sh", ["-c", "sleep 30 & wait"], {
      detached: true,
      stdio: "ignore",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    });
    const pid = newcomer.pid ?? 0;
    const exit = new Promise<string | null>((r) =>
      newcomer.once("exit", (_c, signal) => r(signal)),
    );
    try {
      const startTime = await started(pid);
      const killed = await new ProcessSweeper(silentLogger).kill(
        pid,
        join(dir, "ended-root"),
        startTime - 1,
      );
      assert.equal(killed, 0, "nothing of the newcomer's is the container's");
      assert.notEqual(await readProcEntry(pid), undefined);
      // Still running after that pass: ended by this SIGTERM, not by the sweep.
      process.kill(-pid, "SIGTERM");
      assert.equal(await exit, "SIGTERM");
    } finally {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // Gone already.
      }
    }
  });

  it("skips running executors named by the caller, and kills batches of requests in one pass", async () => {
    const sandboxC = join(dir, "c");
    const sandboxD = join(dir, "d");
    const live = sleeper(sandboxC);
    const leftover = sleeper(sandboxD);
    try {
      await started(live.pid);
      await started(leftover.pid);
      const sweeper = new ProcessSweeper(silentLogger, 20, () => [live.pid]);
      const [c, d] = await Promise.all([
        sweeper.kill(undefined, sandboxC),
        sweeper.kill(undefined, sandboxD),
      ]);
      assert.equal(c, 0, "a running executor is not a leftover");
      assert.equal(d, 1);
      assert.equal(await leftover.exit, "SIGKILL");
      assert.notEqual(await readProcEntry(live.pid), undefined);
      // Killing the executor's own tree still works when it is named as the root.
      assert.equal(await sweeper.kill(live.pid, sandboxC), 1);
      assert.equal(await live.exit, "SIGKILL");
    } finally {
      live.child.kill("SIGKILL");
      leftover.child.kill("SIGKILL");
    }
  });
});
