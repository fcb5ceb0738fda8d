/**
 * Validation of the resource operations (RESERVE, UNRESERVE, CREATE,
 * DESTROY) a framework puts in an ACCEPT call or an operator asks for over
 * HTTP. Checks follow Mesos' rules (messages in its wording where users see
 * them); the resources themselves were validated and upgraded to the
 * post-refinement format before these run.
 */
import {
  formatResource,
  isDynamicallyReserved,
  isPersistentVolume,
  isUnreserved,
  type Resource,
  reservationRole,
} from "../../common/resources/index.js";

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

/** RESERVE: every resource dynamically reserved, principal and roles consistent. */
export function validateReserve(
  resources: readonly Resource[],
  who: OperationRequester,
): string | undefined {
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

/**
 * CREATE: persistent volumes on reserved disk, principal matching, ids not
 * already used on the agent (`existingIds`), container paths relative.
 */
export function validateCreate(
  volumes: readonly Resource[],
  who: OperationRequester,
  existingIds: ReadonlySet<string>,
  sharedCapable: boolean,
): string | undefined {
  if (volumes.length === 0) return "Invalid resources: Resource cannot be empty";
  const seen = new Set<string>();
  for (const v of volumes) {
    if (v.name !== "disk" || v.disk?.persistence === undefined || v.disk.volume === undefined) {
      return `Not a persistent volume: ${show(v)} needs 'disk.persistence' and 'disk.volume'`;
    }
    const id = v.disk.persistence.id;
    if (id === "" || id.includes("/") || id === "." || id === "..") {
      return `Not a persistent volume: persistence id '${id}' is not a valid directory name`;
    }
    if (existingIds.has(id) || seen.has(id)) {
      return `Persistent volume ID '${id}' is already in use`;
    }
    seen.add(id);
    if (v.disk.volume.mode !== "RW") return "Persistent volumes must be created in RW mode";
    if (badContainerPath(v.disk.volume.container_path)) {
      return `Persistent volume container path '${v.disk.volume.container_path}' must be a relative path without '..'`;
    }
    if (isUnreserved(v)) return "Persistent volumes cannot be created from unreserved resources";
    if (v.shared !== undefined && !sharedCapable) {
      return `Create volume operation for '${show(v)}' has been attempted by a framework with no SHARED_RESOURCES capability`;
    }
    if (who.principal !== undefined) {
      const p = v.disk.persistence.principal;
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
    if (!isPersistentVolume(v)) return `Not a persistent volume: ${show(v)}`;
  }
  if (!volumes.every(exists)) return "Persistent volumes not found";
  if (volumes.some(inUse)) return "Persistent volumes in use";
  return undefined;
}
