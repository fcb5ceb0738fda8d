/**
 * Framework rate limiting as the Mesos guide describes it, on a real master
 * with authenticated HTTP schedulers (--authenticate_http_frameworks):
 * a principal over its `capacity` gets Mesos' ERROR message
 * ("Message mesos.scheduler.Call dropped: capacity(N) exceeded") and a 429;
 * `capacity: 0` refuses every call, as in Mesos; a principal listed without
 * `qps` is never throttled; `frameworks/<principal>/messages_received` and
 * `messages_processed` count what arrived and what was processed.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Call } from "../../src/common/protocol/generated/mesos-v1-scheduler.js";
import { codecFor } from "../../src/common/protocol/index.js";
import { metricsSnapshot } from "../harness/metrics.js";
import {
  type DaemonHandle,
  getJson,
  startMaster,
  stopAll,
  tempDir,
  waitLong,
} from "../harness/processes.js";
import { post, type Subscription, subscribe, subscribeCall } from "./master-clients.js";

const callCodec = codecFor("mesos.v1.scheduler.Call");
const SECRETS: Record<string, string> = {
  zero: "z-secret",
  batch: "b-secret",
  free: "f-secret",
  other: "o-secret",
};

let master: DaemonHandle;
const subscriptions: Subscription[] = [];

function basic(principal: string): Record<string, string> {
  const token = Buffer.from(`${principal}:${SECRETS[principal]}`).toString("base64");
  return { Authorization: `Basic ${token}` };
}

before(async () => {
  const dir = tempDir();
  const credentials = join(dir, "credentials.json");
  writeFileSync(
    credentials,
    JSON.stringify({
      credentials: Object.entries(SECRETS).map(([principal, secret]) => ({ principal, secret })),
    }),
  );
  master = await startMaster({
    flags: {
      credentials: `file://${credentials}`,
      authenticate_http_frameworks: true,
      http_framework_authenticators: "basic",
      rate_limits: JSON.stringify({
        limits: [
          { principal: "zero", qps: 1, capacity: 0 },
          // One call every 5 s: a second call waits, a third is over capacity.
          { principal: "batch", qps: 0.2, capacity: 1 },
          { principal: "free" },
        ],
        aggregate_default_qps: 0.2,
        aggregate_default_capacity: 0,
      }),
    },
  });
});

after(async () => {
  for (const s of subscriptions) s.close();
  await stopAll();
});

async function framework(principal: string): Promise<Subscription> {
  const s = await subscribe(master.url, subscribeCall(`fw-${principal}`, { principal }), {
    headers: basic(principal),
  });
  subscriptions.push(s);
  await s.nth("SUBSCRIBED");
  return s;
}

function callAs(s: Subscription, principal: string, call: Call) {
  const full: Call = { framework_id: { value: s.frameworkId }, ...call };
  return post(s.url, callCodec.encodeJson(full), {
    "Content-Type": "application/json",
    "Mesos-Stream-Id": s.streamId,
    ...basic(principal),
  });
}

describe("framework rate limiting with authenticated HTTP schedulers", { timeout: 120_000 }, () => {
  it("over capacity: a 429 and Mesos' ERROR message; the waiting call is processed later", async () => {
    const batch = await framework("batch");
    const answers = await Promise.all(
      [1, 2, 3].map(() => callAs(batch, "batch", { type: "REVIVE" })),
    );
    const statuses = answers.map((a) => a.status).sort();
    // One processed at once, one waits for its turn (answered about 5 s later), one refused.
    assert.deepEqual(statuses, [202, 202, 429], JSON.stringify(answers.map((a) => a.body)));
    const refused = answers.find((a) => a.status === 429);
    assert.equal(refused?.body, "Message mesos.scheduler.Call dropped: capacity(1) exceeded");
    const error = await batch.nth("ERROR");
    assert.equal(
      error.error?.message,
      "Message mesos.scheduler.Call dropped: capacity(1) exceeded",
    );

    const m = await metricsSnapshot(master);
    assert.equal(m["frameworks/batch/messages_received"], 4, "SUBSCRIBE and three calls");
    assert.equal(m["frameworks/batch/messages_processed"], 3, "SUBSCRIBE and two calls");
  });

  it("capacity 0 refuses every call, even the first (Mesos counts it as outstanding)", async () => {
    const zero = await framework("zero");
    const first = await callAs(zero, "zero", { type: "REVIVE" });
    assert.equal(first.status, 429, first.body);
    assert.equal(first.body, "Message mesos.scheduler.Call dropped: capacity(0) exceeded");
    const error = await zero.nth("ERROR");
    assert.equal(
      error.error?.message,
      "Message mesos.scheduler.Call dropped: capacity(0) exceeded",
    );
    // The framework stays subscribed; its tasks (none here) are untouched.
    const state = await getJson<{ frameworks: Array<{ id: string; active: boolean }> }>(
      `${master.url}/master/frameworks`,
    );
    assert.ok(state?.frameworks.some((f) => f.id === zero.frameworkId && f.active));
  });

  it("a principal listed without qps is never throttled, even with a strict aggregate default", async () => {
    const free = await framework("free");
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => callAs(free, "free", { type: "REVIVE" })),
    );
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(10).fill(202),
    );
    await waitLong("free's counters", async () => {
      const m = await metricsSnapshot(master);
      return (
        m["frameworks/free/messages_received"] === 11 &&
        m["frameworks/free/messages_processed"] === 11
      );
    });
    assert.equal(
      free.events.some((e) => e.type === "ERROR"),
      false,
    );
  });

  it("a principal not listed falls under the aggregate default limiter (here capacity 0: refused)", async () => {
    const other = await framework("other");
    const answer = await callAs(other, "other", { type: "REVIVE" });
    assert.equal(answer.status, 429, answer.body);
    assert.equal(answer.body, "Message mesos.scheduler.Call dropped: capacity(0) exceeded");
    await other.nth("ERROR");
  });

  it("calls without the framework's credentials are refused before rate limiting (401)", async () => {
    const batch = subscriptions[0];
    assert.ok(batch !== undefined);
    const before = (await metricsSnapshot(master))["frameworks/batch/messages_received"];
    const full: Call = { framework_id: { value: batch.frameworkId }, type: "REVIVE" };
    const answer = await post(batch.url, callCodec.encodeJson(full), {
      "Content-Type": "application/json",
      "Mesos-Stream-Id": batch.streamId,
    });
    assert.equal(answer.status, 401);
    assert.equal((await metricsSnapshot(master))["frameworks/batch/messages_received"], before);
  });
});
