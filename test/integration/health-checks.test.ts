/**
 * Health checks and checks run by the real command executor, on a real
 * master and agent, observed through mesos-execute's status lines.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, freePort, runBinary, stopAll } from "../harness/processes.js";

let master: DaemonHandle;

before(async () => {
  ({ master } = await startOneAgentCluster());
});

after(stopAll);

const resources = [
  { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
  { name: "mem", type: "SCALAR", scalar: { value: 32 } },
];

function execute(task: Record<string, unknown>) {
  return runBinary(
    "mesos-execute",
    [`--master=${master.address}`, `--task=${JSON.stringify(task)}`],
    {
      timeoutMs: 60_000,
    },
  );
}

/** mesos-execute's output as one block per status update. */
function updates(stdout: string): string[] {
  return stdout
    .split(/\n(?=Received status update )/)
    .filter((b) => b.startsWith("Received status update "));
}

/** A command serving HTTP on `port` for `seconds`, then staying alive without it. */
function serveFor(port: number, seconds: number): string {
  const server = `require('http').createServer((q,s)=>s.end('ok')).listen(${port},'127.0.0.1')`;
  return `"${process.execPath}" -e "${server}" & pid=$!; sleep ${seconds}; kill $pid; sleep 60`;
}

test("health checks: an HTTP check flips healthy -> unhealthy when the server stops; a TCP check reports in check_status; the task is killed", async () => {
  const port = await freePort();
  const run = await execute({
    name: "http-health",
    task_id: { value: "http-health" },
    resources,
    command: { value: serveFor(port, 4) },
    health_check: {
      type: "HTTP",
      http: { port, path: "/" },
      delay_seconds: 0.3,
      interval_seconds: 0.3,
      timeout_seconds: 2,
      grace_period_seconds: 15,
      consecutive_failures: 2,
    },
    check: { type: "TCP", tcp: { port }, delay_seconds: 0.3, interval_seconds: 0.3 },
    kill_policy: { grace_period: { nanoseconds: 500_000_000 } },
  });
  const blocks = updates(run.stdout);
  const health = blocks.filter((b) =>
    b.includes("reason: REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"),
  );
  assert.ok(health.length >= 2, run.stdout);
  assert.match(health[0] ?? "", /^Received status update TASK_RUNNING/);
  assert.match(health[0] ?? "", /healthy\?: 1/);
  const unhealthy = health.findIndex((b) => b.includes("healthy?: 0"));
  assert.ok(unhealthy > 0, run.stdout);
  const checks = blocks.filter((b) => b.includes("reason: REASON_TASK_CHECK_STATUS_UPDATED"));
  assert.ok(
    checks.some((b) => b.includes("check status: TCP connection success")),
    run.stdout,
  );
  assert.ok(
    checks.some((b) => b.includes("check status: TCP connection failure")),
    run.stdout,
  );
  const last = blocks.at(-1) ?? "";
  assert.match(last, /^Received status update TASK_KILLED for task 'http-health'/, run.stdout);
  assert.match(last, /healthy\?: 0/);
});

test("health checks: a failing COMMAND check kills the task after consecutive_failures (TASK_KILLED, healthy false)", async () => {
  const run = await execute({
    name: "cmd-health",
    task_id: { value: "cmd-health" },
    resources,
    command: { value: "sleep 60" },
    health_check: {
      type: "COMMAND",
      command: { value: "test -f does-not-exist" },
      delay_seconds: 0.2,
      interval_seconds: 0.2,
      grace_period_seconds: 0,
      consecutive_failures: 3,
    },
    kill_policy: { grace_period: { nanoseconds: 500_000_000 } },
  });
  const blocks = updates(run.stdout);
  const failures = blocks.filter(
    (b) => b.includes("REASON_TASK_HEALTH_CHECK_STATUS_UPDATED") && b.includes("healthy?: 0"),
  );
  assert.equal(failures.length, 3, run.stdout);
  assert.ok(
    blocks.some((b) => b.startsWith("Received status update TASK_KILLING")),
    run.stdout,
  );
  const last = blocks.at(-1) ?? "";
  assert.match(last, /^Received status update TASK_KILLED for task 'cmd-health'/, run.stdout);
  assert.match(last, /healthy\?: 0/);
  assert.notEqual(run.code, 0);
});

test("health checks: an invalid check is refused by the master with TASK_ERROR", async () => {
  const run = await execute({
    name: "bad-check",
    task_id: { value: "bad-check" },
    resources,
    command: { value: "true" },
    check: { type: "HTTP", http: { port: 80, path: "no-slash" } },
  });
  const blocks = updates(run.stdout);
  const last = blocks.at(-1) ?? "";
  assert.match(last, /^Received status update TASK_ERROR/, run.stdout);
  assert.match(
    last,
    /Task uses invalid check: The path 'no-slash' of HTTP check must start with '\/'/,
  );
});

test("health checks: the default executor runs a task group's checks; a failing health check kills its task and the group", async () => {
  const group = {
    tasks: [
      {
        name: "probed",
        task_id: { value: "probed" },
        agent_id: { value: "" },
        resources,
        command: { value: "sleep 60" },
        health_check: {
          type: "COMMAND",
          command: { value: 'test -n "$MESOS_SANDBOX" && test -f marker' },
          delay_seconds: 0.2,
          interval_seconds: 0.2,
          grace_period_seconds: 0,
          consecutive_failures: 2,
        },
        check: { type: "COMMAND", command: { command: { value: "exit 7" } }, delay_seconds: 0.2 },
        kill_policy: { grace_period: { nanoseconds: 500_000_000 } },
      },
      {
        name: "sibling",
        task_id: { value: "sibling" },
        agent_id: { value: "" },
        resources,
        command: { value: "sleep 60" },
      },
    ],
  };
  const run = await runBinary(
    "mesos-execute",
    [`--master=${master.address}`, `--task_group=${JSON.stringify(group)}`],
    { timeoutMs: 60_000 },
  );
  const blocks = updates(run.stdout);
  const probed = blocks.filter((b) => b.includes("for task 'probed'"));
  assert.ok(
    probed.some((b) => b.includes("check status: COMMAND exit code 7")),
    run.stdout,
  );
  assert.equal(
    probed.filter((b) => b.includes("REASON_TASK_HEALTH_CHECK_STATUS_UPDATED")).length,
    2,
    run.stdout,
  );
  const last = probed.at(-1) ?? "";
  assert.match(last, /^Received status update TASK_KILLED for task 'probed'/, run.stdout);
  assert.match(last, /healthy\?: 0/);
  assert.ok(
    blocks.some((b) => b.startsWith("Received status update TASK_KILLED for task 'sibling'")),
    run.stdout,
  );
});
