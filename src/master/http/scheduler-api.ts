/**
 * `POST /api/v1/scheduler`: decodes the call (JSON or protobuf), checks it
 * the way Mesos does (status codes and wording), and hands it to the master
 * core. SUBSCRIBE answers with a RecordIO event stream and a
 * `Mesos-Stream-Id`; every other call must carry that id and gets 202
 * (UPDATE_FRAMEWORK: 200), UNKNOWN gets 501.
 */
import type { AclAction, LocalAuthorizer } from "../../common/auth/acls.js";
import { principalOf } from "../../common/auth/basic.js";
import type { FrameworkRateLimiter } from "../../common/auth/rate-limits.js";
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
import type { Counter, MetricsRegistry } from "../../common/observability/metrics.js";
import type {
  FrameworkInfo,
  Offer_Operation,
  Resource,
  TaskInfo,
} from "../../common/protocol/generated/mesos-v1.js";
import type { Call, Event } from "../../common/protocol/generated/mesos-v1-scheduler.js";
import { codecFor } from "../../common/protocol/index.js";
import { dropOperation } from "../core/accept.js";
import {
  type RegistrationCheck,
  subscribe as subscribeFramework,
  updateFrameworkCall,
} from "../core/frameworks.js";
import type { SchedulerStream } from "../core/io.js";
import type { Master } from "../core/master.js";
import { acknowledgeOperationStatus } from "../core/operation-tracking.js";
import { reconcileOperations } from "../core/reconciliation.js";
import type { FrameworkRecord } from "../core/records.js";
import { validateSchedulerCall } from "../validation/scheduler-call.js";
import { answerInverseOffers } from "./maintenance.js";

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
  /**
   * A decoded, valid call of `type` (framework id when known). Also RECONCILE
   * without a framework id when a KILL of an unknown task is reconciled.
   */
  call?(type: string, frameworkId: string | undefined, resubscribe: boolean): void;
  /** An event went to a framework. */
  event?(frameworkId: string, type: string, offers: number): void;
}

/** What the scheduler API enforces beyond validation (see http/security.ts). */
export interface SchedulerSecurity {
  readonly authorizer: LocalAuthorizer;
  readonly rateLimiter: FrameworkRateLimiter | undefined;
  /** Where `frameworks/<principal>/messages_{received,processed}` go. */
  readonly metrics: MetricsRegistry;
}

/** Security state of one master's scheduler API. */
class SchedulerGate {
  private readonly counters = new Map<string, { received: Counter; processed: Counter }>();

  constructor(readonly security: SchedulerSecurity) {}

  /** Mesos' per-principal message counters, created on first use. */
  count(principal: string | undefined): { received: Counter; processed: Counter } | undefined {
    if (principal === undefined || principal === "") return undefined;
    let c = this.counters.get(principal);
    if (c === undefined) {
      const m = this.security.metrics;
      c = {
        received: m.counter(`frameworks/${principal}/messages_received`),
        processed: m.counter(`frameworks/${principal}/messages_processed`),
      };
      this.counters.set(principal, c);
    }
    return c;
  }
}

const gates = new WeakMap<Master, SchedulerGate>();

/** Turns on authorization and rate limiting for `master`'s scheduler API. */
export function attachSchedulerSecurity(master: Master, security: SchedulerSecurity): void {
  gates.set(master, new SchedulerGate(security));
}

/** Builds the route handler for a master. */
export function schedulerApiHandler(
  master: Master,
  hooks: SchedulerApiHooks = {},
): (request: HttpRequest) => HttpResponse | Promise<HttpResponse> {
  return (request) => handle(master, request, hooks);
}

