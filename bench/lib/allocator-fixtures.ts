/**
 * Cluster fixtures for the allocator's tests and benchmarks: resources from
 * Mesos text, framework and agent infos, an allocator on a manual clock.
 */

import { parseResources, type Resource, Resources } from "../../src/common/resources/index.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { seededRandom } from "../../src/common/time/random.js";
import { HierarchicalAllocator } from "../../src/master/allocator/hierarchical-allocator.js";
import type {
  AllocatorOptions,
  CapabilityInfo,
  FrameworkInfo,
  OfferAllocation,
} from "../../src/master/allocator/types.js";

/** Resources from Mesos text (`cpus:2;mem:1024;ports:[31000-32000];cpus(r1):4`). */
export function res(text: string): Resources {
  const parsed = parseResources(text);
  if (!parsed.ok) throw new Error(`bad resources '${text}': ${parsed.error}`);
  return parsed.value;
}

/** Revocable resources from Mesos text. */
export function revocable(text: string): Resources {
  return Resources.from(
    res(text)
      .toArray()
      .map((r): Resource => ({ ...r, revocable: {} })),
  );
}

/** Capabilities of a current Mesos agent. */
export const AGENT_CAPABILITIES: CapabilityInfo[] = [
  { type: "MULTI_ROLE" },
  { type: "HIERARCHICAL_ROLE" },
  { type: "RESERVATION_REFINEMENT" },
];

/** A MULTI_ROLE framework subscribed to `roles`, with extra capabilities. */
export function frameworkInfo(
  id: string,
  roles: string[],
  capabilities: string[] = [],
): FrameworkInfo {
  return {
    id: { value: id },
    name: id,
    roles,
    capabilities: ["MULTI_ROLE", ...capabilities].map((type) => ({ type })),
  };
}

export interface TestCluster {
  allocator: HierarchicalAllocator;
  clock: ManualClock;
}

/** An allocator on a manual clock with a seeded random source. */
export function makeAllocator(options: Partial<AllocatorOptions> = {}, seed = 1): TestCluster {
  const clock = new ManualClock();
  const allocator = new HierarchicalAllocator({ clock, random: seededRandom(seed), ...options });
  return { allocator, clock };
}

/** Adds `count` agents `${prefix}-${i}` with the same resources. */
export function addAgents(
  allocator: HierarchicalAllocator,
  count: number,
  resources: string | Resources,
  prefix = "agent",
): string[] {
  const total = typeof resources === "string" ? res(resources) : resources;
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `${prefix}-${i}`;
    allocator.addAgent(
      id,
      { id: { value: id }, hostname: id },
      AGENT_CAPABILITIES,
      undefined,
      total,
    );
    ids.push(id);
  }
  return ids;
}

/** Sums offered scalar `name` per framework. */
export function offeredByFramework(
  offers: readonly OfferAllocation[],
  name = "cpus",
): Map<string, number> {
  const out = new Map<string, number>();
  for (const o of offers) {
    out.set(o.frameworkId, (out.get(o.frameworkId) ?? 0) + (o.resources.getScalar(name) ?? 0));
  }
  return out;
}
