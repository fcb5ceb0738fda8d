/**
 * Operator reservations on a real master and agent: `/master/reserve` and
 * `/master/unreserve` with form-encoded `slaveId` + `resources` (both the
 * book's pre-refinement payload and the `reservations` format), volumes
 * through `/master/create-volumes` / `/master/destroy-volumes`, the v1
 * calls, 400 for malformed requests and 409 when resources are missing.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, getJson, stopAll, waitFor } from "../harness/processes.js";

let master: DaemonHandle;
let agent: DaemonHandle;
let agentId = "";

before(async () => {
  ({ master, agent, agentId } = await startOneAgentCluster(
    {},
    { masterFlags: { allocation_interval: "100ms" } },
  ));
});

after(async () => {
  await stopAll();
});

async function form(
  path: string,
  fields: Record<string, string>,
): Promise<{ status: number; text: string }> {
  const response = await fetch(`${master.url}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: response.status, text: await response.text() };
}

async function operator(call: unknown): Promise<{ status: number; text: string }> {
  const response = await fetch(`${master.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(call),
  });
  return { status: response.status, text: await response.text() };
}

async function reservedCpus(role: string): Promise<number> {
  const state = await getJson<{
    slaves?: { reserved_resources?: Record<string, { cpus?: number }> }[];
  }>(`${master.url}/master/state`);
  return state?.slaves?.[0]?.reserved_resources?.[role]?.cpus ?? 0;
}

interface AgentStateResources {
  reserved_resources?: Record<string, { cpus?: number }>;
  unreserved_resources?: { cpus?: number };
  reserved_resources_full?: Record<
    string,
    { name: string; reservations?: { principal?: string }[] }[]
  >;
}

function agentState(): Promise<AgentStateResources | undefined> {
  return getJson<AgentStateResources>(`${agent.url}/state`);
}

/** The book's example (pre-refinement format: `role` plus `reservation.principal`). */
const BOOK = JSON.stringify([
  {
    name: "cpus",
    type: "SCALAR",
    scalar: { value: 1 },
    role: "ads",
    reservation: { principal: "ops" },
  },
  {
    name: "mem",
    type: "SCALAR",
    scalar: { value: 256 },
    role: "ads",
    reservation: { principal: "ops" },
  },
]);

test("reservations operator: /master/reserve and /master/unreserve with the book's payload", async () => {
  const reserve = await form("/master/reserve", { slaveId: agentId, resources: BOOK });
  assert.equal(reserve.status, 202, reserve.text);
  assert.equal(await reservedCpus("ads"), 1);
  await waitFor("the agent to checkpoint its resources", () =>
    existsSync(join(agent.workDir, "meta", "resources", "resources.info")),
  );
  // The agent's own /state shows its total with the reservation, as Mesos' does.
  await waitFor("the agent's /state to show the reservation", async () => {
    const state = await agentState();
    return state?.reserved_resources?.ads?.cpus === 1 && state.unreserved_resources?.cpus === 1;
  });
  const full = (await agentState())?.reserved_resources_full?.ads ?? [];
  assert.deepEqual(full.map((r) => [r.name, r.reservations?.[0]?.principal]).sort(), [
    ["cpus", "ops"],
    ["mem", "ops"],
  ]);
  // There is only one more cpu: reserving two is a conflict.
  const tooMuch = JSON.stringify([
    {
      name: "cpus",
      type: "SCALAR",
      scalar: { value: 2 },
      reservations: [{ type: "DYNAMIC", role: "ads", principal: "ops" }],
    },
  ]);
  const conflict = await form("/master/reserve", { slaveId: agentId, resources: tooMuch });
  assert.equal(conflict.status, 409, conflict.text);
  // Mesos' words: `<available> does not contain <needed>`.
  assert.match(conflict.text, /^.+ does not contain .*cpus.*2/);
  const unreserve = await form("/master/unreserve", { slaveId: agentId, resources: BOOK });
  assert.equal(unreserve.status, 202, unreserve.text);
  assert.equal(await reservedCpus("ads"), 0);
  const again = await form("/master/unreserve", { slaveId: agentId, resources: BOOK });
  assert.equal(again.status, 409, again.text);
  await waitFor("the agent's /state to drop the reservation", async () => {
    const state = await agentState();
    return state?.reserved_resources?.ads === undefined && state?.unreserved_resources?.cpus === 2;
  });
});

