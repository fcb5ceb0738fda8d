import assert from "node:assert/strict";
import { test } from "node:test";
import {
  AGENT_CAPABILITIES,
  addAgents,
  frameworkInfo,
  makeAllocator,
  offeredByFramework,
  res,
} from "../../bench/lib/allocator-fixtures.js";
import { Resources } from "../../src/common/resources/index.js";
import type { HierarchicalAllocator } from "../../src/master/allocator/hierarchical-allocator.js";
import type { OfferAllocation } from "../../src/master/allocator/types.js";

/** Declines everything offered, without a filter. */
function declineAll(allocator: HierarchicalAllocator, offers: OfferAllocation[]): void {
  for (const o of offers) {
    allocator.recoverResources(o.frameworkId, o.agentId, o.resources, { refuse_seconds: 0 });
  }
}

test("allocator: the DRF paper example gives A 3 tasks and B 2 tasks", () => {
  // Cluster <9 CPUs, 18 GB>; A's tasks <1 CPU, 4 GB>, B's <3 CPUs, 1 GB>.
  const { allocator } = makeAllocator({ minAllocatableResources: [] });
  addAgents(allocator, 1, "cpus:9;mem:18432");
  allocator.addFramework("A", frameworkInfo("A", ["*"]));
  allocator.addFramework("B", frameworkInfo("B", ["*"]));
  const task = new Map([
    ["A", res("cpus:1;mem:4096")],
    ["B", res("cpus:3;mem:1024")],
  ]);
  const tasks = new Map([
    ["A", 0],
    ["B", 0],
  ]);
  let idle = 0;
  for (let round = 0; round < 50 && idle < 2; round++) {
    const { offers } = allocator.allocate();
    let launched = false;
    for (const o of offers) {
      const need = (task.get(o.frameworkId) as Resources).allocate(o.role);
      if (o.resources.contains(need)) {
        // Launch one task (greedy, one per offer) and hand back the rest.
        allocator.transitionOfferedToAllocated(o.agentId, need);
        allocator.recoverResources(o.frameworkId, o.agentId, o.resources.minus(need), {
          refuse_seconds: 0,
        });
        tasks.set(o.frameworkId, (tasks.get(o.frameworkId) ?? 0) + 1);
        launched = true;
      } else {
        allocator.recoverResources(o.frameworkId, o.agentId, o.resources, { refuse_seconds: 0 });
      }
    }
    idle = launched ? 0 : idle + 1;
  }
  assert.deepEqual(Object.fromEntries(tasks), { A: 3, B: 2 });
});

test("allocator: role weights 2 and 1 split a single resource 2:1", () => {
  const { allocator } = makeAllocator({ weights: [{ role: "heavy", weight: 2 }] });
  addAgents(allocator, 30, "cpus:1;mem:128");
  allocator.addFramework("h", frameworkInfo("h", ["heavy"]));
  allocator.addFramework("l", frameworkInfo("l", ["light"]));
  const byFw = offeredByFramework(allocator.allocate().offers);
  assert.equal(byFw.get("h"), 20);
  assert.equal(byFw.get("l"), 10);
});

test("allocator: weights set later by updateWeights also converge to 2:1", () => {
  const { allocator } = makeAllocator();
  addAgents(allocator, 60, "cpus:1;mem:128");
  allocator.addFramework("h", frameworkInfo("h", ["heavy"]));
  allocator.addFramework("l", frameworkInfo("l", ["light"]));
  allocator.updateWeights([{ role: "heavy", weight: 2 }]);
  const byFw = offeredByFramework(allocator.allocate().offers);
  assert.equal(byFw.get("h"), 40);
  assert.equal(byFw.get("l"), 20);
});

test("allocator: hierarchical roles a/b and a/c share a's fair share with d", () => {
  const { allocator } = makeAllocator();
  addAgents(allocator, 40, "cpus:1;mem:128");
  allocator.addFramework("ab", frameworkInfo("ab", ["a/b"]));
  allocator.addFramework("ac", frameworkInfo("ac", ["a/c"]));
  allocator.addFramework("d", frameworkInfo("d", ["d"]));
  const byFw = offeredByFramework(allocator.allocate().offers);
  assert.equal(byFw.get("d"), 20);
  assert.equal(byFw.get("ab"), 10);
  assert.equal(byFw.get("ac"), 10);
});

