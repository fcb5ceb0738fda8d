import assert from "node:assert/strict";
import { test } from "node:test";
import type { Task, TaskInfo } from "../../src/common/protocol/generated/mesos-v1.js";
import { codecFor } from "../../src/common/protocol/index.js";
import {
  FragmentCache,
  ItemRuns,
  PartsWriter,
  RunCache,
  SignatureCache,
  Slicer,
} from "../../src/master/http/state-cache.js";
import { StateDocuments } from "../../src/master/http/state-documents.js";
import { type StateContext, stateJson } from "../../src/master/http/state-json.js";
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

const slicer = () => new Slicer(() => performance.now(), immediate, 1_000);

interface Item {
  id: number;
  text: string;
}

async function render(runs: RunCache<Item>, items: Item[]): Promise<string> {
  const out = new PartsWriter(64);
  await runs.array(out, items, slicer());
  return Buffer.concat(out.finish()).toString();
}

test("state runs: an array of runs is the JSON array of the items", async () => {
  const fragments = new FragmentCache<Item>((i) => JSON.stringify(i));
  const runs = new RunCache(fragments, (i: Item) => String(i.id), 3);
  for (const n of [0, 1, 2, 7, 8, 100, 1000]) {
    const items = Array.from({ length: n }, (_, id) => ({ id, text: `é${id}` }));
    assert.deepEqual(JSON.parse(await render(runs, items)), items, `${n} items`);
  }
});

test("state runs: unchanged runs are reused; a changed item, an evicted head or an appended tail re-joins only its run", async () => {
  const fragments = new FragmentCache<Item>((i) => JSON.stringify(i));
  const runs = new RunCache(fragments, (i: Item) => String(i.id), 3);
  const items = Array.from({ length: 400 }, (_, id) => ({ id, text: "x" }));
  await render(runs, items);
  const total = runs.joined;
  assert.ok(total > 10, `400 items make many runs (${total})`);

  runs.joined = 0;
  runs.reused = 0;
  assert.deepEqual(JSON.parse(await render(runs, items)), items);
  assert.equal(runs.joined, 0, "nothing changed: every run reused");

  const changed = items[200] as Item;
  changed.text = "changed";
  fragments.invalidate(changed);
  assert.deepEqual(JSON.parse(await render(runs, items)), items);
  assert.equal(runs.joined, 1, "one changed item: one run joined again");

  runs.joined = 0;
  const shifted = items.slice(1);
  shifted.push({ id: 400, text: "new" });
  assert.deepEqual(JSON.parse(await render(runs, shifted)), shifted);
  assert.ok(runs.joined <= 2, `eviction and append touch the first and last runs (${runs.joined})`);
});

test("state runs: item runs render each item once, reuse unchanged runs, and re-render only a changed item", async () => {
  const runs = new ItemRuns<Item>(
    (i) => JSON.stringify(i),
    (i) => String(i.id),
    3,
  );
  const items = Array.from({ length: 400 }, (_, id) => ({ id, text: `é${id}` }));
  const draw = async (list: Item[]): Promise<unknown> => {
    const out = new PartsWriter(64);
    await runs.array(out, list, slicer());
    return JSON.parse(Buffer.concat(out.finish()).toString());
  };
  assert.deepEqual(await draw([]), []);
  assert.deepEqual(await draw(items), items);
  assert.equal(runs.rendered, 400);
  assert.ok(runs.joined > 10, `400 items make many runs (${runs.joined})`);

  runs.joined = 0;
  runs.rendered = 0;
  assert.deepEqual(await draw(items), items);
  assert.equal(runs.joined, 0, "nothing changed: every run reused");

  const changed = items[200] as Item;
  changed.text = "changed";
  runs.invalidate(changed);
  assert.deepEqual(await draw(items), items);
  assert.equal(runs.joined, 1, "one changed item: one run joined again");
  assert.equal(runs.rendered, 1, "only the changed item is rendered; its neighbours are copied");

  runs.joined = 0;
  runs.rendered = 0;
  const shifted = items.slice(1);
  shifted.push({ id: 400, text: "new" });
  assert.deepEqual(await draw(shifted), shifted);
  assert.ok(runs.joined <= 2, `eviction and append touch the first and last runs (${runs.joined})`);
  assert.equal(runs.rendered, 1, "only the new item is rendered");
  const reordered = [...shifted].reverse();
  assert.deepEqual(await draw(reordered), reordered, "items moved between runs keep their bytes");
  assert.equal(runs.rendered, 1);
});

test("state runs: a signature cache renders again only when an input is a different object", () => {
  const cache = new SignatureCache<object>();
  const key = {};
  const a = [1];
  let renders = 0;
  const get = (sig: unknown[]) =>
    cache
      .get(key, sig, () => {
        renders++;
        return `{"n":${renders}}`;
      })
      .toString();
  assert.equal(get([a, true]), '{"n":1}');
  assert.equal(get([a, true]), '{"n":1}');
  assert.equal(get([[1], true]), '{"n":2}', "an equal but new list is a change");
  assert.equal(get([[1], true, 3]), '{"n":3}');
});

const context = (f: Fixture): StateContext => stateContext(f);

function taskInfo(id: string, agentId: string): TaskInfo {
  return {
    name: `task ${id}`,
    task_id: { value: id },
    agent_id: { value: agentId },
    resources: resources("cpus:0.01;mem:1"),
    command: { value: "true" },
  };
}

