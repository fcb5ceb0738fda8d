import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  AGENT_CAPABILITIES,
  frameworkInfo,
  res,
  revocable,
} from "../../bench/lib/allocator-fixtures.js";
import { Resources } from "../../src/common/resources/index.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { seededRandom } from "../../src/common/time/random.js";
import { HierarchicalAllocator } from "../../src/master/allocator/hierarchical-allocator.js";
import type { OfferAllocation } from "../../src/master/allocator/types.js";

const ROLES = ["a", "b", "a/x", "c"];
const INTERVAL = 1000;

const agentArb = fc.record({
  cpus: fc.integer({ min: 1, max: 8 }),
  mem: fc.integer({ min: 1, max: 16 }).map((n) => n * 128),
  ports: fc.boolean(),
  reserved: fc.option(
    fc.record({ role: fc.constantFrom("a", "b", "a/x"), cpus: fc.integer({ min: 1, max: 3 }) }),
    {
      nil: undefined,
    },
  ),
  revocable: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
  gpu: fc.boolean(),
});

const frameworkArb = fc.record({
  roles: fc.subarray(ROLES, { minLength: 1, maxLength: 2 }),
  revocable: fc.boolean(),
  gpu: fc.boolean(),
});

const eventArb = fc.oneof(
  { weight: 5, arbitrary: fc.constant({ t: "allocate" as const }) },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant("decline" as const),
      pick: fc.nat(),
      refuse: fc.constantFrom(0, 0.5, 3, 20, 1000),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("accept" as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("finish" as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("advance" as const),
      ms: fc.integer({ min: 100, max: 30_000 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant("suppress" as const), fw: fc.nat(), role: fc.nat() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant("revive" as const), fw: fc.nat(), role: fc.nat() }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("toggleFramework" as const), fw: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("toggleAgent" as const), agent: fc.nat() }) },
);

const scenarioArb = fc.record({
  agents: fc.array(agentArb, { minLength: 1, maxLength: 4 }),
  frameworks: fc.array(frameworkArb, { minLength: 1, maxLength: 4 }),
  limits: fc.option(
    fc.record({ a: fc.integer({ min: 1, max: 6 }), b: fc.integer({ min: 1, max: 6 }) }),
    { nil: undefined },
  ),
  /** Guarantees (at most the limits when both are set). */
  guarantees: fc.option(
    fc.record({ a: fc.integer({ min: 0, max: 6 }), b: fc.integer({ min: 0, max: 6 }) }),
    { nil: undefined },
  ),
  events: fc.array(eventArb, { minLength: 1, maxLength: 40 }),
  seed: fc.nat(),
});

interface ModelFilter {
  fw: string;
  agent: string;
  role: string;
  refused: Resources;
  until: number;
}

function isEligibleReservation(offerRole: string, reservationRole: string): boolean {
  return offerRole === reservationRole || offerRole.startsWith(`${reservationRole}/`);
}