test("reservations operator: volumes through /master/create-volumes and /master/destroy-volumes", async () => {
  const disk = {
    name: "disk",
    type: "SCALAR",
    scalar: { value: 64 },
    reservations: [{ type: "DYNAMIC", role: "db", principal: "ops" }],
  };
  const volume = {
    ...disk,
    disk: {
      persistence: { id: "pg", principal: "ops" },
      volume: { mode: "RW", container_path: "pgdata" },
    },
  };
  assert.equal(
    (await form("/master/reserve", { slaveId: agentId, resources: JSON.stringify([disk]) })).status,
    202,
  );
  const create = await form("/master/create-volumes", {
    slaveId: agentId,
    volumes: JSON.stringify([volume]),
  });
  assert.equal(create.status, 202, create.text);
  const volumeDir = join(agent.workDir, "volumes", "roles", "db", "pg");
  await waitFor("the volume directory", () => existsSync(volumeDir));
  writeFileSync(join(volumeDir, "data"), "kept across grow and shrink");
  const duplicate = await form("/master/create-volumes", {
    slaveId: agentId,
    volumes: JSON.stringify([volume]),
  });
  assert.equal(duplicate.status, 400, duplicate.text);
  // v1 GROW_VOLUME with 16 more reserved disk, then SHRINK_VOLUME back to 64.
  const extra = { ...disk, scalar: { value: 16 } };
  const reserveExtra = await form("/master/reserve", {
    slaveId: agentId,
    resources: JSON.stringify([extra]),
  });
  assert.equal(reserveExtra.status, 202, reserveExtra.text);
  const grow = await operator({
    type: "GROW_VOLUME",
    grow_volume: { agent_id: { value: agentId }, volume, addition: extra },
  });
  assert.equal(grow.status, 202, grow.text);
  const shrink = await operator({
    type: "SHRINK_VOLUME",
    shrink_volume: {
      agent_id: { value: agentId },
      volume: { ...volume, scalar: { value: 80 } },
      subtract: { value: 16 },
    },
  });
  assert.equal(shrink.status, 202, shrink.text);
  const unreserveExtra = await form("/master/unreserve", {
    slaveId: agentId,
    resources: JSON.stringify([extra]),
  });
  assert.equal(unreserveExtra.status, 202, unreserveExtra.text);
  assert.equal(readFileSync(join(volumeDir, "data"), "utf8"), "kept across grow and shrink");
  const destroy = await form("/master/destroy-volumes", {
    slaveId: agentId,
    volumes: JSON.stringify([volume]),
  });
  assert.equal(destroy.status, 202, destroy.text);
  // Resizing kept the data; DESTROY deletes it with the directory, as Mesos' agent does.
  await waitFor("the destroyed volume's directory to be deleted", () => !existsSync(volumeDir));
  const unreserve = await form("/master/unreserve", {
    slaveId: agentId,
    resources: JSON.stringify([disk]),
  });
  assert.equal(unreserve.status, 202, unreserve.text);
});

test("reservations operator: v1 RESERVE_RESOURCES and UNRESERVE_RESOURCES", async () => {
  const resources = [
    {
      name: "cpus",
      type: "SCALAR",
      scalar: { value: 1 },
      reservations: [{ type: "DYNAMIC", role: "batch", principal: "ops" }],
    },
  ];
  const reserve = await operator({
    type: "RESERVE_RESOURCES",
    reserve_resources: { agent_id: { value: agentId }, resources },
  });
  assert.equal(reserve.status, 202, reserve.text);
  assert.equal(await reservedCpus("batch"), 1);
  const unreserve = await operator({
    type: "UNRESERVE_RESOURCES",
    unreserve_resources: { agent_id: { value: agentId }, resources },
  });
  assert.equal(unreserve.status, 202, unreserve.text);
  assert.equal(await reservedCpus("batch"), 0);
  const missing = await operator({ type: "RESERVE_RESOURCES" });
  assert.equal(missing.status, 400, missing.text);
});

