/**
 * `/master/state` (and its `/state.json`, `/master/state.json` aliases):
 * the master's view in the legacy JSON shape of Mesos 1.12 (v0 names:
 * `slaves`, `slave_id`; resources as summary objects; times in seconds).
 * HTTP frameworks carry no `pid` key at all.
 */

import { type BuildInfo, buildFieldsJson } from "../../common/http/common-endpoints.js";
import { labelsJson, legacyCommandJson, legacyStatusJson } from "../../common/http/legacy-json.js";
import type {
  AgentInfo,
  ExecutorInfo,
  Resource,
  Task,
} from "../../common/protocol/generated/mesos-v1.js";
import { codecFor } from "../../common/protocol/index.js";
import {
  attributesToJson,
  type Attribute as CoreAttribute,
  type Resource as CoreResource,
  Resources,
  resourcesSummaryJson,
} from "../../common/resources/index.js";
import { drainJson } from "../core/drain.js";
import type { Master } from "../core/master.js";
import type { AgentRecord, FrameworkRecord, OfferRecord } from "../core/records.js";
import { agentUsedLists, frameworkUsedLists, offeredSources, summaryOf } from "./resource-sums.js";

type Json = Record<string, unknown>;

/** Build facts shown by /state and /version. */
export type { BuildInfo } from "../../common/http/common-endpoints.js";

/** What the state endpoint needs besides the master core. */
export interface StateContext {
  readonly master: Master;
  readonly build: BuildInfo;
  /** This process' pid text, `master@ip:port`. */
  readonly pid: string;
  /** `--cluster`, when set. */
  readonly cluster: string | undefined;
  readonly logDir: string | undefined;
  readonly externalLogFile: string | undefined;
  /** Every flag that has a value, as text. */
  readonly flags: Record<string, string>;
  /** When this master became the leader (ms since the epoch). */
  readonly electedTime: number;
}

const secs = (ms: number): number => ms / 1000;

/** A nested message in Mesos' protobuf-JSON form (bytes as base64, enums by name). */
function pb(typeName: string, value: unknown): unknown {
  return codecFor(typeName).toJsonValue(value);
}

function summary(list: readonly Resource[] | Resources | undefined): Json {
  const resources =
    list instanceof Resources ? list : Resources.from((list ?? []) as CoreResource[]);
  return resourcesSummaryJson(resources);
}

/** A task in the master's JSON (the executor id is "" for command tasks). */
export function taskJson(task: Task): Json {
  const out: Json = {
    id: task.task_id.value,
    name: task.name,
    framework_id: task.framework_id.value,
    executor_id: task.executor_id?.value ?? "",
    slave_id: task.agent_id.value,
    state: task.state,
    resources: summaryOf([task.resources ?? []]),
  };
  if (task.limits !== undefined && Object.keys(task.limits).length > 0) {
    out.limits = Object.fromEntries(Object.entries(task.limits).map(([k, v]) => [k, v.value]));
  }
  out.role = task.resources?.[0]?.allocation_info?.role ?? "*";
  out.statuses = (task.statuses ?? []).map(legacyStatusJson);
  if (task.user !== undefined) out.user = task.user;
  if (task.labels !== undefined) out.labels = labelsJson(task.labels);
  if (task.discovery !== undefined) out.discovery = pb("mesos.v1.DiscoveryInfo", task.discovery);
  if (task.container !== undefined) out.container = pb("mesos.v1.ContainerInfo", task.container);
  if (task.health_check !== undefined) {
    out.health_check = pb("mesos.v1.HealthCheck", task.health_check);
  }
  return out;
}

function executorJson(executor: ExecutorInfo, agentId: string): Json {
  const out: Json = {
    executor_id: executor.executor_id.value,
    name: executor.name ?? "",
    framework_id: executor.framework_id?.value ?? "",
    command: legacyCommandJson(executor.command),
    resources: summary(executor.resources),
  };
  const role = executor.resources?.[0]?.allocation_info?.role;
  if (role !== undefined) out.role = role;
  if (executor.labels !== undefined) out.labels = labelsJson(executor.labels);
  if (executor.type !== undefined) out.type = executor.type;
  out.slave_id = agentId;
  return out;
}

