/**
 * The `profiler` process libprocess always runs: `/profiler/start` and
 * `/profiler/stop` drive gperftools' CPU profiler when libprocess is built
 * with it. Mesos is built without it by default, and then both endpoints
 * refuse every request with 400 and the reason; we have no gperftools
 * either, so that is our answer too (Node's own profiler is `--cpu-prof`).
 */
import { ProcessBase } from "../process/process-base.js";
import { badRequest, type HttpResponse } from "./response.js";

/** Mesos' answer when it was built without perftools. */
export const PERFTOOLS_DISABLED =
  "Perftools is disabled. To enable perftools, configure libprocess with --enable-perftools.\n";

const START_HELP =
  "Starts CPU profiling (needs gperftools).\n" +
  "Built without gperftools, as Mesos is by default: always 400 with the reason. Any method.";
const STOP_HELP =
  "Stops CPU profiling and returns the profile (needs gperftools).\n" +
  "Built without gperftools, as Mesos is by default: always 400 with the reason. Any method.";

function disabled(): HttpResponse {
  return badRequest(PERFTOOLS_DISABLED);
}

/** The `profiler` process with its two routes. */
export function profilerProcess(): ProcessBase {
  const p = new ProcessBase("profiler");
  p.route("/start", { help: START_HELP }, disabled);
  p.route("/stop", { help: STOP_HELP }, disabled);
  return p;
}
