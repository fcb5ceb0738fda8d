/**
 * Applies operator API events (`mesos.v1.master.Event`, JSON) to the cluster
 * view where that can be done on the spot: a task's new state, a new task.
 * Everything else (resources, offers, agents, frameworks) is refreshed from
 * the next `/master/state` read, which the caller schedules.
 */
import { type ClusterView, derive, type FrameworkView, type TaskView } from "./cluster";
import { arr, idOf, num, obj, str } from "./json";
import { fromResourceList } from "./resources";

const TERMINAL = new Set([
  "TASK_FINISHED",
  "TASK_FAILED",
  "TASK_KILLED",
  "TASK_LOST",
  "TASK_ERROR",
  "TASK_DROPPED",
  "TASK_GONE",
  "TASK_GONE_BY_OPERATOR",
]);

/** What applying an event did. */
export interface EventOutcome {
  /** The new view, or undefined when the event changed nothing we show at once. */
  cluster: ClusterView | undefined;
  /** True when the event implies changes only a full read brings (resources, offers, ...). */
  needsResync: boolean;
}

/** True for a task state after which the task will not run again. */
export function isTerminal(state: string): boolean {
  return TERMINAL.has(state);
}

function taskFromV1(value: unknown): TaskView {
  const t = obj(value);
  const statuses = arr(t.statuses).map((s) => {
    const o = obj(s);
    return { state: str(o.state), timestamp: num(o.timestamp) };
  });
  const firstResource = obj(arr(t.resources)[0]);
  return {
    id: idOf(t.task_id),
    name: str(t.name),
    frameworkId: idOf(t.framework_id),
    executorId: idOf(t.executor_id),
    agentId: idOf(t.agent_id),
    state: str(t.state, "TASK_STAGING"),
    role: str(obj(firstResource.allocation_info).role, "*"),
    resources: fromResourceList(t.resources),
    statuses,
    kind: "active",
    startedAt: statuses[0]?.timestamp ?? 0,
    updatedAt: statuses[statuses.length - 1]?.timestamp ?? 0,
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
      const updated: TaskView = {
        ...old,
        state,
        statuses: [...old.statuses, { state: str(status.state, state), timestamp }],
        updatedAt: timestamp,
      };
      const rest = framework.tasks.filter((_, i) => i !== index);
      const changed: FrameworkView = isTerminal(state)
        ? {
            ...framework,
            tasks: rest,
            completedTasks: [{ ...updated, kind: "completed" }, ...framework.completedTasks],
          }
        : { ...framework, tasks: [...rest.slice(0, index), updated, ...rest.slice(index)] };
      return { cluster: rebuild(cluster, changed), needsResync: isTerminal(state) };
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