test("reservations operator: malformed requests get 400 with a reason", async () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ["/master/reserve", { resources: BOOK }, /slaveId/],
    ["/master/reserve", { slaveId: agentId }, /resources/],
    ["/master/reserve", { slaveId: agentId, resources: "[{not json" }, /JSON/],
    ["/master/reserve", { slaveId: agentId, resources: "{}" }, /array/],
    [
      "/master/reserve",
      {
        slaveId: agentId,
        resources: JSON.stringify([{ name: "cpus", type: "SCALAR", scalar: { value: 1 } }]),
      },
      /not dynamically reserved/,
    ],
    ["/master/reserve", { slaveId: "no-such-agent", resources: BOOK }, /agent/],
    [
      "/master/create-volumes",
      {
        slaveId: agentId,
        volumes: JSON.stringify([{ name: "disk", type: "SCALAR", scalar: { value: 1 } }]),
      },
      /persistent volume/,
    ],
  ];
  for (const [path, fields, reason] of cases) {
    const got = await form(path, fields);
    assert.equal(got.status, 400, `${path} ${JSON.stringify(fields)}: ${got.text}`);
    assert.match(got.text, reason);
  }
});

/** `cpus` reserved to `role` by `ops`. */
function cpusFor(role: string, value = 1): Record<string, unknown>[] {
  return [
    {
      name: "cpus",
      type: "SCALAR",
      scalar: { value },
      reservations: [{ type: "DYNAMIC", role, principal: "ops" }],
    },
  ];
}

test("reservations operator: a RESERVE with `source` moves a reservation to another role", async () => {
  const reserve = await form("/master/reserve", {
    slaveId: agentId,
    resources: JSON.stringify(cpusFor("old")),
  });
  assert.equal(reserve.status, 202, reserve.text);
  // Form-encoded `source`: the cpu reserved to `old` becomes reserved to `new`.
  const moved = await form("/master/reserve", {
    slaveId: agentId,
    source: JSON.stringify(cpusFor("old")),
    resources: JSON.stringify(cpusFor("new")),
  });
  assert.equal(moved.status, 202, moved.text);
  assert.equal(await reservedCpus("old"), 0);
  assert.equal(await reservedCpus("new"), 1);
  // Source and target must be the same quantities.
  const uneven = await form("/master/reserve", {
    slaveId: agentId,
    source: JSON.stringify(cpusFor("new")),
    resources: JSON.stringify(cpusFor("old", 2)),
  });
  assert.equal(uneven.status, 400, uneven.text);
  assert.match(uneven.text, /identical resource quantities: cpus:1 vs\. cpus:2/);
  // A source that is not reserved on the agent is a conflict, not a new reservation.
  const absent = await form("/master/reserve", {
    slaveId: agentId,
    source: JSON.stringify(cpusFor("nobody")),
    resources: JSON.stringify(cpusFor("old")),
  });
  assert.equal(absent.status, 409, absent.text);
  assert.equal(await reservedCpus("old"), 0);
  // The v1 call's `source` moves it back.
  const back = await operator({
    type: "RESERVE_RESOURCES",
    reserve_resources: {
      agent_id: { value: agentId },
      source: cpusFor("new"),
      resources: cpusFor("old"),
    },
  });
  assert.equal(back.status, 202, back.text);
  assert.equal(await reservedCpus("new"), 0);
  assert.equal(await reservedCpus("old"), 1);
  const unreserve = await form("/master/unreserve", {
    slaveId: agentId,
    resources: JSON.stringify(cpusFor("old")),
  });
  assert.equal(unreserve.status, 202, unreserve.text);
});

