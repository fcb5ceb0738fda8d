/**
 * Validation of the resource operations (RESERVE, UNRESERVE, CREATE,
 * DESTROY) a framework puts in an ACCEPT call or an operator asks for over
 * HTTP. Checks follow Mesos' rules (messages in its wording where users see
 * them); the resources themselves were validated and upgraded to the
 * post-refinement format before these run.
 */

import type { Resource as WireResource } from "../../common/protocol/generated/mesos-v1.js";
import {
  formatResource,
  isDynamicallyReserved,
  isPersistentVolume,
  type Resource,
  Resources,
  reservationRole,
} from "../../common/resources/index.js";
import { validateResourceList } from "./resources.js";

/** Who asks: a framework (its principal and roles) or an operator (no roles). */
export interface OperationRequester {
  /** Authenticated principal (framework principal, or HTTP principal); undefined: none. */
  principal: string | undefined;
  /** Roles of the framework; undefined for operator requests. */
  frameworkRoles: ReadonlySet<string> | undefined;
}

function show(r: Resource): string {
  return formatResource(r);
}

/** The reservation stack of a resource as comparable text. */
function stackKey(r: Resource): string {
  return JSON.stringify(
    (r.reservations ?? []).map((v) => [v.type, v.role, v.principal, v.labels ?? null]),
  );
}

/**
 * RESERVE with a `source` (a reservation update, Mesos 1.10+): both sides
 * non-empty, each side with a single reservation stack, and the same
 * quantities once the reservations are removed.
 */
function validateReservationUpdate(
  source: readonly Resource[],
  target: readonly Resource[],
): string | undefined {
  const uniform = (side: readonly Resource[], what: string): string | undefined => {
    if (side.length === 0) return `Invalid ${what}: Resource cannot be empty`;
    const key = stackKey(side[0] as Resource);
    if (side.some((r) => stackKey(r) !== key)) {
      return `Invalid ${what}: Mixed reservations are not supported ${Resources.from(side).toString()}`;
    }
    return undefined;
  };
  const error = uniform(source, "source") ?? uniform(target, "resources");
  if (error !== undefined) return error;
  const from = Resources.from(source).toUnreserved();
  const to = Resources.from(target).toUnreserved();
  if (!from.equals(to)) {
    return (
      "Source and target resources should refer to identical resource quantities: " +
      `${from.toString()} vs. ${to.toString()}`
    );
  }
  return undefined;
}

/**
 * RESERVE: every resource dynamically reserved, principal and roles
 * consistent; with a `source`, the reservations of `source` are replaced by
 * those of `resources` (see validateReservationUpdate).
 */
export function validateReserve(
  resources: readonly Resource[],
  who: OperationRequester,
  source: readonly Resource[] = [],
): string | undefined {
  if (source.length > 0) {
    const error = validateReservationUpdate(source, resources);
    if (error !== undefined) return error;
  }
  if (resources.length === 0) return "Invalid resources: Resource cannot be empty";
  for (const r of resources) {
    if (!isDynamicallyReserved(r)) return `Resource ${show(r)} is not dynamically reserved`;
    const last = r.reservations?.[r.reservations.length - 1];
    const role = reservationRole(r) ?? "*";
    if (role === "*") return `Invalid resources: reservations to role '*' are not allowed`;
    if (isPersistentVolume(r)) {
      return "A persistent volume cannot be reserved: reserve the disk, then create the volume";
    }
    if (who.principal !== undefined) {
      if (last?.principal === undefined) {
        return (
          `A reserve operation was attempted by principal '${who.principal}', but there is a ` +
          "reserved resource in the request with no principal set"
        );
      }
      if (last.principal !== who.principal) {
        return (
          `A reserve operation was attempted by authenticated principal '${who.principal}', ` +
          `which does not match a reserved resource in the request with principal '${last.principal}'`
        );
      }
    }
    // A refinement must go deeper: the new role is a descendant of the previous one.
    const stack = r.reservations ?? [];
    if (stack.length > 1) {
      const parent = stack[stack.length - 2]?.role ?? "*";
      if (!role.startsWith(`${parent}/`)) {
        return (
          `Invalid reservation: role '${role}' of the new reservation must be a child of ` +
          `'${parent}', the role of the reservation it refines`
        );
      }
    }
    const roles = who.frameworkRoles;
    if (roles !== undefined) {
      const allocated = r.allocation_info?.role;
      if (allocated === undefined) {
        return (
          `A reserve operation was attempted on unallocated resource ${show(r)}, but frameworks ` +
          "can only perform reservations on allocated resources"
        );
      }
      if (allocated !== role) {
        return (
          `A reserve operation was attempted for a resource with role '${role}', but the ` +
          `resource was allocated to role '${allocated}'`
        );
      }
      if (!roles.has(role)) {
        return (
          `A reserve operation was attempted for a resource with role '${role}', but the ` +
          `framework can only reserve resources with roles '${[...roles].join(", ")}'`
        );
      }
    } else if (r.allocation_info !== undefined) {
      return (
        "A reserve operation was attempted with an allocated resource, but the operator API " +
        "only allows reservations to be made to unallocated resources"
      );
    }
  }
  return undefined;
}

