/**
 * Parsers for the agent's `--resources` flag (and anything else that takes
 * resources as text): either a JSON array of `Resource` objects or the
 * text form `name(role):value;...`, e.g.
 * `cpus:4;mem:2048;cpus(ads):8;ports:[31000-32000,40000-40100];bugs:{a,b,c}`.
 *
 * All functions return error values with a one-line reason and never throw.
 */

import { resourceListFromJson } from "./json-shape.js";
import { flatFromValueRanges, valueRangesFromFlat } from "./ranges.js";
import {
  formatResource,
  isDynamicallyReserved,
  isPersistentVolume,
  isRevocable,
  upgradeResource,
  validateResource,
} from "./resource.js";
import { Resources } from "./resources.js";
import { roundScalar } from "./scalar.js";
import type { Resource, Result, ValueType } from "./types.js";
import { formatValue, parseNumber, parseValue, tokenize } from "./values.js";

const WHITESPACE = /^[ \t\n\r]+|[ \t\n\r]+$/g;

function trim(text: string): string {
  return text.replace(WHITESPACE, "");
}

/**
 * Parses one `name(role):value` value into a `Resource` (post-refinement
 * format; a role other than `*` becomes a STATIC reservation). The value is
 * a scalar, `[ranges]` or `{set}`; text values are rejected.
 */
export function parseResource(name: string, value: string, role: string): Result<Resource> {
  const parsed = parseValue(value);
  if (!parsed.ok) return { ok: false, error: `Bad value for resource '${name}': ${parsed.error}` };
  const v = parsed.value;
  const resource: Resource = { name, type: v.type };
  if (role !== "*") resource.reservations = [{ type: "STATIC", role }];
  switch (v.type) {
    case "SCALAR":
      resource.scalar = { value: roundScalar(v.scalar!.value) };
      break;
    case "RANGES": {
      // Like Mesos, the text form may list overlapping ranges; they are merged
      // here. Inverted ranges are left for validation to reject.
      const ranges = v.ranges!;
      const inverted = ranges.range.some((r) => r.begin > r.end);
      resource.ranges = inverted ? ranges : valueRangesFromFlat(flatFromValueRanges(ranges));
      break;
    }
    case "SET":
      resource.set = v.set!;
      break;
    default: {
      const text = v.text?.value ?? "";
      const n = parseNumber(text);
      const why =
        n === undefined
          ? "is not a number, [ranges] or {set}"
          : n < 0
            ? "is negative"
            : "is not a finite number";
      return { ok: false, error: `Bad value for resource '${name}': '${text}' ${why}` };
    }
  }
  return { ok: true, value: resource };
}

/**
 * Splits the text form into resources without validating them (Mesos'
 * `fromSimpleString`). Empty `;` segments are skipped; the name and role are
 * trimmed; spaces inside the value are ignored.
 */
export function resourcesFromText(text: string, defaultRole = "*"): Result<Resource[]> {
  const out: Resource[] = [];
  for (const token of tokenize(text, ";")) {
    const pair = tokenize(token, ":");
    if (pair.length !== 2) {
      return { ok: false, error: `Bad value for resources, missing or extra ':' in '${token}'` };
    }
    const [left, value] = pair as [string, string];
    let name: string;
    let role: string;
    const open = left.indexOf("(");
    if (open === -1) {
      name = trim(left);
      role = defaultRole;
    } else {
      const close = left.indexOf(")");
      if (close === -1 || close < open) {
        return {
          ok: false,
          error: `Bad value for resources, mismatched parentheses in '${token}'`,
        };
      }
      name = trim(left.slice(0, open));
      role = trim(left.slice(open + 1, close));
    }
    const resource = parseResource(name, value, role);
    if (!resource.ok) return resource;
    out.push(resource.value);
  }
  return { ok: true, value: out };
}

/**
 * Reads a JSON array of resources (Mesos' `fromJSON`): the default role is
 * applied to resources with neither `role` nor `reservations`, then each is
 * converted to the post-refinement format. Not validated.
 */