function handle(
  master: Master,
  request: HttpRequest,
  hooks: SchedulerApiHooks,
): HttpResponse | Promise<HttpResponse> {
  const decoded = decodeCall(request, callCodec);
  if (!decoded.ok) return decoded.response;
  const call: Call = decoded.value.call;
  hooks.changed?.();
  const principal = principalOf(request);
  const invalid = validateSchedulerCall(call) ?? subscribePrincipalError(call, principal);
  if (invalid !== undefined) {
    return badRequest(`Failed to validate scheduler::Call: ${invalid}`);
  }
  if (call.type === "SUBSCRIBE" || call.type === "RECONCILE_OPERATIONS") {
    const accept = responseContentType(request);
    if (!accept.ok) return accept.response;
    if (call.type === "SUBSCRIBE") {
      const id = call.subscribe?.framework_info.id?.value;
      const info = call.subscribe?.framework_info;
      if (principal !== undefined && info !== undefined && info.principal === undefined) {
        // Mesos lets an authenticated framework leave the principal out and fills it in.
        master.logger.warn(
          `Setting 'principal' in FrameworkInfo to '${principal}' because the framework ` +
            "authenticated with that principal but did not set it in FrameworkInfo",
        );
        info.principal = principal;
      }
      const claimed = info?.principal;
      hooks.call?.("SUBSCRIBE", id, id !== undefined && id !== "");
      const counters = gates.get(master)?.count(claimed);
      counters?.received.inc();
      counters?.processed.inc();
      return subscribe(master, request, call, accept.value, hooks);
    }
  }
  const framework = master.framework(call.framework_id?.value);
  if (framework === undefined) return badRequest("Framework cannot be found");
  if (principal !== undefined && principal !== framework.info.principal) {
    return badRequest(principalMismatch(principal, framework.info.principal));
  }
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
  const gate = gates.get(master);
  if (gate === undefined) return dispatch(master, framework, call, hooks);
  const counters = gate.count(framework.info.principal);
  counters?.received.inc();
  const admission = gate.security.rateLimiter?.admit(framework.info.principal);
  const run = (): HttpResponse => {
    counters?.processed.inc();
    hooks.changed?.();
    return dispatch(master, framework, call, hooks);
  };
  if (admission === undefined || admission.kind === "now") return run();
  if (admission.kind === "refused") {
    const message = `Message mesos.scheduler.Call dropped: ${admission.message.replace(/^Message dropped: /, "")}`;
    master.logger.warn(`Dropping ${call.type} call of framework ${framework.id}: ${message}`);
    framework.stream?.send({ type: "ERROR", error: { message } });
    return response(429, message);
  }
  return admission.ready.then(() =>
    framework.connected ? run() : forbidden("Framework is not subscribed"),
  );
}

function principalMismatch(authenticated: string, claimed: string | undefined): string {
  return (
    `Authenticated principal '${authenticated}' does not match principal ` +
    `'${claimed ?? ""}' set in \`FrameworkInfo\``
  );
}

/** A SUBSCRIBE naming a principal other than the authenticated one is malformed (400, as Mesos). */
function subscribePrincipalError(call: Call, principal: string | undefined): string | undefined {
  const claimed = call.type === "SUBSCRIBE" ? call.subscribe?.framework_info.principal : undefined;
  if (principal === undefined || claimed === undefined || claimed === principal) return undefined;
  return principalMismatch(principal, claimed);
}

/** Runs one checked call of a subscribed framework. */
function dispatch(
  master: Master,
  framework: FrameworkRecord,
  call: Call,
  hooks: SchedulerApiHooks,
): HttpResponse {
  hooks.call?.(call.type ?? "UNKNOWN", framework.id, false);
  switch (call.type) {
    case "TEARDOWN":
      master.teardown(framework);
      return accepted();
    case "ACCEPT":
      if (call.accept !== undefined) {
        const gate = gates.get(master);
        const operations =
          gate === undefined
            ? call.accept.operations
            : authorizeLaunches(
                master,
                framework,
                gate.security.authorizer,
                call.accept.operations,
              );
        master.accept(framework, { ...call.accept, operations });
      }
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
      if (call.kill !== undefined) {
        // A task the master does not track is answered by reconciling it,
        // which Mesos counts in master/messages_reconcile_tasks as well (not
        // in the framework's own calls/reconcile).
        if (!framework.tasks.has(call.kill.task_id.value)) {
          hooks.call?.("RECONCILE", undefined, false);
        }
        master.kill(framework, call.kill);
      }
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
      const gate = gates.get(master);
      const result = updateFrameworkCall(
        master,
        framework,
        call.update_framework,
        gate && registrationCheck(gate),
      );
      return response(result.status, result.message);
    }
    case "ACCEPT_INVERSE_OFFERS":
    case "DECLINE_INVERSE_OFFERS": {
      const answer = call.accept_inverse_offers ?? call.decline_inverse_offers;
      answerInverseOffers(
        master,
        framework,
        answer?.inverse_offer_ids ?? [],
        call.type === "ACCEPT_INVERSE_OFFERS",
        answer?.filters,
      );
      return accepted();
    }
    case "ACKNOWLEDGE_OPERATION_STATUS":
      if (call.acknowledge_operation_status !== undefined) {
        acknowledgeOperationStatus(master, framework, call.acknowledge_operation_status);
      }
      return accepted();
    case "RECONCILE_OPERATIONS":
      reconcileOperations(master, framework, call.reconcile_operations?.operations ?? []);
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
  const gate = gates.get(master);
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
    subscribeFramework(master, stream, subscribeCall, gate && registrationCheck(gate));
  });
}

