import assert from "node:assert/strict";
import { test } from "node:test";
import type { ResponseStream, StreamCloseReason } from "../../src/common/http/response.js";
import type { V1ContentType } from "../../src/common/http/v1-api.js";
import type { TaskInfo } from "../../src/common/protocol/generated/mesos-v1.js";
import type { Event } from "../../src/common/protocol/generated/mesos-v1-master.js";
import { codecFor } from "../../src/common/protocol/index.js";
import { RecordIoDecoder } from "../../src/common/recordio/index.js";
import { OperatorEvents } from "../../src/master/http/operator-events.js";
import { StateDocuments } from "../../src/master/http/state-documents.js";
import type { StateContext } from "../../src/master/http/state-json.js";
import { getState } from "../../src/master/http/v1-state.js";
import {
  type Fixture,
  frameworkInfo,
  makeMaster,
  registerAgent,
  resources,
  subscribe,
} from "./master-fixture.js";
import { immediate, stateContext } from "./state-fixture.js";

const eventCodec = codecFor("mesos.v1.master.Event");

const context = (f: Fixture): StateContext => stateContext(f, { cluster: "c" });

function taskInfo(id: string, agentId: string): TaskInfo {
  return {
    name: `task ${id}`,
    task_id: { value: id },
    agent_id: { value: agentId },
    resources: resources("cpus:0.1;mem:16"),
    command: { value: "sleep 1" },
  };
}

/** A master with agents and a framework holding offers, and its documents and event streams. */
async function setup(agents: number) {
  const f = makeMaster();
  const agentIds: string[] = [];
  for (let i = 0; i < agents; i++) {
    agentIds.push(
      await registerAgent(f, undefined, `slave(1)@127.0.0.${i + 1}:5051`, `agent-${i}`),
    );
  }
  const { stream, frameworkId } = subscribe(f, frameworkInfo());
  f.allocate();
  const documents = new StateDocuments(context(f), {
    now: () => performance.now(),
    yieldToEventLoop: immediate,
    // Every build item and every written part in a turn of its own.
    sliceMs: 0,
  });
  const events = new OperatorEvents({
    master: f.master,
    documents,
    clock: f.clock,
    logger: f.master.logger,
    maxSubscribers: 10,
  });
  let n = 0;
  const used = new Set<string>();
  /** Launches a task on an offer not used yet (TASK_ADDED); returns its id. */
  const launch = (): string => {
    const framework = f.master.frameworks.get(frameworkId);
    const offer = stream
      .ofType("OFFERS")
      .flatMap((e) => e.offers?.offers ?? [])
      .find((o) => !used.has(o.id.value));
    assert.ok(framework !== undefined && offer !== undefined, "an unused offer");
    used.add(offer.id.value);
    const id = `added-${n++}`;
    f.master.accept(framework, {
      offer_ids: [offer.id],
      operations: [
        { type: "LAUNCH", launch: { task_infos: [taskInfo(id, offer.agent_id.value)] } },
      ],
    });
    return id;
  };
  return { f, documents, events, launch };
}

/** A stream that records what is written and calls `onWrite` after each write. */
function recordingStream(onWrite: (writes: number) => void = () => {}) {
  const closers: ((r: StreamCloseReason) => void)[] = [];
  let closed = false;
  const s = {
    chunks: [] as Buffer[],
    write(chunk: string | Uint8Array) {
      s.chunks.push(Buffer.from(chunk));
      onWrite(s.chunks.length);
      return true;
    },
    end() {
      if (closed) return;
      closed = true;
      for (const c of closers) c("ended");
    },
    onClose(cb: (r: StreamCloseReason) => void) {
      closers.push(cb);
    },
    onDrain() {},
    get closed() {
      return closed;
    },
    remote: "test",
    bufferedBytes: 0,
  } satisfies ResponseStream & { chunks: Buffer[] };
  return s;
}

function decodeEvents(chunks: Buffer[], type: V1ContentType): Event[] {
  const out: Event[] = [];
  for (const record of new RecordIoDecoder().decode(Buffer.concat(chunks))) {
    const e = type === "json" ? eventCodec.decodeJson(record) : eventCodec.decodeProtobuf(record);
    assert.ok(e.ok, "every record decodes as an Event");
    out.push(e.value);
  }
  return out;
}

