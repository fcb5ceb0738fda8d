/**
 * Which error a bad operator request gets first, in Mesos' order:
 * authentication (401) before the method check (405), because libprocess
 * authenticates before any handler runs; then the handler's own checks
 * (400 for malformed or invalid requests, 406 for `Accept`) before the ACLs
 * (403); then 409 for resources that are not available. Checked on a real
 * master (with a real agent for the reservation endpoints) and a real agent.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type DaemonHandle,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitLong,
} from "../harness/processes.js";
import { subscribe, subscribeCall } from "./master-clients.js";

const NONE = { type: "NONE" };
const DEV_ONLY = { values: ["dev"] };
/** Everything allowed, except that `dev` may change nothing. */
const ACLS = {
  permissive: true,
  reserve_resources: [{ principals: DEV_ONLY, roles: NONE }],
  create_volumes: [{ principals: DEV_ONLY, roles: NONE }],
  destroy_volumes: [{ principals: DEV_ONLY, creator_principals: NONE }],
  update_weights: [{ principals: DEV_ONLY, roles: NONE }],
  update_quotas: [{ principals: DEV_ONLY, roles: NONE }],
  view_flags: [{ principals: DEV_ONLY, flags: NONE }],
  teardown_frameworks: [{ principals: DEV_ONLY, framework_principals: NONE }],
  get_endpoints: [{ principals: DEV_ONLY, paths: NONE }],
  update_maintenance_schedules: [{ principals: DEV_ONLY, machines: NONE }],
  get_maintenance_schedules: [{ principals: DEV_ONLY, machines: NONE }],
  get_maintenance_statuses: [{ principals: DEV_ONLY, machines: NONE }],
  start_maintenances: [{ principals: DEV_ONLY, machines: NONE }],
  stop_maintenances: [{ principals: DEV_ONLY, machines: NONE }],
  drain_agents: [{ principals: DEV_ONLY, agents: NONE }],
  // `refiner` may reserve but unreserve nothing: it can only refine reservations.
  unreserve_resources: [
    { principals: DEV_ONLY, reserver_principals: NONE },
    { principals: { values: ["refiner"] }, reserver_principals: NONE },
  ],
};

const basic = (principal: string) => ({
  Authorization: `Basic ${Buffer.from(`${principal}:${principal}-secret`).toString("base64")}`,
});
const OPS = basic("ops");
const DEV = basic("dev");

let master: DaemonHandle;
let agent: DaemonHandle;
let agentId = "";

before(async () => {
  const dir = tempDir();
  const credentials = join(dir, "credentials.json");
  writeFileSync(
    credentials,
    JSON.stringify({
      credentials: [
        { principal: "ops", secret: "ops-secret" },
        { principal: "dev", secret: "dev-secret" },
        { principal: "refiner", secret: "refiner-secret" },
      ],
    }),
  );
  const common = {
    acls: JSON.stringify(ACLS),
    authenticate_http_readonly: true,
    authenticate_http_readwrite: true,
  };
  master = await startMaster({ flags: { ...common, credentials: `file://${credentials}` } });
  agent = await startAgent({
    master: master.address,
    flags: { ...common, http_credentials: credentials, resources: "cpus:2;mem:512;disk:1024" },
  });
  agentId = await waitLong("the agent registered", async () => {
    const r = await fetch(`${master.url}/master/slaves`, { headers: OPS });
    const doc = (await r.json()) as { slaves?: { id: string }[] };
    return doc.slaves?.[0]?.id;
  });
});

after(stopAll);

interface Answer {
  status: number;
  text: string;
  allow: string | null;
  challenge: string | null;
}

async function send(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Answer> {
  const r = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  });
  return {
    status: r.status,
    text: await r.text(),
    allow: r.headers.get("allow"),
    challenge: r.headers.get("www-authenticate"),
  };
}

const form = (fields: Record<string, unknown>): string =>
  new URLSearchParams(
    Object.entries(fields).map(([k, v]): [string, string] => [
      k,
      typeof v === "string" ? v : JSON.stringify(v),
    ]),
  ).toString();
