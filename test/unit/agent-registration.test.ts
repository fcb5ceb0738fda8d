import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MasterLink } from "../../src/agent/registration.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import { ManualClock } from "../../src/common/time/clock.js";
import type { RandomSource } from "../../src/common/time/random.js";

const MASTER = "master@127.0.0.1:5050";

/** Random source always returning `value` (so backoff delays are exact). */
function fixedRandom(value: number): RandomSource {
  return {
    next: () => value,
    uuid: () => "00000000-0000-4000-8000-000000000000",
    bytes: (n) => new Uint8Array(n),
  };
}

function setup(random = 1) {
  const clock = new ManualClock();
  const events: string[] = [];
  const attempts: number[] = [];
  const link = new MasterLink({
    clock,
    random: fixedRandom(random),
    logger: silentLogger,
    backoffFactorMs: 1000,
    hooks: {
      attempt: () => attempts.push(clock.monotonic()),
      connected: () => events.push("connected"),
      disconnected: () => events.push("disconnected"),
      pong: () => events.push("pong"),
    },
  });
  return { clock, events, attempts, link };
}

describe("agent registration", () => {
  it("first attempt within the backoff factor, then retries with a doubling bound up to one minute", () => {
    const { clock, attempts, link } = setup(1);
    link.detected(MASTER);
    clock.advance(1000);
    assert.deepEqual(attempts, [1000], "first attempt after factor x random");
    // Retry bounds: 2 s, 4 s, 8 s, 16 s, 32 s, 60 s (capped), 60 s.
    clock.advance(2000 + 4000 + 8000 + 16000 + 32000 + 60000 + 60000);
    assert.deepEqual(
      attempts.map((t, i) => (i === 0 ? t : t - (attempts[i - 1] ?? 0))),
      [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000],
    );
  });

  it("stops attempting once registered and arms the ping timeout from the master", () => {
    const { clock, attempts, events, link } = setup(0.5);
    link.detected(MASTER);
    clock.advance(500);
    assert.equal(attempts.length, 1);
    assert.equal(link.registered(MASTER, 2), true);
    assert.equal(link.state, "RUNNING");
    assert.deepEqual(events, ["connected"]);
    clock.advance(1900);
    assert.equal(attempts.length, 1, "no more attempts while registered");
    link.ping(MASTER, true);
    clock.advance(1900);
    assert.equal(link.state, "RUNNING", "a ping resets the timeout");
    clock.advance(100);
    assert.equal(link.state, "DISCONNECTED", "no ping within 2 s");
    assert.deepEqual(events, ["connected", "pong", "disconnected"]);
    clock.advance(500);
    assert.equal(attempts.length, 2, "re-registers after losing the master");
  });

  it("ignores registration from a process that is not the master", () => {
    const { link } = setup();
    link.detected(MASTER);
    assert.equal(link.registered("scheduler-1@127.0.0.1:5050", undefined), false);
    assert.equal(link.registered("master@10.0.0.9:6060", undefined), false);
    assert.equal(link.state, "DISCONNECTED");
  });

  it("adopts the address the master answers with when it advertises another IP on the same port", () => {
    const { link } = setup();
    link.detected(MASTER);
    assert.equal(link.registered("master@10.0.0.9:5050", undefined), true);
    assert.equal(link.master, "master@10.0.0.9:5050");
  });

  it("uses the 75 s default ping timeout when the master gives none", () => {
    const { clock, link } = setup();
    link.detected(MASTER);
    link.registered(MASTER, undefined);
    clock.advance(74_999);
    assert.equal(link.state, "RUNNING");
    clock.advance(1);
    assert.equal(link.state, "DISCONNECTED");
  });

  it("re-registers when a ping says the master does not consider us connected", () => {
    const { events, link } = setup();
    link.detected(MASTER);
    link.registered(MASTER, 75);
    link.ping(MASTER, false);
    assert.equal(link.state, "DISCONNECTED");
    assert.deepEqual(events, ["connected", "pong", "disconnected"]);
  });

  it("starts re-registering when the connection to the master breaks", () => {
    const { clock, attempts, link } = setup(1);
    link.detected(MASTER);
    clock.advance(1000);
    link.registered(MASTER, 75);
    link.exited("scheduler@127.0.0.1:1");
    assert.equal(link.state, "RUNNING", "other peers do not matter");
    link.exited(MASTER);
    assert.equal(link.state, "DISCONNECTED");
    clock.advance(1000);
    assert.equal(attempts.length, 2);
  });

  it("does nothing after terminate", () => {
    const { clock, attempts, link } = setup();
    link.detected(MASTER);
    link.terminate();
    clock.advance(120_000);
    assert.equal(attempts.length, 0);
    assert.equal(link.registered(MASTER, 75), false);
  });
});
