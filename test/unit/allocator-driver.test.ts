import assert from "node:assert/strict";
import { test } from "node:test";
import { addAgents, frameworkInfo, makeAllocator } from "../../bench/lib/allocator-fixtures.js";
import { AllocatorDriver } from "../../src/master/allocator/driver.js";
import type { CycleStats, OfferAllocation } from "../../src/master/allocator/types.js";

/** Lets pending promise callbacks (the driver's cycle) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

function setup(intervalMs = 1000) {
  const { allocator, clock } = makeAllocator({ allocationIntervalMs: intervalMs });
  const offers: OfferAllocation[] = [];
  const cycles: { stats: CycleStats; kind: string }[] = [];
  const driver = new AllocatorDriver({
    allocator,
    clock,
    yieldToEventLoop: () => Promise.resolve(),
    onOffers: (o) => offers.push(...o),
    onCycle: (stats, kind) => cycles.push({ stats, kind }),
  });
  driver.start();
  return { allocator, clock, driver, offers, cycles };
}

test("allocator driver: events that add resources are followed by one batched cycle", async () => {
  const { allocator, clock, offers, cycles } = setup();
  addAgents(allocator, 3, "cpus:1;mem:128");
  allocator.addFramework("f", frameworkInfo("f", ["*"]));
  assert.equal(offers.length, 0);
  clock.advance(0);
  await settle();
  assert.equal(offers.length, 3);
  assert.equal(cycles.length, 1);
  assert.equal(cycles[0]?.kind, "event");
});

test("allocator driver: a declined offer is re-offered by the next event-driven cycle", async () => {
  const { allocator, clock, offers } = setup();
  addAgents(allocator, 1, "cpus:1;mem:128");
  allocator.addFramework("f", frameworkInfo("f", ["*"]));
  clock.advance(0);
  await settle();
  const first = offers.shift();
  assert.ok(first);
  allocator.recoverResources(first.frameworkId, first.agentId, first.resources, {
    refuse_seconds: 0,
  });
  clock.advance(0);
  await settle();
  assert.equal(offers.length, 1);
  assert.equal(offers[0]?.agentId, first.agentId);
});

test("allocator driver: a batch cycle runs every allocation interval", async () => {
  const { allocator, clock, offers, cycles } = setup(1000);
  addAgents(allocator, 1, "cpus:1;mem:128");
  allocator.addFramework("f", frameworkInfo("f", ["*"]));
  clock.advance(0);
  await settle();
  const first = offers.shift();
  assert.ok(first);
  // Declined with a 3 s filter: only the periodic cycle after expiry re-offers.
  allocator.recoverResources(first.frameworkId, first.agentId, first.resources, {
    refuse_seconds: 3,
  });
  clock.advance(0);
  await settle();
  assert.equal(offers.length, 0);
  for (let s = 0; s < 3; s++) {
    clock.advance(1000);
    await settle();
  }
  assert.equal(offers.length, 1);
  assert.ok(cycles.some((c) => c.kind === "batch"));
});

test("allocator driver: requests during a cycle are served by one more cycle after it", async () => {
  const { allocator, clock, driver, offers } = setup();
  addAgents(allocator, 50, "cpus:1;mem:128");
  allocator.addFramework("f", frameworkInfo("f", ["*"]));
  clock.advance(0);
  // The cycle is under way (awaiting its first yield): more resources arrive.
  assert.equal(driver.busy, true);
  addAgents(allocator, 1, "cpus:1;mem:128", "late");
  clock.advance(0);
  await settle();
  await settle();
  assert.equal(driver.busy, false);
  assert.equal(offers.length, 51);
});

test("allocator driver: stop cancels the timers", async () => {
  const { allocator, clock, driver, offers } = setup();
  driver.stop();
  addAgents(allocator, 1, "cpus:1;mem:128");
  allocator.addFramework("f", frameworkInfo("f", ["*"]));
  clock.advance(5000);
  await settle();
  assert.equal(offers.length, 0);
  assert.equal(clock.pendingTimers, 0);
});

test("allocator driver: a cycle's wait is timed from the request that made it pending to its start", async () => {
  const { allocator, clock } = makeAllocator({ allocationIntervalMs: 1000 });
  const waits: number[] = [];
  let release: (() => void) | undefined;
  const driver = new AllocatorDriver({
    allocator,
    clock,
    sliceMs: 0,
    // Each slice boundary waits until the test lets it go on.
    yieldToEventLoop: () =>
      new Promise<void>((resolve) => {
        release = resolve;
      }),
    onOffers: () => {},
    onCycle: (_stats, _kind, waitedMs) => waits.push(waitedMs),
  });
  driver.start();
  addAgents(allocator, 40, "cpus:1;mem:128");
  allocator.addFramework("f", frameworkInfo("f", ["*"]));
  clock.advance(0);
  assert.equal(driver.busy, true);
  // Resources arrive while the first cycle is under way; it goes on 250 ms later.
  addAgents(allocator, 1, "cpus:1;mem:128", "late");
  clock.advance(0);
  clock.advance(250);
  for (let i = 0; i < 200 && (driver.busy || waits.length < 2); i++) {
    release?.();
    await settle();
  }
  assert.deepEqual(waits, [0, 250]);
  driver.stop();
});
