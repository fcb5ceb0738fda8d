/**
 * The agent's total resources: `--resources` plus auto-detected defaults for
 * the standard names it leaves out, as Mesos' containerizer computes them:
 *
 * - cpus: the number of online CPUs (1 if unknown);
 * - mem: total RAM minus 1 GB when RAM is at least 2 GB, else half of it
 *   (1 GB if unknown), in whole MB;
 * - disk: size of the filesystem holding `--work_dir` minus 5 GB when it is
 *   at least 10 GB, else half of it (10 GB if unknown), in whole MB;
 * - ports: [31000-32000].
 *
 * A name counts as given when it appears in `--resources` at all, even with
 * a zero amount (`cpus:0` disables CPU detection). The host facts come from
 * an injected `HostResourceProbe` so this is testable without the real host.
 */

import { statfsSync } from "node:fs";
import { availableParallelism, cpus, totalmem } from "node:os";
import type { Logger } from "../observability/logger.js";
import { parseResource, parseResources, resourcesFromString } from "./parse.js";
import type { Resources } from "./resources.js";
import type { Result } from "./types.js";

const MB = 1024 * 1024;
const GB = 1024 * MB;

/** Defaults used when a host fact cannot be read (Mesos' agent constants). */
export const DEFAULT_AGENT_CPUS = 1;
/** 1 GB. */
export const DEFAULT_AGENT_MEM_BYTES = GB;
/** 10 GB. */
export const DEFAULT_AGENT_DISK_BYTES = 10 * GB;
/** Default port range offered by an agent. */
export const DEFAULT_AGENT_PORTS = "[31000-32000]";

/** Host facts the detection needs; each may fail with a reason. */
export interface HostResourceProbe {
  /** Number of online CPUs. */
  cpuCount(): Result<number>;
  /** Total physical memory in bytes. */
  totalMemoryBytes(): Result<number>;
  /** Total size in bytes of the filesystem holding `path`. */
  filesystemSizeBytes(path: string): Result<number>;
}

function attempt(read: () => number, what: string): Result<number> {
  try {
    const value = read();
    if (!Number.isFinite(value) || value <= 0) {
      return { ok: false, error: `${what} is not a positive number` };
    }
    return { ok: true, value };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

/** Reads the host facts from Node's `os` and `fs.statfs`. */
export const systemHostProbe: HostResourceProbe = {
  // Mesos counts online CPUs (not the affinity mask); os.cpus() lists those.
  cpuCount: () => attempt(() => cpus().length || availableParallelism(), "CPU count"),
  totalMemoryBytes: () => attempt(() => totalmem(), "total memory"),
  filesystemSizeBytes: (path) =>
    attempt(() => {
      const stats = statfsSync(path);
      return stats.bsize * stats.blocks;
    }, `size of the filesystem at '${path}'`),
};

/** Inputs of `detectAgentResources`. */
export interface DetectAgentResourcesOptions {
  /** The `--resources` flag value (text or JSON array), if given. */
  resources?: string | undefined;
  /** The `--default_role` flag (deprecated in Mesos); "*" by default. */
  defaultRole?: string | undefined;
  /** The `--work_dir` whose filesystem size gives the default disk. */
  workDir: string;
  /** Host facts; defaults to `systemHostProbe`. */
  probe?: HostResourceProbe | undefined;
  /** Receives a warning when a host fact cannot be read. */
  logger?: Logger | undefined;
}

/** The agent's total resources (see module comment), or a one-line error. */
export function detectAgentResources(options: DetectAgentResourcesOptions): Result<Resources> {
  const text = options.resources ?? "";
  const role = options.defaultRole ?? "*";
  const probe = options.probe ?? systemHostProbe;
  const parsed = parseResources(text, role);
  if (!parsed.ok) return parsed;
  const given = resourcesFromString(text, role);
  const names = new Set(given.ok ? given.value.map((r) => r.name) : []);
  const resources = parsed.value.clone();

  const warn = (message: string): void => options.logger?.warn(message);
  const addDefault = (name: string, value: string): Result<void> => {
    const resource = parseResource(name, value, role);
    if (!resource.ok) return resource;
    resources.add(resource.value);
    return { ok: true, value: undefined };
  };

  const steps: (() => Result<void>)[] = [];
  if (!names.has("cpus")) {
    steps.push(() => {
      const cpus = probe.cpuCount();
      if (!cpus.ok) {
        warn(
          `Failed to auto-detect the number of cpus to use: '${cpus.error}'; defaulting to ${DEFAULT_AGENT_CPUS}`,
        );
      }
      return addDefault("cpus", String(cpus.ok ? cpus.value : DEFAULT_AGENT_CPUS));
    });
  }
  if (!names.has("mem")) {
    steps.push(() => {
      const total = probe.totalMemoryBytes();
      let bytes = DEFAULT_AGENT_MEM_BYTES;
      if (!total.ok) {
        warn(`Failed to auto-detect the size of main memory: '${total.error}'; defaulting to 1GB`);
      } else {
        bytes = total.value >= 2 * GB ? total.value - GB : Math.floor(total.value / 2);
      }
      return addDefault("mem", String(Math.floor(bytes / MB)));
    });
  }
  if (!names.has("disk")) {
    steps.push(() => {
      const total = probe.filesystemSizeBytes(options.workDir);
      let bytes = DEFAULT_AGENT_DISK_BYTES;
      if (!total.ok) {
        warn(`Failed to auto-detect the disk space: '${total.error}'; defaulting to 10GB`);
      } else {
        bytes = total.value >= 10 * GB ? total.value - 5 * GB : Math.floor(total.value / 2);
      }
      return addDefault("disk", String(Math.floor(bytes / MB)));
    });
  }
  if (!names.has("ports")) steps.push(() => addDefault("ports", DEFAULT_AGENT_PORTS));

  for (const step of steps) {
    const result = step();
    if (!result.ok) return result;
  }
  return { ok: true, value: resources };
}
