/**
 * The UI's view of the cluster, built from the master's `/master/state`
 * document (Mesos' v0 JSON: `slaves`, `slave_id`, resources as summaries,
 * times in seconds). Everything pages need that takes a walk over all tasks
 * (counts by state, totals, per-agent tasks) is computed once per document.
 */
import { arr, bool, type JsonObject, num, obj, str } from "./json";
import { accumulate, fromSummary, type Res, subtract, ZERO } from "./resources";

export type TaskKind = "active" | "completed" | "unreachable";

export interface TaskStatusView {
  state: string;
  /** Seconds since the epoch. */
  timestamp: number;
  /** The health check's verdict, when the task has one. */
  healthy?: boolean;
}

export interface TaskView {
  id: string;
  name: string;
  frameworkId: string;
  /** "" for command tasks in the master's view. */
  executorId: string;
  agentId: string;
  state: string;
  role: string;
  resources: Res;
  statuses: TaskStatusView[];
  kind: TaskKind;
  /** The first status' time (seconds); 0 when none or when that status is already terminal. */
  startedAt: number;
  /** The last status' time (seconds), 0 when none. */
  updatedAt: number;
  /** When the task reached its terminal state (seconds), 0 while it runs. */
  finishedAt: number;
  /** The last status' health verdict; undefined without a health check. */
  healthy: boolean | undefined;
}

export interface OfferView {
  id: string;
  frameworkId: string;
  agentId: string;
  role: string;
  resources: Res;
}

export interface ExecutorView {
  id: string;
  name: string;
  frameworkId: string;
  agentId: string;
  resources: Res;
  command: string;
}

export interface FrameworkView {
  id: string;
  name: string;
  user: string;
  roles: string[];
  principal: string;
  hostname: string;
  webuiUrl: string;
  pid: string;
  active: boolean;
  connected: boolean;
  completed: boolean;
  capabilities: string[];
  failoverTimeout: number;
  checkpoint: boolean;
  registeredTime: number;
  reregisteredTime: number;
  unregisteredTime: number;
  used: Res;
  offered: Res;
  tasks: TaskView[];
  completedTasks: TaskView[];
  unreachableTasks: TaskView[];
  offers: OfferView[];
  executors: ExecutorView[];
}

export interface AgentView {
  id: string;
  hostname: string;
  pid: string;
  port: number;
  active: boolean;
  deactivated: boolean;
  version: string;
  registeredTime: number;
  reregisteredTime: number;
  total: Res;
  used: Res;
  offered: Res;
  unreserved: Res;
  /** Role -> reserved resources. */
  reserved: Record<string, Res>;
  attributes: Record<string, string | number>;
  capabilities: string[];
  /** `DRAINING` or `DRAINED` while the agent is drained (DRAIN_AGENT), else "". */
  drainState: string;
  drainMarkGone: boolean;
  /** When draining ends at the latest (start + max grace period, seconds), 0 when unknown. */
  drainEnd: number;
}

export interface MasterView {
  id: string;
  pid: string;
  hostname: string;
  cluster: string;
  version: string;
  buildDate: string;
  buildUser: string;
  startTime: number;
  electedTime: number;
  /** The leader's pid (`master@ip:port`), "" when unknown. */
  leader: string;
  leaderHostname: string;
  leaderPort: number;
  logDir: string;
  externalLogFile: string;
  flags: Record<string, string>;
}

export interface ResourceTotals {
  total: Res;
  used: Res;
  offered: Res;
  idle: Res;
}

export interface ClusterView {
  master: MasterView;
  activatedAgents: number;
  deactivatedAgents: number;
  unreachableAgents: number;
  agents: AgentView[];
  agentsById: Map<string, AgentView>;
  frameworks: FrameworkView[];
  completedFrameworks: FrameworkView[];
  frameworksById: Map<string, FrameworkView>;
  /** Every task the master knows (active, unreachable, completed). */
  tasks: TaskView[];
  /** Tasks by agent id. */
  tasksByAgent: Map<string, TaskView[]>;
  /** Task count by state name (`TASK_RUNNING` -> 3). */
  taskCounts: Record<string, number>;
  offers: OfferView[];
  totals: ResourceTotals;
  /** When the document was received (ms since the epoch). */
  receivedAt: number;
  /**
   * True for the quick first view from `/master/state-summary`: agents,
   * frameworks and task counts, but no task, offer or executor lists (the
   * full `/master/state` follows).
   */
  partial?: boolean;
}

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

export function isTerminal(state: string): boolean {
  return TERMINAL.has(state);
}

