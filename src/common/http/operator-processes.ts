/**
 * The host-wide operator processes libprocess runs beside a daemon's main
 * process: `metrics` (`/metrics/snapshot`, `/metrics/prometheus`), `files`
 * (`/files/browse|read|download|debug`), `logging` (`/logging/toggle`),
 * `system` (`/system/stats.json`), `profiler` (`/profiler/start|stop`),
 * `version` (`/version`), `__processes__`, `help` (`/help/...`), and with
 * `--memory_profiling` `memory-profiler`. One set per ProcessHost: in
 * `mesos-local` the master and its agents share them (metrics in one
 * registry, sandboxes and logs in one virtual filesystem), exactly as they
 * share libprocess' in Mesos.
 *
 * Use `operatorServices(host, {clock, logger})` from each daemon's start-up:
 * the first call spawns the processes, later calls return the same services.
 */
import { FILES_ROUTE_HELP, type FilesForwarder, FilesHandlers } from "../files/files-http.js";
import { VirtualFiles } from "../files/virtual-files.js";
import { Duration } from "../flags/duration.js";
import type { Logger } from "../observability/logger.js";
import { type MetricsRegistry, MetricsRegistry as Registry } from "../observability/metrics.js";
import { ProcessBase } from "../process/process-base.js";
import type { ProcessHost } from "../process/process-host.js";
import type { Clock } from "../time/clock.js";
import { buildInfoAt, COMMON_HELP, versionHandler } from "./common-endpoints.js";
import { HelpProcess } from "./help.js";
import { LOGGING_TOGGLE_HELP, LoggingLevels, type VerbosityControl } from "./logging-toggle.js";
import { MEMORY_PROFILER_ID, memoryProfilerProcess } from "./memory-profiler-process.js";
import { ProcessesProcess } from "./processes-route.js";
import { profilerProcess } from "./profiler-process.js";
import type { HttpRequest } from "./request.js";
import { badRequest, type HttpResponse, response } from "./response.js";
import { systemProcess } from "./system-process.js";
import { jsonResponse } from "./v1-api.js";

/** What a daemon gets: the shared registry, filesystem and logging levels. */
export interface OperatorServices {
  readonly metrics: MetricsRegistry;
  readonly files: VirtualFiles;
  readonly logging: LoggingLevels;
  /**
   * Sends `/files` requests for paths nothing here covers to `forwarder`
   * (the master: to the agent holding a sandbox). Last one set wins.
   */
  setFilesForwarder(forwarder: FilesForwarder | undefined): void;
}

export interface OperatorServicesOptions {
  readonly clock: Clock;
  /** The daemon's logger; when it has `verbosity` and `setLevel` (GlogLogger), the toggle drives it. */
  readonly logger: Logger;
  /**
   * `--memory_profiling`: also run the `memory-profiler` process (any
   * caller asking for it on a host spawns it).
   */
  readonly memoryProfiling?: boolean;
}

const byHost = new WeakMap<ProcessHost, OperatorServices>();

/** True if `logger` can change its verbosity (the glog logger can). */
export function isVerbosityControl(logger: unknown): logger is VerbosityControl {
  const l = logger as Partial<VerbosityControl> | undefined;
  return typeof l?.setLevel === "function" && typeof l.verbosity === "number";
}

/** A stand-in for loggers without verbosity (tests): keeps the number, changes nothing else. */
function fixedVerbosity(clock: Clock): VerbosityControl {
  let level = 0;
  return {
    get verbosity() {
      return level;
    },
    setLevel(l: number, durationMs: number) {
      level = l;
      clock.setTimer(durationMs, () => {
        level = 0;
      });
    },
  };
}

/** Parses `?timeout=` of `/metrics/snapshot` (stout duration text). */
function snapshotTimeout(
  request: HttpRequest,
): { ok: true; ms?: number } | { ok: false; res: HttpResponse } {
  const t = request.query.get("timeout");
  if (t === null) return { ok: true };
  const d = Duration.parse(t);
  if (!d.ok) return { ok: false, res: badRequest(`Invalid timeout '${t}': ${d.error}.\n`) };
  return { ok: true, ms: d.value.ns / 1e6 };
}

