/**
 * Authentication and authorization against a real mesos-master: HTTP Basic
 * per realm (401 with the realm's challenge), the ACL matrix over the wired
 * actions (allowed principal vs denied principal), VIEW_* filtering of the
 * state documents, and the scheduler API's principal, register_frameworks
 * and run_tasks checks.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Call } from "../../src/common/protocol/generated/mesos-v1-scheduler.js";
import { codecFor } from "../../src/common/protocol/index.js";
import { RecordIoDecoder } from "../../src/common/recordio/index.js";
import { type DaemonHandle, startMaster, stopAll, tempDir, waitFor } from "../harness/processes.js";
import { FakeAgent, post, type Subscription, subscribe, subscribeCall } from "./master-clients.js";

const me = userInfo().username;
const schedulerCallCodec = codecFor("mesos.v1.scheduler.Call");
const masterCallCodec = codecFor("mesos.v1.master.Call");
const masterResponseCodec = codecFor("mesos.v1.master.Response");

const CREDENTIALS = {
  credentials: [
    { principal: "ops", secret: "ops-secret" },
    { principal: "dev", secret: "dev-secret" },
    { principal: "fw-a", secret: "a-secret" },
    { principal: "fw-b", secret: "b-secret" },
  ],
};
const SECRETS: Record<string, string> = Object.fromEntries(
  CREDENTIALS.credentials.map((c) => [c.principal, c.secret]),
);

const ANY = { type: "ANY" };
const NONE = { type: "NONE" };
const ACLS = {
  permissive: false,
  // Agents are authorized too (Mesos checks register_agents for each of them).
  register_agents: [{ principals: ANY, agents: ANY }],
  register_frameworks: [
    { principals: { values: ["fw-a"] }, roles: { values: ["analytics"] } },
    { principals: { values: ["fw-b"] }, roles: ANY },
  ],
  run_tasks: [
    { principals: { values: ["fw-a"] }, users: { values: [me] } },
    { principals: { values: ["fw-b"] }, users: ANY },
  ],
  teardown_frameworks: [
    { principals: { values: ["ops"] }, framework_principals: ANY },
    { principals: ANY, framework_principals: NONE },
  ],
  update_weights: [{ principals: { values: ["ops"] }, roles: ANY }],
  view_flags: [{ principals: { values: ["ops"] }, flags: ANY }],
  view_frameworks: [
    { principals: { values: ["ops"] }, users: ANY },
    { principals: { values: ["dev"] }, users: { values: [me] } },
  ],
  view_tasks: [
    { principals: { values: ["ops"] }, users: ANY },
    { principals: { values: ["dev"] }, users: { values: [me] } },
  ],
  view_executors: [{ principals: { values: ["ops"] }, users: ANY }],
  get_endpoints: [{ principals: { values: ["ops"] }, paths: { values: ["/metrics/snapshot"] } }],
  set_log_level: [{ principals: { values: ["ops"] }, level: ANY }],
  mark_agents_gone: [{ principals: { values: ["ops"] }, agents: ANY }],
  get_quotas: [
    { principals: { values: ["ops"] }, roles: ANY },
    { principals: { values: ["dev"] }, roles: { values: ["analytics"] } },
  ],
  update_quotas: [{ principals: { values: ["ops"] }, roles: ANY }],
  create_volumes: [{ principals: { values: ["ops"] }, roles: ANY }],
  destroy_volumes: [{ principals: { values: ["ops"] }, creator_principals: ANY }],
  view_roles: [
    { principals: { values: ["ops"] }, roles: ANY },
    { principals: { values: ["dev"] }, roles: { values: ["analytics"] } },
    { principals: { values: ["dev"] }, roles: NONE },
  ],
};

let master: DaemonHandle;

function basic(principal: string | undefined, secret?: string): Record<string, string> {
  if (principal === undefined) return {};
  const token = Buffer.from(`${principal}:${secret ?? SECRETS[principal] ?? ""}`).toString(
    "base64",
  );
  return { Authorization: `Basic ${token}` };
}

async function http(
  method: string,
  path: string,
  principal: string | undefined,
  body?: string,
  contentType?: string,
): Promise<{ status: number; text: string; challenge: string | null }> {
  const r = await fetch(`${master.url}${path}`, {
    method,
    headers: { ...basic(principal), ...(contentType ? { "Content-Type": contentType } : {}) },
    ...(body === undefined ? {} : { body }),
  });
  return { status: r.status, text: await r.text(), challenge: r.headers.get("www-authenticate") };
}

function v1(principal: string | undefined, call: unknown) {
  return http("POST", "/api/v1", principal, JSON.stringify(call), "application/json");
}

before(async () => {
  const dir = tempDir();
  const credentials = join(dir, "credentials.json");
  writeFileSync(credentials, JSON.stringify(CREDENTIALS));
  const acls = join(dir, "acls.json");
  writeFileSync(acls, JSON.stringify(ACLS));
  master = await startMaster({
    flags: {
      credentials: `file://${credentials}`,
      acls: `file://${acls}`,
      authenticate_http_readonly: true,
      authenticate_http_readwrite: true,
      authenticate_http_frameworks: true,
      http_framework_authenticators: "basic",
      allocation_interval: "50ms",
    },
  });
});

after(stopAll);

const subscriptions: Subscription[] = [];
after(() => {
  for (const s of subscriptions) s.close();
});

async function framework(principal: string, extra: Record<string, unknown> = {}) {
  const s = await subscribe(
    master.url,
    subscribeCall(`fw-of-${principal}`, { principal, ...extra }),
    { headers: basic(principal) },
  );
  subscriptions.push(s);
  return s;
}

/** A call of a subscribed framework, with its principal's credentials. */
function callAs(s: Subscription, principal: string, call: Call) {
  const full: Call = { framework_id: { value: s.frameworkId }, ...call };
  return post(s.url, schedulerCallCodec.encodeJson(full), {
    "Content-Type": "application/json",
    "Mesos-Stream-Id": s.streamId,
    ...basic(principal),
  });
}

