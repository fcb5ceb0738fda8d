/**
 * The master's state as v1 operator API messages (`mesos.v1.master.Response`
 * parts): GetAgents.Agent, GetFrameworks.Framework, GetExecutors.Executor,
 * GetTasks, GetState, and the operator events built from them. Times are
 * TimeInfo nanoseconds; resources are the v1 Resource lists.
 */
import type {
  AgentInfo,
  Resource,
  Task,
  TimeInfo,
} from "../../common/protocol/generated/mesos-v1.js";
import type {
  Response_GetAgents,
  Response_GetAgents_Agent,
  Response_GetExecutors,
  Response_GetExecutors_Executor,
  Response_GetFrameworks,
  Response_GetFrameworks_Framework,
  Response_GetState,
  Response_GetTasks,
} from "../../common/protocol/generated/mesos-v1-master.js";
import type { Resources } from "../../common/resources/index.js";
import { drainInfoOf, drainStartOf } from "../core/drain.js";
import type { Master } from "../core/master.js";
import type { AgentRecord, FrameworkRecord } from "../core/records.js";
import { agentUsedLists, frameworkUsedLists, mergedOf, offeredSources } from "./resource-sums.js";

/** Milliseconds since the epoch as TimeInfo. */
export function timeInfo(ms: number): TimeInfo {
  return { nanoseconds: Math.round(ms * 1e6) };
}

function list(resources: Resources): Resource[] {
  return resources.toArray() as Resource[];
}

/** AgentInfo of a registered agent. */
export function agentInfo(agent: AgentRecord): AgentInfo {
  const info = agent.info;
  const out: AgentInfo = { hostname: info.hostname, port: info.port ?? 5051 };
  if ((info.resources ?? []).length > 0) out.resources = info.resources;
  if ((info.attributes ?? []).length > 0) out.attributes = info.attributes;
  out.id = { value: agent.id };
  if (info.domain !== undefined) out.domain = info.domain;
  return out;
}

/**
 * GetAgents.Agent. With `withStable` false, the parts fixed at
 * registration (agent_info, total_resources, capabilities) are left out
 * (the state document renders them once and splices them in).
 */
export function agentMessage(
  m: Master,
  agent: AgentRecord,
  withStable = true,
): Response_GetAgents_Agent {
  const out = {
    ...(withStable ? { agent_info: agentInfo(agent) } : {}),
    active: agent.active,
    deactivated: m.deactivatedAgents.has(agent.id),
    version: agent.version,
    pid: agent.pid,
    registered_time: timeInfo(agent.registeredTime),
    ...(withStable ? { total_resources: list(agent.totalResources) } : {}),
    allocated_resources: mergedOf(agentUsedLists(agent)),
    offered_resources: mergedOf(offeredSources(agent.offers)),
    ...(withStable ? { capabilities: agent.capabilities } : {}),
  } as Response_GetAgents_Agent;
  if (agent.reregisteredTime !== undefined) {
    out.reregistered_time = timeInfo(agent.reregisteredTime);
  }
  const drain = drainInfoOf(m, agent.id);
  if (drain !== undefined) {
    out.drain_info = drain;
    const started = drainStartOf(m, agent.id);
    if (started !== undefined) out.estimated_drain_start_time = timeInfo(started);
  }
  return out;
}

/** GetFrameworks.Framework. */
export function frameworkMessage(framework: FrameworkRecord): Response_GetFrameworks_Framework {
  const out: Response_GetFrameworks_Framework = {
    framework_info: framework.info,
    active: framework.active,
    connected: framework.connected,
    recovered: framework.connection === "recovered",
    registered_time: timeInfo(framework.registeredTime),
    reregistered_time: timeInfo(framework.reregisteredTime),
    offers: [...framework.offers.values()].map((o) => o.offer),
    allocated_resources: mergedOf(frameworkUsedLists(framework)),
    offered_resources: mergedOf(offeredSources(framework.offers.values())),
    offer_constraints: framework.offerConstraints,
  };
  if (framework.unregisteredTime !== undefined) {
    out.unregistered_time = timeInfo(framework.unregisteredTime);
  }
  return out;
}

export function getAgents(m: Master): Response_GetAgents {
  // Agents from the registry that have not re-registered since this master recovered.
  return {
    agents: [...m.agents.values()].map((a) => agentMessage(m, a)),
    recovered_agents: [...m.recoveredAgents.values()] as AgentInfo[],
  };
}

export function getFrameworks(m: Master): Response_GetFrameworks {
  return {
    frameworks: [...m.frameworks.values()].map(frameworkMessage),
    completed_frameworks: m.completedFrameworks.map(frameworkMessage),
  };
}

/** Every executor the master knows (custom and default executors). */
export function executorMessages(m: Master): Response_GetExecutors_Executor[] {
  const out: Response_GetExecutors_Executor[] = [];
  for (const f of m.frameworks.values()) {
    for (const [agentId, executors] of f.executors) {
      for (const e of executors.values()) {
        out.push({ executor_info: e, agent_id: { value: agentId } });
      }
    }
  }
  return out;
}

export function getExecutors(m: Master): Response_GetExecutors {
  return { executors: executorMessages(m) };
}

/** The tasks of every framework, active and completed (Mesos' GET_TASKS). */
export function taskLists(m: Master): { tasks: Task[]; unreachable: Task[]; completed: Task[] } {
  const tasks: Task[] = [];
  const unreachable: Task[] = [];
  const completed: Task[] = [];
  for (const f of [...m.frameworks.values(), ...m.completedFrameworks]) {
    for (const t of f.tasks.values()) tasks.push(t);
    for (const t of f.unreachableTasks.values()) unreachable.push(t);
    for (const t of f.completedTasks) completed.push(t);
  }
  return { tasks, unreachable, completed };
}

export function getTasks(m: Master): Response_GetTasks {
  const { tasks, unreachable, completed } = taskLists(m);
  return { tasks, unreachable_tasks: unreachable, completed_tasks: completed };
}

export function getState(m: Master): Response_GetState {
  return {
    get_tasks: getTasks(m),
    get_executors: getExecutors(m),
    get_frameworks: getFrameworks(m),
    get_agents: getAgents(m),
  };
}