test("allocator: agents without HIERARCHICAL_ROLE give nothing to hierarchical roles", () => {
  const { allocator } = makeAllocator();
  allocator.addAgent(
    "old",
    { hostname: "old" },
    [{ type: "MULTI_ROLE" }],
    undefined,
    res("cpus:4"),
  );
  allocator.addFramework("ab", frameworkInfo("ab", ["a/b"]));
  assert.equal(allocator.allocate().offers.length, 0);
  assert.match(allocator.explain("ab").summary, /HIERARCHICAL_ROLE/);
});

test("allocator: reserved resources go only to their role and its sub-roles", () => {
  const { allocator } = makeAllocator();
  allocator.addAgent(
    "s1",
    { hostname: "s1" },
    AGENT_CAPABILITIES,
    undefined,
    res("cpus(eng):4;mem(eng):512;cpus:2;mem:256"),
  );
  allocator.addFramework("ops", frameworkInfo("ops", ["ops"]));
  let offers = allocator.allocate().offers;
  assert.equal(offers.length, 1);
  assert.equal(offers[0]?.frameworkId, "ops");
  assert.equal(offers[0]?.resources.getScalar("cpus"), 2);
  assert.equal(offers[0]?.resources.reserved().isEmpty(), true);

  allocator.addFramework("web", frameworkInfo("web", ["eng/web"]));
  offers = allocator.allocate().offers;
  assert.equal(offers.length, 1);
  assert.equal(offers[0]?.frameworkId, "web");
  assert.equal(offers[0]?.role, "eng/web");
  assert.equal(offers[0]?.resources.reserved("eng").getScalar("cpus"), 4);
  for (const r of offers[0]?.resources ?? []) assert.equal(r.allocation_info?.role, "eng/web");
});

test("allocator: unused reservations of a role are not counted against other roles", () => {
  const { allocator } = makeAllocator();
  allocator.addAgent(
    "r",
    { hostname: "r" },
    AGENT_CAPABILITIES,
    undefined,
    res("cpus(x):10;mem(x):1024"),
  );
  addAgents(allocator, 4, "cpus:1;mem:128");
  allocator.addFramework("a", frameworkInfo("a", ["a"]));
  allocator.addFramework("b", frameworkInfo("b", ["b"]));
  const byFw = offeredByFramework(allocator.allocate().offers);
  assert.equal(byFw.get("a"), 2);
  assert.equal(byFw.get("b"), 2);
});

test("allocator: quota guarantees are satisfied before fair sharing", () => {
  const { allocator } = makeAllocator();
  addAgents(allocator, 8, "cpus:1;mem:128");
  allocator.updateQuota("q", { guarantees: { cpus: { value: 6 } } });
  allocator.addFramework("n", frameworkInfo("n", ["n"]));
  allocator.addFramework("q", frameworkInfo("q", ["q"]));
  const byFw = offeredByFramework(allocator.allocate().offers);
  assert.equal(byFw.get("q"), 6);
  assert.equal(byFw.get("n"), 2);
});

test("allocator: quota limits are never exceeded, cutting an agent if needed", () => {
  const { allocator } = makeAllocator();
  addAgents(allocator, 8, "cpus:1;mem:128");
  allocator.updateQuota("l", { limits: { cpus: { value: 2.5 } } });
  allocator.addFramework("l", frameworkInfo("l", ["l"]));
  const offers = allocator.allocate().offers;
  const cpus = offeredByFramework(offers).get("l") ?? 0;
  assert.equal(cpus, 2.5);
  // The next cycle offers nothing more: the limit is reached.
  assert.equal(allocator.allocate().offers.length, 0);
  assert.match(allocator.explain("l").summary, /quota limit reached/);
});

test("allocator: headroom for an unsatisfied guarantee is held back from other roles", () => {
  const { allocator } = makeAllocator();
  addAgents(allocator, 8, "cpus:1;mem:128");
  allocator.updateQuota("g", { guarantees: { cpus: { value: 4 } } });
  allocator.addFramework("n", frameworkInfo("n", ["n"]));
  const cpus = offeredByFramework(allocator.allocate().offers).get("n") ?? 0;
  assert.equal(cpus, 4);
  assert.match(allocator.explain("n").summary, /held for quota headroom/);
});

