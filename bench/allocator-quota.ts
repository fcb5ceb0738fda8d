/**
 * Quota overhead, after Mesos' "NonQuotaVsQuota" benchmark: N agents
 * (`cpus:2;mem:2048;disk:2048`), N roles with one framework each, with and
 * without a quota of one agent per role (guarantee = limit). The first
 * cycle hands out every agent (the same allocations either way); the
 * second finds nothing left. Frameworks keep what they are offered.
 */

import { SystemClock } from "../src/common/time/clock.js";
import { seededRandom } from "../src/common/time/random.js";
import { HierarchicalAllocator } from "../src/master/allocator/hierarchical-allocator.js";
import { AGENT_CAPABILITIES, frameworkInfo, res } from "./lib/allocator-fixtures.js";
import { collectGarbage } from "./lib/report.js";

export interface QuotaResult {
  productive_cycle_ms: number;
  empty_cycle_ms: number;
  offers: number;
}

export function quotaCycle(agents: number, withQuota: boolean): QuotaResult {
  const allocator = new HierarchicalAllocator({
    clock: new SystemClock(),
    random: seededRandom(7),
  });
  const total = res("cpus:2;mem:2048;disk:2048");
  for (let i = 0; i < agents; i++) {
    const id = `agent-${i}`;
    allocator.addAgent(
      id,
      { id: { value: id }, hostname: id },
      AGENT_CAPABILITIES,
      undefined,
      total,
    );
  }
  for (let i = 0; i < agents; i++) {
    const id = `framework-${i}`;
    allocator.addFramework(id, frameworkInfo(id, [`role${i}`]));
  }
  if (withQuota) {
    const q = { cpus: { value: 2 }, mem: { value: 2048 }, disk: { value: 2048 } };
    for (let i = 0; i < agents; i++)
      allocator.updateQuota(`role${i}`, { guarantees: q, limits: q });
  }
  allocator.takeCandidates();
  // Time the cycles, not the collection of setup garbage.
  collectGarbage();
  const t0 = performance.now();
  const first = allocator.allocate();
  const t1 = performance.now();
  const second = allocator.allocate();
  const t2 = performance.now();
  if (second.offers.length !== 0) throw new Error("quota bench: the second cycle made offers");
  return { productive_cycle_ms: t1 - t0, empty_cycle_ms: t2 - t1, offers: first.offers.length };
}

/** `node dist/bench/run.js allocator-quota`: this family only (see bench/allocator.ts). */
export async function run(args: string[]): Promise<void> {
  const { run: runAll } = await import("./allocator.js");
  await runAll(["quota", ...args]);
}

/**
 * Issue 10's case: one allocation cycle over 1,000 agents (`cpus:8;mem:16384`)
 * and 100 roles with one framework each, every role under quota (a guarantee
 * of 5 agents' cpus and a limit of 12) or none. Every offer is then recovered
 * without a filter and the next cycle timed again; returns the median of
 * `cycles` productive cycles.
 */
export function rolesQuotaCycle(withQuota: boolean, cycles = 5): number {
  const allocator = new HierarchicalAllocator({
    clock: new SystemClock(),
    random: seededRandom(11),
  });
  const agents = 1000;
  const roles = 100;
  const total = res("cpus:8;mem:16384");
  for (let i = 0; i < agents; i++) {
    const id = `agent-${i}`;
    allocator.addAgent(
      id,
      { id: { value: id }, hostname: id },
      AGENT_CAPABILITIES,
      undefined,
      total,
    );
  }
  for (let i = 0; i < roles; i++) {
    const id = `framework-${i}`;
    allocator.addFramework(id, frameworkInfo(id, [`role${i}`]));
    if (withQuota) {
      allocator.updateQuota(`role${i}`, {
        guarantees: { cpus: { value: 40 }, mem: { value: 81920 } },
        limits: { cpus: { value: 96 }, mem: { value: 196608 } },
      });
    }
  }
  allocator.takeCandidates();
  collectGarbage();
  const times: number[] = [];
  for (let c = 0; c < cycles; c++) {
    const t0 = performance.now();
    const result = allocator.allocate();
    times.push(performance.now() - t0);
    if (result.offers.length === 0) throw new Error("quota bench: a cycle made no offers");
    for (const o of result.offers)
      allocator.recoverResources(o.frameworkId, o.agentId, o.resources);
    allocator.takeCandidates();
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}
