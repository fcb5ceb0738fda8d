/**
 * Pure checks of what schedulers send about themselves: ids, FrameworkInfo
 * (roles, failover timeout, offer filters) and FrameworkInfo updates. Each
 * returns undefined or a one-line reason, with Mesos' wording.
 */
import type { FrameworkInfo } from "../../common/protocol/generated/mesos-v1.js";
import { validateRole } from "../../common/resources/index.js";

/** Longest id, as Mesos limits ids by the file name limit (NAME_MAX). */
const MAX_ID_LENGTH = 255;

/** Mesos' id rules (tasks, executors, frameworks, agents): non-empty, a usable path component. */
export function validateId(id: string): string | undefined {
  if (id === "") return "ID must not be empty";
  if (Buffer.byteLength(id, "utf8") > MAX_ID_LENGTH) {
    return `ID must not be greater than ${MAX_ID_LENGTH} characters`;
  }
  if (id === "." || id === "..") return `'${id}' is disallowed`;
  // Control characters and path separators would break sandbox paths.
  for (const ch of id) {
    const code = ch.charCodeAt(0);
    if (code < 0x20 || code === 0x7f || ch === "/" || ch === "\\") {
      return `'${id}' contains invalid characters`;
    }
  }
  return undefined;
}

function hasCapability(info: FrameworkInfo, type: string): boolean {
  return (info.capabilities ?? []).some((c) => c.type === type);
}

function validateRoles(info: FrameworkInfo): string | undefined {
  const multiRole = hasCapability(info, "MULTI_ROLE");
  if (multiRole) {
    if (info.role !== undefined) {
      return "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable";
    }
    const seen = new Set<string>();
    const duplicates = new Set<string>();
    for (const role of info.roles ?? []) {
      if (seen.has(role)) duplicates.add(role);
      seen.add(role);
    }
    if (duplicates.size > 0) {
      return `'FrameworkInfo.roles' contains duplicate items: { ${[...duplicates].join(", ")} }`;
    }
    for (const role of info.roles ?? []) {
      const error = validateRole(role);
      if (error !== undefined) return `'FrameworkInfo.roles' contains invalid role: ${error}`;
    }
    return undefined;
  }
  if ((info.roles ?? []).length > 0) {
    return "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable";
  }
  const error = validateRole(info.role ?? "*");
  return error === undefined ? undefined : `'FrameworkInfo.role' is not a valid role: ${error}`;
}

/** Mesos' `validation::framework::validate` plus the master's --roles and root checks. */
export function validateFrameworkInfo(
  info: FrameworkInfo,
  options: { roleWhitelist?: ReadonlySet<string> | undefined; rootSubmissions: boolean },
): string | undefined {
  const roleError = validateRoles(info);
  if (roleError !== undefined) return roleError;
  if (info.id !== undefined && info.id.value !== "") {
    const idError = validateId(info.id.value);
    if (idError !== undefined) return idError;
  }
  for (const filters of Object.values(info.offer_filters ?? {})) {
    for (const q of filters.min_allocatable_resources?.quantities ?? []) {
      const entries = Object.entries(q.quantities ?? {});
      if (entries.length === 0) return "Resource quantities must contain at least one quantity";
      for (const [name, scalar] of entries) {
        const error = scalarValueError(scalar.value);
        if (error !== undefined) return `Invalid resource quantity for '${name}': ${error}`;
      }
    }
  }
  const timeout = info.failover_timeout ?? 0;
  // Mesos only checks that it fits int64 nanoseconds (either sign): a negative
  // timeout is accepted and acts as 0 (the framework is removed at once).
  const nanos = timeout * 1e9;
  if (!Number.isFinite(timeout) || nanos > 2 ** 63 || nanos < -(2 ** 63)) {
    return `The framework failover_timeout (${cppDouble(timeout)}) is invalid`;
  }
  const whitelist = options.roleWhitelist;
  if (whitelist !== undefined) {
    const roles = hasCapability(info, "MULTI_ROLE") ? (info.roles ?? []) : [info.role ?? "*"];
    const invalid = roles.filter((r) => !whitelist.has(r));
    if (invalid.length > 0) {
      return `Roles { ${invalid.join(", ")} } are not present in the master's --roles`;
    }
  }
  if (info.user === "root" && !options.rootSubmissions) {
    return "User 'root' is not allowed to run frameworks without --root_submissions set";
  }
  return undefined;
}

/** Mesos' check of a scalar a user typed in (its wording). */
function scalarValueError(value: number): string | undefined {
  if (Number.isNaN(value)) return "NaN not supported";
  if (!Number.isFinite(value)) return "Infinite values not supported";
  if (value !== 0 && Math.abs(value) < 2.2250738585072014e-308) {
    return "Subnormal values not supported";
  }
  return value < 0 ? "Negative values not supported" : undefined;
}

/** A double as a C++ stream prints it (`%g`, 6 significant digits), as Mesos' messages show it. */
function cppDouble(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  if (value === 0) return "0";
  const [mantissa = "", exponent = "0"] = value.toExponential(5).split("e");
  const exp = Number(exponent);
  if (exp >= -4 && exp < 6) return String(Number(value.toPrecision(6)));
  const digits = mantissa.replace(/\.?0+$/, "");
  const sign = exp < 0 ? "-" : "+";
  return `${digits}e${sign}${String(Math.abs(exp)).padStart(2, "0")}`;
}

/** Fields a framework may not change when it re-subscribes or updates itself. */
export function validateFrameworkUpdate(
  oldInfo: FrameworkInfo,
  newInfo: FrameworkInfo,
): string | undefined {
  if (oldInfo.principal !== newInfo.principal) {
    return "Changing framework's principal is not allowed.";
  }
  if (oldInfo.user !== newInfo.user) {
    return (
      "Updating 'FrameworkInfo.user' is unsupported; attempted to update from " +
      `'${oldInfo.user}' to '${newInfo.user}'`
    );
  }
  const oldCheckpoint = oldInfo.checkpoint ?? false;
  const newCheckpoint = newInfo.checkpoint ?? false;
  if (oldCheckpoint !== newCheckpoint) {
    return (
      "Updating 'FrameworkInfo.checkpoint' is unsupported; attempted to update from " +
      `'${oldCheckpoint}' to '${newCheckpoint}'`
    );
  }
  return undefined;
}

/** Suppressed roles (and offer constraint roles) must be roles of the framework. */
export function validateRoleSubset(
  roles: readonly string[],
  subset: Iterable<string>,
  what: "suppressed" | "constraints",
): string | undefined {
  const known = new Set(roles);
  // Listed once each, sorted, as Mesos prints a set.
  const invalid = [...new Set(subset)].filter((r) => !known.has(r)).sort();
  if (invalid.length === 0) return undefined;
  return what === "suppressed"
    ? `Suppressed roles { ${invalid.join(", ")} } are not contained in the set of roles`
    : `Offer constraints specify \`role_constraints\` for a role '${invalid[0]}'not contained in the set of roles`;
}
