import assert from "node:assert/strict";
import { after, test } from "node:test";
import { ManualClock } from "../../src/common/time/clock.js";
import {
  SchedulerClient,
  type SchedulerClientOptions,
  type SchedulerEvent,
} from "../../src/scheduler/index.js";

import { FakeMaster } from "../../src/scheduler/testing/fake-master.js";

const masters: FakeMaster[] = [];
const clients: SchedulerClient[] = [];

async function fakeMaster(): Promise<FakeMaster> {
  const m = new FakeMaster();
  await m.listen();
  masters.push(m);
  return m;
}

function client(master: FakeMaster, options: Partial<SchedulerClientOptions> = {}) {
  const c = new SchedulerClient({
    master: master.address,
    framework: { user: "tester", name: "unit test framework" },
    backoff: { initialMs: 5, maxMs: 20 },
    ...options,
  });
  clients.push(c);
  return c;
}

after(async () => {
  for (const c of clients) c.close();
  await Promise.all(masters.map((m) => m.close()));
});

async function nextEvent(it: AsyncIterator<SchedulerEvent>, type: string): Promise<SchedulerEvent> {
  for (;;) {
    const r = await it.next();
    assert.ok(!r.done, `iterator ended before a ${type} event`);
    if (r.value.type === type) return r.value;
  }
}

for (const contentType of ["json", "protobuf"] as const) {
  test(`scheduler client: subscribes over ${contentType}, learns its id and sends calls with the stream id`, async () => {
    const master = await fakeMaster();
    const c = client(master, { contentType });
    const events = c.events();
    const registered: string[] = [];
    c.start({
      subscribed: (info, again) => registered.push(`${info.framework_id.value}/${again}`),
    });
    const subscribed = await nextEvent(events, "SUBSCRIBED");
    assert.equal(
      subscribed.type === "SUBSCRIBED" && subscribed.subscribed?.framework_id.value,
      "fw-1",
    );
    assert.deepEqual(registered, ["fw-1/false"]);
    assert.equal(c.state, "subscribed");
    assert.equal(c.frameworkId?.value, "fw-1");
    const media = contentType === "json" ? "application/json" : "application/x-protobuf";
    const sub = master.callsOfType("SUBSCRIBE")[0];
    assert.equal(sub?.contentType, media);
    assert.equal(sub?.accept, media);
    assert.equal(sub?.call.subscribe?.framework_info.name, "unit test framework");

    const result = await c.decline([{ value: "offer-1" }], { refuse_seconds: 5 });
    assert.deepEqual(result, { ok: true, status: 202 });
    const decline = master.callsOfType("DECLINE")[0];
    assert.equal(decline?.streamId, master.streams[0]?.streamId);
    assert.equal(decline?.call.framework_id?.value, "fw-1");
    assert.deepEqual(decline?.call.decline?.offer_ids, [{ value: "offer-1" }]);
    assert.equal(decline?.call.decline?.filters?.refuse_seconds, 5);
  });
}

test("scheduler client: events reach the callbacks and every iterator in order", async () => {
  const master = await fakeMaster();
  const c = client(master, { contentType: "json" });
  const seen: string[] = [];
  const a = c.events();
  const b = c.events();
  c.start({
    offers: (offers) => seen.push(`offers:${offers.map((o) => o.id.value).join(",")}`),
    rescind: (id) => seen.push(`rescind:${id.value}`),
    message: (_agent, _executor, data) => seen.push(`message:${Buffer.from(data).toString()}`),
    failure: (f) => seen.push(`failure:${f.agent_id?.value}:${f.executor_id?.value ?? "-"}`),
    heartbeat: () => seen.push("heartbeat"),
  });
  await nextEvent(a, "SUBSCRIBED");
  const offer = {
    id: { value: "o1" },
    framework_id: { value: "fw-1" },
    agent_id: { value: "a1" },
    hostname: "localhost",
  };
  master.push({ type: "OFFERS", offers: { offers: [offer] } });
  master.push({ type: "RESCIND", rescind: { offer_id: { value: "o1" } } });
  master.push({
    type: "MESSAGE",
    message: { agent_id: { value: "a1" }, executor_id: { value: "e1" }, data: Buffer.from("hi") },
  });
  master.push({ type: "FAILURE", failure: { agent_id: { value: "a1" } } });
  master.push({ type: "HEARTBEAT" });
  const types: string[] = [];
  for (let i = 0; i < 6; i++) {
    const r = await b.next();
    types.push(String(r.value?.type));
  }
  assert.deepEqual(types, ["SUBSCRIBED", "OFFERS", "RESCIND", "MESSAGE", "FAILURE", "HEARTBEAT"]);
  assert.deepEqual(seen, ["offers:o1", "rescind:o1", "message:hi", "failure:a1:-", "heartbeat"]);
});

