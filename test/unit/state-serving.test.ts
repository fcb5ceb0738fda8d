import assert from "node:assert/strict";
import { test } from "node:test";
import type { ResponseStream, StreamCloseReason } from "../../src/common/http/response.js";
import type { TaskInfo } from "../../src/common/protocol/generated/mesos-v1.js";
import { codecFor } from "../../src/common/protocol/index.js";
import { MAX_UNSENT_BYTES, TurnGate, writeParts } from "../../src/master/http/state-cache.js";
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

test("state serving: the turn gate lets one waiter run per event-loop iteration, in order", async () => {
  const gate = new TurnGate(immediate);
  const order: string[] = [];
  let iteration = 0;
  const ticker = async (): Promise<void> => {
    for (let i = 0; i < 12; i++) {
      await immediate();
      iteration++;
    }
  };
  const seen: number[] = [];
  const worker = async (name: string): Promise<void> => {
    for (let i = 0; i < 3; i++) {
      await gate.turn();
      order.push(name);
      seen.push(iteration);
    }
  };
  await Promise.all([ticker(), worker("a"), worker("b")]);
  assert.deepEqual(order, ["a", "b", "a", "b", "a", "b"]);
  for (let i = 1; i < seen.length; i++) {
    assert.ok(
      (seen[i] as number) > (seen[i - 1] as number),
      `turns in distinct iterations: ${seen}`,
    );
  }
  assert.equal(gate.turns, 6);
});

/** A stream whose unsent bytes grow with writes until `drain()` is called. */
function slowStream(): ResponseStream & {
  data: Buffer[];
  unsent: number;
  drain(): void;
  abort(): void;
} {
  const drains: (() => void)[] = [];
  const closers: ((r: StreamCloseReason) => void)[] = [];
  let closed = false;
  const s = {
    data: [] as Buffer[],
    unsent: 0,
    write(chunk: string | Uint8Array) {
      const b = typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk);
      s.data.push(b);
      s.unsent += b.byteLength;
      return s.unsent < 16 * 1024;
    },
    end() {
      if (closed) return;
      closed = true;
      for (const c of closers) c("ended");
    },
    abort() {
      closed = true;
      for (const c of closers) c("disconnected");
    },
    onClose(cb: (r: StreamCloseReason) => void) {
      closers.push(cb);
    },
    onDrain(cb: () => void) {
      drains.push(cb);
    },
    drain() {
      s.unsent = 0;
      for (const d of drains) d();
    },
    get closed() {
      return closed;
    },
    remote: "test",
    get bufferedBytes() {
      return s.unsent;
    },
  };
  return s;
}

test("state serving: a document is written whole, in order, and the response ended", async () => {
  const stream = slowStream();
  const parts = ["[", ...Array.from({ length: 50 }, (_, i) => `${i},`), "50]"];
  const gate = new TurnGate(immediate);
  const writing = writeParts(stream, parts, gate, () => 0, 5);
  // Unsent bytes stay small here; the writer never needs a drain.
  await writing;
  assert.equal(stream.closed, true);
  assert.deepEqual(
    JSON.parse(Buffer.concat(stream.data).toString()),
    Array.from({ length: 51 }, (_, i) => i),
  );
});

test("state serving: a whole document is queued without waiting for drains (its parts are cached buffers)", async () => {
  const stream = slowStream();
  const part = Buffer.alloc(MAX_UNSENT_BYTES / 4, 0x20);
  const parts = Array.from({ length: 12 }, () => part);
  const gate = new TurnGate(immediate);
  await writeParts(stream, parts, gate, () => 0, 1_000);
  assert.equal(stream.data.length, 12, "every part handed to the socket, none drained");
  assert.equal(stream.unsent, 12 * part.byteLength);
  assert.equal(stream.closed, true);
});

test("state serving: an open stream's snapshot waits for a drain once too much is unsent, then goes on", async () => {
  const stream = slowStream();
  const part = Buffer.alloc(MAX_UNSENT_BYTES / 4, 0x20);
  const parts = Array.from({ length: 12 }, () => part);
  const gate = new TurnGate(immediate);
  const writing = writeParts(stream, parts, gate, () => 0, 1_000, false);
  for (let i = 0; i < 5; i++) await immediate();
  assert.equal(stream.data.length, 4, "stops at the unsent bound");
  stream.drain();
  for (let i = 0; i < 5; i++) await immediate();
  assert.equal(stream.data.length, 8, "one more bound's worth after the drain");
  stream.drain();
  for (let i = 0; i < 5; i++) await immediate();
  stream.drain();
  await writing;
  assert.equal(stream.data.length, 12);
  assert.equal(stream.closed, false, "left open for the events that follow");
});

test("state serving: the writer stops when the client goes away", async () => {
  const stream = slowStream();
  const part = Buffer.alloc(MAX_UNSENT_BYTES, 0x20);
  const gate = new TurnGate(immediate);
  const writing = writeParts(stream, [part, part, part], gate, () => 0, 1_000, false);
  await immediate();
  stream.abort();
  await writing;
  assert.equal(stream.data.length, 1);
});

test("state serving: a whole document's writer stops between turns when the client goes away", async () => {
  const stream = slowStream();
  const part = Buffer.alloc(1024, 0x20);
  const gate = new TurnGate(immediate);
  let now = 0;
  // Each call moves the clock past the 1 ms slice: one part per turn.
  const writing = writeParts(stream, [part, part, part, part], gate, () => (now += 2), 1);
  assert.equal(stream.data.length, 1);
  stream.abort();
  await writing;
  assert.equal(stream.data.length, 1);
});

