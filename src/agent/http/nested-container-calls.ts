/**
 * The nested container calls of the v1 agent API: LAUNCH_CONTAINER and
 * LAUNCH_NESTED_CONTAINER (a container whose `container_id` has a
 * `parent`), WAIT_CONTAINER / WAIT_NESTED_CONTAINER (answered when the
 * container ends, with its wait status and, after a limitation, state,
 * reason and message), KILL_CONTAINER / KILL_NESTED_CONTAINER (a signal,
 * SIGKILL by default) and REMOVE_CONTAINER / REMOVE_NESTED_CONTAINER.
 *
 * The parent of a nested container may itself be a nested container, up
 * to 32 levels below the top-level one (MAX_NESTING_DEPTH): the calls work
 * on a container at any level, by its whole ContainerID chain.
 *
 * The same calls about a standalone container (a `container_id` without a
 * parent) launch, wait for, kill and remove it (standalone-containers in
 * NestedContainers). WAIT_CONTAINER and KILL_CONTAINER also serve an
 * executor's (top-level) container, as Mesos' agent serves them for any
 * container its containerizer knows.
 *
 * Authorization: the ACL actions `launch_nested_containers_as_user`,
 * `wait_nested_containers`, `kill_nested_containers` and
 * `remove_nested_containers` with the container's user as the object
 * (Mesos' actions; the realm is the operator API's); for a standalone
 * container `launch|wait|kill|remove_standalone_containers` (object ANY).
 */
import type { AclAction } from "../../common/auth/acls.js";
import { forbiddenMessage, requestAuthorized } from "../../common/auth/request-auth.js";
import type { HttpRequest } from "../../common/http/request.js";
import {
  badRequest,
  forbidden,
  type HttpResponse,
  internalServerError,
  notFound,
  notImplemented,
  ok,
  response,
} from "../../common/http/response.js";
import type { ContainerID, ResourceStatistics } from "../../common/protocol/generated/mesos-v1.js";
import type {
  Call,
  Response,
  Response_GetContainers_Container,
} from "../../common/protocol/generated/mesos-v1-agent.js";
import { systemClock } from "../../common/time/clock.js";
import type { NestedContainers, NestedContainerView } from "../containerizer/nested-containers.js";

/** The calls this module answers. */
export const NESTED_CONTAINER_CALLS: ReadonlySet<string> = new Set([
  "LAUNCH_CONTAINER",
  "LAUNCH_NESTED_CONTAINER",
  "WAIT_CONTAINER",
  "WAIT_NESTED_CONTAINER",
  "KILL_CONTAINER",
  "KILL_NESTED_CONTAINER",
  "REMOVE_CONTAINER",
  "REMOVE_NESTED_CONTAINER",
]);

/**
 * Splits a nested ContainerID, at any depth: its parent's dotted id
 * (`<root>[.<level 1>...]`), its own id and its top-level container's; a
 * string: why it cannot be.
 */
export function splitId(
  id: ContainerID | undefined,
): { parent: string; child: string; root: string } | string {
  if (id === undefined || id.value === "") return "Expecting 'container_id' to be present";
  if (id.parent === undefined) {
    return "Standalone containers (a container_id without a parent) are not supported yet";
  }
  let root = id.parent;
  while (root.parent !== undefined) root = root.parent;
  return { parent: containerName(id.parent), child: id.value, root: root.value };
}

/**
 * Answers one nested container call. `reply` encodes a Response in the
 * caller's encoding.
 */
