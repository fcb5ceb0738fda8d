/**
 * `POST /api/v1`: the master's v1 operator API, in JSON or protobuf.
 *
 * Reads answer `200` with a `Response` in the `Accept` encoding; actions
 * (SET_LOGGING_LEVEL, UPDATE_WEIGHTS, TEARDOWN, MARK_AGENT_GONE,
 * DEACTIVATE_AGENT, REACTIVATE_AGENT, DRAIN_AGENT, ...) answer an empty
 * `200`, except the resource operations (RESERVE/UNRESERVE_RESOURCES,
 * CREATE/DESTROY/GROW/SHRINK_VOLUME(S)), which answer `202`; SUBSCRIBE answers
 * the operator event stream. The call is validated (400) before `Accept` is
 * looked at (406), as in Mesos. A call for a feature not built yet (listed in
 * `NOT_YET`) answers `501` with the reason; an UNKNOWN call a bare `501`.
 */

import { forbiddenMessage, requestAuthorized } from "../../common/auth/request-auth.js";
import { shouldGzip } from "../../common/http/content-encoding.js";
import { commonOperatorCall } from "../../common/http/operator-common-calls.js";
import type { OperatorServices } from "../../common/http/operator-processes.js";
import type { HttpRequest } from "../../common/http/request.js";
import {
  type BodyResponse,
  badRequest,
  forbidden,
  type HttpResponse,
  notImplemented,
  ok,
  response,
  streaming,
} from "../../common/http/response.js";
import {
  decodeCall,
  mediaType,
  messageResponse,
  responseContentType,
  type V1ContentType,
} from "../../common/http/v1-api.js";
import type { Call, Response } from "../../common/protocol/generated/mesos-v1-master.js";
import { codecFor } from "../../common/protocol/index.js";
import {
  markAgentGone,
  type OperatorResult,
  operatorDeactivateAgent,
  operatorReactivateAgent,
} from "../core/agent-health.js";
import { clearDrain, drainAgent, drainRefusal, reactivationRefused } from "../core/drain.js";
import type { Master } from "../core/master.js";
import { allOperations } from "../core/operation-tracking.js";
import { operationVisible } from "../core/operations.js";
import { OPERATOR_CALL_INVALID, validateOperatorCall } from "../validation/operator-call.js";
import {
  outcome as maintenanceReply,
  startMaintenance,
  stopMaintenance,
  updateSchedule,
  visibleSchedule,
  visibleStatus,
} from "./maintenance.js";
import type { OperatorEvents } from "./operator-events.js";
import { quotaAuthorizer, reply as quotaReply, roleQuotas } from "./quota.js";
import { v1ResizeVolume, v1ResourceOperation } from "./reservations.js";
import {
  type RoleWeights,
  rescindOffersAfterWeights,
  rolesMessage,
  weightsReply,
} from "./roles.js";
import type { StateDocuments } from "./state-documents.js";
import type { BuildInfo } from "./state-json.js";
import { getAgents, getExecutors, getFrameworks, getTasks } from "./v1-state.js";

const callCodec = codecFor("mesos.v1.master.Call");
const responseCodec = codecFor("mesos.v1.master.Response");

/** Help text of `/api/v1` (for `/help`). */
export const OPERATOR_API_HELP =
  "The v1 operator API of the master.\n" +
  "POST a mesos.v1.master.Call in JSON or protobuf (Content-Type application/json or " +
  "application/x-protobuf); the Response comes in the Accept encoding. SUBSCRIBE answers a " +
  "RecordIO stream of events.";

/** What the operator API works with. */
export interface OperatorApiContext {
  readonly master: Master;
  readonly services: OperatorServices;
  readonly documents: StateDocuments;
  readonly events: OperatorEvents;
  readonly weights: RoleWeights;
  readonly flags: Readonly<Record<string, string>>;
  readonly build: BuildInfo;
  readonly electedTime: number;
  /** Called before a call that may change master state. */
  readonly changed: () => void;
}

/** Calls that need a feature mesos-ts has not built yet, and why. */
const NOT_YET: Partial<Record<NonNullable<Call["type"]>, string>> = {};

/** Mesos' answer to DEACTIVATE_AGENT / DRAIN_AGENT of an agent it has never heard of. */
const UNKNOWN_AGENT = "Unknown agent";

/** Whether the master knows the agent: registered, recovered from the registry, or unreachable. */
function knownAgent(m: Master, agentId: string): boolean {
  return (
    m.agents.has(agentId) || m.recoveredAgents.has(agentId) || m.unreachableAgents.has(agentId)
  );
}

/** Builds the `/api/v1` handler. */
export function operatorApiHandler(
  ctx: OperatorApiContext,
): (request: HttpRequest) => Promise<HttpResponse> {
  return (request) => handle(ctx, request);
}

function reply(message: Response, type: V1ContentType): BodyResponse {
  return messageResponse(responseCodec, message, type);
}