function offerJson(offer: OfferRecord): Json {
  return {
    id: offer.id,
    framework_id: offer.frameworkId,
    allocation_info: { role: offer.role },
    slave_id: offer.agentId,
    resources: summary(offer.resources),
  };
}

/** The keys every framework view starts with (`/state-summary` uses just these). */
export function frameworkSummaryJson(framework: FrameworkRecord): Json {
  const info = framework.info;
  return {
    id: framework.id,
    name: info.name,
    // HTTP frameworks have no pid: the key is left out, not empty.
    used_resources: summaryOf(frameworkUsedLists(framework)),
    offered_resources: summaryOf(offeredSources(framework.offers.values())),
    capabilities: (info.capabilities ?? []).map((c) => c.type ?? "UNKNOWN"),
    hostname: info.hostname ?? "",
    webui_url: info.webui_url ?? "",
    active: framework.active,
    connected: framework.connected,
    recovered: framework.connection === "recovered",
  };
}

/** A framework's keys before its task lists (summary keys, then the full view's scalars). */
export function frameworkHeadJson(framework: FrameworkRecord): Json {
  const info = framework.info;
  const out: Json = {
    ...frameworkSummaryJson(framework),
    user: info.user,
    failover_timeout: info.failover_timeout ?? 0,
    checkpoint: info.checkpoint ?? false,
    registered_time: secs(framework.registeredTime),
    unregistered_time: secs(framework.unregisteredTime ?? 0),
  };
  if (info.principal !== undefined) out.principal = info.principal;
  out.resources = summaryOf([
    ...frameworkUsedLists(framework),
    ...offeredSources(framework.offers.values()),
  ]);
  if (framework.reregisteredTime !== framework.registeredTime) {
    out.reregistered_time = secs(framework.reregisteredTime);
  }
  if (framework.multiRole) out.roles = info.roles ?? [];
  else out.role = info.role ?? "*";
  return out;
}

/** A framework's keys after its task lists: offers, executors, labels, offer constraints. */
export function frameworkTailJson(framework: FrameworkRecord): Json {
  const out: Json = {
    offers: [...framework.offers.values()].map(offerJson),
    executors: [...framework.executors].flatMap(([agentId, executors]) =>
      [...executors.values()].map((e) => executorJson(e, agentId)),
    ),
  };
  if (framework.info.labels !== undefined) out.labels = labelsJson(framework.info.labels);
  out.offer_constraints = pb("mesos.v1.scheduler.OfferConstraints", framework.offerConstraints);
  return out;
}

/** A framework: the summary keys first, then the full view. */
export function frameworkJson(framework: FrameworkRecord): Json {
  return {
    ...frameworkHeadJson(framework),
    tasks: [...framework.tasks.values()].map(taskJson),
    unreachable_tasks: [...framework.unreachableTasks.values()].map(taskJson),
    completed_tasks: framework.completedTasks.map(taskJson),
    ...frameworkTailJson(framework),
  };
}

const totalsMemo = new WeakMap<Resources, { resources: Json; reserved: Json; unreserved: Json }>();

/** The summaries of an agent's total resources (kept until they change). */
function totalSummaries(total: Resources): { resources: Json; reserved: Json; unreserved: Json } {
  let out = totalsMemo.get(total);
  if (out === undefined) {
    const reserved: Json = {};
    for (const [role, resources] of total.reservations()) reserved[role] = summary(resources);
    out = { resources: summary(total), reserved, unreserved: summary(total.unreserved()) };
    totalsMemo.set(total, out);
  }
  return out;
}

/**
 * An agent known from the registry that has not re-registered since this
 * master recovered (`recovered_slaves`): only what its registration said.
 */
