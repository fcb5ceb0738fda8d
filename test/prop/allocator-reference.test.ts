/**
 * The allocator's indexes and shortcuts (skipping agents every framework
 * refused, memos of fruitless walks, refusals told by one bit, the bitset
 * walk over the few frameworks left, the loads ahead of visits) must never
 * change what is offered. Random clusters and event sequences are run on
 * the allocator and on its straight-port baseline (`baselineForBenchmarks`:
 * the order re-sorted and materialized for every pick, no indexes), with
 * the same seed; every cycle must make the same offers in the same order.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  AGENT_CAPABILITIES,
  frameworkInfo,
  res,
  revocable,
} from "../../bench/lib/allocator-fixtures.js";
import type { Resources } from "../../src/common/resources/index.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { seededRandom } from "../../src/common/time/random.js";
import { HierarchicalAllocator } from "../../src/master/allocator/hierarchical-allocator.js";
import type { OfferAllocation } from "../../src/master/allocator/types.js";

const ROLES = ["a", "b", "a/x"];

const agentArb = fc.record({
  cpus: fc.integer({ min: 1, max: 8 }),
  mem: fc.integer({ min: 1, max: 8 }).map((n) => n * 256),
  ports: fc.boolean(),
  reserved: fc.option(
    fc.record({ role: fc.constantFrom("a", "b"), cpus: fc.integer({ min: 1, max: 3 }) }),
    { nil: undefined },
  ),
  revocable: fc.option(fc.integer({ min: 1, max: 2 }), { nil: undefined }),
});

const frameworkArb = fc.record({
  roles: fc.oneof(
    { weight: 3, arbitrary: fc.constant(["a"]) },
    { weight: 2, arbitrary: fc.subarray(ROLES, { minLength: 1, maxLength: 2 }) },
  ),
  revocable: fc.boolean(),
});

const eventArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ t: "allocate" as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("decline" as const),
      pick: fc.nat(),
      refuse: fc.constantFrom(0, 2, 1000),
    }),
  },
  // Decline everything outstanding (the DeclineOffers pattern: every
  // framework ends up refusing every agent).
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant("declineAll" as const),
      refuse: fc.constantFrom(2, 1000),
    }),
  },
  // Several DeclineOffers rounds in a row: allocate, then decline everything.
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("rounds" as const),
      n: fc.integer({ min: 1, max: 12 }),
      refuse: fc.constantFrom(2, 1000),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("accept" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("finish" as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("advance" as const),
      ms: fc.constantFrom(300, 1_500, 2_500, 4_000, 20_000),
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
  agents: fc.array(agentArb, { minLength: 1, maxLength: 6 }),
  frameworks: fc.array(frameworkArb, { minLength: 1, maxLength: 9 }),
  limitA: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
  events: fc.array(eventArb, { minLength: 1, maxLength: 60 }),
  seed: fc.nat(),
});

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

/** One allocator with the bookkeeping of what is out (same events for both runs). */
class Run {
  readonly clock = new ManualClock();
  readonly allocator: HierarchicalAllocator;
  outstanding: OfferAllocation[] = [];
  inUse: OfferAllocation[] = [];

  constructor(sc: Scenario, baseline: boolean) {
    this.allocator = new HierarchicalAllocator({
      clock: this.clock,
      random: seededRandom(sc.seed),
      allocationIntervalMs: 1000,
      minAllocatableResources: [],
      ...(baseline ? { baselineForBenchmarks: true } : {}),
    });
  }
}

function describe(offers: OfferAllocation[]): string[] {
  return offers.map(
    (o) => `${o.frameworkId}@${o.agentId}/${o.role}: ${(o.resources as Resources).toString()}`,
  );
}

