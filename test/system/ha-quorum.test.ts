/**
 * High availability, checked against Mesos' behaviour with a real
 * ZooKeeper and real masters: the log replica group and `--quorum` (an
 * elected master recovers only with a quorum of masters there, else it
 * waits and, after `--registry_fetch_timeout`, exits), a standby whose
 * ZooKeeper session expired knows no leader (503), and a closed ZooKeeper
 * session leaves no timer behind (`mesos resolve zk://` exits at once), and
 * `mesos resolve` takes a file:// holding a zk:// URL, as mesos-resolve.
 * Skips when ZooKeeper is not installed.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { silentLogger } from "../../src/common/observability/logger.js";
import { codecFor } from "../../src/common/protocol/index.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { ZkSession } from "../../src/common/zookeeper/session.js";
import { parseZkUrl } from "../../src/common/zookeeper/url.js";
import { elected, leaderOf, running, v1Status } from "../harness/leader.js";
import { metricsSnapshot } from "../harness/metrics.js";
import {
  getJson,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
} from "../harness/processes.js";
import { sharedZooKeeper, zookeeperSkip } from "../harness/zookeeper.js";

const skip = zookeeperSkip;
const zk = sharedZooKeeper();

after(async () => {
  await stopAll();
  await zk.stop();
});

async function get(url: string): Promise<Response> {
  return fetch(url, { redirect: "manual" });
}

/** A session of our own on the test's ZooKeeper, for reading znodes. */
async function reader(url: string): Promise<ZkSession> {
  const parsed = parseZkUrl(url);
  assert.ok(parsed.ok);
  const session = new ZkSession({
    url: parsed.value,
    sessionTimeoutMs: 10_000,
    logger: silentLogger,
    clock: new ManualClock(),
  });
  session.start();
  await session.whenConnected();
  return session;
}

test("ha/quorum: an elected master waits for --quorum masters in <path>/log_replicas before it serves", {
  skip,
}, async () => {
  const z = await zk.get();
  const url = z.url("/quorum");
  const flags = { zk: url, quorum: 2, registry: "replicated_log", zk_session_timeout: "3secs" };
  const first = await startMaster({ flags });
  // Elected, but a new registry needs every one of the 2 * 2 - 1 masters.
  await waitFor("the first master elected and waiting", async () => {
    const m = await metricsSnapshot(first);
    return m["master/elected"] === 1 && m["registrar/log/ensemble_size"] === 1;
  });
  assert.equal((await metricsSnapshot(first))["registrar/log/recovered"], 0);
  const scheduler = await get(`${first.url}/api/v1/scheduler`);
  assert.equal(scheduler.status, 503);
  assert.equal(await scheduler.text(), "Master has not finished recovery");
  const redirect = await get(`${first.url}/master/redirect`);
  assert.equal(redirect.status, 307);
  assert.match(redirect.headers.get("location") ?? "", new RegExp(`^//[^/]+:${first.port}$`));

  // Each master's replica: `<path>/log_replicas/<10 digits>` holding its UPID, as Mesos writes it.
  const session = await reader(url);
  const names = await session.getChildren("/quorum/log_replicas");
  assert.equal(names.length, 1);
  assert.match(names[0] ?? "", /^\d{10}$/);
  const data = await session.getData(`/quorum/log_replicas/${names[0]}`);
  assert.equal(data?.data.toString(), `log-replica(1)@127.0.0.1:${first.port}`);

  const second = await startMaster({ flags });
  await waitFor("a quorum seen by the first", async () => {
    const m = await metricsSnapshot(first);
    return m["registrar/log/ensemble_size"] === 2 && m["registrar/log/recovered"] === 1;
  });
  // Still short of the 3 a never-written registry needs.
  assert.equal(await v1Status(first), 503);
  const third = await startMaster({ flags });
  await waitFor("the leader recovered and serving", async () => {
    return (await v1Status(first)) === 200;
  });
  assert.equal(await session.getData("/quorum/registry").then((r) => r !== undefined), true);
  assert.equal(await elected(second), false);

  // With the registry written, a quorum (2) is enough. A standby goes, then
  // the leader: the last master is elected alone and waits for a second.
  await third.stop();
  const beforeFailover = Date.now() / 1000;
  await first.stop();
  await waitFor("the last master elected and waiting for a second replica", async () => {
    const m = await metricsSnapshot(second);
    return m["master/elected"] === 1 && m["registrar/log/ensemble_size"] === 1;
  });
  assert.equal(await v1Status(second), 503);
  const back = await startMaster({ flags });
  await waitFor("the second master serving with a quorum back", async () => {
    return (await v1Status(second)) === 200;
  });
  assert.equal(await elected(back), false);
  // As Mesos: start_time is when the process started, elected_time when it was elected.
  const state = await getJson<{
    start_time: number;
    elected_time: number;
    leader_info?: { port: number };
  }>(`${second.url}/master/state`);
  assert.ok(state !== undefined);
  assert.ok(state.start_time < beforeFailover, JSON.stringify(state));
  assert.ok(state.elected_time >= beforeFailover, JSON.stringify(state));
  assert.equal(state.leader_info?.port, second.port);
  session.close();
});

