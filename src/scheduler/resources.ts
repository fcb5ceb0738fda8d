/**
 * Resource helpers for schedulers: parse the `cpus:1;mem:128` text form,
 * and pick out of an offer the exact resources a task asks for, the way
 * Mesos' `Resources::find` does (reserved to the framework's role first,
 * then unreserved), so the task's resources carry the offer's reservation
 * and `allocation_info`.
 */
import type { Offer, Resource } from "../common/protocol/generated/mesos-v1.js";
import { parseResources, Resources } from "../common/resources/index.js";
import type { Resource as CommonResource } from "../common/resources/types.js";

/** Parsed resources, or a one-line reason. */
export type ResourceParse =
  | { readonly ok: true; readonly resources: Resource[] }
  | { readonly ok: false; readonly error: string };

/** Parses `--resources` text (`cpus:1;mem:128;ports:[31000-31010]`) or a JSON array. */
export function parseResourceText(text: string, role = "*"): ResourceParse {
  const parsed = parseResources(text, role);
  if (!parsed.ok) return parsed;
  return { ok: true, resources: parsed.value.toArray() as Resource[] };
}

/** One unreserved scalar resource (`scalarResource("cpus", 0.5)`). */
export function scalarResource(name: string, value: number): Resource {
  return { name, type: "SCALAR", scalar: { value } };
}

/** An offer's resources as a `Resources` collection (for arithmetic). */
export function offerResources(offer: Offer): Resources {
  return Resources.from((offer.resources ?? []) as CommonResource[]);
}

/**
 * The offered resources that satisfy `required` (unreserved quantities such
 * as `cpus:1;mem:128`), taking first from resources reserved to `role` and
 * then from unreserved ones; each piece keeps the offer's reservation and
 * allocation. Undefined when the offer cannot hold them.
 */
export function findOfferResources(
  offer: Offer,
  required: readonly Resource[],
  role = "*",
): Resource[] | undefined {
  const offered = offerResources(offer);
  let remaining = Resources.from(required as CommonResource[])
    .toUnreserved()
    .unallocated();
  const found = Resources.empty();
  const preferred = role === "*" ? [] : [...offered.reserved(role)];
  const unreserved = [...offered.unreserved()];
  for (const piece of [...preferred, ...unreserved]) {
    if (remaining.isEmpty()) break;
    const bare = Resources.from(piece).toUnreserved().unallocated();
    // What of `remaining` this piece covers: remaining - (remaining - piece).
    const overlap = remaining.minus(remaining.minus(bare));
    if (overlap.isEmpty()) continue;
    for (const part of overlap) {
      found.add(withMetadataOf(piece, part));
    }
    remaining = remaining.minus(overlap);
  }
  if (!remaining.isEmpty()) return undefined;
  if (!offered.contains(found)) return undefined;
  return found.toArray() as Resource[];
}

/** `value`'s quantity with `template`'s reservation, allocation and other metadata. */
function withMetadataOf(template: CommonResource, value: CommonResource): CommonResource {
  const out: CommonResource = { ...template, type: value.type };
  delete out.scalar;
  delete out.ranges;
  delete out.set;
  if (value.scalar !== undefined) out.scalar = value.scalar;
  if (value.ranges !== undefined) out.ranges = value.ranges;
  if (value.set !== undefined) out.set = value.set;
  return out;
}
