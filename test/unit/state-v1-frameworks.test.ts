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
import { immediate, stateContext, withAllLists } from "./state-fixture.js";

const context = (f: Fixture): StateContext => stateContext(f);

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
