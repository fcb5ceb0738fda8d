/**
 * What an agent with --acls shows two principals in `/state` (Mesos'
 * agent filtering): `ops` may view everything; `dev` only role `web`, no
 * flags, and only its own user's executors and tasks. Two real `sleep`
 * tasks run: `mine` (the framework's user) on cpus reserved to `secret`,
 * `other` as another user (the agent does not switch users here).
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Resource } from "../../src/common/protocol/generated/mesos-v1.js";
import type { Response } from "../../src/common/protocol/generated/mesos-v1-agent.js";
import { codecFor } from "../../src/common/protocol/index.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, stopAll, tempDir, waitLong } from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";

const me = userInfo().username;
const responseCodec = codecFor<Response>("mesos.v1.agent.Response");
const NONE = { type: "NONE" };
const ACLS = {
  permissive: true,
  view_roles: [
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
const OTHER_USER = me === "nobody" ? "daemon" : "nobody";

const auth = (principal: string): Record<string, string> => ({
  Authorization: `Basic ${Buffer.from(`${principal}:${principal}-secret`).toString("base64")}`,
});

let agent: DaemonHandle;
let framework: Subscription;

type Json = Record<string, unknown>;
type StateDoc = Json & {
  flags?: unknown;
  log_dir?: string;
  reserved_resources?: Json;
  reserved_resources_full?: Json;
  reserved_resources_allocated?: Json;
  frameworks: {
    executors: { id: string; tasks: { id: string }[] }[];
  }[];
};

function scalar(name: string, value: number, reservedTo?: string): Resource {
  return {
    name,
    type: "SCALAR",
    scalar: { value },
    ...(reservedTo === undefined ? {} : { reservations: [{ type: "STATIC", role: reservedTo }] }),
    allocation_info: { role: "secret" },
  } as Resource;
}

before(async () => {
  const credentials = join(tempDir(), "http-credentials");
  writeFileSync(credentials, "ops ops-secret\ndev dev-secret\n");
  let master: DaemonHandle;
  ({ master, agent } = await startOneAgentCluster(
    {
      resources: "cpus(web):1;cpus(secret):1;cpus:2;mem:1024;disk:1024;ports:[31000-32000]",
      http_credentials: credentials,
      authenticate_http_readonly: true,
      authenticate_http_readwrite: true,
      acls: JSON.stringify(ACLS),
      switch_user: false,
      log_dir: tempDir("agent-log-"),
    },
    { masterFlags: { allocation_interval: "50ms" } },
  ));
  framework = await subscribe(master.url, subscribeCall("view-acls", { role: "secret" }));
  const offer = (await framework.nth("OFFERS")).offers?.offers?.[0];
  assert.ok(offer !== undefined);
  const task = (id: string, resources: Resource[], user?: string) => ({
    name: id,
    task_id: { value: id },
    agent_id: offer.agent_id,
    resources,
    command: { value: "sleep 300", ...(user === undefined ? {} : { user }) },
  });
  const r = await framework.call({
    type: "ACCEPT",
    accept: {
      offer_ids: [offer.id],
      operations: [
        {
          type: "LAUNCH",
          launch: {
            task_infos: [
              task("mine", [scalar("cpus", 0.5, "secret"), scalar("mem", 32)]),
              task("other", [scalar("cpus", 0.1), scalar("mem", 32)], OTHER_USER),
            ],
          },
        },
      ],
    },
  } as never);
  assert.equal(r.status, 202, r.body);
  await waitLong("both tasks running on the agent", async () => {
    const res = await fetch(`${agent.url}/state`, { headers: auth("ops") });
    const state = (await res.json()) as StateDoc;
    const running = state.frameworks
      .flatMap((f) => f.executors)
      .flatMap((e) => e.tasks as unknown as { id: string; state: string }[])
      .filter((t) => t.state === "TASK_RUNNING");
    return running.length === 2 ? true : undefined;
  });
});

after(async () => {
  framework?.close();
  await stopAll();
});

async function stateAs(principal: string, path = "/state"): Promise<StateDoc> {
  const res = await fetch(`${agent.url}${path}`, { headers: auth(principal) });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  const open = text.indexOf("(");
  return JSON.parse(text.startsWith("{") ? text : text.slice(open + 1, -1)) as StateDoc;
}

function taskIds(state: StateDoc): string[] {
  return state.frameworks
    .flatMap((f) => f.executors)
    .flatMap((e) => e.tasks.map((t) => t.id))
    .sort();
}

describe("view acls: the agent's /state", () => {
  it("ops sees every executor, task, reservation and the flags", async () => {
    const ops = await stateAs("ops");
    assert.deepEqual(taskIds(ops), ["mine", "other"]);
    assert.deepEqual(Object.keys(ops.reserved_resources ?? {}).sort(), ["secret", "web"]);
    assert.deepEqual(Object.keys(ops.reserved_resources_full ?? {}).sort(), ["secret", "web"]);
    assert.deepEqual(Object.keys(ops.reserved_resources_allocated ?? {}), ["secret"]);
    assert.ok(ops.flags !== undefined);
    assert.ok(ops.log_dir !== undefined);
  });

  for (const path of ["/state", "/state.json", "/slave(1)/state?jsonp=cb"]) {
    it(`dev (${path}): only its user's executors and tasks, roles it may view, no flags`, async () => {
      const dev = await stateAs("dev", path);
      assert.deepEqual(taskIds(dev), ["mine"]);
      assert.equal(dev.frameworks[0]?.executors.length, 1);
      assert.deepEqual(Object.keys(dev.reserved_resources ?? {}), ["web"]);
      assert.deepEqual(Object.keys(dev.reserved_resources_full ?? {}), ["web"]);
      assert.deepEqual(dev.reserved_resources_allocated, {});
      assert.equal(dev.flags, undefined);
      assert.equal(dev.log_dir, undefined);
    });
  }

  it("dev's v1 GET_TASKS and GET_EXECUTORS show only its user's", async () => {
    for (const type of ["GET_TASKS", "GET_EXECUTORS"]) {
      const res = await fetch(`${agent.url}/api/v1`, {
        method: "POST",
        headers: { ...auth("dev"), "Content-Type": "application/json" },
        body: JSON.stringify({ type }),
      });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      const decoded = responseCodec.decodeJson(Buffer.from(text));
      assert.ok(decoded.ok);
      const tasks = decoded.value.get_tasks?.launched_tasks?.map((t) => t.task_id.value);
      if (type === "GET_TASKS") assert.deepEqual(tasks, ["mine"]);
      else assert.equal(decoded.value.get_executors?.executors?.length, 1);
    }
  });
});