/** How often task `id` is announced: in SUBSCRIBED's snapshot, and as TASK_ADDED after it. */
function sightings(events: Event[], id: string): { inSnapshot: number; added: number } {
  const tasks = events[0]?.subscribed?.get_state?.get_tasks?.tasks ?? [];
  return {
    inSnapshot: tasks.filter((t) => t.task_id.value === id).length,
    added: events.filter((e) => e.type === "TASK_ADDED" && e.task_added?.task.task_id.value === id)
      .length,
  };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !condition(); i++) await immediate();
  assert.ok(condition(), "condition reached");
}

for (const type of ["json", "protobuf"] as const) {
  test(`operator events (${type}): SUBSCRIBED is written over several turns; a task added during the write follows it as TASK_ADDED, once`, async (t) => {
    const { f, documents, events, launch } = await setup(40);
    const before = launch();
    let during: string | undefined;
    let partsBeforeLaunch = 0;
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 0);
    t.after(() => clearInterval(ticker));
    const stream = recordingStream((writes) => {
      // After the first part of SUBSCRIBED, a task is added while the rest waits for its turns.
      if (writes === 1) {
        setImmediate(() => {
          partsBeforeLaunch = stream.chunks.length;
          during = launch();
        });
      }
    });
    const turnsBefore = documents.gate.turns;
    events.subscribe(type).start(stream);
    await until(() => during !== undefined && documents.gate.turns > turnsBefore + 2);
    // Let the write finish and later events flow.
    for (let i = 0; i < 50; i++) await immediate();
    const after = launch();
    clearInterval(ticker);
    const got = decodeEvents(stream.chunks, type);
    assert.equal(got[0]?.type, "SUBSCRIBED");
    assert.ok(partsBeforeLaunch >= 1, "the task was added after SUBSCRIBED began");
    assert.ok(
      documents.gate.turns - turnsBefore >= 3,
      `written in turns (${documents.gate.turns - turnsBefore})`,
    );
    assert.ok(ticks > 0, "timers ran while SUBSCRIBED was produced");
    assert.deepEqual(sightings(got, before), { inSnapshot: 1, added: 0 });
    const seen = sightings(got, during as string);
    assert.equal(seen.inSnapshot + seen.added, 1, `announced once: ${JSON.stringify(seen)}`);
    assert.deepEqual(sightings(got, after), { inSnapshot: 0, added: 1 });
    const types = got.map((e) => e.type);
    assert.deepEqual(
      types.slice(1),
      seen.added === 1 ? ["TASK_ADDED", "TASK_ADDED"] : ["TASK_ADDED"],
      "events after SUBSCRIBED, in order",
    );
    assert.equal(got.at(-1)?.task_added?.task.task_id.value, after, "the later task last");
    assert.equal(f.master.agents.size, 40);
  });

  test(`operator events (${type}): a task added while SUBSCRIBED waits for a queued build is in the snapshot and not announced again`, async () => {
    const { documents, events, launch } = await setup(20);
    // A build at the current version is running; a change makes SUBSCRIBED wait for the next one.
    const running = type === "json" ? documents.getState() : documents.getStateProtobuf();
    launch();
    const stream = recordingStream();
    events.subscribe(type).start(stream);
    // Added after SUBSCRIBE arrived, but before its build collected the state.
    const queued = launch();
    await running;
    await until(() => decodeEvents(stream.chunks, type).length > 0);
    for (let i = 0; i < 20; i++) await immediate();
    const got = decodeEvents(stream.chunks, type);
    assert.equal(got[0]?.type, "SUBSCRIBED");
    const seen = sightings(got, queued);
    assert.equal(seen.inSnapshot + seen.added, 1, `announced once: ${JSON.stringify(seen)}`);
  });
}

test("operator events: the spliced protobuf SUBSCRIBED decodes to the codec's own encoding", async () => {
  const { f, events, launch } = await setup(5);
  launch();
  const stream = recordingStream();
  events.subscribe("protobuf").start(stream);
  await until(() => decodeEvents(stream.chunks, "protobuf").length > 0);
  const [record] = new RecordIoDecoder().decode(Buffer.concat(stream.chunks));
  assert.ok(record !== undefined);
  const expected = eventCodec.encodeProtobuf({
    type: "SUBSCRIBED",
    subscribed: { get_state: getState(f.master), heartbeat_interval_seconds: 15 },
  });
  const a = eventCodec.decodeProtobuf(record);
  const b = eventCodec.decodeProtobuf(expected);
  assert.ok(a.ok && b.ok);
  assert.deepEqual(a.value, b.value);
  assert.equal(record.byteLength, expected.byteLength);
});