const FORM = { "Content-Type": "application/x-www-form-urlencoded" };
const JSON_TYPE = { "Content-Type": "application/json" };

function reserved(value: number, role = "web", principal = "ops") {
  return [
    {
      name: "cpus",
      type: "SCALAR",
      scalar: { value },
      reservations: [{ type: "DYNAMIC", role, principal }],
    },
  ];
}

describe("operator error order: authentication before the method check (master)", () => {
  // Each endpoint with a method it does not take.
  const cases: [string, string, string][] = [
    ["GET", "/master/teardown", "mesos-master-readwrite"],
    ["GET", "/teardown", "mesos-master-readwrite"],
    ["GET", "/master/reserve", "mesos-master-readwrite"],
    ["GET", "/master/unreserve", "mesos-master-readwrite"],
    ["GET", "/master/create-volumes", "mesos-master-readwrite"],
    ["GET", "/master/destroy-volumes", "mesos-master-readwrite"],
    ["PUT", "/master/quota", "mesos-master-readwrite"],
    ["POST", "/master/weights", "mesos-master-readwrite"],
    ["DELETE", "/master/maintenance/schedule", "mesos-master-readwrite"],
    ["POST", "/master/maintenance/status", "mesos-master-readonly"],
    ["GET", "/master/machine/down", "mesos-master-readwrite"],
    ["GET", "/master/machine/up", "mesos-master-readwrite"],
    ["GET", "/master/api/v1", "mesos-master-readwrite"],
    ["POST", "/master/flags", "mesos-master-readonly"],
  ];
  for (const [method, path, realm] of cases) {
    it(`${method} ${path}: 401 without credentials, 405 for a principal the ACLs refuse`, async () => {
      const anonymous = await send(master.url, method, path);
      assert.equal(anonymous.status, 401, anonymous.text);
      assert.equal(anonymous.challenge, `Basic realm="${realm}"`);
      const refused = await send(master.url, method, path, DEV);
      assert.equal(refused.status, 405, refused.text);
      assert.match(refused.text, new RegExp(`but received '${method}'`));
      assert.ok(refused.allow !== null && refused.allow !== "", `${path}: Allow header`);
    });
  }
});

