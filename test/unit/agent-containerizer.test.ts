import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { LauncherClient, type ProcessExit } from "../../src/agent/containerizer/launcher.js";
import { waitStatus } from "../../src/agent/containerizer/posix-containerizer.js";
import {
  directoryOfEnvironment,
  type ProcEntry,
  parseProcStat,
  processTree,
  readProcEntry,
} from "../../src/agent/containerizer/proc.js";
import { ProcessSweeper } from "../../src/agent/containerizer/process-sweeper.js";
import { silentLogger } from "../../src/common/observability/logger.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function entry(pid: number, ppid: number, session = pid, pgrp = session): ProcEntry {
  return { pid, ppid, session, pgrp, startTime: 1 };
}

async function eventually(what: string, probe: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("agent containerizer: /proc", () => {
  it("parses stat lines whose command holds spaces and parentheses", () => {
    const line = "42 (my (odd) cmd) S 7 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 123456 0 0";
    assert.deepEqual(parseProcStat(42, line), {
      pid: 42,
      ppid: 7,
      pgrp: 42,
      session: 42,
      startTime: 123456,
    });
  });

  it("finds an executor's tree: its session, group and descendants that moved out", () => {
    const table = [
      entry(1, 0),
      entry(100, 50), // the executor, session leader
      entry(101, 100, 100), // in its session
      entry(200, 100, 200), // the task, in its own session
      entry(201, 200, 200),
      entry(300, 1, 100), // reparented, still in the executor's session
      entry(400, 1, 400), // unrelated
    ];
    assert.deepEqual(
      processTree(100, table).sort((a, b) => a - b),
      [100, 101, 200, 201, 300],
    );
  });

  it("reads MESOS_DIRECTORY out of an environment block", () => {
    const env = Buffer.from("A=1\0MESOS_DIRECTORY=/w/s/run\0B=2\0");
    assert.equal(directoryOfEnvironment(env), "/w/s/run");
    assert.equal(directoryOfEnvironment(Buffer.from("A=1\0")), undefined);
  });

  it("turns exits into wait statuses", () => {
    assert.equal(waitStatus({ code: 3, signal: null }), 3 << 8);
    assert.equal(waitStatus({ code: null, signal: "SIGKILL" }), 9);
  });
});

describe("agent containerizer: killing a container's processes", () => {
  it("kills processes that carry the sandbox marker, and nothing else", async () => {
    const sandbox = "/nonexistent/sandbox-for-sweeper-test";
    const marked = spawn("sleep", ["30"], {
      detached: true,
      stdio: "ignore",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", MESOS_DIRECTORY: sandbox },
    });
    const unmarked = spawn("sleep", ["30"], { detached: true, stdio: "ignore" });
    const exited = (c: typeof marked) =>
      new Promise<string | null>((r) => c.once("exit", (_code, signal) => r(signal)));
    const markedExit = exited(marked);
    try {
      await eventually("the processes to start", async () => {
        return (await readProcEntry(marked.pid ?? 0)) !== undefined;
      });
      const killed = await new ProcessSweeper(silentLogger).kill(undefined, sandbox);
      assert.equal(killed, 1);
      assert.equal(await markedExit, "SIGKILL");
      assert.notEqual(await readProcEntry(unmarked.pid ?? 0), undefined, "unrelated survives");
    } finally {
      unmarked.kill("SIGKILL");
      marked.kill("SIGKILL");
    }
  });
});

describe("agent containerizer: launcher helper", () => {
  it("starts a process in its own session with sandbox stdout/stderr and reports its exit", async () => {
    const box = mkdtempSync(join(tmpdir(), "launcher-test-"));
    dirs.push(box);
    const exits = new Map<number, ProcessExit>();
    const launcher = new LauncherClient(
      silentLogger,
      (pid, exit) => exits.set(pid, exit),
      () => {},
    );
    try {
      const reply = await launcher.spawn({
        op: "spawn",
        file: "/bin/sh",
        args: [
          "sh",
          "-c",
          'echo "out $GREETING"; echo err >&2; echo "$$ $(ps -o sid= -p $$)"; exit 3',
        ],
        env: { GREETING: "hello", PATH: "/usr/bin:/bin" },
        cwd: box,
        stdout: join(box, "stdout"),
        stderr: join(box, "stderr"),
      });
      assert.ok(reply.pid > 0);
      await eventually("the exit report", () => exits.has(reply.pid));
      assert.deepEqual(exits.get(reply.pid), { code: 3, signal: null });
      const [first, second] = readFileSync(join(box, "stdout"), "utf8").trim().split("\n");
      assert.equal(first, "out hello");
      const [pid, sid] = (second ?? "").trim().split(/\s+/);
      assert.equal(pid, sid, "the process leads its own session");
      assert.equal(readFileSync(join(box, "stderr"), "utf8"), "err\n");
    } finally {
      launcher.stop();
    }
  });

  it("runs short commands and looks users up, with a clear error for a missing user", async () => {
    const launcher = new LauncherClient(
      silentLogger,
      () => {},
      () => {},
    );
    try {
      const run = await launcher.run({ op: "run", file: "sh", args: ["-c", "echo ok; exit 2"] });
      assert.deepEqual(run.code, 2);
      assert.equal(run.output.trim(), "ok");
      const root = await launcher.user("root");
      assert.equal(root.uid, 0);
      await assert.rejects(launcher.user("no-such-user-x"), /user 'no-such-user-x' does not exist/);
      // Output goes to a sandbox's own files (the launcher refuses anything else).
      const sandbox = mkdtempSync(join(tmpdir(), "launcher-missing-"));
      try {
        await assert.rejects(
          launcher.spawn({
            op: "spawn",
            file: "/does/not/exist",
            args: ["x"],
            env: {},
            cwd: "/",
            stdout: join(sandbox, "stdout"),
            stderr: join(sandbox, "stderr"),
          }),
          /ENOENT/,
        );
      } finally {
        rmSync(sandbox, { recursive: true, force: true });
      }
    } finally {
      launcher.stop();
    }
  });
});
