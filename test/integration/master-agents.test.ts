/**
 * The real bin/mesos-master with a scripted agent (internal messages over
 * the real transport) and v1 schedulers: offers, launches and their
 * validation, status updates and acknowledgements, and the JSON endpoints.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Offer, TaskInfo } from "../../src/common/protocol/generated/mesos-v1.js";
import { resourcesFromString } from "../../src/common/resources/index.js";
import { type DaemonHandle, startMaster, stopAll, waitFor } from "../harness/processes.js";
import { FakeAgent, type Subscription, subscribe, subscribeCall } from "./master-clients.js";

let master: DaemonHandle;
let agent: FakeAgent;
let agentId: string;
const open: Subscription[] = [];

function resources(text: string) {
  const parsed = resourcesFromString(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value as NonNullable<TaskInfo["resources"]>;
}

before(async () => {
  master = await startMaster({ flags: { allocation_interval: "50ms", hostname: "master-host" } });
  agent = await FakeAgent.start(master.address);
  agentId = await agent.register(resources("cpus:4;mem:2048;disk:4096;ports:[31000-31100]"));
});

after(async () => {
  for (const s of open) s.close();
  await agent?.stop();
  await stopAll();
});

async function framework(name: string, extra: Record<string, unknown> = {}): Promise<Subscription> {
  const s = await subscribe(master.url, subscribeCall(name, extra));
  open.push(s);
  await s.nth("SUBSCRIBED");
  return s;
}

/** Waits for this framework's first offer; returns it. */
async function firstOffer(s: Subscription): Promise<Offer> {
  const event = await s.nth("OFFERS");
  const offer = event.offers?.offers?.[0];
  assert.ok(offer !== undefined);
  return offer;
}

function task(id: string, text = "cpus:0.5;mem:64"): TaskInfo {
  return {
    name: `task ${id}`,
    task_id: { value: id },
    agent_id: { value: agentId },
    resources: resources(text),
    command: { value: "sleep 1" },
  };
}

async function updateFor(s: Subscription, taskId: string, state: string) {
  const event = await s.next(
    (e) =>
      e.type === "UPDATE" &&
      e.update?.status.task_id.value === taskId &&
      e.update.status.state === state,
    `${state} for ${taskId}`,
  );
  return event.update?.status;
}

test("master with an agent: the framework receives offers with allocation_info.role, url and hostname", async () => {
  const s = await framework("offers", { role: "web" });
  const offer = await firstOffer(s);
  assert.equal(offer.agent_id.value, agentId);
  assert.equal(offer.hostname, "fake-agent");
  assert.equal(offer.url?.scheme, "http");
  assert.equal(offer.url?.address.ip, "127.0.0.1");
  assert.equal(offer.url?.address.port, agent.host.port);
  assert.equal(offer.url?.path, "/slave(1)");
  assert.equal(offer.allocation_info?.role, "web");
  assert.ok((offer.resources ?? []).length > 0);
  for (const r of offer.resources ?? []) assert.equal(r.allocation_info?.role, "web");
  const decline = await s.call({ type: "DECLINE", decline: { offer_ids: [offer.id] } });
  assert.equal(decline.status, 202);
  await s.call({ type: "TEARDOWN" });
});

test("master with an agent: invalid launches get TASK_ERROR / TASK_LOST with reasons; the master keeps serving", async () => {
  const owner = await framework("owner");
  const offer = await firstOffer(owner);
  const thief = await framework("thief");
  await thief.call({
    type: "ACCEPT",
    accept: {
      offer_ids: [offer.id],
      operations: [{ type: "LAUNCH", launch: { task_infos: [task("stolen")] } }],
    },
  });
  const lost = await updateFor(thief, "stolen", "TASK_LOST");
  assert.equal(lost?.reason, "REASON_INVALID_OFFERS");
  assert.equal(lost?.source, "SOURCE_MASTER");
  assert.match(lost?.message ?? "", /has invalid framework/);

  await owner.call({
    type: "ACCEPT",
    accept: {
      offer_ids: [offer.id],
      operations: [
        {
          type: "LAUNCH",
          launch: {
            task_infos: [task("ok-1"), task("ok-1"), task("huge", "cpus:100;mem:64")],
          },
        },
      ],
      filters: { refuse_seconds: 0 },
    },
  });
  const duplicate = await updateFor(owner, "ok-1", "TASK_ERROR");
  assert.equal(duplicate?.reason, "REASON_TASK_INVALID");
  assert.equal(duplicate?.message, "Task has duplicate ID: ok-1");
  const huge = await updateFor(owner, "huge", "TASK_ERROR");
  assert.match(huge?.message ?? "", /^Total resources .* is more than available/);
  await waitFor("RunTaskMessage for ok-1", () =>
    agent.ofType("mesos.internal.RunTaskMessage").some((m) => m.task.task_id.value === "ok-1"),
  );
  assert.equal(
    agent.ofType("mesos.internal.RunTaskMessage").filter((m) => m.task.task_id.value === "ok-1")
      .length,
    1,
    "only the first of the duplicates is launched",
  );
  assert.equal((await fetch(`${master.url}/health`)).status, 200);
  await owner.call({ type: "TEARDOWN" });
  await thief.call({ type: "TEARDOWN" });
});