test("scheduler client: status updates are acknowledged automatically unless disabled", async () => {
  for (const autoAcknowledge of [true, false]) {
    const master = await fakeMaster();
    const c = client(master, { contentType: "json", autoAcknowledge });
    const events = c.events();
    c.start();
    await nextEvent(events, "SUBSCRIBED");
    const uuid = Buffer.alloc(16, 7);
    master.push({
      type: "UPDATE",
      update: {
        status: {
          task_id: { value: "t1" },
          state: "TASK_RUNNING",
          agent_id: { value: "a1" },
          uuid,
        },
      },
    });
    // A reconciliation answer carries no uuid and is never acknowledged.
    master.push({
      type: "UPDATE",
      update: { status: { task_id: { value: "t2" }, state: "TASK_LOST" } },
    });
    await nextEvent(events, "UPDATE");
    await nextEvent(events, "UPDATE");
    await c.reconcile();
    await master.until("RECONCILE", () => master.callsOfType("RECONCILE").length === 1);
    const acks = master.callsOfType("ACKNOWLEDGE");
    if (autoAcknowledge) {
      assert.equal(acks.length, 1);
      assert.equal(acks[0]?.call.acknowledge?.task_id.value, "t1");
      assert.equal(acks[0]?.call.acknowledge?.agent_id.value, "a1");
      assert.deepEqual(Buffer.from(acks[0]?.call.acknowledge?.uuid ?? []), uuid);
    } else {
      assert.equal(acks.length, 0);
    }
  }
});

test("scheduler client: a 307 redirect leads the subscription to the named leader", async () => {
  const leader = await fakeMaster();
  const follower = await fakeMaster();
  follower.refuseWith.push({
    status: 307,
    body: "",
    location: `//${leader.address}/master/api/v1/scheduler`,
  });
  const c = client(follower, { contentType: "json" });
  const events = c.events();
  c.start();
  await nextEvent(events, "SUBSCRIBED");
  assert.equal(c.master, leader.address);
  assert.equal(leader.callsOfType("SUBSCRIBE").length, 1);
  assert.equal((await c.revive()).ok, true);
  assert.equal(leader.callsOfType("REVIVE").length, 1);
});

test("scheduler client: a broken stream re-subscribes with the framework id (failover)", async () => {
  const master = await fakeMaster();
  const c = client(master, { contentType: "protobuf" });
  const events = c.events();
  const notices: string[] = [];
  c.start({
    subscribed: (info, again) => notices.push(`subscribed:${info.framework_id.value}:${again}`),
    disconnected: (_reason, willReconnect) => notices.push(`disconnected:${willReconnect}`),
  });
  await nextEvent(events, "SUBSCRIBED");
  master.streams[0]?.res.end();
  const d = await nextEvent(events, "DISCONNECTED");
  assert.equal(d.type === "DISCONNECTED" && d.disconnected.willReconnect, true);
  await nextEvent(events, "SUBSCRIBED");
  const second = master.callsOfType("SUBSCRIBE")[1]?.call;
  assert.equal(second?.framework_id?.value, "fw-1");
  assert.equal(second?.subscribe?.framework_info.id?.value, "fw-1");
  assert.deepEqual(notices, ["subscribed:fw-1:false", "disconnected:true", "subscribed:fw-1:true"]);
  // Calls use the new stream's id.
  await c.suppress();
  assert.equal(master.callsOfType("SUPPRESS")[0]?.streamId, master.streams[1]?.streamId);
});

test("scheduler client: a master that stays silent for 5 heartbeat intervals is left", async () => {
  const master = await fakeMaster();
  const clock = new ManualClock();
  const c = client(master, { contentType: "json", clock, random: () => 0.5 });
  const events = c.events();
  c.start();
  await nextEvent(events, "SUBSCRIBED");
  clock.advance(15_000 * 4);
  master.push({ type: "HEARTBEAT" });
  await nextEvent(events, "HEARTBEAT");
  clock.advance(15_000 * 4);
  assert.equal(c.state, "subscribed", "a heartbeat 4 intervals ago keeps the connection");
  clock.advance(15_000);
  assert.equal(c.state, "disconnected");
  const d = await nextEvent(events, "DISCONNECTED");
  assert.match(d.type === "DISCONNECTED" ? d.disconnected.reason : "", /No heartbeat/);
  clock.advance(5);
  await nextEvent(events, "SUBSCRIBED");
  assert.equal(master.callsOfType("SUBSCRIBE").length, 2);
});

