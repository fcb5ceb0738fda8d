/**
 * The example frameworks in examples/ against a real master and agent.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, repoRoot, stopAll } from "../harness/processes.js";

let master: DaemonHandle;

before(async () => {
  ({ master } = await startOneAgentCluster());
});

after(stopAll);

/** Runs dist/examples/<name>.js to completion (killed after `timeoutMs`). */
function runExample(
  name: string,
  args: string[],
  timeoutMs = 90_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [join(repoRoot, "dist", "examples", `${name}.js`), ...args],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test("examples: the test framework runs 5 tasks on its custom executor and exits 0", async () => {
  const run = await runExample("test-framework", [`--master=${master.address}`]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const lines = run.stdout.split("\n");
  assert.equal(lines[0], "Registered!");
  assert.ok(
    lines.some((l) => /^Received offer \S+ with cpus\(allocated: \*\):/.test(l)),
    run.stdout,
  );
  for (let i = 0; i < 5; i++) {
    assert.ok(
      lines.some((l) => new RegExp(`^Launching task ${i} using offer \\S+$`).test(l)),
      `task ${i}`,
    );
    assert.ok(lines.includes(`Task ${i} is in state TASK_RUNNING`), run.stdout);
    assert.ok(lines.includes(`Task ${i} is in state TASK_FINISHED`), run.stdout);
  }
  assert.ok(!lines.some((l) => l.startsWith("Launching task 5")), "exactly 5 tasks");
});

test("examples: the long-lived framework relaunches tasks as they end", async () => {
  const run = await runExample("long-lived-framework", [
    `--master=${master.address}`,
    "--num_tasks=2",
    "--command=sleep 0.2",
    "--max_launches=4",
  ]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  for (let i = 1; i <= 4; i++) {
    assert.match(run.stdout, new RegExp(`^Launching task-${i} on agent `, "m"));
    assert.match(run.stdout, new RegExp(`^Task task-${i} is in state TASK_FINISHED`, "m"));
  }
  assert.match(run.stdout, /All 4 launches have ended; tearing down/);
});
