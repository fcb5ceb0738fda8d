import assert from "node:assert/strict";
import { test } from "node:test";
import type { ResponseStream, StreamCloseReason } from "../../src/common/http/response.js";
import type { Task, TaskInfo } from "../../src/common/protocol/generated/mesos-v1.js";
import type { Event } from "../../src/common/protocol/generated/mesos-v1-master.js";
import { codecFor } from "../../src/common/protocol/index.js";
import { RecordIoDecoder } from "../../src/common/recordio/index.js";
import { OperatorEvents } from "../../src/master/http/operator-events.js";
import { DocumentCache, Slicer, StateVersion } from "../../src/master/http/state-cache.js";
import { StateDocuments, v1TaskJson } from "../../src/master/http/state-documents.js";
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

const context = (f: Fixture): StateContext => stateContext(f, { cluster: "c" });

function taskInfo(id: string, agentId: string): TaskInfo {
  return {
    name: `task ${id}`,
    task_id: { value: id },
    agent_id: { value: agentId },
    resources: resources("cpus:0.5;mem:64"),
    command: { value: "sleep 1" },
    labels: { labels: [{ key: "k", value: "v" }] },
  };
}

/** A master with one agent, one framework, running and finished tasks. */
async function cluster(): Promise<{ f: Fixture; frameworkId: string; agentId: string }> {
  const f = makeMaster({ maxCompletedTasksPerFramework: 10 });
  const agentId = await registerAgent(f);
  const { stream, frameworkId } = subscribe(
    f,
    frameworkInfo({ labels: { labels: [{ key: "a" }] } }),
  );
  f.allocate();
  const offer = stream.last("OFFERS")?.offers?.offers?.[0];
  const framework = f.master.frameworks.get(frameworkId);
  assert.ok(offer !== undefined && framework !== undefined);
  f.master.accept(framework, {
    offer_ids: [offer.id],
    operations: [
      {
        type: "LAUNCH",
        launch: { task_infos: [taskInfo("t1", agentId), taskInfo("t2", agentId)] },
      },
    ],
  });
  f.master.statusUpdate(agentUpdate(frameworkId, agentId, "t1", "TASK_RUNNING", 1));
  f.master.statusUpdate(agentUpdate(frameworkId, agentId, "t2", "TASK_FINISHED", 2));
  return { f, frameworkId, agentId };
}

test("master operator: the fast v1 task JSON equals the codec's", async () => {
  const { f } = await cluster();
  const tasks: Task[] = [...(f.master.frameworks.values().next().value?.tasks.values() ?? [])];
  assert.ok(tasks.length === 2);
  const codec = codecFor("mesos.v1.Task");
  for (const task of tasks) {
    assert.ok((task.statuses?.length ?? 0) > 0);
    assert.deepEqual(JSON.parse(v1TaskJson(task)), JSON.parse(codec.encodeJson(task)));
  }
  const bare: Task = {
    name: "x",
    task_id: { value: "x" },
    framework_id: { value: "f" },
    agent_id: { value: "a" },
    state: "TASK_STAGING",
    statuses: [],
    status_update_uuid: new Uint8Array([1, 2, 3]),
  };
  assert.deepEqual(JSON.parse(v1TaskJson(bare)), JSON.parse(codec.encodeJson(bare)));
});

test("master operator: the sliced /master/state document equals the plain one", async () => {
  const { f } = await cluster();
  const ctx = context(f);
  const docs = new StateDocuments(ctx, {
    now: () => performance.now(),
    yieldToEventLoop: immediate,
    sliceMs: 0,
  });
  const doc = await docs.state();
  assert.deepEqual(
    JSON.parse(Buffer.concat(doc.parts).toString()),
    JSON.parse(JSON.stringify(stateJson(ctx))),
  );
});

test("master operator: the sliced GET_STATE document equals the codec's encoding", async () => {
  const { f } = await cluster();
  const docs = new StateDocuments(context(f), {
    now: () => performance.now(),
    yieldToEventLoop: immediate,
    sliceMs: 0,
  });
  const doc = await docs.getState();
  const codec = codecFor("mesos.v1.master.Response.GetState");
  assert.deepEqual(
    JSON.parse(Buffer.concat(doc.parts).toString()),
    withAllLists(codec.encodeJson(getState(f.master))),
  );
});

test("master operator: documents are reused until the version changes; task fragments follow updates", async () => {
  const { f, frameworkId, agentId } = await cluster();
  const docs = new StateDocuments(context(f), {
    now: () => performance.now(),
    yieldToEventLoop: immediate,
  });
  const first = await docs.state();
  assert.equal(await docs.state(), first, "same version: the same document");
  assert.equal(docs.cache.hits, 1);
  f.master.statusUpdate(agentUpdate(frameworkId, agentId, "t1", "TASK_FAILED", 3));
  assert.equal(await docs.state(), first, "no bump: still cached (the edges bump)");
  docs.version.bump();
  const second = await docs.state();
  assert.notEqual(second, first);
  const state = JSON.parse(Buffer.concat(second.parts).toString()) as {
    frameworks: { tasks: { id: string; state: string }[] }[];
  };
  const t1 = state.frameworks[0]?.tasks.find((t) => t.id === "t1");
  assert.equal(t1?.state, "TASK_FAILED", "the changed task was rendered again");
});