/** `/metrics/snapshot` over `registry`: flat JSON, `?timeout=`, `?jsonp=`. */
export function metricsSnapshotHandler(
  registry: MetricsRegistry,
): (request: HttpRequest) => Promise<HttpResponse> {
  return async (request) => {
    const timeout = snapshotTimeout(request);
    if (!timeout.ok) return timeout.res;
    const snap = await registry.snapshot(timeout.ms);
    return jsonResponse(request, JSON.stringify(snap));
  };
}

/** `/metrics/prometheus`: the same metrics as Prometheus text (format 0.0.4). */
export function metricsPrometheusHandler(
  registry: MetricsRegistry,
): (request: HttpRequest) => Promise<HttpResponse> {
  return async (request) => {
    const timeout = snapshotTimeout(request);
    if (!timeout.ok) return timeout.res;
    const text = await registry.prometheus(timeout.ms);
    return response(200, text, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
  };
}

const SNAPSHOT_HELP =
  "Provides a snapshot of the current metrics.\n" +
  "A flat JSON object of metric name -> number. Query: timeout=D (e.g. 5secs; metrics that are " +
  "not ready in time are left out), jsonp=fn.";
const PROMETHEUS_HELP =
  "The current metrics in the Prometheus text format (beyond Mesos).\n" +
  "Names are prefixed mesos_ and every character outside [A-Za-z0-9_] becomes _; timers are " +
  "summaries with quantiles. Query: timeout=D.";

/** Spawns (once per host) and returns the operator services. */
export function operatorServices(
  host: ProcessHost,
  options: OperatorServicesOptions,
): OperatorServices {
  if (options.memoryProfiling === true && host.process(MEMORY_PROFILER_ID) === undefined) {
    host.spawn(memoryProfilerProcess());
  }
  const existing = byHost.get(host);
  if (existing !== undefined) return existing;

  const metrics = new Registry(options.clock);
  const files = new VirtualFiles();
  const control = isVerbosityControl(options.logger)
    ? options.logger
    : fixedVerbosity(options.clock);
  const logging = new LoggingLevels(control);
  let forwarder: FilesForwarder | undefined;

  const metricsProcess = new ProcessBase("metrics");
  metricsProcess.route("/snapshot", { help: SNAPSHOT_HELP }, metricsSnapshotHandler(metrics));
  metricsProcess.route("/prometheus", { help: PROMETHEUS_HELP }, metricsPrometheusHandler(metrics));

  const handlers = new FilesHandlers(files, (endpoint, path, request) =>
    forwarder === undefined ? undefined : forwarder(endpoint, path, request),
  );
  const filesProcess = new ProcessBase("files");
  for (const [name, handler] of [
    ["browse", handlers.browse],
    ["read", handlers.read],
    ["download", handlers.download],
    ["debug", handlers.debug],
  ] as const) {
    filesProcess.route(`/${name}`, { help: FILES_ROUTE_HELP[name] }, handler);
    // The `.json` forms Mesos routed until 1.7; old tools and tutorials still use them.
    if (name !== "download") {
      filesProcess.route(
        `/${name}.json`,
        { help: `${FILES_ROUTE_HELP[name]}\n(Old alias.)` },
        handler,
      );
    }
  }

  const loggingProcess = new ProcessBase("logging");
  loggingProcess.route("/toggle", { help: LOGGING_TOGGLE_HELP }, logging.toggle);

  // `/version` is its own process in Mesos (so `/help` lists it as such);
  // the daemons' `/master/version` and `/slave(1)/version` answer the same.
  const versionProcess = new ProcessBase("version");
  versionProcess.route(
    "/",
    { help: COMMON_HELP.version },
    versionHandler(buildInfoAt(options.clock.now())),
  );

  for (const p of [
    metricsProcess,
    filesProcess,
    loggingProcess,
    systemProcess(metrics),
    profilerProcess(),
    versionProcess,
    new ProcessesProcess(host),
  ]) {
    if (host.process(p.id) === undefined) host.spawn(p);
  }
  if (host.process("help") === undefined) host.spawn(new HelpProcess(() => host.processes()));

  const services: OperatorServices = {
    metrics,
    files,
    logging,
    setFilesForwarder: (f) => {
      forwarder = f;
    },
  };
  byHost.set(host, services);
  return services;
}
