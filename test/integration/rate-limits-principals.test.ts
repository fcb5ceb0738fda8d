/**
 * Framework rate limiting without authentication, by the principal a
 * framework names in its FrameworkInfo (Mesos' guide): frameworks of one
 * principal share its limiter; a framework without a principal falls under
 * the aggregate default and has no per-principal counters.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { metricsSnapshot } from "../harness/metrics.js";
import { type DaemonHandle, startMaster, stopAll, waitFor } from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";

let master: DaemonHandle;
const subscriptions: Subscription[] = [];

before(async () => {
  master = await startMaster({
    flags: {
      rate_limits: JSON.stringify({
        // One call an hour: after the first call, one more may wait and the next is refused.
        limits: [{ principal: "shared", qps: 1 / 3600, capacity: 1 }],
        aggregate_default_qps: 1,
        aggregate_default_capacity: 0,
      }),
    },
  });
});

after(async () => {
  for (const s of subscriptions) s.close();
  await stopAll();
});

async function framework(name: string, principal?: string): Promise<Subscription> {
  const extra = principal === undefined ? {} : { principal };
  const s = await subscribe(master.url, subscribeCall(name, extra));
  subscriptions.push(s);
  await s.nth("SUBSCRIBED");
  return s;
}

describe("framework rate limiting by FrameworkInfo.principal", { timeout: 120_000 }, () => {
  it("two frameworks of one principal share its limiter and capacity", async () => {
    const one = await framework("one", "shared");
    const two = await framework("two", "shared");
    const first = await one.call({ type: "REVIVE" });
    assert.equal(first.status, 202, first.body);
    // The second framework's call waits behind the first one's (an hour), filling the capacity.
    void two.call({ type: "REVIVE" }).catch(() => {});
    await waitForReceived("shared", 4);
    const third = await one.call({ type: "REVIVE" });
    assert.equal(third.status, 429, third.body);
    assert.equal(third.body, "Message mesos.scheduler.Call dropped: capacity(1) exceeded");
    const error = await one.nth("ERROR");
    assert.equal(error.error?.message, third.body);
    assert.ok(master.logs().includes("Framework rate limiting enabled"), "Mesos' start-up line");
    const m = await metricsSnapshot(master);
    assert.equal(m["frameworks/shared/messages_received"], 5, "two SUBSCRIBEs and three calls");
    assert.equal(m["frameworks/shared/messages_processed"], 3, "two SUBSCRIBEs and one call");
  });

  it("a framework without a principal falls under the aggregate default and has no counters", async () => {
    const anonymous = await framework("anonymous");
    const call = await anonymous.call({ type: "REVIVE" });
    assert.equal(call.status, 429, call.body);
    assert.equal(call.body, "Message mesos.scheduler.Call dropped: capacity(0) exceeded");
    const error = await anonymous.nth("ERROR");
    assert.equal(error.error?.message, call.body);
    const names = Object.keys(await metricsSnapshot(master)).filter((k) =>
      k.startsWith("frameworks/"),
    );
    assert.deepEqual(names.sort(), [
      "frameworks/shared/messages_processed",
      "frameworks/shared/messages_received",
    ]);
  });
});

async function waitForReceived(principal: string, count: number): Promise<void> {
  await waitFor(`${count} messages received from ${principal}`, async () => {
    const m = await metricsSnapshot(master);
    return (m[`frameworks/${principal}/messages_received`] ?? 0) >= count;
  });
}
