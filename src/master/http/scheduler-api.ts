/**
 * `POST /api/v1/scheduler`: decodes the call (JSON or protobuf), checks it
 * the way Mesos does (status codes and wording), and hands it to the master
 * core. SUBSCRIBE answers with a RecordIO event stream and a
 * `Mesos-Stream-Id`; every other call must carry that id and gets 202
 * (UPDATE_FRAMEWORK: 200), UNKNOWN gets 501.
 */
import type { HttpRequest } from "../../common/http/request.js";
import {
  accepted,
  badRequest,
  forbidden,
  type HttpResponse,
  notImplemented,
  response,
} from "../../common/http/response.js";
import {
  decodeCall,
  eventStreamResponse,
  responseContentType,
  STREAM_ID_HEADER,
} from "../../common/http/v1-api.js";
import { newStreamId } from "../../common/ids/index.js";
import type { Call, Event } from "../../common/protocol/generated/mesos-v1-scheduler.js";
import { codecFor } from "../../common/protocol/index.js";
import type { SchedulerStream } from "../core/io.js";
import type { Master } from "../core/master.js";
import { validateSchedulerCall } from "../validation/scheduler-call.js";

const callCodec = codecFor("mesos.v1.scheduler.Call");
const eventCodec = codecFor("mesos.v1.scheduler.Event");

/** Help text of the endpoint (for `/help`). */
export const SCHEDULER_API_HELP =
  "Endpoint for schedulers to make calls against the master (the v1 scheduler API). " +
  "POST a Call in JSON or protobuf; SUBSCRIBE returns a RecordIO stream of Events.";

/** What the edge reports about calls and events (state version, metrics). */
export interface SchedulerApiHooks {
  /** A call may change master state (also when a stream ends). */
  changed?(): void;
  /** A decoded, valid call of `type` (framework id when known). */
  call?(type: string, frameworkId: string | undefined, resubscribe: boolean): void;
  /** An event went to a framework. */
  event?(frameworkId: string, type: string, offers: number): void;
}

/** Builds the route handler for a master. */
export function schedulerApiHandler(
  master: Master,
  hooks: SchedulerApiHooks = {},
): (request: HttpRequest) => HttpResponse {
  return (request) => handle(master, request, hooks);
}

function handle(master: Master, request: HttpRequest, hooks: SchedulerApiHooks): HttpResponse {
  const decoded = decodeCall(request, callCodec);
  if (!decoded.ok) return decoded.response;
  const call: Call = decoded.value.call;
  hooks.changed?.();
  const invalid = validateSchedulerCall(call);
  if (invalid !== undefined) {
    return badRequest(`Failed to validate scheduler::Call: ${invalid}`);
  }
  if (call.type === "SUBSCRIBE" || call.type === "RECONCILE_OPERATIONS") {
    const accept = responseContentType(request);
    if (!accept.ok) return accept.response;
    if (call.type === "SUBSCRIBE") {
      const id = call.subscribe?.framework_info.id?.value;
      hooks.call?.("SUBSCRIBE", id, id !== undefined && id !== "");
      return subscribe(master, request, call, accept.value, hooks);
    }
  }
  const framework = master.framework(call.framework_id?.value);
  if (framework === undefined) return badRequest("Framework cannot be found");
  if (!framework.connected) return forbidden("Framework is not subscribed");
  const streamId = request.header(STREAM_ID_HEADER);
  if (streamId === undefined) {
    return badRequest("All non-subscribe calls should include the 'Mesos-Stream-Id' header");
  }
  if (streamId !== framework.stream?.streamId) {
    return badRequest(
      `The stream ID '${streamId}' included in this request didn't match the stream ID ` +
        `currently associated with framework ID ${framework.id}`,
    );
  }
  hooks.call?.(call.type ?? "UNKNOWN", framework.id, false);
  switch (call.type) {
    case "TEARDOWN":
      master.teardown(framework);
      return accepted();
    case "ACCEPT":
      if (call.accept !== undefined) master.accept(framework, call.accept);
      return accepted();
    case "DECLINE":
      if (call.decline !== undefined) master.decline(framework, call.decline);
      return accepted();
    case "REVIVE":
      master.revive(framework, call.revive ?? {});
      return accepted();
    case "SUPPRESS":
      master.suppress(framework, call.suppress ?? {});
      return accepted();
    case "KILL":
      if (call.kill !== undefined) master.kill(framework, call.kill);
      return accepted();
    case "SHUTDOWN":
      if (call.shutdown !== undefined) master.shutdown(framework, call.shutdown);
      return accepted();
    case "ACKNOWLEDGE":
      if (call.acknowledge !== undefined) master.acknowledge(framework, call.acknowledge);
      return accepted();
    case "RECONCILE":
      master.reconcile(framework, call.reconcile ?? {});
      return accepted();
    case "MESSAGE":
      if (call.message !== undefined) master.message(framework, call.message);
      return accepted();
    case "REQUEST":
      master.request(framework, call.request ?? {});
      return accepted();
    case "UPDATE_FRAMEWORK": {
      if (call.update_framework === undefined) return accepted();
      const result = master.updateFramework(framework, call.update_framework);
      return response(result.status, result.message);
    }
    case "ACCEPT_INVERSE_OFFERS":
    case "DECLINE_INVERSE_OFFERS":
      // No maintenance yet, so no inverse offers to answer: accepted and ignored.
      master.logger.info(
        `Ignoring ${call.type} call of framework ${framework.id}: no inverse offers`,
      );
      return accepted();
    case "ACKNOWLEDGE_OPERATION_STATUS":
    case "RECONCILE_OPERATIONS":
      // Operations with feedback are not supported yet; nothing to acknowledge or reconcile.
      master.logger.info(`Ignoring ${call.type} call of framework ${framework.id}: no operations`);
      return accepted();
    default:
      master.logger.warn("Received 'UNKNOWN' call");
      return notImplemented();
  }
}

function subscribe(
  master: Master,
  request: HttpRequest,
  call: Call,
  type: "json" | "protobuf",
  hooks: SchedulerApiHooks,
): HttpResponse {
  if (request.header(STREAM_ID_HEADER) !== undefined) {
    return badRequest("Subscribe calls should not include the 'Mesos-Stream-Id' header");
  }
  const subscribeCall = call.subscribe;
  if (subscribeCall === undefined) return badRequest("Expecting 'subscribe' to be present");
  const streamId = newStreamId(master.random);
  return eventStreamResponse(eventCodec, type, { [STREAM_ID_HEADER]: streamId }, (events) => {
    let frameworkId = subscribeCall.framework_info.id?.value;
    const stream: SchedulerStream = {
      streamId,
      send: (event: Event) => {
        if (event.type === "SUBSCRIBED") frameworkId = event.subscribed?.framework_id.value;
        if (frameworkId !== undefined && event.type !== undefined) {
          hooks.event?.(frameworkId, event.type, event.offers?.offers?.length ?? 0);
        }
        events.send(event);
      },
      close: () => events.close(),
      get closed() {
        return events.closed;
      },
    };
    events.onClose(() => {
      hooks.changed?.();
      master.schedulerStreamClosed(stream);
    });
    master.subscribe(stream, subscribeCall);
  });
}
