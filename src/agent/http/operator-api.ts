/**
 * `POST /api/v1` on the agent (also `/slave(1)/api/v1`): the v1 agent
 * operator API in JSON or protobuf. Reads answer `200` with a
 * `mesos.v1.agent.Response` in the `Accept` encoding; SET_LOGGING_LEVEL
 * answers an empty `200`. The nested container calls are answered in
 * nested-container-calls.ts. Refusals come in a Mesos agent's order and
 * words: method, Content-Type, Accept, body, call validation, streaming.
 * GET_OPERATIONS lists the operations on the agent's own resources that
 * are pending or whose status update the master has not acknowledged yet
 * (a caller sees those whose consumed resources' roles it may view);
 * GET_RESOURCE_PROVIDERS answers an empty list (there are no resource
 * providers). Calls are validated as a Mesos agent validates them
 * (../validation.ts); calls for features mesos-ts does not have yet
 * (standalone containers, resource providers) are answered as far as
 * Mesos would get without them, then `501` with the reason. Container
 * sessions and attaching are answered in container-sessions.ts.
 */
import { forbiddenMessage, requestAuthorized } from "../../common/auth/request-auth.js";
import type { BuildInfo } from "../../common/http/common-endpoints.js";
import { commonOperatorCall } from "../../common/http/operator-common-calls.js";
import type { OperatorServices } from "../../common/http/operator-processes.js";
import { HttpRequest } from "../../common/http/request.js";
import {
  type BodyResponse,
  badRequest,
  forbidden,
  type HttpResponse,
  internalServerError,
  notAcceptable,
  notImplemented,
  ok,
  serviceUnavailable,
  unsupportedMediaType,
} from "../../common/http/response.js";
import {
  APPLICATION_JSON,
  APPLICATION_PROTOBUF,
  acceptsMediaType,
  checkMethod,
  decodeCall,
  mediaType,
  messageResponse,
  type V1ContentType,
  type V1Result,
} from "../../common/http/v1-api.js";
import type { Logger } from "../../common/observability/logger.js";
import type { Task } from "../../common/protocol/generated/mesos-v1.js";
import type {
  Call,
  Response,
  Response_GetContainers,
  Response_GetExecutors,
  Response_GetFrameworks,
  Response_GetOperations,
  Response_GetTasks,
} from "../../common/protocol/generated/mesos-v1-agent.js";
import { codecFor } from "../../common/protocol/index.js";
import { RecordIoDecoder } from "../../common/recordio/decoder.js";
import type { Agent } from "../agent.js";
import type { NestedContainers } from "../containerizer/nested-containers.js";
import { createTask, type Executor } from "../executor.js";
import type { Framework } from "../framework.js";
import type { ResourceMonitor } from "../monitor/resource-monitor.js";
import { operationVisible } from "../operations/conversions.js";
import { validateAgentCall } from "../validation.js";
import {
  CONTAINER_SESSION_CALLS,
  containerSessionCall,
  type SessionOptions,
} from "./container-sessions.js";
import {
  NESTED_CONTAINER_CALLS,
  nestedContainerCall,
  nestedContainerUsages,
  standaloneContainerEntries,
} from "./nested-container-calls.js";

const callCodec = codecFor<Call>("mesos.v1.agent.Call");
const responseCodec = codecFor<Response>("mesos.v1.agent.Response");

/** Help text of `/api/v1`. */
export const AGENT_OPERATOR_API_HELP =
  "The v1 operator API of the agent.\n" +
  "POST a mesos.v1.agent.Call in JSON or protobuf (Content-Type application/json or " +
  "application/x-protobuf); the Response comes in the Accept encoding.";

/** What the agent's operator API works with. */
export interface AgentOperatorContext {
  readonly agent: Agent;
  readonly services: OperatorServices;
  readonly monitor: ResourceMonitor;
  readonly flags: Readonly<Record<string, string>>;
  readonly build: BuildInfo;
  readonly logger: Logger;
  /** Nested containers (LAUNCH/WAIT/KILL_NESTED_CONTAINER), when the agent has them. */
  readonly nested?: NestedContainers | undefined;
  /** The clock and heartbeat interval of container session output streams. */
  readonly sessions: SessionOptions;
  /** The image store, for PRUNE_IMAGES (absent without `--image_providers`: nothing to prune). */
  readonly images?: { pruneImages(excluded: readonly string[]): Promise<void> } | undefined;
}

