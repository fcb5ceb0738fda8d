/**
 * Framework rate limiting (`--rate_limits`) on a real master: a principal
 * limited to 5 qps with a small capacity that floods the master gets an
 * ERROR event and its extra calls are refused, while another framework's
 * calls go through at once; the per-principal message counters are
 * published.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type DaemonHandle, getJson, startMaster, stopAll } from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";

let master: DaemonHandle;
const subscriptions: Subscription[] = [];

before(async () => {
  master = await startMaster({
    flags: {
      rate_limits: JSON.stringify({
        limits: [{ principal: "slow", qps: 5, capacity: 2 }, { principal: "free" }],
      }),
    },
  });
});

after(async () => {
  for (const s of subscriptions) s.close();
  await stopAll();
});

async function framework(principal: string): Promise<Subscription> {
  const s = await subscribe(master.url, subscribeCall(`fw-${principal}`, { principal }));
  subscriptions.push(s);
  await s.nth("SUBSCRIBED");
  return s;
}

describe("auth: framework rate limiting", () => {
  it("a flooding principal gets ERROR and refusals; another principal is unaffected", async () => {
    const slow = await framework("slow");
    const free = await framework("free");
    const flood = await Promise.all(
      Array.from({ length: 20 }, () => slow.call({ type: "REVIVE" })),
    );
    const statuses = flood.map((r) => r.status);
    const accepted = statuses.filter((s) => s === 202).length;
    const refused = statuses.filter((s) => s === 429).length;
    // One at once, `capacity` queued behind it; the rest over capacity.
    assert.ok(accepted >= 3, `accepted ${accepted}: ${statuses.join(",")}`);
    assert.ok(refused >= 10, `refused ${refused}: ${statuses.join(",")}`);
    assert.equal(accepted + refused, 20);
    const error = await slow.nth("ERROR");
    assert.match(error.error?.message ?? "", /capacity\(2\) exceeded/);

    const calls = await Promise.all(
      Array.from({ length: 20 }, () => free.call({ type: "REVIVE" })),
    );
    assert.deepEqual(
      calls.map((r) => r.status),
      Array(20).fill(202),
    );
    assert.equal(
      free.events.some((e) => e.type === "ERROR"),
      false,
    );

    const metrics = (await getJson<Record<string, number>>(
      `${master.url}/metrics/snapshot`,
    )) as Record<string, number>;
    assert.ok((metrics["frameworks/slow/messages_received"] ?? 0) >= 21);
    const processed = metrics["frameworks/slow/messages_processed"] ?? 0;
    assert.ok(processed >= 1 + accepted - 2 && processed <= 1 + accepted, `processed ${processed}`);
    assert.equal(metrics["frameworks/free/messages_received"], 21);
    assert.equal(metrics["frameworks/free/messages_processed"], 21);
  });
});
