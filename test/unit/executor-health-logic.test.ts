/**
 * The command executor's health and check updates, with a fake task
 * launcher, a manual clock and real TCP probes against a closed port.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLogger } from "../../src/common/observability/logger.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { CommandExecutor } from "../../src/executor/command-executor.js";
import type { ExecutorHandlers, TaskStatusInput } from "../../src/executor/library.js";
import type { TaskInfo } from "../../src/executor/protocol.js";
import type { LaunchCallbacks, TaskLauncher } from "../../src/executor/task-process.js";
import { freePort } from "../harness/processes.js";

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(ok(), what);
}

test("command executor: a failing TCP health check sends unhealthy updates, then the task is killed: TASK_KILLED with healthy false", async () => {
  const port = await freePort(); // nothing listens there
  const clock = new ManualClock();
  const updates: TaskStatusInput[] = [];
  const signals: string[] = [];
  let callbacks: LaunchCallbacks | undefined;
  const launcher: TaskLauncher = {
    launch(_spec, cb) {
      callbacks = cb;
      return { pid: 4242, signalTree: (s) => signals.push(s) };
    },
  };
  const executor = new CommandExecutor({
    channel: {
      update: (s) => {
        updates.push(s);
        return String(updates.length);
      },
      canDeliver: () => true,
    },
    launcher,
    clock,
    logger: silentLogger,
    executorId: "ex",
    baseEnv: { PATH: "/bin" },
    shutdownGracePeriodMs: 5000,
    exit: () => {},
  });
  const h = executor.handlers() as Required<ExecutorHandlers>;
  h.subscribed({ executor_info: {}, framework_info: {}, agent_info: {} });
  const task = {
    name: "t",
    task_id: { value: "t" },
    agent_id: { value: "a" },
    command: { value: "sleep 100" },
    health_check: {
      type: "TCP",
      tcp: { port },
      delay_seconds: 1,
      interval_seconds: 1,
      grace_period_seconds: 0,
      consecutive_failures: 2,
    },
    check: { type: "TCP", tcp: { port }, delay_seconds: 1, interval_seconds: 1 },
  } as TaskInfo;
  h.launch(task);
  assert.deepEqual(
    updates.map((u) => u.state),
    ["TASK_STARTING", "TASK_RUNNING"],
  );
  assert.deepEqual(updates[1]?.check_status, { type: "TCP", tcp: {} });

  clock.advance(1000);
  const health = () =>
    updates.filter((u) => u.reason === "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED");
  const checks = () => updates.filter((u) => u.reason === "REASON_TASK_CHECK_STATUS_UPDATED");
  await until(
    "first health and check results",
    () => health().length === 1 && checks().length === 1,
  );
  assert.equal(health()[0]?.state, "TASK_RUNNING");
  assert.equal(health()[0]?.healthy, false);
  assert.deepEqual(checks()[0]?.check_status, { type: "TCP", tcp: { succeeded: false } });
  assert.equal(signals.length, 0);

  clock.advance(1000);
  await until("the second failure kills the task", () => signals.includes("SIGTERM"));
  assert.equal(health().length, 2);
  // The check result did not change: no new check update.
  assert.equal(checks().length, 1);

  // No health news after the kill, even when probes would be due.
  clock.advance(5000);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(health().length, 2);

  callbacks?.exited(null, "SIGTERM");
  const last = updates.at(-1);
  assert.equal(last?.state, "TASK_KILLED");
  assert.equal(last?.healthy, false);
  // Made from scratch, as in Mesos: the empty check status, not the latest result.
  assert.deepEqual(last?.check_status, { type: "TCP", tcp: {} });
});
