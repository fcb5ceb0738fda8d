/**
 * `/monitor/statistics` (the `monitor` process) and `/containers` (on the
 * agent process): per-executor ResourceStatistics as Mesos' JSON, `?jsonp=`.
 */
import type { HttpRequest } from "../../common/http/request.js";
import type { HttpResponse } from "../../common/http/response.js";
import { checkMethod, jsonResponse } from "../../common/http/v1-api.js";
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
  "statistics}. Query: jsonp=fn.";

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
): (request: HttpRequest) => Promise<HttpResponse> {
  return async (request) => {
    const bad = checkMethod(request, ["GET"]);
    if (bad !== undefined) return bad;
    return jsonResponse(request, JSON.stringify(statisticsArray(await monitor.usages())));
  };
}

/** Handler of `/containers` (nested containers follow their parents, with `parent` in their id). */
export function containersHandler(
  monitor: ResourceMonitor,
  nested?: NestedContainers,
): (request: HttpRequest) => Promise<HttpResponse> {
  return async (request) => {
    const bad = checkMethod(request, ["GET"]);
    if (bad !== undefined) return bad;
    const list = containersArray(await monitor.usages());
    if (nested !== undefined) {
      for (const c of await nestedContainerUsages(nested)) {
        list.push({
          container_id: c.containerId.value,
          parent_container_id: c.containerId.parent?.value,
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
export function monitorProcess(monitor: ResourceMonitor): ProcessBase {
  const p = new ProcessBase("monitor");
  const handler = statisticsHandler(monitor);
  p.route("/statistics", { methods: ["GET"], help: STATISTICS_HELP }, handler);
  p.route(
    "/statistics.json",
    { methods: ["GET"], help: `${STATISTICS_HELP}\n(Old alias.)` },
    handler,
  );
  return p;
}
