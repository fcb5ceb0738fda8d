/**
 * `POST /api/v1/executor` (also `/slave(1)/api/v1/executor`): the v1
 * executor API. SUBSCRIBE answers with a RecordIO stream of events
 * (SUBSCRIBED first); UPDATE, MESSAGE and HEARTBEAT answer 202. The
 * statuses follow Mesos: 400 for bodies that do not decode or validate and
 * for unknown frameworks/executors, 503 for UPDATE and MESSAGE while the
 * agent is still recovering, 403 for calls from an executor that has
 * not subscribed or whose token names another executor (see
 * common/auth/executor-auth.ts), 405, 406, 415, 501 for UNKNOWN.
 */

import { executorClaimsRefusal } from "../../common/auth/executor-auth.js";
import type { HttpRequest } from "../../common/http/request.js";
import {
  accepted,
  badRequest,
  forbidden,
  type HttpResponse,
  notImplemented,
  serviceUnavailable,
} from "../../common/http/response.js";
import {
  checkMethod,
  eventStreamResponse,
  requestContentType,
  responseContentType,
  type V1Result,
} from "../../common/http/v1-api.js";
import type { Call } from "../../common/protocol/generated/mesos-v1-executor.js";
import { codecFor } from "../../common/protocol/index.js";
import type { Agent } from "../agent.js";
import type { ExecutorConnection } from "../executor.js";
import { validateExecutorCall } from "./executor-call-validation.js";

const callCodec = codecFor("mesos.v1.executor.Call");
const eventCodec = codecFor("mesos.v1.executor.Event");

/** Help text of the endpoint (for `/help`). */
export const EXECUTOR_API_HELP =
  "Endpoint for the v1 executor HTTP API: executors SUBSCRIBE (answered with a RecordIO " +
  "stream of events), send UPDATE, MESSAGE and HEARTBEAT calls. JSON or protobuf.";

/**
 * Method, content type and body of an executor call, with Mesos' wording:
 * a protobuf body that does not parse gets no detail, a JSON body missing
 * a required field names it as "Missing required fields".
 */
function decodeExecutorCall(request: HttpRequest): V1Result<Call> {
  const methodError = checkMethod(request);
  if (methodError !== undefined) return { ok: false, response: methodError };
  const type = requestContentType(request);
  if (!type.ok) return type;
  if (type.value === "protobuf") {
    const decoded = callCodec.decodeProtobuf(request.body);
    if (decoded.ok) return decoded;
    return { ok: false, response: badRequest("Failed to parse body into Call protobuf") };
  }
  const decoded = callCodec.decodeJson(request.body);
  if (decoded.ok) return decoded;
  const e = decoded.error;
  const why = e.reason.startsWith("malformed JSON")
    ? `Failed to parse body into JSON: ${e.message}`
    : e.reason === "required field is missing"
      ? `Failed to convert JSON into Call protobuf: Missing required fields: ${e.path}`
      : `Failed to convert JSON into Call protobuf: ${e.message}`;
  return { ok: false, response: badRequest(why) };
}

/** Serves one executor API request. */
export function handleExecutorCall(agent: Agent, request: HttpRequest): HttpResponse {
  const decoded = decodeExecutorCall(request);
  if (!decoded.ok) return decoded.response;
  const call = decoded.value;
  const invalid = validateExecutorCall(call);
  if (invalid !== undefined) return badRequest(`Failed to validate Executor::Call: ${invalid}`);

  let accept: "json" | "protobuf" = "json";
  if (call.type === "SUBSCRIBE") {
    const negotiated = responseContentType(request);
    if (!negotiated.ok) return negotiated.response;
    accept = negotiated.value;
  } else if (call.type === "HEARTBEAT") {
    return accepted();
  } else if (agent.recovering) {
    // Re-subscriptions are what recovery waits for; other calls wait for it to end.
    return serviceUnavailable("Agent has not finished recovery");
  }

  const frameworkId = call.framework_id.value;
  const executorId = call.executor_id.value;
  const found = agent.lookupExecutor(frameworkId, executorId);
  if (found.kind === "no-framework") return badRequest("Framework cannot be found");
  if (found.kind === "no-executor") return badRequest("Executor cannot be found");
  const refusal = executorClaimsRefusal(request, {
    frameworkId,
    executorId,
    containerId: found.containerId,
  });
  if (refusal !== undefined) return forbidden(refusal);
  if (found.state === "REGISTERING" && call.type !== "SUBSCRIBE") {
    return forbidden("Executor is not subscribed");
  }

  switch (call.type) {
    case "SUBSCRIBE": {
      const subscribe = call.subscribe ?? {};
      return eventStreamResponse(eventCodec, accept, {}, (events) => {
        const connection: ExecutorConnection = {
          send: (event) => {
            events.send(event);
          },
          close: () => events.close(),
        };
        events.onClose(() => agent.executorDisconnected(frameworkId, executorId, connection));
        agent.subscribe(frameworkId, executorId, subscribe, connection);
      });
    }
    case "UPDATE":
      if (call.update !== undefined)
        agent.executorUpdate(frameworkId, executorId, call.update.status);
      return accepted();
    case "MESSAGE":
      if (call.message !== undefined)
        agent.executorMessage(frameworkId, executorId, call.message.data);
      return accepted();
    default:
      return notImplemented();
  }
}