describe("operator error order: validation before authorization (master)", () => {
  it("/master/reserve: 400 (unknown agent, invalid resources), then 403, then 409", async () => {
    const reserve = (headers: Record<string, string>, fields: Record<string, unknown>) =>
      send(master.url, "POST", "/master/reserve", { ...headers, ...FORM }, form(fields));
    const noAgent = await reserve(DEV, { slaveId: "no-such-agent", resources: reserved(1) });
    assert.equal(noAgent.status, 400);
    assert.equal(noAgent.text, "No agent found with specified ID");
    const missing = await reserve(DEV, { slaveId: agentId });
    assert.equal(missing.status, 400);
    assert.equal(missing.text, "Missing 'resources' query parameter in the request body");
    const negative = await reserve(DEV, { slaveId: agentId, resources: reserved(-1) });
    assert.equal(negative.status, 400, negative.text);
    const unreserved = await reserve(DEV, {
      slaveId: agentId,
      resources: [{ name: "cpus", type: "SCALAR", scalar: { value: 1 } }],
    });
    assert.equal(unreserved.status, 400, unreserved.text);
    assert.match(unreserved.text, /^Invalid RESERVE operation on agent /);
    // A reservation must name the caller as its principal (Mesos' validation, 400).
    const foreign = await reserve(DEV, { slaveId: agentId, resources: reserved(1, "web", "ops") });
    assert.equal(foreign.status, 400);
    assert.match(foreign.text, /does not match a reserved resource in the request/);
    const denied = await reserve(DEV, { slaveId: agentId, resources: reserved(1, "web", "dev") });
    assert.equal(denied.status, 403, denied.text);
    const tooMuch = await reserve(OPS, { slaveId: agentId, resources: reserved(64) });
    assert.equal(tooMuch.status, 409, tooMuch.text);
  });

  it("/master/unreserve, /create-volumes, /destroy-volumes: an unknown agent is 400 even for a refused principal", async () => {
    const volume = [
      {
        ...reserved(1)[0],
        name: "disk",
        disk: {
          persistence: { id: "v1", principal: "ops" },
          volume: { mode: "RW", container_path: "v" },
        },
      },
    ];
    for (const [path, field, value] of [
      ["/master/unreserve", "resources", reserved(1)],
      ["/master/create-volumes", "volumes", volume],
      ["/master/destroy-volumes", "volumes", volume],
    ] as const) {
      const r = await send(
        master.url,
        "POST",
        path,
        { ...DEV, ...FORM },
        form({ slaveId: "no-such-agent", [field]: value }),
      );
      assert.equal(r.status, 400, `${path}: ${r.text}`);
      assert.equal(r.text, "No agent found with specified ID", path);
    }
    // A volume the agent does not have cannot be destroyed (400 whoever asks).
    const missing = await send(
      master.url,
      "POST",
      "/master/destroy-volumes",
      { ...DEV, ...FORM },
      form({ slaveId: agentId, volumes: volume }),
    );
    assert.equal(missing.status, 400, missing.text);
    assert.match(missing.text, /^Invalid DESTROY operation: /);
    // Valid, on a real agent, but the principal may not: 403.
    const devVolume = [
      {
        ...volume[0],
        reservations: [{ type: "DYNAMIC", role: "web", principal: "dev" }],
        disk: { ...volume[0]?.disk, persistence: { id: "v2", principal: "dev" } },
      },
    ];
    const create = await send(
      master.url,
      "POST",
      "/master/create-volumes",
      { ...DEV, ...FORM },
      form({ slaveId: agentId, volumes: devVolume }),
    );
    assert.equal(create.status, 403, create.text);
    const unreserve = await send(
      master.url,
      "POST",
      "/master/unreserve",
      { ...DEV, ...FORM },
      form({ slaveId: agentId, resources: reserved(1) }),
    );
    assert.equal(unreserve.status, 403, unreserve.text);
  });

  it("a refining RESERVE (with source) needs no unreserve_resources for the part it keeps, however its JSON orders the keys", async () => {
    const reserve = (headers: Record<string, string>, fields: Record<string, unknown>) =>
      send(master.url, "POST", "/master/reserve", { ...headers, ...FORM }, form(fields));
    const base = reserved(1, "web", "ops");
    const stored = await reserve(OPS, { slaveId: agentId, resources: base });
    assert.equal(stored.status, 202, stored.text);
    try {
      // The kept reservation written with its keys in another order than the source's.
      const refined = [
        {
          ...base[0],
          reservations: [
            { principal: "ops", role: "web", type: "DYNAMIC" },
            { type: "DYNAMIC", role: "web/sub", principal: "refiner" },
          ],
        },
      ];
      const r = await reserve(basic("refiner"), {
        slaveId: agentId,
        source: base,
        resources: refined,
      });
      assert.equal(r.status, 202, r.text);
      const back = await reserve(OPS, { slaveId: agentId, source: refined, resources: base });
      assert.equal(back.status, 202, back.text);
    } finally {
      const unreserved = await send(
        master.url,
        "POST",
        "/master/unreserve",
        { ...OPS, ...FORM },
        form({ slaveId: agentId, resources: base }),
      );
      assert.equal(unreserved.status, 202, unreserved.text);
    }
  });

  it("v1 RESERVE_RESOURCES: an invalid call is 400, an unacceptable Accept 406, then 403", async () => {
    const v1 = (call: unknown, headers: Record<string, string> = {}) =>
      send(
        master.url,
        "POST",
        "/api/v1",
        { ...DEV, ...JSON_TYPE, ...headers },
        JSON.stringify(call),
      );
    const noBody = await v1({ type: "RESERVE_RESOURCES" });
    assert.equal(noBody.status, 400);
    assert.match(noBody.text, /^Failed to validate master::Call: /);
    const reserve = (agent: string) => ({
      type: "RESERVE_RESOURCES",
      reserve_resources: { agent_id: { value: agent }, resources: reserved(1, "web", "dev") },
    });
    const noAgent = await v1(reserve("no-such-agent"));
    assert.equal(noAgent.status, 400);
    assert.equal(noAgent.text, "No agent found with specified ID");
    const html = await v1(reserve(agentId), { Accept: "text/html" });
    assert.equal(html.status, 406, html.text);
    const denied = await v1(reserve(agentId));
    assert.equal(denied.status, 403, denied.text);
    const weights = await v1(
      { type: "UPDATE_WEIGHTS", update_weights: { weight_infos: [{ role: "web", weight: 2 }] } },
      { Accept: "text/html" },
    );
    assert.equal(weights.status, 406, weights.text);
  });

  it("teardown: an unknown framework is 400 before the ACLs", async () => {
    const legacy = await send(
      master.url,
      "POST",
      "/master/teardown",
      { ...DEV, ...FORM },
      "frameworkId=no-such-framework",
    );
    assert.equal(legacy.status, 400);
    assert.equal(legacy.text, "No framework found with specified ID");
    const v1 = await send(
      master.url,
      "POST",
      "/api/v1",
      { ...DEV, ...JSON_TYPE },
      JSON.stringify({ type: "TEARDOWN", teardown: { framework_id: { value: "no-such" } } }),
    );
    assert.equal(v1.status, 400, v1.text);
  });

  it("teardown: a framework that is already torn down is 400 before the ACLs, as an unknown one", async () => {
    const s = await subscribe(master.url, subscribeCall("torn-down", { principal: "ops" }));
    try {
      await s.nth("SUBSCRIBED");
      const id = s.frameworkId;
      const teardown = (headers: Record<string, string>) =>
        send(master.url, "POST", "/master/teardown", { ...headers, ...FORM }, `frameworkId=${id}`);
      assert.equal((await teardown(DEV)).status, 403, "registered: the ACLs answer");
      assert.equal((await teardown(OPS)).status, 200);
      // Completed now: Mesos looks among registered frameworks only (400 first).
      const again = await teardown(DEV);
      assert.equal(again.status, 400, again.text);
      assert.equal(again.text, "No framework found with specified ID");
      const v1 = await send(
        master.url,
        "POST",
        "/api/v1",
        { ...DEV, ...JSON_TYPE },
        JSON.stringify({ type: "TEARDOWN", teardown: { framework_id: { value: id } } }),
      );
      assert.equal(v1.status, 400, v1.text);
    } finally {
      s.close();
    }
  });

  it("weights: an invalid update is 400 before the ACLs, a valid one 403", async () => {
    const put = (body: unknown) =>
      send(master.url, "PUT", "/master/weights", DEV, JSON.stringify(body));
    const negative = await put([{ role: "web", weight: -1 }]);
    assert.equal(negative.status, 400);
    assert.match(negative.text, /Invalid weight '-1': Weights must be positive/);
    assert.equal((await put([{ role: "web", weight: 2 }])).status, 403);
    const v1 = await send(
      master.url,
      "POST",
      "/api/v1",
      { ...DEV, ...JSON_TYPE },
      JSON.stringify({
        type: "UPDATE_WEIGHTS",
        update_weights: { weight_infos: [{ role: "web", weight: 0 }] },
      }),
    );
    assert.equal(v1.status, 400, v1.text);
  });

  it("quota: invalid changes are 400 before the ACLs, valid ones 403", async () => {
    const post = (body: unknown) =>
      send(master.url, "POST", "/master/quota", DEV, JSON.stringify(body));
    const empty = await post({ role: "web", guarantee: [] });
    assert.equal(empty.status, 400);
    assert.match(empty.text, /QuotaInfo with empty 'guarantee'/);
    const valid = { role: "web", guarantee: reserved(1).map(({ reservations: _, ...r }) => r) };
    assert.equal((await post({ ...valid, force: true })).status, 403);
    const none = await send(master.url, "DELETE", "/master/quota/web", DEV);
    assert.equal(none.status, 400);
    assert.match(none.text, /Role 'web' has no quota set/);
    const update = await send(
      master.url,
      "POST",
      "/api/v1",
      { ...DEV, ...JSON_TYPE },
      JSON.stringify({
        type: "UPDATE_QUOTA",
        update_quota: { quota_configs: [{ role: "a/b" }] },
      }),
    );
    assert.equal(update.status, 400, update.text);
    assert.match(update.text, /nested role 'a\/b'/);
    const allowedUpdate = await send(
      master.url,
      "POST",
      "/api/v1",
      { ...DEV, ...JSON_TYPE },
      JSON.stringify({ type: "UPDATE_QUOTA", update_quota: { quota_configs: [{ role: "web" }] } }),
    );
    assert.equal(allowedUpdate.status, 403, allowedUpdate.text);
  });

  it("maintenance: an unscheduled machine is 400 before the ACLs; refused reads see nothing", async () => {
    const machines = JSON.stringify([{ hostname: "nowhere.example", ip: "10.9.9.9" }]);
    const down = await send(master.url, "POST", "/master/machine/down", DEV, machines);
    assert.equal(down.status, 400);
    assert.match(down.text, /is not part of a maintenance schedule/);
    const schedule = {
      windows: [
        {
          machine_ids: [{ hostname: "nowhere.example", ip: "10.9.9.9" }],
          unavailability: { start: { nanoseconds: 1 }, duration: { nanoseconds: 3600e9 } },
        },
      ],
    };
    const body = JSON.stringify(schedule);
    const denied = await send(master.url, "POST", "/master/maintenance/schedule", DEV, body);
    assert.equal(denied.status, 403, denied.text);
    const stored = await send(master.url, "POST", "/master/maintenance/schedule", OPS, body);
    assert.equal(stored.status, 200, stored.text);
    const devView = await send(master.url, "GET", "/master/maintenance/schedule", DEV);
    assert.equal(devView.status, 200);
    assert.deepEqual(JSON.parse(devView.text), {});
    const opsView = await send(master.url, "GET", "/master/maintenance/schedule", OPS);
    assert.match(opsView.text, /nowhere\.example/);
    const status = await send(master.url, "GET", "/master/maintenance/status", DEV);
    assert.equal(status.status, 200);
    assert.equal(status.text.includes("nowhere.example"), false);
    // Scheduled (DRAINING) now: bringing it down is valid, so the ACLs answer.
    const refusedDown = await send(master.url, "POST", "/master/machine/down", DEV, machines);
    assert.equal(refusedDown.status, 403, refusedDown.text);
    // Not DOWN: bringing it up is invalid whoever asks.
    const up = await send(master.url, "POST", "/master/machine/up", DEV, machines);
    assert.equal(up.status, 400);
    assert.match(up.text, /is not in DOWN mode/);
    const cleared = await send(master.url, "POST", "/master/maintenance/schedule", OPS, "{}");
    assert.equal(cleared.status, 200, cleared.text);
  });

  it("DRAIN_AGENT: a scheduled agent or a negative grace period is 400 before the ACLs; an unknown agent 403", async () => {
    const slaves = await send(master.url, "GET", "/master/slaves", OPS);
    const slave = (JSON.parse(slaves.text) as { slaves: { hostname: string; pid: string }[] })
      .slaves[0];
    assert.ok(slave !== undefined);
    const ip = /@([^:]+):/.exec(slave.pid)?.[1] ?? "";
    const drain = (id: string, extra: Record<string, unknown> = {}) =>
      send(
        master.url,
        "POST",
        "/api/v1",
        { ...DEV, ...JSON_TYPE },
        JSON.stringify({ type: "DRAIN_AGENT", drain_agent: { agent_id: { value: id }, ...extra } }),
      );
    const negative = await drain(agentId, { max_grace_period: { seconds: -1 } });
    assert.equal(negative.status, 400, negative.text);
    const unknown = await drain("no-such-agent");
    assert.equal(unknown.status, 403, unknown.text);
    const refused = await drain(agentId);
    assert.equal(refused.status, 403, refused.text);
    const schedule = JSON.stringify({
      windows: [
        {
          machine_ids: [{ hostname: slave.hostname, ip }],
          unavailability: { start: { nanoseconds: 1 }, duration: { nanoseconds: 3600e9 } },
        },
      ],
    });
    const stored = await send(master.url, "POST", "/master/maintenance/schedule", OPS, schedule);
    assert.equal(stored.status, 200, stored.text);
    try {
      const scheduled = await drain(agentId);
      assert.equal(scheduled.status, 400, scheduled.text);
      assert.match(scheduled.text, /is part of a maintenance schedule under Machine/);
    } finally {
      const cleared = await send(master.url, "POST", "/master/maintenance/schedule", OPS, "{}");
      assert.equal(cleared.status, 200, cleared.text);
    }
  });
});

