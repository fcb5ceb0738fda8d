/**
 * The v1 scheduler API answers as Mesos' does where third-party schedulers
 * look: validation wording, principals of authenticated frameworks, the
 * UPDATE_FRAMEWORK reasons, and RECONCILE_OPERATIONS answers. A real master
 * and agent, plus a master that authenticates frameworks.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Call } from "../../src/common/protocol/generated/mesos-v1-scheduler.js";
import { codecFor } from "../../src/common/protocol/index.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, getJson, startMaster, stopAll, tempDir } from "../harness/processes.js";
import { post, type Subscription, subscribe, subscribeCall } from "./master-clients.js";

const callCodec = codecFor("mesos.v1.scheduler.Call");
const open: Subscription[] = [];

after(async () => {
  for (const s of open) s.close();
  await stopAll();
});

async function subscribed(
  url: string,
  call: Call,
  headers: Record<string, string> = {},
): Promise<Subscription> {
  const s = await subscribe(url, call, { headers });
  open.push(s);
  await s.nth("SUBSCRIBED");
  return s;
}

describe("scheduler API conformance (no authentication)", () => {
  let master: DaemonHandle;
  let agentId: string;

  before(async () => {
    ({ master, agentId } = await startOneAgentCluster({ registration_backoff_factor: "100ms" }));
  });

  it("ACKNOWLEDGE with a uuid that is not 16 bytes is 400 'Not a valid UUID'", async () => {
    const s = await subscribed(master.url, subscribeCall("ack"));
    const r = await s.call({
      type: "ACKNOWLEDGE",
      acknowledge: {
        agent_id: { value: agentId },
        task_id: { value: "t" },
        uuid: Buffer.from("x"),
      },
    });
    assert.equal(r.status, 400);
    assert.equal(r.body, "Failed to validate scheduler::Call: Not a valid UUID");
  });

  it("RECONCILE_OPERATIONS answers each operation from its agent's state, with 202", async () => {
    const s = await subscribed(master.url, subscribeCall("ops"));
    const r = await s.call({
      type: "RECONCILE_OPERATIONS",
      reconcile_operations: {
        operations: [
          { operation_id: { value: "on-agent" }, agent_id: { value: agentId } },
          { operation_id: { value: "nowhere" }, agent_id: { value: "no-such-agent" } },
          { operation_id: { value: "no-agent" } },
        ],
      },
    });
    assert.equal(r.status, 202);
    const answer = async (id: string) =>
      (
        await s.next(
          (e) => e.update_operation_status?.status.operation_id?.value === id,
          `the answer for ${id}`,
        )
      ).update_operation_status?.status;
    const onAgent = await answer("on-agent");
    assert.equal(onAgent?.state, "OPERATION_UNKNOWN");
    assert.equal(onAgent?.message, "Reconciliation: Operation is unknown");
    assert.equal(onAgent?.agent_id?.value, agentId);
    const nowhere = await answer("nowhere");
    assert.equal(nowhere?.state, "OPERATION_UNKNOWN");
    assert.equal(nowhere?.message, "Reconciliation: Both operation and agent are unknown");
    const noAgent = await answer("no-agent");
    assert.equal(noAgent?.state, "OPERATION_UNKNOWN");
    assert.equal(
      noAgent?.message,
      "Reconciliation: Operation is unknown and no 'agent_id' was provided",
    );
    assert.equal(noAgent?.agent_id, undefined);
  });

  it("UPDATE_FRAMEWORK with suppressed roles outside its roles: 400 'UpdateFramework' call is not valid", async () => {
    const s = await subscribed(master.url, subscribeCall("upd"));
    const info = {
      ...subscribeCall("upd").subscribe?.framework_info,
      id: { value: s.frameworkId },
    };
    const r = await s.call({
      type: "UPDATE_FRAMEWORK",
      update_framework: {
        framework_info: info as NonNullable<Call["update_framework"]>["framework_info"],
        suppressed_roles: ["zeta", "alpha", "zeta"],
      },
    });
    assert.equal(r.status, 400);
    assert.equal(
      r.body,
      "'UpdateFramework' call is not valid: Suppressed roles { alpha, zeta } are not " +
        "contained in the set of roles",
    );
  });

  it("ACCEPT of an unknown offer, KILL and RECONCILE of unknown tasks: the updates Mesos sends", async () => {
    const lost = await subscribed(master.url, subscribeCall("plain"));
    const aware = await subscribed(
      master.url,
      subscribeCall("aware", { capabilities: [{ type: "PARTITION_AWARE" }] }),
    );
    lost.autoDecline = true;
    aware.autoDecline = true;
    const launch = (taskId: string): Call => ({
      type: "ACCEPT",
      accept: {
        offer_ids: [{ value: "bogus" }],
        operations: [
          {
            type: "LAUNCH",
            launch: {
              task_infos: [
                {
                  name: taskId,
                  task_id: { value: taskId },
                  agent_id: { value: agentId },
                  resources: [{ name: "cpus", type: "SCALAR", scalar: { value: 0.1 } }],
                  command: { value: "true" },
                },
              ],
            },
          },
        ],
      },
    });
    const statusOf = async (s: Subscription, taskId: string) =>
      (await s.next((e) => e.update?.status.task_id.value === taskId, `the update of ${taskId}`))
        .update?.status;
    assert.equal((await lost.call(launch("a1"))).status, 202);
    assert.equal((await aware.call(launch("b1"))).status, 202);
    for (const [s, taskId, state] of [
      [lost, "a1", "TASK_LOST"],
      [aware, "b1", "TASK_DROPPED"],
    ] as const) {
      const status = await statusOf(s, taskId);
      assert.equal(status?.state, state);
      assert.equal(status?.reason, "REASON_INVALID_OFFERS");
      assert.equal(status?.source, "SOURCE_MASTER");
      assert.equal(
        status?.message,
        "Task launched with invalid offers: Offer bogus is no longer valid",
      );
    }
    const kill = (taskId: string, agent?: string): Call => ({
      type: "KILL",
      kill: {
        task_id: { value: taskId },
        ...(agent === undefined ? {} : { agent_id: { value: agent } }),
      },
    });
    assert.equal((await lost.call(kill("a2"))).status, 202);
    assert.equal((await aware.call(kill("b2", agentId))).status, 202);
    assert.equal((await aware.call(kill("b3"))).status, 202);
    const a2 = await statusOf(lost, "a2");
    assert.equal(a2?.state, "TASK_LOST");
    assert.equal(a2?.reason, "REASON_RECONCILIATION");
    assert.equal(a2?.message, "Reconciliation: Task is unknown");
    const b2 = await statusOf(aware, "b2");
    assert.equal(b2?.state, "TASK_GONE");
    assert.equal(b2?.message, "Reconciliation: Task is unknown to the agent");
    assert.equal(b2?.agent_id?.value, agentId);
    const b3 = await statusOf(aware, "b3");
    assert.equal(b3?.state, "TASK_UNKNOWN");
    const reconcile = await aware.call({
      type: "RECONCILE",
      reconcile: { tasks: [{ task_id: { value: "b4" }, agent_id: { value: "gone-agent" } }] },
    });
    assert.equal(reconcile.status, 202);
    const b4 = await statusOf(aware, "b4");
    assert.equal(b4?.state, "TASK_UNKNOWN");
    assert.equal(b4?.reason, "REASON_RECONCILIATION");
    assert.equal(b4?.uuid, undefined, "reconciliation answers need no acknowledgement");
  });

  it("REQUEST, DECLINE of an unknown offer, MESSAGE and SHUTDOWN to an unknown agent are 202", async () => {
    const s = await subscribed(master.url, subscribeCall("misc"));
    const calls: Call[] = [
      { type: "REQUEST", request: { requests: [] } },
      { type: "DECLINE", decline: { offer_ids: [{ value: "bogus" }] } },
      {
        type: "MESSAGE",
        message: {
          agent_id: { value: "nope" },
          executor_id: { value: "e" },
          data: Buffer.from("hi"),
        },
      },
      { type: "SHUTDOWN", shutdown: { agent_id: { value: "nope" }, executor_id: { value: "e" } } },
      { type: "SUPPRESS", suppress: { roles: ["not-mine"] } },
      { type: "REVIVE", revive: { roles: ["not-mine"] } },
    ];
    for (const call of calls) {
      const r = await s.call(call);
      assert.equal(r.status, 202, call.type);
      assert.equal(r.body, "", call.type);
    }
  });

  it("an empty body is a parse error (JSON) or a call without a type (protobuf)", async () => {
    const json = await post(master.url, "", { "Content-Type": "application/json" });
    assert.equal(json.status, 400);
    assert.match(json.body, /^Failed to parse body into JSON/);
    const proto = await post(master.url, new Uint8Array(0), {
      "Content-Type": "application/x-protobuf",
    });
    assert.equal(proto.status, 400);
    assert.equal(proto.body, "Failed to validate scheduler::Call: Expecting 'type' to be present");
  });
});

describe("scheduler API conformance (frameworks authenticate)", () => {
  let master: DaemonHandle;
  const secrets: Record<string, string> = { "fw-a": "a-secret", "fw-b": "b-secret" };
  const basic = (principal: string): Record<string, string> => ({
    Authorization: `Basic ${Buffer.from(`${principal}:${secrets[principal] ?? ""}`).toString("base64")}`,
  });

  before(async () => {
    const dir = tempDir();
    const credentials = join(dir, "credentials.json");
    writeFileSync(
      credentials,
      JSON.stringify({
        credentials: Object.entries(secrets).map(([principal, secret]) => ({ principal, secret })),
      }),
    );
    const acls = join(dir, "acls.json");
    writeFileSync(
      acls,
      JSON.stringify({
        permissive: false,
        register_frameworks: [
          { principals: { values: ["fw-a"] }, roles: { values: ["analytics"] } },
          { principals: { values: ["fw-b"] }, roles: { type: "ANY" } },
        ],
        view_frameworks: [{ principals: { type: "ANY" }, users: { type: "ANY" } }],
      }),
    );
    master = await startMaster({
      flags: {
        credentials: `file://${credentials}`,
        acls: `file://${acls}`,
        authenticate_http_frameworks: true,
        http_framework_authenticators: "basic",
      },
    });
  });

  it("SUBSCRIBE naming another principal is 400 from validation", async () => {
    const r = await post(
      master.url,
      callCodec.encodeJson(subscribeCall("liar", { principal: "fw-b" })),
      { ...basic("fw-a"), "Content-Type": "application/json" },
    );
    assert.equal(r.status, 400);
    assert.equal(
      r.body,
      "Failed to validate scheduler::Call: Authenticated principal 'fw-a' does not match " +
        "principal 'fw-b' set in `FrameworkInfo`",
    );
  });

  it("SUBSCRIBE without a principal takes the authenticated one; calls as another principal are 400", async () => {
    const s = await subscribed(
      master.url,
      subscribeCall("quiet", { role: "analytics" }),
      basic("fw-a"),
    );
    const state = await getJson<{ frameworks: { id: string; principal?: string }[] }>(
      `${master.url}/master/state`,
    );
    const mine = state?.frameworks.find((f) => f.id === s.frameworkId);
    assert.equal(mine?.principal, "fw-a");
    const body = callCodec.encodeJson({ type: "REVIVE", framework_id: { value: s.frameworkId } });
    const headers = { "Content-Type": "application/json", "Mesos-Stream-Id": s.streamId };
    const other = await post(master.url, body, { ...headers, ...basic("fw-b") });
    assert.equal(other.status, 400);
    assert.equal(
      other.body,
      "Authenticated principal 'fw-b' does not match principal 'fw-a' set in `FrameworkInfo`",
    );
    const own = await post(master.url, body, { ...headers, ...basic("fw-a") });
    assert.equal(own.status, 202);
  });

  it("register_frameworks: a refused SUBSCRIBE gets Mesos' ERROR; UPDATE_FRAMEWORK to a refused role is 403", async () => {
    const refused = await subscribe(
      master.url,
      subscribeCall("nosy", { role: "ops-only", principal: "fw-a" }),
      { headers: basic("fw-a") },
    );
    open.push(refused);
    const error = await refused.nth("ERROR");
    assert.equal(
      error.error?.message,
      "Not authorized to register framework  with roles { ops-only }",
    );
    assert.equal(refused.events.length, 1, "nothing but the ERROR");
    const s = await subscribed(
      master.url,
      subscribeCall("grow", { role: "analytics", principal: "fw-a" }),
      basic("fw-a"),
    );
    const info = {
      ...subscribeCall("grow").subscribe?.framework_info,
      principal: "fw-a",
      id: { value: s.frameworkId },
      roles: ["ops-only", "analytics"],
      capabilities: [{ type: "MULTI_ROLE" as const }],
    };
    const headers = {
      ...basic("fw-a"),
      "Content-Type": "application/json",
      "Mesos-Stream-Id": s.streamId,
    };
    const update = (framework_info: typeof info) =>
      post(
        master.url,
        callCodec.encodeJson({
          type: "UPDATE_FRAMEWORK",
          framework_id: { value: s.frameworkId },
          update_framework: {
            framework_info: framework_info as NonNullable<
              Call["update_framework"]
            >["framework_info"],
          },
        }),
        headers,
      );
    const denied = await update(info);
    assert.equal(denied.status, 403);
    assert.equal(
      denied.body,
      `Not authorized to register framework ${s.frameworkId} with roles { analytics, ops-only }`,
    );
    const immutable = await update({ ...info, user: "someone-else", roles: ["analytics"] });
    assert.equal(immutable.status, 400);
    assert.match(
      immutable.body,
      /^FrameworkInfo update is not valid: Updating 'FrameworkInfo.user' is unsupported; attempted to update from '.+' to 'someone-else'$/,
    );
    const fine = await update({ ...info, roles: ["analytics"] });
    assert.equal(fine.status, 200);
  });
});
