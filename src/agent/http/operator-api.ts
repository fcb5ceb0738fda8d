/**
 * `POST /api/v1` on the agent (also `/slave(1)/api/v1`): the v1 agent
 * operator API in JSON or protobuf. Reads answer `200` with a
 * `mesos.v1.agent.Response` in the `Accept` encoding; SET_LOGGING_LEVEL
 * answers an empty `200`. The nested container calls are answered in
 * nested-container-calls.ts. Calls for features mesos-ts does not have yet
 * (standalone containers, container sessions, resource providers,
 * operations, image pruning) answer `501` with the reason.
 */
import type { BuildInfo } from "../../common/http/common-endpoints.js";
import { commonOperatorCall } from "../../common/http/operator-common-calls.js";
import type { OperatorServices } from "../../common/http/operator-processes.js";
import type { HttpRequest } from "../../common/http/request.js";
import {
  type BodyResponse,
  badRequest,
  type HttpResponse,
  notImplemented,
} from "../../common/http/response.js";
import {
  decodeCall,
  messageResponse,
  responseContentType,
  type V1ContentType,
} from "../../common/http/v1-api.js";
import type { Logger } from "../../common/observability/logger.js";
import type { Task } from "../../common/protocol/generated/mesos-v1.js";
import type {
  Call,
  Response,
  Response_GetContainers,
  Response_GetExecutors,
  Response_GetFrameworks,
  Response_GetTasks,
} from "../../common/protocol/generated/mesos-v1-agent.js";
import { codecFor } from "../../common/protocol/index.js";
import type { Agent } from "../agent.js";
import type { NestedContainers } from "../containerizer/nested-containers.js";
import { createTask, type Executor } from "../executor.js";
import type { ResourceMonitor } from "../monitor/resource-monitor.js";
import {
  NESTED_CONTAINER_CALLS,
  nestedContainerCall,
  nestedContainerUsages,
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
}

/** The sub-message each call type requires. */
const REQUIRED: Partial<Record<NonNullable<Call["type"]>, keyof Call>> = {
  SET_LOGGING_LEVEL: "set_logging_level",
  LIST_FILES: "list_files",
  READ_FILE: "read_file",
};

const NOT_YET: Partial<Record<NonNullable<Call["type"]>, string>> = {
  GET_OPERATIONS: "operations (resource providers) are not supported yet",
  GET_RESOURCE_PROVIDERS: "resource providers are not supported yet",
  ADD_RESOURCE_PROVIDER_CONFIG: "resource providers are not supported yet",
  UPDATE_RESOURCE_PROVIDER_CONFIG: "resource providers are not supported yet",
  REMOVE_RESOURCE_PROVIDER_CONFIG: "resource providers are not supported yet",
  MARK_RESOURCE_PROVIDER_GONE: "resource providers are not supported yet",
  PRUNE_IMAGES: "container images are not supported yet",
};

/** Builds the `/api/v1` handler. */
export function agentOperatorApiHandler(
  ctx: AgentOperatorContext,
): (request: HttpRequest) => Promise<HttpResponse> {
  return (request) => handle(ctx, request);
}

function reply(message: Response, type: V1ContentType): BodyResponse {
  return messageResponse(responseCodec, message, type);
}

async function handle(ctx: AgentOperatorContext, request: HttpRequest): Promise<HttpResponse> {
  const decoded = decodeCall(request, callCodec);
  if (!decoded.ok) return decoded.response;
  const call = decoded.value.call;
  const accept = responseContentType(request);
  if (!accept.ok) return accept.response;
  const type = accept.value;
  const callType = call.type ?? "UNKNOWN";
  const required = REQUIRED[callType];
  if (required !== undefined && call[required] === undefined) {
    return badRequest(`Failed to validate agent::Call: Expecting '${required}' to be present`);
  }
  ctx.logger.verbose(1, `Processing call ${callType}`);
  const notYet = NOT_YET[callType];
  if (notYet !== undefined) return notImplemented(`${callType}: ${notYet} in mesos-ts`);
  const agent = ctx.agent;
  if (NESTED_CONTAINER_CALLS.has(callType)) {
    return nestedContainerCall(ctx.nested, call, request, (message) => reply(message, type));
  }

  const common = await commonOperatorCall(call, ctx, (message) => reply(message, type));
  if (common !== undefined) return common;

  switch (callType) {
    case "GET_STATE":
      return reply(
        {
          type: "GET_STATE",
          get_state: {
            get_tasks: getTasks(agent),
            get_executors: getExecutors(agent),
            get_frameworks: getFrameworks(agent),
          },
        },
        type,
      );
    case "GET_CONTAINERS":
      return reply(
        {
          type: "GET_CONTAINERS",
          get_containers: await getContainers(ctx.monitor, ctx.nested),
        },
        type,
      );
    case "GET_FRAMEWORKS":
      return reply({ type: "GET_FRAMEWORKS", get_frameworks: getFrameworks(agent) }, type);
    case "GET_EXECUTORS":
      return reply({ type: "GET_EXECUTORS", get_executors: getExecutors(agent) }, type);
    case "GET_TASKS":
      return reply({ type: "GET_TASKS", get_tasks: getTasks(agent) }, type);
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
    default:
      ctx.logger.warn(`Received '${callType}' agent operator call, which is not supported`);
      return notImplemented(`Agent call ${callType} is not implemented in mesos-ts yet`);
  }
}

/** GET_FRAMEWORKS: current and completed frameworks. */
export function getFrameworks(agent: Agent): Response_GetFrameworks {
  return {
    frameworks: [...agent.frameworks.values()].map((f) => ({ framework_info: f.info })),
    completed_frameworks: agent.completedFrameworks.map((f) => ({ framework_info: f.info })),
  };
}

/** GET_EXECUTORS: live executors, and completed ones (of live and completed frameworks). */
export function getExecutors(agent: Agent): Response_GetExecutors {
  const executors: Executor[] = [];
  const completed: Executor[] = [];
  for (const f of agent.frameworks.values()) {
    executors.push(...f.executors.values());
    completed.push(...f.completedExecutors);
  }
  for (const f of agent.completedFrameworks) {
    completed.push(...f.executors.values(), ...f.completedExecutors);
  }
  return {
    executors: executors.map((e) => ({ executor_info: e.info })),
    completed_executors: completed.map((e) => ({ executor_info: e.info })),
  };
}

/** GET_TASKS: tasks by where they are in their executor's life. */
export function getTasks(agent: Agent): Response_GetTasks {
  const queued: Task[] = [];
  const launched: Task[] = [];
  const terminated: Task[] = [];
  const completed: Task[] = [];
  const collect = (e: Executor, live: boolean): void => {
    if (live) {
      for (const t of e.queuedTasks.values())
        queued.push(createTask(t, "TASK_STAGING", e.frameworkId));
      for (const g of e.queuedTaskGroups) {
        for (const t of g.tasks ?? []) queued.push(createTask(t, "TASK_STAGING", e.frameworkId));
      }
      launched.push(...e.launchedTasks.values());
      terminated.push(...e.terminatedTasks.values());
    }
    completed.push(...e.completedTasks);
  };
  for (const f of agent.frameworks.values()) {
    for (const e of f.executors.values()) collect(e, true);
    for (const e of f.completedExecutors) collect(e, false);
  }
  for (const f of agent.completedFrameworks) {
    for (const e of [...f.executors.values(), ...f.completedExecutors]) collect(e, false);
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
): Promise<Response_GetContainers> {
  const usages = await monitor.usages();
  const children = nested === undefined ? [] : await nestedContainerUsages(nested);
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
