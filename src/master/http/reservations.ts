/**
 * Operator endpoints for reservations and persistent volumes:
 * `/master/reserve`, `/master/unreserve`, `/master/create-volumes` and
 * `/master/destroy-volumes` (POST, form-encoded `slaveId` and `resources`
 * or `volumes` as a JSON array of Resource objects; `/reserve` also takes
 * an optional `source` to move existing reservations), and the v1 calls
 * RESERVE_RESOURCES, UNRESERVE_RESOURCES, CREATE_VOLUMES and
 * DESTROY_VOLUMES (and GROW_VOLUME / SHRINK_VOLUME). Answers, in Mesos'
 * order: 400 with a reason for a malformed request, an unknown agent,
 * invalid resources or an invalid operation; then 403 when the ACLs refuse
 * it (authorization looks at the validated operation, as Mesos' master
 * does); then 202 Accepted once applied, or 409 when the resources are not
 * available on the agent.
 */
import type { AclAction } from "../../common/auth/acls.js";
import { principalOf } from "../../common/auth/basic.js";
import { forbiddenMessage, requestAuthorized } from "../../common/auth/request-auth.js";
import { decodeForm } from "../../common/http/form.js";
import type { HttpRequest } from "../../common/http/request.js";
import {
  accepted,
  badRequest,
  conflict,
  forbidden,
  type HttpResponse,
  methodNotAllowed,
} from "../../common/http/response.js";
import type { Offer_Operation, Resource } from "../../common/protocol/generated/mesos-v1.js";
import { codecFor } from "../../common/protocol/index.js";
import {
  type Resource as CoreResource,
  formatResource,
  upgradeResource,
  validateResource,
} from "../../common/resources/index.js";
import type { Master } from "../core/master.js";
import {
  applyOperatorOperation,
  type OperatorOutcome,
  validateResourceOperation,
} from "../core/operations.js";
import type { AgentRecord } from "../core/records.js";

const resourceCodec = codecFor<Resource>("mesos.v1.Resource");

/** The four endpoints, their form field and the operation they make. */
export const RESERVATION_ENDPOINTS = {
  "/reserve": { field: "resources", type: "RESERVE" },
  "/unreserve": { field: "resources", type: "UNRESERVE" },
  "/create-volumes": { field: "volumes", type: "CREATE" },
  "/destroy-volumes": { field: "volumes", type: "DESTROY" },
} as const;

export type ReservationEndpoint = keyof typeof RESERVATION_ENDPOINTS;

/** Help text of an endpoint. */
export function reservationHelp(path: ReservationEndpoint): string {
  const { field, type } = RESERVATION_ENDPOINTS[path];
  return (
    `Applies a ${type} operation to an agent's unused resources.\n` +
    `POST form body: slaveId=AGENT_ID&${field}=JSON array of Resource objects` +
    `${type === "RESERVE" ? " [&source=the reserved resources to re-reserve as these]" : ""}.\n` +
    "Answers 202 once applied, 400 for invalid requests, 409 when not available."
  );
}

/**
 * Decodes a JSON array of resources (no validation yet). Errors start with
 * `prefix` (Mesos' wording differs between the endpoints).
 */
export function parseResourceList(
  value: unknown,
  prefix: string,
): { ok: true; value: Resource[] } | { ok: false; error: string } {
  if (!Array.isArray(value)) {
    return { ok: false, error: `${prefix}Unexpected JSON type parsed (not an array)` };
  }
  const out: Resource[] = [];
  for (const item of value) {
    const decoded = resourceCodec.decodeJson(item);
    if (!decoded.ok) return { ok: false, error: `${prefix}${decoded.error.stout}` };
    out.push(decoded.value);
  }
  return { ok: true, value: out };
}

/**
 * Validates each resource and upgrades it to the post-refinement format;
 * a bad one is named as Mesos does: `Resource '<resource>' is invalid: <why>`.
 */
export function validateAndUpgrade(
  resources: readonly Resource[],
): { ok: true; value: Resource[] } | { ok: false; error: string } {
  const out: Resource[] = [];
  for (const r of resources) {
    const invalid = validateResource(r as CoreResource);
    if (invalid !== undefined) {
      return { ok: false, error: `Resource '${describe(r)}' is invalid: ${invalid}` };
    }
    out.push(upgradeResource(r as CoreResource) as Resource);
  }
  return { ok: true, value: out };
}

