import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeEvent } from "../../src/executor/event-codec.js";
import {
  type ExecutorEnvironment,
  readExecutorEnvironment,
} from "../../src/executor/executor-environment.js";
import { newStatusUuid, normalizeUuid, uuidText } from "../../src/executor/uuid.js";

const minimal = {
  MESOS_FRAMEWORK_ID: "fw-1",
  MESOS_EXECUTOR_ID: "ex-1",
  MESOS_AGENT_ENDPOINT: "10.0.0.5:5051",
};

function read(env: Record<string, string>): ExecutorEnvironment {
  const r = readExecutorEnvironment(env);
  if ("error" in r) assert.fail(r.error);
  return r;
}

function fails(env: Record<string, string>): string {
  const r = readExecutorEnvironment(env);
  assert.ok("error" in r, "expected an error");
  return r.error;
}

describe("executor environment", () => {
  it("reads ids and the agent endpoint; no checkpointing; 5 s shutdown grace by default", () => {
    assert.deepEqual(read(minimal), {
      frameworkId: "fw-1",
      executorId: "ex-1",
      agent: { host: "10.0.0.5", port: 5051, path: "/api/v1/executor" },
      checkpoint: false,
      shutdownGracePeriodMs: 5000,
      local: false,
    });
  });

  it("MESOS_SLAVE_PID names the API path (slave(1)/api/v1/executor) and is an address fallback", () => {
    assert.deepEqual(read({ ...minimal, MESOS_SLAVE_PID: "slave(1)@10.0.0.5:5051" }).agent, {
      host: "10.0.0.5",
      port: 5051,
      path: "/slave(1)/api/v1/executor",
    });
    const { MESOS_AGENT_ENDPOINT: _, ...noEndpoint } = minimal;
    assert.deepEqual(read({ ...noEndpoint, MESOS_SLAVE_PID: "slave(1)@10.0.0.6:5052" }).agent, {
      host: "10.0.0.6",
      port: 5052,
      path: "/slave(1)/api/v1/executor",
    });
  });

  it("MESOS_DOMAIN_SOCKET wins over TCP", () => {
    assert.deepEqual(read({ ...minimal, MESOS_DOMAIN_SOCKET: "/run/mesos/agent.sock" }).agent, {
      socketPath: "/run/mesos/agent.sock",
      path: "/api/v1/executor",
    });
  });

  it("IPv6 endpoints in brackets are accepted", () => {
    assert.deepEqual(read({ ...minimal, MESOS_AGENT_ENDPOINT: "[::1]:5051" }).agent, {
      host: "::1",
      port: 5051,
      path: "/api/v1/executor",
    });
  });

  it("missing ids or address give one-line errors naming the variable", () => {
    assert.match(fails({ ...minimal, MESOS_FRAMEWORK_ID: "" }), /'MESOS_FRAMEWORK_ID'/);
    const { MESOS_EXECUTOR_ID: _, ...noExecutor } = minimal;
    assert.match(fails(noExecutor), /'MESOS_EXECUTOR_ID'/);
    const { MESOS_AGENT_ENDPOINT: __, ...noAgent } = minimal;
    assert.match(fails(noAgent), /'MESOS_AGENT_ENDPOINT'/);
    assert.match(fails({ ...minimal, MESOS_AGENT_ENDPOINT: "localhost" }), /MESOS_AGENT_ENDPOINT/);
    assert.match(fails({ ...minimal, MESOS_SLAVE_PID: "nonsense" }), /MESOS_SLAVE_PID/);
  });

  it("MESOS_CHECKPOINT=1 requires and parses the recovery timeout and backoff", () => {
    const env = read({
      ...minimal,
      MESOS_CHECKPOINT: "1",
      MESOS_RECOVERY_TIMEOUT: "15mins",
      MESOS_SUBSCRIPTION_BACKOFF_MAX: "2secs",
    });
    assert.equal(env.checkpoint, true);
    assert.equal(env.recoveryTimeoutMs, 15 * 60_000);
    assert.equal(env.subscriptionBackoffMaxMs, 2000);
    assert.match(
      fails({ ...minimal, MESOS_CHECKPOINT: "1", MESOS_SUBSCRIPTION_BACKOFF_MAX: "2secs" }),
      /'MESOS_RECOVERY_TIMEOUT'/,
    );
    assert.match(
      fails({
        ...minimal,
        MESOS_CHECKPOINT: "1",
        MESOS_RECOVERY_TIMEOUT: "soon",
        MESOS_SUBSCRIPTION_BACKOFF_MAX: "2secs",
      }),
      /MESOS_RECOVERY_TIMEOUT: 'soon'/,
    );
  });

  it("without checkpointing the recovery variables are ignored", () => {
    const env = read({ ...minimal, MESOS_CHECKPOINT: "0", MESOS_RECOVERY_TIMEOUT: "bogus" });
    assert.equal(env.checkpoint, false);
    assert.equal(env.recoveryTimeoutMs, undefined);
  });

  it("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD takes Mesos durations", () => {
    assert.equal(
      read({ ...minimal, MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD: "1.5secs" }).shutdownGracePeriodMs,
      1500,
    );
    assert.equal(
      read({ ...minimal, MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD: "250ms" }).shutdownGracePeriodMs,
      250,
    );
    assert.match(
      fails({ ...minimal, MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD: "5 seconds" }),
      /MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD/,
    );
  });

  it("keeps the authentication token and notes MESOS_LOCAL", () => {
    const env = read({ ...minimal, MESOS_EXECUTOR_AUTHENTICATION_TOKEN: "jwt", MESOS_LOCAL: "1" });
    assert.equal(env.authenticationToken, "jwt");
    assert.equal(env.local, true);
  });
});

