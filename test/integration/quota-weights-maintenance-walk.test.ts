/**
 * Mesos' quota, weights, roles and maintenance docs walked against real
 * masters and agents: the refusals use Mesos' words (UPDATE_QUOTA's value
 * checks, the legacy QuotaRequest's resource and role checks, `/weights`
 * elements), `/master/roles` lists exactly the `--roles` whitelist when there
 * is one, and a maintenance schedule matches agents by hostname *and* IP,
 * rescinds every outstanding offer and inverse offer when it changes, and a
 * DOWN machine's agent is refused with Mesos' message.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Event } from "../../src/common/protocol/generated/mesos-v1-scheduler.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { metricsSnapshot } from "../harness/metrics.js";
import {
  type DaemonHandle,
  getJson,
  startAgent,
  startMaster,
  stopAll,
  waitFor,
  waitForAgents,
} from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";
import { launchSleep, waitUpdate } from "./master-recovery-helpers.js";

let master: DaemonHandle;
const open: Subscription[] = [];

before(async () => {
  master = await startMaster({ flags: { allocation_interval: "100ms" } });
  await startAgent({ master: master.address, flags: { hostname: "walk-a" } });
  await startAgent({ master: master.address, flags: { hostname: "walk-b" } });
  await waitForAgents(master, 2);
});

after(async () => {
  for (const s of open) s.close();
  await stopAll();
});

async function send(
  url: string,
  method: string,
  path: string,
  body: unknown,
): Promise<{ status: number; text: string }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}

const cpus = (value: number) => [{ name: "cpus", type: "SCALAR", scalar: { value } }];

test("walk: quota and weights refusals use Mesos' words", async () => {
  const updateQuota = (config: unknown) => ({
    type: "UPDATE_QUOTA",
    update_quota: { quota_configs: [config] },
  });
  const cases: [string, string, unknown, number, string][] = [
    [
      "POST",
      "/api/v1",
      updateQuota({ role: "dev", guarantees: { cpus: { value: -1 } } }),
      400,
      "Invalid QuotaConfig: Invalid guarantee configuration {'cpus': -1}: Negative values not supported",
    ],
    [
      "POST",
      "/api/v1",
      updateQuota({ role: "dev", limits: { cpus: { value: 1000000000001 } } }),
      400,
      "Invalid QuotaConfig: Invalid 'QuotaConfig.limits': {'cpus': 1000000000001} is invalid: values greater than 1 trillion (1000000000000) are not supported",
    ],
    [
      "POST",
      "/api/v1",
      updateQuota({ role: "dev", guarantees: { disk: { value: 1099511627777 } } }),
      400,
      "Invalid QuotaConfig: Invalid 'QuotaConfig.guarantees': {'disk': 1099511627777} is invalid: values greater than 1 exabyte (1099511627776) are not supported",
    ],
    [
      "POST",
      "/api/v1",
      updateQuota({
        role: "dev",
        guarantees: { mem: { value: 40 }, cpus: { value: 3 } },
        limits: { cpus: { value: 2 } },
      }),
      400,
      "Invalid QuotaConfig: 'QuotaConfig.guarantees' { cpus: 3, mem: 40 } is not contained within the 'QuotaConfig.limits' { cpus: 2 }",
    ],
    [
      "POST",
      "/api/v1",
      updateQuota({ role: "", limits: { cpus: { value: 1 } } }),
      400,
      "Invalid QuotaConfig: Invalid 'QuotaConfig.role': Role names cannot be the empty string",
    ],
    [
      "POST",
      "/master/quota",
      { guarantee: cpus(1) },
      400,
      "Failed to validate set quota request: QuotaInfo with invalid role: Role names cannot be the empty string",
    ],
    [
      "POST",
      "/master/quota",
      { role: "dev", guarantee: cpus(-1) },
      400,
      "Failed to validate set quota request: QuotaInfo with invalid resource: Resource 'cpus:-1' is invalid: Invalid scalar resource: value <= 0",
    ],
    [
      "POST",
      "/master/quota",
      { role: "dev", guarantee: cpus(100) },
      409,
      "Quota guarantees overcommit the cluster (use 'force' to bypass this check): Total quota guarantees 'cpus:100' exceed cluster capacity 'cpus:4; disk:2048; mem:2048'",
    ],
    [
      "PUT",
      "/master/weights",
      '[{"role":"r"}]',
      400,
      `Failed to convert weights JSON array to protobuf '[{"role":"r"}]': Missing required fields: weight`,
    ],
    [
      "PUT",
      "/master/weights",
      "[1]",
      400,
      "Failed to convert weights JSON array to protobuf '[1]': Expecting a JSON object",
    ],
    [
      "POST",
      "/master/maintenance/schedule",
      { windows: [{ machine_ids: [{ ip: "1.2.3.4" }] }] },
      400,
      "Missing required fields: windows[0].unavailability",
    ],
    ["POST", "/master/machine/down", "[1]", 400, "Expecting a JSON object"],
  ];
  for (const [method, path, body, status, text] of cases) {
    const got = await send(master.url, method, path, body);
    assert.deepEqual([got.status, got.text], [status, text], `${method} ${path}`);
  }
  // Nothing was set by any of them.
  const quota = await getJson<{ configs?: unknown[] }>(`${master.url}/master/quota`);
  assert.deepEqual(quota?.configs ?? [], []);
  assert.deepEqual(await getJson(`${master.url}/master/weights`), []);
});

/** Offers the framework holds now, by agent hostname (offered minus rescinded). */
function heldOffers(s: Subscription): Map<string, { hostname: string; unavailable: boolean }> {
  const live = new Map<string, { hostname: string; unavailable: boolean }>();
  for (const e of s.events) {
    for (const o of e.offers?.offers ?? []) {
      live.set(o.id.value, { hostname: o.hostname, unavailable: o.unavailability !== undefined });
    }
    if (e.type === "RESCIND" && e.rescind !== undefined) live.delete(e.rescind.offer_id.value);
  }
  return live;
}