/**
 * The `register_frameworks` check of SUBSCRIBE and UPDATE_FRAMEWORK: every
 * role of the framework must be allowed to its principal (a framework with
 * no roles only under permissive ACLs). The refusal names the framework id
 * (empty for a new framework) and all its roles, as Mesos words it.
 */
function registrationCheck(gate: SchedulerGate): RegistrationCheck {
  const authorizer = gate.security.authorizer;
  return (info) => {
    const roles = frameworkRoles(info);
    const allowed =
      roles.length === 0
        ? authorizer.acls.permissive
        : roles.every((r) => authorizer.authorized("register_frameworks", info.principal, r));
    if (allowed) return undefined;
    const listed = [...new Set(roles)].sort().join(", ");
    return `Not authorized to register framework ${info.id?.value ?? ""} with roles { ${listed} }`;
  };
}

/** The roles a framework subscribes with (MULTI_ROLE `roles`, else `role`, default `*`). */
function frameworkRoles(info: FrameworkInfo): string[] {
  const multi = info.capabilities?.some((c) => c.type === "MULTI_ROLE") ?? false;
  if (multi || (info.roles?.length ?? 0) > 0) return [...(info.roles ?? [])];
  return [info.role ?? "*"];
}

/** The user a task runs as: its command's, its executor's, else its framework's (Mesos' RUN_TASK object). */
function taskUser(task: TaskInfo, framework: FrameworkInfo, executorUser?: string): string {
  return task.command?.user ?? task.executor?.command?.user ?? executorUser ?? framework.user;
}

/**
 * Leaves out launches of tasks the framework's principal may not run as
 * their user (`run_tasks`); each refused task gets TASK_ERROR with
 * REASON_TASK_UNAUTHORIZED, as Mesos answers. A task group is refused as a
 * whole when any of its tasks is, each task with REASON_TASK_GROUP_UNAUTHORIZED.
 */
