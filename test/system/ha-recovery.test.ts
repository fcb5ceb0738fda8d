/**
 * High availability against Mesos' behaviour, with a real ZooKeeper and
 * real masters:
 * - an elected master that waits for `--quorum` serves its (empty) state
 *   endpoints, says 503 on the v1 APIs, and answers a registry write once
 *   recovered (Mesos' handlers check only that the master leads; its
 *   registrar queues writes behind the recovery), behind the same
 *   authentication and authorization as the elected master's routes;
 * - `mesos resolve zk://` without a leader gives up after mesos-resolve's
 *   5secs (or `--timeout`), with its message and exit status 255;
 * - the scheduler library whose own ZooKeeper session expires drops its
 *   subscription (`disconnected`) and subscribes again once ZooKeeper names
 *   the leader, as Mesos' library does on its detector's "no leader".
 * Skips when ZooKeeper is not installed.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { SchedulerClient } from "../../src/scheduler/index.js";
import { elected, leaderOf, running } from "../harness/leader.js";
import { metricsSnapshot } from "../harness/metrics.js";
import {
  type DaemonHandle,
  runBinary,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
} from "../harness/processes.js";
import { sharedZooKeeper, zookeeperSkip } from "../harness/zookeeper.js";

const skip = zookeeperSkip;
const zk = sharedZooKeeper();
const clients: SchedulerClient[] = [];

after(async () => {
  for (const c of clients) c.close();
  await stopAll();
  await zk.stop();
});

/** `text` as a literal in a RegExp. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

async function json(m: DaemonHandle, path: string): Promise<Record<string, unknown>> {
  const r = await fetch(`${m.url}${path}`, { redirect: "manual" });
  assert.equal(r.status, 200, `${path}: ${r.status}`);
  return (await r.json()) as Record<string, unknown>;
}

test("ha/recovery: a master waiting for --quorum serves an empty state, 503 on the v1 APIs, and applies a registry write once recovered", {
  skip,
}, async () => {
  const z = await zk.get();
  const url = z.url("/recovering");
  const flags = {
    zk: url,
    quorum: 2,
    registry: "replicated_log",
    zk_session_timeout: "3secs",
    weights: "flagged=2",
  };
  const first = await startMaster({ flags });
  // A new registry needs all 2 * 2 - 1 masters: the first waits, elected.
  await waitFor("the first master elected and waiting", async () => {
    const m = await metricsSnapshot(first);
    return m["master/elected"] === 1 && m["registrar/log/ensemble_size"] === 1;
  });
  assert.equal((await metricsSnapshot(first))["registrar/log/recovered"], 0);

  const state = await json(first, "/master/state");
  assert.equal(state.leader, `master@127.0.0.1:${first.port}`);
  assert.equal(state.pid, state.leader);
  assert.deepEqual(state.slaves, []);
  assert.deepEqual(state.frameworks, []);
  assert.equal(state.activated_slaves, 0);
  assert.equal(typeof state.elected_time, "number");
  assert.deepEqual((await json(first, "/state")).slaves, []);
  const summary = await json(first, "/master/state-summary");
  assert.deepEqual(summary.slaves, []);
  assert.deepEqual(summary.frameworks, []);
  assert.deepEqual((await json(first, "/master/frameworks")).frameworks, []);
  assert.deepEqual((await json(first, "/master/slaves")).slaves, []);
  assert.deepEqual((await json(first, "/master/tasks")).tasks, []);
  await json(first, "/master/roles");
  await json(first, "/master/quota");
  await json(first, "/master/maintenance/status");
  const weights = async () =>
    (await (await fetch(`${first.url}/master/weights`)).json()) as {
      role: string;
      weight: number;
    }[];
  // Before the recovery the weights are --weights, as in Mesos.
  assert.deepEqual(await weights(), [{ role: "flagged", weight: 2 }]);

  for (const [path, body] of [
    ["/api/v1", '{"type":"GET_STATE"}'],
    ["/api/v1/scheduler", '{"type":"SUBSCRIBE"}'],
  ] as const) {
    const r = await fetch(`${first.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body,
    });
    assert.equal(r.status, 503, path);
    assert.equal(await r.text(), "Master has not finished recovery");
  }
  // An unknown framework, as for Mesos' empty master: 400.
  const teardown = await fetch(`${first.url}/master/teardown`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "frameworkId=nope",
  });
  assert.equal(teardown.status, 400);
  assert.equal(await teardown.text(), "No framework found with specified ID");

  // A registry write waits: no recovery without the two other masters.
  let answered = false;
  const put = fetch(`${first.url}/master/weights`, {
    method: "PUT",
    body: JSON.stringify([{ role: "ops", weight: 3 }]),
  }).then(async (r) => {
    answered = true;
    return { status: r.status, text: await r.text() };
  });
  // The same writes below their routes (the handlers take them as the
  // route): they wait too, instead of being acknowledged by the empty master.
  const answer = async (r: Response) => ({ status: r.status, text: await r.text() });
  const putBelow = fetch(`${first.url}/master/weights/below`, {
    method: "PUT",
    body: JSON.stringify([{ role: "dev", weight: 4 }]),
  }).then(answer);
  const quotaBelow = fetch(`${first.url}/master/quota/below`, {
    method: "POST",
    body: JSON.stringify({
      role: "q",
      force: true,
      guarantee: [{ name: "cpus", type: "SCALAR", scalar: { value: 1 } }],
    }),
  }).then(answer);
  assert.deepEqual((await json(first, "/master/state")).slaves, []);
  assert.equal(answered, false, "the weights update was answered before the recovery");

  const others = [await startMaster({ flags }), await startMaster({ flags })];
  const written = await put;
  assert.equal(written.status, 200, written.text);
  const writtenBelow = await putBelow;
  assert.equal(writtenBelow.status, 200, writtenBelow.text);
  const quotaWritten = await quotaBelow;
  assert.equal(quotaWritten.status, 200, quotaWritten.text);
  await waitFor("the leader recovered", async () => {
    const r = await fetch(`${first.url}/api/v1`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: '{"type":"GET_HEALTH"}',
    });
    return r.status === 200;
  });
  // Applied by the recovered master, after the registry's (and --weights').
  const after = await weights();
  assert.deepEqual(
    after.sort((a, b) => a.role.localeCompare(b.role)),
    [
      { role: "dev", weight: 4 },
      { role: "flagged", weight: 2 },
      { role: "ops", weight: 3 },
    ],
  );
  const quota = (await json(first, "/master/quota")) as { infos?: { role: string }[] };
  assert.deepEqual(
    (quota.infos ?? []).map((i) => i.role),
    ["q"],
  );
  for (const m of others) assert.equal(await elected(m), false);
});

test("ha/recovery: the recovering master authenticates and authorizes as the elected one (401 anonymous; no flags for a principal denied VIEW_FLAGS; get_endpoints)", {
  skip,
}, async () => {
  const z = await zk.get();
  const secrets: Record<string, string> = { ops: "ops-secret", dev: "dev-secret" };
  const credentials = join(tempDir("recovering-auth-"), "credentials.json");
  writeFileSync(
    credentials,
    JSON.stringify({
      credentials: Object.entries(secrets).map(([principal, secret]) => ({ principal, secret })),
    }),
  );
  const acls = {
    permissive: true,
    view_flags: [{ principals: { values: ["dev"] }, flags: { type: "NONE" } }],
    get_endpoints: [{ principals: { values: ["dev"] }, paths: { type: "NONE" } }],
  };
  const m = await startMaster({
    flags: {
      zk: z.url("/recovering-auth"),
      quorum: 2,
      registry: "replicated_log",
      zk_session_timeout: "3secs",
      credentials: `file://${credentials}`,
      acls: JSON.stringify(acls),
      authenticate_http_readonly: true,
    },
  });
  await waitFor("the master elected and waiting", async () => {
    const snapshot = await fetch(`${m.url}/metrics/snapshot`, {
      headers: { Authorization: `Basic ${Buffer.from("ops:ops-secret").toString("base64")}` },
    });
    const values = (await snapshot.json()) as Record<string, number>;
    return values["master/elected"] === 1 && values["registrar/log/ensemble_size"] === 1;
  });
  const state = async (principal?: string) => {
    const headers: Record<string, string> =
      principal === undefined
        ? {}
        : {
            Authorization: `Basic ${Buffer.from(`${principal}:${secrets[principal]}`).toString("base64")}`,
          };
    return fetch(`${m.url}/master/state`, { headers, redirect: "manual" });
  };
  assert.equal((await state()).status, 401);
  const ops = await state("ops");
  assert.equal(ops.status, 200);
  const opsDoc = (await ops.json()) as Record<string, unknown>;
  assert.equal((opsDoc.flags as Record<string, string> | undefined)?.quorum, "2");
  const dev = await state("dev");
  assert.equal(dev.status, 200);
  const devDoc = (await dev.json()) as Record<string, unknown>;
  assert.equal(devDoc.flags, undefined);
  assert.deepEqual(devDoc.slaves, []);
  // What it answers itself is authorized as on the leader (Mesos' master
  // authorizes these from its start): VIEW_FLAGS, get_endpoints.
  const as = (principal: string, path: string, method = "GET") =>
    fetch(`${m.url}${path}`, {
      method,
      redirect: "manual",
      headers: {
        Authorization: `Basic ${Buffer.from(`${principal}:${secrets[principal]}`).toString("base64")}`,
      },
    });
  assert.equal((await as("ops", "/master/flags")).status, 200);
  const devFlags = await as("dev", "/master/flags");
  assert.equal(devFlags.status, 403);
  assert.equal(await devFlags.text(), "Principal 'dev' is not authorized to view the flags");
  assert.equal((await as("ops", "/metrics/snapshot")).status, 200);
  assert.equal((await as("dev", "/metrics/snapshot")).status, 403);
  const toggle = "/logging/toggle?level=1&duration=1secs";
  assert.equal((await as("dev", toggle, "POST")).status, 403);
  assert.equal((await as("ops", toggle, "POST")).status, 200);
  await m.stop();
});

test("mesos resolve: no leader in zk:// fails after mesos-resolve's 5secs (or --timeout) with its message, exit 255", {
  skip,
}, async () => {
  const z = await zk.get();
  const url = z.url("/nobody-leads");
  const run = await runBinary("mesos", ["resolve", url], { timeoutMs: 60_000 });
  assert.equal(run.code, 255, run.stderr);
  assert.equal(run.stdout, "");
  assert.match(
    run.stderr,
    new RegExp(`Failed to detect master from '${literal(url)}' within 5secs\\n$`),
  );
  // mesos-resolve's flag form, after the command.
  const short = await runBinary("mesos", ["resolve", "--timeout=1secs", url], {
    timeoutMs: 60_000,
  });
  assert.equal(short.code, 255, short.stderr);
  assert.match(
    short.stderr,
    new RegExp(`Failed to detect master from '${literal(url)}' within 1secs\\n$`),
  );
});

test("ha/scheduler: the scheduler library whose ZooKeeper session expires gets `disconnected`, then re-subscribes to the same leader", {
  skip,
}, async () => {
  const z = await zk.get();
  const url = z.url("/scheduler-expiry");
  // The master's session outlives the freeze below; the scheduler's does not.
  const master = await startMaster({
    flags: { zk: url, quorum: 1, zk_session_timeout: "30secs" },
  });
  await leaderOf([master]);
  const events: string[] = [];
  const reasons: string[] = [];
  const client = new SchedulerClient({
    master: url,
    framework: { user: userInfo().username, name: "zk-expiry", failover_timeout: 3600 },
    zkSessionTimeoutMs: 1000,
    backoff: { initialMs: 100, maxMs: 500 },
  });
  clients.push(client);
  client.start({
    subscribed: (_info, resubscribed) => events.push(resubscribed ? "resubscribed" : "subscribed"),
    disconnected: (reason) => {
      events.push("disconnected");
      reasons.push(reason);
    },
  });
  await waitFor("the framework subscribed", () => events.includes("subscribed"));
  const frameworkId = client.frameworkId?.value;
  assert.ok(frameworkId !== undefined);

  const server = z.servers[0];
  assert.ok(server !== undefined);
  server.signal("SIGSTOP");
  try {
    await waitFor(
      "the scheduler to lose its leading master",
      () => events.includes("disconnected"),
      {
        timeoutMs: 30_000,
      },
    );
  } finally {
    server.signal("SIGCONT");
  }
  assert.match(reasons[0] ?? "", /^Lost leading master/);
  await waitFor("the framework re-subscribed", () => events.includes("resubscribed"), {
    timeoutMs: 30_000,
  });
  assert.deepEqual(events.slice(0, 3), ["subscribed", "disconnected", "resubscribed"]);
  assert.equal(client.frameworkId?.value, frameworkId);
  assert.equal(client.master, master.address);
  assert.ok(running(master));
  assert.ok(await elected(master));
});