test("allocator: a declined agent is not re-offered to that framework until the filter expires", () => {
  const { allocator, clock } = makeAllocator();
  addAgents(allocator, 1, "cpus:4;mem:512");
  allocator.addFramework("f", frameworkInfo("f", ["*"]));
  const [offer] = allocator.allocate().offers;
  assert.ok(offer);
  allocator.recoverResources("f", offer.agentId, offer.resources, { refuse_seconds: 10 });
  assert.equal(allocator.allocate().offers.length, 0);
  assert.match(allocator.explain("f").summary, /1 filtered/);
  clock.advance(9_999);
  assert.equal(allocator.allocate().offers.length, 0);
  clock.advance(1);
  assert.equal(allocator.allocate().offers.length, 1);
});

test("allocator: filters last at least one allocation interval; refuse_seconds 0 installs none", () => {
  const { allocator, clock } = makeAllocator({ allocationIntervalMs: 1000 });
  addAgents(allocator, 1, "cpus:4;mem:512");
  allocator.addFramework("f", frameworkInfo("f", ["*"]));
  let [offer] = allocator.allocate().offers;
  assert.ok(offer);
  allocator.recoverResources("f", offer.agentId, offer.resources, { refuse_seconds: 0.1 });
  clock.advance(500);
  assert.equal(allocator.allocate().offers.length, 0);
  clock.advance(500);
  [offer] = allocator.allocate().offers;
  assert.ok(offer);
  allocator.recoverResources("f", offer.agentId, offer.resources, { refuse_seconds: 0 });
  assert.equal(allocator.allocate().offers.length, 1);
});

test("allocator: a filtered agent still goes to another framework", () => {
  const { allocator } = makeAllocator();
  addAgents(allocator, 1, "cpus:4;mem:512");
  allocator.addFramework("f", frameworkInfo("f", ["*"]));
  allocator.addFramework("g", frameworkInfo("g", ["*"]));
  const [first] = allocator.allocate().offers;
  assert.ok(first);
  allocator.recoverResources(first.frameworkId, first.agentId, first.resources, {
    refuse_seconds: 60,
  });
  const [second] = allocator.allocate().offers;
  assert.ok(second);
  assert.notEqual(second.frameworkId, first.frameworkId);
});

test("allocator: revive clears filters", () => {
  const { allocator } = makeAllocator();
  addAgents(allocator, 2, "cpus:4;mem:512");
  allocator.addFramework("f", frameworkInfo("f", ["*"]));
  const offers = allocator.allocate().offers;
  assert.equal(offers.length, 2);
  for (const o of offers)
    allocator.recoverResources("f", o.agentId, o.resources, { refuse_seconds: 3600 });
  assert.equal(allocator.allocate().offers.length, 0);
  allocator.reviveOffers("f");
  assert.equal(allocator.allocate().offers.length, 2);
});

test("allocator: a filter only covers what was refused; more resources are offered again", () => {
  const { allocator } = makeAllocator();
  addAgents(allocator, 1, "cpus:4;mem:512");
  allocator.addFramework("f", frameworkInfo("f", ["*"]));
  const [offer] = allocator.allocate().offers;
  assert.ok(offer);
  // Launch a task with half, decline the rest for an hour.
  const used = res("cpus:2;mem:256").allocate("*");
  allocator.recoverResources("f", offer.agentId, offer.resources.minus(used), {
    refuse_seconds: 3600,
  });
  assert.equal(allocator.allocate().offers.length, 0);
  // The task ends: now more is available than was refused.
  allocator.recoverResources("f", offer.agentId, used, undefined, true);
  const [again] = allocator.allocate().offers;
  assert.equal(again?.resources.getScalar("cpus"), 4);
});

test("allocator: suppressed roles get nothing until revived", () => {
  const { allocator } = makeAllocator();
  addAgents(allocator, 2, "cpus:4;mem:512");
  allocator.addFramework("f", frameworkInfo("f", ["a", "b"]));
  allocator.suppressOffers("f", ["a"]);
  let offers = allocator.allocate().offers;
  assert.equal(offers.length, 2);
  assert.ok(offers.every((o) => o.role === "b"));
  declineAll(allocator, offers);
  allocator.suppressOffers("f");
  assert.equal(allocator.allocate().offers.length, 0);
  assert.match(allocator.explain("f").summary, /suppressed/);
  allocator.reviveOffers("f", ["a"]);
  offers = allocator.allocate().offers;
  assert.equal(offers.length, 2);
  assert.ok(offers.every((o) => o.role === "a"));
});

