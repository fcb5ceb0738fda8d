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
import type { Master } from "../core/master.js";
import type { AgentRecord, FrameworkRecord } from "../core/records.js";

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

/** GetAgents.Agent. */
export function agentMessage(m: Master, agent: AgentRecord): Response_GetAgents_Agent {
  const out: Response_GetAgents_Agent = {
    agent_info: agentInfo(agent),
    active: agent.active,
    deactivated: m.deactivatedAgents.has(agent.id),
    version: agent.version,
    pid: agent.pid,
    registered_time: timeInfo(agent.registeredTime),
    total_resources: list(agent.totalResources),
    allocated_resources: list(agent.usedResources()),
    offered_resources: list(agent.offeredResources()),
    capabilities: agent.capabilities,
  };
  if (agent.reregisteredTime !== undefined) {
    out.reregistered_time = timeInfo(agent.reregisteredTime);
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
    allocated_resources: list(framework.usedResources()),
    offered_resources: list(framework.offeredResources()),
    offer_constraints: framework.offerConstraints,
  };
  if (framework.unregisteredTime !== undefined) {
    out.unregistered_time = timeInfo(framework.unregisteredTime);
  }
  return out;
}

export function getAgents(m: Master): Response_GetAgents {
  return { agents: [...m.agents.values()].map((a) => agentMessage(m, a)), recovered_agents: [] };
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
