import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/common/time/clock.js";
import { seededRandom } from "../../src/common/time/random.js";

test("manual clock: timers fire in due order only when time is advanced", () => {
  const clock = new ManualClock(1000);
  const fired: string[] = [];
  clock.setTimer(50, () => fired.push("b"));
  clock.setTimer(10, () => fired.push("a"));
  const c = clock.setTimer(20, () => fired.push("cancelled"));
  clock.cancelTimer(c);
  clock.advance(9);
  assert.deepEqual(fired, []);
  clock.advance(100);
  assert.deepEqual(fired, ["a", "b"]);
  assert.equal(clock.now(), 1109);
});

test("manual clock: a timer set from a timer fires in the same advance when due", () => {
  const clock = new ManualClock(0);
  const fired: number[] = [];
  clock.setTimer(5, () => {
    fired.push(clock.monotonic());
    clock.setTimer(5, () => fired.push(clock.monotonic()));
  });
  clock.advance(20);
  assert.deepEqual(fired, [5, 10]);
});

test("seeded random: same seed gives the same uuids, and they are version 4", () => {
  const a = seededRandom(7);
  const b = seededRandom(7);
  const ua = a.uuid();
  assert.equal(ua, b.uuid());
  assert.match(ua, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});