test("allocator: framework options can start with suppressed roles and updateFramework revives", () => {
  const { allocator } = makeAllocator();
  addAgents(allocator, 1, "cpus:4;mem:512");
  allocator.addFramework("f", frameworkInfo("f", ["a"]), new Map(), true, {
    suppressedRoles: ["a"],
  });
  assert.equal(allocator.allocate().offers.length, 0);
  allocator.updateFramework("f", frameworkInfo("f", ["a"]), { suppressedRoles: [] });
  assert.equal(allocator.allocate().offers.length, 1);
});

test("allocator: only whitelisted agents give offers", () => {
  const { allocator } = makeAllocator();
  addAgents(allocator, 3, "cpus:4;mem:512");
  allocator.addFramework("f", frameworkInfo("f", ["*"]));
  allocator.updateWhitelist(["agent-1"]);
  const offers = allocator.allocate().offers;
  assert.deepEqual(
    offers.map((o) => o.agentId),
    ["agent-1"],
  );
  allocator.updateWhitelist(undefined);
  assert.equal(allocator.allocate().offers.length, 2);
});

test("allocator: only roles in --roles receive offers", () => {
  const { allocator } = makeAllocator({ roleWhitelist: ["good"] });
  addAgents(allocator, 2, "cpus:4;mem:512");
  allocator.addFramework("f", frameworkInfo("f", ["bad"]));
  assert.equal(allocator.allocate().offers.length, 0);
  assert.match(allocator.explain("f").summary, /not in --roles/);
  allocator.addFramework("g", frameworkInfo("g", ["good"]));
  assert.equal(allocator.allocate().offers.length, 2);
});

test("allocator: deactivated frameworks and agents get and give nothing", () => {
  const { allocator } = makeAllocator();
  addAgents(allocator, 2, "cpus:4;mem:512");
  allocator.addFramework("f", frameworkInfo("f", ["*"]));
  allocator.deactivateFramework("f");
  assert.equal(allocator.allocate().offers.length, 0);
  assert.equal(allocator.explain("f").blocked, "FRAMEWORK_INACTIVE");
  allocator.activateFramework("f");
  allocator.deactivateAgent("agent-0");
  const offers = allocator.allocate().offers;
  assert.deepEqual(
    offers.map((o) => o.agentId),
    ["agent-1"],
  );
  allocator.activateAgent("agent-0");
  assert.equal(allocator.allocate().offers.length, 1);
});

test("allocator: revocable resources only go to REVOCABLE_RESOURCES frameworks", () => {
  const { allocator } = makeAllocator();
  const total = res("cpus:2;mem:256").plus(
    res("cpus:8")
      .toArray()
      .map((r) => ({ ...r, revocable: {} })),
  );
  allocator.addAgent("s", { hostname: "s" }, AGENT_CAPABILITIES, undefined, total);
  allocator.addFramework("plain", frameworkInfo("plain", ["*"]));
  let [offer] = allocator.allocate().offers;
  assert.ok(offer);
  assert.equal(offer.resources.revocable().isEmpty(), true);
  assert.equal(offer.resources.getScalar("cpus"), 2);
  allocator.addFramework("rev", frameworkInfo("rev", ["*"], ["REVOCABLE_RESOURCES"]));
  [offer] = allocator.allocate().offers;
  assert.equal(offer?.frameworkId, "rev");
  assert.equal(offer?.resources.revocable().getScalar("cpus"), 8);
});

test("allocator: agents with GPUs only give offers to GPU_RESOURCES frameworks", () => {
  const { allocator } = makeAllocator();
  addAgents(allocator, 1, "cpus:4;mem:512;gpus:1", "gpu");
  allocator.addFramework("cpu", frameworkInfo("cpu", ["*"]));
  assert.equal(allocator.allocate().offers.length, 0);
  assert.match(allocator.explain("cpu").summary, /GPU agent/);
  allocator.addFramework("gpu", frameworkInfo("gpu", ["*"], ["GPU_RESOURCES"]));
  const [offer] = allocator.allocate().offers;
  assert.equal(offer?.frameworkId, "gpu");
  assert.equal(offer?.resources.getScalar("gpus"), 1);
});

