/**
 * The master's legacy (non-v1) HTTP endpoints answer as Mesos' do, on a real
 * master and agent: how form bodies are decoded, the wording and order of the
 * refusals of /master/reserve, /unreserve, /create-volumes, /destroy-volumes,
 * /teardown, DELETE /master/quota/<role> and PUT /master/weights.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Offer, Resource } from "../../src/common/protocol/generated/mesos-v1.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, stopAll } from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";

let master: DaemonHandle;
let agentId = "";
const open: Subscription[] = [];

before(async () => {
  ({ master, agentId } = await startOneAgentCluster(
    { registration_backoff_factor: "10ms" },
    { masterFlags: { allocation_interval: "100ms" } },
  ));
});

after(async () => {
  for (const s of open) s.close();
  await stopAll();
});

async function send(
  path: string,
  body: string,
  method = "POST",
): Promise<{ status: number; text: string }> {
  const response = await fetch(`${master.url}${path}`, {
    method,
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    ...(method === "GET" ? {} : { body }),
  });
  return { status: response.status, text: await response.text() };
}

function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

function reserved(name: string, value: number, extra: Partial<Resource> = {}): Resource {
  return {
    name,
    type: "SCALAR",
    scalar: { value },
    reservations: [{ type: "DYNAMIC", role: "web" }],
    ...extra,
  };
}

const VOLUME = reserved("disk", 64, {
  disk: { persistence: { id: "vol1" }, volume: { mode: "RW", container_path: "data" } },
});

test("master http: a form body with a malformed '%' escape is 400 'Unable to decode query string'", async () => {
  const bad = await send("/master/reserve", `slaveId=${agentId}&resources=%zz`);
  assert.deepEqual(
    [bad.status, bad.text],
    [400, "Unable to decode query string: Malformed % escape in '%zz': '%zz'"],
  );
  const teardown = await send("/master/teardown", "frameworkId=%4");
  assert.deepEqual(
    [teardown.status, teardown.text],
    [400, "Unable to decode query string: Malformed % escape in '%4': '%4'"],
  );
});

test("master http: unparsable resources are refused in Mesos' words, per endpoint", async () => {
  const cases: [string, string, string][] = [
    ["/master/reserve", "resources", "Error parsing 'resources'"],
    ["/master/unreserve", "resources", "Error in parsing 'resources'"],
    ["/master/create-volumes", "volumes", "Error in parsing 'volumes'"],
    ["/master/destroy-volumes", "volumes", "Error in parsing 'volumes'"],
  ];
  for (const [path, field, start] of cases) {
    for (const value of ["[{not json", "{}"]) {
      const got = await send(path, form({ slaveId: agentId, [field]: value }));
      assert.equal(got.status, 400, `${path} ${value}: ${got.text}`);
      assert.ok(
        got.text.startsWith(`${start} query parameter in the request body: `),
        `${path} ${value}: ${got.text}`,
      );
    }
  }
});

test("master http: an unknown agent is reported before the resources are validated", async () => {
  const invalid = JSON.stringify([reserved("cpus", -1)]);
  const unknown = await send("/master/reserve", form({ slaveId: "nope", resources: invalid }));
  assert.deepEqual([unknown.status, unknown.text], [400, "No agent found with specified ID"]);
  const known = await send("/master/reserve", form({ slaveId: agentId, resources: invalid }));
  assert.equal(known.status, 400);
  assert.match(known.text, /^Resource 'cpus.*' is invalid: /);
});

test("master http: refused operations carry Mesos' 'Invalid <TYPE> operation' prefix", async () => {
  const agentName = new RegExp(
    `^Invalid RESERVE operation on agent ${agentId} at \\S+@\\S+ \\(.*\\): `,
  );
  const unreservedCpu = JSON.stringify([{ name: "cpus", type: "SCALAR", scalar: { value: 1 } }]);
  const reserve = await send(
    "/master/reserve",
    form({ slaveId: agentId, resources: unreservedCpu }),
  );
  assert.equal(reserve.status, 400);
  assert.match(reserve.text, agentName);
  const unreserve = await send(
    "/master/unreserve",
    form({ slaveId: agentId, resources: unreservedCpu }),
  );
  assert.equal(unreserve.status, 400);
  assert.match(unreserve.text, /^Invalid UNRESERVE operation: /);
  const create = await send(
    "/master/create-volumes",
    form({ slaveId: agentId, volumes: JSON.stringify([reserved("disk", 1)]) }),
  );
  assert.equal(create.status, 400);
  assert.match(create.text, new RegExp(`^Invalid CREATE operation on agent ${agentId} at `));
  const destroy = await send(
    "/master/destroy-volumes",
    form({ slaveId: agentId, volumes: JSON.stringify([VOLUME]) }),
  );
  assert.deepEqual(
    [destroy.status, destroy.text],
    [400, "Invalid DESTROY operation: Persistent volumes not found"],
  );
});

function hasVolume(offer: Offer): boolean {
  return (offer.resources ?? []).some((r) => r.disk?.persistence?.id === "vol1");
}

test("master http: destroying a volume a task uses is 400 'Persistent volumes in use'; teardown ends the task", async () => {
  const resources = JSON.stringify([
    reserved("cpus", 1),
    reserved("mem", 128),
    reserved("disk", 64),
  ]);
  const reserve = await send("/master/reserve", form({ slaveId: agentId, resources }));
  assert.equal(reserve.status, 202, reserve.text);
  const create = await send(
    "/master/create-volumes",
    form({ slaveId: agentId, volumes: JSON.stringify([VOLUME]) }),
  );
  assert.equal(create.status, 202, create.text);

  const s = await subscribe(master.url, subscribeCall("volume-user", { role: "web" }));
  open.push(s);
  s.autoAcknowledge = true;
  const event = await s.next(
    (e) => (e.offers?.offers ?? []).some(hasVolume),
    "an offer with the volume",
  );
  const offer = (event.offers?.offers ?? []).find(hasVolume) as Offer;
  const allocated = { allocation_info: { role: "web" } };
  const accept = await s.call({
    type: "ACCEPT",
    accept: {
      offer_ids: [offer.id],
      operations: [
        {
          type: "LAUNCH",
          launch: {
            task_infos: [
              {
                name: "holder",
                task_id: { value: "holder" },
                agent_id: { value: agentId },
                resources: [
                  reserved("cpus", 0.5, allocated),
                  reserved("mem", 64, allocated),
                  { ...VOLUME, ...allocated },
                ],
                command: { value: "sleep 600" },
              },
            ],
          },
        },
      ],
      filters: { refuse_seconds: 0 },
    },
  });
  assert.equal(accept.status, 202, accept.body);
  await s.next(
    (e) => e.update?.status.task_id.value === "holder" && e.update.status.state === "TASK_RUNNING",
    "TASK_RUNNING of the task using the volume",
    30_000,
  );

  const destroy = await send(
    "/master/destroy-volumes",
    form({ slaveId: agentId, volumes: JSON.stringify([VOLUME]) }),
  );
  assert.deepEqual(
    [destroy.status, destroy.text],
    [400, "Invalid DESTROY operation: Persistent volumes in use"],
  );

  const teardown = await send("/master/teardown", form({ frameworkId: s.frameworkId }));
  assert.equal(teardown.status, 200, teardown.text);
  const again = await send("/master/teardown", form({ frameworkId: s.frameworkId }));
  assert.deepEqual([again.status, again.text], [400, "No framework found with specified ID"]);
});

test("master http: DELETE /master/quota/<role> takes nested roles and names the path when refusing", async () => {
  const nested = await send("/master/quota/eng/dev", "", "DELETE");
  assert.deepEqual(
    [nested.status, nested.text],
    [
      400,
      "Failed to remove quota for path '/master/quota/eng/dev': Role 'eng/dev' has no quota set",
    ],
  );
  const bare = await send("/master/quota", "", "DELETE");
  assert.deepEqual(
    [bare.status, bare.text],
    [
      400,
      "Failed to parse remove quota request for path '/master/quota': expected 3 tokens, found 2 tokens",
    ],
  );
});

test("master http: PUT /master/weights with a JSON non-array is refused in Mesos' words", async () => {
  const got = await send("/master/weights", "{}", "PUT");
  assert.deepEqual(
    [got.status, got.text],
    [400, "Failed to parse update weights request JSON '{}': Unexpected JSON type parsed"],
  );
});

async function sendJson(path: string, body: unknown): Promise<{ status: number; text: string }> {
  return send(path, JSON.stringify(body));
}

test("master http: maintenance refusals use Mesos' words; machine hostnames match ignoring case", async () => {
  const window = (ids: unknown[], duration = 3_600_000_000_000) => ({
    windows: [
      {
        machine_ids: ids,
        unavailability: { start: { nanoseconds: 0 }, duration: { nanoseconds: duration } },
      },
    ],
  });
  const refusals: [string, unknown, string][] = [
    [
      "/master/maintenance/schedule",
      window([{ hostname: "m1" }], -1),
      "Unavailability 'duration' is negative",
    ],
    [
      "/master/maintenance/schedule",
      window([{}]),
      "Both 'hostname' and 'ip' for a machine are empty",
    ],
    [
      "/master/maintenance/schedule",
      window([{ ip: "300.1.1.1" }]),
      "Failed to parse IPv4: 300.1.1.1",
    ],
    ["/master/machine/down", [{ hostname: "m1", ip: "nope" }], "Failed to parse IPv4: nope"],
    ["/master/machine/up", [{ hostname: "" }], "Both 'hostname' and 'ip' for a machine are empty"],
  ];
  for (const [path, body, text] of refusals) {
    const got = await sendJson(path, body);
    assert.deepEqual([got.status, got.text], [400, text], `${path} ${JSON.stringify(body)}`);
  }

  const scheduled = await sendJson(
    "/master/maintenance/schedule",
    window([{ hostname: "Maint-Host.example" }]),
  );
  assert.equal(scheduled.status, 200, scheduled.text);
  const twice = await sendJson("/master/machine/down", [
    { hostname: "maint-host.example" },
    { hostname: "MAINT-HOST.example" },
  ]);
  assert.deepEqual(
    [twice.status, twice.text],
    [400, `Machine '{"hostname":"MAINT-HOST.example"}' appears more than once in the schedule`],
  );
  const down = await sendJson("/master/machine/down", [{ hostname: "maint-host.EXAMPLE" }]);
  assert.equal(down.status, 200, down.text);
  const up = await sendJson("/master/machine/up", [{ hostname: "MAINT-HOST.example" }]);
  assert.equal(up.status, 200, up.text);
});

interface RoleJson {
  name: string;
  reserved: Record<string, number>;
  offered: Record<string, number>;
  frameworks: string[];
}

test("master http: /master/roles and GET_ROLES list ancestors of nested roles and count whole subtrees", async () => {
  const reserve = await send(
    "/master/reserve",
    form({
      slaveId: agentId,
      resources: JSON.stringify([
        {
          name: "cpus",
          type: "SCALAR",
          scalar: { value: 0.25 },
          reservations: [{ type: "DYNAMIC", role: "eng/dev" }],
        },
      ]),
    }),
  );
  assert.equal(reserve.status, 202, reserve.text);
  const s = await subscribe(master.url, subscribeCall("nested", { role: "eng/dev" }));
  open.push(s);
  await s.next((e) => (e.offers?.offers ?? []).length > 0, "an offer to eng/dev");

  const roles = (await (await fetch(`${master.url}/master/roles`)).json()) as { roles: RoleJson[] };
  const eng = roles.roles.find((r) => r.name === "eng");
  const dev = roles.roles.find((r) => r.name === "eng/dev");
  assert.ok(eng !== undefined && dev !== undefined, JSON.stringify(roles));
  assert.equal(eng.reserved.cpus, 0.25);
  assert.ok((dev.offered.cpus ?? 0) > 0, JSON.stringify(dev));
  assert.deepEqual(eng.offered, dev.offered);
  assert.deepEqual([eng.frameworks, dev.frameworks], [[], [s.frameworkId]]);

  const v1 = await fetch(`${master.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ type: "GET_ROLES" }),
  });
  const answer = (await v1.json()) as {
    get_roles: { roles: { name: string; resources?: { name: string }[] }[] };
  };
  const names = answer.get_roles.roles.map((r) => r.name);
  assert.ok(names.includes("eng") && names.includes("eng/dev"), names.join(","));
  const devResources = answer.get_roles.roles.find((r) => r.name === "eng/dev")?.resources ?? [];
  assert.ok(
    devResources.some((r) => r.name === "cpus"),
    JSON.stringify(devResources),
  );
  for (const r of devResources) assert.ok(["cpus", "mem", "disk", "gpus"].includes(r.name), r.name);

  const teardown = await send("/master/teardown", form({ frameworkId: s.frameworkId }));
  assert.equal(teardown.status, 200, teardown.text);
});

test("master http: /master/redirect answers 307 to the leader's base; below it is 404", async () => {
  const base = await fetch(`${master.url}/master/redirect?x=1`, { redirect: "manual" });
  assert.equal(base.status, 307);
  assert.match(base.headers.get("location") ?? "", /^\/\/[^/]+:\d+$/);
  for (const path of ["/master/redirect/", "/master/redirect/state"]) {
    const below = await fetch(`${master.url}${path}`, { redirect: "manual" });
    assert.equal(below.status, 404, path);
  }
});

test("master http: maintenance bodies of the wrong JSON type are 'Unexpected JSON type parsed'", async () => {
  for (const [path, body] of [
    ["/master/maintenance/schedule", "[]"],
    ["/master/machine/down", "{}"],
    ["/master/machine/up", '"h"'],
  ] as const) {
    const got = await send(path, body);
    assert.deepEqual([got.status, got.text], [400, "Unexpected JSON type parsed"], path);
  }
});

test("master http: a PUT /master/weights for a role in use rescinds the outstanding offers", async () => {
  const s = await subscribe(master.url, subscribeCall("weighted", { role: "w1" }));
  open.push(s);
  const offered = await s.next((e) => (e.offers?.offers ?? []).length > 0, "an offer to w1");
  const offerId = offered.offers?.offers?.[0]?.id.value;
  const put = await send("/master/weights", JSON.stringify([{ role: "w1", weight: 2 }]), "PUT");
  assert.equal(put.status, 200, put.text);
  await s.next(
    (e) => e.type === "RESCIND" && e.rescind?.offer_id.value === offerId,
    "the offer rescinded",
    5_000,
  );
  // The v1 UPDATE_WEIGHTS does the same.
  const again = await s.next(
    (e) => (e.offers?.offers ?? []).some((o) => o.id.value !== offerId),
    "a new offer to w1",
  );
  const againId = again.offers?.offers?.[0]?.id.value;
  const v1 = await fetch(`${master.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      type: "UPDATE_WEIGHTS",
      update_weights: { weight_infos: [{ role: "w1", weight: 3 }] },
    }),
  });
  assert.equal(v1.status, 200, await v1.text());
  await s.next(
    (e) => e.type === "RESCIND" && e.rescind?.offer_id.value === againId,
    "the new offer rescinded",
    5_000,
  );
  const teardown = await send("/master/teardown", form({ frameworkId: s.frameworkId }));
  assert.equal(teardown.status, 200, teardown.text);
});

test("master http: POST /master/quota with a JSON non-object is a parse failure in Mesos' words", async () => {
  const got = await send("/master/quota", "[]");
  assert.deepEqual(
    [got.status, got.text],
    [400, "Failed to parse set quota request JSON '[]': Unexpected JSON type parsed"],
  );
});
