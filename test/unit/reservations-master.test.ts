import assert from "node:assert/strict";
import { test } from "node:test";
import type { Offer, Resource } from "../../src/common/protocol/generated/mesos-v1.js";
import type { FrameworkRecord } from "../../src/master/core/records.js";
import {
  type FakeStream,
  type Fixture,
  frameworkInfo,
  makeMaster,
  registerAgent,
  subscribe,
} from "./master-fixture.js";

interface Offered {
  f: Fixture;
  stream: FakeStream;
  framework: FrameworkRecord;
  offer: Offer;
  agentId: string;
}

async function withOffer(): Promise<Offered> {
  const f = makeMaster();
  const agentId = await registerAgent(f);
  const { stream, frameworkId } = subscribe(
    f,
    frameworkInfo({ roles: ["web"], principal: "ops", capabilities: [{ type: "MULTI_ROLE" }] }),
  );
  f.allocate();
  const offer = stream.last("OFFERS")?.offers?.offers?.[0];
  const framework = f.master.frameworks.get(frameworkId);
  assert.ok(offer !== undefined && framework !== undefined);
  return { f, stream, framework, offer, agentId };
}

function reserved(name: string, value: number, extra: Partial<Resource> = {}): Resource {
  return {
    name,
    type: "SCALAR",
    scalar: { value },
    reservations: [{ type: "DYNAMIC", role: "web", principal: "ops" }],
    allocation_info: { role: "web" },
    ...extra,
  };
}

test("reservations: RESERVE then CREATE in one ACCEPT change the agent and are checkpointed", async () => {
  const l = await withOffer();
  const volume = reserved("disk", 8, {
    disk: {
      persistence: { id: "v1", principal: "ops" },
      volume: { mode: "RW", container_path: "data" },
    },
  });
  l.f.master.accept(l.framework, {
    offer_ids: [l.offer.id],
    operations: [
      {
        type: "RESERVE",
        id: { value: "r1" },
        reserve: { resources: [reserved("cpus", 1), reserved("disk", 8)] },
      },
      { type: "CREATE", create: { volumes: [volume] } },
    ],
  });
  const status = l.stream.last("UPDATE_OPERATION_STATUS")?.update_operation_status?.status;
  assert.equal(status?.state, "OPERATION_FINISHED");
  const checkpoints = l.f.sentOfType("mesos.internal.CheckpointResourcesMessage");
  assert.equal(checkpoints.length, 2);
  const last = checkpoints[1]?.resources ?? [];
  assert.ok(last.some((r) => r.disk?.persistence?.id === "v1"));
  assert.ok(last.some((r) => r.name === "cpus" && r.reservations?.[0]?.role === "web"));
  const agent = l.f.master.agents.get(l.agentId);
  assert.equal(agent?.totalResources.reserved("web").cpus(), 1);
});

test("reservations: RESERVE with another principal is refused with OPERATION_ERROR", async () => {
  const l = await withOffer();
  const bad = reserved("cpus", 1);
  bad.reservations = [{ type: "DYNAMIC", role: "web", principal: "mallory" }];
  l.f.master.accept(l.framework, {
    offer_ids: [l.offer.id],
    operations: [{ type: "RESERVE", id: { value: "r2" }, reserve: { resources: [bad] } }],
  });
  const status = l.stream.last("UPDATE_OPERATION_STATUS")?.update_operation_status?.status;
  assert.equal(status?.state, "OPERATION_ERROR");
  assert.match(status?.message ?? "", /does not match/);
  assert.equal(l.f.sentOfType("mesos.internal.CheckpointResourcesMessage").length, 0);
});

test("reservations: CREATE on unreserved disk is refused", async () => {
  const l = await withOffer();
  l.f.master.accept(l.framework, {
    offer_ids: [l.offer.id],
    operations: [
      {
        type: "CREATE",
        id: { value: "c1" },
        create: {
          volumes: [
            {
              name: "disk",
              type: "SCALAR",
              scalar: { value: 8 },
              allocation_info: { role: "web" },
              disk: {
                persistence: { id: "v", principal: "ops" },
                volume: { mode: "RW", container_path: "d" },
              },
            },
          ],
        },
      },
    ],
  });
  const status = l.stream.last("UPDATE_OPERATION_STATUS")?.update_operation_status?.status;
  assert.equal(status?.state, "OPERATION_ERROR");
  assert.match(status?.message ?? "", /unreserved/);
});