test("allocator: offers from agents under maintenance carry the unavailability; users get inverse offers", () => {
  const { allocator } = makeAllocator();
  const window = { start: { nanoseconds: 5e18 }, duration: { nanoseconds: 3.6e12 } };
  allocator.addAgent("m", { hostname: "m" }, AGENT_CAPABILITIES, window, res("cpus:4;mem:512"));
  allocator.addFramework("f", frameworkInfo("f", ["*"]));
  const result = allocator.allocate();
  assert.deepEqual(result.offers[0]?.unavailability, window);
  // The framework now holds resources there: it is asked to give them back.
  assert.deepEqual(
    result.inverseOffers.map((o) => [o.frameworkId, o.agentId]),
    [["f", "m"]],
  );
  // Outstanding inverse offers are not repeated until answered.
  assert.equal(allocator.allocate().inverseOffers.length, 0);
  allocator.updateInverseOffer("m", "f", { status: "ACCEPT" });
  assert.equal(allocator.getInverseOfferStatuses().get("m")?.get("f")?.status, "ACCEPT");
});

test("allocator: offers never include what is already offered; recovered resources come back", () => {
  const { allocator } = makeAllocator();
  addAgents(allocator, 1, "cpus:4;mem:512;ports:[31000-32000]");
  allocator.addFramework("f", frameworkInfo("f", ["*"]));
  allocator.addFramework("g", frameworkInfo("g", ["*"]));
  const [offer] = allocator.allocate().offers;
  assert.ok(offer);
  assert.equal(allocator.allocate().offers.length, 0);
  allocator.recoverResources(offer.frameworkId, offer.agentId, offer.resources);
  const [again] = allocator.allocate().offers;
  assert.ok(again?.resources.unallocated().equals(offer.resources.unallocated()));
});

test("allocator: min_allocatable_resources keeps tiny leftovers out of offers", () => {
  const { allocator } = makeAllocator();
  addAgents(allocator, 1, "cpus:0.005;mem:16");
  allocator.addFramework("f", frameworkInfo("f", ["*"]));
  assert.equal(allocator.allocate().offers.length, 0);
  assert.match(allocator.explain("f").summary, /below minimum allocatable/);
  // A framework's own offer_filters override the global minimum for its role.
  allocator.addFramework("tiny", {
    ...frameworkInfo("tiny", ["*"]),
    offer_filters: { "*": { min_allocatable_resources: { quantities: [] } } },
  });
  assert.equal(allocator.allocate().offers[0]?.frameworkId, "tiny");
});

test("allocator: removing a framework returns its offered resources", () => {
  const { allocator } = makeAllocator();
  addAgents(allocator, 1, "cpus:4;mem:512");
  allocator.addFramework("f", frameworkInfo("f", ["*"]));
  allocator.addFramework("g", frameworkInfo("g", ["*"]));
  const [offer] = allocator.allocate().offers;
  assert.ok(offer);
  allocator.removeFramework(offer.frameworkId);
  const [again] = allocator.allocate().offers;
  assert.ok(again);
  assert.notEqual(again.frameworkId, offer.frameworkId);
});

test("allocator: agents and frameworks recovered with used resources are accounted", () => {
  const { allocator } = makeAllocator();
  const used = res("cpus:3;mem:256").allocate("a");
  allocator.addAgent(
    "s",
    { hostname: "s" },
    AGENT_CAPABILITIES,
    undefined,
    res("cpus:4;mem:512"),
    new Map([["f", used]]),
  );
  allocator.addFramework("f", frameworkInfo("f", ["a"]), new Map([["s", used]]));
  allocator.addFramework("g", frameworkInfo("g", ["b"]));
  const [offer] = allocator.allocate().offers;
  // g (no allocation) is ahead of f in DRF order and gets the remaining cpu.
  assert.equal(offer?.frameworkId, "g");
  assert.equal(offer?.resources.getScalar("cpus"), 1);
  const roles = allocator.roleSummary();
  assert.equal(roles.find((r) => r.role === "a")?.quotaConsumed.cpus, 3);
});

