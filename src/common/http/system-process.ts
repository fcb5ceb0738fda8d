/**
 * The `system` process libprocess runs beside every daemon: the
 * `system/*` gauges (load averages, CPUs, memory) and `/system/stats.json`,
 * both fed by one reader of the machine's facts.
 *
 * The facts follow Mesos' meaning: `cpus_total` counts online CPUs (not
 * the affinity mask), and free memory is the kernel's free RAM (`MemFree`,
 * what sysinfo(2) reports), not `MemAvailable` (Node's `os.freemem()`),
 * which also counts reclaimable caches.
 */
import { readFileSync } from "node:fs";
import { availableParallelism, cpus, freemem, loadavg, totalmem } from "node:os";
import type { MetricsRegistry } from "../observability/metrics.js";
import { ProcessBase } from "../process/process-base.js";
import type { HttpRequest } from "./request.js";
import type { HttpResponse } from "./response.js";
import { jsonResponse } from "./v1-api.js";

/** The machine's load, CPUs and memory; a fact that cannot be read is absent. */
export interface SystemStats {
  readonly load?: { readonly one: number; readonly five: number; readonly fifteen: number };
  readonly cpusTotal?: number;
  readonly memory?: { readonly totalBytes: number; readonly freeBytes: number };
}

/** Where the facts come from (tests inject fixed ones). */
export interface SystemProbe {
  loadavg(): number[];
  /** Online CPUs. */
  cpuCount(): number;
  totalMemoryBytes(): number;
  /** Free RAM in bytes (MemFree). */
  freeMemoryBytes(): number;
}

/** The `MemFree:` line of /proc/meminfo in bytes, or undefined when absent. */
export function memFreeBytes(meminfo: string): number | undefined {
  const match = /^MemFree:\s+(\d+)\s*kB\s*$/m.exec(meminfo);
  return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
}

function readMemFree(): number {
  try {
    const bytes = memFreeBytes(readFileSync("/proc/meminfo", "latin1"));
    if (bytes !== undefined) return bytes;
  } catch {
    // Not Linux: the platform's own notion of free memory is the closest.
  }
  return freemem();
}

/** Reads the real machine. */
export const hostSystemProbe: SystemProbe = {
  loadavg: () => loadavg(),
  cpuCount: () => cpus().length || availableParallelism(),
  totalMemoryBytes: () => totalmem(),
  freeMemoryBytes: readMemFree,
};

function attempt<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/** Takes one reading; each group of facts is left out if it fails. */
export function readSystemStats(probe: SystemProbe = hostSystemProbe): SystemStats {
  const l = attempt(() => probe.loadavg());
  const cpusTotal = attempt(() => probe.cpuCount());
  const totalBytes = attempt(() => probe.totalMemoryBytes());
  const freeBytes = attempt(() => probe.freeMemoryBytes());
  const [one, five, fifteen] = l ?? [];
  return {
    ...(one === undefined || five === undefined || fifteen === undefined
      ? {}
      : { load: { one, five, fifteen } }),
    ...(cpusTotal === undefined ? {} : { cpusTotal }),
    ...(totalBytes === undefined || freeBytes === undefined
      ? {}
      : { memory: { totalBytes, freeBytes } }),
  };
}

/** The `/system/stats.json` document (keys as Mesos names them, sorted as it sorts them). */
export function systemStatsJson(stats: SystemStats): Record<string, number> {
  const out: Record<string, number> = {};
  if (stats.load !== undefined) {
    out.avg_load_15min = stats.load.fifteen;
    out.avg_load_1min = stats.load.one;
    out.avg_load_5min = stats.load.five;
  }
  if (stats.cpusTotal !== undefined) out.cpus_total = stats.cpusTotal;
  if (stats.memory !== undefined) {
    out.mem_free_bytes = stats.memory.freeBytes;
    out.mem_total_bytes = stats.memory.totalBytes;
  }
  return out;
}

/** Help text of `/system/stats.json`. */
export const SYSTEM_STATS_HELP =
  "Shows local system metrics.\n" +
  "Answers {avg_load_1min, avg_load_5min, avg_load_15min (load averages as uptime(1) shows " +
  "them), cpus_total (online CPUs), mem_total_bytes, mem_free_bytes (free RAM, without " +
  "caches)}; a fact that cannot be read is left out. Any method. ?jsonp=fn wraps the JSON.";

/** `/system/stats.json` over `probe`. */
export function systemStatsHandler(
  probe: SystemProbe = hostSystemProbe,
): (request: HttpRequest) => HttpResponse {
  return (request) =>
    jsonResponse(request, JSON.stringify(systemStatsJson(readSystemStats(probe))));
}

/**
 * Registers the `system/*` gauges in `registry`: `cpus_total`,
 * `load_1min`, `load_5min`, `load_15min`, `mem_total_bytes`,
 * `mem_free_bytes`. A fact that cannot be read leaves its gauge out of
 * the snapshot, as a failed gauge is left out in Mesos.
 */
export function registerSystemMetrics(
  registry: MetricsRegistry,
  probe: SystemProbe = hostSystemProbe,
): void {
  const load = (i: number) => (): number => {
    const v = probe.loadavg()[i];
    if (v === undefined) throw new Error("no load average");
    return v;
  };
  registry.gauge("system/cpus_total", () => probe.cpuCount());
  registry.gauge("system/load_1min", load(0));
  registry.gauge("system/load_5min", load(1));
  registry.gauge("system/load_15min", load(2));
  registry.gauge("system/mem_total_bytes", () => probe.totalMemoryBytes());
  registry.gauge("system/mem_free_bytes", () => probe.freeMemoryBytes());
}

/** The `system` process: its gauges go into `registry`, its route is `/stats.json`. */
export function systemProcess(
  registry: MetricsRegistry,
  probe: SystemProbe = hostSystemProbe,
): ProcessBase {
  registerSystemMetrics(registry, probe);
  const p = new ProcessBase("system");
  p.route("/stats.json", { help: SYSTEM_STATS_HELP }, systemStatsHandler(probe));
  return p;
}
