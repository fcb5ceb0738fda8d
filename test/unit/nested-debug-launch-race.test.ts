/**
 * A DEBUG container (a check's session nested in a task's container) whose
 * task container ends while the DEBUG process is being started: the
 * process started after the task's children were killed must not outlive
 * it. A fake launcher holds the DEBUG spawn until the task has ended, then
 * starts a real `sleep` (in the DEBUG sandbox, where the sweeper finds it).
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { LauncherClient } from "../../src/agent/containerizer/launcher.js";
import { endLauncherTest, nestedContainersFixture } from "../harness/nested-containers-fixture.js";

const started: ChildProcess[] = [];
const root = mkdtempSync(join(tmpdir(), "mesos-debug-race-"));

after(() => endLauncherTest(started, root));

function sleeper(cwd: string): ChildProcess {
  const c = spawn("sleep", ["1000"], { cwd, stdio: "ignore" });
  started.push(c);
  return c;
}

function ended(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => c.once("exit", () => resolve()));
}

test("a DEBUG container whose task container ends while it starts is killed and refused", async () => {
  const sandbox = join(root, "executor");
  execFileSync("mkdir", ["-p", sandbox]);
  let release = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let debugSpawning = () => {};
  const spawningDebug = new Promise<void>((resolve) => {
    debugSpawning = resolve;
  });
  let debugChild: ChildProcess | undefined;
  const launcher = {
    async spawn(req: { file: string; args: string[]; cwd?: string }) {
      const isDebug = req.args[0] === "mesos-containerizer";
      if (isDebug) {
        debugSpawning();
        await gate;
      }
      const c = sleeper(req.cwd ?? root);
      if (isDebug) debugChild = c;
      return { id: 0, pid: c.pid ?? -1 };
    },
    async run(req: { file: string; args: string[] }) {
      execFileSync(req.file, req.args);
      return { id: 0, code: 0, output: "" };
    },
    user: () => Promise.reject(new Error("no users in this test")),
  } as unknown as LauncherClient;
  const nested = nestedContainersFixture(launcher, sandbox);
  try {
    const task = await nested.launch({
      parentId: "exec",
      childId: "task",
      command: { value: "sleep 1000" },
    });
    assert.ok("ok" in task, JSON.stringify(task));
    const taskProcess = started[0];
    assert.ok(taskProcess?.pid !== undefined);

    const launching = nested.launch({
      parentId: "exec.task",
      childId: "check-1",
      command: { value: "true" },
      session: true,
    });
    await spawningDebug;
    // The task ends while its check's process is being started.
    taskProcess.kill("SIGKILL");
    await ended(taskProcess);
    assert.equal(nested.processExited(taskProcess.pid, { code: null, signal: "SIGKILL" }), true);
    const taskEnd = nested.wait("exec", "task");
    assert.ok(taskEnd !== undefined);
    await taskEnd;
    release();

    const result = await launching;
    assert.ok(!("ok" in result), "the launch in an ended container is refused");
    assert.match(result.error, /^Parent container exec\.task has ended$/);
    assert.ok(debugChild !== undefined);
    // Nothing of the check outlives its task.
    await ended(debugChild);
    // Its WAIT answers (it ended), and a new check in the ended task is refused.
    const checkEnd = nested.wait("exec.task", "check-1");
    if (checkEnd !== undefined) await checkEnd;
    const again = await nested.launch({
      parentId: "exec.task",
      childId: "check-2",
      command: { value: "true" },
      session: true,
    });
    assert.ok(!("ok" in again));
    assert.match(again.error, /does not exist/);
  } finally {
    nested.stop();
  }
});

test("the launch a DEBUG child inherits is checkpointed for the agent's eyes only (it holds resolved secrets)", async () => {
  const workDir = join(root, "work");
  const sandbox = join(root, "exec-2");
  execFileSync("mkdir", ["-p", sandbox]);
  const launcher = {
    async spawn(req: { cwd?: string }) {
      const c = sleeper(req.cwd ?? root);
      return { id: 0, pid: c.pid ?? -1 };
    },
  } as unknown as LauncherClient;
  const nested = nestedContainersFixture(launcher, sandbox, { workDir, parentId: "exec-2" });
  try {
    const task = await nested.launch({
      parentId: "exec-2",
      childId: "task",
      command: {
        value: "sleep 1000",
        environment: { variables: [{ name: "TOKEN", type: "VALUE", value: "s3cret" }] },
      },
    });
    assert.ok("ok" in task, JSON.stringify(task));
    const dir = join(workDir, "meta", "nested-containers", "exec-2");
    assert.ok(readdirSync(dir).includes("task.launch"), readdirSync(dir).join(","));
    assert.equal(statSync(join(dir, "task.launch")).mode & 0o777, 0o600);
  } finally {
    nested.stop();
  }
});