const NOT_YET: Partial<Record<NonNullable<Call["type"]>, string>> = {
  MARK_RESOURCE_PROVIDER_GONE: "resource providers are not supported yet",
};

/** The one local resource provider type Mesos knows (on Linux). */
const STORAGE_PROVIDER_TYPE = "org.apache.mesos.rp.local.storage";
const RESOURCE_PROVIDER_CONFIG_CALLS: ReadonlySet<string> = new Set([
  "ADD_RESOURCE_PROVIDER_CONFIG",
  "UPDATE_RESOURCE_PROVIDER_CONFIG",
  "REMOVE_RESOURCE_PROVIDER_CONFIG",
]);

/**
 * ADD/UPDATE/REMOVE_RESOURCE_PROVIDER_CONFIG as a Mesos agent answers them
 * up to where it would need a resource provider: authorization, the
 * provider type, and `--resource_provider_config_dir` (without it Mesos
 * fails the call, 500). With the flag, ADD and UPDATE of a storage provider
 * answer 501 (mesos-ts has no resource providers); REMOVE has nothing to
 * remove, which Mesos answers 200.
 */
function resourceProviderConfigCall(
  ctx: AgentOperatorContext,
  call: Call,
  request: HttpRequest,
): HttpResponse {
  if (!requestAuthorized(request, "modify_resource_provider_configs")) {
    return forbidden(forbiddenMessage(request, "modify resource provider configs"));
  }
  const info =
    call.type === "ADD_RESOURCE_PROVIDER_CONFIG"
      ? call.add_resource_provider_config?.info
      : call.type === "UPDATE_RESOURCE_PROVIDER_CONFIG"
        ? call.update_resource_provider_config?.info
        : undefined;
  if (info !== undefined && info.type !== STORAGE_PROVIDER_TYPE) {
    return badRequest(
      `Failed to validate resource provider config with type '${info.type}' and name '${info.name}': Unknown local resource provider type '${info.type}'`,
    );
  }
  const configDir = ctx.flags.resource_provider_config_dir;
  if (configDir === undefined || configDir === "") {
    return internalServerError("Missing required flag --resource_provider_config_dir");
  }
  if (info === undefined) return ok();
  return notImplemented(`${call.type}: resource providers are not supported yet in mesos-ts`);
}

const APPLICATION_RECORDIO = "application/recordio";
const MESSAGE_CONTENT_TYPE = "Message-Content-Type";
const MESSAGE_ACCEPT = "Message-Accept";
const VALIDATION = "Failed to validate agent::Call: ";

/** How a request's body and response are encoded; `streaming` means RecordIO of `message`. */
interface MediaTypes {
  readonly content: { readonly streaming: boolean; readonly message: V1ContentType };
  readonly accept: { readonly streaming: boolean; readonly message: V1ContentType };
}

/** `application/json` / `application/x-protobuf` (parameters ignored), else undefined. */
function messageType(raw: string | undefined): V1ContentType | undefined {
  const base = (raw ?? "").split(";")[0]?.trim().toLowerCase();
  if (base === APPLICATION_JSON) return "json";
  if (base === APPLICATION_PROTOBUF) return "protobuf";
  return undefined;
}

/**
 * The header checks the agent makes before it reads the body, in Mesos'
 * order: method, Content-Type (JSON, protobuf or RecordIO, the latter with a
 * Message-Content-Type), then Accept (likewise with Message-Accept).
 */
