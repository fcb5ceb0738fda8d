/**
 * Cuts state documents down to what a principal may see (Mesos'
 * VIEW_FRAMEWORK, VIEW_TASK, VIEW_EXECUTOR, VIEW_FLAGS, VIEW_ROLE): the
 * documents are the decoded JSON of `/master/state`, `/master/frameworks`,
 * `/master/tasks`, `/master/state-summary`, `/master/slaves`, the agent's
 * `/state` and the v1 GET_STATE family (the protobuf forms decode to the
 * same shape). The object of VIEW_FRAMEWORK/TASK/EXECUTOR is a user: the
 * task's (or executor's) own user when set, else its framework's; that of
 * VIEW_ROLE is a role (a reservation's, an allocation's, a role's name).
 */
import type { AclAction, LocalAuthorizer } from "./acls.js";

type Json = Record<string, unknown>;

/** What one principal may see. */
export interface ViewPermissions {
  framework(user: string): boolean;
  task(user: string): boolean;
  executor(user: string): boolean;
  flags: boolean;
  role(role: string): boolean;
}

/** The VIEW_* actions a filter consults. */
export const VIEW_ACTIONS: readonly AclAction[] = [
  "view_frameworks",
  "view_tasks",
  "view_executors",
  "view_flags",
  "view_roles",
];

/** True when the ACLs hide nothing from anyone (the fast path: no filtering at all). */
export function viewUnrestricted(authorizer: LocalAuthorizer): boolean {
  return VIEW_ACTIONS.every((a) => authorizer.unrestricted(a));
}

/**
 * True when `principal` may view everything `actions` govern (all VIEW_*
 * actions by default): its documents need no filtering.
 */
export function viewsEverything(
  authorizer: LocalAuthorizer,
  principal: string | undefined,
  actions: readonly AclAction[] = VIEW_ACTIONS,
): boolean {
  return actions.every((a) => authorizer.allowsEverything(a, principal));
}

/** The permissions of `principal` (undefined: unauthenticated). */
export function viewPermissions(
  authorizer: LocalAuthorizer,
  principal: string | undefined,
): ViewPermissions {
  return {
    framework: authorizer.approver("view_frameworks", principal),
    task: authorizer.approver("view_tasks", principal),
    executor: authorizer.approver("view_executors", principal),
    flags: authorizer.authorized("view_flags", principal),
    role: authorizer.approver("view_roles", principal),
  };
}

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function list(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isObject) : [];
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** `command.user` of an ExecutorInfo / TaskInfo-like object. */
function commandUser(o: Json | undefined): string | undefined {
  const command = o?.command;
  return isObject(command) ? str(command.user) : undefined;
}

function taskUser(task: Json, frameworkUser: string): string {
  return str(task.user) ?? frameworkUser;
}

function executorUser(executor: Json, frameworkUser: string): string {
  const info = isObject(executor.executor_info) ? executor.executor_info : executor;
  return commandUser(info) ?? frameworkUser;
}

/**
 * The own user (`command.user`) of an executor of a v0 document, which does
 * not show it (Mesos' JSON of a CommandInfo has no user): by framework,
 * agent and executor id. Undefined when it has none.
 */
export type ExecutorUserLookup = (
  frameworkId: string,
  agentId: string,
  executorId: string,
) => string | undefined;

/** A v0 framework object (`/master/state`, `/master/frameworks`) with its lists filtered. */
function filterFramework(f: Json, can: ViewPermissions, lookup?: ExecutorUserLookup): Json {
  const user = str(f.user) ?? "";
  const out: Json = { ...f };
  for (const key of ["tasks", "unreachable_tasks", "completed_tasks", "queued_tasks"]) {
    if (Array.isArray(f[key])) out[key] = list(f[key]).filter((t) => can.task(taskUser(t, user)));
  }
  if (Array.isArray(f.executors)) {
    const own = (e: Json): string | undefined =>
      lookup?.(str(f.id) ?? "", str(e.slave_id) ?? "", str(e.executor_id) ?? "");
    out.executors = list(f.executors).filter((e) => can.executor(own(e) ?? executorUser(e, user)));
  }
  return out;
}

function frameworks(v: unknown, can: ViewPermissions, lookup?: ExecutorUserLookup): Json[] {
  return list(v)
    .filter((f) => can.framework(str(f.user) ?? ""))
    .map((f) => filterFramework(f, can, lookup));
}

/**
 * `/master/state`: frameworks, their tasks and executors, the agents'
 * reservations by role, and the flags (with them `cluster`, `log_dir` and
 * `external_log_file`, which Mesos writes only for VIEW_FLAGS).
 */
export function filterStateJson(
  doc: Json,
  can: ViewPermissions,
  lookup?: ExecutorUserLookup,
): Json {
  const out: Json = { ...doc };
  if (Array.isArray(doc.slaves)) out.slaves = agents(doc.slaves, can, false);
  out.frameworks = frameworks(doc.frameworks, can, lookup);
  out.completed_frameworks = frameworks(doc.completed_frameworks, can, lookup);
  if (!can.flags) {
    for (const key of ["cluster", "log_dir", "external_log_file", "flags"]) delete out[key];
  }
  return out;
}

