import assert from "node:assert/strict";
import { test } from "node:test";
import { codecFor } from "../../src/common/protocol/index.js";
import { StateDocuments } from "../../src/master/http/state-documents.js";
import type { StateContext } from "../../src/master/http/state-json.js";
import { getState } from "../../src/master/http/v1-state.js";
import {
  agentUpdate,
  type Fixture,
  frameworkInfo,
  makeMaster,
  registerAgent,
  resources,
  subscribe,
} from "./master-fixture.js";

const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

function context(f: Fixture): StateContext {
  return {
    master: f.master,
    build: { version: "1.12.0", buildDate: "2024-01-01 00:00:00", buildTime: 1, buildUser: "t" },
    pid: "master@127.0.0.1:5050",
    cluster: undefined,
    logDir: undefined,
    externalLogFile: undefined,
    flags: { port: "5050" },
    electedTime: f.clock.now(),
  };
}

/** The codec's GET_STATE JSON with every list present, as GET_STATE writes it. */
function withAllLists(json: string): unknown {
  const lists: Record<string, string[]> = {
    get_tasks: ["tasks", "unreachable_tasks", "completed_tasks"],
    get_executors: ["executors"],
    get_frameworks: ["frameworks", "completed_frameworks"],
    get_agents: ["agents", "recovered_agents"],
  };
  const state = JSON.parse(json) as Record<string, Record<string, unknown>>;
  for (const [section, names] of Object.entries(lists)) {
    const part = state[section] ?? {};
    state[section] = Object.fromEntries(names.map((n) => [n, part[n] ?? []]));
  }
  return state;
}

test("state v1 frameworks: a cached framework fragment follows offers, launches, ended tasks and deactivation", async () => {
  const f = makeMaster();
  const agentId = await registerAgent(f);
  const { stream, frameworkId } = subscribe(f, frameworkInfo({ name: "fw" }));
  const docs = new StateDocuments(context(f), {
    now: () => performance.now(),
    yieldToEventLoop: immediate,
  });
  const codec = codecFor("mesos.v1.master.Response.GetState");
  const check = async (when: string): Promise<void> => {
    docs.version.bump();
    const v1 = JSON.parse(Buffer.concat((await docs.getState()).parts).toString());
    assert.deepEqual(v1, withAllLists(codec.encodeJson(getState(f.master))), when);
  };
  await check("at first");
  f.allocate();
  await check("with an offer");
  const offer = stream.last("OFFERS")?.offers?.offers?.[0];
  const framework = f.master.frameworks.get(frameworkId);
  assert.ok(offer !== undefined && framework !== undefined);
  f.master.accept(framework, {
    offer_ids: [offer.id],
    operations: [
      {
        type: "LAUNCH",
        launch: {
          task_infos: [
            {
              name: "t",
              task_id: { value: "t1" },
              agent_id: { value: agentId },
              resources: resources("cpus:1;mem:32"),
              command: { value: "true" },
            },
          ],
        },
      },
    ],
  });
  await check("after a launch");
  f.master.statusUpdate(agentUpdate(frameworkId, agentId, "t1", "TASK_FINISHED", 1));
  await check("after the task ended");
  framework.active = false;
  await check("after deactivation");
});