function negotiate(request: HttpRequest): V1Result<MediaTypes> {
  const methodError = checkMethod(request);
  if (methodError !== undefined) return { ok: false, response: methodError };
  const rawContent = request.header("content-type");
  if (rawContent === undefined || rawContent.trim() === "") {
    return { ok: false, response: badRequest("Expecting 'Content-Type' to be present") };
  }
  const contentStreaming =
    (rawContent.split(";")[0] ?? "").trim().toLowerCase() === APPLICATION_RECORDIO;
  const contentType = contentStreaming ? undefined : messageType(rawContent);
  if (!contentStreaming && contentType === undefined) {
    return {
      ok: false,
      response: unsupportedMediaType(
        `Expecting 'Content-Type' of ${APPLICATION_JSON} or ${APPLICATION_PROTOBUF} or ${APPLICATION_RECORDIO}`,
      ),
    };
  }
  const rawMessageContent = request.header(MESSAGE_CONTENT_TYPE.toLowerCase());
  let content: MediaTypes["content"];
  if (contentStreaming) {
    if (rawMessageContent === undefined) {
      return {
        ok: false,
        response: badRequest(
          `Expecting '${MESSAGE_CONTENT_TYPE}' to be set for streaming requests`,
        ),
      };
    }
    const message = messageType(rawMessageContent);
    if (message === undefined) {
      return {
        ok: false,
        response: unsupportedMediaType(
          `Expecting '${MESSAGE_CONTENT_TYPE}' of ${APPLICATION_JSON} or ${APPLICATION_PROTOBUF}`,
        ),
      };
    }
    content = { streaming: true, message };
  } else {
    if (rawMessageContent !== undefined) {
      return {
        ok: false,
        response: unsupportedMediaType(
          `Expecting '${MESSAGE_CONTENT_TYPE}' to be not set for non-streaming requests`,
        ),
      };
    }
    content = { streaming: false, message: contentType as V1ContentType };
  }

  const accept = request.header("accept");
  let acceptStreaming = false;
  let acceptType: V1ContentType;
  if (acceptsMediaType(accept, APPLICATION_JSON)) acceptType = "json";
  else if (acceptsMediaType(accept, APPLICATION_PROTOBUF)) acceptType = "protobuf";
  else if (acceptsMediaType(accept, APPLICATION_RECORDIO)) {
    acceptStreaming = true;
    acceptType = "json";
  } else {
    return {
      ok: false,
      response: notAcceptable(
        `Expecting 'Accept' to allow ${APPLICATION_JSON} or ${APPLICATION_PROTOBUF} or ${APPLICATION_RECORDIO}`,
      ),
    };
  }
  const messageAccept = request.header(MESSAGE_ACCEPT.toLowerCase());
  if (acceptStreaming) {
    if (acceptsMediaType(messageAccept, APPLICATION_JSON)) acceptType = "json";
    else if (acceptsMediaType(messageAccept, APPLICATION_PROTOBUF)) acceptType = "protobuf";
    else {
      return {
        ok: false,
        response: notAcceptable(
          `Expecting '${MESSAGE_ACCEPT}' to allow ${APPLICATION_JSON} or ${APPLICATION_PROTOBUF}`,
        ),
      };
    }
  } else if (messageAccept !== undefined) {
    return {
      ok: false,
      response: notAcceptable(
        `Expecting '${MESSAGE_ACCEPT}' to be not set for non-streaming responses`,
      ),
    };
  }
  return {
    ok: true,
    value: { content, accept: { streaming: acceptStreaming, message: acceptType } },
  };
}

/**
 * The call in the body: the whole body, or the first RecordIO record of a
 * streaming request, decoded with the shared v1 wording.
 */
function readCall(request: HttpRequest, media: MediaTypes): V1Result<Call> {
  let body = request.body;
  if (media.content.streaming) {
    let records: Buffer[];
    try {
      records = new RecordIoDecoder().decode(request.body);
    } catch (e) {
      return { ok: false, response: badRequest((e as Error).message) };
    }
    const first = records[0];
    if (first === undefined) {
      return { ok: false, response: badRequest("Received EOF while reading request body") };
    }
    body = first;
  }
  const decoded = decodeCall(
    new HttpRequest({
      method: "POST",
      path: request.path,
      rawQuery: "",
      headers: { "content-type": mediaType(media.content.message) },
      body,
      remoteAddress: request.remoteAddress,
      remotePort: request.remotePort,
    }),
    callCodec,
  );
  return decoded.ok ? { ok: true, value: decoded.value.call } : decoded;
}

/** Builds the `/api/v1` handler. */
export function agentOperatorApiHandler(
  ctx: AgentOperatorContext,
): (request: HttpRequest) => Promise<HttpResponse> {
  return (request) => handle(ctx, request);
}

function reply(message: Response, type: V1ContentType): BodyResponse {
  return messageResponse(responseCodec, message, type);
}