describe("auth: authentication per realm", () => {
  const cases: [string, string, string][] = [
    ["GET", "/state", "mesos-master-readonly"],
    ["GET", "/master/state", "mesos-master-readonly"],
    ["GET", "/frameworks", "mesos-master-readonly"],
    ["GET", "/tasks", "mesos-master-readonly"],
    ["GET", "/flags", "mesos-master-readonly"],
    ["GET", "/metrics/snapshot", "mesos-master-readonly"],
    ["POST", "/api/v1", "mesos-master-readwrite"],
    ["PUT", "/weights", "mesos-master-readwrite"],
    ["POST", "/teardown", "mesos-master-readwrite"],
    ["POST", "/logging/toggle", "mesos-master-readwrite"],
    ["GET", "/profiler/start", "mesos-master-readwrite"],
    ["GET", "/registrar(1)/registry", "mesos-master-readonly"],
    ["POST", "/api/v1/scheduler", "mesos-master-scheduler"],
  ];
  for (const [method, path, realm] of cases) {
    it(`${method} ${path} without credentials: 401 with realm ${realm}`, async () => {
      const r = await http(method, path, undefined, method === "GET" ? undefined : "{}");
      assert.equal(r.status, 401);
      assert.equal(r.challenge, `Basic realm="${realm}"`);
    });
  }

  it("with --acls, /flags takes GET only: 405 once authenticated (even for a principal view_flags refuses), 401 before", async () => {
    for (const principal of ["ops", "dev"]) {
      const refused = await http("POST", "/master/flags", principal, "");
      assert.equal(refused.status, 405);
      assert.equal(
        refused.text,
        "405 Method Not Allowed. Expecting one of { 'GET' }, but received 'POST'.",
      );
    }
    assert.equal((await http("POST", "/master/flags", undefined, "")).status, 401);
  });

  it("a wrong password is 401 too", async () => {
    const r = await fetch(`${master.url}/state`, { headers: basic("ops", "wrong") });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get("www-authenticate"), 'Basic realm="mesos-master-readonly"');
  });

  it("/health, /version, /system/stats.json and /__processes__ need no credentials", async () => {
    for (const path of ["/health", "/version", "/system/stats.json", "/__processes__"]) {
      assert.equal((await http("GET", path, undefined)).status, 200, path);
    }
  });
});

