/**
 * High availability with a real ZooKeeper and real processes: three masters
 * elected through `--zk`, agents and a framework following the leader
 * through `--master=zk://...`. Skips when ZooKeeper is not installed.
 */
import assert from "node:assert/strict";
import { userInfo } from "node:os";
import { after, before, test } from "node:test";
import { SchedulerClient, type TaskStatus } from "../../src/scheduler/index.js";
import { elected, leaderOf } from "../harness/leader.js";
import {
  type DaemonHandle,
  getJson,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  waitFor,
} from "../harness/processes.js";
import { launchOnce } from "../harness/queued-tasks.js";
import { startZooKeeper, type ZooKeeper, zookeeperSkip } from "../harness/zookeeper.js";

const skip = zookeeperSkip;
let zk: ZooKeeper;
const masters: DaemonHandle[] = [];
const clients: SchedulerClient[] = [];

/** Masters elect through ZooKeeper; a killed leader's session ends after 3 s. */
function masterFlags(url: string): Record<string, string | number | boolean> {
  return {
    zk: url,
    quorum: 2,
    registry: "replicated_log",
    zk_session_timeout: "3secs",
    agent_ping_timeout: "1secs",
    max_agent_ping_timeouts: 5,
    allocation_interval: "100ms",
  };
}

async function get(url: string): Promise<Response> {
  return fetch(url, { redirect: "manual" });
}

before(async () => {
  if (skip !== false) return;
  zk = await startZooKeeper();
  for (let i = 0; i < 3; i++) {
    masters.push(await startMaster({ flags: masterFlags(zk.url("/mesos")) }));
  }
});

after(async () => {
  for (const c of clients) c.close();
  await stopAll();
  await zk?.stop();
});

// (All URL forms and errors are covered by test/unit/zookeeper-url.test.ts.)
test("ha: bad --zk values stop the master at start with a clear line", { skip }, async () => {
  const cases = [
    ["zk://", /Failed to parse --zk: Invalid ZooKeeper URL 'zk:\/\/': no servers/],
    ["zk://127.0.0.1:99999/mesos", /bad port '99999'/],
  ] as const;
  const runs = await Promise.all(
    cases.map(([zkValue]) =>
      runBinary(
        "mesos-master",
        [`--zk=${zkValue}`, "--quorum=1", "--registry=in_memory", "--port=0", "--ip=127.0.0.1"],
        { timeoutMs: 30_000 },
      ),
    ),
  );
  for (const [i, [zkValue, expected]] of cases.entries()) {
    const run = runs[i];
    assert.ok(run);
    assert.equal(run.code, 1, `${zkValue}: ${run.stderr}`);
    assert.match(run.stderr, expected);
  }
  const noQuorum = await runBinary("mesos-master", [
    `--zk=${zk.url("/x")}`,
    "--work_dir=/tmp/unused",
  ]);
  assert.equal(noQuorum.code, 1);
  assert.match(noQuorum.stderr, /Need to specify --quorum/);
});

test("ha: an unreachable ZooKeeper leaves the master waiting and serving, not crash-looping", {
  skip,
}, async () => {
  // A port nothing listens on (a stopped ensemble member would do the same).
  const lonely = await startMaster({
    flags: {
      zk: "zk://127.0.0.1:1/mesos",
      quorum: 1,
      zk_session_timeout: "1secs",
    },
  });
  const state = await get(`${lonely.url}/master/state`);
  assert.equal(state.status, 503, "no leader known: 503");
  assert.equal((await get(`${lonely.url}/health`)).status, 200);
  await waitFor("the master to log that it waits for ZooKeeper", () =>
    lonely.logs().includes("Still waiting for ZooKeeper"),
  );
  assert.equal(lonely.child.exitCode, null, "still running");
  await lonely.stop();
});

test("ha: an agent serves before any master is elected, and registers once one is", {
  skip,
}, async () => {
  // Its own path: no master there yet, as Mesos' agent it listens and recovers meanwhile.
  const url = zk.url("/late");
  const agent = await startAgent({
    master: url,
    flags: { registration_backoff_factor: "100ms" },
  });
  const state = await get(`${agent.url}/state`);
  assert.equal(state.status, 200, "recovered, waiting for a master");
  assert.equal(((await state.json()) as { master_hostname?: string }).master_hostname, undefined);
  await waitFor("the agent to say it waits for a master", () =>
    agent.logs().includes("No leading master detected yet"),
  );
  const late = await startMaster({ flags: { ...masterFlags(url), quorum: 1 } });
  await waitFor("the late master to lead", () => elected(late));
  await waitFor("the agent registered with the late master", async () => {
    const s = await getJson<{ slaves: { active: boolean }[] }>(`${late.url}/master/slaves`);
    return (s?.slaves ?? []).some((a) => a.active);
  });
  await late.stop();
  await agent.stop();
});

