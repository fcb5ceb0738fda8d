/**
 * What an elected master answers before its registry is recovered (while
 * it waits for `--quorum` masters, or reads the registry). Mesos' master is
 * up by then with nothing recovered yet, and its handlers check only that
 * it leads: `/master/state`, `/master/state-summary`, `/master/frameworks`,
 * `/master/slaves`, `/master/tasks`, `/master/roles`, `/master/weights`,
 * `/master/quota`, `/master/maintenance/*` answer 200 from an empty master
 * (no agents, no frameworks; `--weights` and `--roles` as flagged), and
 * requests that name an agent or a framework (teardown, reservations,
 * volumes, machine up/down) get the same 400 as for an unknown one. Only
 * `/api/v1` and `/api/v1/scheduler` say 503 "Master has not finished
 * recovery". A registry write (PUT /weights, POST or DELETE /quota, POST
 * /maintenance/schedule) waits for the recovery, as Mesos' registrar
 * queues operations behind it, and is then answered by the recovered
 * master.
 *
 * Here: the routes of a `master` process that is never spawned, attached to
 * an empty core built from the same flags, behind the same authentication
 * and authorization as the elected master's.
 */

import type { LoadedFlags } from "../../common/flags/load.js";
import { buildInfoAt, ownVersion } from "../../common/http/common-endpoints.js";
import type { OperatorServices } from "../../common/http/operator-processes.js";
import { trimSlashes } from "../../common/http/path.js";
import type { HttpRequest } from "../../common/http/request.js";
import {
  type HttpResponse,
  methodNotAllowed,
  notFound,
  serviceUnavailable,
} from "../../common/http/response.js";
import type { MasterIds } from "../../common/ids/index.js";
import type { Logger } from "../../common/observability/logger.js";
import type { ProcessHost } from "../../common/process/process-host.js";
import { routeHttp } from "../../common/process/routing.js";
import type { MasterInfo } from "../../common/protocol/generated/mesos-v1.js";
import type { Clock } from "../../common/time/clock.js";
import { systemRandom } from "../../common/time/random.js";
import { HierarchicalAllocator } from "../allocator/index.js";
import { Master } from "../core/master.js";
import type { masterFlagSchema } from "../flags.js";
import { OperatorEvents } from "../http/operator-events.js";
import { RoleWeights } from "../http/roles.js";
import { type MasterSecurity, masterHttpGuard } from "../http/security.js";
import { StateDocuments } from "../http/state-documents.js";
import { MasterProcess } from "../master-process.js";
import type { MasterMetrics } from "../metrics.js";
import { InMemoryRegistrar } from "../registrar/in-memory.js";
import { masterSettings, withInfo } from "../settings.js";

/** Answer of a recovering master. */
export const NOT_RECOVERED = "Master has not finished recovery";

export interface RecoveringViewOptions {
  readonly host: ProcessHost;
  readonly flags: LoadedFlags<typeof masterFlagSchema.flags>;
  readonly info: MasterInfo;
  readonly ids: MasterIds;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly services: OperatorServices;
  /** The standby's metrics (the view counts nothing of its own). */
  readonly metrics: MasterMetrics;
  readonly security: MasterSecurity;
  readonly processStartTime: number;
  readonly electedTime: number;
  /** Settles once the elected master serves (its `master` process is spawned). */
  readonly recovered: Promise<unknown>;
}

/** Answers requests to the `master` process until the registry is recovered. */
export type RecoveringView = (request: HttpRequest) => HttpResponse | Promise<HttpResponse>;

/**
 * The routes and methods that change the registry: they wait for the
 * recovery. By route, whatever lies below it: the handlers take
 * `PUT /master/weights/x` or `POST /master/quota/x` as the route itself (as
 * libprocess routes them), and `DELETE /master/quota/<role>` names its role
 * there; answered by the empty master, such a write would be acknowledged
 * and lost.
 */
const REGISTRY_WRITES: Readonly<Record<string, readonly string[]>> = {
  "/weights": ["PUT"],
  "/quota": ["POST", "DELETE"],
  "/maintenance/schedule": ["POST"],
};

/** The view; undefined when the flags do not make a master (startMaster reports why). */
export function recoveringView(options: RecoveringViewOptions): RecoveringView | undefined {
  const { host, flags, info, clock, logger } = options;
  const values = flags.values;
  const settings = masterSettings(values);
  if (!settings.ok) return undefined;
  const allocator = new HierarchicalAllocator({ clock, random: systemRandom });
  const core = new Master({
    config: withInfo(settings.value, info),
    clock,
    random: systemRandom,
    logger,
    // Nothing is sent: no agent is known before the recovery.
    io: { sendToAgent: () => {}, linkAgent: () => {} },
    allocator,
    registrar: new InMemoryRegistrar(),
    ids: options.ids,
    startTime: options.processStartTime,
  });
  const state = {
    master: core,
    build: buildInfoAt(core.startTime),
    pid: `master@${host.address}`,
    cluster: values.cluster,
    logDir: values.log_dir,
    externalLogFile: values.external_log_file,
    flags: flags.toStrings(),
    electedTime: options.electedTime,
  };
  const documents = new StateDocuments(state, {
    now: () => clock.monotonic(),
    yieldToEventLoop: () => new Promise<void>((resolve) => setImmediate(resolve)),
  });
  const operatorEvents = new OperatorEvents({
    master: core,
    documents,
    clock,
    logger,
    maxSubscribers: values.max_operator_event_stream_subscribers,
  });
  // Before the recovery, `--weights` are the weights (Mesos sets them at start).
  const weights = new RoleWeights(settings.value.weights, allocator);
  const view = new MasterProcess();
  view.attachCore(core, {
    state,
    ownVersion: ownVersion(),
    services: options.services,
    documents,
    operatorEvents,
    weights,
    metrics: options.metrics,
  });
  const guard = masterHttpGuard(core, options.security);
  let done = false;
  const retire = (): void => {
    done = true;
    operatorEvents.stop();
    core.stop();
  };
  options.recovered.then(retire, retire);
  return (request) => {
    if (request.routePath === "/api/v1" || request.routePath === "/api/v1/scheduler") {
      return serviceUnavailable(NOT_RECOVERED);
    }
    const match = view.lookupRoute(
      trimSlashes(request.routePath + request.remainder),
      request.method,
    );
    const writes = match.kind === "found" ? REGISTRY_WRITES[match.routePath] : undefined;
    if (done || writes?.includes(request.method) === true) {
      // Once recovered, the elected master's `master` process answers.
      logger.verbose(1, `${request.method} ${request.path} waits for the registry recovery`);
      return options.recovered.then(
        () => routeHttp(request, (id) => host.process(id), undefined),
        () => serviceUnavailable(NOT_RECOVERED),
      );
    }
    if (match.kind !== "not-found") {
      request.routePath = match.routePath;
      request.remainder = match.remainder;
    }
    switch (match.kind) {
      case "not-found":
        return notFound();
      case "method-not-allowed":
        request.methodRefused = true;
        return guard(request, () => methodNotAllowed(match.allowed, request.method));
      case "found":
        return guard(request, () => match.handler(request));
    }
  };
}