describe("auth: ACL matrix (allowed principal vs denied principal)", () => {
  let fwC: Subscription;
  before(async () => {
    // A framework of fw-b running as another user, for teardown and view checks.
    fwC = await framework("fw-b", {
      user: "nobody-else",
      roles: ["batch"],
      capabilities: [{ type: "MULTI_ROLE" }],
    });
    await fwC.nth("SUBSCRIBED");
  });

  const matrix: [
    string,
    () => Promise<{ status: number }>,
    number,
    () => Promise<{ status: number }>,
  ][] = [
    [
      "view_flags: GET /flags",
      () => http("GET", "/flags", "ops"),
      200,
      () => http("GET", "/flags", "dev"),
    ],
    [
      "view_flags: v1 GET_FLAGS",
      () => v1("ops", { type: "GET_FLAGS" }),
      200,
      () => v1("dev", { type: "GET_FLAGS" }),
    ],
    [
      "get_endpoints: GET /metrics/snapshot",
      () => http("GET", "/metrics/snapshot", "ops"),
      200,
      () => http("GET", "/metrics/snapshot", "dev"),
    ],
    [
      "update_weights: PUT /weights",
      () => http("PUT", "/weights", "ops", '[{"role":"analytics","weight":2}]'),
      200,
      () => http("PUT", "/weights", "dev", '[{"role":"analytics","weight":3}]'),
    ],
    [
      "update_weights: v1 UPDATE_WEIGHTS",
      () =>
        v1("ops", {
          type: "UPDATE_WEIGHTS",
          update_weights: { weight_infos: [{ role: "analytics", weight: 2 }] },
        }),
      200,
      () =>
        v1("dev", {
          type: "UPDATE_WEIGHTS",
          update_weights: { weight_infos: [{ role: "analytics", weight: 3 }] },
        }),
    ],
    [
      "set_log_level: v1 SET_LOGGING_LEVEL",
      () =>
        v1("ops", {
          type: "SET_LOGGING_LEVEL",
          set_logging_level: { level: 1, duration: { nanoseconds: 1e9 } },
        }),
      200,
      () =>
        v1("dev", {
          type: "SET_LOGGING_LEVEL",
          set_logging_level: { level: 1, duration: { nanoseconds: 1e9 } },
        }),
    ],
  ];
  for (const [name, allowed, status, denied] of matrix) {
    it(`${name}: allowed ${status}, denied 403`, async () => {
      assert.equal((await denied()).status, 403);
      assert.equal((await allowed()).status, status);
    });
  }

  it("mark_agents_gone: v1 MARK_AGENT_GONE denied 403, allowed reaches the master (unknown agent)", async () => {
    const call = { type: "MARK_AGENT_GONE", mark_agent_gone: { agent_id: { value: "nope" } } };
    assert.equal((await v1("dev", call)).status, 403);
    assert.notEqual((await v1("ops", call)).status, 403);
  });

  it("create_volumes / destroy_volumes: POST /create-volumes and /destroy-volumes validate before the ACLs", async () => {
    const volume = JSON.stringify([
      {
        name: "disk",
        type: "SCALAR",
        scalar: { value: 8 },
        reservations: [{ type: "DYNAMIC", role: "analytics", principal: "ops" }],
        disk: {
          persistence: { id: "v1", principal: "ops" },
          volume: { mode: "RW", container_path: "v" },
        },
      },
    ]);
    const form = (path: string, principal: string, body: string) =>
      http("POST", path, principal, body, "application/x-www-form-urlencoded");
    const body = `slaveId=no-such-agent&volumes=${encodeURIComponent(volume)}`;
    // As Mesos: the agent is looked up (400) before create_volumes / destroy_volumes
    // are asked, so a refused principal and an allowed one get the same answer.
    // (403 for valid requests: operator-error-order.test.ts, which has a real agent.)
    for (const path of ["/create-volumes", "/destroy-volumes"]) {
      for (const principal of ["dev", "ops"]) {
        const r = await form(path, principal, body);
        assert.equal(r.status, 400, `${path} as ${principal}: ${r.text}`);
        assert.equal(r.text, "No agent found with specified ID");
      }
    }
  });

  it("teardown_frameworks: POST /teardown and v1 TEARDOWN", async () => {
    const id = fwC.frameworkId;
    const denied = await http(
      "POST",
      "/teardown",
      "dev",
      `frameworkId=${id}`,
      "application/x-www-form-urlencoded",
    );
    assert.equal(denied.status, 403);
    assert.match(denied.text, /Principal 'dev' is not authorized/);
    const deniedV1 = await v1("dev", {
      type: "TEARDOWN",
      teardown: { framework_id: { value: id } },
    });
    assert.equal(deniedV1.status, 403);
    const allowed = await http(
      "POST",
      "/teardown",
      "ops",
      `frameworkId=${id}`,
      "application/x-www-form-urlencoded",
    );
    assert.equal(allowed.status, 200);
  });
});