test("reservations operator: persistence ids are unique per role, as in Mesos", async () => {
  const disk = (role: string) => ({
    name: "disk",
    type: "SCALAR",
    scalar: { value: 8 },
    reservations: [{ type: "DYNAMIC", role, principal: "ops" }],
  });
  const volume = (role: string) => ({
    ...disk(role),
    disk: {
      persistence: { id: "shared-id", principal: "ops" },
      volume: { mode: "RW", container_path: "data" },
    },
  });
  for (const role of ["red", "blue"]) {
    const reserve = await form("/master/reserve", {
      slaveId: agentId,
      resources: JSON.stringify([disk(role)]),
    });
    assert.equal(reserve.status, 202, reserve.text);
    const create = await form("/master/create-volumes", {
      slaveId: agentId,
      volumes: JSON.stringify([volume(role)]),
    });
    assert.equal(create.status, 202, `${role}: ${create.text}`);
  }
  await waitFor("both volume directories", () =>
    ["red", "blue"].every((role) =>
      existsSync(join(agent.workDir, "volumes", "roles", role, "shared-id")),
    ),
  );
  const again = await form("/master/create-volumes", {
    slaveId: agentId,
    volumes: JSON.stringify([volume("red")]),
  });
  assert.equal(again.status, 400, again.text);
  assert.match(again.text, /: Persistence ID 'shared-id' is not unique$/);
  const cpus = await form("/master/create-volumes", {
    slaveId: agentId,
    volumes: JSON.stringify(cpusFor("red")),
  });
  assert.equal(cpus.status, 400, cpus.text);
  assert.match(cpus.text, /Not a persistent volume: Resource cpus.* does not have DiskInfo$/);
  for (const role of ["red", "blue"]) {
    const destroy = await form("/master/destroy-volumes", {
      slaveId: agentId,
      volumes: JSON.stringify([volume(role)]),
    });
    assert.equal(destroy.status, 202, destroy.text);
    const unreserve = await form("/master/unreserve", {
      slaveId: agentId,
      resources: JSON.stringify([disk(role)]),
    });
    assert.equal(unreserve.status, 202, unreserve.text);
  }
});

test("reservations operator: GROW_VOLUME and SHRINK_VOLUME refusals use Mesos' words and codes", async () => {
  const disk = {
    name: "disk",
    type: "SCALAR",
    scalar: { value: 32 },
    reservations: [{ type: "DYNAMIC", role: "grow", principal: "ops" }],
  };
  const volume = {
    ...disk,
    disk: {
      persistence: { id: "g1", principal: "ops" },
      volume: { mode: "RW", container_path: "g" },
    },
  };
  const agent = { value: agentId };
  const grow = (v: unknown, addition: unknown) =>
    operator({ type: "GROW_VOLUME", grow_volume: { agent_id: agent, volume: v, addition } });
  const shrink = (v: unknown, by: number) =>
    operator({
      type: "SHRINK_VOLUME",
      shrink_volume: { agent_id: agent, volume: v, subtract: { value: by } },
    });
  assert.equal(
    (await form("/master/reserve", { slaveId: agentId, resources: JSON.stringify([disk]) })).status,
    202,
  );
  // Not created yet: the volume is not on the agent, a conflict as in Mesos.
  const absent = await shrink(volume, 8);
  assert.equal(absent.status, 409, absent.text);
  assert.match(absent.text, /does not contain/);
  const create = await form("/master/create-volumes", {
    slaveId: agentId,
    volumes: JSON.stringify([volume]),
  });
  assert.equal(create.status, 202, create.text);
  const cases: [Promise<{ status: number; text: string }>, string][] = [
    [
      grow(volume, { ...disk, scalar: { value: 0 } }),
      "Invalid GROW_VOLUME operation on agent .*: The size of 'GrowVolume.addition' field must be greater than zero",
    ],
    [
      grow(volume, { name: "disk", type: "SCALAR", scalar: { value: 8 } }),
      "Incompatible resources in the 'GrowVolume.volume' and 'GrowVolume.addition' fields",
    ],
    [
      grow(disk, { ...disk, scalar: { value: 8 } }),
      "Invalid persistent volume in the 'GrowVolume.volume' field: Resource .* does not have DiskInfo",
    ],
    [
      shrink(volume, 32),
      "Invalid SHRINK_VOLUME operation on agent .*: Value of 'ShrinkVolume.subtract' must be smaller than the size of 'ShrinkVolume.volume'",
    ],
    [shrink(volume, 0), "Value of 'ShrinkVolume.subtract' must be greater than zero"],
  ];
  for (const [reply, words] of cases) {
    const got = await reply;
    assert.equal(got.status, 400, got.text);
    assert.match(got.text, new RegExp(words.replace(/[()']/g, "\\$&")));
  }
  const destroy = await form("/master/destroy-volumes", {
    slaveId: agentId,
    volumes: JSON.stringify([volume]),
  });
  assert.equal(destroy.status, 202, destroy.text);
  const unreserve = await form("/master/unreserve", {
    slaveId: agentId,
    resources: JSON.stringify([disk]),
  });
  assert.equal(unreserve.status, 202, unreserve.text);
});