test("ha: kill -9 the leader; another leads, agents and the framework follow, the task keeps running", {
  skip,
}, async () => {
  const url = zk.url("/mesos");
  const first = await leaderOf(masters);
  const standbys = masters.filter((m) => m !== first);

  // Standbys: leader-only endpoints redirect, local ones answer.
  for (const s of standbys) {
    const state = await get(`${s.url}/master/state?jsonp=x`);
    assert.equal(state.status, 307);
    assert.match(
      state.headers.get("location") ?? "",
      new RegExp(`^//[^/]+:${first.port}/master/state\\?jsonp=x$`),
    );
    const redirect = await get(`${s.url}/master/redirect`);
    assert.equal(redirect.status, 307);
    assert.match(redirect.headers.get("location") ?? "", new RegExp(`^//[^/]+:${first.port}$`));
    // Below /master/redirect is 404 (no redirect loop), as on the leader.
    assert.equal((await get(`${s.url}/master/redirect/`)).status, 404);
    assert.equal((await get(`${s.url}/health`)).status, 200);
    assert.equal((await get(`${s.url}/version`)).status, 200);
    assert.equal((await get(`${s.url}/flags`)).status, 200);
    const v1 = await fetch(`${s.url}/api/v1`, {
      method: "POST",
      redirect: "manual",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ type: "GET_HEALTH" }),
    });
    assert.equal(v1.status, 307);
    assert.equal(await elected(s), false);
  }

  const agents = [
    await startAgent({ master: url, flags: { registration_backoff_factor: "100ms" } }),
    await startAgent({ master: url, flags: { registration_backoff_factor: "100ms" } }),
  ];
  const agentIds = await waitFor("both agents registered with the leader", async () => {
    const slaves = await getJson<{ slaves: { id: string; active: boolean }[] }>(
      `${first.url}/master/slaves`,
    );
    const ids = (slaves?.slaves ?? []).filter((s) => s.active).map((s) => s.id);
    return ids.length === 2 ? ids.sort() : undefined;
  });

  const updates: TaskStatus[] = [];
  let subscriptions = 0;
  const client = new SchedulerClient({
    master: url,
    framework: {
      user: userInfo().username,
      name: "ha-long-task",
      checkpoint: true,
      failover_timeout: 3600,
    },
    backoff: { initialMs: 200, maxMs: 1000 },
  });
  clients.push(client);
  client.start({
    subscribed: () => {
      subscriptions++;
    },
    update: (status) => updates.push(status),
    offers: launchOnce(client, "long", "sleep 600"),
  });
  await waitFor("the long task RUNNING", () =>
    updates.some((u) => u.task_id.value === "long" && u.state === "TASK_RUNNING"),
  );
  const frameworkId = client.frameworkId?.value;
  assert.ok(frameworkId);

  first.kill("SIGKILL");
  await first.exited;
  const second = await leaderOf(standbys, 40_000);
  assert.match(second.logs(), /Elected as the leading master!/);

  // mesos resolve follows ZooKeeper.
  const resolved = await runBinary("mesos", ["resolve", url], { timeoutMs: 30_000 });
  assert.equal(resolved.code, 0, resolved.stderr);
  assert.equal(resolved.stdout, `127.0.0.1:${second.port}\n`);
  // The remaining standby points at the new leader.
  const third = standbys.find((m) => m !== second);
  assert.ok(third);
  const redirect = await get(`${third.url}/master/redirect`);
  assert.match(redirect.headers.get("location") ?? "", new RegExp(`:${second.port}$`));

  // Agents re-register with their ids.
  await waitFor(
    "both agents re-registered with the new leader under the same ids",
    async () => {
      const slaves = await getJson<{ slaves: { id: string; active: boolean }[] }>(
        `${second.url}/master/slaves`,
      );
      const ids = (slaves?.slaves ?? []).filter((s) => s.active).map((s) => s.id);
      return ids.length === 2 && ids.sort().join() === agentIds.join();
    },
    { timeoutMs: 40_000 },
  );
  // The framework re-subscribes with its id and still has its task.
  await waitFor("the framework re-subscribed", () => subscriptions >= 2, { timeoutMs: 40_000 });
  assert.equal(client.frameworkId?.value, frameworkId);
  await waitFor(
    "the new leader to show the framework's task RUNNING",
    async () => {
      const state = await getJson<{
        frameworks: { id: string; tasks: { id: string; state: string }[] }[];
      }>(`${second.url}/master/state`);
      const fw = state?.frameworks.find((f) => f.id === frameworkId);
      return fw?.tasks.some((t) => t.id === "long" && t.state === "TASK_RUNNING") === true;
    },
    { timeoutMs: 40_000 },
  );
  const before = updates.length;
  await client.reconcile([]);
  await waitFor("reconciliation to report the task RUNNING", () =>
    updates.slice(before).some((u) => u.task_id.value === "long" && u.state === "TASK_RUNNING"),
  );
  assert.ok(
    !updates.some((u) => u.task_id.value === "long" && /LOST|FAILED|KILLED|GONE/.test(u.state)),
    `no terminal update for the task: ${updates.map((u) => u.state).join(",")}`,
  );
  for (const a of agents) assert.equal(a.child.exitCode, null, "agents keep running");
});

test("ha: a leader whose ZooKeeper session expires exits on purpose; another leads", {
  skip,
}, async () => {
  const alive = masters.filter((m) => m.child.exitCode === null && m.child.signalCode === null);
  const leader = await leaderOf(alive);
  const others = alive.filter((m) => m !== leader);
  // Freeze the leader: its session times out on the server (3 s).
  leader.kill("SIGSTOP");
  // Elected is enough: with one master left of --quorum=2 it cannot recover.
  const next = await leaderOf(others, 40_000, false);
  assert.notEqual(next, leader);
  leader.kill("SIGCONT");
  const code = await leader.exited;
  assert.equal(code, 1, "the deposed leader exits with status 1");
  assert.match(leader.logs(), /committing suicide/);
});
