/**
 * The v1 scheduler API of the real bin/mesos-master: subscriptions in JSON
 * and protobuf, and the status codes for bad input (after which the master
 * keeps serving).
 */
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { userInfo } from "node:os";
import { after, before, test } from "node:test";
import { codecFor } from "../../src/common/protocol/index.js";
import { type DaemonHandle, startMaster, stopAll } from "../harness/processes.js";
import { post, type Subscription, subscribe, subscribeCall } from "./master-clients.js";

let master: DaemonHandle;
const open: Subscription[] = [];

before(async () => {
  master = await startMaster();
});

after(async () => {
  for (const s of open) s.close();
  await stopAll();
});

async function subscribed(
  format: "json" | "protobuf" = "json",
  headers: Record<string, string> = {},
): Promise<Subscription> {
  const s = await subscribe(master.url, subscribeCall(`fw-${format}`), { format, headers });
  open.push(s);
  return s;
}

function oneLine(body: string): void {
  assert.ok(body.length > 0, "a reason is given");
  assert.doesNotMatch(body.trimEnd(), /\n/, "the reason is one line");
}

test("master scheduler API: SUBSCRIBE in JSON streams SUBSCRIBED and HEARTBEAT with a Mesos-Stream-Id", async () => {
  const s = await subscribed("json");
  assert.equal(s.response.statusCode, 200);
  assert.equal(s.response.headers["content-type"], "application/json");
  assert.equal(s.response.headers["transfer-encoding"], "chunked");
  assert.match(s.streamId, /^[0-9a-f-]{36}$/);
  const first = await s.nth("SUBSCRIBED");
  assert.match(first.subscribed?.framework_id.value ?? "", /^[0-9a-f-]{36}-\d{4}$/);
  assert.equal(first.subscribed?.heartbeat_interval_seconds, 15);
  assert.equal(first.subscribed?.master_info?.version, "1.12.0");
  await s.nth("HEARTBEAT");
  assert.equal(s.events[0]?.type, "SUBSCRIBED", "SUBSCRIBED comes first");
});

test("master scheduler API: SUBSCRIBE in protobuf gets protobuf events", async () => {
  const s = await subscribed("protobuf");
  assert.equal(s.response.headers["content-type"], "application/x-protobuf");
  const event = await s.nth("SUBSCRIBED");
  assert.ok((event.subscribed?.framework_id.value ?? "").length > 0);
  assert.ok(s.streamId.length > 0);
});

test("master scheduler API: the stream is chunked, one record per chunk, even with Connection: close", async () => {
  const s = await subscribed("json", { Connection: "close" });
  assert.equal(s.response.headers["transfer-encoding"], "chunked");
  await s.nth("HEARTBEAT");
  assert.ok(s.chunks >= 2, "SUBSCRIBED and HEARTBEAT arrive as they are written");
});

test("master scheduler API: bad requests get the documented status and a one-line reason", async () => {
  const json = { "Content-Type": "application/json" };
  const cases: [string, Promise<{ status: number; body: string }>, number, RegExp][] = [
    ["malformed JSON", post(master.url, "{not json", json), 400, /^Failed to parse body into JSON/],
    [
      "garbage protobuf",
      post(master.url, Uint8Array.of(0xff, 0xff, 0xff, 0xff), {
        "Content-Type": "application/x-protobuf",
      }),
      400,
      /^Failed to parse body into Call protobuf/,
    ],
    [
      // Dropped like any unknown enum name in an optional field (as Mesos).
      "unknown call type name",
      post(master.url, '{"type":"LAUNCH_ROCKETS"}', json),
      400,
      /Expecting 'type' to be present/,
    ],
    [
      "call type not a name",
      post(master.url, '{"type":7}', json),
      400,
      /^Failed to convert JSON into Call protobuf: Not expecting a JSON number for field 'type'$/,
    ],
    ["no type", post(master.url, "{}", json), 400, /Expecting 'type' to be present/],
    [
      "wrong content type",
      post(master.url, "x", { "Content-Type": "text/plain" }),
      415,
      /Content-Type/,
    ],
    // A byte body, so fetch adds no Content-Type of its own.
    [
      "no content type",
      post(master.url, Buffer.from("x"), {}),
      400,
      /Expecting 'Content-Type' to be present/,
    ],
    ["wrong method", post(master.url, "", {}, "GET"), 405, /Expecting one of \{ 'POST' \}/],
    [
      "unacceptable Accept on SUBSCRIBE",
      post(master.url, JSON.stringify(subscribeCall()), { ...json, Accept: "text/html" }),
      406,
      /Expecting 'Accept' to allow/,
    ],
    [
      "unknown framework",
      post(master.url, '{"type":"REVIVE","framework_id":{"value":"nope"}}', json),
      400,
      /^Framework cannot be found$/,
    ],
  ];
  for (const [what, pending, status, reason] of cases) {
    const result = await pending;
    assert.equal(result.status, status, what);
    oneLine(result.body);
    assert.match(result.body, reason, what);
  }
  const health = await fetch(`${master.url}/health`);
  assert.equal(health.status, 200, "the master keeps serving");
});

