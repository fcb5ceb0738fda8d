/**
 * Health checks and checks as a framework sees them through the v1
 * scheduler API, on a real master and agent with the real command and
 * default executors: HTTP probes follow redirects (Mesos runs `curl -L`),
 * `consecutive_failures: 0` kills on the first counted failure, updates
 * made from scratch (TASK_KILLING, the terminal one) carry the empty check
 * status, check commands write to the executor's stderr, and invalid check
 * commands are refused with Mesos' texts.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { ExecutorInfo, Offer, TaskInfo, TaskStatus } from "../../src/scheduler/index.js";
import { isTerminalState, SchedulerClient } from "../../src/scheduler/index.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, freePort, getJson, stopAll, waitFor } from "../harness/processes.js";

let master: DaemonHandle;
let agent: DaemonHandle;
let client: SchedulerClient;
/** Launches waiting for an offer, in order. */
const pending: ((offer: Offer) => Promise<unknown>)[] = [];
const updates: TaskStatus[] = [];

before(async () => {
  ({ master, agent } = await startOneAgentCluster());
  client = new SchedulerClient({
    master: master.address,
    framework: {
      user: userInfo().username,
      name: "health-checks-parity",
      capabilities: [{ type: "TASK_KILLING_STATE" }],
    },
  });
  client.start({
    offers: (offers) => {
      for (const offer of offers) {
        const launch = pending.shift();
        if (launch !== undefined) void launch(offer);
        else void client.decline([offer.id], { refuse_seconds: 0.2 });
      }
    },
    update: (status) => {
      updates.push(status);
    },
  });
});

after(async () => {
  if (client.state === "subscribed") await client.teardown();
  client.close();
  await stopAll();
});

const resources = [
  { name: "cpus", type: "SCALAR" as const, scalar: { value: 0.1 } },
  { name: "mem", type: "SCALAR" as const, scalar: { value: 32 } },
];

const killPolicy = { grace_period: { nanoseconds: 200_000_000 } };

function launch(tasks: TaskInfo[]): void {
  pending.push((offer) =>
    client.launch(
      [offer.id],
      tasks.map((t) => ({ ...t, agent_id: offer.agent_id })),
      { refuse_seconds: 0.2 },
    ),
  );
  void client.revive();
}

function launchGroup(executorId: string, tasks: TaskInfo[]): void {
  pending.push((offer) => {
    const executor: ExecutorInfo = {
      type: "DEFAULT",
      executor_id: { value: executorId },
      ...(client.frameworkId !== undefined ? { framework_id: client.frameworkId } : {}),
      resources: [...resources, { name: "disk", type: "SCALAR", scalar: { value: 16 } }],
    };
    return client.launchGroup(
      [offer.id],
      executor,
      tasks.map((t) => ({ ...t, agent_id: offer.agent_id })),
      { refuse_seconds: 0.2 },
    );
  });
  void client.revive();
}

function of(taskId: string): TaskStatus[] {
  return updates.filter((u) => u.task_id.value === taskId);
}

function show(taskId: string): string {
  return of(taskId)
    .map((u) =>
      JSON.stringify({
        state: u.state,
        reason: u.reason,
        healthy: u.healthy,
        check_status: u.check_status,
        message: u.message,
      }),
    )
    .join("\n");
}