const inverseOffers = (events: readonly Event[]) =>
  events.flatMap((e) => e.inverse_offers?.inverse_offers ?? []);

test("walk: a schedule matches hostname and IP, and rescinds offers and inverse offers when it changes", async () => {
  const s = await subscribe(master.url, subscribeCall("walk-maintenance"));
  open.push(s);
  await waitFor("offers of both agents", () => {
    const hosts = new Set([...heldOffers(s).values()].map((o) => o.hostname));
    return hosts.has("walk-a") && hosts.has("walk-b");
  });
  const before = new Set(heldOffers(s).keys());
  const start = (Date.now() + 3_600_000) * 1_000_000;
  const schedule = (ids: unknown[]) => ({
    windows: [{ machine_ids: ids, unavailability: { start: { nanoseconds: start } } }],
  });
  // walk-b's id leaves the IP out: as in Mesos it is then no agent's machine.
  const set = await send(
    master.url,
    "POST",
    "/master/maintenance/schedule",
    schedule([{ hostname: "walk-a", ip: "127.0.0.1" }, { hostname: "walk-b" }]),
  );
  assert.equal(set.status, 200, set.text);
  // Every offer held before the update is rescinded; the new ones carry the window (walk-a only).
  await waitFor("the old offers rescinded and both agents offered again", () => {
    const held = [...heldOffers(s)];
    return (
      held.every(([id]) => !before.has(id)) &&
      held.some(([, o]) => o.hostname === "walk-a") &&
      held.some(([, o]) => o.hostname === "walk-b")
    );
  });
  for (const o of heldOffers(s).values()) {
    assert.equal(o.unavailable, o.hostname === "walk-a", `unavailability on ${o.hostname}`);
  }
  const first = await waitFor("an inverse offer", () => inverseOffers(s.events)[0]);
  assert.equal(first.url?.address.hostname, "walk-a");
  // Inverse offers take their ids from the offers' sequence, as in Mesos.
  assert.match(first.id.value, /-O\d+$/);

  // Another update rescinds the outstanding inverse offer; a new one follows.
  const again = await send(
    master.url,
    "POST",
    "/master/maintenance/schedule",
    schedule([{ hostname: "WALK-A", ip: "127.0.0.1" }]),
  );
  assert.equal(again.status, 200, again.text);
  await s.next(
    (e) => e.rescind_inverse_offer?.inverse_offer_id.value === first.id.value,
    "the first inverse offer rescinded",
  );
  const second = await waitFor("a second inverse offer", () => inverseOffers(s.events)[1]);
  assert.notEqual(second.id.value, first.id.value);
  assert.equal(inverseOffers(s.events).length, 2);

  // A machine named without its IP is not walk-b's: walk-b stays when it goes DOWN.
  const named = await send(
    master.url,
    "POST",
    "/master/maintenance/schedule",
    schedule([{ hostname: "walk-a", ip: "127.0.0.1" }, { hostname: "walk-b" }]),
  );
  assert.equal(named.status, 200, named.text);
  const down = await send(master.url, "POST", "/master/machine/down", [{ hostname: "walk-b" }]);
  assert.equal(down.status, 200, down.text);
  const state = await getJson<{ slaves: { hostname: string }[] }>(`${master.url}/master/state`);
  assert.deepEqual(state?.slaves.map((a) => a.hostname).sort(), ["walk-a", "walk-b"]);
  const status = await getJson<{ down_machines?: unknown[] }>(
    `${master.url}/master/maintenance/status`,
  );
  assert.deepEqual(status?.down_machines, [{ hostname: "walk-b" }]);
  const up = await send(master.url, "POST", "/master/machine/up", [{ hostname: "walk-b" }]);
  assert.equal(up.status, 200, up.text);
});

