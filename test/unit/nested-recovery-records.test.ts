/**
 * Recovery of the checkpointed nested and standalone containers after an
 * agent restart, without a launcher: an unusable record costs only itself
 * (a warning, the file removed; the others are still recovered), and a
 * container whose process died while the agent was down, its pid since
 * taken by another process, ends without that process being killed.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { LauncherClient } from "../../src/agent/containerizer/launcher.js";
import {
  type NestedContainers,
  recordProblem,
} from "../../src/agent/containerizer/nested-containers.js";
import { type Logger, silentLogger } from "../../src/common/observability/logger.js";
import { nestedContainersFixture } from "../harness/nested-containers-fixture.js";

const root = mkdtempSync(join(tmpdir(), "mesos-nested-recovery-"));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

const launcher = {
  spawn: () => Promise.reject(new Error("no processes in this test")),
} as unknown as LauncherClient;

/** A pid with no process (the highest the kernel hands out, checked free). */
function freePid(): number {
  const max = Number.parseInt(readFileSync("/proc/sys/kernel/pid_max", "utf8"), 10);
  for (let pid = max - 1; pid > max - 1000; pid--) {
    try {
      readFileSync(`/proc/${pid}/stat`);
    } catch {
      return pid;
    }
  }
  throw new Error("no free pid found");
}

function containers(workDir: string, logger: Logger = silentLogger): NestedContainers {
  return nestedContainersFixture(launcher, join(workDir, "exec-sandbox"), { logger, workDir });
}

test("recordProblem: what a record needs to be its file's container", () => {
  const good = { parentId: "exec", childId: "c1", pid: 42, directory: "/s/c1", isolators: [] };
  assert.equal(recordProblem(good, "c1.json"), undefined);
  assert.equal(recordProblem(null, "c1.json"), "not a record");
  assert.equal(recordProblem([], "c1.json"), "no valid container id");
  assert.equal(recordProblem({ ...good, childId: "../x" }, "c1.json"), "no valid container id");
  assert.equal(recordProblem(good, "c2.json"), "it is the record of 'c1'");
  assert.equal(recordProblem({ ...good, parentId: 3 }, "c1.json"), "no parent container id");
  assert.equal(
    recordProblem({ ...good, parentId: undefined, standalone: true }, "c1.json"),
    undefined,
  );
  assert.equal(recordProblem({ ...good, directory: "rel" }, "c1.json"), "no sandbox directory");
  assert.equal(recordProblem({ ...good, pid: "42" }, "c1.json"), "no process id");
  assert.equal(recordProblem({ ...good, pid: 0 }, "c1.json"), "no process id");
  assert.equal(recordProblem({ ...good, isolators: "x" }, "c1.json"), "no isolator list");
});

test("recovery: unusable records are removed with a warning and the other containers are still recovered", async () => {
  const workDir = join(root, "bad-records");
  const standalone = join(workDir, "meta", "standalone-containers");
  const nestedDir = join(workDir, "meta", "nested-containers", "exec");
  mkdirSync(standalone, { recursive: true });
  mkdirSync(nestedDir, { recursive: true });
  // Standalone records are read first: one that is JSON but no record stopped everything.
  writeFileSync(join(standalone, "a-null.json"), "null");
  writeFileSync(join(standalone, "b-empty.json"), "");
  writeFileSync(join(standalone, "c-other.json"), JSON.stringify({ childId: "d", pid: 5 }));
  const pid = freePid();
  const record = (childId: string) =>
    JSON.stringify({
      parentId: "exec",
      childId,
      pid,
      startTime: 1,
      directory: join(workDir, "exec-sandbox", "containers", childId),
      isolators: [],
    });
  writeFileSync(join(nestedDir, "kept.json"), record("kept"));
  writeFileSync(
    join(standalone, "sa.json"),
    JSON.stringify({ ...JSON.parse(record("sa")), parentId: "sa", standalone: true }),
  );
  const warnings: string[] = [];
  const nested = containers(workDir, { ...silentLogger, warn: (m) => warnings.push(m) });
  try {
    await nested.recover();
    // Their processes are gone: both end, without an exit status.
    const kept = nested.wait("exec", "kept");
    assert.ok(kept !== undefined, "the nested container was recovered");
    assert.deepEqual(await kept, {});
    const sa = nested.wait(undefined, "sa");
    assert.ok(sa !== undefined, "the valid standalone container was recovered");
    assert.deepEqual(await sa, {});
    assert.deepEqual(readdirSync(standalone).sort(), ["sa.json"]);
    assert.equal(warnings.length, 3, warnings.join("\n"));
    for (const w of warnings) {
      assert.match(w, /^Ignoring the unusable container checkpoint '.*': [^\n]+$/);
    }
  } finally {
    nested.stop();
  }
});

test("recovery: a container whose pid was taken by another process while the agent was down ends without killing that process", async () => {
  const workDir = join(root, "reused-pid");
  const nestedDir = join(workDir, "meta", "nested-containers", "exec");
  mkdirSync(nestedDir, { recursive: true });
  // Not the container's: started elsewhere, later than the record says.
  const other = spawn("sleep", ["1000"], { cwd: root, stdio: "ignore" });
  children.push(other);
  assert.ok(other.pid !== undefined);
  const sandbox = join(workDir, "exec-sandbox", "containers", "gone");
  mkdirSync(sandbox, { recursive: true });
  writeFileSync(
    join(nestedDir, "gone.json"),
    JSON.stringify({
      parentId: "exec",
      childId: "gone",
      pid: other.pid,
      startTime: 1,
      directory: sandbox,
      isolators: [],
    }),
  );
  const nested = containers(workDir);
  try {
    await nested.recover();
    const end = nested.wait("exec", "gone");
    assert.ok(end !== undefined);
    assert.deepEqual(await end, {});
    // A SIGKILL sent by the recovery would have won over this SIGTERM.
    const exited =
      other.exitCode !== null || other.signalCode !== null
        ? Promise.resolve(other.signalCode)
        : new Promise<NodeJS.Signals | null>((resolve) =>
            other.once("exit", (_code, signal) => resolve(signal)),
          );
    other.kill("SIGTERM");
    assert.equal(await exited, "SIGTERM");
  } finally {
    nested.stop();
  }
});