export async function nestedContainerCall(
  nested: NestedContainers | undefined,
  call: Call,
  request: HttpRequest,
  reply: (message: Response) => HttpResponse,
): Promise<HttpResponse> {
  const type = call.type ?? "UNKNOWN";
  if (nested === undefined) {
    return notImplemented(`${type}: nested containers are not available on this agent`);
  }
  const container = (() => {
    switch (type) {
      case "LAUNCH_CONTAINER":
        return call.launch_container;
      case "LAUNCH_NESTED_CONTAINER":
        return call.launch_nested_container;
      case "WAIT_CONTAINER":
        return call.wait_container;
      case "WAIT_NESTED_CONTAINER":
        return call.wait_nested_container;
      case "KILL_CONTAINER":
        return call.kill_container;
      case "KILL_NESTED_CONTAINER":
        return call.kill_nested_container;
      case "REMOVE_CONTAINER":
        return call.remove_container;
      default:
        return call.remove_nested_container;
    }
  })();
  // Calls wait for the containers of a previous agent run to be recovered.
  await nested.ready();
  const containerId = container?.container_id;
  if (containerId !== undefined && containerId.value !== "" && containerId.parent === undefined) {
    return standaloneCall(nested, call, type, containerId.value, request, reply);
  }
  const id = splitId(container?.container_id);
  if (typeof id === "string") return badRequest(`Failed to validate agent::Call: ${id}`);
  const allowed = (action: Parameters<typeof requestAuthorized>[1], what: string) =>
    requestAuthorized(request, action, undefined, id.root)
      ? undefined
      : forbidden(forbiddenMessage(request, `${what} container '${id.parent}.${id.child}'`));

  switch (type) {
    case "LAUNCH_CONTAINER":
    case "LAUNCH_NESTED_CONTAINER": {
      // At any depth: the parent may be a nested container itself (up to
      // MAX_NESTING_DEPTH levels, which NestedContainers checks).
      const launch =
        type === "LAUNCH_CONTAINER" ? call.launch_container : call.launch_nested_container;
      const user = launch?.command?.user;
      const denied = requestAuthorized(request, "launch_nested_containers_as_user", user, id.root)
        ? undefined
        : forbidden(
            forbiddenMessage(
              request,
              `launch nested container '${id.parent}.${id.child}'${user === undefined ? "" : ` as user '${user}'`}`,
            ),
          );
      if (denied !== undefined) return denied;
      const limits = type === "LAUNCH_CONTAINER" ? call.launch_container?.limits : undefined;
      const resources = type === "LAUNCH_CONTAINER" ? call.launch_container?.resources : undefined;
      const result = await nested.launch({
        parentId: id.parent,
        childId: id.child,
        command: launch?.command,
        container: launch?.container,
        resources,
        limits,
      });
      return "ok" in result ? ok() : response(result.status, result.error);
    }
    case "WAIT_CONTAINER":
    case "WAIT_NESTED_CONTAINER": {
      const denied = allowed("wait_nested_containers", "wait for");
      if (denied !== undefined) return denied;
      const waiting = nested.wait(id.parent, id.child);
      if (waiting === undefined) return notFound(waitNotFound(`${id.parent}.${id.child}`));
      const termination = await waiting;
      return type === "WAIT_CONTAINER"
        ? reply({ type, wait_container: termination })
        : reply({ type, wait_nested_container: termination });
    }
    case "KILL_CONTAINER":
    case "KILL_NESTED_CONTAINER": {
      const denied = allowed("kill_nested_containers", "kill");
      if (denied !== undefined) return denied;
      const signal = (type === "KILL_CONTAINER" ? call.kill_container : call.kill_nested_container)
        ?.signal;
      return nested.kill(id.parent, id.child, signal ?? 9)
        ? ok()
        : notFound(killNotFound(`${id.parent}.${id.child}`));
    }
    default: {
      const denied = allowed("remove_nested_containers", "remove");
      if (denied !== undefined) return denied;
      // Mesos' containerizer fails these (500); an ended or unknown child of a known parent is fine.
      if (nested.parent(id.root) === undefined)
        return internalServerError("Unknown root container");
      const removed = nested.remove(id.parent, id.child);
      return removed === "running"
        ? internalServerError("Nested container has not terminated yet")
        : ok();
    }
  }
}

/**
 * A call about the standalone container `id`: authorized by Mesos'
 * standalone action first, then answered as Mesos' containerizer answers
 * for a top-level container.
 */
