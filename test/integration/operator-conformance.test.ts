/**
 * `POST /api/v1` on a real mesos-master (no agent): status codes and
 * messages of refused operator calls, checked against what Mesos answers
 * (src/master/http.cpp and validation.cpp of Mesos 1.12, read for facts).
 */
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, describe, test } from "node:test";
import type { Call } from "../../src/common/protocol/generated/mesos-v1-master.js";
import { codecFor } from "../../src/common/protocol/index.js";
import { type DaemonHandle, startMaster, stopAll } from "../harness/processes.js";

const callCodec = codecFor("mesos.v1.master.Call");

let master: DaemonHandle;

interface Answer {
  readonly status: number;
  readonly text: string;
  readonly headers: Headers;
}

/** Posts `body` to /api/v1 with the given headers (JSON by default). */
async function post(
  body: string | Uint8Array,
  headers: Record<string, string> = { "Content-Type": "application/json" },
): Promise<Answer> {
  const res = await fetch(`${master.url}/api/v1`, { method: "POST", headers, body });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

function call(c: Call, accept = "application/json"): Promise<Answer> {
  return post(callCodec.encodeJson(c), { "Content-Type": "application/json", Accept: accept });
}

const VALIDATION = "Failed to validate master::Call: ";

before(async () => {
  master = await startMaster({ flags: {} });
});

after(async () => {
  await stopAll();
});

describe("operator API conformance", () => {
  test("operator API: each call missing its sub-message answers 400 with Mesos' validation message", async () => {
    const calls: [NonNullable<Call["type"]>, string][] = [
      ["GET_METRICS", "get_metrics"],
      ["SET_LOGGING_LEVEL", "set_logging_level"],
      ["LIST_FILES", "list_files"],
      ["READ_FILE", "read_file"],
      ["UPDATE_WEIGHTS", "update_weights"],
      ["RESERVE_RESOURCES", "reserve_resources"],
      ["UNRESERVE_RESOURCES", "unreserve_resources"],
      ["CREATE_VOLUMES", "create_volumes"],
      ["DESTROY_VOLUMES", "destroy_volumes"],
      ["GROW_VOLUME", "grow_volume"],
      ["SHRINK_VOLUME", "shrink_volume"],
      ["UPDATE_MAINTENANCE_SCHEDULE", "update_maintenance_schedule"],
      ["START_MAINTENANCE", "start_maintenance"],
      ["STOP_MAINTENANCE", "stop_maintenance"],
      ["DRAIN_AGENT", "drain_agent"],
      ["DEACTIVATE_AGENT", "deactivate_agent"],
      ["REACTIVATE_AGENT", "reactivate_agent"],
      ["UPDATE_QUOTA", "update_quota"],
      ["SET_QUOTA", "set_quota"],
      ["REMOVE_QUOTA", "remove_quota"],
      ["TEARDOWN", "teardown"],
      ["MARK_AGENT_GONE", "mark_agent_gone"],
    ];
    for (const [type, field] of calls) {
      const r = await call({ type });
      assert.equal(r.status, 400, `${type}: ${r.text}`);
      assert.equal(r.text, `${VALIDATION}Expecting '${field}' to be present`, type);
    }
  });

  test("operator API: the call is validated before the Accept header is looked at", async () => {
    const r = await call({ type: "UPDATE_WEIGHTS" }, "text/html");
    assert.equal(r.status, 400, r.text);
    assert.equal(r.text, `${VALIDATION}Expecting 'update_weights' to be present`);
    const fine = await call({ type: "GET_HEALTH" }, "text/html");
    assert.equal(fine.status, 406);
    assert.equal(
      fine.text,
      "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'",
    );
    const subscribe = await call({ type: "SUBSCRIBE" }, "text/html");
    assert.equal(subscribe.status, 406);
  });

  test("operator API: GROW_VOLUME and SHRINK_VOLUME without agent_id answer 400", async () => {
    const volume = {
      name: "disk",
      type: "SCALAR" as const,
      scalar: { value: 1 },
      disk: { persistence: { id: "v1" }, volume: { container_path: "p", mode: "RW" as const } },
    };
    const grow = await call({
      type: "GROW_VOLUME",
      grow_volume: {
        volume,
        addition: { name: "disk", type: "SCALAR", scalar: { value: 1 } },
      },
    });
    const expected = `${VALIDATION}Expecting 'agent_id' to be present; only agent default resources are supported right now`;
    assert.equal(grow.status, 400, grow.text);
    assert.equal(grow.text, expected);
    const shrink = await call({
      type: "SHRINK_VOLUME",
      shrink_volume: { volume, subtract: { value: 1 } },
    });
    assert.equal(shrink.status, 400, shrink.text);
    assert.equal(shrink.text, expected);
  });

  test("operator API: RESERVE_RESOURCES with invalid resources fails validation", async () => {
    const r = await call({
      type: "RESERVE_RESOURCES",
      reserve_resources: {
        agent_id: { value: "nope" },
        resources: [{ name: "cpus", type: "SCALAR", scalar: { value: -1 } }],
      },
    });
    assert.equal(r.status, 400, r.text);
    assert.ok(r.text.startsWith(VALIDATION), r.text);
  });

  test("operator API: unknown agents and frameworks get Mesos' statuses and messages", async () => {
    const id = { value: "no-such-agent" };
    const gone = await call({ type: "MARK_AGENT_GONE", mark_agent_gone: { agent_id: id } });
    assert.deepEqual([gone.status, gone.text], [404, "Agent 'no-such-agent' not found"]);
    const off = await call({ type: "DEACTIVATE_AGENT", deactivate_agent: { agent_id: id } });
    assert.deepEqual([off.status, off.text], [400, "Unknown agent"]);
    const drain = await call({ type: "DRAIN_AGENT", drain_agent: { agent_id: id } });
    assert.deepEqual([drain.status, drain.text], [400, "Unknown agent"]);
    const on = await call({ type: "REACTIVATE_AGENT", reactivate_agent: { agent_id: id } });
    assert.deepEqual([on.status, on.text], [400, "Agent is not deactivated"]);
    const teardown = await call({
      type: "TEARDOWN",
      teardown: { framework_id: { value: "no-such-framework" } },
    });
    assert.deepEqual(
      [teardown.status, teardown.text],
      [400, "No framework found with specified ID"],
    );
  });

  test("operator API: reservation and volume calls on an unregistered agent answer 400 'No agent found with specified ID'", async () => {
    const agent_id = { value: "no-such-agent" };
    const cpus = {
      name: "cpus",
      type: "SCALAR" as const,
      scalar: { value: 1 },
      reservations: [{ type: "DYNAMIC" as const, role: "web" }],
    };
    const volume = {
      name: "disk",
      type: "SCALAR" as const,
      scalar: { value: 1 },
      reservations: [{ type: "DYNAMIC" as const, role: "web" }],
      disk: { persistence: { id: "v1" }, volume: { container_path: "p", mode: "RW" as const } },
    };
    const calls: Call[] = [
      { type: "RESERVE_RESOURCES", reserve_resources: { agent_id, resources: [cpus] } },
      { type: "UNRESERVE_RESOURCES", unreserve_resources: { agent_id, resources: [cpus] } },
      { type: "CREATE_VOLUMES", create_volumes: { agent_id, volumes: [volume] } },
      { type: "DESTROY_VOLUMES", destroy_volumes: { agent_id, volumes: [volume] } },
      {
        type: "GROW_VOLUME",
        grow_volume: {
          agent_id,
          volume,
          addition: { name: "disk", type: "SCALAR", scalar: { value: 1 } },
        },
      },
      { type: "SHRINK_VOLUME", shrink_volume: { agent_id, volume, subtract: { value: 1 } } },
    ];
    for (const c of calls) {
      const r = await call(c);
      assert.deepEqual([r.status, r.text], [400, "No agent found with specified ID"], c.type);
    }
    const legacy = await fetch(`${master.url}/master/reserve`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        slaveId: "no-such-agent",
        resources: JSON.stringify([cpus]),
      }).toString(),
    });
    assert.deepEqual(
      [legacy.status, await legacy.text()],
      [400, "No agent found with specified ID"],
    );
  });

  test("operator API: UPDATE_WEIGHTS refuses bad roles and weights, and answers 200 when valid", async () => {
    const zero = await call({
      type: "UPDATE_WEIGHTS",
      update_weights: { weight_infos: [{ role: "web", weight: 0 }] },
    });
    assert.equal(zero.status, 400);
    assert.equal(
      zero.text,
      "Failed to validate update weights request JSON for role 'web': Invalid weight '0': Weights must be positive",
    );
    const badRole = await call({
      type: "UPDATE_WEIGHTS",
      update_weights: { weight_infos: [{ role: "..", weight: 1 }] },
    });
    assert.equal(badRole.status, 400);
    assert.match(
      badRole.text,
      /^Failed to validate update weights request JSON: Invalid role '\.\.': /,
    );
    const good = await call({
      type: "UPDATE_WEIGHTS",
      update_weights: { weight_infos: [{ role: "web", weight: 2 }] },
    });
    assert.deepEqual([good.status, good.text], [200, ""]);
  });

  test("operator API: UNKNOWN calls answer 501", async () => {
    const r = await call({ type: "UNKNOWN" });
    assert.deepEqual([r.status, r.text], [501, ""]);
  });

  test("operator API: method, Content-Type and body errors", async () => {
    const get = await fetch(`${master.url}/api/v1`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "POST");
    const noType = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(
        { host: "127.0.0.1", port: master.port, path: "/api/v1", method: "POST", agent: false },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => {
            text += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on("error", reject);
      req.end('{"type":"GET_HEALTH"}');
    });
    assert.deepEqual(noType, { status: 400, text: "Expecting 'Content-Type' to be present" });
    const plain = await post('{"type":"GET_HEALTH"}', { "Content-Type": "text/plain" });
    assert.equal(plain.status, 415);
    assert.equal(
      plain.text,
      "Expecting 'Content-Type' of application/json or application/x-protobuf",
    );
    const malformed = await post("{");
    assert.equal(malformed.status, 400);
    assert.match(malformed.text, /^Failed to parse body into JSON: /);
    const wrongShape = await post('{"type":"TEARDOWN","teardown":{}}');
    assert.equal(wrongShape.status, 400);
    assert.match(wrongShape.text, /^Failed to convert JSON into Call protobuf: /);
    const badProto = await post(new Uint8Array([0xff, 0xff, 0xff]), {
      "Content-Type": "application/x-protobuf",
    });
    assert.equal(badProto.status, 400);
    assert.match(badProto.text, /^Failed to parse body into Call protobuf/);
    // TEARDOWN with an empty `teardown` (its required framework_id missing).
    const uninitialized = await post(new Uint8Array([0x08, 0x1f, 0x82, 0x01, 0x00]), {
      "Content-Type": "application/x-protobuf",
    });
    assert.equal(uninitialized.status, 400);
    assert.match(uninitialized.text, /^Failed to parse body into Call protobuf/);
  });

  test("operator API: START/STOP_MAINTENANCE refusals name the machine in JSON, as Mesos does", async () => {
    const window = (hostnames: string[]) => ({
      machine_ids: hostnames.map((hostname) => ({ hostname })),
      unavailability: { start: { nanoseconds: 1_000_000_000 } },
    });
    const twice = await call({
      type: "UPDATE_MAINTENANCE_SCHEDULE",
      update_maintenance_schedule: { schedule: { windows: [window(["h1", "h1"])] } },
    });
    assert.deepEqual(
      [twice.status, twice.text],
      [400, `Machine '{"hostname":"h1"}' appears more than once in the schedule`],
    );
    const set = await call({
      type: "UPDATE_MAINTENANCE_SCHEDULE",
      update_maintenance_schedule: { schedule: { windows: [window(["h1", "h2"])] } },
    });
    assert.equal(set.status, 200, set.text);
    const stray = await call({
      type: "START_MAINTENANCE",
      start_maintenance: { machines: [{ hostname: "nowhere", ip: "10.0.0.9" }] },
    });
    assert.deepEqual(
      [stray.status, stray.text],
      [
        400,
        `Machine '{"hostname":"nowhere","ip":"10.0.0.9"}' is not part of a maintenance schedule`,
      ],
    );
    const down = await call({
      type: "START_MAINTENANCE",
      start_maintenance: { machines: [{ hostname: "h1" }] },
    });
    assert.equal(down.status, 200, down.text);
    const again = await call({
      type: "START_MAINTENANCE",
      start_maintenance: { machines: [{ hostname: "h1" }] },
    });
    assert.deepEqual(
      [again.status, again.text],
      [400, `Machine '{"hostname":"h1"}' is not in DRAINING mode and cannot be brought down`],
    );
    const drop = await call({
      type: "UPDATE_MAINTENANCE_SCHEDULE",
      update_maintenance_schedule: { schedule: { windows: [window(["h2"])] } },
    });
    assert.deepEqual(
      [drop.status, drop.text],
      [400, `Machine '{"hostname":"h1"}' is deactivated and cannot be removed from the schedule`],
    );
    const draining = await call({
      type: "STOP_MAINTENANCE",
      stop_maintenance: { machines: [{ hostname: "h2" }] },
    });
    assert.deepEqual(
      [draining.status, draining.text],
      [400, `Machine '{"hostname":"h2"}' is not in DOWN mode and cannot be brought up`],
    );
    const strayUp = await call({
      type: "STOP_MAINTENANCE",
      stop_maintenance: { machines: [{ hostname: "nowhere" }] },
    });
    assert.deepEqual(
      [strayUp.status, strayUp.text],
      [400, `Machine '{"hostname":"nowhere"}' is not part of a maintenance schedule`],
    );
    const up = await call({
      type: "STOP_MAINTENANCE",
      stop_maintenance: { machines: [{ hostname: "h1" }] },
    });
    assert.deepEqual([up.status, up.text], [200, ""]);
  });

  test("operator API: maintenance and quota updates answer an empty 200", async () => {
    const schedule = await call({
      type: "UPDATE_MAINTENANCE_SCHEDULE",
      update_maintenance_schedule: { schedule: {} },
    });
    assert.deepEqual([schedule.status, schedule.text], [200, ""]);
    const quota = await call({
      type: "UPDATE_QUOTA",
      update_quota: { quota_configs: [{ role: "web", guarantees: {}, limits: {} }] },
    });
    assert.equal(quota.status, 200, quota.text);
  });
});