test("walk: a DOWN machine's agent is refused with Mesos' message", async () => {
  const start = (Date.now() + 3_600_000) * 1_000_000;
  const machine = { hostname: "walk-down", ip: "127.0.0.1" };
  const set = await send(master.url, "POST", "/master/maintenance/schedule", {
    windows: [{ machine_ids: [machine], unavailability: { start: { nanoseconds: start } } }],
  });
  assert.equal(set.status, 200, set.text);
  const down = await send(master.url, "POST", "/master/machine/down", [machine]);
  assert.equal(down.status, 200, down.text);
  // Refused at once, it may be gone before it would answer /health.
  const refused = await startAgent({
    master: master.address,
    flags: { hostname: "walk-down" },
    waitReady: false,
  });
  await waitFor(
    "the refused agent to exit",
    () => refused.child.exitCode !== null || refused.child.signalCode !== null,
    { timeoutMs: 30_000 },
  );
  assert.match(refused.logs(), /Machine is `DOWN`/);
  assert.match(
    master.logs(),
    /Refusing registration of agent at \S+ because the machine 'walk-down \(127\.0\.0\.1\)' that it is running on is `DOWN`/,
  );
  const up = await send(master.url, "POST", "/master/machine/up", [machine]);
  assert.equal(up.status, 200, up.text);
});

test("walk: with --roles, /master/roles lists exactly the whitelist (and ancestors)", async () => {
  const { master: whitelisted } = await startOneAgentCluster(
    // A static reservation of a role outside the whitelist is no known role.
    { resources: "cpus(zz):1;cpus:1;mem:512;disk:512" },
    { masterFlags: { allocation_interval: "100ms", roles: "a,eng/dev" } },
  );
  const roles = await getJson<{ roles: { name: string }[] }>(`${whitelisted.url}/master/roles`);
  assert.deepEqual(
    roles?.roles.map((r) => r.name),
    ["*", "a", "eng", "eng/dev"],
  );
  const weights = await send(whitelisted.url, "PUT", "/master/weights", [
    { role: "zz", weight: 2 },
  ]);
  assert.deepEqual(
    [weights.status, weights.text],
    [400, "Failed to validate update weights request JSON: Unknown role 'zz'"],
  );
});

test("walk: with --offer_timeout, an unanswered inverse offer is rescinded", async () => {
  const { master: timed } = await startOneAgentCluster(
    { hostname: "walk-t" },
    { masterFlags: { allocation_interval: "100ms", offer_timeout: "1secs" } },
  );
  const start = (Date.now() + 3_600_000) * 1_000_000;
  const set = await send(timed.url, "POST", "/master/maintenance/schedule", {
    windows: [
      {
        machine_ids: [{ hostname: "walk-t", ip: "127.0.0.1" }],
        unavailability: { start: { nanoseconds: start } },
      },
    ],
  });
  assert.equal(set.status, 200, set.text);
  const s = await subscribe(timed.url, subscribeCall("walk-timeout"));
  open.push(s);
  const inverse = await waitFor("an inverse offer", () => inverseOffers(s.events)[0]);
  await s.next(
    (e) => e.rescind_inverse_offer?.inverse_offer_id.value === inverse.id.value,
    "the unanswered inverse offer rescinded",
    30_000,
  );
  assert.match(timed.logs(), new RegExp(`Inverse offer ${inverse.id.value} .* timed out`));
});