async function terminal(taskId: string, timeoutMs = 60_000): Promise<TaskStatus> {
  await waitFor(
    `a terminal update of ${taskId}`,
    () => of(taskId).some((u) => isTerminalState(u.state)),
    { timeoutMs, intervalMs: 20 },
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}\nupdates so far:\n${show(taskId)}`);
  });
  return of(taskId).find((u) => isTerminalState(u.state)) as TaskStatus;
}

const healthUpdates = (taskId: string) =>
  of(taskId).filter((u) => u.reason === "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED");

/**
 * A node HTTP server for a task: `/r` redirects to `/ok` (200); `/health`
 * answers 200 at least once and until `/r` was asked twice, then redirects
 * to `/missing` (404).
 * The second `/r` only comes once the first check result was reported (the
 * checker starts a probe after handling the previous one).
 */
function redirectingServer(port: number): string {
  const script = [
    "let seen=0,up=false;",
    "require('http').createServer((q,s)=>{",
    "if(q.url==='/r'){seen++;s.writeHead(302,{Location:'/ok'});return s.end()}",
    "if(q.url==='/ok'){return s.end('ok')}",
    "if(q.url==='/health'){if(!up||seen<2){up=true;return s.end('ok')}s.writeHead(302,{Location:'/missing'});return s.end()}",
    "s.statusCode=404;s.end()",
    `}).listen(${port},'127.0.0.1')`,
  ].join("");
  return `exec "${process.execPath}" -e "${script}"`;
}

test("health checks (command executor): HTTP probes follow redirects; TASK_KILLING and TASK_KILLED carry the empty check status", async () => {
  const port = await freePort();
  launch([
    {
      name: "redirects",
      task_id: { value: "redirects" },
      agent_id: { value: "" },
      resources,
      command: { value: redirectingServer(port) },
      check: {
        type: "HTTP",
        http: { port, path: "/r" },
        delay_seconds: 0.2,
        interval_seconds: 0.2,
      },
      health_check: {
        type: "HTTP",
        http: { port, path: "/health" },
        delay_seconds: 0.2,
        interval_seconds: 0.2,
        grace_period_seconds: 30,
        consecutive_failures: 1,
      },
      kill_policy: killPolicy,
    },
  ]);
  const last = await terminal("redirects");
  const all = of("redirects");
  const codes = all.map((u) => u.check_status?.http?.status_code).filter((c) => c !== undefined);
  // The check reports where the redirect led, never the 302 itself.
  assert.ok(codes.includes(200), show("redirects"));
  assert.ok(!codes.includes(302), show("redirects"));
  // /health turned into a redirect to a 404: unhealthy (Mesos judges the final answer).
  const health = healthUpdates("redirects");
  assert.equal(health[0]?.healthy, true, show("redirects"));
  assert.equal(health.at(-1)?.healthy, false, show("redirects"));
  // Health updates carry the latest check result.
  assert.equal(health.at(-1)?.check_status?.http?.status_code, 200, show("redirects"));
  const killing = all.find((u) => u.state === "TASK_KILLING");
  assert.deepEqual(killing?.check_status, { type: "HTTP", http: {} }, show("redirects"));
  assert.equal(last.state, "TASK_KILLED", show("redirects"));
  assert.equal(last.healthy, false);
  assert.deepEqual(last.check_status, { type: "HTTP", http: {} }, show("redirects"));
});

test("health checks (command executor): consecutive_failures 0 kills on the first counted failure; the check command writes to the executor's stderr", async () => {
  launch([
    {
      name: "zero-failures",
      task_id: { value: "zero-failures" },
      agent_id: { value: "" },
      resources,
      command: { value: "sleep 60" },
      health_check: {
        type: "COMMAND",
        command: { value: "echo zero-failures-probe-output >&2; exit 1" },
        delay_seconds: 0.2,
        interval_seconds: 0.2,
        grace_period_seconds: 0,
        consecutive_failures: 0,
      },
      kill_policy: killPolicy,
    },
  ]);
  const last = await terminal("zero-failures");
  const health = healthUpdates("zero-failures");
  assert.equal(health.length, 1, show("zero-failures"));
  assert.equal(health[0]?.healthy, false);
  assert.equal(last.state, "TASK_KILLED", show("zero-failures"));
  assert.equal(last.healthy, false);
  // The check command's output is in the executor's stderr in the sandbox (as Mesos').
  const state = await getJson<AgentState>(`${agent.url}/state`);
  const executor = (state?.frameworks ?? [])
    .concat(state?.completed_frameworks ?? [])
    .flatMap((f) => [...(f.executors ?? []), ...(f.completed_executors ?? [])])
    .find((e) => e.id === "zero-failures");
  assert.ok(executor !== undefined, "the agent lists the executor");
  assert.match(
    readFileSync(join(executor.directory, "stderr"), "utf8"),
    /zero-failures-probe-output/,
  );
});

interface AgentState {
  frameworks?: AgentFramework[];
  completed_frameworks?: AgentFramework[];
}
interface AgentFramework {
  executors?: { id: string; directory: string }[];
  completed_executors?: { id: string; directory: string }[];
}

test("health checks (default executor): a task group's KILL sends TASK_KILLING and TASK_KILLED with the empty check status; health updates carry the latest check", async () => {
  launchGroup("parity-group", [
    {
      name: "grouped",
      task_id: { value: "grouped" },
      agent_id: { value: "" },
      resources,
      command: { value: "sleep 60" },
      check: {
        type: "COMMAND",
        command: { command: { value: "exit 4" } },
        delay_seconds: 0.2,
        interval_seconds: 0.2,
      },
      health_check: {
        type: "COMMAND",
        command: { value: "true" },
        delay_seconds: 0.2,
        interval_seconds: 0.2,
      },
      kill_policy: killPolicy,
    },
  ]);
  await waitFor(
    "a check result and a health result for 'grouped'",
    () =>
      of("grouped").some((u) => u.check_status?.command?.exit_code === 4) &&
      healthUpdates("grouped").length > 0,
    { timeoutMs: 60_000, intervalMs: 20 },
  );
  const agentId = of("grouped")[0]?.agent_id;
  await client.kill({ value: "grouped" }, agentId);
  const last = await terminal("grouped");
  const killing = of("grouped").find((u) => u.state === "TASK_KILLING");
  assert.deepEqual(killing?.check_status, { type: "COMMAND", command: {} }, show("grouped"));
  assert.equal(last.state, "TASK_KILLED", show("grouped"));
  assert.deepEqual(last.check_status, { type: "COMMAND", command: {} }, show("grouped"));
  assert.equal(last.healthy, undefined, "a KILL from the framework is not a health kill");
  // A health update after the check result repeats it (Mesos copies the last update).
  const checked = of("grouped").findIndex((u) => u.check_status?.command?.exit_code === 4);
  for (const u of of("grouped").slice(checked)) {
    if (u.reason === "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED") {
      assert.equal(u.check_status?.command?.exit_code, 4, show("grouped"));
    }
  }
});

test("health checks: an invalid environment in a check or health check command is refused with Mesos' texts", async () => {
  launch([
    {
      name: "bad-health-env",
      task_id: { value: "bad-health-env" },
      agent_id: { value: "" },
      resources,
      command: { value: "sleep 60" },
      health_check: {
        type: "COMMAND",
        command: { value: "true", environment: { variables: [{ name: "NOVALUE" }] } },
      },
    },
    {
      name: "bad-check-env",
      task_id: { value: "bad-check-env" },
      agent_id: { value: "" },
      resources,
      command: { value: "sleep 60" },
      check: {
        type: "COMMAND",
        command: {
          command: { value: "true", environment: { variables: [{ name: "U", type: "UNKNOWN" }] } },
        },
      },
    },
  ]);
  const health = await terminal("bad-health-env");
  assert.equal(health.state, "TASK_ERROR");
  assert.equal(health.reason, "REASON_TASK_INVALID");
  assert.equal(
    health.message,
    "Task uses invalid health check: Health check's `CommandInfo` is invalid: " +
      "Environment variable 'NOVALUE' of type 'VALUE' must have a value set",
  );
  const check = await terminal("bad-check-env");
  assert.equal(check.state, "TASK_ERROR");
  assert.equal(
    check.message,
    "Task uses invalid check: Check's `CommandInfo` is invalid: " +
      "Environment variable of type 'UNKNOWN' is not allowed",
  );
});
