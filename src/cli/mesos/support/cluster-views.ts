/**
 * Typed, forgiving views over the master's legacy JSON (`/master/state`,
 * `/master/tasks`). Missing keys get neutral defaults so a master that
 * leaves out an optional key does not break the CLI; a document that is
 * not an object at all is an error.
 */
import { CliError } from "./cli-error.js";
import { parseHostPort } from "./master-address.js";

export type JsonRecord = Record<string, unknown>;

export interface TaskView {
  readonly id: string;
  readonly name: string;
  readonly frameworkId: string;
  /** Empty for command tasks in the master's view (the agent uses the task id). */
  readonly executorId: string;
  readonly agentId: string;
  readonly state: string;
  readonly raw: JsonRecord;
}

export interface AgentView {
  readonly id: string;
  readonly hostname: string;
  /** `slave(1)@10.0.0.7:5051`, or empty when the master did not say. */
  readonly pid: string;
  /** `10.0.0.7:5051`: from the pid, else hostname and port. */
  readonly address: string;
  /** The agent's process id (`slave(1)`), which prefixes its own routes. */
  readonly processId: string;
  readonly active: boolean;
  readonly resources: JsonRecord;
  readonly usedResources: JsonRecord;
  readonly raw: JsonRecord;
}

export interface FrameworkView {
  readonly id: string;
  readonly name: string;
  readonly user: string;
  readonly hostname: string;
  readonly active: boolean;
  readonly connected: boolean;
  /** True for the master's `completed_frameworks`. */
  readonly completed: boolean;
  readonly roles: string[];
  readonly tasks: TaskView[];
  readonly completedTasks: TaskView[];
  readonly unreachableTasks: TaskView[];
  readonly usedResources: JsonRecord;
  readonly raw: JsonRecord;
}

export interface MasterStateView {
  readonly agents: AgentView[];
  /** Active and inactive frameworks first, then completed ones. */
  readonly frameworks: FrameworkView[];
  /** The leading master's pid (`master@ip:port`), if the master knows one. */
  readonly leader: string | undefined;
  readonly raw: JsonRecord;
}

/** Task states after which a task never runs again. */
export const TERMINAL_STATES: ReadonlySet<string> = new Set([
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
  return TERMINAL_STATES.has(state);
}

export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function str(value: unknown, fallback = ""): string {
  return typeof value === "string" ? value : typeof value === "number" ? String(value) : fallback;
}

export function num(value: unknown, fallback = 0): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

function bool(value: unknown, fallback: boolean): boolean {
  return typeof value === "boolean" ? value : fallback;
}

function records(value: unknown): JsonRecord[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

function resources(value: unknown): JsonRecord {
  return isRecord(value) ? value : {};
}

export function taskView(raw: JsonRecord): TaskView {
  const statuses = records(raw.statuses);
  const last = statuses[statuses.length - 1];
  return {
    id: str(raw.id),
    name: str(raw.name),
    frameworkId: str(raw.framework_id),
    executorId: str(raw.executor_id),
    agentId: str(raw.slave_id ?? raw.agent_id),
    state: str(raw.state, last !== undefined ? str(last.state, "UNKNOWN") : "UNKNOWN"),
    raw,
  };
}

/** `host:port` and process id from a libprocess pid `name@host:port`. */
export function splitPid(pid: string): { processId: string; address: string } | undefined {
  const at = pid.indexOf("@");
  if (at <= 0) return undefined;
  const address = pid.slice(at + 1);
  return address.includes(":") ? { processId: pid.slice(0, at), address } : undefined;
}

export function agentView(raw: JsonRecord): AgentView {
  const pid = str(raw.pid);
  const split = splitPid(pid);
  const hostname = str(raw.hostname);
  const port = num(raw.port, 5051);
  return {
    id: str(raw.id),
    hostname,
    pid,
    address: split?.address ?? `${hostname}:${port}`,
    processId: split?.processId ?? "slave(1)",
    active: bool(raw.active, true),
    resources: resources(raw.resources),
    usedResources: resources(raw.used_resources),
    raw,
  };
}

function frameworkView(raw: JsonRecord, completed: boolean): FrameworkView {
  const roles = Array.isArray(raw.roles)
    ? raw.roles.filter((r): r is string => typeof r === "string")
    : typeof raw.role === "string"
      ? [raw.role]
      : [];
  return {
    id: str(raw.id),
    name: str(raw.name),
    user: str(raw.user),
    hostname: str(raw.hostname),
    active: !completed && bool(raw.active, true),
    connected: !completed && bool(raw.connected, true),
    completed,
    roles,
    tasks: records(raw.tasks).map(taskView),
    completedTasks: records(raw.completed_tasks).map(taskView),
    unreachableTasks: records(raw.unreachable_tasks).map(taskView),
    usedResources: resources(raw.used_resources),
    raw,
  };
}

/** Reads a `/master/state` document. */
export function masterStateView(doc: unknown): MasterStateView {
  if (!isRecord(doc)) {
    throw new CliError(
      "the master answered /master/state with something that is not a state document",
    );
  }
  const leader = typeof doc.leader === "string" && doc.leader !== "" ? doc.leader : undefined;
  return {
    agents: records(doc.slaves).map(agentView),
    frameworks: [
      ...records(doc.frameworks).map((f) => frameworkView(f, false)),
      ...records(doc.completed_frameworks).map((f) => frameworkView(f, true)),
    ],
    leader,
    raw: doc,
  };
}

/** Every task the state knows: live, unreachable and completed, across all frameworks. */
export function allTasks(state: MasterStateView): TaskView[] {
  return state.frameworks.flatMap((f) => [...f.tasks, ...f.unreachableTasks, ...f.completedTasks]);
}

/** The HTTP target of an agent. */
export function agentTarget(agent: AgentView) {
  return parseHostPort(agent.address, "agent", 5051);
}

/** A scalar resource from a summary object (`{"cpus": 2, "mem": 1024}`). */
export function scalar(summary: JsonRecord, name: string): number {
  return num(summary[name]);
}