test("ha/quorum: without a quorum the elected master exits after --registry_fetch_timeout", {
  skip,
}, async () => {
  const z = await zk.get();
  const lonely = await startMaster({
    flags: {
      zk: z.url("/lonely"),
      quorum: 2,
      registry: "replicated_log",
      zk_session_timeout: "3secs",
      registry_fetch_timeout: "1secs",
    },
  });
  await waitFor("the lonely master to exit", () => !running(lonely), { timeoutMs: 30_000 });
  assert.equal(lonely.child.exitCode, 1);
  assert.match(
    lonely.logs(),
    /Recovery failed: Failed to recover registrar: Failed to perform fetch within 1secs/,
  );
});

test("ha/quorum: a leader left without a quorum cannot write the registry and exits after --registry_store_timeout", {
  skip,
}, async () => {
  const z = await zk.get();
  const url = z.url("/store");
  const flags = {
    zk: url,
    quorum: 2,
    registry: "replicated_log",
    zk_session_timeout: "3secs",
    registry_store_timeout: "1secs",
  };
  const masters = [
    await startMaster({ flags }),
    await startMaster({ flags }),
    await startMaster({ flags }),
  ];
  const leader = await leaderOf(masters);
  await waitFor("the leader serving", async () => {
    return (await v1Status(leader)) === 200;
  });
  for (const m of masters) if (m !== leader) await m.stop();
  await waitFor("the leader to see one replica left", async () => {
    return (await metricsSnapshot(leader))["registrar/log/ensemble_size"] === 1;
  });
  // Admitting an agent is a registry write: it cannot reach a quorum.
  await startAgent({ master: url, flags: { registration_backoff_factor: "100ms" } });
  await waitFor("the leader to exit", () => !running(leader), { timeoutMs: 30_000 });
  assert.equal(leader.child.exitCode, 1);
  assert.match(
    leader.logs(),
    /Failed to update registry: Failed to perform store within 1secs \(1 of the 2 log replicas/,
  );
});

test("ha/quorum: --registry=in_memory has no log replicas and needs no quorum", {
  skip,
}, async () => {
  const z = await zk.get();
  const url = z.url("/inmem");
  const m = await startMaster({ flags: { zk: url, quorum: 3, registry: "in_memory" } });
  await leaderOf([m]);
  assert.equal((await get(`${m.url}/master/state`)).status, 200);
  const snap = await metricsSnapshot(m);
  assert.equal(snap["registrar/log/ensemble_size"], undefined);
  const session = await reader(url);
  assert.equal(await session.exists("/inmem/log_replicas"), false);
  session.close();
  await m.stop();
});

test("ha/expiry: a standby whose ZooKeeper session expired knows no leader (503) until it reconnects", {
  skip,
}, async () => {
  const z = await zk.get();
  const flags = { zk: z.url("/expiry"), quorum: 1, zk_session_timeout: "2secs" };
  const leader = await startMaster({ flags });
  await leaderOf([leader]);
  const standby = await startMaster({ flags });
  await waitFor("the standby redirecting to the leader", async () => {
    const r = await get(`${standby.url}/master/redirect`);
    return r.status === 307;
  });
  const server = z.servers[0];
  assert.ok(server !== undefined);
  server.signal("SIGSTOP");
  try {
    await waitFor(
      "the standby's session to expire: no leader",
      async () => {
        const r = await get(`${standby.url}/master/redirect`);
        return r.status === 503 ? await r.text() : undefined;
      },
      { timeoutMs: 30_000 },
    ).then((body) => assert.equal(body, "No leader elected"));
    assert.equal((await get(`${standby.url}/master/state`)).status, 503);
  } finally {
    server.signal("SIGCONT");
  }
  // The leader's session expired too: it exits; the standby leads.
  await waitFor("the old leader gone", () => !running(leader), { timeoutMs: 30_000 });
  await leaderOf([standby]);
});

test("ha/expiry: an agent whose ZooKeeper session expired drops its master, then re-registers with the same leader", {
  skip,
}, async () => {
  const z = await zk.get();
  const url = z.url("/agent-expiry");
  // The master's session outlives the short freeze below; the agent's does not.
  const master = await startMaster({ flags: { zk: url, quorum: 1, zk_session_timeout: "8secs" } });
  await leaderOf([master]);
  const agent = await startAgent({
    master: url,
    flags: { zk_session_timeout: "1secs", registration_backoff_factor: "100ms" },
  });
  const registered = async (): Promise<number | undefined> =>
    (await getJson<Record<string, number>>(`${agent.url}/metrics/snapshot`))?.["slave/registered"];
  await waitFor("the agent registered", async () => (await registered()) === 1);
  const server = z.servers[0];
  assert.ok(server !== undefined);
  server.signal("SIGSTOP");
  try {
    await waitFor("the agent to lose its leading master", async () => (await registered()) === 0, {
      timeoutMs: 30_000,
    });
  } finally {
    server.signal("SIGCONT");
  }
  await waitFor("the agent registered again with the same master", async () => {
    return (await registered()) === 1;
  });
  // Registered again through a new detection of the same leader, as Mesos' agent.
  const logs = agent.logs();
  const lostAt = logs.indexOf("Lost leading master");
  assert.ok(lostAt >= 0, "the agent logs losing its leading master");
  assert.ok(
    logs.indexOf(`New master detected at master@127.0.0.1:${master.port}`, lostAt) > lostAt,
  );
  assert.ok(running(master));
  assert.ok(await elected(master));
});

test("mesos resolve: zk:// and a file:// holding a zk:// URL print the leader's ip:port", {
  skip,
}, async () => {
  const z = await zk.get();
  const url = z.url("/resolve");
  const m = await startMaster({ flags: { zk: url, quorum: 1 } });
  await leaderOf([m]);
  const file = join(tempDir("resolve-"), "master");
  writeFileSync(file, `${url}\n`);
  for (const address of [url, `file://${file}`]) {
    const run = await runBinary("mesos", ["resolve", address], { timeoutMs: 30_000 });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), m.address);
  }
  await m.stop();
});

