/**
 * Applies operator API events (`mesos.v1.master.Event`, JSON) to the cluster
 * view where that can be done on the spot: a task's new state, a new task.
 * Everything else (resources, offers, agents, frameworks) is refreshed from
 * the next `/master/state` read, which the caller schedules.
 */
import {
  type ClusterView,
  derive,
  type FrameworkView,
  isTerminal,
  type TaskStatusView,
  type TaskView,
} from "./cluster";
import { arr, idOf, num, obj, str } from "./json";
import { fromResourceList } from "./resources";

/** What applying an event did. */
export interface EventOutcome {
  /** The new view, or undefined when the event changed nothing we show at once. */
  cluster: ClusterView | undefined;
  /** True when the event implies changes only a full read brings (resources, offers, ...). */
  needsResync: boolean;
}

export { isTerminal };

function taskFromV1(value: unknown): TaskView {
  const t = obj(value);
  const statuses = arr(t.statuses).map((s): TaskStatusView => {
    const o = obj(s);
    const status: TaskStatusView = { state: str(o.state), timestamp: num(o.timestamp) };
    if (typeof o.healthy === "boolean") status.healthy = o.healthy;
    return status;
  });
  const state = str(t.state, "TASK_STAGING");
  const last = statuses[statuses.length - 1];
  const firstResource = obj(arr(t.resources)[0]);
  return {
    id: idOf(t.task_id),
    name: str(t.name),
    frameworkId: idOf(t.framework_id),
    executorId: idOf(t.executor_id),
    agentId: idOf(t.agent_id),
    state,
    role: str(obj(firstResource.allocation_info).role, "*"),
    resources: fromResourceList(t.resources),
    statuses,
    kind: "active",
    // As in Mesos, a task whose first status is already terminal never started.
    startedAt:
      statuses[0] !== undefined && !isTerminal(statuses[0].state) ? statuses[0].timestamp : 0,
    updatedAt: last?.timestamp ?? 0,
    finishedAt: isTerminal(state) ? (last?.timestamp ?? 0) : 0,
    healthy: last?.healthy,
  };
}

/** Applies one decoded event. */
export function applyEvent(cluster: ClusterView, event: unknown): EventOutcome {
  const e = obj(event);
  switch (str(e.type)) {
    case "HEARTBEAT":
    case "SUBSCRIBED":
      return { cluster: undefined, needsResync: false };
    case "TASK_ADDED": {
      const task = taskFromV1(obj(e.task_added).task);
      const framework = cluster.frameworksById.get(task.frameworkId);
      if (framework === undefined || framework.tasks.some((t) => t.id === task.id)) {
        return { cluster: undefined, needsResync: true };
      }
      return {
        cluster: rebuild(cluster, { ...framework, tasks: [...framework.tasks, task] }),
        needsResync: true,
      };
    }
    case "TASK_UPDATED": {
      const u = obj(e.task_updated);
      const status = obj(u.status);
      const taskId = idOf(status.task_id);
      const framework = cluster.frameworksById.get(idOf(u.framework_id));
      const state = str(u.state, str(status.state));
      if (framework === undefined || state === "") return { cluster: undefined, needsResync: true };
      const index = framework.tasks.findIndex((t) => t.id === taskId);
      if (index < 0) return { cluster: undefined, needsResync: true };
      const old = framework.tasks[index] as TaskView;
      const timestamp = num(status.timestamp, Date.now() / 1000);
      const healthy = typeof status.healthy === "boolean" ? status.healthy : undefined;
      const newStatus: TaskStatusView = { state: str(status.state, state), timestamp };
      if (healthy !== undefined) newStatus.healthy = healthy;
      const updated: TaskView = {
        ...old,
        state,
        statuses: [...old.statuses, newStatus],
        updatedAt: timestamp,
        finishedAt: isTerminal(state) ? timestamp : 0,
        healthy,
      };
      const rest = framework.tasks.filter((_, i) => i !== index);
      const changed: FrameworkView = isTerminal(state)
        ? {
            ...framework,
            tasks: rest,
            completedTasks: [{ ...updated, kind: "completed" }, ...framework.completedTasks],
          }
        : { ...framework, tasks: [...rest.slice(0, index), updated, ...rest.slice(index)] };
      // An unreachable task moves to the framework's unreachable list on the next read.
      return {
        cluster: rebuild(cluster, changed),
        needsResync: isTerminal(state) || state === "TASK_UNREACHABLE",
      };
    }
    default:
      return { cluster: undefined, needsResync: true };
  }
}

/** A new view with `changed` in place of the framework of the same id. */
function rebuild(cluster: ClusterView, changed: FrameworkView): ClusterView {
  return derive({
    master: cluster.master,
    activatedAgents: cluster.activatedAgents,
    deactivatedAgents: cluster.deactivatedAgents,
    unreachableAgents: cluster.unreachableAgents,
    agents: cluster.agents,
    frameworks: cluster.frameworks.map((f) => (f.id === changed.id ? changed : f)),
    completedFrameworks: cluster.completedFrameworks,
    receivedAt: Date.now(),
  });
}
