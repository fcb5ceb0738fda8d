import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type {
  Call as ExecutorCall,
  Event as ExecutorEvent,
} from "../../src/common/protocol/generated/mesos-v1-executor.js";
import type { Call, Event } from "../../src/common/protocol/generated/mesos-v1-scheduler.js";
import { codecFor } from "../../src/common/protocol/index.js";

/**
 * Hand-written samples of what Mesos clients send and receive (shapes from the
 * Mesos HTTP API docs, values our own), one directory per message type.
 */
const goldenDir = fileURLToPath(new URL("../../../test/fixtures/golden", import.meta.url));

function read(type: string, name: string): string {
  return readFileSync(`${goldenDir}/${type}/${name}`, "utf8");
}

for (const type of readdirSync(goldenDir).sort()) {
  for (const name of readdirSync(`${goldenDir}/${type}`).sort()) {
    test(`golden JSON: ${type} ${name} decodes and re-encodes to equivalent JSON and protobuf`, () => {
      const codec = codecFor<Record<string, unknown>>(type);
      const text = read(type, name);
      const decoded = codec.decodeJson(text);
      if (!decoded.ok) assert.fail(decoded.error.message);
      assert.deepEqual(JSON.parse(codec.encodeJson(decoded.value)), JSON.parse(text));
      const again = codec.decodeProtobuf(codec.encodeProtobuf(decoded.value));
      if (!again.ok) assert.fail(again.error.message);
      assert.deepEqual(again.value, decoded.value);
    });
  }
}

test("golden JSON: a SUBSCRIBE call reads as typed data", () => {
  const r = codecFor("mesos.v1.scheduler.Call").decodeJson(
    read("mesos.v1.scheduler.Call", "subscribe.json"),
  );
  if (!r.ok) assert.fail(r.error.message);
  const call: Call = r.value;
  assert.equal(call.type, "SUBSCRIBE");
  assert.equal(call.subscribe?.framework_info.user, "alice");
  assert.deepEqual(call.subscribe?.framework_info.roles, ["web", "batch"]);
  assert.equal(call.subscribe?.framework_info.failover_timeout, 604800);
  const group = call.subscribe?.offer_constraints?.role_constraints?.web?.groups?.[0];
  assert.deepEqual(group?.attribute_constraints?.[0]?.predicate, { exists: {} });
});

test("golden JSON: an ACCEPT carries its LAUNCH with resources and an unlimited cpu limit", () => {
  const r = codecFor("mesos.v1.scheduler.Call").decodeJson(
    read("mesos.v1.scheduler.Call", "accept-launch.json"),
  );
  if (!r.ok) assert.fail(r.error.message);
  const task = r.value.accept?.operations?.[0]?.launch?.task_infos?.[0];
  assert.equal(task?.resources?.length, 3);
  assert.equal(task?.limits?.cpus?.value, Number.POSITIVE_INFINITY);
  assert.deepEqual(task?.resources?.[2]?.ranges, { range: [{ begin: 8080, end: 8080 }] });
});

test("golden JSON: an UPDATE event carries the status uuid as 16 raw bytes", () => {
  const r = codecFor("mesos.v1.scheduler.Event").decodeJson(
    read("mesos.v1.scheduler.Event", "update.json"),
  );
  if (!r.ok) assert.fail(r.error.message);
  const event: Event = r.value;
  assert.equal(event.update?.status.state, "TASK_RUNNING");
  assert.equal(event.update?.status.uuid?.length, 16);
  assert.equal(Buffer.from(event.update?.status.data ?? []).toString(), '{"pid":42}');
});

test("golden JSON: an OFFERS event lists its offers with reservations and attributes", () => {
  const r = codecFor("mesos.v1.scheduler.Event").decodeJson(
    read("mesos.v1.scheduler.Event", "offers.json"),
  );
  if (!r.ok) assert.fail(r.error.message);
  const offer = r.value.offers?.offers?.[0];
  assert.equal(offer?.hostname, "agent-1.example.org");
  assert.equal(offer?.resources?.[3]?.reservations?.[0]?.type, "DYNAMIC");
  assert.equal(offer?.attributes?.[0]?.text?.value, "r7");
});

test("golden JSON: an executor SUBSCRIBED event and UPDATE call decode", () => {
  const e = codecFor("mesos.v1.executor.Event").decodeJson(
    read("mesos.v1.executor.Event", "subscribed.json"),
  );
  if (!e.ok) assert.fail(e.error.message);
  const event: ExecutorEvent = e.value;
  assert.equal(event.subscribed?.agent_info.port, 5051);
  assert.equal(event.subscribed?.executor_info.type, "DEFAULT");
  const c = codecFor("mesos.v1.executor.Call").decodeJson(
    read("mesos.v1.executor.Call", "update.json"),
  );
  if (!c.ok) assert.fail(c.error.message);
  const call: ExecutorCall = c.value;
  assert.equal(call.update?.status.state, "TASK_FINISHED");
});

test("golden JSON: 64-bit values given as strings decode to the same message as numbers", () => {
  const codec = codecFor("mesos.v1.master.Call");
  const text = read("mesos.v1.master.Call", "update-maintenance-schedule.json");
  const asNumbers = codec.decodeJson(text);
  const asStrings = codec.decodeJson(
    text.replace('"nanoseconds": 1735400000000000000', '"nanoseconds": "1735400000000000000"'),
  );
  assert.ok(asNumbers.ok && asStrings.ok);
  assert.deepEqual(asStrings.value, asNumbers.value);
  assert.equal(
    asNumbers.value.update_maintenance_schedule?.schedule.windows?.[0]?.unavailability.start
      .nanoseconds,
    1735400000000000000,
  );
});

test("golden JSON: a SUBSCRIBE without framework_info.user is rejected naming the field", () => {
  const codec = codecFor("mesos.v1.scheduler.Call");
  const body = JSON.parse(read("mesos.v1.scheduler.Call", "subscribe.json"));
  delete body.subscribe.framework_info.user;
  const r = codec.decodeJson(body);
  assert.equal(r.ok, false);
  if (!r.ok)
    assert.equal(r.error.message, "subscribe.framework_info.user: required field is missing");
});
