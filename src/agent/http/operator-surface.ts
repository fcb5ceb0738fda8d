/**
 * Puts the agent's operator surface on its process host: the shared
 * operator processes (`/metrics`, `/files`, `/logging`, `/help`, from
 * src/common/http/operator-processes.ts) fed with the agent's metrics,
 * sandboxes and log; the `monitor` process; and, on the agent process,
 * `/api/v1`, `/containers`, `/containerizer/debug` and the old `/state.json`.
 */

import { requestViewOf } from "../../common/auth/view-filter.js";
import type { BuildInfo } from "../../common/http/common-endpoints.js";
import type { OperatorServices } from "../../common/http/operator-processes.js";
import type { HttpRequest } from "../../common/http/request.js";
import { serviceUnavailable } from "../../common/http/response.js";
import { checkMethod, jsonResponse } from "../../common/http/v1-api.js";
import type { Logger } from "../../common/observability/logger.js";
import type { ProcessHost } from "../../common/process/process-host.js";
import type { Clock } from "../../common/time/clock.js";
import type { Agent } from "../agent.js";
import type { AgentProcess } from "../agent-process.js";
import type { Isolator } from "../containerizer/isolators/isolator.js";
import type { NestedContainers } from "../containerizer/nested-containers.js";
import { ResourceMonitor } from "../monitor/resource-monitor.js";
import { type AgentMetricsSources, registerAgentMetrics } from "./agent-metrics.js";
import {
  CONTAINERIZER_DEBUG_HELP,
  containerizerDebugHandler,
  PendingOperations,
  trackIsolators,
} from "./containerizer-debug.js";
import {
  CONTAINERS_HELP,
  containersHandler,
  monitorProcess,
  STATISTICS_HELP,
  statisticsHandler,
} from "./monitor-endpoints.js";
import {
  AGENT_OPERATOR_API_HELP,
  type AgentOperatorContext,
  agentOperatorApiHandler,
  agentRecovering,
  RECOVERING_MESSAGE,
} from "./operator-api.js";
import { attachAgentLog } from "./sandbox-files.js";
import { agentStateJson, type StateContext } from "./state-json.js";

export interface AgentOperatorSurfaceOptions {
  readonly host: ProcessHost;
  readonly agent: Agent;
  readonly process: AgentProcess;
  readonly services: OperatorServices;
  readonly flags: Readonly<Record<string, string>>;
  readonly state: () => StateContext;
  readonly build: BuildInfo;
  readonly logger: Logger;
  readonly clock: Clock;
  /** `--log_dir` and `--external_log_file`, for `/slave/log`. */
  readonly logDir: string | undefined;
  readonly externalLogFile: string | undefined;
  /** Nested containers (the v1 LAUNCH/WAIT/KILL calls, `/containers`). */
  readonly nested?: NestedContainers | undefined;
  /** `--http_heartbeat_interval` in ms: heartbeats on container session output streams. */
  readonly httpHeartbeatIntervalMs: number;
  /** The garbage collection flags and fetcher cache some metrics read. */
  readonly metrics?: AgentMetricsSources | undefined;
  /** The Mesos containerizer's isolators, whose steps `/containerizer/debug` lists while pending. */
  readonly isolators?: readonly Isolator[] | undefined;
  /** The image provisioner (PRUNE_IMAGES), with `--image_providers`. */
  readonly images?: AgentOperatorContext["images"];
}

/** The glog logger's current INFO file, when the logger is one. */
function logFileOf(logger: Logger): string | undefined {
  const l = logger as { logFile?: () => string | undefined };
  return typeof l.logFile === "function" ? l.logFile() : undefined;
}

/** Installs the operator endpoints of one agent. */
export function installAgentOperatorSurface(o: AgentOperatorSurfaceOptions): ResourceMonitor {
  const monitor = new ResourceMonitor(o.agent, o.clock);
  registerAgentMetrics(o.services.metrics, o.agent, o.clock, o.metrics);
  // In mesos-local the agents share one host; the first one's monitor serves /monitor.
  if (o.host.process("monitor") === undefined) o.host.spawn(monitorProcess(monitor, o.flags));

  const logFile = o.externalLogFile ?? (o.logDir === undefined ? undefined : logFileOf(o.logger));
  attachAgentLog(o.services.files, logFile, o.logger, o.clock);

  o.process.route(
    "/api/v1",
    { help: AGENT_OPERATOR_API_HELP },
    agentOperatorApiHandler({
      agent: o.agent,
      services: o.services,
      monitor,
      flags: o.flags,
      build: o.build,
      logger: o.logger,
      nested: o.nested,
      sessions: { clock: o.clock, heartbeatIntervalMs: o.httpHeartbeatIntervalMs },
      images: o.images,
    }),
  );
  // The agent process serves the statistics too (`/slave(1)/monitor/statistics`), as in Mesos.
  // These four answer any method unless --acls is given (then GET only), as in Mesos.
  const statistics = statisticsHandler(monitor, o.flags);
  o.process.route("/monitor/statistics", { help: STATISTICS_HELP }, statistics);
  o.process.route(
    "/monitor/statistics.json",
    { help: `${STATISTICS_HELP}\n(Old alias.)` },
    statistics,
  );
  o.process.route(
    "/containers",
    { help: CONTAINERS_HELP },
    containersHandler(
      monitor,
      o.nested,
      (frameworkId, executorId) => {
        const framework = o.agent.frameworks.get(frameworkId);
        const executor = framework?.executors.get(executorId);
        return executor?.info.command?.user ?? framework?.info.user ?? "";
      },
      o.flags,
    ),
  );
  const pending = new PendingOperations();
  trackIsolators(o.isolators ?? [], pending);
  o.process.route(
    "/containerizer/debug",
    { help: CONTAINERIZER_DEBUG_HELP },
    containerizerDebugHandler(pending, o.flags),
  );
  o.process.route(
    "/state.json",
    { methods: ["GET"], help: "Same as /state (the pre-1.8 name tutorials still use)." },
    (request: HttpRequest) =>
      checkMethod(request, ["GET"]) ??
      (agentRecovering(o.agent)
        ? serviceUnavailable(RECOVERING_MESSAGE)
        : jsonResponse(
            request,
            JSON.stringify(agentStateJson(o.agent, o.state(), requestViewOf(request))),
          )),
  );
  return monitor;
}