/** DRAIN_AGENT's 403 when the caller may not drain agents (or, with mark_gone, mark them gone). */
function drainDenied(request: HttpRequest, markGone: boolean): BodyResponse | undefined {
  if (!requestAuthorized(request, "drain_agents")) {
    return forbidden(forbiddenMessage(request, "drain agents"));
  }
  if (markGone && !requestAuthorized(request, "mark_agents_gone")) {
    return forbidden(forbiddenMessage(request, "mark agents gone"));
  }
  return undefined;
}

function result(r: OperatorResult): BodyResponse {
  return r.status === 200 ? ok() : response(r.status, r.message);
}

async function handle(ctx: OperatorApiContext, request: HttpRequest): Promise<HttpResponse> {
  const decoded = decodeCall(request, callCodec);
  if (!decoded.ok) return decoded.response;
  const call = decoded.value.call;
  // Mesos validates the call before it looks at `Accept`: a malformed call
  // is a 400 whatever the client accepts.
  const invalid = validateOperatorCall(call);
  if (invalid !== undefined || call.type === undefined) {
    return badRequest(`${OPERATOR_CALL_INVALID}${invalid ?? "Expecting 'type' to be present"}`);
  }
  const callType = call.type;
  const m = ctx.master;
  m.logger.verbose(1, `Processing call ${callType}`);
  const accept = responseContentType(request);
  if (!accept.ok) return accept.response;
  const type = accept.value;
  const notYet = NOT_YET[callType];
  if (notYet !== undefined) return notImplemented(`${callType}: ${notYet} in mesos-ts`);

  // An UNKNOWN call (e.g. a type newer than this master) is a bare 501, as in Mesos.
  if (callType === "UNKNOWN") return notImplemented();
  const common = await commonOperatorCall(call, ctx, (message) => reply(message, type), request);
  if (common !== undefined) return common;

  switch (callType) {
    case "GET_STATE":
      return stateResponse(ctx, type, request);
    case "GET_AGENTS":
      return reply({ type: "GET_AGENTS", get_agents: getAgents(m) }, type);
    case "GET_FRAMEWORKS":
      return reply({ type: "GET_FRAMEWORKS", get_frameworks: getFrameworks(m) }, type);
    case "GET_EXECUTORS":
      return reply({ type: "GET_EXECUTORS", get_executors: getExecutors(m) }, type);
    case "GET_TASKS":
      return reply({ type: "GET_TASKS", get_tasks: getTasks(m) }, type);
    case "GET_ROLES":
      return reply({ type: "GET_ROLES", get_roles: { roles: rolesMessage(m, ctx.weights) } }, type);
    case "GET_WEIGHTS":
      return reply(
        { type: "GET_WEIGHTS", get_weights: { weight_infos: ctx.weights.list() } },
        type,
      );
    case "UPDATE_WEIGHTS": {
      ctx.changed();
      const infos = call.update_weights?.weight_infos ?? [];
      const error = await ctx.weights.update(infos, m.config.roleWhitelist);
      // As PUT /weights: offers made under the old weights are rescinded.
      if (error === undefined) rescindOffersAfterWeights(m, infos);
      return weightsReply(error);
    }
    case "GET_MASTER":
      return reply(
        {
          type: "GET_MASTER",
          get_master: {
            master_info: m.config.info,
            start_time: m.startTime / 1000,
            elected_time: ctx.electedTime / 1000,
          },
        },
        type,
      );
    case "GET_OPERATIONS": {
      // Only operations whose consumed resources' roles the caller may view, as Mesos.
      const visible = allOperations(m).filter((o) =>
        operationVisible(o.info, (role) => requestAuthorized(request, "view_roles", role)),
      );
      return reply({ type: "GET_OPERATIONS", get_operations: { operations: visible } }, type);
    }
    case "GET_QUOTA":
      return reply({ type: "GET_QUOTA", get_quota: { status: roleQuotas(m).status() } }, type);
    case "UPDATE_QUOTA":
      ctx.changed();
      return quotaReply(
        await roleQuotas(m).update(
          call.update_quota?.quota_configs ?? [],
          call.update_quota?.force === true,
          quotaAuthorizer(request),
        ),
      );
    case "SET_QUOTA":
      ctx.changed();
      return quotaReply(
        await roleQuotas(m).set(call.set_quota?.quota_request ?? {}, quotaAuthorizer(request)),
      );
    case "REMOVE_QUOTA":
      ctx.changed();
      return quotaReply(
        await roleQuotas(m).remove(
          call.remove_quota?.role ?? "",
          undefined,
          quotaAuthorizer(request),
        ),
      );
    case "GET_MAINTENANCE_STATUS":
      return reply(
        {
          type: "GET_MAINTENANCE_STATUS",
          get_maintenance_status: { status: visibleStatus(m, request) },
        },
        type,
      );
    case "GET_MAINTENANCE_SCHEDULE":
      return reply(
        {
          type: "GET_MAINTENANCE_SCHEDULE",
          get_maintenance_schedule: { schedule: visibleSchedule(m, request) },
        },
        type,
      );
    case "UPDATE_MAINTENANCE_SCHEDULE": {
      ctx.changed();
      return maintenanceReply(
        await updateSchedule(
          m,
          call.update_maintenance_schedule?.schedule ?? {},
          requestAuthorized(request, "update_maintenance_schedules"),
        ),
      );
    }
    case "START_MAINTENANCE": {
      ctx.changed();
      return maintenanceReply(
        await startMaintenance(
          m,
          call.start_maintenance?.machines ?? [],
          requestAuthorized(request, "start_maintenances"),
        ),
      );
    }
    case "STOP_MAINTENANCE": {
      ctx.changed();
      return maintenanceReply(
        await stopMaintenance(
          m,
          call.stop_maintenance?.machines ?? [],
          requestAuthorized(request, "stop_maintenances"),
        ),
      );
    }
    case "TEARDOWN": {
      ctx.changed();
      const id = call.teardown?.framework_id.value ?? "";
      const framework = m.frameworks.get(id);
      if (framework === undefined) return badRequest("No framework found with specified ID");
      // Asked here too: the security layer skips a framework it did not find,
      // and one may have subscribed under that id since.
      if (!requestAuthorized(request, "teardown_frameworks", framework.info.principal)) {
        return forbidden(forbiddenMessage(request, `teardown ${id}`));
      }
      m.teardown(framework);
      return ok();
    }
    case "MARK_AGENT_GONE":
      ctx.changed();
      return result(await markAgentGone(m, call.mark_agent_gone?.agent_id.value ?? ""));
    case "DEACTIVATE_AGENT": {
      const id = call.deactivate_agent?.agent_id.value ?? "";
      if (!knownAgent(m, id)) return badRequest(UNKNOWN_AGENT);
      ctx.changed();
      return result(await operatorDeactivateAgent(m, id));
    }
    case "REACTIVATE_AGENT": {
      ctx.changed();
      const id = call.reactivate_agent?.agent_id.value ?? "";
      return result(
        await operatorReactivateAgent(
          m,
          id,
          () => reactivationRefused(m, id),
          () => clearDrain(m, id),
        ),
      );
    }
    case "DRAIN_AGENT": {
      const drain = call.drain_agent;
      if (drain === undefined) return badRequest();
      if (!knownAgent(m, drain.agent_id.value)) return badRequest(UNKNOWN_AGENT);
      // The ACLs again for a drain drainAgent will not refuse: the security
      // layer skips them for one it found invalid, which may be valid by now.
      if (drainRefusal(m, drain) === undefined) {
        const denied = drainDenied(request, drain.mark_gone === true);
        if (denied !== undefined) return denied;
      }
      ctx.changed();
      return result(await drainAgent(m, drain));
    }
    case "RESERVE_RESOURCES": {
      ctx.changed();
      const c = call.reserve_resources;
      return v1ResourceOperation(m, request, "RESERVE", c?.agent_id.value, c?.resources, c?.source);
    }
    case "UNRESERVE_RESOURCES": {
      ctx.changed();
      const c = call.unreserve_resources;
      return v1ResourceOperation(m, request, "UNRESERVE", c?.agent_id.value, c?.resources);
    }
    case "CREATE_VOLUMES": {
      ctx.changed();
      const c = call.create_volumes;
      return v1ResourceOperation(m, request, "CREATE", c?.agent_id.value, c?.volumes);
    }
    case "GROW_VOLUME":
    case "SHRINK_VOLUME": {
      const c = call.grow_volume ?? call.shrink_volume;
      if (c === undefined) return badRequest();
      ctx.changed();
      return v1ResizeVolume(m, request, c);
    }
    case "DESTROY_VOLUMES": {
      ctx.changed();
      const c = call.destroy_volumes;
      return v1ResourceOperation(m, request, "DESTROY", c?.agent_id.value, c?.volumes);
    }
    case "SUBSCRIBE":
      return ctx.events.subscribe(type);
    default:
      m.logger.warn(`Received '${callType}' operator call`);
      return notImplemented(`Operator call ${callType} is not implemented`);
  }
}

/**
 * GET_STATE: the cached document (JSON or protobuf), built and written in
 * slices; gzip-encoded for a client that accepts it, as Mesos sends bodies.
 */
async function stateResponse(
  ctx: OperatorApiContext,
  type: V1ContentType,
  request: HttpRequest,
): Promise<HttpResponse> {
  const protobuf = type === "protobuf";
  const doc = protobuf ? await ctx.documents.getStateProtobuf() : await ctx.documents.getState();
  const parts = protobuf ? doc.parts : ['{"type":"GET_STATE","get_state":', ...doc.parts, "}"];
  const gzip = shouldGzip(request.header("accept-encoding"), doc.bytes);
  const headers: Record<string, string> = { "Content-Type": mediaType(type) };
  if (gzip) headers["Content-Encoding"] = "gzip";
  const body = gzip ? await ctx.documents.gzipped(parts) : parts;
  return streaming(200, headers, (stream) => {
    void ctx.documents.send(stream, body);
  });
}
