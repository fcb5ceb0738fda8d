/**
 * Maintenance on a real master and agent: a scheduled window shows up as
 * `unavailability` on offers and in `/master/maintenance/status`;
 * `/master/machine/down` shuts the agent down; `/master/machine/up` takes
 * the machine out of the schedule. Malformed requests get 400.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
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

let master: DaemonHandle;
let agent: DaemonHandle;
const open: Subscription[] = [];

before(async () => {
  master = await startMaster({ flags: { allocation_interval: "100ms" } });
  agent = await startAgent({ master: master.address });
  await waitForAgents(master, 1);
});

after(async () => {
  for (const s of open) s.close();
  await stopAll();
});

async function post(path: string, body: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${master.url}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body,
  });
  return { status: response.status, text: await response.text() };
}

test("maintenance: schedule, unavailability on offers, machine down shuts the agent, machine up", async () => {
  const state = await getJson<{ slaves: { hostname: string }[] }>(`${master.url}/master/state`);
  const machine = { hostname: state?.slaves[0]?.hostname ?? "", ip: "127.0.0.1" };
  const startNs = (Date.now() + 3_600_000) * 1_000_000;
  const schedule = {
    windows: [
      {
        machine_ids: [machine],
        unavailability: { start: { nanoseconds: startNs }, duration: { nanoseconds: 3.6e12 } },
      },
    ],
  };
  const set = await post("/master/maintenance/schedule", JSON.stringify(schedule));
  assert.equal(set.status, 200, set.text);
  const got = await getJson<{ windows?: { machine_ids: { hostname: string }[] }[] }>(
    `${master.url}/master/maintenance/schedule`,
  );
  assert.equal(got?.windows?.[0]?.machine_ids[0]?.hostname, machine.hostname);

  const s = await subscribe(master.url, subscribeCall("maint"));
  open.push(s);
  const offer = (await s.nth("OFFERS")).offers?.offers?.[0];
  assert.equal(offer?.unavailability?.start.nanoseconds, startNs);

  // The framework uses the agent: it gets an inverse offer, and its answer shows in the status.
  const inverse = (await s.nth("INVERSE_OFFERS")).inverse_offers?.inverse_offers?.[0];
  assert.equal(inverse?.unavailability.start.nanoseconds, startNs);
  const answer = await s.call({
    type: "DECLINE_INVERSE_OFFERS",
    decline_inverse_offers: { inverse_offer_ids: inverse === undefined ? [] : [inverse.id] },
  });
  assert.equal(answer.status, 202, answer.body);
  const status = await waitFor("the inverse offer answer in the status", async () => {
    const got = await getJson<{
      draining_machines?: { id: { hostname: string }; statuses?: { status: string }[] }[];
    }>(`${master.url}/master/maintenance/status`);
    return got?.draining_machines?.[0]?.statuses?.[0] === undefined ? undefined : got;
  });
  assert.equal(status.draining_machines?.[0]?.id.hostname, machine.hostname);
  assert.equal(status.draining_machines?.[0]?.statuses?.[0]?.status, "DECLINE");

  // A machine outside the schedule cannot go down.
  const stray = await post("/master/machine/down", JSON.stringify([{ hostname: "elsewhere" }]));
  assert.equal(stray.status, 400, stray.text);

  const down = await post("/master/machine/down", JSON.stringify([machine]));
  assert.equal(down.status, 200, down.text);
  await waitFor(
    "the agent to exit",
    () => agent.child.exitCode !== null || agent.child.signalCode !== null,
    {
      timeoutMs: 20_000,
    },
  );
  const after = await getJson<{ slaves: unknown[] }>(`${master.url}/master/state`);
  assert.equal(after?.slaves.length, 0);
  const downStatus = await getJson<{ down_machines?: { hostname: string }[] }>(
    `${master.url}/master/maintenance/status`,
  );
  assert.equal(downStatus?.down_machines?.[0]?.hostname, machine.hostname);
  // A DOWN machine cannot leave the schedule by a schedule update.
  const drop = await post("/master/maintenance/schedule", JSON.stringify({ windows: [] }));
  assert.equal(drop.status, 400, drop.text);

  // An agent of the DOWN machine may not come back...
  // Refused at once, it may be gone before it would answer /health.
  const refused = await startAgent({ master: master.address, waitReady: false });
  await waitFor(
    "the refused agent to exit",
    () => refused.child.exitCode !== null || refused.child.signalCode !== null,
    { timeoutMs: 20_000 },
  );
  assert.match(master.logs(), /Refusing registration of agent .* that it is running on is `DOWN`/);

  const up = await post("/master/machine/up", JSON.stringify([machine]));
  assert.equal(up.status, 200, up.text);
  // ...until the machine is UP again.
  await startAgent({ master: master.address });
  await waitForAgents(master, 1);
  const empty = await getJson<{ windows?: unknown[] }>(`${master.url}/master/maintenance/schedule`);
  assert.equal((empty?.windows ?? []).length, 0);
});

test("maintenance: malformed requests get 400", async () => {
  for (const [path, body] of [
    ["/master/maintenance/schedule", "{not json"],
    [
      "/master/maintenance/schedule",
      JSON.stringify({
        windows: [{ machine_ids: [], unavailability: { start: { nanoseconds: 1 } } }],
      }),
    ],
    ["/master/machine/down", "{}"],
    ["/master/machine/up", JSON.stringify([{ hostname: "never-down" }])],
  ] as const) {
    const got = await post(path, body);
    assert.equal(got.status, 400, `${path} ${body}: ${got.text}`);
  }
});