/**
 * Whether the agent is still recovering (its checkpointed executors), as
 * Mesos' RECOVERING state. It ends when recovery does, before the agent
 * registers: an agent still looking for its master is not recovering.
 */
export function agentRecovering(agent: Agent): boolean {
  return agent.recovering;
}

/** Mesos' answer to operator reads while the agent recovers. */
export const RECOVERING_MESSAGE = "Agent has not finished recovery";

async function handle(ctx: AgentOperatorContext, request: HttpRequest): Promise<HttpResponse> {
  const media = negotiate(request);
  if (!media.ok) return media.response;
  const read = readCall(request, media.value);
  if (!read.ok) return read.response;
  const call = read.value;
  const invalid = validateAgentCall(call);
  if (invalid !== undefined) return badRequest(`${VALIDATION}${invalid}`);
  const callType = call.type ?? "UNKNOWN";
  // Only ATTACH_CONTAINER_INPUT streams its request; only the attach/session calls stream answers.
  if (media.value.content.streaming && callType !== "ATTACH_CONTAINER_INPUT") {
    return unsupportedMediaType(
      `Streaming 'Content-Type' ${APPLICATION_RECORDIO} is not supported for ${callType} call`,
    );
  }
  if (!media.value.content.streaming && callType === "ATTACH_CONTAINER_INPUT") {
    return unsupportedMediaType(
      `Expecting 'Content-Type' to be ${APPLICATION_RECORDIO} for ${callType} call`,
    );
  }
  if (
    media.value.accept.streaming &&
    callType !== "ATTACH_CONTAINER_OUTPUT" &&
    callType !== "LAUNCH_NESTED_CONTAINER_SESSION"
  ) {
    return notAcceptable(`Streaming response is not supported for ${callType} call`);
  }
  if (callType === "UNKNOWN") return notImplemented();
  // Mesos refuses every call until recovery ends; recovered default executors
  // make their nested container calls in that window, so those are let through.
  if (agentRecovering(ctx.agent) && !NESTED_CONTAINER_CALLS.has(callType)) {
    return serviceUnavailable(RECOVERING_MESSAGE);
  }
  const type = media.value.accept.message;
  ctx.logger.verbose(1, `Processing call ${callType}`);
  const notYet = NOT_YET[callType];
  if (notYet !== undefined) return notImplemented(`${callType}: ${notYet} in mesos-ts`);
  if (RESOURCE_PROVIDER_CONFIG_CALLS.has(callType)) {
    return resourceProviderConfigCall(ctx, call, request);
  }
  const agent = ctx.agent;
  if (NESTED_CONTAINER_CALLS.has(callType)) {
    return nestedContainerCall(ctx.nested, call, request, (message) => reply(message, type));
  }
  if (CONTAINER_SESSION_CALLS.has(callType)) {
    const { content, accept } = media.value;
    return containerSessionCall(
      ctx.nested,
      ctx.logger,
      call,
      request,
      {
        content: content.message,
        accept: accept.message,
        acceptStreaming: accept.streaming,
      },
      ctx.sessions,
    );
  }

  // As the master: reading the flags and setting the level are authorized actions.
  if (callType === "GET_FLAGS" && !requestAuthorized(request, "view_flags")) {
    return forbidden(forbiddenMessage(request, "view the flags"));
  }
  if (callType === "SET_LOGGING_LEVEL" && !requestAuthorized(request, "set_log_level")) {
    return forbidden(forbiddenMessage(request, "set the log level"));
  }
  const common = await commonOperatorCall(call, ctx, (message) => reply(message, type), request);
  if (common !== undefined) return common;

  switch (callType) {
    case "GET_STATE":
      return reply(
        {
          type: "GET_STATE",
          get_state: {
            get_tasks: getTasks(agent, requestView(request)),
            get_executors: getExecutors(agent, requestView(request)),
            get_frameworks: getFrameworks(agent, requestView(request)),
          },
        },
        type,
      );
    case "GET_CONTAINERS": {
      const listed = await getContainers(
        ctx.monitor,
        call.get_containers?.show_nested === true ? ctx.nested : undefined,
        containerView(agent, request),
      );
      if (ctx.nested !== undefined) {
        const show = {
          nested: call.get_containers?.show_nested === true,
          standalone: call.get_containers?.show_standalone === true,
        };
        listed.containers?.push(...(await standaloneContainerEntries(ctx.nested, request, show)));
      }
      return reply({ type: "GET_CONTAINERS", get_containers: listed }, type);
    }
    case "GET_FRAMEWORKS":
      return reply(
        { type: "GET_FRAMEWORKS", get_frameworks: getFrameworks(agent, requestView(request)) },
        type,
      );
    case "GET_EXECUTORS":
      return reply(
        { type: "GET_EXECUTORS", get_executors: getExecutors(agent, requestView(request)) },
        type,
      );
    case "GET_TASKS":
      return reply({ type: "GET_TASKS", get_tasks: getTasks(agent, requestView(request)) }, type);
    case "GET_OPERATIONS":
      return reply({ type: "GET_OPERATIONS", get_operations: getOperations(agent, request) }, type);
    case "GET_RESOURCE_PROVIDERS":
      return reply(
        { type: "GET_RESOURCE_PROVIDERS", get_resource_providers: { resource_providers: [] } },
        type,
      );
    case "GET_AGENT":
      return reply(
        {
          type: "GET_AGENT",
          get_agent: {
            agent_info: agent.agentInfo(),
            ...(agent.draining.config === undefined
              ? {}
              : {
                  drain_config: agent.draining.config,
                  estimated_drain_start_time: agent.draining.startTime,
                }),
          },
        },
        type,
      );
    case "PRUNE_IMAGES": {
      if (!requestAuthorized(request, "prune_images")) {
        return forbidden(forbiddenMessage(request, "prune images"));
      }
      const excluded = (call.prune_images?.excluded_images ?? [])
        .filter((i) => i.type === "DOCKER" && i.docker?.name !== undefined)
        .map((i) => i.docker?.name as string);
      try {
        await ctx.images?.pruneImages(excluded);
      } catch (e) {
        return internalServerError(`Failed to prune images: ${(e as Error).message}`);
      }
      return ok();
    }
    default:
      ctx.logger.warn(`Received '${callType}' agent operator call, which is not supported`);
      return notImplemented(`Agent call ${callType} is not implemented in mesos-ts yet`);
  }
}

