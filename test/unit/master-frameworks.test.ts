import assert from "node:assert/strict";
import { test } from "node:test";
import {
  FakeStream,
  frameworkInfo,
  MASTER_ID,
  makeMaster,
  registerAgent,
  subscribe,
} from "./master-fixture.js";

test("master frameworks: SUBSCRIBE answers SUBSCRIBED with a minted id, then a HEARTBEAT", () => {
  const f = makeMaster();
  const { stream, frameworkId } = subscribe(f);
  assert.equal(frameworkId, `${MASTER_ID}-0000`);
  assert.deepEqual(
    stream.events.map((e) => e.type),
    ["SUBSCRIBED", "HEARTBEAT"],
  );
  const subscribed = stream.events[0]?.subscribed;
  assert.equal(subscribed?.heartbeat_interval_seconds, 15);
  assert.equal(subscribed?.master_info?.version, "1.12.0");
  assert.equal(subscribed?.master_info?.id, MASTER_ID);
});

test("master frameworks: heartbeats every 15 seconds while subscribed", () => {
  const f = makeMaster();
  const { stream } = subscribe(f);
  f.clock.advance(14_999);
  assert.equal(stream.ofType("HEARTBEAT").length, 1);
  f.clock.advance(1);
  assert.equal(stream.ofType("HEARTBEAT").length, 2);
  f.clock.advance(30_000);
  assert.equal(stream.ofType("HEARTBEAT").length, 4);
});

test("master frameworks: an invalid FrameworkInfo is refused with ERROR and the stream closed", () => {
  const f = makeMaster();
  const stream = new FakeStream("s");
  f.master.subscribe(stream, {
    framework_info: frameworkInfo({ role: "a", capabilities: [{ type: "MULTI_ROLE" }] }),
  });
  assert.equal(stream.events[0]?.type, "ERROR");
  assert.match(
    stream.events[0]?.error?.message ?? "",
    /must not be set when the framework is MULTI_ROLE/,
  );
  assert.equal(stream.closed, true);
  assert.equal(f.master.frameworks.size, 0);
});

test("master frameworks: roles outside --roles are refused", () => {
  const f = makeMaster({ roleWhitelist: new Set(["*", "web"]) });
  const stream = new FakeStream("s");
  f.master.subscribe(stream, { framework_info: frameworkInfo({ role: "batch" }) });
  assert.match(stream.events[0]?.error?.message ?? "", /not present in the master's --roles/);
});

test("master frameworks: a second SUBSCRIBE fails the old stream over", () => {
  const f = makeMaster();
  const first = subscribe(f);
  const again = new FakeStream("second");
  f.master.subscribe(again, {
    framework_info: frameworkInfo({ id: { value: first.frameworkId } }),
  });
  assert.equal(first.stream.last("ERROR")?.error?.message, "Framework failed over");
  assert.equal(first.stream.closed, true);
  assert.equal(again.events[0]?.subscribed?.framework_id.value, first.frameworkId);
  assert.equal(f.master.frameworks.get(first.frameworkId)?.stream, again);
});

test("master frameworks: a disconnected framework can re-subscribe within its failover timeout", async () => {
  const f = makeMaster();
  await registerAgent(f);
  const { stream, frameworkId } = subscribe(f, frameworkInfo({ failover_timeout: 60 }));
  f.allocate();
  const offer = stream.last("OFFERS")?.offers?.offers?.[0];
  assert.ok(offer !== undefined);
  stream.closed = true;
  f.master.schedulerStreamClosed(stream);
  const record = f.master.frameworks.get(frameworkId);
  assert.equal(record?.connected, false);
  assert.equal(record?.active, false);
  assert.equal(f.master.offers.size, 0, "offers are taken back on disconnection");
  f.clock.advance(30_000);
  const back = new FakeStream("back");
  f.master.subscribe(back, { framework_info: frameworkInfo({ id: { value: frameworkId } }) });
  assert.equal(back.events[0]?.type, "SUBSCRIBED");
  assert.equal(record?.connected, true);
  f.clock.advance(60_000);
  assert.ok(f.master.frameworks.has(frameworkId), "the old failover timer no longer applies");
});

test("master frameworks: after its failover timeout a framework is removed for good", () => {
  const f = makeMaster();
  const { stream, frameworkId } = subscribe(f, frameworkInfo({ failover_timeout: 5 }));
  stream.closed = true;
  f.master.schedulerStreamClosed(stream);
  f.clock.advance(5_000);
  assert.equal(f.master.frameworks.has(frameworkId), false);
  assert.equal(f.master.completedFrameworks[0]?.id, frameworkId);
  const late = new FakeStream("late");
  f.master.subscribe(late, { framework_info: frameworkInfo({ id: { value: frameworkId } }) });
  assert.equal(late.events[0]?.error?.message, "Framework has been removed");
});

test("master frameworks: re-subscribing may not change the principal", () => {
  const f = makeMaster();
  const { frameworkId } = subscribe(f, frameworkInfo({ principal: "p1" }));
  const other = new FakeStream("other");
  f.master.subscribe(other, {
    framework_info: frameworkInfo({ id: { value: frameworkId }, principal: "p2" }),
  });
  assert.equal(other.events[0]?.error?.message, "Changing framework's principal is not allowed.");
});

test("master frameworks: an unknown framework id re-subscribes (as after a master restart)", () => {
  const f = makeMaster();
  const stream = new FakeStream("s");
  f.master.subscribe(stream, { framework_info: frameworkInfo({ id: { value: "old-0001" } }) });
  assert.equal(stream.events[0]?.subscribed?.framework_id.value, "old-0001");
  assert.equal(f.master.frameworks.get("old-0001")?.connected, true);
});

test("master frameworks: TEARDOWN shuts the framework down on agents and completes it", async () => {
  const f = makeMaster({ maxCompletedFrameworks: 2 });
  await registerAgent(f);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const { frameworkId } = subscribe(f);
    ids.push(frameworkId);
    const record = f.master.frameworks.get(frameworkId);
    assert.ok(record !== undefined);
    f.master.teardown(record);
  }
  assert.equal(f.sentOfType("mesos.internal.ShutdownFrameworkMessage").length, 3);
  assert.deepEqual(
    f.master.completedFrameworks.map((c) => c.id),
    ids.slice(1),
    "only --max_completed_frameworks are kept",
  );
});

test("master frameworks: UPDATE_FRAMEWORK changes roles and rejects a new user", () => {
  const f = makeMaster();
  const { frameworkId } = subscribe(f);
  const record = f.master.frameworks.get(frameworkId);
  assert.ok(record !== undefined);
  const ok = f.master.updateFramework(record, {
    framework_info: frameworkInfo({ id: { value: frameworkId }, role: "web" }),
  });
  assert.equal(ok.status, 200);
  assert.deepEqual(record.roles(), ["web"]);
  const bad = f.master.updateFramework(record, {
    framework_info: frameworkInfo({ id: { value: frameworkId }, user: "bob" }),
  });
  assert.equal(bad.status, 400);
  assert.match(bad.message, /Updating 'FrameworkInfo.user' is unsupported/);
});
