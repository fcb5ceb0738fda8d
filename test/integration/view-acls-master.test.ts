/**
 * What a master with --acls shows two principals of its agents, flags and
 * tasks (Mesos' VIEW_ROLE, VIEW_FLAGS, VIEW_TASK filtering): `ops` may view
 * everything, `dev` only role `web`, no flags and only its own user's
 * tasks and executors. Reservations (and resources allocated to roles) `dev` may not view
 * are left out of `/master/slaves`, the agents of `/master/state` and
 * `/master/state-summary`, v1 GET_AGENTS / GET_STATE and the operator event
 * stream; `/master/tasks` pages over the visible tasks only.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Resource } from "../../src/common/protocol/generated/mesos-v1.js";
import { codecFor } from "../../src/common/protocol/index.js";
import { RecordIoDecoder } from "../../src/common/recordio/index.js";
import { type DaemonHandle, startMaster, stopAll, tempDir, waitFor } from "../harness/processes.js";
import { FakeAgent, type Subscription, subscribe, subscribeCall } from "./master-clients.js";

const me = userInfo().username;
const masterCallCodec = codecFor("mesos.v1.master.Call");
const masterResponseCodec = codecFor("mesos.v1.master.Response");

const SECRETS: Record<string, string> = { ops: "ops-secret", dev: "dev-secret" };
const ANY = { type: "ANY" };
const NONE = { type: "NONE" };
const ACLS = {
  permissive: true,
  view_roles: [
    { principals: { values: ["ops"] }, roles: ANY },
    { principals: { values: ["dev"] }, roles: { values: ["web"] } },
    { principals: { values: ["dev"] }, roles: NONE },
  ],
  view_flags: [{ principals: { values: ["dev"] }, flags: NONE }],
  view_tasks: [
    { principals: { values: ["dev"] }, users: { values: [me] } },
    { principals: { values: ["dev"] }, users: NONE },
  ],
  view_executors: [
    { principals: { values: ["dev"] }, users: { values: [me] } },
    { principals: { values: ["dev"] }, users: NONE },
  ],
};

function basic(principal: string): Record<string, string> {
  const token = Buffer.from(`${principal}:${SECRETS[principal] ?? ""}`).toString("base64");
  return { Authorization: `Basic ${token}` };
}

function cpus(value: number, role?: string): Resource {
  return {
    name: "cpus",
    type: "SCALAR",
    scalar: { value },
    ...(role === undefined ? {} : { reservations: [{ type: "STATIC", role }] }),
  } as Resource;
}

const AGENT_RESOURCES = [
  cpus(1, "web"),
  cpus(2, "secret"),
  cpus(4),
  { name: "mem", type: "SCALAR", scalar: { value: 1024 } } as Resource,
];

let master: DaemonHandle;
let agent: FakeAgent;
const agents: FakeAgent[] = [];
const subscriptions: Subscription[] = [];

async function get(path: string, principal: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`${master.url}${path}`, { headers: basic(principal) });
  return { status: r.status, text: await r.text() };
}

async function getJson<T>(path: string, principal: string): Promise<T> {
  const r = await get(path, principal);
  assert.equal(r.status, 200, r.text);
  return JSON.parse(r.text) as T;
}

async function v1Json(principal: string, type: string) {
  const r = await fetch(`${master.url}/api/v1`, {
    method: "POST",
    headers: { ...basic(principal), "Content-Type": "application/json" },
    body: JSON.stringify({ type }),
  });
  const text = await r.text();
  assert.equal(r.status, 200, text);
  const decoded = masterResponseCodec.decodeJson(Buffer.from(text));
  assert.ok(decoded.ok);
  return decoded.value;
}

async function v1Protobuf(principal: string, type: "GET_AGENTS" | "GET_STATE") {
  const r = await fetch(`${master.url}/api/v1`, {
    method: "POST",
    headers: {
      ...basic(principal),
      "Content-Type": "application/x-protobuf",
      Accept: "application/x-protobuf",
    },
    body: masterCallCodec.encodeProtobuf({ type }),
  });
  assert.equal(r.status, 200);
  const decoded = masterResponseCodec.decodeProtobuf(new Uint8Array(await r.arrayBuffer()));
  assert.ok(decoded.ok);
  return decoded.value;
}

/** The reservation roles (each level) and allocation roles of a resource list. */
function rolesOf(resources: readonly unknown[] | undefined): string[] {
  const roles = new Set<string>();
  for (const r of (resources ?? []) as Resource[]) {
    for (const reservation of r.reservations ?? []) roles.add(reservation.role ?? "");
    if (r.allocation_info?.role !== undefined) roles.add(r.allocation_info.role);
  }
  return [...roles].sort();
}

