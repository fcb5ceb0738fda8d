/**
 * Conversions between wire `Resource` lists (generated protocol types,
 * where repeated fields may be absent) and the `Resources` value type.
 */
import type { Resource as WireResource } from "../common/protocol/generated/mesos-v1.js";
import { Resources, resourceListFromJson } from "../common/resources/index.js";

/**
 * The `Resources` of a wire list. Malformed entries are left out (as
 * `Resources.from` leaves out invalid ones): the master validated them.
 */
export function resourcesOf(list: readonly WireResource[] | undefined): Resources {
  if (list === undefined || list.length === 0) return Resources.empty();
  const parsed = resourceListFromJson(list);
  if (parsed.ok) return Resources.from(parsed.value);
  const out = Resources.empty();
  for (const r of list) {
    const one = resourceListFromJson([r]);
    if (one.ok) out.add(one.value);
  }
  return out;
}

/**
 * The wire form of `resources`. The shapes agree except that the resources
 * module keeps a volume's `image` opaque, which it passes through untouched.
 */
export function wireResources(resources: Resources): WireResource[] {
  return resources.toArray() as unknown as WireResource[];
}
