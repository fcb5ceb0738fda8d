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
import { decodeCall, eventStreamResponse, responseContentType } from "../../common/http/v1-api.js";
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

/** Serves one executor API request. */
export function handleExecutorCall(agent: Agent, request: HttpRequest): HttpResponse {
  const decoded = decodeCall(request, callCodec);
  if (!decoded.ok) return decoded.response;
  const call = decoded.value.call;
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