/**
 * What the caller may see (Mesos' VIEW_FRAMEWORK, VIEW_EXECUTOR, VIEW_TASK,
 * whose object is a user: the executor's or task's own, else its framework's).
 */
export interface AgentView {
  framework(f: Framework): boolean;
  executor(e: Executor, f: Framework): boolean;
  task(t: { readonly user?: string | undefined }, f: Framework): boolean;
}

/** Everything is visible (no ACLs, or a caller allowed to view all). */
export const VIEW_ALL: AgentView = {
  framework: () => true,
  executor: () => true,
  task: () => true,
};

/** The view of the caller of `request`, from the ACLs its guard attached. */
export function requestView(request: HttpRequest): AgentView {
  const framework = (f: Framework) => requestAuthorized(request, "view_frameworks", f.info.user);
  return {
    framework,
    executor: (e, f) =>
      framework(f) &&
      requestAuthorized(request, "view_executors", e.info.command?.user ?? f.info.user),
    task: (t, f) => framework(f) && requestAuthorized(request, "view_tasks", t.user ?? f.info.user),
  };
}

/**
 * Mesos' VIEW_CONTAINER for an executor's container (and the containers
 * nested in it): the object is the executor's user, else its framework's.
 */
function containerView(
  agent: Agent,
  request: HttpRequest,
): (frameworkId: string, executorId: string) => boolean {
  return (frameworkId, executorId) => {
    const framework = agent.frameworks.get(frameworkId);
    const executor = framework?.executors.get(executorId);
    const user = executor?.info.command?.user ?? framework?.info.user ?? "";
    return requestAuthorized(request, "view_containers", user);
  };
}

function allFrameworks(agent: Agent): { framework: Framework; live: boolean }[] {
  return [
    ...[...agent.frameworks.values()].map((framework) => ({ framework, live: true })),
    ...agent.completedFrameworks.map((framework) => ({ framework, live: false })),
  ];
}

/**
 * GET_OPERATIONS: the operations on the agent's own resources it still has
 * (pending, or not yet acknowledged), those whose consumed resources' roles
 * the caller may view (Mesos' VIEW_ROLE approval).
 */