/** A master with `n` tasks (every third finished), enough for many runs. */
async function bigCluster(
  n: number,
): Promise<{ f: Fixture; frameworkId: string; agentId: string }> {
  const f = makeMaster({ maxCompletedTasksPerFramework: n });
  const agentId = await registerAgent(f);
  const { stream, frameworkId } = subscribe(f, frameworkInfo());
  f.allocate();
  const offer = stream.last("OFFERS")?.offers?.offers?.[0];
  const framework = f.master.frameworks.get(frameworkId);
  assert.ok(offer !== undefined && framework !== undefined);
  const infos = Array.from({ length: n }, (_, i) => taskInfo(`t${i}`, agentId));
  f.master.accept(framework, {
    offer_ids: [offer.id],
    operations: [{ type: "LAUNCH", launch: { task_infos: infos } }],
  });
  for (let i = 0; i < n; i++) {
    const state = i % 3 === 0 ? "TASK_FINISHED" : "TASK_RUNNING";
    f.master.statusUpdate(agentUpdate(frameworkId, agentId, `t${i}`, state, (i % 250) + 1));
  }
  return { f, frameworkId, agentId };
}

test("state runs: /master/state and GET_STATE stay equal to the plain renderings across changes", async () => {
  const { f, frameworkId, agentId } = await bigCluster(300);
  const ctx = context(f);
  const docs = new StateDocuments(ctx, {
    now: () => performance.now(),
    yieldToEventLoop: immediate,
    sliceMs: 0,
  });
  const codec = codecFor("mesos.v1.master.Response.GetState");
  const check = async (when: string): Promise<void> => {
    docs.version.bump();
    const v0 = JSON.parse(Buffer.concat((await docs.state()).parts).toString());
    assert.deepEqual(v0, JSON.parse(JSON.stringify(stateJson(ctx))), `/master/state ${when}`);
    const v1 = JSON.parse(Buffer.concat((await docs.getState()).parts).toString());
    assert.deepEqual(v1, withAllLists(codec.encodeJson(getState(f.master))), `GET_STATE ${when}`);
  };
  await check("at first");
  await check("unchanged");
  f.master.statusUpdate(agentUpdate(frameworkId, agentId, "t1", "TASK_FAILED", 251));
  f.master.statusUpdate(agentUpdate(frameworkId, agentId, "t5", "TASK_KILLED", 252));
  await check("after tasks ended");
  const agent = f.master.agents.get(agentId);
  assert.ok(agent !== undefined);
  agent.active = false;
  await check("after the agent changed");
});

test("state runs: GET_STATE JSON decodes with the protobuf codec and survives a protobuf round trip", async () => {
  const { f } = await bigCluster(120);
  const docs = new StateDocuments(context(f), {
    now: () => performance.now(),
    yieldToEventLoop: immediate,
  });
  const response = `{"type":"GET_STATE","get_state":${Buffer.concat((await docs.getState()).parts).toString()}}`;
  const codec = codecFor("mesos.v1.master.Response");
  const fromJson = codec.decodeJson(response);
  assert.ok(fromJson.ok, fromJson.ok ? "" : String(fromJson.error));
  // JSON -> message -> protobuf bytes -> message equals what the master's own message encodes to.
  const direct = codec.decodeProtobuf(
    codec.encodeProtobuf({ type: "GET_STATE", get_state: getState(f.master) }),
  );
  const roundTrip = codec.decodeProtobuf(codec.encodeProtobuf(fromJson.value));
  assert.ok(direct.ok && roundTrip.ok);
  // The JSON shows Mesos' proto defaults of unset fields, which decode as set.
  assert.deepEqual(roundTrip.value, codec.withJsonDefaults(direct.value));
  const got = fromJson.value.get_state?.get_tasks;
  const tasks = (got?.tasks ?? []) as Task[];
  assert.equal(tasks.length + (got?.completed_tasks?.length ?? 0), 120);
  const first = tasks.find((t) => t.task_id.value === "t1");
  assert.equal(first?.state, "TASK_RUNNING");
  assert.equal(first?.statuses?.[0]?.source, "SOURCE_EXECUTOR", "enums by name");
  assert.deepEqual(first?.resources?.[0]?.allocation_info, { role: "*" });
  assert.equal(first?.resources?.[0]?.type, "SCALAR");
});

test("state runs: agents in runs follow a change of one agent among many", async () => {
  const f = makeMaster();
  const ids: string[] = [];
  for (let i = 0; i < 120; i++) {
    ids.push(await registerAgent(f, "cpus:2;mem:512", `slave(1)@10.0.0.${i}:5051`, `host-${i}`));
  }
  const ctx = context(f);
  const docs = new StateDocuments(ctx, {
    now: () => performance.now(),
    yieldToEventLoop: immediate,
    sliceMs: 0,
  });
  const codec = codecFor("mesos.v1.master.Response.GetState");
  const check = async (when: string): Promise<void> => {
    docs.version.bump();
    const v0 = JSON.parse(Buffer.concat((await docs.state()).parts).toString());
    assert.deepEqual(v0, JSON.parse(JSON.stringify(stateJson(ctx))), `/master/state ${when}`);
    const v1 = JSON.parse(Buffer.concat((await docs.getState()).parts).toString());
    assert.deepEqual(v1, withAllLists(codec.encodeJson(getState(f.master))), `GET_STATE ${when}`);
  };
  await check("at first");
  const agent = f.master.agents.get(ids[77] as string);
  assert.ok(agent !== undefined);
  agent.active = false;
  agent.pid = "slave(1)@10.9.9.9:5051";
  await check("after one agent changed");
  f.master.deactivatedAgents.add(ids[3] as string);
  await check("after another was deactivated");
});