test("allocator properties: random clusters and event sequences keep every invariant", () => {
  fc.assert(
    fc.property(scenarioArb, (sc) => {
      const clock = new ManualClock();
      const allocator = new HierarchicalAllocator({
        clock,
        random: seededRandom(sc.seed),
        allocationIntervalMs: INTERVAL,
        minAllocatableResources: [],
      });
      const totals = new Map<string, Resources>();
      const agentActive = new Map<string, boolean>();
      sc.agents.forEach((a, i) => {
        const id = `s${i}`;
        let total = res(`cpus:${a.cpus};mem:${a.mem}${a.ports ? ";ports:[31000-31009]" : ""}`);
        if (a.reserved) total = total.plus(res(`cpus(${a.reserved.role}):${a.reserved.cpus}`));
        if (a.revocable) total = total.plus(revocable(`cpus:${a.revocable}`));
        if (a.gpu) total = total.plus(res("gpus:1"));
        totals.set(id, total);
        agentActive.set(id, true);
        allocator.addAgent(id, { hostname: id }, AGENT_CAPABILITIES, undefined, total);
      });
      for (const role of ["a", "b"] as const) {
        const limit = sc.limits?.[role];
        const guarantee = sc.guarantees?.[role];
        if (limit === undefined && guarantee === undefined) continue;
        allocator.updateQuota(role, {
          ...(limit !== undefined ? { limits: { cpus: { value: limit } } } : {}),
          ...(guarantee !== undefined
            ? { guarantees: { cpus: { value: Math.min(guarantee, limit ?? guarantee) } } }
            : {}),
        });
      }
      const fws = sc.frameworks.map((f, i) => {
        const id = `f${i}`;
        const caps = [
          ...(f.revocable ? ["REVOCABLE_RESOURCES"] : []),
          ...(f.gpu ? ["GPU_RESOURCES"] : []),
        ];
        allocator.addFramework(id, frameworkInfo(id, f.roles, caps));
        return {
          id,
          roles: f.roles,
          revocable: f.revocable,
          gpu: f.gpu,
          active: true,
          suppressed: new Set<string>(),
        };
      });

      let outstanding: OfferAllocation[] = [];
      let inUse: OfferAllocation[] = [];
      let filters: ModelFilter[] = [];
      const now = () => clock.monotonic();
      const live = (f: ModelFilter) => f.until > now();

      const heldOn = (agent: string) => {
        const sum = Resources.empty();
        for (const o of [...outstanding, ...inUse])
          if (o.agentId === agent) sum.add(o.resources.unallocated());
        return sum;
      };

      const checkInvariants = (fresh: OfferAllocation[]) => {
        // 1/2. Never more than an agent has, never the same resources twice at once.
        for (const [agent, total] of totals) {
          assert.ok(total.contains(heldOn(agent)), `agent ${agent} over-allocated`);
        }
        for (const o of fresh) {
          // 3. Reserved resources only to eligible roles.
          for (const r of o.resources) {
            const owner = r.reservations?.[r.reservations.length - 1]?.role;
            if (owner !== undefined) {
              assert.ok(
                isEligibleReservation(o.role, owner),
                `reserved to ${owner} offered to ${o.role}`,
              );
            }
          }
          // 5. A filtered pair gets nothing until expiry or revive.
          const plain = o.resources.unallocated();
          for (const f of filters) {
            if (f.fw === o.frameworkId && f.agent === o.agentId && f.role === o.role && live(f)) {
              assert.ok(
                !f.refused.contains(plain),
                `filtered pair ${o.frameworkId}/${o.agentId} got an offer`,
              );
            }
          }
          const fw = fws.find((x) => x.id === o.frameworkId);
          assert.ok(fw?.active, "offer to an inactive framework");
          assert.ok(!fw.suppressed.has(o.role), "offer to a suppressed role");
          assert.ok(agentActive.get(o.agentId), "offer from a deactivated agent");
          if (!fw.revocable)
            assert.ok(o.resources.revocable().isEmpty(), "revocable to incapable framework");
          if (!fw.gpu)
            assert.ok(!(totals.get(o.agentId)?.gpus() ?? 0), "GPU agent to incapable framework");
        }
        // 4. Quota limits never exceeded (cpus, with reservations counted).
        if (sc.limits) {
          for (const [role, limit] of Object.entries(sc.limits)) {
            let unreserved = 0;
            for (const o of [...outstanding, ...inUse]) {
              if (o.role !== role && !o.role.startsWith(`${role}/`)) continue;
              unreserved += o.resources.unreserved().nonRevocable().getScalar("cpus") ?? 0;
            }
            let reserved = 0;
            for (const total of totals.values()) {
              for (const [owner, group] of total.reservations()) {
                if (isEligibleReservation(owner, role)) reserved += group.getScalar("cpus") ?? 0;
              }
            }
            assert.ok(
              unreserved + reserved <= Math.max(limit, reserved) + 1e-9,
              `role ${role} consumes ${unreserved + reserved} cpus over its limit ${limit}`,
            );
          }
        }
      };

      // 6. After a cycle nothing offerable is left unoffered (no quota: nothing holds back).
      const checkNothingLeft = () => {
        if (sc.limits || sc.guarantees) return;
        for (const [agent, total] of totals) {
          if (!agentActive.get(agent)) continue;
          const available = total.minus(heldOn(agent));
          for (const fw of fws) {
            if (!fw.active) continue;
            if ((total.gpus() ?? 0) > 0 && !fw.gpu) continue;
            for (const role of fw.roles) {
              if (fw.suppressed.has(role)) continue;
              let offerable = available.allocatableTo(role);
              if (!fw.revocable) offerable = offerable.nonRevocable();
              if (offerable.isEmpty()) continue;
              const filtered = filters.some(
                (f) =>
                  f.fw === fw.id &&
                  f.agent === agent &&
                  f.role === role &&
                  live(f) &&
                  f.refused.contains(offerable),
              );
              assert.ok(
                filtered,
                `${offerable.toString()} on ${agent} left unoffered to ${fw.id}/${role}`,
              );
            }
          }
        }
      };

      for (const e of sc.events) {
        switch (e.t) {
          case "allocate": {
            const { offers } = allocator.allocate();
            outstanding = outstanding.concat(offers);
            checkInvariants(offers);
            checkNothingLeft();
            break;
          }
          case "decline": {
            if (outstanding.length === 0) break;
            const o = outstanding[e.pick % outstanding.length] as OfferAllocation;
            outstanding = outstanding.filter((x) => x !== o);
            allocator.recoverResources(o.frameworkId, o.agentId, o.resources, {
              refuse_seconds: e.refuse,
            });
            if (e.refuse > 0) {
              filters.push({
                fw: o.frameworkId,
                agent: o.agentId,
                role: o.role,
                refused: o.resources.unallocated(),
                until: now() + Math.max(INTERVAL, e.refuse * 1000),
              });
            }
            break;
          }
          case "accept": {
            if (outstanding.length === 0) break;
            const o = outstanding[e.pick % outstanding.length] as OfferAllocation;
            outstanding = outstanding.filter((x) => x !== o);
            allocator.transitionOfferedToAllocated(o.agentId, o.resources);
            inUse.push(o);
            break;
          }
          case "finish": {
            if (inUse.length === 0) break;
            const o = inUse[e.pick % inUse.length] as OfferAllocation;
            inUse = inUse.filter((x) => x !== o);
            allocator.recoverResources(o.frameworkId, o.agentId, o.resources, undefined, true);
            break;
          }
          case "advance":
            clock.advance(e.ms);
            break;
          case "suppress": {
            const fw = fws[e.fw % fws.length];
            if (fw === undefined) break;
            const role = fw.roles[e.role % fw.roles.length] as string;
            allocator.suppressOffers(fw.id, [role]);
            fw.suppressed.add(role);
            break;
          }
          case "revive": {
            const fw = fws[e.fw % fws.length];
            if (fw === undefined) break;
            const role = fw.roles[e.role % fw.roles.length] as string;
            allocator.reviveOffers(fw.id, [role]);
            fw.suppressed.delete(role);
            filters = filters.filter((f) => !(f.fw === fw.id && f.role === role));
            break;
          }
          case "toggleFramework": {
            const fw = fws[e.fw % fws.length];
            if (fw === undefined) break;
            if (fw.active) {
              // The master rescinds the framework's offers when it goes away.
              for (const o of outstanding.filter((x) => x.frameworkId === fw.id)) {
                allocator.recoverResources(o.frameworkId, o.agentId, o.resources);
              }
              outstanding = outstanding.filter((x) => x.frameworkId !== fw.id);
              allocator.deactivateFramework(fw.id);
              filters = filters.filter((f) => f.fw !== fw.id);
            } else {
              allocator.activateFramework(fw.id);
            }
            fw.active = !fw.active;
            break;
          }
          case "toggleAgent": {
            const id = `s${e.agent % sc.agents.length}`;
            if (agentActive.get(id)) {
              for (const o of outstanding.filter((x) => x.agentId === id)) {
                allocator.recoverResources(o.frameworkId, o.agentId, o.resources);
              }
              outstanding = outstanding.filter((x) => x.agentId !== id);
              allocator.deactivateAgent(id);
            } else {
              allocator.activateAgent(id);
            }
            agentActive.set(id, !agentActive.get(id));
            break;
          }
        }
      }
      // Finally: everything returned and revived is offered again.
      for (const o of [...outstanding, ...inUse]) {
        allocator.recoverResources(
          o.frameworkId,
          o.agentId,
          o.resources,
          undefined,
          inUse.includes(o),
        );
      }
      outstanding = [];
      inUse = [];
      for (const fw of fws) {
        if (!fw.active) {
          allocator.activateFramework(fw.id);
          fw.active = true;
        }
        allocator.reviveOffers(fw.id);
        fw.suppressed.clear();
      }
      filters = [];
      for (const [id, active] of agentActive) {
        if (!active) allocator.activateAgent(id);
        agentActive.set(id, true);
      }
      const { offers } = allocator.allocate();
      outstanding = offers;
      checkInvariants(offers);
      checkNothingLeft();
    }),
    { numRuns: 400 },
  );
});
