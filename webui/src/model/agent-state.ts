/**
 * The agent's own view from its `/state` (frameworks, executors with their
 * sandbox directories, tasks) and per-executor usage from its
 * `/monitor/statistics`: what the agent, agent-framework and agent-executor
 * pages show.
 */
import { arr, bool, type JsonObject, num, obj, str } from "./json";
import { accumulate, fromSummary, type Res, ZERO } from "./resources";

export interface AgentTaskView {
  id: string;
  name: string;
  role: string;
  state: string;
  healthy: boolean | undefined;
  resources: Res;
  /** Resource limits (`limits`), absent when the task set none. */
  limits: { cpus: number | undefined; mem: number | undefined };
  /** The task's own sandbox: `tasks/<id>` inside a default executor's, else the executor's. */
  directory: string;
}

export interface AgentExecutorView {
  id: string;
  name: string;
  source: string;
  role: string;
  type: string;
  directory: string;
  resources: Res;
  tasks: AgentTaskView[];
  queuedTasks: AgentTaskView[];
  completedTasks: AgentTaskView[];
  completed: boolean;
}

export interface AgentFrameworkView {
  id: string;
  name: string;
  user: string;
  roles: string[];
  hostname: string;
  checkpoint: boolean;
  completed: boolean;
  executors: AgentExecutorView[];
  completedExecutors: AgentExecutorView[];
  /** Sum of the executors' resources (executor plus its tasks), as Mesos' agent pages show. */
  allocated: Res;
  /** Tasks running or queued under the framework's live executors. */
  activeTasks: number;
}

export interface AgentStateView {
  id: string;
  hostname: string;
  version: string;
  /** When the agent's binary was built (seconds), and by whom. */
  buildTime: number;
  buildUser: string;
  startTime: number;
  masterHostname: string;
  total: Res;
  unreserved: Res;
  unreservedAllocated: Res;
  reserved: Record<string, Res>;
  reservedAllocated: Record<string, Res>;
  frameworks: AgentFrameworkView[];
  completedFrameworks: AgentFrameworkView[];
  /** Sum of the allocations of the active frameworks. */
  allocated: Res;
  /** Whether the agent writes a log (`--log_dir` or `--external_log_file`), served at `/slave/log`. */
  logFile: boolean;
}

function rolesOf(f: JsonObject): string[] {
  if (Array.isArray(f.roles)) return f.roles.map((r) => str(r));
  return typeof f.role === "string" ? [f.role] : [];
}

function taskFrom(value: unknown, executor: JsonObject, fallbackRole: string): AgentTaskView {
  const t = obj(value);
  const statuses = arr(t.statuses).map(obj);
  const last = statuses[statuses.length - 1];
  const limits = obj(t.limits);
  const dir = str(executor.directory);
  return {
    id: str(t.id),
    name: str(t.name),
    role: str(t.role, fallbackRole),
    state: str(t.state),
    healthy: last !== undefined && typeof last.healthy === "boolean" ? last.healthy : undefined,
    resources: fromSummary(t.resources),
    limits: {
      cpus: typeof limits.cpus === "number" ? limits.cpus : undefined,
      mem: typeof limits.mem === "number" ? limits.mem : undefined,
    },
    directory: str(executor.type) === "DEFAULT" && dir !== "" ? `${dir}/tasks/${str(t.id)}` : dir,
  };
}

function executorFrom(
  value: unknown,
  completed: boolean,
  frameworkRole: string,
): AgentExecutorView {
  const e = obj(value);
  const role = str(e.role, frameworkRole);
  return {
    id: str(e.id),
    name: str(e.name),
    source: str(e.source),
    role,
    type: str(e.type),
    directory: str(e.directory),
    resources: fromSummary(e.resources),
    tasks: arr(e.tasks).map((t) => taskFrom(t, e, role)),
    queuedTasks: arr(e.queued_tasks).map((t) => taskFrom(t, e, role)),
    completedTasks: arr(e.completed_tasks).map((t) => taskFrom(t, e, role)),
    completed,
  };
}

function frameworkFrom(value: unknown, completed: boolean): AgentFrameworkView {
  const f = obj(value);
  const roles = rolesOf(f);
  const role = roles[0] ?? "*";
  const executors = arr(f.executors).map((e) => executorFrom(e, completed, role));
  const completedExecutors = arr(f.completed_executors).map((e) => executorFrom(e, true, role));
  const allocated: Res = { ...ZERO };
  let activeTasks = 0;
  for (const e of executors) {
    accumulate(allocated, e.resources);
    activeTasks += e.tasks.length;
  }
  return {
    id: str(f.id),
    name: str(f.name),
    user: str(f.user),
    roles,
    hostname: str(f.hostname),
    checkpoint: bool(f.checkpoint),
    completed,
    executors,
    completedExecutors,
    allocated,
    activeTasks,
  };
}