test("allocator: updateAllocation applies a RESERVE to offered resources and the agent total", () => {
  const { allocator } = makeAllocator();
  addAgents(allocator, 1, "cpus:4;mem:512");
  allocator.addFramework("f", frameworkInfo("f", ["r"]));
  const [offer] = allocator.allocate().offers;
  assert.ok(offer);
  const consumed = res("cpus:2").allocate("r");
  const converted = res("cpus:2")
    .pushReservation({ type: "DYNAMIC", role: "r", principal: "p" })
    .allocate("r");
  const result = allocator.updateAllocation("f", offer.agentId, offer.resources, [
    { consumed, converted },
  ]);
  assert.deepEqual(result, { ok: true });
  allocator.recoverResources("f", offer.agentId, offer.resources.minus(consumed).plus(converted));
  const [again] = allocator.allocate().offers;
  assert.equal(again?.resources.reserved("r").getScalar("cpus"), 2);
  assert.equal(allocator.roleSummary().find((r) => r.role === "r")?.reserved.cpus, 2);
});

test("allocator: updateAvailable reserves unoffered resources, and fails on offered ones", () => {
  const { allocator } = makeAllocator();
  addAgents(allocator, 1, "cpus:4;mem:512");
  const reserve = {
    consumed: res("cpus:1"),
    converted: res("cpus:1").pushReservation({ type: "DYNAMIC", role: "ops" }),
  };
  assert.deepEqual(allocator.updateAvailable("agent-0", [reserve]), { ok: true });
  allocator.addFramework("f", frameworkInfo("f", ["ops"]));
  allocator.allocate();
  const failed = allocator.updateAvailable("agent-0", [reserve]);
  assert.equal(failed.ok, false);
});

test("allocator: pause stops allocation and recovery resumes when enough agents return", () => {
  const { allocator, clock } = makeAllocator({ recoveryTimeoutMs: 60_000 });
  allocator.recover(4, new Map([["q", { guarantees: { cpus: { value: 1 } } }]]));
  addAgents(allocator, 2, "cpus:1;mem:128");
  allocator.addFramework("f", frameworkInfo("f", ["*"]));
  assert.equal(allocator.allocate().stats.skipped.ALLOCATION_PAUSED, 1);
  assert.equal(allocator.explain("f").blocked, "ALLOCATION_PAUSED");
  addAgents(allocator, 2, "cpus:1;mem:128", "late");
  // 0.8 * 4 = 3 agents are enough.
  assert.equal(allocator.paused, false);
  allocator.pause();
  clock.advance(1000);
  assert.equal(allocator.allocate().offers.length, 0);
  allocator.resume();
  assert.equal(allocator.allocate().offers.length, 4);
});

test("allocator: recovery resumes after the timeout even when agents stay away", () => {
  const { allocator, clock } = makeAllocator({ recoveryTimeoutMs: 60_000 });
  allocator.recover(10, new Map([["q", { guarantees: { cpus: { value: 1 } } }]]));
  addAgents(allocator, 1, "cpus:1;mem:128");
  allocator.addFramework("f", frameworkInfo("f", ["*"]));
  assert.equal(allocator.allocate().offers.length, 0);
  clock.advance(60_000);
  assert.equal(allocator.allocate().offers.length, 1);
});

test("allocator: the random sorters still give every framework offers", () => {
  const { allocator } = makeAllocator({ roleSorter: "random", frameworkSorter: "random" });
  addAgents(allocator, 40, "cpus:1;mem:128");
  for (const id of ["a", "b", "c", "d"]) allocator.addFramework(id, frameworkInfo(id, [id]));
  const byFw = offeredByFramework(allocator.allocate().offers);
  assert.equal(
    [...byFw.values()].reduce((a, b) => a + b, 0),
    40,
  );
  assert.equal(byFw.size, 4);
});

test("allocator: requestResources is accepted and changes nothing", () => {
  const { allocator } = makeAllocator();
  addAgents(allocator, 1, "cpus:1;mem:128");
  allocator.addFramework("f", frameworkInfo("f", ["*"]));
  allocator.requestResources("f", [{}]);
  assert.equal(allocator.allocate().offers.length, 1);
});

