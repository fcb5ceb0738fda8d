/**
 * Operator endpoints for reservations and persistent volumes:
 * `/master/reserve`, `/master/unreserve`, `/master/create-volumes` and
 * `/master/destroy-volumes` (POST, form-encoded `slaveId` and `resources`
 * or `volumes` as a JSON array of Resource objects), and the v1 calls
 * RESERVE_RESOURCES, UNRESERVE_RESOURCES, CREATE_VOLUMES and
 * DESTROY_VOLUMES. Answers: 202 Accepted once applied, 400 with a reason
 * for malformed or invalid requests, 409 when the resources are not
 * available on the agent. Authorization (ACLs) happens before these
 * handlers, in the security layer.
 */
import { principalOf } from "../../common/auth/basic.js";
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
  upgradeResource,
  validateResource,
} from "../../common/resources/index.js";
import type { Master } from "../core/master.js";
import { applyOperatorOperation, type OperatorOutcome } from "../core/operations.js";

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
    `POST form body: slaveId=AGENT_ID&${field}=JSON array of Resource objects.\n` +
    "Answers 202 once applied, 400 for invalid requests, 409 when not available."
  );
}

/** Decodes, validates and upgrades a JSON array of resources. */
export function parseResourceList(
  value: unknown,
  what: string,
): { ok: true; value: Resource[] } | { ok: false; error: string } {
  if (!Array.isArray(value)) return { ok: false, error: `'${what}' must be a JSON array` };
  const out: Resource[] = [];
  for (const item of value) {
    const decoded = resourceCodec.decodeJson(item);
    if (!decoded.ok) {
      return {
        ok: false,
        error: `Failed to convert '${what}' to protobuf: ${decoded.error.message}`,
      };
    }
    const invalid = validateResource(decoded.value as CoreResource);
    if (invalid !== undefined) return { ok: false, error: `Invalid resources: ${invalid}` };
    out.push(upgradeResource(decoded.value as CoreResource) as Resource);
  }
  return { ok: true, value: out };
}

/** The operation for `type` over `resources`. */
export function operationFor(
  type: "RESERVE" | "UNRESERVE" | "CREATE" | "DESTROY",
  resources: Resource[],
): Offer_Operation {
  switch (type) {
    case "RESERVE":
      return { type, reserve: { resources } };
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
  return (request) => {
    if (request.method !== "POST") return methodNotAllowed(["POST"], request.method);
    const form = new URLSearchParams(request.text());
    const agentId = form.get("slaveId");
    if (agentId === null) {
      return badRequest("Missing 'slaveId' query parameter in the request body");
    }
    const text = form.get(field);
    if (text === null) {
      return badRequest(`Missing '${field}' query parameter in the request body`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      return badRequest(`Failed to parse '${field}' as JSON: ${(e as Error).message}`);
    }
    const parsed = parseResourceList(json, field);
    if (!parsed.ok) return badRequest(parsed.error);
    if (!master.agents.has(agentId)) return badRequest(NO_AGENT);
    changed();
    return outcomeResponse(
      applyOperatorOperation(
        master,
        agentId,
        operationFor(type, parsed.value),
        principalOf(request),
      ),
    );
  };
}

/** A v1 RESERVE_RESOURCES / UNRESERVE_RESOURCES / CREATE_VOLUMES / DESTROY_VOLUMES call. */
export function v1ResourceOperation(
  master: Master,
  request: HttpRequest,
  type: "RESERVE" | "UNRESERVE" | "CREATE" | "DESTROY",
  agentId: string | undefined,
  resources: readonly Resource[] | undefined,
): HttpResponse {
  if (agentId === undefined) return badRequest("Expecting 'agent_id' to be present");
  if (!master.agents.has(agentId)) return badRequest(NO_AGENT);
  const list: Resource[] = [];
  for (const r of resources ?? []) {
    const invalid = validateResource(r as CoreResource);
    if (invalid !== undefined) return badRequest(`Invalid resources: ${invalid}`);
    list.push(upgradeResource(r as CoreResource) as Resource);
  }
  return outcomeResponse(
    applyOperatorOperation(master, agentId, operationFor(type, list), principalOf(request)),
  );
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
  if (!master.agents.has(agentId)) return badRequest(NO_AGENT);
  const upgraded: Resource[] = [];
  for (const r of call.addition === undefined ? [call.volume] : [call.volume, call.addition]) {
    const invalid = validateResource(r as CoreResource);
    if (invalid !== undefined) return badRequest(`Invalid resources: ${invalid}`);
    upgraded.push(upgradeResource(r as CoreResource) as Resource);
  }
  const [volume, addition] = upgraded as [Resource, Resource | undefined];
  const operation: Offer_Operation =
    addition !== undefined
      ? { type: "GROW_VOLUME", grow_volume: { volume, addition } }
      : {
          type: "SHRINK_VOLUME",
          shrink_volume: { volume, subtract: call.subtract ?? { value: 0 } },
        };
  return outcomeResponse(applyOperatorOperation(master, agentId, operation, principalOf(request)));
}