test("walk: quota metrics come and go with the quantities they show, as in Mesos", async () => {
  const snapshot = () => metricsSnapshot(master);
  const base = "allocator/mesos/quota/roles/walk-metrics/resources";
  const set = await send(master.url, "POST", "/api/v1", {
    type: "UPDATE_QUOTA",
    update_quota: {
      quota_configs: [
        {
          role: "walk-metrics",
          guarantees: { cpus: { value: 0.5 } },
          limits: { cpus: { value: 1 }, mem: { value: 256 } },
        },
      ],
    },
  });
  assert.equal(set.status, 200, set.text);
  const shown = await waitFor("the quota gauges", async () => {
    const snap = await snapshot();
    return snap[`${base}/mem/limit`] === 256 ? snap : undefined;
  });
  assert.equal(shown[`${base}/cpus/guarantee`], 0.5);
  assert.equal(shown[`${base}/cpus/limit`], 1);
  assert.equal(shown[`${base}/cpus/offered_or_allocated`], 0);
  assert.equal(shown[`${base}/mem/offered_or_allocated`], 0);
  assert.equal(shown[`${base}/mem/guarantee`], undefined);

  // A reservation is consumed quota of its role (reserved for it, unallocated).
  const state = await getJson<{ slaves: { id: string }[] }>(`${master.url}/master/state`);
  const agentId = state?.slaves[0]?.id ?? "";
  const reserved = [
    {
      name: "cpus",
      type: "SCALAR",
      scalar: { value: 0.25 },
      reservations: [{ type: "DYNAMIC", role: "walk-metrics" }],
    },
  ];
  const reserve = await send(master.url, "POST", "/api/v1", {
    type: "RESERVE_RESOURCES",
    reserve_resources: { agent_id: { value: agentId }, resources: reserved },
  });
  assert.equal(reserve.status, 202, reserve.text);
  await waitFor(
    "the consumed gauge",
    async () => (await snapshot())[`${base}/cpus/consumed`] === 0.25,
  );

  // Removed quota takes its gauges; unreserved, nothing is consumed any more.
  const removed = await send(master.url, "POST", "/api/v1", {
    type: "UPDATE_QUOTA",
    update_quota: { quota_configs: [{ role: "walk-metrics" }] },
  });
  assert.equal(removed.status, 200, removed.text);
  const unreserve = await send(master.url, "POST", "/api/v1", {
    type: "UNRESERVE_RESOURCES",
    unreserve_resources: { agent_id: { value: agentId }, resources: reserved },
  });
  assert.equal(unreserve.status, 202, unreserve.text);
  await waitFor("the gauges gone", async () => {
    const snap = await snapshot();
    return Object.keys(snap).every((name) => !name.startsWith(base));
  });
});

test("walk: machine DOWN loses running tasks: TASK_GONE_BY_OPERATOR to partition-aware frameworks, TASK_LOST to others", async () => {
  const { master: own } = await startOneAgentCluster(
    { hostname: "walk-c" },
    { masterFlags: { allocation_interval: "100ms" } },
  );
  const aware = await subscribe(
    own.url,
    subscribeCall("walk-aware", { capabilities: [{ type: "PARTITION_AWARE" }] }),
  );
  const plain = await subscribe(own.url, subscribeCall("walk-plain"));
  open.push(aware, plain);
  aware.autoAcknowledge = true;
  plain.autoAcknowledge = true;
  await launchSleep(aware, "aware-task");
  await waitUpdate(aware, "aware-task", "TASK_RUNNING");
  await launchSleep(plain, "plain-task");
  await waitUpdate(plain, "plain-task", "TASK_RUNNING");

  const machine = { hostname: "walk-c", ip: "127.0.0.1" };
  const start = (Date.now() + 3_600_000) * 1_000_000;
  const set = await send(own.url, "POST", "/master/maintenance/schedule", {
    windows: [{ machine_ids: [machine], unavailability: { start: { nanoseconds: start } } }],
  });
  assert.equal(set.status, 200, set.text);
  const down = await send(own.url, "POST", "/master/machine/down", [machine]);
  assert.equal(down.status, 200, down.text);
  const gone = await waitUpdate(aware, "aware-task", "TASK_GONE_BY_OPERATOR", {
    reason: "REASON_AGENT_REMOVED_BY_OPERATOR",
  });
  assert.equal(gone.update?.status.message, "Operator initiated 'Machine DOWN'");
  const lost = await waitUpdate(plain, "plain-task", "TASK_LOST", {
    reason: "REASON_AGENT_REMOVED",
  });
  assert.equal(lost.update?.status.message, "Operator initiated 'Machine DOWN'");
});
