/**
 * ACLs on a framework's reservations: with `reserve_resources` denying the
 * framework's principal, its RESERVE is dropped with OPERATION_ERROR and the
 * resources stay unreserved; another principal may reserve. And on an
 * operator's reservation update (RESERVE with `source`): moving a
 * reservation also needs the right to unreserve it, refining it does not.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Resource } from "../../src/common/protocol/generated/mesos-v1.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, stopAll } from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";

let master: DaemonHandle;
let agentId = "";
const open: Subscription[] = [];

before(async () => {
  const acls = {
    permissive: true,
    reserve_resources: [{ principals: { values: ["dev"] }, roles: { type: "NONE" } }],
    // Nobody may unreserve anything.
    unreserve_resources: [{ principals: { type: "ANY" }, reserver_principals: { type: "NONE" } }],
    resize_volumes: [{ principals: { values: ["grower"] }, roles: { type: "NONE" } }],
  };
  ({ master, agentId } = await startOneAgentCluster(
    {},
    { masterFlags: { allocation_interval: "100ms", acls: JSON.stringify(acls) } },
  ));
});

after(async () => {
  for (const s of open) s.close();
  await stopAll();
});

function cpus(principal: string): Resource {
  return {
    name: "cpus",
    type: "SCALAR",
    scalar: { value: 1 },
    reservations: [{ type: "DYNAMIC", role: "web", principal }],
    allocation_info: { role: "web" },
  };
}

async function reserveAs(principal: string): Promise<string | undefined> {
  const s = await subscribe(master.url, subscribeCall(principal, { role: "web", principal }));
  open.push(s);
  const offers = (await s.nth("OFFERS")).offers?.offers ?? [];
  const reply = await s.call({
    type: "ACCEPT",
    accept: {
      offer_ids: offers.map((o) => o.id),
      operations: [
        { type: "RESERVE", id: { value: "r" }, reserve: { resources: [cpus(principal)] } },
      ],
    },
  });
  assert.equal(reply.status, 202, reply.body);
  const status = (await s.nth("UPDATE_OPERATION_STATUS")).update_operation_status?.status;
  await s.call({ type: "TEARDOWN" });
  s.close();
  return status?.state === "OPERATION_FINISHED" ? undefined : status?.message;
}

test("reservations acl: a denied principal's RESERVE fails, an allowed one's succeeds", async () => {
  assert.match((await reserveAs("dev")) ?? "", /Not authorized to reserve resources as 'dev'/);
  assert.equal(await reserveAs("ops"), undefined);
});

test("reservations acl: moving a reservation needs unreserve rights, refining it does not", async () => {
  const kept = (...roles: string[]) => [
    {
      name: "mem",
      type: "SCALAR",
      scalar: { value: 32 },
      reservations: roles.map((role) => ({ type: "DYNAMIC", role, principal: "keeper" })),
    },
  ];
  const reserve = (fields: Record<string, unknown[]>) =>
    fetch(`${master.url}/master/reserve`, {
      method: "POST",
      body: new URLSearchParams({
        slaveId: agentId,
        ...Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, JSON.stringify(v)])),
      }),
    });
  assert.equal((await reserve({ resources: kept("team") })).status, 202);
  const moved = await reserve({ source: kept("team"), resources: kept("other") });
  assert.equal(moved.status, 403, await moved.text());
  const v1 = await fetch(`${master.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      type: "RESERVE_RESOURCES",
      reserve_resources: {
        agent_id: { value: agentId },
        source: kept("team"),
        resources: kept("other"),
      },
    }),
  });
  assert.equal(v1.status, 403, await v1.text());
  const refined = await reserve({ source: kept("team"), resources: kept("team", "team/sub") });
  assert.equal(refined.status, 202, await refined.text());
});

test("reservations acl: a framework's RESERVE with `source` needs unreserve rights on the source", async () => {
  const mem = (principal: string): Resource => ({
    name: "mem",
    type: "SCALAR",
    scalar: { value: 48 },
    reservations: [{ type: "DYNAMIC", role: "shop", principal }],
  });
  const byKeeper = await fetch(`${master.url}/master/reserve`, {
    method: "POST",
    body: new URLSearchParams({ slaveId: agentId, resources: JSON.stringify([mem("keeper")]) }),
  });
  assert.equal(byKeeper.status, 202, await byKeeper.text());
  const s = await subscribe(
    master.url,
    subscribeCall("mover", {
      roles: ["shop"],
      principal: "mover",
      capabilities: [{ type: "MULTI_ROLE" }, { type: "RESERVATION_REFINEMENT" }],
    }),
  );
  open.push(s);
  const offer = (
    await s.next(
      (e) =>
        (e.offers?.offers ?? []).some((o) =>
          (o.resources ?? []).some(
            (r) => r.name === "mem" && r.reservations?.[0]?.principal === "keeper",
          ),
        ),
      "an offer with keeper's memory",
    )
  ).offers?.offers?.[0];
  assert.ok(offer !== undefined);
  const allocated = (r: Resource): Resource => ({ ...r, allocation_info: { role: "shop" } });
  // Taking over keeper's reservation (same role, another principal) unreserves it first.
  const reply = await s.call({
    type: "ACCEPT",
    accept: {
      offer_ids: [offer.id],
      operations: [
        {
          type: "RESERVE",
          id: { value: "take" },
          reserve: { source: [allocated(mem("keeper"))], resources: [allocated(mem("mover"))] },
        },
      ],
    },
  });
  assert.equal(reply.status, 202, reply.body);
  const status = (await s.nth("UPDATE_OPERATION_STATUS")).update_operation_status?.status;
  assert.equal(status?.state, "OPERATION_ERROR", status?.message);
  assert.match(status?.message ?? "", /Not authorized to unreserve resources as 'mover'/);
  await s.call({ type: "TEARDOWN" });
  s.close();
});

test("reservations acl: a framework's GROW_VOLUME needs resize_volumes for the volume's role", async () => {
  const s = await subscribe(
    master.url,
    subscribeCall("grower", {
      roles: ["web"],
      principal: "grower",
      capabilities: [{ type: "MULTI_ROLE" }],
    }),
  );
  open.push(s);
  const offer = (await s.nth("OFFERS")).offers?.offers?.[0];
  assert.ok(offer !== undefined);
  const disk = (value: number, extra: Partial<Resource> = {}): Resource => ({
    name: "disk",
    type: "SCALAR",
    scalar: { value },
    reservations: [{ type: "DYNAMIC", role: "web", principal: "grower" }],
    allocation_info: { role: "web" },
    ...extra,
  });
  const volume = disk(8, {
    disk: {
      persistence: { id: "g", principal: "grower" },
      volume: { mode: "RW", container_path: "g" },
    },
  });
  const reply = await s.call({
    type: "ACCEPT",
    accept: {
      offer_ids: [offer.id],
      operations: [
        { type: "RESERVE", reserve: { resources: [disk(12)] } },
        { type: "CREATE", create: { volumes: [volume] } },
        { type: "GROW_VOLUME", id: { value: "grow" }, grow_volume: { volume, addition: disk(4) } },
      ],
    },
  });
  assert.equal(reply.status, 202, reply.body);
  const status = (await s.nth("UPDATE_OPERATION_STATUS")).update_operation_status?.status;
  assert.equal(status?.state, "OPERATION_ERROR", status?.message);
  assert.match(status?.message ?? "", /Not authorized to resize volumes as 'grower'/);
  await s.call({ type: "TEARDOWN" });
  s.close();
});