/** UNRESERVE: dynamically reserved, and no persistent volume (destroy those first). */
export function validateUnreserve(resources: readonly Resource[]): string | undefined {
  if (resources.length === 0) return "Invalid resources: Resource cannot be empty";
  for (const r of resources) {
    if (!isDynamicallyReserved(r)) return `Resource ${show(r)} is not dynamically reserved`;
    if (isPersistentVolume(r)) {
      return (
        `A dynamically reserved persistent volume ${show(r)} cannot be unreserved directly. ` +
        "Please destroy the persistent volume first then unreserve the resource"
      );
    }
  }
  return undefined;
}

/** A safe relative path inside the sandbox (no `..`, not absolute). */
function badContainerPath(path: string): boolean {
  return path === "" || path.startsWith("/") || path.split("/").some((s) => s === "..");
}

/** `role` + persistence id: Mesos keeps persistence ids unique per role on an agent. */
export function volumeKey(volume: Resource): string {
  return `${reservationRole(volume) ?? "*"}\u0000${volume.disk?.persistence?.id ?? ""}`;
}

/** Mesos' check that a resource is a usable persistent volume (its wording). */
export function persistentVolumeError(v: Resource): string | undefined {
  if (v.disk === undefined) return `Resource ${show(v)} does not have DiskInfo`;
  if (v.disk.persistence === undefined) return "'persistence' is not set in DiskInfo";
  if (v.disk.volume === undefined) return "Expecting 'volume' to be set for persistent volume";
  if (v.disk.volume.mode === "RO") return "Read-only persistent volume not supported";
  return undefined;
}

/** The framework asking for a CREATE (operators have none and may create shared volumes). */
export interface CreatingFramework {
  id: string;
  /** Whether it has the SHARED_RESOURCES capability. */
  sharedCapable: boolean;
}

/**
 * CREATE, in Mesos' order: valid resources and disk infos (reserved disk, a
 * valid persistence id), persistent volumes (RW), ids not already used for
 * the same role on the agent (`existing`, see volumeKey), shared volumes
 * only for frameworks with SHARED_RESOURCES, the requester's principal in
 * `disk.persistence.principal`. Container paths must be relative without
 * `..` (a mesos-ts rule: volumes are linked into the sandbox).
 */
export function validateCreate(
  volumes: readonly Resource[],
  who: OperationRequester,
  existing: ReadonlySet<string>,
  framework: CreatingFramework | undefined,
): string | undefined {
  if (volumes.length === 0) return "Invalid resources: Resource cannot be empty";
  const invalid = validateResourceList(volumes as readonly WireResource[]);
  if (invalid !== undefined) return `Invalid resources: ${invalid}`;
  for (const v of volumes) {
    const error = persistentVolumeError(v);
    if (error !== undefined) return `Not a persistent volume: ${error}`;
  }
  const seen = new Set(existing);
  for (const v of volumes) {
    const key = volumeKey(v);
    if (seen.has(key)) return `Persistence ID '${v.disk?.persistence?.id}' is not unique`;
    seen.add(key);
  }
  for (const v of volumes) {
    const disk = v.disk as NonNullable<Resource["disk"]>;
    const persistence = disk.persistence as NonNullable<typeof disk.persistence>;
    if (v.shared !== undefined && framework !== undefined && !framework.sharedCapable) {
      return (
        `Create volume operation for '${show(v)}' has been attempted by framework ` +
        `'${framework.id}' with no SHARED_RESOURCES capability`
      );
    }
    if (who.principal !== undefined) {
      const p = persistence.principal;
      if (p === undefined) {
        return (
          `Create volume operation attempted by principal '${who.principal}', but there is a ` +
          "volume in the operation with no principal set in 'disk.persistence'"
        );
      }
      if (p !== who.principal) {
        return (
          `Create volume operation attempted by authenticated principal '${who.principal}', ` +
          `which does not match a volume in the operation with principal '${p}' set in 'disk.persistence'`
        );
      }
    }
    const containerPath = (disk.volume as NonNullable<typeof disk.volume>).container_path;
    if (badContainerPath(containerPath)) {
      return `Persistent volume container path '${containerPath}' must be a relative path without '..'`;
    }
  }
  return undefined;
}

/** DESTROY: persistent volumes that exist (in `available`) and are not used by a task. */
export function validateDestroy(
  volumes: readonly Resource[],
  exists: (volume: Resource) => boolean,
  inUse: (volume: Resource) => boolean,
): string | undefined {
  if (volumes.length === 0) return "Invalid resources: Resource cannot be empty";
  for (const v of volumes) {
    const error = persistentVolumeError(v);
    if (error !== undefined) return `Not a persistent volume: ${error}`;
  }
  if (!volumes.every(exists)) return "Persistent volumes not found";
  if (volumes.some(inUse)) return "Persistent volumes in use";
  return undefined;
}
