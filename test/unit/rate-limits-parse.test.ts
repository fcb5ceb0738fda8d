import assert from "node:assert/strict";
import { test } from "node:test";
import { parseRateLimits } from "../../src/common/auth/rate-limits.js";

test("rate limits: numbers written as JSON strings count, as stout reads numeric fields", () => {
  const parsed = parseRateLimits({
    limits: [{ principal: "a", qps: "55.5", capacity: "100" }],
    aggregate_default_qps: "3",
    aggregate_default_capacity: "7",
  });
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
  assert.deepEqual(parsed.value, {
    limits: [{ principal: "a", qps: 55.5, capacity: 100 }],
    aggregateDefaultQps: 3,
    aggregateDefaultCapacity: 7,
  });
});

test("rate limits: a string that is no number is still refused, naming the field", () => {
  const qps = parseRateLimits({ limits: [{ principal: "a", qps: "fast" }] });
  assert.equal(qps.ok ? "" : qps.error, "limits[0].qps must be a positive number");
  const capacity = parseRateLimits({ limits: [{ principal: "a", qps: 1, capacity: "" }] });
  assert.equal(
    capacity.ok ? "" : capacity.error,
    "limits[0].capacity must be a non-negative integer",
  );
  const zero = parseRateLimits({ aggregate_default_qps: "0" });
  assert.equal(zero.ok ? "" : zero.error, "aggregate_default_qps must be a positive number");
});