describe("executor events", () => {
  const decode = (v: unknown) => decodeEvent(Buffer.from(JSON.stringify(v)));

  it("decodes valid events by name or by enum number", () => {
    const launch = decode({
      type: "LAUNCH",
      launch: { task: { name: "t", task_id: { value: "t" }, agent_id: { value: "a" } } },
    });
    assert.ok(launch.ok && launch.event.type === "LAUNCH");
    const heartbeat = decode({ type: 9 });
    assert.ok(heartbeat.ok && heartbeat.event.type === "HEARTBEAT");
    assert.ok(decode({ type: "SHUTDOWN" }).ok);
  });

  it("unknown types are ignorable; malformed events are errors with a reason", () => {
    assert.deepEqual(decode({ type: "NEW_THING" }), {
      ok: false,
      reason: 'unknown event type "NEW_THING"',
      ignorable: true,
    });
    const cases: [unknown, RegExp][] = [
      [{ type: "SUBSCRIBED", subscribed: { executor_info: {} } }, /subscribed.framework_info/],
      [{ type: "KILL", kill: { task_id: {} } }, /kill.task_id/],
      [{ type: "ACKNOWLEDGED", acknowledged: { task_id: { value: "t" } } }, /acknowledged.uuid/],
      [{ type: "LAUNCH_GROUP", launch_group: { task_group: { tasks: [{}] } } }, /tasks\[\]/],
      [{ type: "MESSAGE", message: {} }, /message.data/],
      [{ type: "ERROR" }, /error.message/],
      ["just a string", /not a JSON object/],
    ];
    for (const [event, reason] of cases) {
      const r = decode(event);
      assert.ok(!r.ok && !r.ignorable, JSON.stringify(event));
      assert.match(r.reason, reason);
    }
    const garbage = decodeEvent(Buffer.from("{nope"));
    assert.ok(!garbage.ok);
    assert.match(garbage.reason, /not valid JSON/);
  });
});

describe("status update uuids", () => {
  it("are 16 bytes in RFC 4122 version-4 form, base64-encoded, and differ", () => {
    const a = newStatusUuid();
    const bytes = Buffer.from(a, "base64");
    assert.equal(bytes.length, 16);
    assert.equal((bytes[6] ?? 0) >> 4, 4);
    assert.equal((bytes[8] ?? 0) >> 6, 2);
    assert.notEqual(a, newStatusUuid());
    assert.match(
      uuidText(a),
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it("normalize accepts unpadded and base64url forms and rejects other lengths", () => {
    const fixed = newStatusUuid(() => new Uint8Array(16).fill(0xfb));
    assert.equal(normalizeUuid(fixed.replace(/=+$/, "")), fixed);
    assert.equal(normalizeUuid(fixed.replace(/\+/g, "-").replace(/\//g, "_")), fixed);
    assert.equal(normalizeUuid("AAAA"), undefined);
  });
});
