/**
 * Which authentication realm guards each route of the host-wide processes
 * libprocess runs beside a daemon (metrics, files, logging, the profilers):
 * the same on master and agent, each daemon mapping "readonly" and
 * "readwrite" to its own realm names.
 */

/** The realm kind of a host route. */
export type HostRealm = "readonly" | "readwrite";

/** Routes by process id, as libprocess guards them (metrics read-only, the rest read-write). */
export const LIBPROCESS_HOST_REALMS: Readonly<Record<string, Readonly<Record<string, HostRealm>>>> =
  {
    metrics: { "/snapshot": "readonly", "/prometheus": "readonly" },
    files: {
      "/browse": "readonly",
      "/browse.json": "readonly",
      "/read": "readonly",
      "/read.json": "readonly",
      "/download": "readonly",
      "/debug": "readonly",
      "/debug.json": "readonly",
    },
    logging: { "/toggle": "readwrite" },
    profiler: { "/start": "readwrite", "/stop": "readwrite" },
    "memory-profiler": {
      "/start": "readwrite",
      "/stop": "readwrite",
      "/download/raw": "readwrite",
      "/download/text": "readwrite",
      "/download/graph": "readwrite",
      "/statistics": "readwrite",
      "/state": "readwrite",
    },
  };