test("state serving: a turn writes for at most its slice, then yields to other work", async () => {
  const stream = slowStream();
  let now = 0;
  const parts = Array.from({ length: 10 }, () => "x");
  const gate = new TurnGate(immediate);
  const clock = () => {
    now += 1;
    return now;
  };
  const writing = writeParts(stream, parts, gate, clock, 3);
  assert.ok(stream.data.length < 10, `first turn wrote ${stream.data.length} of 10`);
  await writing;
  assert.equal(stream.data.length, 10);
});

const context = (f: Fixture): StateContext => stateContext(f, { flags: {} });

/** A master with one agent and a framework running three tasks, one of them finished. */
async function cluster(): Promise<{ f: Fixture; frameworkId: string; agentId: string }> {
  const f = makeMaster({ maxCompletedTasksPerFramework: 10 });
  const agentId = await registerAgent(f);
  const { stream, frameworkId } = subscribe(f, frameworkInfo());
  f.allocate();
  const offer = stream.last("OFFERS")?.offers?.offers?.[0];
  const framework = f.master.frameworks.get(frameworkId);
  assert.ok(offer !== undefined && framework !== undefined);
  const task = (id: string): TaskInfo => ({
    name: `task ${id}`,
    task_id: { value: id },
    agent_id: { value: agentId },
    resources: resources("cpus:0.1;mem:32"),
    command: { value: "sleep 1" },
  });
  f.master.accept(framework, {
    offer_ids: [offer.id],
    operations: [{ type: "LAUNCH", launch: { task_infos: [task("t1"), task("t2"), task("t3")] } }],
  });
  f.master.statusUpdate(agentUpdate(frameworkId, agentId, "t1", "TASK_RUNNING", 1));
  f.master.statusUpdate(agentUpdate(frameworkId, agentId, "t2", "TASK_FINISHED", 2));
  return { f, frameworkId, agentId };
}

const responseCodec = codecFor("mesos.v1.master.Response");

function decoded(bytes: Uint8Array): unknown {
  const r = responseCodec.decodeProtobuf(bytes);
  assert.ok(r.ok, "decodes as a Response");
  return r.value;
}

test("state serving: the sliced protobuf GET_STATE decodes to the codec's message, and follows task updates", async () => {
  const { f, frameworkId, agentId } = await cluster();
  const docs = new StateDocuments(context(f), {
    now: () => performance.now(),
    yieldToEventLoop: immediate,
    sliceMs: 0,
  });
  const expected = (): unknown =>
    decoded(responseCodec.encodeProtobuf({ type: "GET_STATE", get_state: getState(f.master) }));
  const first = await docs.getStateProtobuf();
  assert.deepEqual(decoded(Buffer.concat(first.parts)), expected());
  f.master.statusUpdate(agentUpdate(frameworkId, agentId, "t1", "TASK_FAILED", 3));
  docs.version.bump();
  const second = await docs.getStateProtobuf();
  type Listed = { task_id: { value: string }; state: string }[];
  const value = decoded(Buffer.concat(second.parts)) as {
    get_state?: { get_tasks?: { tasks?: Listed; completed_tasks?: Listed } };
  };
  assert.deepEqual(value, expected());
  const listed = value.get_state?.get_tasks;
  const t1 = [...(listed?.tasks ?? []), ...(listed?.completed_tasks ?? [])].find(
    (t) => t.task_id.value === "t1",
  );
  assert.equal(t1?.state, "TASK_FAILED");
  const message = await docs.getStateProtobufMessage();
  const alone = codecFor("mesos.v1.master.Response.GetState").decodeProtobuf(
    Buffer.concat(message.parts),
  );
  assert.ok(alone.ok);
  assert.equal(message.bytes, Buffer.concat(message.parts).byteLength);
  assert.deepEqual(alone.value, (expected() as { get_state: unknown }).get_state);
});

test("state serving: GET_STATE JSON lists every framework's tasks in one array, as the codec does", async () => {
  const f = makeMaster({ maxCompletedTasksPerFramework: 10 });
  let launched = 0;
  for (let i = 0; i < 3; i++) {
    // A new agent and a new framework: the allocator offers the agent to
    // the framework with the smallest share, the new one.
    const agentId = await registerAgent(f);
    const { stream, frameworkId } = subscribe(f, frameworkInfo({ name: `fw${i}` }));
    f.allocate();
    const offer = stream.last("OFFERS")?.offers?.offers?.find((o) => o.agent_id.value === agentId);
    const framework = f.master.frameworks.get(frameworkId);
    if (offer === undefined || framework === undefined) continue;
    const task = (id: string): TaskInfo => ({
      name: `task ${id}`,
      task_id: { value: id },
      agent_id: { value: agentId },
      resources: resources("cpus:0.1;mem:32"),
      command: { value: "sleep 1" },
    });
    f.master.accept(framework, {
      offer_ids: [offer.id],
      operations: [{ type: "LAUNCH", launch: { task_infos: [task(`a${i}`), task(`b${i}`)] } }],
    });
    f.master.statusUpdate(agentUpdate(frameworkId, agentId, `a${i}`, "TASK_RUNNING", 1));
    f.master.statusUpdate(agentUpdate(frameworkId, agentId, `b${i}`, "TASK_FINISHED", 2));
    launched++;
  }
  assert.ok(launched >= 2, `tasks of at least two frameworks (got ${launched})`);
  const docs = new StateDocuments(context(f), {
    now: () => performance.now(),
    yieldToEventLoop: immediate,
    sliceMs: 0,
  });
  const codec = codecFor("mesos.v1.master.Response.GetState");
  const doc = await docs.getState();
  assert.deepEqual(
    JSON.parse(Buffer.concat(doc.parts).toString()),
    withAllLists(codec.encodeJson(getState(f.master))),
  );
});