test("ha/znodes: older masters' `info_` (binary MasterInfo) and unlabelled (UPID) members count in the election, as in Mesos", {
  skip,
}, async () => {
  const z = await zk.get();
  const url = z.url("/legacy");
  const old = await reader(url);
  await old.mkdirp("/legacy");
  // The oldest: an unlabelled member holding a UPID; then an `info_` one.
  const bare = await old.create(
    "/legacy/",
    Buffer.from("master@127.0.0.1:2"),
    "ephemeral-sequential",
  );
  assert.match(bare, /^\/legacy\/\d{10}$/);
  const binary = codecFor("mesos.v1.MasterInfo").encodeProtobuf({
    id: "legacy",
    ip: 16777343,
    port: 1,
    pid: "master@127.0.0.1:1",
    hostname: "legacy-host",
  });
  await old.create("/legacy/info_", Buffer.from(binary), "ephemeral-sequential");
  const m = await startMaster({ flags: { zk: url, quorum: 1 } });
  const resolve = async (): Promise<string> => {
    const run = await runBinary("mesos", ["resolve", url], { timeoutMs: 30_000 });
    assert.equal(run.code, 0, run.stderr);
    return run.stdout.trim();
  };
  assert.equal(await resolve(), "127.0.0.1:2");
  await waitFor("the master to redirect to the unlabelled member", async () => {
    const r = await get(`${m.url}/master/redirect`);
    return r.headers.get("location") === "//127.0.0.1:2";
  });
  await old.remove(bare);
  await waitFor("the master to redirect to the `info_` member", async () => {
    const r = await get(`${m.url}/master/redirect`);
    return r.headers.get("location") === "//legacy-host:1";
  });
  assert.equal(await resolve(), "127.0.0.1:1");
  assert.equal(await elected(m), false);
  old.close();
  await leaderOf([m]);
  assert.equal(await resolve(), m.address);
  await m.stop();
});