test("master with an agent: status updates reach the scheduler, acknowledgements reach the agent", async () => {
  const s = await framework("updates");
  const offer = await firstOffer(s);
  await s.call({
    type: "ACCEPT",
    accept: {
      offer_ids: [offer.id],
      operations: [{ type: "LAUNCH", launch: { task_infos: [task("t1")] } }],
    },
  });
  const run = await waitFor("RunTaskMessage for t1", () =>
    agent.ofType("mesos.internal.RunTaskMessage").find((m) => m.task.task_id.value === "t1"),
  );
  assert.equal(run.framework.id?.value, s.frameworkId);
  assert.equal(run.pid, undefined);
  const uuid = new Uint8Array(16).fill(7);
  agent.send("mesos.internal.StatusUpdateMessage", {
    update: {
      framework_id: { value: s.frameworkId },
      slave_id: { value: agentId },
      status: { task_id: { value: "t1" }, state: "TASK_RUNNING", source: "SOURCE_EXECUTOR", uuid },
      timestamp: Date.now() / 1000,
      uuid,
      latest_state: "TASK_RUNNING",
    },
    pid: agent.pid,
  });
  const running = await updateFor(s, "t1", "TASK_RUNNING");
  assert.deepEqual([...(running?.uuid ?? [])], [...uuid]);
  assert.equal(running?.agent_id?.value, agentId);
  const ack = await s.call({
    type: "ACKNOWLEDGE",
    acknowledge: { agent_id: { value: agentId }, task_id: { value: "t1" }, uuid },
  });
  assert.equal(ack.status, 202);
  const forwarded = await waitFor("the acknowledgement at the agent", () =>
    agent
      .ofType("mesos.internal.StatusUpdateAcknowledgementMessage")
      .find((m) => m.task_id.value === "t1"),
  );
  assert.equal(forwarded.framework_id.value, s.frameworkId);
  assert.deepEqual([...forwarded.uuid], [...uuid]);

  const kill = await s.call({ type: "KILL", kill: { task_id: { value: "t1" } } });
  assert.equal(kill.status, 202);
  await waitFor("KillTaskMessage", () =>
    agent.ofType("mesos.internal.KillTaskMessage").some((m) => m.task_id.value === "t1"),
  );
  await s.call({ type: "RECONCILE", reconcile: { tasks: [{ task_id: { value: "nope" } }] } });
  const unknown = await updateFor(s, "nope", "TASK_LOST");
  assert.equal(unknown?.reason, "REASON_RECONCILIATION");
  await s.call({ type: "TEARDOWN" });
  await waitFor("ShutdownFrameworkMessage", () =>
    agent
      .ofType("mesos.internal.ShutdownFrameworkMessage")
      .some((m) => m.framework_id.value === s.frameworkId),
  );
});

interface StateDoc {
  [key: string]: unknown;
  slaves: Record<string, unknown>[];
  frameworks: Record<string, unknown>[];
  completed_frameworks: Record<string, unknown>[];
}