describe("auth: scheduler API", () => {
  it("a principal that differs from the authenticated one is 400 (validation, as Mesos)", async () => {
    const r = await fetch(`${master.url}/api/v1/scheduler`, {
      method: "POST",
      headers: { ...basic("fw-a"), "Content-Type": "application/json" },
      body: JSON.stringify(subscribeCall("liar", { principal: "fw-b" })),
    });
    assert.equal(r.status, 400);
    assert.match(await r.text(), /Authenticated principal 'fw-a' does not match principal 'fw-b'/);
  });

  it("register_frameworks: an allowed role subscribes, a denied role gets ERROR", async () => {
    const good = await framework("fw-a", { role: "analytics" });
    await good.nth("SUBSCRIBED");
    // Gone again, so it holds no offers the next test needs.
    assert.equal((await callAs(good, "fw-a", { type: "TEARDOWN" })).status, 202);
    const bad = await framework("fw-a", { role: "ops-only" });
    const error = await bad.nth("ERROR");
    // Mesos' wording; the id of a new framework is empty (hence two spaces).
    assert.equal(
      error.error?.message,
      "Not authorized to register framework  with roles { ops-only }",
    );
    assert.equal(
      bad.events.some((e) => e.type === "SUBSCRIBED"),
      false,
    );
  });

  it("run_tasks: a task as a denied user gets TASK_ERROR (REASON_TASK_UNAUTHORIZED), an allowed one launches", async () => {
    const agent = await FakeAgent.start(master.address);
    try {
      await agent.register([
        { name: "cpus", type: "SCALAR", scalar: { value: 4 } },
        { name: "mem", type: "SCALAR", scalar: { value: 1024 } },
      ]);
      const fw = await framework("fw-a", { role: "analytics" });
      const offers = await fw.nth("OFFERS");
      const offer = offers.offers?.offers?.[0];
      assert.ok(offer !== undefined);
      const task = (id: string, user: string) => ({
        name: id,
        task_id: { value: id },
        agent_id: offer.agent_id,
        resources: [
          {
            name: "cpus",
            type: "SCALAR",
            scalar: { value: 0.1 },
            allocation_info: { role: "analytics" },
          },
        ],
        command: { value: "true", user },
      });
      const r = await callAs(fw, "fw-a", {
        type: "ACCEPT",
        accept: {
          offer_ids: [offer.id],
          operations: [
            {
              type: "LAUNCH",
              launch: { task_infos: [task("ok-task", me), task("bad-task", "root-not-allowed")] },
            },
          ],
        },
      } as never);
      assert.equal(r.status, 202);
      const update = await fw.next(
        (e) => e.update?.status.task_id.value === "bad-task",
        "TASK_ERROR for bad-task",
      );
      assert.equal(update.update?.status.state, "TASK_ERROR");
      assert.equal(update.update?.status.reason, "REASON_TASK_UNAUTHORIZED");
      await waitFor("the allowed task at the agent", () =>
        agent
          .ofType("mesos.internal.RunTaskMessage")
          .some((m) => m.task.task_id.value === "ok-task"),
      );
      assert.equal(
        agent
          .ofType("mesos.internal.RunTaskMessage")
          .some((m) => m.task.task_id.value === "bad-task"),
        false,
      );
    } finally {
      await agent.stop();
    }
  });
});

