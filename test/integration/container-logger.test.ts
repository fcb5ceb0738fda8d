/**
 * The logrotate container logger with a real master and agent, turned on
 * the way Mesos users do (`--modules` naming
 * org_apache_mesos_LogrotateContainerLogger with `max_stdout_size` and
 * `logrotate_stdout_options`, and `--container_logger`). Command tasks
 * print more than the maximum; the sandbox then holds a short `stdout` and
 * the rotated files, `/files/read` serves `stdout`, and the logger
 * processes end with the container. Needs Debian's `logrotate` on PATH.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { executorsCheckpointed } from "../harness/checkpoints.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import {
  binPath,
  type DaemonHandle,
  freePort,
  runBinary,
  startAgent,
  stopAll,
  tempDir,
  waitFor,
} from "../harness/processes.js";
import {
  executeTask,
  LOGROTATE_MAX_STDOUT_BYTES,
  LOGROTATE_MODULE,
  LOGROTATE_MODULES,
  loggersEnd,
  logrotateSkipReason,
  printBytes,
  printedTail,
  processesWithMarker,
  sandboxOf,
  scalar,
} from "./containerizer-helpers.js";

let master: DaemonHandle;
let agent: DaemonHandle;
let scheduler: ChildProcess | undefined;

before(async () => {
  if (logrotateSkipReason !== undefined) return;
  ({ master, agent } = await startOneAgentCluster({
    modules: LOGROTATE_MODULES,
    container_logger: LOGROTATE_MODULE,
    executor_pool_size: 2,
  }));
});

after(async () => {
  scheduler?.kill("SIGKILL");
  await stopAll();
});

const small = [scalar("cpus", 0.1), scalar("mem", 64)];

test("container logger: stdout past max_stdout_size is rotated by logrotate, stderr kept", {
  skip: logrotateSkipReason,
}, async () => {
  const run = await executeTask(master, {
    name: "chatty",
    resources: small,
    command: printBytes(50_000),
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  const sandbox = await sandboxOf(agent, "chatty");
  await loggersEnd(sandbox);
  const files = readdirSync(sandbox);
  assert.ok(statSync(join(sandbox, "stdout")).size <= LOGROTATE_MAX_STDOUT_BYTES, files.join(" "));
  // `rotate 2`: logrotate keeps stdout.1 and stdout.2 and deletes older ones.
  assert.ok(files.includes("stdout.1"), files.join(" "));
  assert.ok(files.includes("stdout.2"), files.join(" "));
  assert.ok(!files.includes("stdout.3"), files.join(" "));
  for (const f of ["stdout.1", "stdout.2"])
    assert.ok(statSync(join(sandbox, f)).size <= LOGROTATE_MAX_STDOUT_BYTES);
  assert.ok(files.includes("stdout.logrotate.conf"), files.join(" "));
  // The last lines printed are in the leading file, ending with the output's last byte.
  const text = readFileSync(join(sandbox, "stdout"), "utf8");
  const expectedTail = printedTail(50_000);
  assert.ok(text.endsWith(expectedTail), `stdout ends with ${JSON.stringify(text.slice(-40))}`);
  assert.match(readFileSync(join(sandbox, "stderr"), "utf8"), /to-stderr/);
  // The logger's pipes are not left in the sandbox.
  assert.ok(!files.some((f) => f.endsWith(".fifo")), files.join(" "));
  const read = await fetch(
    `${agent.url}/files/read?path=${encodeURIComponent(`${sandbox}/stdout`)}&offset=0`,
  );
  assert.equal(read.status, 200);
  const body = (await read.json()) as { data: string; offset: number };
  assert.equal(body.data, text);
});

test("container logger: CONTAINER_LOGGER_MAX_STDOUT_SIZE in the task's environment overrides the size", {
  skip: logrotateSkipReason,
}, async () => {
  const run = await executeTask(master, {
    name: "overridden",
    resources: small,
    command: {
      value: printBytes(30_000),
      environment: { variables: [{ name: "CONTAINER_LOGGER_MAX_STDOUT_SIZE", value: "64KB" }] },
    },
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  const sandbox = await sandboxOf(agent, "overridden");
  await loggersEnd(sandbox);
  assert.equal(statSync(join(sandbox, "stdout")).size, 30_000);
  assert.ok(!existsSync(join(sandbox, "stdout.1")));
});

test("container logger: with a user switch the loggers run as the task's user", {
  skip:
    logrotateSkipReason ?? (process.getuid?.() !== 0 ? "switching users needs root" : undefined),
}, async () => {
  const run = await executeTask(master, {
    name: "as-nobody",
    resources: small,
    command: { value: printBytes(30_000), user: "nobody" },
  });
  assert.equal(run.finalState, "TASK_FINISHED", run.stdout);
  const sandbox = await sandboxOf(agent, "as-nobody");
  await loggersEnd(sandbox);
  const nobody = statSync(sandbox).uid;
  assert.notEqual(nobody, 0);
  for (const f of ["stdout", "stdout.1", "stderr"]) {
    assert.equal(statSync(join(sandbox, f)).uid, nobody, `${f} is not the task user's`);
  }
  assert.ok(statSync(join(sandbox, "stdout")).size <= LOGROTATE_MAX_STDOUT_BYTES);
});

test("container logger: a bad override fails the task's launch", {
  skip: logrotateSkipReason,
}, async () => {
  const run = await executeTask(master, {
    name: "bad-override",
    resources: small,
    command: {
      value: "true",
      environment: { variables: [{ name: "CONTAINER_LOGGER_MAX_FILES", value: "3" }] },
    },
  });
  assert.notEqual(run.finalState, "TASK_FINISHED", run.stdout);
  assert.match(run.stdout, /Failed to load container logger settings/);
});

test("container logger: a task group's tasks (nested containers) log through it too", {
  skip: logrotateSkipReason,
}, async () => {
  const group = {
    tasks: [
      {
        name: "grouped",
        task_id: { value: "grouped" },
        agent_id: { value: "" },
        resources: small,
        command: { value: printBytes(40_000) },
      },
    ],
  };
  const run = await runBinary(
    "mesos-execute",
    [`--master=${master.address}`, `--task_group=${JSON.stringify(group)}`],
    { timeoutMs: 45_000 },
  );
  assert.match(run.stdout, /TASK_FINISHED/, run.stdout + run.stderr);
  const nested = findDirectories(agent.workDir, (dir) => /\/containers\/[^/]+$/.test(dir));
  for (const dir of nested) await loggersEnd(dir);
  const sandbox = nested.find((dir) => existsSync(join(dir, "stdout.1")));
  const listing = nested.map((d) => `${d}: ${readdirSync(d).join(",")}`);
  assert.ok(sandbox !== undefined, `no rotated stdout in ${listing.join(" ")}`);
  assert.ok(statSync(join(sandbox, "stdout")).size <= LOGROTATE_MAX_STDOUT_BYTES);
});

test("container logger: the agent refuses another --container_logger or an unlisted module", {
  skip: logrotateSkipReason,
}, async () => {
  const other = await runBinary(
    "mesos-agent",
    [`--master=${master.address}`, "--work_dir=/nonexistent", "--container_logger=org_foo_Logger"],
    { timeoutMs: 20_000 },
  );
  assert.notEqual(other.code, 0);
  assert.match(other.stderr, /--container_logger='org_foo_Logger' names a Mesos module/);
  const unlisted = await runBinary(
    "mesos-agent",
    [
      `--master=${master.address}`,
      `--work_dir=${agent.workDir}/second`,
      "--ip=127.0.0.1",
      "--port=0",
      `--container_logger=${LOGROTATE_MODULE}`,
    ],
    { timeoutMs: 20_000 },
  );
  assert.notEqual(unlisted.code, 0);
  assert.match(unlisted.stderr, /Cannot create container logger: module .* is not listed/);
});

test("container logger: the logger outlives an agent restart and ends with its container", {
  skip: logrotateSkipReason,
}, async () => {
  // This test's agent replaces the shared one (same master, so offers come from it alone).
  await agent.stop();
  const port = await freePort();
  const flags = {
    modules: LOGROTATE_MODULES,
    container_logger: LOGROTATE_MODULE,
    work_dir: tempDir("agent-container-logger-"),
    registration_backoff_factor: "10ms",
    // The longest Mesos allows: recovery ends sooner, once the executor re-subscribes.
    executor_reregistration_timeout: "15secs",
    executor_shutdown_grace_period: "1secs",
  };
  let restarted = await startAgent({ master: master.address, port, flags });
  const task =
    'i=0; while [ ! -e stop ]; do i=$((i+1)); echo "tick $i"; sleep 0.05; done; echo end';
  let output = "";
  scheduler = spawn(
    process.execPath,
    [
      binPath("mesos-execute"),
      `--master=${master.address}`,
      "--name=ticker",
      `--command=${task}`,
      "--resources=cpus:0.1;mem:48",
      "--checkpoint",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  scheduler.stdout?.setEncoding("utf8").on("data", (d: string) => {
    output += d;
  });
  let exitCode: number | null | undefined;
  scheduler.once("exit", (c) => {
    exitCode = c;
  });
  const sandbox = await sandboxOf(restarted, "ticker");
  const stdout = join(sandbox, "stdout");
  const size = () => (existsSync(stdout) ? statSync(stdout).size : 0);
  await waitFor("the task's first lines in stdout", () => size() > 0);
  const loggers = processesWithMarker(`--log_filename=${stdout}`);
  assert.equal(loggers.length, 1, `logger processes: ${loggers.join(" ")}`);

  // Recovery waits only for executors whose pid is checkpointed.
  await executorsCheckpointed(flags.work_dir);
  restarted.kill("SIGKILL");
  await restarted.exited;
  // With no agent, the task's lines still reach the sandbox through the same logger.
  const whileDown = size();
  await waitFor("stdout to grow while the agent is down", () => size() > whileDown);
  assert.deepEqual(processesWithMarker(`--log_filename=${stdout}`), loggers);

  restarted = await startAgent({ master: master.address, port, flags });
  writeFileSync(join(sandbox, "stop"), "");
  await waitFor("mesos-execute to end", () => exitCode !== undefined, { timeoutMs: 30_000 });
  assert.equal(exitCode, 0, output);
  assert.match(output, /TASK_FINISHED/);
  await loggersEnd(sandbox);
  assert.match(readFileSync(stdout, "utf8"), /tick \d+\nend\n$/);
});

/** Directories under `root` (not following links) that `match`. */
function findDirectories(root: string, match: (dir: string) => boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(root, entry.name);
    if (match(dir)) out.push(dir);
    out.push(...findDirectories(dir, match));
  }
  return out;
}