export function getOperations(agent: Agent, request: HttpRequest): Response_GetOperations {
  return {
    operations: agent.operations
      .list()
      .filter((o) =>
        operationVisible(o.info, (role) => requestAuthorized(request, "view_roles", role)),
      ),
  };
}

/** GET_FRAMEWORKS: current and completed frameworks. */
export function getFrameworks(agent: Agent, view: AgentView = VIEW_ALL): Response_GetFrameworks {
  const seen = (f: Framework) => view.framework(f);
  return {
    frameworks: [...agent.frameworks.values()]
      .filter(seen)
      .map((f) => ({ framework_info: f.info })),
    completed_frameworks: agent.completedFrameworks
      .filter(seen)
      .map((f) => ({ framework_info: f.info })),
  };
}

/** GET_EXECUTORS: live executors, and completed ones (of live and completed frameworks). */
export function getExecutors(agent: Agent, view: AgentView = VIEW_ALL): Response_GetExecutors {
  const executors: Executor[] = [];
  const completed: Executor[] = [];
  for (const { framework: f, live } of allFrameworks(agent)) {
    const seen = (e: Executor) => view.executor(e, f);
    if (live) executors.push(...[...f.executors.values()].filter(seen));
    else completed.push(...[...f.executors.values()].filter(seen));
    completed.push(...f.completedExecutors.filter(seen));
  }
  return {
    executors: executors.map((e) => ({ executor_info: e.info })),
    completed_executors: completed.map((e) => ({ executor_info: e.info })),
  };
}

/** GET_TASKS: tasks by where they are in their executor's life. */
export function getTasks(agent: Agent, view: AgentView = VIEW_ALL): Response_GetTasks {
  const queued: Task[] = [];
  const launched: Task[] = [];
  const terminated: Task[] = [];
  const completed: Task[] = [];
  const collect = (f: Framework, e: Executor, live: boolean): void => {
    // As Mesos' agent: the tasks of an executor the caller may not view are hidden too.
    if (!view.executor(e, f)) return;
    const add = (into: Task[], tasks: Iterable<Task>) => {
      for (const t of tasks) if (view.task(t, f)) into.push(t);
    };
    if (live) {
      const staging = [
        ...e.queuedTasks.values(),
        ...e.queuedTaskGroups.flatMap((g) => g.tasks ?? []),
      ];
      add(
        queued,
        staging.map((t) => createTask(t, "TASK_STAGING", e.frameworkId)),
      );
      add(launched, e.launchedTasks.values());
      add(terminated, e.terminatedTasks.values());
    }
    add(completed, e.completedTasks);
  };
  for (const { framework: f, live } of allFrameworks(agent)) {
    for (const e of f.executors.values()) collect(f, e, live);
    for (const e of f.completedExecutors) collect(f, e, false);
  }
  return {
    pending_tasks: [],
    queued_tasks: queued,
    launched_tasks: launched,
    terminated_tasks: terminated,
    completed_tasks: completed,
  };
}

/** GET_CONTAINERS: each live executor's container (and nested container) with status and statistics. */
export async function getContainers(
  monitor: ResourceMonitor,
  nested?: NestedContainers,
  visible: (frameworkId: string, executorId: string) => boolean = () => true,
): Promise<Response_GetContainers> {
  const usages = (await monitor.usages()).filter((u) => visible(u.frameworkId, u.executorId));
  const children = (nested === undefined ? [] : await nestedContainerUsages(nested)).filter((c) =>
    visible(c.frameworkId, c.executorId),
  );
  return {
    containers: [
      ...usages.map((u) => ({
        framework_id: { value: u.frameworkId },
        executor_id: { value: u.executorId },
        executor_name: u.executorName,
        container_id: { value: u.containerId },
        container_status: {
          container_id: { value: u.containerId },
          ...(u.pid === undefined ? {} : { executor_pid: u.pid }),
        },
        resource_statistics: u.statistics,
      })),
      ...children.map((c) => ({
        framework_id: { value: c.frameworkId },
        executor_id: { value: c.executorId },
        executor_name: c.executorName,
        container_id: c.containerId,
        container_status: {
          container_id: c.containerId,
          ...(c.pid === undefined ? {} : { executor_pid: c.pid }),
        },
        resource_statistics: c.statistics,
      })),
    ],
  };
}
