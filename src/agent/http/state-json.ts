/**
 * The agent's legacy `/state` JSON (`/slave(1)/state`), with Mesos' keys:
 * the agent's identity and resources, its flags, and its frameworks with
 * their executors and tasks (queued, running, completed). v0 names on this
 * edge: `slave_id`, `SOURCE_SLAVE`.
 */

import type { ViewPermissions } from "../../common/auth/view-filter.js";
import { type BuildInfo, buildFieldsJson } from "../../common/http/common-endpoints.js";
import { labelsJson, legacyCommandJson, legacyStatusJson } from "../../common/http/legacy-json.js";
import type { Resource, Task, TaskInfo } from "../../common/protocol/generated/mesos-v1.js";
import { codecFor } from "../../common/protocol/index.js";
import {
  attributesToJson,
  type Attribute as ResourceAttribute,
  type ResourceSummary,
  Resources,
  resourcesSummaryJson,
} from "../../common/resources/index.js";
import type { Agent } from "../agent.js";
import type { Executor } from "../executor.js";
import { allocationRole } from "../executor-info.js";
import type { Framework } from "../framework.js";
import { resourcesOf } from "../wire-resources.js";

/** Process-level facts the state shows besides the agent core's. */
export interface StateContext {
  /** Every flag as text (`/flags`). */
  flags: Record<string, string>;
  logDir?: string | undefined;
  externalLogFile?: string | undefined;
  /** The Mesos version we are compatible with. */
  version: string;
  /** Build facts (git keys shown only when known). */
  build: BuildInfo;
  masterHostname?: string | undefined;
}

type Json = Record<string, unknown>;

function summary(list: readonly Resource[] | undefined): ResourceSummary {
  return resourcesSummaryJson(resourcesOf(list));
}

function protobufJson(typeName: string, value: unknown): unknown {
  return codecFor(typeName).toJsonValue(value);
}

function taskJson(task: Task): Json {
  const out: Json = {
    id: task.task_id.value,
    name: task.name,
    framework_id: task.framework_id.value,
    executor_id: task.executor_id?.value ?? "",
    slave_id: task.agent_id.value,
    state: task.state,
    resources: summary(task.resources),
  };
  if (task.limits !== undefined && Object.keys(task.limits).length > 0) {
    out.limits = Object.fromEntries(Object.entries(task.limits).map(([k, v]) => [k, v.value]));
  }
  out.role = allocationRole(task.resources) ?? "*";
  out.statuses = (task.statuses ?? []).map(legacyStatusJson);
  if (task.user !== undefined) out.user = task.user;
  if (task.labels !== undefined) out.labels = labelsJson(task.labels);
  if (task.discovery !== undefined) {
    out.discovery = protobufJson("mesos.v1.DiscoveryInfo", task.discovery);
  }
  if (task.container !== undefined) {
    out.container = protobufJson("mesos.v1.ContainerInfo", task.container);
  }
  if (task.health_check !== undefined) {
    out.health_check = protobufJson("mesos.v1.HealthCheck", task.health_check);
  }
  return out;
}

function queuedTaskJson(task: TaskInfo): Json {
  const out: Json = {
    id: task.task_id.value,
    name: task.name,
    slave_id: task.agent_id.value,
    resources: summary(task.resources),
    role: allocationRole(task.resources) ?? "*",
  };
  if (task.command !== undefined) out.command = legacyCommandJson(task.command);
  if (task.executor !== undefined) out.executor_id = task.executor.executor_id.value;
  if (task.discovery !== undefined) {
    out.discovery = protobufJson("mesos.v1.DiscoveryInfo", task.discovery);
  }
  return out;
}

/**
 * What the caller may view, with the framework at hand (Mesos' VIEW_*
 * objects: a task's or executor's own user, else its framework's; a role).
 * Undefined: everything (no ACLs, or a caller allowed to view all).
 */
interface StateView {
  readonly can: ViewPermissions;
  readonly framework: Framework;
}

function taskSeen(view: StateView | undefined, user: string | undefined): boolean {
  return view === undefined || view.can.task(user ?? view.framework.info.user);
}

function executorJson(executor: Executor, view?: StateView): Json {
  const info = executor.info;
  const out: Json = {
    id: executor.id,
    name: info.name ?? "",
    source: info.source ?? "",
    container: executor.containerId,
    directory: executor.directory,
    resources: resourcesSummaryJson(executor.allocatedResources()),
  };
  const role = allocationRole(info.resources);
  if (role !== undefined) out.role = role;
  if (info.labels !== undefined) out.labels = labelsJson(info.labels);
  if (info.type !== undefined) out.type = info.type;
  const launched = [...executor.launchedTasks.values()];
  const queued = [...executor.queuedTasks.values()];
  const completed = [...executor.completedTasks, ...executor.terminatedTasks.values()];
  if (view === undefined) {
    out.tasks = launched.map(taskJson);
    out.queued_tasks = queued.map(queuedTaskJson);
    out.completed_tasks = completed.map(taskJson);
    return out;
  }
  out.tasks = launched.filter((t) => taskSeen(view, t.user)).map(taskJson);
  out.queued_tasks = queued.filter((t) => taskSeen(view, t.command?.user)).map(queuedTaskJson);
  out.completed_tasks = completed.filter((t) => taskSeen(view, t.user)).map(taskJson);
  return out;
}