/** An operator event stream (SUBSCRIBE) as `principal`, JSON records collected. */
function operatorEvents(principal: string) {
  const events: { type?: string; event: Record<string, unknown> }[] = [];
  const decoder = new RecordIoDecoder();
  const target = new URL(`${master.url}/api/v1`);
  const req = httpRequest({
    host: target.hostname,
    port: target.port,
    path: target.pathname,
    method: "POST",
    agent: false,
    headers: {
      ...basic(principal),
      "Content-Type": "application/json",
      Accept: "application/json",
    },
  });
  req.on("response", (res) => {
    res.on("data", (chunk: Buffer) => {
      for (const record of decoder.decode(chunk)) {
        const event = JSON.parse(record.toString("utf8")) as Record<string, unknown>;
        events.push({ type: event.type as string | undefined, event });
      }
    });
  });
  req.on("error", () => {});
  req.end(JSON.stringify({ type: "SUBSCRIBE" }));
  return { events, close: () => req.destroy() };
}

let frameworkSub: Subscription;

before(async () => {
  const credentials = join(tempDir(), "credentials.json");
  writeFileSync(
    credentials,
    JSON.stringify({
      credentials: Object.entries(SECRETS).map(([principal, secret]) => ({ principal, secret })),
    }),
  );
  master = await startMaster({
    flags: {
      credentials: `file://${credentials}`,
      acls: JSON.stringify(ACLS),
      authenticate_http_readonly: true,
      authenticate_http_readwrite: true,
      cluster: "acl-cluster",
      allocation_interval: "50ms",
    },
  });
  agent = await FakeAgent.start(master.address);
  agents.push(agent);
  await agent.register(AGENT_RESOURCES);
  // A framework of role `secret` (which dev may not view) with two tasks of
  // another user (hidden from dev) launched before one of its own user.
  frameworkSub = await subscribe(master.url, subscribeCall("secret-fw", { role: "secret" }));
  subscriptions.push(frameworkSub);
  const offer = (await frameworkSub.nth("OFFERS")).offers?.offers?.[0];
  assert.ok(offer !== undefined);
  const task = (id: string, user: string) => ({
    name: id,
    task_id: { value: id },
    agent_id: offer.agent_id,
    resources: [{ ...cpus(0.1), allocation_info: { role: "secret" } }],
    command: { value: "true", user },
  });
  const r = await frameworkSub.call({
    type: "ACCEPT",
    accept: {
      offer_ids: [offer.id],
      operations: [
        {
          type: "LAUNCH",
          launch: {
            task_infos: [
              task("hidden-1", "someone-else"),
              task("hidden-2", "someone-else"),
              task("mine", me),
            ],
          },
        },
      ],
    },
  } as never);
  assert.equal(r.status, 202, r.body);
  await waitFor("the tasks at the agent", () =>
    agent.ofType("mesos.internal.RunTaskMessage").length >= 3 ? true : undefined,
  );
});

after(async () => {
  for (const s of subscriptions) s.close();
  for (const a of agents) await a.stop();
  await stopAll();
});

type AgentDoc = Record<string, unknown> & {
  reserved_resources?: Record<string, unknown>;
  reserved_resources_full?: Record<string, unknown[]>;
  used_resources_full?: unknown[];
  resources?: { cpus?: number };
};

