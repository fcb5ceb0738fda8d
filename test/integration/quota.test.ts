/**
 * Quota on a real master and agent: a role with a guarantee gets it while a
 * greedy framework of another role holds the rest; `/master/quota` and the
 * v1 GET_QUOTA / UPDATE_QUOTA calls validate what they are given (400 with
 * a reason, 409 on a legacy overcommit) and report what was set.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Event } from "../../src/common/protocol/generated/mesos-v1-scheduler.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, stopAll, waitFor } from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";

const open: Subscription[] = [];
let master: DaemonHandle;

before(async () => {
  ({ master } = await startOneAgentCluster(
    {},
    { masterFlags: { allocation_interval: "100ms", roles: "greedy,guaranteed,other" } },
  ));
});

after(async () => {
  for (const s of open) s.close();
  await stopAll();
});

async function request(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const response = await fetch(`${master.url}${path}`, {
    method,
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  return { status: response.status, text: await response.text() };
}

const operator = (call: unknown) => request("POST", "/api/v1", call);

interface QuotaStatusJson {
  infos?: { role: string; guarantee?: { name: string; scalar: { value: number } }[] }[];
  configs?: {
    role: string;
    guarantees?: Record<string, { value: number }>;
    limits?: Record<string, { value: number }>;
  }[];
}

async function quotaStatus(): Promise<QuotaStatusJson> {
  const got = await request("GET", "/master/quota");
  assert.equal(got.status, 200, got.text);
  return JSON.parse(got.text) as QuotaStatusJson;
}

async function allocationRuns(): Promise<number> {
  const snap = (await (await fetch(`${master.url}/metrics/snapshot`)).json()) as Record<
    string,
    number
  >;
  return snap["allocator/mesos/allocation_runs"] ?? 0;
}

/** Scalar totals of the offers a subscription holds now (offered minus rescinded). */
function heldOffers(s: Subscription): Map<string, number> {
  const live = new Map<string, Event>();
  for (const e of s.events) {
    for (const o of e.offers?.offers ?? []) live.set(o.id.value, e);
    if (e.type === "RESCIND" && e.rescind !== undefined) live.delete(e.rescind.offer_id.value);
  }
  const totals = new Map<string, number>();
  for (const e of s.events) {
    for (const o of e.offers?.offers ?? []) {
      if (!live.has(o.id.value)) continue;
      for (const r of o.resources ?? []) {
        if (r.scalar !== undefined) totals.set(r.name, (totals.get(r.name) ?? 0) + r.scalar.value);
      }
    }
  }
  return totals;
}

test("quota: a guaranteed role gets its guarantee while a greedy framework holds the rest", async () => {
  const greedy = await subscribe(master.url, subscribeCall("greedy", { role: "greedy" }));
  open.push(greedy);
  await greedy.nth("OFFERS");
  const whole = heldOffers(greedy);
  assert.equal(whole.get("cpus"), 2);

  const newcomer = await subscribe(master.url, subscribeCall("newcomer", { role: "guaranteed" }));
  open.push(newcomer);
  await newcomer.nth("SUBSCRIBED");
  // Without quota the greedy framework keeps everything (it never declines).
  const runs = await allocationRuns();
  await waitFor("three more allocation cycles", async () => (await allocationRuns()) >= runs + 3);
  assert.equal(newcomer.events.filter((e) => e.type === "OFFERS").length, 0);

  const set = await request("POST", "/master/quota", {
    role: "guaranteed",
    guarantee: [
      { name: "cpus", type: "SCALAR", scalar: { value: 1 } },
      { name: "mem", type: "SCALAR", scalar: { value: 256 } },
    ],
  });
  assert.equal(set.status, 200, set.text);

  await newcomer.nth("OFFERS", 1, 20_000);
  const mine = heldOffers(newcomer);
  assert.equal(mine.get("cpus"), 1);
  assert.equal(mine.get("mem"), 256);
  // The greedy framework got the rest back (its offer was rescinded for the guarantee).
  await waitFor("the greedy framework to hold the rest", () => {
    const rest = heldOffers(greedy);
    return rest.get("cpus") === 1 && rest.get("mem") === (whole.get("mem") ?? 0) - 256;
  });

  // The per-role quota gauges appear after the next cycle.
  await waitFor("the quota gauges", async () => {
    const snap = (await (await fetch(`${master.url}/metrics/snapshot`)).json()) as Record<
      string,
      number
    >;
    const base = "allocator/mesos/quota/roles/guaranteed/resources";
    return snap[`${base}/cpus/guarantee`] === 1 && snap[`${base}/mem/limit`] === 256;
  });

  const roles = JSON.parse((await request("GET", "/master/roles")).text) as {
    roles: { name: string; quota: { guarantee: Record<string, number> } }[];
  };
  const role = roles.roles.find((r) => r.name === "guaranteed");
  assert.deepEqual(role?.quota.guarantee, { cpus: 1, mem: 256 });

  assert.equal((await request("DELETE", "/master/quota/guaranteed")).status, 200);
  assert.deepEqual((await quotaStatus()).configs ?? [], []);
});

