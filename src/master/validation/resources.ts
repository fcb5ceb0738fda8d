/**
 * Checks of the resources a task, executor or operation names, before the
 * master compares them with what was offered.
 */
import type { Resource } from "../../common/protocol/generated/mesos-v1.js";
import {
  type Resource as CoreResource,
  formatResource,
  validateResource,
} from "../../common/resources/index.js";

/** Each resource on its own: name, type, value, reservations, disk info. */
export function validateResourceList(resources: readonly Resource[]): string | undefined {
  for (const r of resources) {
    const error = validateResource(r as CoreResource);
    if (error !== undefined) return `Invalid resources: ${error}`;
  }
  return undefined;
}

/** Every resource must carry the same `allocation_info.role`. */
export function validateAllocatedToSingleRole(resources: readonly Resource[]): string | undefined {
  let role: string | undefined;
  for (const r of resources) {
    const own = r.allocation_info?.role;
    if (own === undefined) return "The resources are not allocated to a role";
    if (role === undefined) role = own;
    else if (own !== role) {
      return (
        `The resources have multiple allocation roles ('${own}' and '${role}') ` +
        "but only one allocation role is allowed"
      );
    }
  }
  return undefined;
}

/** Revocable and non-revocable resources may not be mixed (Mesos rule). */
export function validateRevocableMix(resources: readonly Resource[]): string | undefined {
  const revocable = resources.filter((r) => r.revocable !== undefined);
  if (revocable.length === 0 || revocable.length === resources.length) return undefined;
  const names = new Set(revocable.map((r) => r.name));
  for (const r of resources) {
    if (r.revocable === undefined && names.has(r.name)) {
      return `Cannot use both revocable and non-revocable '${r.name}' at the same time`;
    }
  }
  return undefined;
}

/** Persistence ids must be unique among the volumes used together. */
export function validateUniquePersistenceId(resources: readonly Resource[]): string | undefined {
  const seen = new Set<string>();
  for (const r of resources) {
    const id = r.disk?.persistence?.id;
    if (id === undefined) continue;
    if (seen.has(id)) return `Persistence ID '${id}' is not unique`;
    seen.add(id);
  }
  return undefined;
}

/** Mesos' text form of a resource list, for messages. */
export function formatResources(resources: readonly Resource[]): string {
  return resources.map((r) => formatResource(r as CoreResource)).join("; ");
}