async function standaloneCall(
  nested: NestedContainers,
  call: Call,
  type: string,
  id: string,
  request: HttpRequest,
  reply: (message: Response) => HttpResponse,
): Promise<HttpResponse> {
  const denied = authorizeUnsupported(request, call, type, { value: id });
  if (denied !== undefined) return denied;
  switch (type) {
    case "LAUNCH_CONTAINER": {
      const launch = call.launch_container;
      const result = await nested.launchStandalone({
        containerId: id,
        command: launch?.command,
        container: launch?.container,
        resources: launch?.resources,
        limits: launch?.limits,
      });
      return "ok" in result ? ok() : response(result.status, result.error);
    }
    case "WAIT_CONTAINER": {
      const waiting = nested.wait(undefined, id);
      if (waiting === undefined) return notFound(waitNotFound(id));
      return reply({ type, wait_container: await waiting });
    }
    case "KILL_CONTAINER":
      return nested.kill(undefined, id, call.kill_container?.signal ?? 9)
        ? ok()
        : notFound(killNotFound(id));
    case "REMOVE_CONTAINER": {
      // Mesos' containerizer has no removal of a top-level container (its agent
      // aborts): an ended one is removed with its sandbox, as for nested ones.
      const removed = await nested.removeStandalone(id);
      if (removed === "unknown") return internalServerError("Unknown root container");
      return removed === "running"
        ? internalServerError("Standalone container has not terminated yet")
        : ok();
    }
    default:
      // The *_NESTED_CONTAINER calls need a parent (validation refuses them before).
      return badRequest(`${type}: the container id needs a parent`);
  }
}

/** WAIT's answer for a container the agent does not know (Mesos' words). */
function waitNotFound(name: string): string {
  return `Container ${name} cannot be found`;
}

/** KILL's answer for a container the agent does not know or that has ended (Mesos' words). */
function killNotFound(name: string): string {
  return `Container '${name}' cannot be found (or is already killed)`;
}

/** Mesos' string form of a ContainerID: its ancestors' values and its own, joined by `.`. */
function containerName(id: ContainerID): string {
  return id.parent === undefined ? id.value : `${containerName(id.parent)}.${id.value}`;
}

/** The ACL action of each call, for a standalone container and for a nested one. */
const ACTIONS: Readonly<
  Record<string, { standalone: AclAction; nested: AclAction; verb: string }>
> = {
  LAUNCH_CONTAINER: {
    standalone: "launch_standalone_containers",
    nested: "launch_nested_containers_as_user",
    verb: "launch",
  },
  LAUNCH_NESTED_CONTAINER: {
    standalone: "launch_standalone_containers",
    nested: "launch_nested_containers_as_user",
    verb: "launch",
  },
  WAIT_CONTAINER: {
    standalone: "wait_standalone_containers",
    nested: "wait_nested_containers",
    verb: "wait for",
  },
  WAIT_NESTED_CONTAINER: {
    standalone: "wait_standalone_containers",
    nested: "wait_nested_containers",
    verb: "wait for",
  },
  KILL_CONTAINER: {
    standalone: "kill_standalone_containers",
    nested: "kill_nested_containers",
    verb: "kill",
  },
  KILL_NESTED_CONTAINER: {
    standalone: "kill_standalone_containers",
    nested: "kill_nested_containers",
    verb: "kill",
  },
  REMOVE_CONTAINER: {
    standalone: "remove_standalone_containers",
    nested: "remove_nested_containers",
    verb: "remove",
  },
  REMOVE_NESTED_CONTAINER: {
    standalone: "remove_standalone_containers",
    nested: "remove_nested_containers",
    verb: "remove",
  },
};

/**
 * The ACL check of a call about a standalone container (Mesos'
 * `*_standalone_containers`, object ANY) or a nested one (the nested
 * actions, for its root container); a 403, or undefined.
 */
