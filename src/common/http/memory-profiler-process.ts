/**
 * The `memory-profiler` process libprocess runs with `--memory_profiling`:
 * jemalloc heap profiling over HTTP. Its endpoints only work when jemalloc
 * is loaded; without it Mesos still serves them, refusing the profiling
 * calls with 400 and reporting `jemalloc_detected: false` in `/state`.
 * Node.js never uses jemalloc, so this is always that case (heap profiles
 * of a Node process come from `node --heap-prof` or the inspector).
 */
import { ProcessBase } from "../process/process-base.js";
import type { HttpRequest } from "./request.js";
import { badRequest, type HttpResponse, okJson } from "./response.js";

/** Process id, as libprocess names it. */
export const MEMORY_PROFILER_ID = "memory-profiler";

/** Why profiling calls are refused (our words; Mesos' own text advises LD_PRELOAD). */
export const JEMALLOC_NOT_DETECTED =
  "jemalloc was not detected: mesos-ts runs on Node.js, which does not allocate with " +
  "jemalloc, so heap profiling through libprocess is not available " +
  "(use node --heap-prof or the inspector instead).\n";

/** What libprocess reports for a profile that was never generated. */
const NOT_GENERATED = "Not yet generated";

/**
 * Checks `?id=` as libprocess does (a base-10 integer, `strtoll` style:
 * leading blanks and a sign allowed, an empty value reads as 0). Returns
 * the reason when it is not one.
 */
export function profileIdError(request: HttpRequest): string | undefined {
  const id = request.query.get("id");
  if (id === null || id === "") return undefined;
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)$/.exec(id);
  if (m?.[1] === undefined) return "Garbage after parsed id";
  const value = BigInt(m[1]);
  if (value > 9223372036854775807n || value < -9223372036854775808n) {
    return "Numerical result out of range";
  }
  return undefined;
}

function download(noProfile: string): (request: HttpRequest) => HttpResponse {
  return (request) => {
    const bad = profileIdError(request);
    if (bad !== undefined) return badRequest(`Invalid parameter 'id': ${bad}.\n`);
    // No run ever started (it cannot without jemalloc): nothing to serve.
    return badRequest(`${noProfile}: ${NOT_GENERATED}.\n`);
  };
}

function refused(): HttpResponse {
  return badRequest(JEMALLOC_NOT_DETECTED);
}

const REFUSED_NOTE = "Without jemalloc (always, on Node.js) it answers 400 with the reason.";

/** The `memory-profiler` process with libprocess' seven routes (any method each). */
export function memoryProfilerProcess(): ProcessBase {
  const p = new ProcessBase(MEMORY_PROFILER_ID);
  p.route(
    "/start",
    { help: `Starts a jemalloc heap profiling run (?duration=D).\n${REFUSED_NOTE}` },
    refused,
  );
  p.route(
    "/stop",
    { help: `Stops the heap profiling run and offers its profile.\n${REFUSED_NOTE}` },
    refused,
  );
  p.route(
    "/download/raw",
    { help: "Downloads the raw profile of the last run (?id=).\nNo run exists here: 400." },
    download("Cannot access raw profile"),
  );
  p.route(
    "/download/text",
    { help: "Downloads the last run's profile symbolized by jeprof (?id=).\nNo run exists: 400." },
    download("No source profile exists"),
  );
  p.route(
    "/download/graph",
    { help: "Downloads the last run's profile as an SVG graph (?id=).\nNo run exists: 400." },
    download("No source profile exists"),
  );
  p.route(
    "/statistics",
    { help: `jemalloc's allocator statistics as JSON.\n${REFUSED_NOTE}` },
    refused,
  );
  p.route(
    "/state",
    {
      help:
        "The memory profiler's state.\n" +
        '{"memory_profiler": {"jemalloc_detected": false, "tmp_dir", "current_run": {"id": null}}}.',
    },
    () =>
      okJson({
        memory_profiler: {
          current_run: { id: null },
          jemalloc_detected: false,
          tmp_dir: NOT_GENERATED,
        },
      }),
  );
  return p;
}