test("master scheduler API: stream id rules and UNKNOWN calls", async () => {
  const s = await subscribed();
  await s.nth("SUBSCRIBED");
  const body = (type: string) =>
    codecFor("mesos.v1.scheduler.Call").encodeJson({
      type: type as "REVIVE",
      framework_id: { value: s.frameworkId },
    });
  const json = { "Content-Type": "application/json" };
  const missing = await post(master.url, body("REVIVE"), json);
  assert.equal(missing.status, 400);
  assert.equal(missing.body, "All non-subscribe calls should include the 'Mesos-Stream-Id' header");
  const wrong = await post(master.url, body("REVIVE"), { ...json, "Mesos-Stream-Id": "bogus" });
  assert.equal(wrong.status, 400);
  assert.match(wrong.body, /^The stream ID 'bogus' included in this request didn't match/);
  const withId = await post(master.url, JSON.stringify({ ...subscribeCall() }), {
    ...json,
    "Mesos-Stream-Id": s.streamId,
  });
  assert.equal(withId.status, 400);
  assert.equal(withId.body, "Subscribe calls should not include the 'Mesos-Stream-Id' header");
  const unknown = await post(master.url, body("UNKNOWN"), {
    ...json,
    "Mesos-Stream-Id": s.streamId,
  });
  assert.equal(unknown.status, 501);
  const revive = await s.call({ type: "REVIVE" });
  assert.equal(revive.status, 202);
  assert.equal(revive.body, "");
});

test("master scheduler API: UPDATE_FRAMEWORK answers 200; TEARDOWN 202 and ends the stream", async () => {
  const s = await subscribed();
  await s.nth("SUBSCRIBED");
  const update = await s.call({
    type: "UPDATE_FRAMEWORK",
    update_framework: {
      framework_info: { user: userInfo().username, name: "renamed", id: { value: s.frameworkId } },
    },
  });
  assert.equal(update.status, 200);
  const teardown = await s.call({ type: "TEARDOWN" });
  assert.equal(teardown.status, 202);
  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error("stream did not end")), 10_000);
    const check = (): void => {
      if (s.ended) {
        clearTimeout(deadline);
        resolve();
      } else setTimeout(check, 10);
    };
    check();
  });
  const state = (await (await fetch(`${master.url}/master/state`)).json()) as {
    completed_frameworks: { id: string; name: string }[];
  };
  const done = state.completed_frameworks.find((c) => c.id === s.frameworkId);
  assert.equal(done?.name, "renamed");
  const after = await s.call({ type: "REVIVE" });
  assert.equal(after.status, 400, "a removed framework is unknown");
});

test("master scheduler API: a second SUBSCRIBE with the framework id fails the first stream over", async () => {
  const first = await subscribed();
  await first.nth("SUBSCRIBED");
  const second = await subscribe(master.url, {
    type: "SUBSCRIBE",
    framework_id: { value: first.frameworkId },
    subscribe: {
      framework_info: {
        user: userInfo().username,
        name: "fw-json",
        id: { value: first.frameworkId },
      },
    },
  });
  open.push(second);
  await second.nth("SUBSCRIBED");
  const error = await first.nth("ERROR");
  assert.equal(error.error?.message, "Framework failed over");
  assert.notEqual(second.streamId, first.streamId);
  const old = await first.call({ type: "REVIVE" });
  assert.equal(old.status, 400, "the old stream id is no longer valid");
});

test("master scheduler API: a scheduler that goes away is disconnected (failover_timeout 0: removed)", async () => {
  const s = await subscribed();
  await s.nth("SUBSCRIBED");
  const id = s.frameworkId;
  s.close();
  const deadline = Date.now() + 10_000;
  for (;;) {
    const state = (await (await fetch(`${master.url}/master/state`)).json()) as {
      completed_frameworks: { id: string }[];
    };
    if (state.completed_frameworks.some((c) => c.id === id)) break;
    assert.ok(Date.now() < deadline, "framework was not removed");
    await new Promise((r) => setTimeout(r, 20));
  }
});

test("master scheduler API: keep-alive connections serve several calls", async () => {
  const s = await subscribed();
  await s.nth("SUBSCRIBED");
  const target = new URL(`${master.url}/api/v1/scheduler`);
  const body = JSON.stringify({ type: "REVIVE", framework_id: { value: s.frameworkId } });
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) {
    statuses.push(
      await new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          {
            host: target.hostname,
            port: target.port,
            path: target.pathname,
            method: "POST",
            headers: { "Content-Type": "application/json", "Mesos-Stream-Id": s.streamId },
          },
          (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
          },
        );
        req.on("error", reject);
        req.end(body);
      }),
    );
  }
  assert.deepEqual(statuses, [202, 202, 202]);
});