describe("operator error order: the agent", () => {
  for (const path of ["/flags", "/containers", "/monitor/statistics", "/containerizer/debug"]) {
    it(`POST ${path}: 401 without credentials, 405 (not 403) for a principal the ACLs refuse`, async () => {
      const anonymous = await send(agent.url, "POST", path);
      assert.equal(anonymous.status, 401);
      const refused = await send(agent.url, "POST", path, DEV);
      assert.equal(refused.status, 405, refused.text);
      assert.equal(refused.allow, "GET");
      assert.equal((await send(agent.url, "GET", path, DEV)).status, 403);
    });
  }

  it("GET /api/v1 on the agent: 401 without credentials, then 405", async () => {
    assert.equal((await send(agent.url, "GET", "/api/v1")).status, 401);
    const refused = await send(agent.url, "GET", "/api/v1", DEV);
    assert.equal(refused.status, 405);
    assert.equal(refused.allow, "POST");
  });
});

describe("operator error order: JSON conversion errors in Mesos' (stout's) words", () => {
  const v1 = (body: string) => send(master.url, "POST", "/api/v1", { ...OPS, ...JSON_TYPE }, body);
  const CONVERT = "Failed to convert JSON into Call protobuf: ";

  it("v1 calls: wrong JSON types, missing required fields, a body that is no object", async () => {
    const cases: [string, string][] = [
      ['{"type":7}', "Not expecting a JSON number for field 'type'"],
      [
        '{"type":"GET_METRICS","get_metrics":"soon"}',
        "Not expecting a JSON string for field 'get_metrics'",
      ],
      ['{"type":"TEARDOWN","teardown":{}}', "Missing required fields: teardown.framework_id"],
      ['{"type":["GET_HEALTH"]}', "Not expecting a JSON array for field 'type'"],
      ["[1]", "Expecting a JSON object"],
    ];
    for (const [body, reason] of cases) {
      const r = await v1(body);
      assert.equal(r.status, 400, body);
      assert.equal(r.text, `${CONVERT}${reason}`, body);
    }
  });

  it("form and JSON endpoints: resources, weights", async () => {
    const prefix = "Error parsing 'resources' query parameter in the request body: ";
    const reserve = (resources: unknown) =>
      send(
        master.url,
        "POST",
        "/master/reserve",
        { ...OPS, ...FORM },
        form({ slaveId: agentId, resources }),
      );
    const word = await reserve([{ name: "cpus", type: "SCALAR", scalar: { value: "abc" } }]);
    assert.equal(word.status, 400);
    assert.equal(word.text, `${prefix}Failed to parse 'abc' as a JSON number for field 'value'`);
    const kind = await reserve([{ name: "cpus", type: "NOPE", scalar: { value: 1 } }]);
    assert.equal(kind.status, 400);
    assert.equal(kind.text, `${prefix}Failed to find enum for 'NOPE'`);
    const weights = await send(
      master.url,
      "PUT",
      "/master/weights",
      OPS,
      '[{"role":"web","weight":true}]',
    );
    assert.equal(weights.status, 400);
    assert.equal(
      weights.text,
      `Failed to convert weights JSON array to protobuf '[{"role":"web","weight":true}]': Not expecting a JSON boolean for field 'weight'`,
    );
  });
});