/** A resource as text, even a malformed one. */
function describe(r: Resource): string {
  try {
    return formatResource(r as CoreResource);
  } catch {
    return r.name;
  }
}

/** `<id> at <pid> (<hostname>)`, how Mesos names an agent in operation errors. */
function agentLabel(agent: AgentRecord): string {
  return `${agent.id} at ${agent.pid} (${agent.info.hostname})`;
}

/**
 * The operator's operation checked against the agent, with Mesos' prefix
 * (`Invalid RESERVE operation on agent ...: `); a volume to destroy is looked
 * up among all the agent's resources, so one a task uses is "in use".
 */
function checkOperation(
  agent: AgentRecord,
  operation: Offer_Operation,
  principal: string | undefined,
): HttpResponse | undefined {
  const type = operation.type ?? "UNKNOWN";
  const error = validateResourceOperation(
    operation,
    { principal, frameworkRoles: undefined },
    agent,
    undefined,
  );
  if (error === undefined) return undefined;
  const where = type === "UNRESERVE" || type === "DESTROY" ? "" : ` on agent ${agentLabel(agent)}`;
  return badRequest(`Invalid ${type} operation${where}: ${error}`);
}

/** One authorization the operation needs: an ACL action on an object (undefined: any object). */
type Authorization = readonly [AclAction, string | undefined];

/** The role of a resource's innermost reservation, `*` when unreserved. */
function reservationRole(r: Resource): string {
  const reservations = r.reservations ?? [];
  return reservations[reservations.length - 1]?.role ?? "*";
}

/** One `action` per distinct reservation role of `resources` (none for an empty list). */
function perRole(action: AclAction, resources: readonly Resource[]): Authorization[] {
  return [...new Set(resources.map(reservationRole))].map((role) => [action, role]);
}

/**
 * unreserve_resources per resource, on the principal of its innermost
 * reservation; resources reserved without a principal need it on any
 * object (once).
 */
function unreserveAuthorizations(resources: readonly Resource[]): Authorization[] {
  const out: Authorization[] = [];
  let anonymous = false;
  for (const r of resources) {
    const principal = r.reservations?.[r.reservations.length - 1]?.principal;
    if (principal === undefined) anonymous = true;
    else out.push(["unreserve_resources", principal]);
  }
  if (anonymous) out.push(["unreserve_resources", undefined]);
  return out;
}

/** `resources` with their innermost reservation removed. */
function popReservation(resources: readonly Resource[]): Resource[] {
  return resources.map((r) => ({ ...r, reservations: (r.reservations ?? []).slice(0, -1) }));
}

/** Equal ReservationInfos, whatever the order of their keys in the request's JSON. */
function sameReservation(a: unknown, b: unknown): boolean {
  const key = (r: unknown) => {
    const v = (r ?? {}) as { type?: string; role?: string; principal?: string; labels?: unknown };
    return JSON.stringify([v.type, v.role, v.principal, canonical(v.labels)]);
  };
  return key(a) === key(b);
}

/** A JSON value with its objects' keys sorted (labels compared by content). */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (typeof v !== "object" || v === null) return v;
  return Object.fromEntries(
    Object.keys(v)
      .sort()
      .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
  );
}

/**
 * What a RESERVE needs, as Mesos' master asks its authorizer: without a
 * `source`, reserve_resources for every role reserved to; with one, the
 * source's reservations above the part it shares with the target must be
 * unreservable (layer by layer), and each new layer reservable.
 */
function reserveAuthorizations(resources: readonly Resource[], source: readonly Resource[]) {
  if (source.length === 0) return perRole("reserve_resources", resources);
  const target = resources[0]?.reservations ?? [];
  const from = source[0]?.reservations ?? [];
  let shared = 0;
  while (
    shared < target.length &&
    shared < from.length &&
    sameReservation(target[shared], from[shared])
  ) {
    shared += 1;
  }
  const out: Authorization[] = [];
  let current: Resource[] = [...source];
  for (let depth = from.length; depth > shared; depth -= 1) {
    out.push(...unreserveAuthorizations(current));
    current = popReservation(current);
  }
  for (const layer of target.slice(shared)) {
    current = current.map((r) => ({ ...r, reservations: [...(r.reservations ?? []), layer] }));
    out.push(...perRole("reserve_resources", current));
  }
  return out;
}