export function recoveredAgentJson(info: AgentInfo): Json {
  const out: Json = {
    id: info.id?.value ?? "",
    hostname: info.hostname,
    port: info.port ?? 5051,
    attributes: attributesToJson((info.attributes ?? []) as CoreAttribute[]),
  };
  if (info.domain !== undefined) out.domain = pb("mesos.v1.DomainInfo", info.domain);
  return out;
}

/** An agent ("slave") as the master shows it. */
export function agentJson(agent: AgentRecord, deactivated = false, drain: Json = {}): Json {
  const total = agent.totalResources;
  const out: Json = {
    id: agent.id,
    hostname: agent.info.hostname,
    port: agent.info.port ?? 5051,
    attributes: attributesToJson((agent.info.attributes ?? []) as CoreAttribute[]),
  };
  if (agent.info.domain !== undefined) out.domain = pb("mesos.v1.DomainInfo", agent.info.domain);
  out.pid = agent.pid;
  out.registered_time = secs(agent.registeredTime);
  if (agent.reregisteredTime !== undefined) out.reregistered_time = secs(agent.reregisteredTime);
  const totals = totalSummaries(total);
  out.resources = totals.resources;
  out.used_resources = summaryOf(agentUsedLists(agent));
  out.offered_resources = summaryOf(offeredSources(agent.offers));
  out.reserved_resources = totals.reserved;
  out.unreserved_resources = totals.unreserved;
  out.active = agent.active;
  out.deactivated = deactivated;
  out.version = agent.version;
  out.capabilities = agent.capabilities.map((c) => c.type ?? "UNKNOWN");
  return Object.assign(out, drain);
}

/** The top-level keys of `/master/state` before `slaves`. */
export function stateHeadJson(ctx: StateContext): Json {
  const m = ctx.master;
  const info = m.config.info;
  const agents = [...m.agents.values()];
  const out: Json = {
    version: ctx.build.version,
    ...buildFieldsJson(ctx.build),
    start_time: secs(m.startTime),
    elected_time: secs(ctx.electedTime),
    id: info.id,
    pid: ctx.pid,
    hostname: info.hostname ?? "",
    capabilities: (info.capabilities ?? []).map((c) => c.type ?? "UNKNOWN"),
    activated_slaves: agents.filter((a) => a.active).length,
    deactivated_slaves: agents.filter((a) => !a.active).length,
    unreachable_slaves: m.unreachableAgents.size,
  };
  if (info.domain !== undefined) out.domain = pb("mesos.v1.DomainInfo", info.domain);
  out.leader = ctx.pid;
  out.leader_info = { id: info.id, pid: ctx.pid, port: info.port, hostname: info.hostname ?? "" };
  if (info.domain !== undefined) {
    (out.leader_info as Json).domain = pb("mesos.v1.DomainInfo", info.domain);
  }
  if (ctx.cluster !== undefined) out.cluster = ctx.cluster;
  if (ctx.logDir !== undefined) out.log_dir = ctx.logDir;
  if (ctx.externalLogFile !== undefined) out.external_log_file = ctx.externalLogFile;
  out.flags = ctx.flags;
  return out;
}

/** The whole `/master/state` document (as one value; the endpoint streams it in slices). */
export function stateJson(ctx: StateContext): Json {
  const m = ctx.master;
  const out = stateHeadJson(ctx);
  out.slaves = [...m.agents.values()].map((a) =>
    agentJson(a, m.deactivatedAgents.has(a.id), drainJson(m, a.id)),
  );
  out.recovered_slaves = [...m.recoveredAgents.values()].map(recoveredAgentJson);
  out.frameworks = [...m.frameworks.values()].map(frameworkJson);
  out.completed_frameworks = m.completedFrameworks.map(frameworkJson);
  out.orphan_tasks = [];
  out.unregistered_frameworks = [];
  return out;
}