function taskFrom(value: unknown, kind: TaskKind): TaskView {
  const t = obj(value);
  const statuses = arr(t.statuses).map((s): TaskStatusView => {
    const o = obj(s);
    const status: TaskStatusView = { state: str(o.state), timestamp: num(o.timestamp) };
    if (typeof o.healthy === "boolean") status.healthy = o.healthy;
    return status;
  });
  const state = str(t.state, "TASK_STAGING");
  const last = statuses[statuses.length - 1];
  return {
    id: str(t.id),
    name: str(t.name),
    frameworkId: str(t.framework_id),
    executorId: str(t.executor_id),
    agentId: str(t.slave_id),
    state,
    role: str(t.role, "*"),
    resources: fromSummary(t.resources),
    statuses,
    kind,
    // As in Mesos, a task whose first status is already terminal never started.
    startedAt:
      statuses[0] !== undefined && !isTerminal(statuses[0].state) ? statuses[0].timestamp : 0,
    updatedAt: last?.timestamp ?? 0,
    finishedAt: isTerminal(state) ? (last?.timestamp ?? 0) : 0,
    healthy: last?.healthy,
  };
}

function offerFrom(value: unknown): OfferView {
  const o = obj(value);
  return {
    id: str(o.id),
    frameworkId: str(o.framework_id),
    agentId: str(o.slave_id),
    role: str(obj(o.allocation_info).role, "*"),
    resources: fromSummary(o.resources),
  };
}

function commandText(value: unknown): string {
  const c = obj(value);
  if (typeof c.value === "string") return c.value;
  return arr(c.argv)
    .map((a) => str(a))
    .join(" ");
}

function executorFrom(value: unknown): ExecutorView {
  const e = obj(value);
  return {
    id: str(e.executor_id),
    name: str(e.name),
    frameworkId: str(e.framework_id),
    agentId: str(e.slave_id),
    resources: fromSummary(e.resources),
    command: commandText(e.command),
  };
}

function rolesOf(f: JsonObject): string[] {
  if (Array.isArray(f.roles)) return f.roles.map((r) => str(r));
  return typeof f.role === "string" ? [f.role] : [];
}

function frameworkFrom(value: unknown, completed: boolean): FrameworkView {
  const f = obj(value);
  return {
    id: str(f.id),
    name: str(f.name),
    user: str(f.user),
    roles: rolesOf(f),
    principal: str(f.principal),
    hostname: str(f.hostname),
    webuiUrl: str(f.webui_url),
    pid: str(f.pid),
    active: bool(f.active),
    connected: bool(f.connected),
    completed,
    capabilities: arr(f.capabilities).map((c) => str(c)),
    failoverTimeout: num(f.failover_timeout),
    checkpoint: bool(f.checkpoint),
    registeredTime: num(f.registered_time),
    reregisteredTime: num(f.reregistered_time),
    unregisteredTime: num(f.unregistered_time),
    used: fromSummary(f.used_resources),
    offered: fromSummary(f.offered_resources),
    tasks: arr(f.tasks).map((t) => taskFrom(t, "active")),
    completedTasks: arr(f.completed_tasks).map((t) => taskFrom(t, "completed")),
    unreachableTasks: arr(f.unreachable_tasks).map((t) => taskFrom(t, "unreachable")),
    offers: arr(f.offers).map(offerFrom),
    executors: arr(f.executors).map(executorFrom),
  };
}

function reservedFrom(value: unknown): Record<string, Res> {
  const out: Record<string, Res> = {};
  for (const [role, summary] of Object.entries(obj(value))) out[role] = fromSummary(summary);
  return out;
}

function attributesFrom(value: unknown): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(obj(value))) {
    out[k] = typeof v === "number" ? v : str(v);
  }
  return out;
}

function agentFrom(value: unknown): AgentView {
  const a = obj(value);
  const drain = obj(a.drain_info);
  const drainConfig = obj(drain.config);
  const grace = num(obj(drainConfig.max_grace_period).nanoseconds, -1);
  const drainStart = num(a.estimated_drain_start_time_seconds);
  return {
    id: str(a.id),
    hostname: str(a.hostname),
    pid: str(a.pid),
    port: num(a.port),
    active: bool(a.active, true),
    deactivated: bool(a.deactivated),
    version: str(a.version),
    registeredTime: num(a.registered_time),
    reregisteredTime: num(a.reregistered_time),
    total: fromSummary(a.resources),
    used: fromSummary(a.used_resources),
    offered: fromSummary(a.offered_resources),
    unreserved: fromSummary(a.unreserved_resources),
    reserved: reservedFrom(a.reserved_resources),
    attributes: attributesFrom(a.attributes),
    capabilities: arr(a.capabilities).map((c) => str(c)),
    drainState: str(drain.state),
    drainMarkGone: bool(drainConfig.mark_gone),
    drainEnd: drainStart > 0 && grace >= 0 ? drainStart + grace / 1e9 : 0,
  };
}

function flagsFrom(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(value))) out[k] = str(v);
  return out;
}

function masterFrom(s: JsonObject): MasterView {
  const leader = obj(s.leader_info);
  return {
    id: str(s.id),
    pid: str(s.pid),
    hostname: str(s.hostname),
    cluster: str(s.cluster),
    version: str(s.version),
    buildDate: str(s.build_date),
    buildUser: str(s.build_user),
    startTime: num(s.start_time),
    electedTime: num(s.elected_time),
    leader: str(s.leader),
    leaderHostname: str(leader.hostname),
    leaderPort: num(leader.port),
    logDir: str(s.log_dir),
    externalLogFile: str(s.external_log_file),
    flags: flagsFrom(s.flags),
  };
}