function frameworkJson(framework: Framework, can?: ViewPermissions): Json {
  const info = framework.info;
  const out: Json = {
    id: framework.id,
    name: info.name,
    user: info.user,
    failover_timeout: info.failover_timeout ?? 0,
    checkpoint: info.checkpoint ?? false,
    hostname: info.hostname ?? "",
  };
  if (info.principal !== undefined) out.principal = info.principal;
  if (framework.hasCapability("MULTI_ROLE")) out.roles = info.roles ?? [];
  else out.role = info.role ?? "*";
  if (can === undefined) {
    out.executors = [...framework.executors.values()].map((e) => executorJson(e));
    out.completed_executors = framework.completedExecutors.map((e) => executorJson(e));
    return out;
  }
  const view: StateView = { can, framework };
  const seen = (e: Executor) => can.executor(e.info.command?.user ?? info.user);
  out.executors = [...framework.executors.values()].filter(seen).map((e) => executorJson(e, view));
  out.completed_executors = framework.completedExecutors
    .filter(seen)
    .map((e) => executorJson(e, view));
  return out;
}

/** A map by role without the roles the caller may not view. */
function viewedRoles<T>(byRole: Record<string, T>, can: ViewPermissions | undefined) {
  if (can === undefined) return byRole;
  return Object.fromEntries(Object.entries(byRole).filter(([role]) => can.role(role)));
}

function byRole(resources: Resources): Record<string, ResourceSummary> {
  const out: Record<string, ResourceSummary> = {};
  for (const [role, r] of resources.reservations()) out[role] = resourcesSummaryJson(r);
  return out;
}

function fullByRole(resources: Resources): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const [role, r] of resources.reservations()) out[role] = r.toEndpointJson();
  return out;
}

/**
 * The `/state` document; with `can` (a caller with --acls who may not view
 * everything) cut as Mesos' agent does: frameworks, executors and tasks it
 * may not view and reservations of roles it may not view are left out, and
 * without VIEW_FLAGS the flags, `log_dir` and `external_log_file`.
 */
export function agentStateJson(agent: Agent, context: StateContext, can?: ViewPermissions): Json {
  const info = agent.info;
  const total = agent.resources;
  const allocated = Resources.empty();
  for (const framework of agent.frameworks.values()) {
    for (const executor of framework.executors.values())
      allocated.add(executor.allocatedResources());
  }
  const out: Json = {
    version: context.version,
    ...buildFieldsJson(context.build),
    start_time: agent.startTime,
    id: agent.id ?? "",
    pid: agent.config.selfPid,
    hostname: info.hostname,
    capabilities: agent.config.capabilities.map((c) => c.type),
  };
  if (info.domain !== undefined) out.domain = protobufJson("mesos.v1.DomainInfo", info.domain);
  const drain = agent.draining.config;
  if (drain !== undefined) {
    out.drain_config = protobufJson("mesos.v1.DrainConfig", drain);
    // Whole seconds here (the master's documents show the fraction).
    out.estimated_drain_start_time_seconds = Math.trunc(
      (agent.draining.startTime?.nanoseconds ?? 0) / 1e9,
    );
  }
  out.resources = resourcesSummaryJson(total);
  out.reserved_resources = viewedRoles(byRole(total), can);
  out.unreserved_resources = resourcesSummaryJson(total.unreserved());
  out.reserved_resources_full = viewedRoles(fullByRole(total), can);
  out.unreserved_resources_full = total.unreserved().toEndpointJson();
  out.reserved_resources_allocated = viewedRoles(byRole(allocated), can);
  out.unreserved_resources_allocated = resourcesSummaryJson(allocated.unreserved());
  out.resource_providers = [];
  // Same shape; the resources module's types only make repeated fields required.
  out.attributes = attributesToJson((info.attributes ?? []) as unknown as ResourceAttribute[]);
  if (context.masterHostname !== undefined) out.master_hostname = context.masterHostname;
  if (can === undefined || can.flags) {
    if (context.logDir !== undefined) out.log_dir = context.logDir;
    if (context.externalLogFile !== undefined) out.external_log_file = context.externalLogFile;
    out.flags = context.flags;
  }
  const seen = (f: Framework) => can === undefined || can.framework(f.info.user);
  out.frameworks = [...agent.frameworks.values()].filter(seen).map((f) => frameworkJson(f, can));
  out.completed_frameworks = agent.completedFrameworks
    .filter(seen)
    .map((f) => frameworkJson(f, can));
  return out;
}