export function resourcesFromJsonArray(json: unknown, defaultRole = "*"): Result<Resource[]> {
  const list = resourceListFromJson(json);
  if (!list.ok) {
    return { ok: false, error: `Some JSON resources were not formatted properly: ${list.error}` };
  }
  const out: Resource[] = [];
  for (const r of list.value) {
    const withRole =
      r.role === undefined && (r.reservations === undefined || r.reservations.length === 0)
        ? { ...r, role: defaultRole }
        : r;
    // Upgrading an invalid resource could hide the problem, so keep it as is.
    out.push(validateResource(withRole) === undefined ? upgradeResource(withRole) : withRole);
  }
  return { ok: true, value: out };
}

/** Parses `text` as a JSON array when it is one, else as the text form. */
export function resourcesFromString(text: string, defaultRole = "*"): Result<Resource[]> {
  const trimmed = text.trimStart();
  if (trimmed.startsWith("[")) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (Array.isArray(json)) return resourcesFromJsonArray(json, defaultRole);
  }
  return resourcesFromText(text, defaultRole);
}

/**
 * Checks what only programs (not the command line) may specify: persistent
 * volumes, revocable resources and dynamic reservations; and that one name
 * is not used with two types.
 */
export function validateCommandLineResources(resources: Iterable<Resource>): string | undefined {
  const types = new Map<string, ValueType>();
  for (const r of resources) {
    if (isPersistentVolume(r)) return "Persistent volumes cannot be specified at the command line";
    if (isRevocable(r)) {
      return (
        "Revocable resources cannot be specified at the command line; do not include a " +
        "'revocable' key in the resources JSON"
      );
    }
    if (isDynamicallyReserved(r)) {
      return (
        "Dynamic reservations cannot be specified at the command line; do not include a " +
        "reservation with DYNAMIC type in the resources JSON"
      );
    }
    const known = types.get(r.name);
    if (known !== undefined && known !== r.type) {
      return `Resources with the same name ('${r.name}') but different types are not allowed`;
    }
    if (known === undefined) types.set(r.name, r.type);
  }
  return undefined;
}

/**
 * Parses and validates resources given on a command line (Mesos'
 * `Resources::parse`): JSON array or text form, every resource valid, no
 * persistent volumes, revocable resources or dynamic reservations.
 */
export function parseResources(text: string, defaultRole = "*"): Result<Resources> {
  if (typeof text !== "string") return { ok: false, error: "resources must be a string" };
  const roleError = defaultRole === "*" ? undefined : checkRole(defaultRole);
  if (roleError !== undefined) return { ok: false, error: roleError };
  const list = resourcesFromString(text, defaultRole);
  if (!list.ok) return list;
  for (const r of list.value) {
    const error = validateResource(r);
    if (error !== undefined) {
      return { ok: false, error: `Invalid resource '${r.name}': ${error}` };
    }
  }
  const resources = Resources.from(list.value);
  const error = validateCommandLineResources(resources);
  if (error !== undefined) return { ok: false, error };
  return { ok: true, value: resources };
}

function checkRole(role: string): string | undefined {
  const probe: Resource = { name: "x", type: "SCALAR", scalar: { value: 1 }, role };
  const error = validateResource(probe);
  return error === undefined ? undefined : `Invalid default role: ${error}`;
}

/**
 * The `--resources` text form of a collection (`cpus:2;mem(web):10;...`),
 * which `parseResources` reads back. Only what the text form can express is
 * accepted: unreserved or singly STATIC-reserved resources without disk
 * info, revocable, shared or provider markers.
 */
export function resourcesToText(resources: Iterable<Resource>): Result<string> {
  const parts: string[] = [];
  for (const r of resources) {
    const reservations = r.reservations ?? [];
    if (
      reservations.length > 1 ||
      (reservations.length === 1 && reservations[0]!.type !== "STATIC") ||
      r.disk !== undefined ||
      r.revocable !== undefined ||
      r.shared !== undefined ||
      r.provider_id !== undefined ||
      r.allocation_info !== undefined
    ) {
      return { ok: false, error: `Resource '${formatResource(r)}' has no --resources text form` };
    }
    const role = reservations.length === 1 ? (reservations[0]!.role ?? "*") : "*";
    parts.push(`${r.name}(${role}):${formatValue(r)}`);
  }
  return { ok: true, value: parts.join(";") };
}
