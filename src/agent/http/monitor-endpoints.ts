/**
 * `/monitor/statistics` (the `monitor` process) and `/containers` (on the
 * agent process): per-executor ResourceStatistics as Mesos' JSON, `?jsonp=`.
 */
import { requestAuthorized } from "../../common/auth/request-auth.js";
import { getOnlyWithAcls } from "../../common/http/common-endpoints.js";
import type { HttpRequest } from "../../common/http/request.js";
import { badRequest, type HttpResponse } from "../../common/http/response.js";
import { jsonResponse } from "../../common/http/v1-api.js";
import { ProcessBase } from "../../common/process/process-base.js";
import { codecFor } from "../../common/protocol/index.js";
import type { NestedContainers } from "../containerizer/nested-containers.js";
import type { ExecutorUsage, ResourceMonitor } from "../monitor/resource-monitor.js";
import { nestedContainerUsages } from "./nested-container-calls.js";

const statisticsCodec = codecFor("mesos.v1.ResourceStatistics");

/** Help of `/monitor/statistics`. */
export const STATISTICS_HELP =
  "Resource usage of every running executor on this agent.\n" +
  "A JSON array of {framework_id, executor_id, executor_name, source, statistics}; statistics " +
  "are read from /proc over the executor's process tree (limits are what it is allocated). " +
  "Query: jsonp=fn.";

/** Help of `/containers`. */
export const CONTAINERS_HELP =
  "The containers running on this agent with their status and resource statistics.\n" +
  "A JSON array of {container_id, framework_id, executor_id, executor_name, source, status, " +
  "statistics}. Query: container_id=ID (one container), framework_id=ID (its executors' " +
  "containers), framework_id=ID&executor_id=ID (one executor's), jsonp=fn.";

/** Which containers a `/containers` request asks for. */
interface ContainerSelection {
  readonly containerId: string | null;
  readonly frameworkId: string | null;
  readonly executorId: string | null;
  readonly visible?: (frameworkId: string, executorId: string) => boolean;
}

/**
 * The `/containers` filter from the query, or the reason it is refused: as a
 * Mesos agent, `container_id` goes alone and `executor_id` needs `framework_id`.
 */
export function containerSelection(request: HttpRequest): ContainerSelection | string {
  const q = request.query;
  const containerId = q.get("container_id");
  const frameworkId = q.get("framework_id");
  const executorId = q.get("executor_id");
  if (
    (containerId !== null && (frameworkId !== null || executorId !== null)) ||
    (containerId === null && executorId !== null && frameworkId === null)
  ) {
    return "Supported query parameters are container_id only, framework_id only, or executor_id and framework_id only";
  }
  return { containerId, frameworkId, executorId };
}

function selected(
  s: ContainerSelection,
  containerId: string,
  frameworkId: string,
  executorId: string,
): boolean {
  return (
    (s.containerId === null || s.containerId === containerId) &&
    (s.frameworkId === null || s.frameworkId === frameworkId) &&
    (s.executorId === null || s.executorId === executorId) &&
    (s.visible === undefined || s.visible(frameworkId, executorId))
  );
}

function statisticsJson(u: ExecutorUsage): unknown {
  return statisticsCodec.toJsonValue(u.statistics);
}

/** The `/monitor/statistics` array. */
export function statisticsArray(usages: readonly ExecutorUsage[]): unknown[] {
  return usages.map((u) => ({
    framework_id: u.frameworkId,
    executor_id: u.executorId,
    executor_name: u.executorName,
    source: u.source,
    statistics: statisticsJson(u),
  }));
}

/** The `/containers` array. */
export function containersArray(usages: readonly ExecutorUsage[]): unknown[] {
  return usages.map((u) => ({
    container_id: u.containerId,
    framework_id: u.frameworkId,
    executor_id: u.executorId,
    executor_name: u.executorName,
    source: u.source,
    status: {
      container_id: { value: u.containerId },
      ...(u.pid === undefined ? {} : { executor_pid: u.pid }),
    },
    statistics: statisticsJson(u),
  }));
}

/** Handler of `/monitor/statistics`. */
export function statisticsHandler(
  monitor: ResourceMonitor,
  flags: Readonly<Record<string, string>> = {},
): (request: HttpRequest) => Promise<HttpResponse> {
  const methodCheck = getOnlyWithAcls(flags);
  return async (request) => {
    const bad = methodCheck(request);
    if (bad !== undefined) return bad;
    return jsonResponse(request, JSON.stringify(statisticsArray(await monitor.usages())));
  };
}

/**
 * Handler of `/containers`. Nested containers follow their parents: as in
 * Mesos, `container_id` is the container's own id and `status.container_id`
 * its whole ContainerID (`parent` within `parent`, however deep), plus
 * `parent_container_id`, the parent's ContainerID modelled the same way (a
 * mesos-ts addition: a Mesos agent leaves it out).
 */
export function containersHandler(
  monitor: ResourceMonitor,
  nested?: NestedContainers,
  userOf?: (frameworkId: string, executorId: string) => string,
  flags: Readonly<Record<string, string>> = {},
): (request: HttpRequest) => Promise<HttpResponse> {
  const methodCheck = getOnlyWithAcls(flags);
  return async (request) => {
    const bad = methodCheck(request);
    if (bad !== undefined) return bad;
    const asked = containerSelection(request);
    if (typeof asked === "string") return badRequest(asked);
    // Mesos' VIEW_CONTAINER: the executor's user is the object.
    const selection: ContainerSelection = {
      ...asked,
      visible: (f, e) =>
        userOf === undefined || requestAuthorized(request, "view_containers", userOf(f, e)),
    };
    const list = containersArray(
      (await monitor.usages()).filter((u) =>
        selected(selection, u.containerId, u.frameworkId, u.executorId),
      ),
    );
    if (nested !== undefined) {
      for (const c of await nestedContainerUsages(nested)) {
        if (!selected(selection, c.containerId.value, c.frameworkId, c.executorId)) continue;
        list.push({
          container_id: c.containerId.value,
          // The parent's whole id: its own value alone is ambiguous below the first level.
          parent_container_id: c.containerId.parent,
          framework_id: c.frameworkId,
          executor_id: c.executorId,
          executor_name: c.executorName,
          source: "",
          status: {
            container_id: c.containerId,
            ...(c.pid === undefined ? {} : { executor_pid: c.pid }),
          },
          statistics: statisticsCodec.toJsonValue(c.statistics),
        });
      }
    }
    return jsonResponse(request, JSON.stringify(list));
  };
}

/** The `monitor` process (`/monitor/statistics`, and the old `/monitor/statistics.json`). */
export function monitorProcess(
  monitor: ResourceMonitor,
  flags: Readonly<Record<string, string>> = {},
): ProcessBase {
  const p = new ProcessBase("monitor");
  // Any method: the handler refuses non-GET only with --acls, as Mesos does.
  const handler = statisticsHandler(monitor, flags);
  p.route("/statistics", { help: STATISTICS_HELP }, handler);
  p.route("/statistics.json", { help: `${STATISTICS_HELP}\n(Old alias.)` }, handler);
  return p;
}
