/**
 * Cuts state documents down to what a principal may see (Mesos'
 * VIEW_FRAMEWORK, VIEW_TASK, VIEW_EXECUTOR, VIEW_FLAGS, VIEW_ROLE): the
 * documents are the decoded JSON of `/master/state`, `/master/frameworks`,
 * `/master/tasks`, `/master/state-summary` and the v1 GET_STATE family (the
 * protobuf forms decode to the same shape). The object of every VIEW_*
 * check is a user: the task's (or executor's) own user when set, else its
 * framework's.
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

/** True when `principal` may view everything (its documents need no filtering). */
export function viewsEverything(
  authorizer: LocalAuthorizer,
  principal: string | undefined,
): boolean {
  return VIEW_ACTIONS.every((a) => authorizer.allowsEverything(a, principal));
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

/** A v0 framework object (`/master/state`, `/master/frameworks`) with its lists filtered. */
function filterFramework(f: Json, can: ViewPermissions): Json {
  const user = str(f.user) ?? "";
  const out: Json = { ...f };
  for (const key of ["tasks", "unreachable_tasks", "completed_tasks", "queued_tasks"]) {
    if (Array.isArray(f[key])) out[key] = list(f[key]).filter((t) => can.task(taskUser(t, user)));
  }
  if (Array.isArray(f.executors)) {
    out.executors = list(f.executors).filter((e) => can.executor(executorUser(e, user)));
  }
  return out;
}

function frameworks(v: unknown, can: ViewPermissions): Json[] {
  return list(v)
    .filter((f) => can.framework(str(f.user) ?? ""))
    .map((f) => filterFramework(f, can));
}

/** `/master/state`: frameworks, their tasks and executors, and the flags. */
export function filterStateJson(doc: Json, can: ViewPermissions): Json {
  const out: Json = { ...doc };
  out.frameworks = frameworks(doc.frameworks, can);
  out.completed_frameworks = frameworks(doc.completed_frameworks, can);
  if (!can.flags) delete out.flags;
  return out;
}

/** `/master/frameworks`. */
export function filterFrameworksJson(doc: Json, can: ViewPermissions): Json {
  return {
    ...doc,
    frameworks: frameworks(doc.frameworks, can),
    completed_frameworks: frameworks(doc.completed_frameworks, can),
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

/** `/master/state-summary`: frameworks by id. */
export function filterStateSummaryJson(
  doc: Json,
  can: ViewPermissions,
  frameworkUser: (id: string) => string | undefined,
): Json {
  return {
    ...doc,
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
  return out;
}

/** v1 framework users from a GetFrameworks-like object (for streams that learn them over time). */
export function frameworkUsersOf(getFrameworks: unknown): Map<string, string> {
  return v1FrameworkUsers(getFrameworks);
}