test("scheduler client: an ERROR event closes the client and ends the iterators", async () => {
  const master = await fakeMaster();
  const c = client(master, { contentType: "json" });
  const events = c.events();
  const errors: string[] = [];
  c.start({ error: (m) => errors.push(m) });
  await nextEvent(events, "SUBSCRIBED");
  master.push({ type: "ERROR", error: { message: "Framework has been removed" } });
  await nextEvent(events, "ERROR");
  assert.match(await c.closed, /Framework has been removed/);
  assert.deepEqual(errors, ["Framework has been removed"]);
  assert.equal(c.state, "closed");
  for (;;) {
    const r = await events.next();
    if (r.done) break;
  }
  const after = await c.revive();
  assert.equal(after.ok, false);
});

test("scheduler client: SUBSCRIBE refused with 503 is retried, with 400 it is an ERROR", async () => {
  const master = await fakeMaster();
  master.refuseWith.push({ status: 503, body: "Master is not the leader yet" });
  const c = client(master, { contentType: "json" });
  const events = c.events();
  c.start();
  await nextEvent(events, "SUBSCRIBED");
  assert.equal(master.callsOfType("SUBSCRIBE").length, 2);

  const bad = await fakeMaster();
  bad.refuseWith.push({ status: 400, body: "Failed to validate scheduler::Call: bad" });
  const d = client(bad, { contentType: "json" });
  const errors: string[] = [];
  d.start({ error: (m) => errors.push(m) });
  assert.match(await d.closed, /'400 Bad Request' \(Failed to validate scheduler::Call: bad\)/);
  assert.equal(errors.length, 1);
});

test("scheduler client: calls before subscribing, and refused calls, report why", async () => {
  const master = await fakeMaster();
  const c = client(master, { contentType: "json" });
  const early = await c.kill({ value: "t1" });
  assert.equal(early.ok, false);
  assert.match(early.ok ? "" : early.error, /Not subscribed \(state: idle\)/);
  const events = c.events();
  c.start();
  await nextEvent(events, "SUBSCRIBED");
  master.callStatus = 400;
  const refused = await c.kill({ value: "t1" }, { value: "a1" });
  assert.deepEqual(refused, {
    ok: false,
    status: 400,
    error: "Received unexpected '400 Bad Request' (Call refused) for KILL",
  });
});

test("scheduler client: teardown sends TEARDOWN and closes", async () => {
  const master = await fakeMaster();
  const c = client(master, { contentType: "protobuf" });
  const events = c.events();
  c.start();
  await nextEvent(events, "SUBSCRIBED");
  const result = await c.teardown();
  assert.equal(result.ok, true);
  assert.equal(master.callsOfType("TEARDOWN")[0]?.call.framework_id?.value, "fw-1");
  assert.equal(await c.closed, "framework torn down");
});

test("scheduler client: launch builds an ACCEPT with one LAUNCH operation", async () => {
  const master = await fakeMaster();
  const c = client(master, { contentType: "json" });
  const events = c.events();
  c.start();
  await nextEvent(events, "SUBSCRIBED");
  await c.launch(
    [{ value: "o1" }],
    [
      {
        name: "t",
        task_id: { value: "t" },
        agent_id: { value: "a1" },
        command: { value: "true", shell: true },
      },
    ],
  );
  const accept = master.callsOfType("ACCEPT")[0]?.call.accept;
  assert.deepEqual(accept?.offer_ids, [{ value: "o1" }]);
  assert.equal(accept?.operations?.[0]?.type, "LAUNCH");
  assert.equal(accept?.operations?.[0]?.launch?.task_infos?.[0]?.command?.value, "true");
});

test("scheduler client: a master address it cannot use is a TypeError naming the problem", () => {
  assert.throws(
    () =>
      new SchedulerClient({
        master: "zk://127.0.0.1:99999/mesos",
        framework: { user: "", name: "x" },
      }),
    /Invalid ZooKeeper URL/,
  );
});