/** Builds the cluster view from a `/master/state` document. */
export function clusterFromState(state: unknown, receivedAt: number = Date.now()): ClusterView {
  const s = obj(state);
  const agents = arr(s.slaves).map(agentFrom);
  const frameworks = arr(s.frameworks).map((f) => frameworkFrom(f, false));
  const completedFrameworks = arr(s.completed_frameworks).map((f) => frameworkFrom(f, true));
  return derive({
    master: masterFrom(s),
    activatedAgents: num(s.activated_slaves, agents.filter((a) => a.active).length),
    deactivatedAgents: num(s.deactivated_slaves),
    unreachableAgents: num(s.unreachable_slaves),
    agents,
    frameworks,
    completedFrameworks,
    receivedAt,
  });
}

type BaseView = Pick<
  ClusterView,
  | "master"
  | "activatedAgents"
  | "deactivatedAgents"
  | "unreachableAgents"
  | "agents"
  | "frameworks"
  | "completedFrameworks"
  | "receivedAt"
  | "partial"
>;

/** Computes the indexes, counts and totals of a view from its agents and frameworks. */
export function derive(base: BaseView & { taskCounts?: Record<string, number> }): ClusterView {
  const agentsById = new Map<string, AgentView>();
  const total: Res = { ...ZERO };
  const used: Res = { ...ZERO };
  const offered: Res = { ...ZERO };
  for (const a of base.agents) {
    agentsById.set(a.id, a);
    accumulate(total, a.total);
    accumulate(used, a.used);
    accumulate(offered, a.offered);
  }
  const frameworksById = new Map<string, FrameworkView>();
  const tasks: TaskView[] = [];
  const tasksByAgent = new Map<string, TaskView[]>();
  const taskCounts: Record<string, number> = {};
  const offers: OfferView[] = [];
  const addTask = (t: TaskView): void => {
    tasks.push(t);
    taskCounts[t.state] = (taskCounts[t.state] ?? 0) + 1;
    let list = tasksByAgent.get(t.agentId);
    if (list === undefined) {
      list = [];
      tasksByAgent.set(t.agentId, list);
    }
    list.push(t);
  };
  for (const list of [base.frameworks, base.completedFrameworks]) {
    for (const f of list) {
      if (!frameworksById.has(f.id)) frameworksById.set(f.id, f);
      for (const t of f.tasks) addTask(t);
      for (const t of f.unreachableTasks) addTask(t);
      for (const t of f.completedTasks) addTask(t);
      for (const o of f.offers) offers.push(o);
    }
  }
  return {
    ...base,
    agentsById,
    frameworksById,
    tasks,
    tasksByAgent,
    taskCounts: base.taskCounts ?? taskCounts,
    offers,
    totals: { total, used, offered, idle: subtract(subtract(total, used), offered) },
  };
}

const SUMMARY_STATES = [
  "TASK_STAGING",
  "TASK_STARTING",
  "TASK_RUNNING",
  "TASK_KILLING",
  "TASK_FINISHED",
  "TASK_KILLED",
  "TASK_FAILED",
  "TASK_LOST",
  "TASK_ERROR",
  "TASK_UNREACHABLE",
];

/**
 * The quick first view from `/master/state-summary` (agents and frameworks
 * with per-state task counts) and, when read too, `/version`: enough for
 * the dashboard's counts, resources and framework tables while the full
 * `/master/state` is still on its way.
 */
export function clusterFromSummary(
  summary: unknown,
  version: unknown,
  receivedAt: number = Date.now(),
): ClusterView {
  const s = obj(summary);
  const v = obj(version);
  const agents = arr(s.slaves).map(agentFrom);
  const frameworks = arr(s.frameworks).map((f) => frameworkFrom(f, false));
  const taskCounts: Record<string, number> = {};
  for (const f of arr(s.frameworks)) {
    const o = obj(f);
    for (const state of SUMMARY_STATES) {
      const n = num(o[state]);
      if (n > 0) taskCounts[state] = (taskCounts[state] ?? 0) + n;
    }
  }
  const master = masterFrom({});
  master.hostname = str(s.hostname);
  master.cluster = str(s.cluster);
  master.version = str(v.version);
  master.buildDate = str(v.build_date);
  master.buildUser = str(v.build_user);
  return derive({
    master,
    activatedAgents: agents.filter((a) => a.active).length,
    deactivatedAgents: agents.filter((a) => !a.active).length,
    unreachableAgents: 0,
    agents,
    frameworks,
    completedFrameworks: [],
    receivedAt,
    partial: true,
    taskCounts,
  });
}

/** Where a task's sandbox is browsed: the rerouter route that finds its directory. */
export function sandboxRoute(task: TaskView): string {
  // Command tasks run under an executor named after the task.
  const executor = task.executorId !== "" ? task.executorId : task.id;
  return (
    `#/agents/${encodeURIComponent(task.agentId)}/frameworks/${encodeURIComponent(task.frameworkId)}` +
    `/executors/${encodeURIComponent(executor)}/tasks/${encodeURIComponent(task.id)}/browse`
  );
}