describe("auth: state documents show only what the principal may view", () => {
  before(async () => {
    const mine = await framework("fw-b", { user: me, name: "visible" });
    await mine.nth("SUBSCRIBED");
    const theirs = await framework("fw-b", { user: "someone-else", name: "hidden" });
    await theirs.nth("SUBSCRIBED");
  });

  type StateDoc = { frameworks: { user: string; name: string }[]; flags?: unknown };
  const names = (doc: StateDoc) => doc.frameworks.map((f) => f.name).sort();

  it("/master/state: ops sees every framework and the flags; dev only its user's, no flags", async () => {
    const ops = JSON.parse((await http("GET", "/master/state", "ops")).text) as StateDoc;
    const dev = JSON.parse((await http("GET", "/master/state", "dev")).text) as StateDoc;
    assert.ok(names(ops).includes("hidden"));
    assert.ok(names(ops).includes("visible"));
    assert.ok(ops.flags !== undefined);
    assert.ok(names(dev).includes("visible"));
    assert.equal(names(dev).includes("hidden"), false);
    assert.ok(dev.frameworks.every((f) => f.user === me));
    assert.equal(dev.flags, undefined);
  });

  it("/master/frameworks is filtered the same way", async () => {
    const dev = JSON.parse((await http("GET", "/master/frameworks", "dev")).text) as StateDoc;
    assert.ok(names(dev).includes("visible"));
    assert.equal(names(dev).includes("hidden"), false);
  });

  it("v1 GET_STATE and GET_FRAMEWORKS (JSON and protobuf) are filtered", async () => {
    const r = await v1("dev", { type: "GET_FRAMEWORKS" });
    assert.equal(r.status, 200);
    const decoded = masterResponseCodec.decodeJson(Buffer.from(r.text));
    assert.ok(decoded.ok);
    const users = decoded.value.get_frameworks?.frameworks?.map((f) => f.framework_info.user) ?? [];
    assert.ok(users.length > 0);
    assert.ok(users.every((u) => u === me));

    const pb = await fetch(`${master.url}/api/v1`, {
      method: "POST",
      headers: {
        ...basic("dev"),
        "Content-Type": "application/x-protobuf",
        Accept: "application/x-protobuf",
      },
      body: masterCallCodec.encodeProtobuf({ type: "GET_STATE" }),
    });
    assert.equal(pb.status, 200);
    const state = masterResponseCodec.decodeProtobuf(new Uint8Array(await pb.arrayBuffer()));
    assert.ok(state.ok);
    const pbUsers =
      state.value.get_state?.get_frameworks?.frameworks?.map((f) => f.framework_info.user) ?? [];
    assert.ok(pbUsers.length > 0);
    assert.ok(pbUsers.every((u) => u === me));

    const opsState = await v1("ops", { type: "GET_STATE" });
    assert.match(opsState.text, /someone-else/);
  });

  it("the operator event stream (SUBSCRIBE) leaves out frameworks the principal may not view", async () => {
    const events: { type?: string; json: string }[] = [];
    const decoder = new RecordIoDecoder();
    const target = new URL(`${master.url}/api/v1`);
    const req = httpRequest({
      host: target.hostname,
      port: target.port,
      path: target.pathname,
      method: "POST",
      agent: false,
      headers: { ...basic("dev"), "Content-Type": "application/json", Accept: "application/json" },
    });
    req.on("response", (res) => {
      res.on("data", (chunk: Buffer) => {
        for (const record of decoder.decode(chunk)) {
          const json = record.toString("utf8");
          events.push({ type: (JSON.parse(json) as { type?: string }).type, json });
        }
      });
    });
    req.on("error", () => {});
    req.end(JSON.stringify({ type: "SUBSCRIBE" }));
    try {
      const subscribed = await waitFor("SUBSCRIBED", () =>
        events.find((e) => e.type === "SUBSCRIBED"),
      );
      assert.match(subscribed.json, /"visible"/);
      assert.equal(subscribed.json.includes("someone-else"), false);
      const hidden = await framework("fw-b", { user: "someone-else", name: "hidden-later" });
      await hidden.nth("SUBSCRIBED");
      const shown = await framework("fw-b", { user: me, name: "shown-later" });
      await shown.nth("SUBSCRIBED");
      await waitFor("FRAMEWORK_ADDED of shown-later", () =>
        events.some((e) => e.type === "FRAMEWORK_ADDED" && e.json.includes("shown-later")),
      );
      assert.equal(
        events.some((e) => e.json.includes("hidden-later")),
        false,
      );
    } finally {
      req.destroy();
    }
  });

  it("quota: update_quotas guards POST /master/quota, get_quotas filters GET and GET_QUOTA", async () => {
    const request = (role: string) =>
      JSON.stringify({
        role,
        guarantee: [{ name: "cpus", type: "SCALAR", scalar: { value: 0.5 } }],
        force: true,
      });
    assert.equal((await http("POST", "/master/quota", "dev", request("analytics"))).status, 403);
    assert.equal((await http("POST", "/master/quota", "ops", request("analytics"))).status, 200);
    assert.equal((await http("POST", "/master/quota", "ops", request("secret-role"))).status, 200);
    type Status = { infos?: { role: string }[] };
    const roles = (text: string) => ((JSON.parse(text) as Status).infos ?? []).map((i) => i.role);
    const dev = await http("GET", "/master/quota", "dev");
    assert.deepEqual(roles(dev.text), ["analytics"]);
    const ops = await http("GET", "/master/quota", "ops");
    assert.deepEqual(roles(ops.text).sort(), ["analytics", "secret-role"]);
    const v1dev = await v1("dev", { type: "GET_QUOTA" });
    assert.equal(v1dev.status, 200);
    assert.equal(v1dev.text.includes("secret-role"), false);
    assert.match(v1dev.text, /analytics/);
    assert.equal((await http("DELETE", "/master/quota/secret-role", "dev")).status, 403);
  });

  it("view_roles: /master/roles and GET_ROLES show dev only the roles it may view", async () => {
    type Roles = { roles: { name: string }[] };
    const dev = JSON.parse((await http("GET", "/master/roles", "dev")).text) as Roles;
    const ops = JSON.parse((await http("GET", "/master/roles", "ops")).text) as Roles;
    assert.ok(dev.roles.every((r) => r.name === "analytics"));
    assert.ok(ops.roles.length > dev.roles.length);
    const v1dev = await v1("dev", { type: "GET_ROLES" });
    const decoded = masterResponseCodec.decodeJson(Buffer.from(v1dev.text));
    assert.ok(decoded.ok);
    const names = decoded.value.get_roles?.roles?.map((r) => r.name) ?? [];
    assert.ok(
      names.every((n) => n === "analytics"),
      names.join(","),
    );
  });

  it("view_roles: GET /master/weights and GET_WEIGHTS show dev only the weights of roles it may view", async () => {
    const set = await http(
      "PUT",
      "/master/weights",
      "ops",
      '[{"role":"analytics","weight":2},{"role":"secret-role","weight":5}]',
    );
    assert.equal(set.status, 200, set.text);
    type Weights = { role: string; weight: number }[];
    const roles = (w: Weights) => w.map((x) => x.role).sort();
    const ops = JSON.parse((await http("GET", "/master/weights", "ops")).text) as Weights;
    assert.deepEqual(roles(ops), ["analytics", "secret-role"]);
    const dev = JSON.parse((await http("GET", "/master/weights", "dev")).text) as Weights;
    assert.deepEqual(roles(dev), ["analytics"]);
    const v1dev = await v1("dev", { type: "GET_WEIGHTS" });
    assert.equal(v1dev.status, 200, v1dev.text);
    const decoded = masterResponseCodec.decodeJson(Buffer.from(v1dev.text));
    assert.ok(decoded.ok);
    assert.deepEqual(roles((decoded.value.get_weights?.weight_infos ?? []) as Weights), [
      "analytics",
    ]);
    const v1ops = await v1("ops", { type: "GET_WEIGHTS" });
    assert.match(v1ops.text, /secret-role/);
  });
});