test("master operator: identical concurrent reads share one build", async () => {
  const version = new StateVersion();
  const cache = new DocumentCache(version, () => new Slicer(() => performance.now(), immediate));
  let builds = 0;
  const build = async (): Promise<Buffer[]> => {
    builds++;
    await immediate();
    return [Buffer.from(`{"n":${builds}}`)];
  };
  const [a, b] = await Promise.all([cache.get("x", build), cache.get("x", build)]);
  assert.equal(builds, 1);
  assert.equal(a, b);
  assert.equal(cache.joined, 1);
  version.bump();
  const c = cache.get("x", build);
  version.bump();
  const d = cache.get("x", build);
  const e = cache.get("x", build);
  const [, dd, ee] = await Promise.all([c, d, e]);
  assert.equal(builds, 3, "a read after a change waits for the next build; later ones share it");
  assert.equal(dd, ee);
  assert.equal(dd.version, version.value);
});

test("master operator: a build yields to the event loop between slices", async () => {
  let now = 0;
  const slicer = new Slicer(() => now, immediate, 5);
  let yielded = 0;
  const tick = setInterval(() => {
    yielded++;
  }, 0);
  for (let i = 0; i < 10; i++) {
    now += 3;
    await slicer.maybePause();
  }
  clearInterval(tick);
  assert.ok(slicer.longestMs <= 6, `longest ${slicer.longestMs}`);
  assert.ok(yielded >= 0);
});

/** A ResponseStream that keeps what is written. */
function recordingStream(
  buffered = () => 0,
): ResponseStream & { chunks: Buffer[]; aborted: boolean } {
  const closers: ((r: StreamCloseReason) => void)[] = [];
  let closed = false;
  const s = {
    chunks: [] as Buffer[],
    aborted: false,
    write(chunk: string | Uint8Array) {
      s.chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk));
      return true;
    },
    end() {
      if (closed) return;
      closed = true;
      for (const c of closers) c("ended");
    },
    abort() {
      s.aborted = true;
      s.end();
    },
    onClose(cb: (r: StreamCloseReason) => void) {
      closers.push(cb);
    },
    onDrain() {},
    get closed() {
      return closed;
    },
    remote: "test",
    get bufferedBytes() {
      return buffered();
    },
  };
  return s;
}

function decodeEvents(chunks: Buffer[]): Event[] {
  const decoder = new RecordIoDecoder();
  const codec = codecFor("mesos.v1.master.Event");
  const out: Event[] = [];
  for (const record of decoder.decode(Buffer.concat(chunks))) {
    const e = codec.decodeJson(record);
    if (e.ok) out.push(e.value);
  }
  return out;
}

test("master operator: the event stream starts with SUBSCRIBED, then task and agent events, heartbeats", async () => {
  const f = makeMaster();
  const docs = new StateDocuments(context(f), {
    now: () => performance.now(),
    yieldToEventLoop: immediate,
  });
  const events = new OperatorEvents({
    master: f.master,
    documents: docs,
    clock: f.clock,
    logger: f.master.logger,
    maxSubscribers: 2,
  });
  const response = events.subscribe("json");
  const stream = recordingStream();
  response.start(stream);
  const agentId = await registerAgent(f);
  await immediate();
  const { frameworkId } = subscribe(f);
  f.clock.advance(15_000);
  const got = decodeEvents(stream.chunks).map((e) => e.type);
  assert.deepEqual(got, ["SUBSCRIBED", "AGENT_ADDED", "FRAMEWORK_ADDED", "HEARTBEAT"]);
  assert.ok(agentId !== "" && frameworkId !== "");
  // The oldest stream is closed once more than --max_operator_event_stream_subscribers subscribe.
  const s2 = recordingStream();
  const s3 = recordingStream();
  events.subscribe("json").start(s2);
  events.subscribe("json").start(s3);
  assert.equal(stream.closed, true);
  assert.equal(stream.aborted, false, "closed cleanly");
  assert.equal(events.count, 2);
});

test("master operator: a subscriber whose unread output passes the bound is dropped, others keep going", async () => {
  const f = makeMaster();
  const docs = new StateDocuments(context(f), {
    now: () => performance.now(),
    yieldToEventLoop: immediate,
  });
  const events = new OperatorEvents({
    master: f.master,
    documents: docs,
    clock: f.clock,
    logger: f.master.logger,
    maxSubscribers: 10,
    maxBufferedBytes: 1000,
  });
  let slowBuffered = 0;
  const slow = recordingStream(() => slowBuffered);
  const fast = recordingStream();
  events.subscribe("json").start(slow);
  events.subscribe("json").start(fast);
  await immediate();
  await immediate();
  const snapshot = slow.chunks.reduce((n, c) => n + c.byteLength, 0);
  slowBuffered = snapshot + 2000;
  for (let i = 0; i < 5; i++) subscribe(f, frameworkInfo({ name: `fw${i}` }));
  assert.equal(slow.aborted, true);
  assert.equal(events.dropped, 1);
  assert.equal(decodeEvents(fast.chunks).filter((e) => e.type === "FRAMEWORK_ADDED").length, 5);
});