/** The authorizations an operator's (validated, upgraded) operation needs. */
function authorizationsFor(operation: Offer_Operation): Authorization[] {
  switch (operation.type) {
    case "RESERVE":
      return reserveAuthorizations(
        operation.reserve?.resources ?? [],
        operation.reserve?.source ?? [],
      );
    case "UNRESERVE":
      return unreserveAuthorizations(operation.unreserve?.resources ?? []);
    case "CREATE": {
      const roles = perRole("create_volumes", operation.create?.volumes ?? []);
      return roles.length > 0 ? roles : [["create_volumes", undefined]];
    }
    case "DESTROY": {
      const creators = (operation.destroy?.volumes ?? [])
        .filter((v) => v.disk?.persistence !== undefined)
        .map((v): Authorization => ["destroy_volumes", v.disk?.persistence?.principal ?? ""]);
      return creators.length > 0 ? creators : [["destroy_volumes", undefined]];
    }
    case "GROW_VOLUME":
    case "SHRINK_VOLUME": {
      const volume = operation.grow_volume?.volume ?? operation.shrink_volume?.volume;
      return volume === undefined ? [] : [["resize_volumes", reservationRole(volume)]];
    }
    default:
      return [];
  }
}

const WHAT: Readonly<Partial<Record<AclAction, string>>> = {
  reserve_resources: "reserve resources",
  unreserve_resources: "unreserve resources",
  create_volumes: "create volumes",
  destroy_volumes: "destroy volumes",
  resize_volumes: "resize volumes",
};

/** 403 when the ACLs refuse one of the operation's authorizations (after validation, as Mesos). */
function refuseUnauthorized(
  request: HttpRequest,
  operation: Offer_Operation,
): HttpResponse | undefined {
  for (const [action, object] of authorizationsFor(operation)) {
    if (!requestAuthorized(request, action, object)) {
      return forbidden(forbiddenMessage(request, WHAT[action] ?? action));
    }
  }
  return undefined;
}

/** The operation for `type` over `resources` (`source`: a RESERVE that updates reservations). */
export function operationFor(
  type: "RESERVE" | "UNRESERVE" | "CREATE" | "DESTROY",
  resources: Resource[],
  source: Resource[] = [],
): Offer_Operation {
  switch (type) {
    case "RESERVE":
      return { type, reserve: source.length > 0 ? { source, resources } : { resources } };
    case "UNRESERVE":
      return { type, unreserve: { resources } };
    case "CREATE":
      return { type, create: { volumes: resources } };
    case "DESTROY":
      return { type, destroy: { volumes: resources } };
  }
}

/** Mesos' answer to an operation on an agent that is not registered. */
const NO_AGENT = "No agent found with specified ID";

/** An outcome as an HTTP answer. */
export function outcomeResponse(outcome: OperatorOutcome): HttpResponse {
  if (outcome.ok) return accepted();
  return outcome.status === 409 ? conflict(outcome.message) : badRequest(outcome.message);
}