function byRole(value: unknown): Record<string, Res> {
  const out: Record<string, Res> = {};
  for (const [role, summary] of Object.entries(obj(value))) out[role] = fromSummary(summary);
  return out;
}

export function agentStateFrom(value: unknown): AgentStateView {
  const s = obj(value);
  const frameworks = arr(s.frameworks).map((f) => frameworkFrom(f, false));
  const allocated: Res = { ...ZERO };
  for (const f of frameworks) accumulate(allocated, f.allocated);
  return {
    id: str(s.id),
    hostname: str(s.hostname),
    version: str(s.version),
    buildTime: num(s.build_time),
    buildUser: str(s.build_user),
    startTime: num(s.start_time),
    masterHostname: str(s.master_hostname),
    total: fromSummary(s.resources),
    unreserved: fromSummary(s.unreserved_resources),
    unreservedAllocated: fromSummary(s.unreserved_resources_allocated),
    reserved: byRole(s.reserved_resources),
    reservedAllocated: byRole(s.reserved_resources_allocated),
    frameworks,
    completedFrameworks: arr(s.completed_frameworks).map((f) => frameworkFrom(f, true)),
    allocated,
    logFile: str(s.log_dir) !== "" || str(s.external_log_file) !== "",
  };
}

/** Finds a framework on the agent (active first, then completed). */
export function findFramework(
  state: AgentStateView,
  frameworkId: string,
): AgentFrameworkView | undefined {
  return (
    state.frameworks.find((f) => f.id === frameworkId) ??
    state.completedFrameworks.find((f) => f.id === frameworkId)
  );
}

/** Finds an executor of a framework (live first, then completed). */
export function findExecutor(
  framework: AgentFrameworkView,
  executorId: string,
): AgentExecutorView | undefined {
  return (
    framework.executors.find((e) => e.id === executorId) ??
    framework.completedExecutors.find((e) => e.id === executorId)
  );
}

/** Live usage of one executor (or the sum over a framework's). */
export interface Usage {
  /** CPUs in use over the last sampling interval; undefined until two samples exist. */
  cpus: number | undefined;
  cpusLimit: number;
  memRss: number;
  memLimit: number;
  diskUsed: number | undefined;
}

export interface UsageSample {
  t: number;
  cpu: number;
}

/**
 * Usage per `<framework>/<executor>` from a `/monitor/statistics` answer.
 * CPU use is the change in CPU seconds over the change in time since the
 * previous sample, which `previous` carries between calls.
 */
export function usageFrom(value: unknown, previous: Map<string, UsageSample>): Map<string, Usage> {
  const out = new Map<string, Usage>();
  for (const item of arr(value)) {
    const i = obj(item);
    const st = obj(i.statistics);
    const key = `${str(i.framework_id)}/${str(i.executor_id)}`;
    const t = num(st.timestamp);
    const cpu = num(st.cpus_user_time_secs) + num(st.cpus_system_time_secs);
    const before = previous.get(key);
    const cpus =
      before !== undefined && t > before.t
        ? Math.max(0, (cpu - before.cpu) / (t - before.t))
        : undefined;
    previous.set(key, { t, cpu });
    out.set(key, {
      cpus,
      cpusLimit: num(st.cpus_limit),
      memRss: num(st.mem_rss_bytes),
      memLimit: num(st.mem_limit_bytes),
      diskUsed: typeof st.disk_used_bytes === "number" ? st.disk_used_bytes : undefined,
    });
  }
  return out;
}

/** The usage of a framework's executors added up. */
export function frameworkUsage(usage: Map<string, Usage>, frameworkId: string): Usage | undefined {
  let sum: Usage | undefined;
  for (const [key, u] of usage) {
    if (!key.startsWith(`${frameworkId}/`)) continue;
    sum ??= { cpus: 0, cpusLimit: 0, memRss: 0, memLimit: 0, diskUsed: undefined };
    sum.cpus = sum.cpus === undefined || u.cpus === undefined ? undefined : sum.cpus + u.cpus;
    sum.cpusLimit += u.cpusLimit;
    sum.memRss += u.memRss;
    sum.memLimit += u.memLimit;
    if (u.diskUsed !== undefined) sum.diskUsed = (sum.diskUsed ?? 0) + u.diskUsed;
  }
  return sum;
}
