/**
 * Operator endpoints for reservations and persistent volumes:
 * `/master/reserve`, `/master/unreserve`, `/master/create-volumes` and
 * `/master/destroy-volumes` (POST, form-encoded `slaveId` and `resources`
 * or `volumes` as a JSON array of Resource objects; `/reserve` also takes
 * an optional `source` to move existing reservations), and the v1 calls
 * RESERVE_RESOURCES, UNRESERVE_RESOURCES, CREATE_VOLUMES and
 * DESTROY_VOLUMES. Answers: 202 Accepted once applied, 400 with a reason
 * for malformed or invalid requests, 409 when the resources are not
 * available on the agent. Authorization (ACLs) happens before these
 * handlers, in the security layer.
 */
import { principalOf } from "../../common/auth/basic.js";
import { decodeForm } from "../../common/http/form.js";
import type { HttpRequest } from "../../common/http/request.js";
import {
  accepted,
  badRequest,
  conflict,
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
    if (!decoded.ok) return { ok: false, error: `${prefix}${decoded.error.message}` };
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
  const refused = checkOperation(agent, operation, principal);
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
  const refused = checkOperation(agent, operation, principal);
  if (refused !== undefined) return refused;
  return outcomeResponse(applyOperatorOperation(master, agentId, operation, principal));
}