/** The handler of one of the four endpoints. */
export function reservationHandler(
  master: Master,
  path: ReservationEndpoint,
  changed: () => void,
): (request: HttpRequest) => HttpResponse {
  const { field, type } = RESERVATION_ENDPOINTS[path];
  // Mesos words the /reserve parse errors slightly differently from the other three.
  const prefix = `${type === "RESERVE" ? "Error parsing" : "Error in parsing"} '${field}' query parameter in the request body: `;
  return (request) => {
    if (request.method !== "POST") return methodNotAllowed(["POST"], request.method);
    const form = decodeForm(request.text());
    if (!form.ok) return badRequest(`Unable to decode query string: ${form.error}`);
    const agentId = form.value.get("slaveId");
    if (agentId === undefined) {
      return badRequest("Missing 'slaveId' query parameter in the request body");
    }
    const text = form.value.get(field);
    if (text === undefined) {
      return badRequest(`Missing '${field}' query parameter in the request body`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      return badRequest(`${prefix}${(e as Error).message}`);
    }
    const parsed = parseResourceList(json, prefix);
    if (!parsed.ok) return badRequest(parsed.error);
    // `/reserve` also takes an optional `source`: the reserved resources whose
    // reservations `resources` replaces (a reservation update).
    let source: Resource[] = [];
    const sourceText = type === "RESERVE" ? form.value.get("source") : undefined;
    if (sourceText !== undefined) {
      const sourcePrefix = "Error parsing 'source' query parameter in the request body: ";
      let sourceJson: unknown;
      try {
        sourceJson = JSON.parse(sourceText);
      } catch (e) {
        return badRequest(`${sourcePrefix}${(e as Error).message}`);
      }
      const parsedSource = parseResourceList(sourceJson, sourcePrefix);
      if (!parsedSource.ok) return badRequest(parsedSource.error);
      source = parsedSource.value;
    }
    changed();
    return resourceOperation(master, request, type, agentId, parsed.value, source);
  };
}

/**
 * The common path of the four endpoints and their v1 calls, in Mesos' order:
 * the agent must be registered, then the resources valid, then the operation.
 */
function resourceOperation(
  master: Master,
  request: HttpRequest,
  type: "RESERVE" | "UNRESERVE" | "CREATE" | "DESTROY",
  agentId: string,
  resources: readonly Resource[],
  source: readonly Resource[] = [],
): HttpResponse {
  const agent = master.agents.get(agentId);
  if (agent === undefined) return badRequest(NO_AGENT);
  const upgraded = validateAndUpgrade(resources);
  if (!upgraded.ok) return badRequest(upgraded.error);
  const upgradedSource = validateAndUpgrade(source);
  if (!upgradedSource.ok) return badRequest(upgradedSource.error);
  const operation = operationFor(type, upgraded.value, upgradedSource.value);
  const principal = principalOf(request);
  const refused =
    checkOperation(agent, operation, principal) ?? refuseUnauthorized(request, operation);
  if (refused !== undefined) return refused;
  return outcomeResponse(applyOperatorOperation(master, agentId, operation, principal));
}

/**
 * A v1 RESERVE_RESOURCES / UNRESERVE_RESOURCES / CREATE_VOLUMES /
 * DESTROY_VOLUMES call (`source`: RESERVE_RESOURCES' reservation update).
 */
export function v1ResourceOperation(
  master: Master,
  request: HttpRequest,
  type: "RESERVE" | "UNRESERVE" | "CREATE" | "DESTROY",
  agentId: string | undefined,
  resources: readonly Resource[] | undefined,
  source: readonly Resource[] | undefined = undefined,
): HttpResponse {
  if (agentId === undefined) return badRequest("Expecting 'agent_id' to be present");
  return resourceOperation(master, request, type, agentId, resources ?? [], source ?? []);
}

/** A v1 GROW_VOLUME or SHRINK_VOLUME call (on an agent's unused volume). */
export function v1ResizeVolume(
  master: Master,
  request: HttpRequest,
  call: {
    agent_id?: { value: string };
    volume: Resource;
    addition?: Resource;
    subtract?: { value: number };
  },
): HttpResponse {
  const agentId = call.agent_id?.value;
  if (agentId === undefined) return badRequest("Expecting 'agent_id' to be present");
  const agent = master.agents.get(agentId);
  if (agent === undefined) return badRequest(NO_AGENT);
  const upgraded = validateAndUpgrade(
    call.addition === undefined ? [call.volume] : [call.volume, call.addition],
  );
  if (!upgraded.ok) return badRequest(upgraded.error);
  const [volume, addition] = upgraded.value as [Resource, Resource | undefined];
  const operation: Offer_Operation =
    addition !== undefined
      ? { type: "GROW_VOLUME", grow_volume: { volume, addition } }
      : {
          type: "SHRINK_VOLUME",
          shrink_volume: { volume, subtract: call.subtract ?? { value: 0 } },
        };
  const principal = principalOf(request);
  const refused =
    checkOperation(agent, operation, principal) ?? refuseUnauthorized(request, operation);
  if (refused !== undefined) return refused;
  return outcomeResponse(applyOperatorOperation(master, agentId, operation, principal));
}