test("reservations: GROW_VOLUME resizes a volume made in the same ACCEPT, whose later operations cannot use the result (as Mesos)", async () => {
  const l = await withOffer();
  const volume = (size: number) =>
    reserved("disk", size, {
      disk: {
        persistence: { id: "v2", principal: "ops" },
        volume: { mode: "RW", container_path: "d" },
      },
    });
  l.f.master.accept(l.framework, {
    offer_ids: [l.offer.id],
    operations: [
      { type: "RESERVE", reserve: { resources: [reserved("disk", 16)] } },
      { type: "CREATE", create: { volumes: [volume(8)] } },
      {
        type: "GROW_VOLUME",
        id: { value: "g" },
        grow_volume: { volume: volume(8), addition: reserved("disk", 4) },
      },
      {
        type: "SHRINK_VOLUME",
        id: { value: "s" },
        shrink_volume: { volume: volume(12), subtract: { value: 2 } },
      },
    ],
  });
  const statuses = l.stream
    .ofType("UPDATE_OPERATION_STATUS")
    .map((e) => e.update_operation_status?.status);
  assert.deepEqual(
    statuses.map((s) => s?.state),
    ["OPERATION_FINISHED", "OPERATION_ERROR"],
  );
  assert.match(
    statuses[1]?.message ?? "",
    /^Invalid SHRINK_VOLUME operation: .* does not contain /,
  );
  const total = l.f.master.agents.get(l.agentId)?.totalResources;
  const vol = total?.toArray().find((r) => r.disk?.persistence?.id === "v2");
  assert.equal(vol?.scalar?.value, 12);
  assert.equal(total?.reserved("web").disk(), 16);
});

test("reservations: a framework's RESERVE with `source` replaces the reservation it names", async () => {
  const l = await withOffer();
  const labelled = reserved("cpus", 1, {
    reservations: [
      {
        type: "DYNAMIC",
        role: "web",
        principal: "ops",
        labels: { labels: [{ key: "team", value: "blue" }] },
      },
    ],
  });
  l.f.master.accept(l.framework, {
    offer_ids: [l.offer.id],
    operations: [
      { type: "RESERVE", id: { value: "r1" }, reserve: { resources: [reserved("cpus", 1)] } },
      // Quantities differ: refused, nothing changes.
      {
        type: "RESERVE",
        id: { value: "r2" },
        reserve: {
          source: [reserved("cpus", 1)],
          resources: [{ ...labelled, scalar: { value: 2 } }],
        },
      },
      {
        type: "RESERVE",
        id: { value: "r3" },
        reserve: { source: [reserved("cpus", 1)], resources: [labelled] },
      },
    ],
  });
  const statuses = l.stream.events
    .filter((e) => e.type === "UPDATE_OPERATION_STATUS")
    .map((e) => e.update_operation_status?.status);
  assert.deepEqual(
    statuses.map((s) => [s?.operation_id?.value, s?.state]),
    [
      ["r1", "OPERATION_FINISHED"],
      ["r2", "OPERATION_ERROR"],
      ["r3", "OPERATION_FINISHED"],
    ],
  );
  assert.match(statuses[1]?.message ?? "", /identical resource quantities/);
  const cpus = l.f.master.agents
    .get(l.agentId)
    ?.totalResources.reserved("web")
    .toArray()
    .filter((r) => r.name === "cpus");
  assert.equal(cpus?.length, 1);
  assert.equal(cpus?.[0]?.scalar?.value, 1);
  assert.equal(cpus?.[0]?.reservations?.[0]?.labels?.labels?.[0]?.value, "blue");
});

test("reservations: what an ACCEPT's operations made is not declined: it comes back in the next offer (as Mesos)", async () => {
  const l = await withOffer();
  const volume = reserved("disk", 8, {
    disk: {
      persistence: { id: "v3", principal: "ops" },
      volume: { mode: "RW", container_path: "data" },
    },
  });
  l.f.master.accept(l.framework, {
    offer_ids: [l.offer.id],
    operations: [
      { type: "RESERVE", reserve: { resources: [reserved("cpus", 1), reserved("disk", 8)] } },
      { type: "CREATE", create: { volumes: [volume] } },
    ],
  });
  l.f.allocate();
  const next = l.stream.last("OFFERS")?.offers?.offers?.[0];
  assert.ok(next !== undefined && next.id.value !== l.offer.id.value, "a new offer");
  const resources = next.resources ?? [];
  assert.ok(resources.some((r) => r.disk?.persistence?.id === "v3"));
  // (Offers to a framework without RESERVATION_REFINEMENT use `role`.)
  assert.ok(resources.some((r) => r.name === "cpus" && r.role === "web"));
});