test("allocator: a cycle run in slices makes the same offers and reports its slices", async () => {
  const { allocator } = makeAllocator();
  addAgents(allocator, 200, "cpus:1;mem:128");
  allocator.addFramework("f", frameworkInfo("f", ["*"]));
  const delivered: OfferAllocation[] = [];
  const result = await allocator.allocateInSlices({
    sliceMs: 0,
    yieldToEventLoop: () => Promise.resolve(),
    onOffers: (offers) => delivered.push(...offers),
  });
  assert.equal(result.offers.length, 200);
  assert.equal(delivered.length, 200);
  assert.ok(result.stats.slices > 1);
});

test("allocator: when nearly all frameworks refused an agent, the one left lowest in DRF order gets it", () => {
  const { allocator } = makeAllocator();
  addAgents(allocator, 1, "cpus:4;mem:512", "s");
  const ids = Array.from({ length: 20 }, (_, i) => `f${i}`);
  for (const id of ids) allocator.addFramework(id, frameworkInfo(id, ["*"]));
  const refused = new Set<string>();
  while (refused.size < 18) {
    const [offer] = allocator.allocate().offers;
    assert.ok(offer);
    allocator.recoverResources(offer.frameworkId, offer.agentId, offer.resources, {
      refuse_seconds: 3600,
    });
    refused.add(offer.frameworkId);
  }
  const [heavy, light] = ids.filter((id) => !refused.has(id)) as [string, string];
  // Give one of the two left a large allocation elsewhere: the other must win.
  const used = res("cpus:64;mem:8192").allocate("*");
  allocator.addAgent(
    "big",
    { hostname: "big" },
    AGENT_CAPABILITIES,
    undefined,
    res("cpus:64;mem:8192"),
    new Map([[heavy, used]]),
  );
  const offers = allocator.allocate().offers;
  assert.deepEqual(
    offers.map((o) => [o.agentId, o.frameworkId]),
    [["s-0", light]],
  );
});

test("allocator: role accounting and dominant shares follow offers", () => {
  const { allocator } = makeAllocator();
  addAgents(allocator, 4, "cpus:1;mem:128");
  allocator.updateQuota("a", { limits: { cpus: { value: 3 } } });
  allocator.addFramework("f", frameworkInfo("f", ["a"]));
  allocator.allocate();
  const a = allocator.roleAccounting("a");
  assert.equal(a?.offeredOrAllocated.cpus, 3);
  assert.equal(a?.limits.cpus, 3);
  assert.deepEqual(a?.frameworks, ["f"]);
  // Memory has no limit: all four agents' memory went out, so mem dominates.
  assert.equal(a?.offeredOrAllocated.mem, 512);
  assert.equal(allocator.dominantShare("a"), 1);
  assert.equal(allocator.dominantShare("nobody"), 0);
  assert.equal(allocator.roleAccounting("nobody"), undefined);
});

test("allocator: a shared volume goes only to SHARED_RESOURCES frameworks, once per cycle", () => {
  // No minimum, so the volume is offered even when it is all that is left.
  const { allocator } = makeAllocator({ minAllocatableResources: [] });
  const volume = Resources.from([
    {
      name: "disk",
      type: "SCALAR",
      scalar: { value: 64 },
      reservations: [{ type: "DYNAMIC", role: "r", principal: "p" }],
      disk: { persistence: { id: "v1" }, volume: { mode: "RW", container_path: "data" } },
      shared: {},
    },
  ]);
  allocator.addAgent(
    "s",
    { hostname: "s" },
    AGENT_CAPABILITIES,
    undefined,
    res("cpus:2;mem:256").plus(volume),
  );
  allocator.addFramework("plain", frameworkInfo("plain", ["r"]));
  allocator.addFramework("sharing", frameworkInfo("sharing", ["r"], ["SHARED_RESOURCES"]));
  let volumeOffers = 0;
  for (let cycle = 0; cycle < 3; cycle++) {
    const offers = allocator.allocate().offers;
    const withVolume = offers.filter((o) => !o.resources.shared().isEmpty());
    assert.ok(withVolume.length <= 1, "the shared volume is offered at most once per cycle");
    volumeOffers += withVolume.length;
    for (const o of withVolume) assert.equal(o.frameworkId, "sharing");
    for (const o of offers) {
      allocator.recoverResources(o.frameworkId, o.agentId, o.resources, { refuse_seconds: 0 });
    }
  }
  assert.equal(volumeOffers, 3);
});