function authorizeLaunches(
  master: Master,
  framework: FrameworkRecord,
  authorizer: LocalAuthorizer,
  operations: Offer_Operation[] | undefined,
): Offer_Operation[] | undefined {
  if (operations === undefined) return operations;
  const resourceOps = operations.filter((op) => RESOURCE_ACTIONS[op.type ?? ""] !== undefined);
  if (authorizer.unrestricted("run_tasks") && resourceOps.length === 0) return operations;
  const principal = framework.info.principal;
  const allowed = (t: TaskInfo, executorUser?: string): boolean =>
    authorizer.authorized("run_tasks", principal, taskUser(t, framework.info, executorUser));
  const refuse = (
    t: TaskInfo,
    reason: "REASON_TASK_UNAUTHORIZED" | "REASON_TASK_GROUP_UNAUTHORIZED",
  ): void => {
    const status = {
      task_id: t.task_id,
      state: "TASK_ERROR",
      source: "SOURCE_MASTER",
      reason,
      message: "Task is not authorized to launch",
      agent_id: t.agent_id,
      timestamp: master.clock.now() / 1000,
    } as const;
    master.events.taskRejected(status);
    framework.stream?.send({ type: "UPDATE", update: { status } });
  };
  const out: Offer_Operation[] = [];
  for (const op of operations) {
    if (op.type === "LAUNCH" && op.launch?.task_infos !== undefined) {
      const tasks = op.launch.task_infos.filter((t) => {
        const ok = allowed(t);
        if (!ok) refuse(t, "REASON_TASK_UNAUTHORIZED");
        return ok;
      });
      if (tasks.length > 0) out.push({ ...op, launch: { task_infos: tasks } });
    } else if (op.type === "LAUNCH_GROUP" && op.launch_group !== undefined) {
      const group = op.launch_group;
      const tasks = group.task_group.tasks ?? [];
      const executorUser = group.executor.command?.user;
      if (tasks.every((t) => allowed(t, executorUser))) out.push(op);
      // As Mesos, every task of a refused group says the group was refused.
      else for (const t of tasks) refuse(t, "REASON_TASK_GROUP_UNAUTHORIZED");
    } else if (RESOURCE_ACTIONS[op.type ?? ""] !== undefined) {
      const [action, objects, what] = RESOURCE_ACTIONS[op.type ?? ""] as ResourceAction;
      const denied = objects(op).find((o) => !authorizer.authorized(action, principal, o));
      // A RESERVE with `source` also unreserves the source, unless it only refines it.
      const moved = movedReservers(op).find(
        (o) => !authorizer.authorized("unreserve_resources", principal, o),
      );
      if (denied === undefined && moved === undefined) out.push(op);
      else {
        const why = denied === undefined ? "unreserve resources" : what;
        dropOperation(master, framework, op, `Not authorized to ${why} as '${principal ?? ""}'`);
      }
    } else {
      out.push(op);
    }
  }
  return out;
}

type ResourceAction = [AclAction, (op: Offer_Operation) => (string | undefined)[], string];

/** Reserver principals of a RESERVE's `source` that the target does not merely refine. */
function movedReservers(op: Offer_Operation): (string | undefined)[] {
  if (op.type !== "RESERVE") return [];
  const roleOf = (r: Resource) => r.reservations?.at(-1)?.role ?? r.role ?? "*";
  const targets = (op.reserve?.resources ?? []).map(roleOf);
  return (op.reserve?.source ?? [])
    .filter((r) => !targets.every((t) => t.startsWith(`${roleOf(r)}/`)))
    .map((r) => r.reservations?.at(-1)?.principal ?? r.reservation?.principal);
}

/** ACL action, objects (roles or principals) and wording per resource operation. */
const RESOURCE_ACTIONS: Record<string, ResourceAction | undefined> = {
  RESERVE: [
    "reserve_resources",
    (op) => (op.reserve?.resources ?? []).map((r) => r.reservations?.at(-1)?.role ?? r.role),
    "reserve resources",
  ],
  UNRESERVE: [
    "unreserve_resources",
    (op) =>
      (op.unreserve?.resources ?? []).map(
        (r) => r.reservations?.at(-1)?.principal ?? r.reservation?.principal,
      ),
    "unreserve resources",
  ],
  CREATE: [
    "create_volumes",
    (op) => (op.create?.volumes ?? []).map((r) => r.reservations?.at(-1)?.role ?? r.role),
    "create volumes",
  ],
  DESTROY: [
    "destroy_volumes",
    (op) => (op.destroy?.volumes ?? []).map((r) => r.disk?.persistence?.principal),
    "destroy volumes",
  ],
  // Per the volume's role, as Mesos authorizes GROW_VOLUME and SHRINK_VOLUME.
  GROW_VOLUME: [
    "resize_volumes",
    (op) => [op.grow_volume?.volume].map((r) => r?.reservations?.at(-1)?.role ?? r?.role),
    "resize volumes",
  ],
  SHRINK_VOLUME: [
    "resize_volumes",
    (op) => [op.shrink_volume?.volume].map((r) => r?.reservations?.at(-1)?.role ?? r?.role),
    "resize volumes",
  ],
};