/** `/master/frameworks`. */
export function filterFrameworksJson(
  doc: Json,
  can: ViewPermissions,
  lookup?: ExecutorUserLookup,
): Json {
  return {
    ...doc,
    frameworks: frameworks(doc.frameworks, can, lookup),
    completed_frameworks: frameworks(doc.completed_frameworks, can, lookup),
  };
}

/** `/master/tasks`: `frameworkUser` names the user of a framework id. */
export function filterTasksJson(
  doc: Json,
  can: ViewPermissions,
  frameworkUser: (id: string) => string | undefined,
): Json {
  return {
    ...doc,
    tasks: list(doc.tasks).filter((t) => {
      const user = frameworkUser(str(t.framework_id) ?? "");
      return user !== undefined && can.framework(user) && can.task(taskUser(t, user));
    }),
  };
}

/** `/master/state-summary`: frameworks by id, and the agents' reservations by role. */
export function filterStateSummaryJson(
  doc: Json,
  can: ViewPermissions,
  frameworkUser: (id: string) => string | undefined,
): Json {
  return {
    ...doc,
    ...(Array.isArray(doc.slaves) ? { slaves: agents(doc.slaves, can, false) } : {}),
    frameworks: list(doc.frameworks).filter((f) => {
      const user = frameworkUser(str(f.id) ?? "");
      return user !== undefined && can.framework(user);
    }),
  };
}

/** `/master/roles`: roles the principal may view. */
export function filterRolesJson(doc: Json, can: ViewPermissions): Json {
  return { ...doc, roles: list(doc.roles).filter((r) => can.role(str(r.name) ?? "")) };
}

/** The users of frameworks in a v1 GetFrameworks (active and completed). */
function v1FrameworkUsers(getFrameworks: unknown): Map<string, string> {
  const users = new Map<string, string>();
  if (!isObject(getFrameworks)) return users;
  for (const key of ["frameworks", "completed_frameworks"]) {
    for (const f of list(getFrameworks[key])) {
      const info = isObject(f.framework_info) ? f.framework_info : undefined;
      const id = isObject(info?.id) ? str(info.id.value) : undefined;
      if (id !== undefined) users.set(id, str(info?.user) ?? "");
    }
  }
  return users;
}

function idOf(v: unknown): string {
  return isObject(v) ? (str(v.value) ?? "") : "";
}

/** A v1 GetFrameworks. */
export function filterV1Frameworks(g: Json, can: ViewPermissions): Json {
  const keep = (f: Json): boolean =>
    can.framework(str(isObject(f.framework_info) ? f.framework_info.user : undefined) ?? "");
  const out: Json = { ...g };
  for (const key of ["frameworks", "completed_frameworks"]) {
    if (Array.isArray(g[key])) out[key] = list(g[key]).filter(keep);
  }
  return out;
}

/** A v1 GetTasks; `users` maps framework ids to users. */
export function filterV1Tasks(
  g: Json,
  can: ViewPermissions,
  users: (id: string) => string | undefined,
): Json {
  const out: Json = { ...g };
  for (const key of [
    "pending_tasks",
    "tasks",
    "unreachable_tasks",
    "completed_tasks",
    "orphan_tasks",
  ]) {
    if (!Array.isArray(g[key])) continue;
    out[key] = list(g[key]).filter((t) => {
      const user = users(idOf(t.framework_id));
      return user !== undefined && can.framework(user) && can.task(taskUser(t, user));
    });
  }
  return out;
}

/** A v1 GetExecutors. */
export function filterV1Executors(
  g: Json,
  can: ViewPermissions,
  users: (id: string) => string | undefined,
): Json {
  const out: Json = { ...g };
  for (const key of ["executors", "orphan_executors"]) {
    if (!Array.isArray(g[key])) continue;
    out[key] = list(g[key]).filter((e) => {
      const info = isObject(e.executor_info) ? e.executor_info : {};
      const user = users(idOf(info.framework_id));
      return user !== undefined && can.framework(user) && can.executor(commandUser(info) ?? user);
    });
  }
  return out;
}

/** A v1 GetState (or the `get_state` of SUBSCRIBED). */
export function filterV1State(g: Json, can: ViewPermissions): Json {
  const known = v1FrameworkUsers(g.get_frameworks);
  const users = (id: string): string | undefined => known.get(id);
  const out: Json = { ...g };
  if (isObject(g.get_frameworks)) out.get_frameworks = filterV1Frameworks(g.get_frameworks, can);
  if (isObject(g.get_tasks)) out.get_tasks = filterV1Tasks(g.get_tasks, can, users);
  if (isObject(g.get_executors)) out.get_executors = filterV1Executors(g.get_executors, can, users);
  if (isObject(g.get_agents)) out.get_agents = filterV1Agents(g.get_agents, can);
  return out;
}