function authorizeUnsupported(
  request: HttpRequest,
  call: Call,
  type: string,
  id: ContainerID | undefined,
): HttpResponse | undefined {
  const actions = ACTIONS[type];
  if (actions === undefined || id === undefined) return undefined;
  const name = containerName(id);
  if (id.parent === undefined) {
    return requestAuthorized(request, actions.standalone)
      ? undefined
      : forbidden(forbiddenMessage(request, `${actions.verb} standalone container '${name}'`));
  }
  let root = id.parent;
  while (root.parent !== undefined) root = root.parent;
  const user =
    actions.nested === "launch_nested_containers_as_user"
      ? (call.launch_container?.command?.user ?? call.launch_nested_container?.command?.user)
      : undefined;
  return requestAuthorized(request, actions.nested, user, root.value)
    ? undefined
    : forbidden(forbiddenMessage(request, `${actions.verb} container '${name}'`));
}

/** The whole dotted id of a listed nested container (its ancestors' ids and its own). */
function keyOf(v: NestedContainerView): string {
  if (v.key !== undefined) return v.key;
  const parent =
    v.nestedIn === undefined ? v.parent.containerId : `${v.parent.containerId}.${v.nestedIn}`;
  return `${parent}.${v.childId}`;
}

/** The dotted id of a listed nested container's parent. */
function parentIdOf(v: NestedContainerView): string {
  const key = keyOf(v);
  return key.slice(0, key.lastIndexOf("."));
}

/** The ContainerID of a dotted id: each level's id with its parent's chain. */
function containerIdOf(key: string): ContainerID {
  let id: ContainerID | undefined;
  for (const value of key.split(".")) id = id === undefined ? { value } : { value, parent: id };
  return id ?? { value: key };
}

/** A live nested container with its statistics (for GET_CONTAINERS and `/containers`). */
export interface NestedContainerUsage {
  readonly frameworkId: string;
  readonly executorId: string;
  readonly executorName: string;
  readonly containerId: ContainerID;
  readonly pid: number | undefined;
  readonly statistics: ResourceStatistics;
}

/**
 * Statistics of every live nested container of an executor, stamped now
 * (those of standalone containers: see standaloneContainerEntries).
 */
export async function nestedContainerUsages(
  nested: NestedContainers,
  nowSecs = systemClock.now() / 1000,
): Promise<NestedContainerUsage[]> {
  const views = nested.list().filter((v) => v.parent.standalone !== true);
  const stats = await Promise.all(
    views.map((v) => nested.usage(parentIdOf(v), v.childId).catch(() => undefined)),
  );
  return views.map((v, i) => ({
    frameworkId: v.parent.frameworkId,
    executorId: v.parent.executorId,
    executorName: v.parent.executorName,
    // Its whole chain of parents, as Mesos lists a container nested at any depth.
    containerId: containerIdOf(keyOf(v)),
    pid: v.pid,
    statistics: { ...(stats[i] ?? {}), timestamp: nowSecs },
  }));
}

/**
 * GET_CONTAINERS' entries of standalone containers (with `show_standalone`)
 * and of the nested containers under them (with `show_nested`), as Mesos
 * lists them: `container_id`, status and statistics only, each visible to
 * callers allowed `view_standalone_containers` (its root container decides).
 */
export async function standaloneContainerEntries(
  nested: NestedContainers,
  request: HttpRequest,
  show: { nested: boolean; standalone: boolean },
  nowSecs = systemClock.now() / 1000,
): Promise<Response_GetContainers_Container[]> {
  if (!requestAuthorized(request, "view_standalone_containers")) return [];
  const listed: { id: ContainerID; parentId?: string; pid: number | undefined }[] = [
    ...(show.standalone
      ? nested.listStandalone().map((v) => ({ id: { value: v.childId }, pid: v.pid }))
      : []),
    ...(show.nested
      ? nested
          .list()
          .filter((v) => v.parent.standalone === true)
          .map((v) => ({
            id: containerIdOf(keyOf(v)),
            parentId: parentIdOf(v),
            pid: v.pid,
          }))
      : []),
  ];
  const stats = await Promise.all(
    listed.map((c) => nested.usage(c.parentId, c.id.value).catch(() => undefined)),
  );
  return listed.map((c, i) => ({
    container_id: c.id,
    container_status: {
      container_id: c.id,
      ...(c.pid === undefined ? {} : { executor_pid: c.pid }),
    },
    resource_statistics: { ...(stats[i] ?? {}), timestamp: nowSecs },
  }));
}