test("master with an agent: /master/state has the Mesos JSON keys; HTTP frameworks have no pid", async () => {
  const s = await framework("state-shape", { role: "*" });
  const offer = await firstOffer(s);
  await s.call({
    type: "ACCEPT",
    accept: {
      offer_ids: [offer.id],
      operations: [{ type: "LAUNCH", launch: { task_infos: [task("shown")] } }],
    },
  });
  await waitFor("the task in state", async () => {
    const doc = (await (await fetch(`${master.url}/master/state`)).json()) as StateDoc;
    const fw = doc.frameworks.find((f) => f.id === s.frameworkId);
    return ((fw?.tasks as unknown[] | undefined) ?? []).length > 0;
  });
  const response = await fetch(`${master.url}/master/state`);
  assert.equal(response.headers.get("content-type"), "application/json");
  const doc = (await response.json()) as StateDoc;
  for (const key of [
    "version",
    "build_date",
    "build_time",
    "build_user",
    "start_time",
    "elected_time",
    "id",
    "pid",
    "hostname",
    "capabilities",
    "activated_slaves",
    "deactivated_slaves",
    "unreachable_slaves",
    "leader",
    "leader_info",
    "flags",
    "slaves",
    "recovered_slaves",
    "frameworks",
    "completed_frameworks",
    "orphan_tasks",
    "unregistered_frameworks",
  ]) {
    assert.ok(key in doc, `top-level key ${key}`);
  }
  assert.equal(doc.version, "1.12.0");
  assert.equal(doc.hostname, "master-host");
  assert.match(String(doc.pid), /^master@127\.0\.0\.1:\d+$/);
  const slave = doc.slaves.find((a) => a.id === agentId);
  assert.ok(slave !== undefined);
  for (const key of [
    "id",
    "hostname",
    "port",
    "attributes",
    "pid",
    "registered_time",
    "resources",
    "used_resources",
    "offered_resources",
    "reserved_resources",
    "unreserved_resources",
    "active",
    "deactivated",
    "version",
    "capabilities",
  ]) {
    assert.ok(key in slave, `agent key ${key}`);
  }
  assert.equal((slave.resources as Record<string, unknown>).cpus, 4);
  assert.equal((slave.resources as Record<string, unknown>).ports, "[31000-31100]");
  const fw = doc.frameworks.find((f) => f.id === s.frameworkId);
  assert.ok(fw !== undefined);
  assert.equal("pid" in fw, false, "HTTP frameworks have no pid key");
  for (const key of [
    "id",
    "name",
    "used_resources",
    "offered_resources",
    "capabilities",
    "hostname",
    "webui_url",
    "active",
    "connected",
    "recovered",
    "user",
    "failover_timeout",
    "checkpoint",
    "registered_time",
    "unregistered_time",
    "resources",
    "role",
    "tasks",
    "unreachable_tasks",
    "completed_tasks",
    "offers",
    "executors",
    "offer_constraints",
  ]) {
    assert.ok(key in fw, `framework key ${key}`);
  }
  const shown = (fw.tasks as Record<string, unknown>[])[0] ?? {};
  for (const key of [
    "id",
    "name",
    "framework_id",
    "executor_id",
    "slave_id",
    "state",
    "resources",
    "role",
    "statuses",
  ]) {
    assert.ok(key in shown, `task key ${key}`);
  }
  assert.equal(shown.state, "TASK_STAGING");
  assert.equal(shown.executor_id, "");
  assert.equal(shown.slave_id, agentId);
  await s.call({ type: "TEARDOWN" });
});

test("master endpoints: state aliases, jsonp, /version and /master/redirect", async () => {
  for (const path of ["/state", "/state.json", "/master/state.json"]) {
    const r = await fetch(`${master.url}${path}`);
    assert.equal(r.status, 200, path);
    assert.ok("frameworks" in ((await r.json()) as object), path);
  }
  const jsonp = await fetch(`${master.url}/master/state?jsonp=show`);
  assert.equal(jsonp.headers.get("content-type"), "text/javascript");
  assert.match(await jsonp.text(), /^show\(\{.*\}\)$/s);
  const version = (await (await fetch(`${master.url}/version`)).json()) as Record<string, unknown>;
  assert.equal(version.version, "1.12.0");
  assert.equal(typeof version.mesos_ts_version, "string");
  const redirect = await fetch(`${master.url}/master/redirect`, { redirect: "manual" });
  assert.equal(redirect.status, 307);
  assert.equal(redirect.headers.get("location"), `//master-host:${master.port}`);
  // Mesos serves its read endpoints whatever the method; write endpoints check theirs.
  const post = await fetch(`${master.url}/master/state`, { method: "POST" });
  assert.equal(post.status, 200);
  assert.equal(((await post.json()) as { version?: string }).version, "1.12.0");
  for (const path of [
    "/master/frameworks",
    "/master/slaves",
    "/master/tasks",
    "/health",
    "/metrics/snapshot",
    "/files/debug",
    "/logging/toggle",
  ]) {
    assert.equal((await fetch(`${master.url}${path}`, { method: "POST" })).status, 200, path);
  }
  assert.equal((await fetch(`${master.url}/master/teardown`)).status, 405);
  // HEAD is a GET without the body (load balancers probe /health with it).
  for (const path of ["/health", "/flags", "/master/state", "/metrics/snapshot"]) {
    assert.equal((await fetch(`${master.url}${path}`, { method: "HEAD" })).status, 200, path);
  }
});