test("allocator reference: indexes and shortcuts make the same offers as the straight port", () => {
  fc.assert(
    fc.property(scenarioArb, (sc) => {
      const runs = [new Run(sc, false), new Run(sc, true)];
      const agentIds = sc.agents.map((_, i) => `s${i}`);
      const fwIds = sc.frameworks.map((_, i) => `f${i}`);
      const fwActive = fwIds.map(() => true);
      const agentActive = agentIds.map(() => true);
      for (const run of runs) {
        const a = run.allocator;
        sc.agents.forEach((spec, i) => {
          let total = res(
            `cpus:${spec.cpus};mem:${spec.mem}${spec.ports ? ";ports:[31000-31009]" : ""}`,
          );
          if (spec.reserved)
            total = total.plus(res(`cpus(${spec.reserved.role}):${spec.reserved.cpus}`));
          if (spec.revocable) total = total.plus(revocable(`cpus:${spec.revocable}`));
          a.addAgent(
            agentIds[i] as string,
            { hostname: `s${i}` },
            AGENT_CAPABILITIES,
            undefined,
            total,
          );
        });
        if (sc.limitA !== undefined) a.updateQuota("a", { limits: { cpus: { value: sc.limitA } } });
        sc.frameworks.forEach((f, i) => {
          const id = fwIds[i] as string;
          a.addFramework(
            id,
            frameworkInfo(id, [...(f.roles ?? [])], f.revocable ? ["REVOCABLE_RESOURCES"] : []),
          );
        });
      }
      const both = (fn: (run: Run) => void) => {
        for (const run of runs) fn(run);
      };
      let cycle = 0;
      const allocateBoth = () => {
        const got = runs.map((run) => {
          const { offers } = run.allocator.allocate();
          run.outstanding.push(...offers);
          return describe(offers);
        });
        assert.deepEqual(got[0], got[1], `cycle ${cycle} differs from the straight port`);
        cycle++;
      };
      const declineAll = (refuse: number) =>
        both((run) => {
          for (const o of run.outstanding) {
            run.allocator.recoverResources(o.frameworkId, o.agentId, o.resources, {
              refuse_seconds: refuse,
            });
          }
          run.outstanding = [];
        });
      for (const e of sc.events) {
        switch (e.t) {
          case "allocate":
            allocateBoth();
            break;
          case "rounds":
            for (let k = 0; k < e.n; k++) {
              allocateBoth();
              declineAll(e.refuse);
            }
            break;
          case "decline":
          case "accept":
          case "finish": {
            both((run) => {
              const list = e.t === "finish" ? run.inUse : run.outstanding;
              if (list.length === 0) return;
              const o = list[e.pick % list.length] as OfferAllocation;
              list.splice(list.indexOf(o), 1);
              if (e.t === "accept") {
                run.allocator.transitionOfferedToAllocated(o.agentId, o.resources);
                run.inUse.push(o);
              } else if (e.t === "decline") {
                run.allocator.recoverResources(
                  o.frameworkId,
                  o.agentId,
                  o.resources,
                  e.refuse === 0 ? undefined : { refuse_seconds: e.refuse },
                );
              } else {
                run.allocator.recoverResources(
                  o.frameworkId,
                  o.agentId,
                  o.resources,
                  undefined,
                  true,
                );
              }
            });
            break;
          }
          case "declineAll":
            declineAll(e.refuse);
            break;
          case "advance":
            both((run) => run.clock.advance(e.ms));
            break;
          case "suppress":
          case "revive": {
            const i = e.fw % fwIds.length;
            const roles: readonly string[] = sc.frameworks[i]?.roles ?? [];
            const role = roles[e.role % roles.length] as string;
            both((run) => {
              if (e.t === "suppress") run.allocator.suppressOffers(fwIds[i] as string, [role]);
              else run.allocator.reviveOffers(fwIds[i] as string, [role]);
            });
            break;
          }
          case "toggleFramework": {
            const i = e.fw % fwIds.length;
            const id = fwIds[i] as string;
            both((run) => {
              if (fwActive[i]) run.allocator.deactivateFramework(id);
              else run.allocator.activateFramework(id);
            });
            fwActive[i] = !fwActive[i];
            break;
          }
          case "toggleAgent": {
            const i = e.agent % agentIds.length;
            const id = agentIds[i] as string;
            both((run) => {
              if (agentActive[i]) run.allocator.deactivateAgent(id);
              else run.allocator.activateAgent(id);
            });
            agentActive[i] = !agentActive[i];
            break;
          }
        }
      }
    }),
    { numRuns: 300 },
  );
});

test("allocator reference: hundreds of frameworks declining (refusal rows growing past 128) make the same offers", () => {
  // Framework indexes past 128 make the agents' refusal rows grow (and move
  // in the slab) while cached: the copies the visit reads must follow.
  const random = seededRandom(11);
  const sc = { seed: 5 } as Scenario;
  const runs = [new Run(sc, false), new Run(sc, true)];
  const fwIds = Array.from({ length: 300 }, (_, i) => `f${i}`);
  for (const run of runs) {
    for (let i = 0; i < 4; i++) {
      run.allocator.addAgent(
        `s${i}`,
        { hostname: `s${i}` },
        AGENT_CAPABILITIES,
        undefined,
        res("cpus:8;mem:2048"),
      );
    }
    for (const id of fwIds.slice(0, 200)) run.allocator.addFramework(id, frameworkInfo(id, ["a"]));
  }
  for (let round = 0; round < 260; round++) {
    const got = runs.map((run) => {
      const { offers } = run.allocator.allocate();
      run.outstanding = offers;
      return describe(offers);
    });
    assert.deepEqual(got[0], got[1], `round ${round} differs from the straight port`);
    const revive = round % 9 === 8 ? fwIds[Math.floor(random.next() * 200)] : undefined;
    for (const run of runs) {
      for (const o of run.outstanding) {
        run.allocator.recoverResources(o.frameworkId, o.agentId, o.resources, {
          refuse_seconds: round % 5 === 4 ? 3 : 1000,
        });
      }
      if (revive !== undefined) run.allocator.reviveOffers(revive, ["a"]);
      if (round === 60) {
        for (const id of fwIds.slice(200)) run.allocator.addFramework(id, frameworkInfo(id, ["a"]));
      }
      run.clock.advance(1000);
    }
  }
});