test("ha/auth: a standby authenticates before it redirects (401 for anonymous requests), as libprocess does", {
  skip,
}, async () => {
  const z = await zk.get();
  const file = join(tempDir("standby-auth-"), "credentials.json");
  writeFileSync(file, JSON.stringify({ credentials: [{ principal: "ops", secret: "pw" }] }));
  const flags = {
    zk: z.url("/auth"),
    quorum: 1,
    credentials: `file://${file}`,
    authenticate_http_readonly: true,
    authenticate_http_readwrite: true,
  };
  const basic = { authorization: `Basic ${Buffer.from("ops:pw").toString("base64")}` };
  const leader = await startMaster({ flags });
  await waitFor("the master elected", async () => {
    const r = await fetch(`${leader.url}/metrics/snapshot`, { headers: basic });
    return r.ok && ((await r.json()) as Record<string, number>)["master/elected"] === 1;
  });
  const standby = await startMaster({ flags });
  await waitFor("the standby to know the leader", async () => {
    return (await get(`${standby.url}/master/redirect`)).status === 307;
  });
  for (const path of ["/master/state", "/master/api/v1", "/master/flags", "/metrics/snapshot"]) {
    const anonymous = await get(`${standby.url}${path}`);
    assert.equal(anonymous.status, 401, path);
    const known = await fetch(`${standby.url}${path}`, { headers: basic, redirect: "manual" });
    assert.notEqual(known.status, 401, path);
  }
  assert.equal((await get(`${standby.url}/master/state`)).status, 401);
  const state = await fetch(`${standby.url}/master/state`, { headers: basic, redirect: "manual" });
  assert.equal(state.status, 307);
  assert.equal((await get(`${standby.url}/health`)).status, 200);
  await standby.stop();
  await leader.stop();
});

test("zk session: close() leaves no timer behind (a CLI using it exits at once)", {
  skip,
}, async () => {
  const z = await zk.get();
  const parsed = parseZkUrl(z.url("/"));
  assert.ok(parsed.ok);
  const clock = new ManualClock();
  const session = new ZkSession({
    url: parsed.value,
    sessionTimeoutMs: 10_000,
    logger: silentLogger,
    clock,
  });
  session.start();
  await session.whenConnected();
  assert.ok(clock.pendingTimers > 0, "a connected session probes the server");
  session.close();
  assert.equal(clock.pendingTimers, 0);
});