describe("view acls: v0 documents", () => {
  it("/master/slaves: dev sees only reservations of roles it may view, ops all", async () => {
    const dev = await getJson<{ slaves: AgentDoc[] }>("/master/slaves", "dev");
    const ops = await getJson<{ slaves: AgentDoc[] }>("/master/slaves", "ops");
    const [d] = dev.slaves;
    const [o] = ops.slaves;
    assert.ok(d !== undefined && o !== undefined);
    assert.deepEqual(Object.keys(o.reserved_resources ?? {}).sort(), ["secret", "web"]);
    assert.deepEqual(Object.keys(o.reserved_resources_full ?? {}).sort(), ["secret", "web"]);
    assert.deepEqual(Object.keys(d.reserved_resources ?? {}), ["web"]);
    assert.deepEqual(Object.keys(d.reserved_resources_full ?? {}), ["web"]);
    assert.deepEqual(rolesOf(d.reserved_resources_full?.web), ["web"]);
    // The tasks' resources are allocated to `secret`: not in dev's used list.
    assert.deepEqual(rolesOf(o.used_resources_full), ["secret"]);
    assert.deepEqual(d.used_resources_full, []);
    // Totals are not cut (as in Mesos).
    assert.equal(d.resources?.cpus, o.resources?.cpus);
  });

  it("/master/slaves?jsonp= is cut the same way", async () => {
    const r = await get("/master/slaves?jsonp=cb", "dev");
    assert.equal(r.status, 200);
    assert.match(r.text, /^cb\(/);
    const doc = JSON.parse(r.text.slice(3, -1)) as { slaves: AgentDoc[] };
    assert.deepEqual(Object.keys(doc.slaves[0]?.reserved_resources ?? {}), ["web"]);
  });

  it("/master/state: agents' reservations by role; no cluster or flags without VIEW_FLAGS", async () => {
    const dev = await getJson<{ slaves: AgentDoc[]; cluster?: string; flags?: unknown }>(
      "/master/state",
      "dev",
    );
    const ops = await getJson<{ slaves: AgentDoc[]; cluster?: string; flags?: unknown }>(
      "/master/state",
      "ops",
    );
    assert.deepEqual(Object.keys(dev.slaves[0]?.reserved_resources ?? {}), ["web"]);
    assert.deepEqual(Object.keys(ops.slaves[0]?.reserved_resources ?? {}).sort(), [
      "secret",
      "web",
    ]);
    assert.equal(ops.cluster, "acl-cluster");
    assert.ok(ops.flags !== undefined);
    assert.equal(dev.cluster, undefined);
    assert.equal(dev.flags, undefined);
  });

  it("/master/state-summary: agents' reservations by role", async () => {
    const dev = await getJson<{ slaves: AgentDoc[] }>("/master/state-summary", "dev");
    const ops = await getJson<{ slaves: AgentDoc[] }>("/master/state-summary", "ops");
    assert.deepEqual(Object.keys(dev.slaves[0]?.reserved_resources ?? {}), ["web"]);
    assert.deepEqual(Object.keys(ops.slaves[0]?.reserved_resources ?? {}).sort(), [
      "secret",
      "web",
    ]);
  });

  it("/master/tasks: limit and offset page over the tasks dev may view", async () => {
    type Tasks = { tasks: { id: string }[] };
    const all = await getJson<Tasks>("/master/tasks?order=asc", "ops");
    assert.deepEqual(all.tasks.map((t) => t.id).sort(), ["hidden-1", "hidden-2", "mine"]);
    const first = await getJson<Tasks>("/master/tasks?order=asc&limit=1", "dev");
    assert.deepEqual(
      first.tasks.map((t) => t.id),
      ["mine"],
    );
    const desc = await getJson<Tasks>("/master/tasks?limit=1", "dev");
    assert.deepEqual(
      desc.tasks.map((t) => t.id),
      ["mine"],
    );
    const past = await getJson<Tasks>("/master/tasks?offset=1", "dev");
    assert.deepEqual(past.tasks, []);
  });
});

describe("view acls: v1 operator API", () => {
  it("GET_AGENTS (JSON and protobuf): resources of roles dev may not view are left out", async () => {
    const ops = (await v1Json("ops", "GET_AGENTS")).get_agents?.agents?.[0];
    assert.deepEqual(rolesOf(ops?.total_resources), ["secret", "web"]);
    assert.deepEqual(rolesOf(ops?.agent_info.resources), ["secret", "web"]);
    assert.deepEqual(rolesOf(ops?.allocated_resources), ["secret"]);
    for (const dev of [
      (await v1Json("dev", "GET_AGENTS")).get_agents?.agents?.[0],
      (await v1Protobuf("dev", "GET_AGENTS")).get_agents?.agents?.[0],
    ]) {
      assert.ok(dev !== undefined);
      assert.deepEqual(rolesOf(dev.total_resources), ["web"]);
      assert.deepEqual(rolesOf(dev.agent_info.resources), ["web"]);
      assert.deepEqual(dev.allocated_resources ?? [], []);
      // Unreserved resources stay.
      assert.ok((dev.total_resources ?? []).some((r) => (r.reservations ?? []).length === 0));
    }
  });

  it("GET_STATE (JSON and protobuf): its agents are cut the same way", async () => {
    const ops = (await v1Json("ops", "GET_STATE")).get_state?.get_agents?.agents?.[0];
    assert.deepEqual(rolesOf(ops?.total_resources), ["secret", "web"]);
    for (const state of [
      (await v1Json("dev", "GET_STATE")).get_state,
      (await v1Protobuf("dev", "GET_STATE")).get_state,
    ]) {
      const dev = state?.get_agents?.agents?.[0];
      assert.ok(dev !== undefined);
      assert.deepEqual(rolesOf(dev.total_resources), ["web"]);
      assert.deepEqual(
        (state?.get_tasks?.tasks ?? []).map((t) => t.task_id.value),
        ["mine"],
      );
    }
  });

  it("SUBSCRIBE: SUBSCRIBED's agents, AGENT_ADDED's total resources and TASK_UPDATED by the task's user", async () => {
    const stream = operatorEvents("dev");
    try {
      const subscribed = await waitFor("SUBSCRIBED", () =>
        stream.events.find((e) => e.type === "SUBSCRIBED"),
      );
      const state = (subscribed.event.subscribed as { get_state: Record<string, unknown> })
        .get_state as { get_agents?: { agents?: { total_resources?: unknown[] }[] } };
      assert.deepEqual(rolesOf(state.get_agents?.agents?.[0]?.total_resources), ["web"]);

      const second = await FakeAgent.start(master.address);
      agents.push(second);
      await second.register(AGENT_RESOURCES);
      const added = await waitFor("AGENT_ADDED", () =>
        stream.events.find((e) => e.type === "AGENT_ADDED"),
      );
      const addedAgent = (added.event.agent_added as { agent: { total_resources?: unknown[] } })
        .agent;
      assert.deepEqual(rolesOf(addedAgent.total_resources), ["web"]);

      // A status update of a hidden task, then of dev's own: only the latter reaches dev.
      const update = (taskId: string, n: number) => {
        const uuid = new Uint8Array(16).fill(n);
        agent.send("mesos.internal.StatusUpdateMessage", {
          update: {
            framework_id: { value: frameworkSub.frameworkId },
            slave_id: { value: agent.agentId },
            status: {
              task_id: { value: taskId },
              state: "TASK_RUNNING",
              source: "SOURCE_EXECUTOR",
              uuid,
            },
            timestamp: Date.now() / 1000,
            uuid,
            latest_state: "TASK_RUNNING",
          },
          pid: agent.pid,
        });
      };
      update("hidden-1", 1);
      update("mine", 2);
      const taskOf = (e: { event: Record<string, unknown> }) =>
        (e.event.task_updated as { status?: { task_id?: { value?: string } } } | undefined)?.status
          ?.task_id?.value;
      await waitFor("TASK_UPDATED of mine", () =>
        stream.events.some((e) => e.type === "TASK_UPDATED" && taskOf(e) === "mine"),
      );
      assert.equal(
        stream.events.some((e) => e.type === "TASK_UPDATED" && taskOf(e) === "hidden-1"),
        false,
      );
    } finally {
      stream.close();
    }
  });

  it("SUBSCRIBE: FRAMEWORK_UPDATED leaves out allocated resources of roles dev may not view", async () => {
    const dev = operatorEvents("dev");
    const ops = operatorEvents("ops");
    try {
      for (const s of [dev, ops]) {
        await waitFor("SUBSCRIBED", () => s.events.find((e) => e.type === "SUBSCRIBED"));
      }
      const r = await frameworkSub.call({
        type: "UPDATE_FRAMEWORK",
        update_framework: {
          framework_info: {
            id: { value: frameworkSub.frameworkId },
            user: me,
            name: "secret-fw-renamed",
            role: "secret",
          },
        },
      } as never);
      assert.equal(r.status, 200, r.body);
      const allocated = async (s: typeof dev) => {
        const e = await waitFor("FRAMEWORK_UPDATED", () =>
          s.events.find((x) => x.type === "FRAMEWORK_UPDATED"),
        );
        const updated = e.event.framework_updated as {
          framework: { allocated_resources?: unknown[] };
        };
        return rolesOf(updated.framework.allocated_resources);
      };
      assert.deepEqual(await allocated(ops), ["secret"]);
      assert.deepEqual(await allocated(dev), []);
    } finally {
      dev.close();
      ops.close();
    }
  });
});

describe("view acls: executors by their own user", () => {
  it("/master/state and /master/frameworks hide an executor whose command.user dev may not view", async () => {
    // The framework's user is dev's; the executor runs as someone else.
    // The newest offer still outstanding (the first was taken; none may have been rescinded).
    const offer = await waitFor(
      "an outstanding offer",
      () => {
        const events = frameworkSub.events;
        const rescinded = new Set(events.map((e) => e.rescind?.offer_id.value));
        const offers = events
          .filter((e) => e.type === "OFFERS")
          .slice(1)
          .flatMap((e) => e.offers?.offers ?? []);
        return offers.reverse().find((o) => !rescinded.has(o.id.value));
      },
      { timeoutMs: 30_000 },
    );
    const r = await frameworkSub.call({
      type: "ACCEPT",
      accept: {
        offer_ids: [offer.id],
        operations: [
          {
            type: "LAUNCH",
            launch: {
              task_infos: [
                {
                  name: "exec-task",
                  task_id: { value: "exec-task" },
                  agent_id: offer.agent_id,
                  resources: [{ ...cpus(0.1), allocation_info: { role: "secret" } }],
                  executor: {
                    executor_id: { value: "exec-other" },
                    framework_id: { value: frameworkSub.frameworkId },
                    command: { value: "true", user: "someone-else" },
                  },
                },
              ],
            },
          },
        ],
      },
    } as never);
    assert.equal(r.status, 202, r.body);
    type Doc = { frameworks: { executors: { executor_id: string }[] }[] };
    const executors = (d: Doc) =>
      d.frameworks.flatMap((f) => f.executors.map((e) => e.executor_id));
    await waitFor("the executor in ops' /master/state", async () =>
      executors(await getJson<Doc>("/master/state", "ops")).includes("exec-other")
        ? true
        : undefined,
    );
    for (const path of ["/master/state", "/master/frameworks"]) {
      assert.deepEqual(executors(await getJson<Doc>(path, "ops")), ["exec-other"], path);
      assert.deepEqual(executors(await getJson<Doc>(path, "dev")), [], path);
    }
  });
});