test("quota: GET reflects POST, UPDATE_QUOTA and DELETE", async () => {
  const posted = await request("POST", "/master/quota", {
    role: "other",
    guarantee: [{ name: "cpus", type: "SCALAR", scalar: { value: 0.5 } }],
  });
  assert.equal(posted.status, 200, posted.text);
  let status = await quotaStatus();
  assert.deepEqual(status.infos, [
    { role: "other", guarantee: [{ name: "cpus", type: "SCALAR", scalar: { value: 0.5 } }] },
  ]);
  assert.deepEqual(status.configs, [
    { role: "other", guarantees: { cpus: { value: 0.5 } }, limits: { cpus: { value: 0.5 } } },
  ]);

  const updated = await operator({
    type: "UPDATE_QUOTA",
    update_quota: {
      quota_configs: [
        { role: "other", limits: { cpus: { value: 1 }, mem: { value: 512 } } },
        { role: "greedy", guarantees: { mem: { value: 128 } }, limits: { mem: { value: 600 } } },
      ],
    },
  });
  assert.equal(updated.status, 200, updated.text);
  const got = JSON.parse((await operator({ type: "GET_QUOTA" })).text) as {
    type: string;
    get_quota: { status: QuotaStatusJson };
  };
  assert.equal(got.type, "GET_QUOTA");
  // A limits-only quota has no `guarantee` in its legacy info, in both
  // answers (protobuf JSON leaves an empty repeated field out).
  assert.deepEqual(
    (await quotaStatus()).infos?.find((i) => i.role === "other"),
    { role: "other" },
  );
  assert.deepEqual(
    got.get_quota.status.infos?.find((i) => i.role === "other"),
    { role: "other" },
  );
  assert.deepEqual(got.get_quota.status.configs, [
    { role: "greedy", guarantees: { mem: { value: 128 } }, limits: { mem: { value: 600 } } },
    { role: "other", limits: { cpus: { value: 1 }, mem: { value: 512 } } },
  ]);

  assert.equal((await request("DELETE", "/master/quota/other")).status, 200);
  // An empty config removes a quota too.
  const removed = await operator({
    type: "UPDATE_QUOTA",
    update_quota: { quota_configs: [{ role: "greedy" }] },
  });
  assert.equal(removed.status, 200, removed.text);
  status = await quotaStatus();
  assert.deepEqual(status.configs ?? [], []);
});

test("quota: bad requests get 400 (or 409 for a legacy overcommit) with a reason", async () => {
  const cases: [string, string, unknown, number, RegExp][] = [
    ["POST", "/master/quota", "{not json", 400, /Failed to parse set quota request JSON/],
    [
      "POST",
      "/master/quota",
      { role: "nobody", guarantee: [{ name: "cpus", type: "SCALAR", scalar: { value: 1 } }] },
      400,
      /Unknown role 'nobody'/,
    ],
    [
      "POST",
      "/master/quota",
      { role: "other", guarantee: [{ name: "ports", type: "RANGES", ranges: { range: [] } }] },
      400,
      /non-scalar/,
    ],
    ["POST", "/master/quota", { role: "other", guarantee: [] }, 400, /empty 'guarantee'/],
    [
      "POST",
      "/master/quota",
      { role: "other", guarantee: [{ name: "cpus", type: "SCALAR", scalar: { value: -1 } }] },
      400,
      /QuotaInfo with invalid resource: Resource 'cpus:-1' is invalid: Invalid scalar resource: value <= 0/,
    ],
    [
      "POST",
      "/master/quota",
      { role: "other", guarantee: [{ name: "cpus", type: "SCALAR", scalar: { value: 100 } }] },
      409,
      /exceed cluster capacity/,
    ],
    ["DELETE", "/master/quota/other", undefined, 400, /has no quota set/],
    [
      "POST",
      "/api/v1",
      {
        type: "UPDATE_QUOTA",
        update_quota: {
          quota_configs: [
            { role: "other", guarantees: { cpus: { value: 2 } }, limits: { cpus: { value: 1 } } },
          ],
        },
      },
      400,
      /is not contained within/,
    ],
    [
      "POST",
      "/api/v1",
      {
        type: "UPDATE_QUOTA",
        update_quota: { quota_configs: [{ role: "nobody", limits: { cpus: { value: 1 } } }] },
      },
      400,
      /not on the roles whitelist/,
    ],
    [
      "POST",
      "/api/v1",
      {
        type: "UPDATE_QUOTA",
        update_quota: { quota_configs: [{ role: "other", guarantees: { cpus: { value: 64 } } }] },
      },
      400,
      /exceed cluster capacity/,
    ],
  ];
  for (const [method, path, body, status, reason] of cases) {
    const got = await request(method, path, body);
    assert.equal(got.status, status, `${method} ${path} ${JSON.stringify(body)}: ${got.text}`);
    assert.match(got.text, reason);
    assert.ok(!got.text.includes("\n"), `one-line reason: ${got.text}`);
  }
  // None of them changed anything; `force` lets an overcommitting guarantee through.
  assert.deepEqual((await quotaStatus()).configs ?? [], []);
  const forced = await operator({
    type: "UPDATE_QUOTA",
    update_quota: {
      force: true,
      quota_configs: [{ role: "other", guarantees: { cpus: { value: 64 } } }],
    },
  });
  assert.equal(forced.status, 200, forced.text);
  assert.equal((await quotaStatus()).configs?.[0]?.guarantees?.cpus?.value, 64);
  assert.equal((await request("DELETE", "/master/quota/other")).status, 200);
});