/** v1 framework users from a GetFrameworks-like object (for streams that learn them over time). */
export function frameworkUsersOf(getFrameworks: unknown): Map<string, string> {
  return v1FrameworkUsers(getFrameworks);
}

// ---- VIEW_ROLE on resources ----------------------------------------------------------------

/**
 * Mesos' VIEW_ROLE approval of one resource (JSON of a Resource, endpoint
 * or v1 form): its legacy `role` (unless `*`), every reservation's role
 * (a refined reservation needs each level) and its allocation role.
 */
export function resourceVisible(resource: Json, can: ViewPermissions): boolean {
  const role = str(resource.role);
  if (role !== undefined && role !== "*" && !can.role(role)) return false;
  for (const r of list(resource.reservations)) {
    const reservationRole = str(r.role);
    if (reservationRole !== undefined && !can.role(reservationRole)) return false;
  }
  const allocation = isObject(resource.allocation_info) ? str(resource.allocation_info.role) : "";
  return allocation === undefined || allocation === "" || can.role(allocation);
}

/** A list of resources without those the principal may not view (else the value as it was). */
function visibleResources(v: unknown, can: ViewPermissions): unknown {
  return Array.isArray(v) ? list(v).filter((r) => resourceVisible(r, can)) : v;
}

/** A map by role (`reserved_resources`) with only the roles the principal may view. */
function visibleRoles(v: unknown, can: ViewPermissions, full = false): unknown {
  if (!isObject(v)) return v;
  const out: Json = {};
  for (const [role, value] of Object.entries(v)) {
    if (can.role(role)) out[role] = full ? visibleResources(value, can) : value;
  }
  return out;
}

/**
 * An agent of `/master/state`, `/master/state-summary` or (`full`)
 * `/master/slaves`: reservations of roles the principal may not view are
 * left out of `reserved_resources` (the totals stay, as in Mesos), and on
 * `/slaves` out of the `*_full` lists too.
 */
function filterAgentJson(agent: Json, can: ViewPermissions, full: boolean): Json {
  const out: Json = { ...agent };
  if ("reserved_resources" in agent)
    out.reserved_resources = visibleRoles(agent.reserved_resources, can);
  if (!full) return out;
  if ("reserved_resources_full" in agent) {
    out.reserved_resources_full = visibleRoles(agent.reserved_resources_full, can, true);
  }
  for (const key of [
    "unreserved_resources_full",
    "used_resources_full",
    "offered_resources_full",
  ]) {
    if (key in agent) out[key] = visibleResources(agent[key], can);
  }
  return out;
}

function agents(v: unknown, can: ViewPermissions, full: boolean): unknown {
  return Array.isArray(v) ? list(v).map((a) => filterAgentJson(a, can, full)) : v;
}

/** `/master/slaves`. */
export function filterSlavesJson(doc: Json, can: ViewPermissions): Json {
  return { ...doc, slaves: agents(doc.slaves, can, true) };
}

/** A v1 GetAgents.Agent: the resources of roles the principal may not view are left out. */
export function filterV1Agent(agent: Json, can: ViewPermissions): Json {
  const out: Json = { ...agent };
  if (isObject(agent.agent_info) && Array.isArray(agent.agent_info.resources)) {
    out.agent_info = {
      ...agent.agent_info,
      resources: visibleResources(agent.agent_info.resources, can),
    };
  }
  for (const key of ["total_resources", "allocated_resources", "offered_resources"]) {
    if (Array.isArray(agent[key])) out[key] = visibleResources(agent[key], can);
  }
  return out;
}

/** A v1 GetAgents (also inside GetState). */
export function filterV1Agents(g: Json, can: ViewPermissions): Json {
  const out: Json = { ...g };
  if (Array.isArray(g.agents)) out.agents = list(g.agents).map((a) => filterV1Agent(a, can));
  if (Array.isArray(g.recovered_agents)) {
    out.recovered_agents = list(g.recovered_agents).map((info) =>
      Array.isArray(info.resources)
        ? { ...info, resources: visibleResources(info.resources, can) }
        : info,
    );
  }
  return out;
}

/**
 * The resource lists of a v1 event the principal may see (Mesos filters
 * AGENT_ADDED's `total_resources` and a framework event's allocated and
 * offered resources).
 */
export function filterV1EventResources(
  holder: Json,
  keys: readonly string[],
  can: ViewPermissions,
): Json {
  const out: Json = { ...holder };
  for (const key of keys) {
    if (Array.isArray(holder[key])) out[key] = visibleResources(holder[key], can);
  }
  return out;
}

// ---- a request's view ----------------------------------------------------------------------

const requestViews = new WeakMap<object, ViewPermissions>();

/**
 * Marks `request` as coming from a caller who may not view everything (the
 * guard does this once it knows the principal); handlers that build their
 * document per view read it with `requestViewOf`.
 */
export function setRequestView(request: object, can: ViewPermissions): void {
  requestViews.set(request, can);
}

/** The view of a restricted caller, or undefined when it may view everything. */
export function requestViewOf(request: object): ViewPermissions | undefined {
  return requestViews.get(request);
}
