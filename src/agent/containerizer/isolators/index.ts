/**
 * Builds the isolators `--isolation` names, in that order, with the
 * cgroups they need. Unknown names and isolators the machine cannot run
 * (no cgroups, not root) are errors the agent reports at start-up.
 */
import { formatFlatRanges } from "../../../common/resources/index.js";
import type { CgroupsHierarchy } from "../cgroups/hierarchy.js";
import { CgroupsCpuIsolator } from "./cgroups-cpu.js";
import { CgroupsMemIsolator } from "./cgroups-mem.js";
import { CgroupsPidsIsolator } from "./cgroups-pids.js";
import { FilesystemLinuxIsolator } from "./filesystem-linux.js";
import type { Isolator, IsolatorContext } from "./isolator.js";
import { NamespacesPidIsolator } from "./namespaces-pid.js";
import { isolatedPortRange, NetworkPortsIsolator, type PortRangeFlags } from "./network-ports.js";
import { type DuRunner, PosixDiskIsolator } from "./posix-disk.js";
import { PosixRlimitsIsolator } from "./posix-rlimits.js";
import { PosixUsageIsolator } from "./posix-usage.js";

/** Settings from the agent's flags. */
export interface IsolationOptions {
  /** `--isolation`, split. */
  names: readonly string[];
  /** Detected cgroups, or why there are none. */
  cgroups: CgroupsHierarchy | { error: string };
  /** The agent runs as root (namespaces and mounts need it). */
  root: boolean;
  enableCfs: boolean;
  limitSwap: boolean;
  diskWatchIntervalMs: number;
  enforceDiskQuota: boolean;
  du: DuRunner;
  /** `--host_path_volume_force_creation`, split on `:`; undefined when not given. */
  hostPathVolumeForceCreation?: readonly string[] | undefined;
  /** Extra MB of memory limit for the built-in command executor. */
  commandExecutorAllowanceMb: number;
  /** `network/ports`: how often it looks, whether it kills, which ports count. */
  ports?: (PortRangeFlags & { watchIntervalMs: number; enforce: boolean }) | undefined;
}

/** Isolator names that are accepted and need nothing (filesystem/posix is the default). */
const NO_OPS = new Set([
  "filesystem/posix",
  "volume/host_path",
  "volume/sandbox_path",
  // Applied by the containerizer when it starts a container from an image.
  "docker/runtime",
]);

/** Names the `linux` launcher (cgroup placement, kill by cgroup) serves. */
export const CGROUP_ISOLATORS = new Set(["cgroups/cpu", "cgroups/mem", "cgroups/pids"]);

/** The isolators, or a one-line error. */
export function createIsolators(
  o: IsolationOptions,
  context: IsolatorContext,
): { ok: true; isolators: Isolator[] } | { ok: false; error: string } {
  const isolators: Isolator[] = [];
  const seen = new Set<string>();
  const cgroups = (name: string): CgroupsHierarchy | string => {
    if ("error" in o.cgroups) return `Isolator '${name}' needs cgroups: ${o.cgroups.error}`;
    if (!o.root) return `Isolator '${name}' needs the agent to run as root`;
    return o.cgroups;
  };
  for (const raw of o.names) {
    const name = raw === "disk/du" ? "posix/disk" : raw;
    if (seen.has(name)) continue;
    seen.add(name);
    if (NO_OPS.has(name)) continue;
    switch (name) {
      case "posix/cpu":
        isolators.push(new PosixUsageIsolator(name, "cpu"));
        break;
      case "posix/mem":
        isolators.push(new PosixUsageIsolator(name, "mem"));
        break;
      case "posix/disk":
        isolators.push(
          new PosixDiskIsolator(context, {
            intervalMs: o.diskWatchIntervalMs,
            enforce: o.enforceDiskQuota,
            du: o.du,
          }),
        );
        break;
      case "posix/rlimits":
        isolators.push(new PosixRlimitsIsolator());
        break;
      case "cgroups/cpu": {
        const c = cgroups(name);
        if (typeof c === "string") return { ok: false, error: c };
        if (!c.has("cpu"))
          return { ok: false, error: "The cpu cgroup controller is not available" };
        isolators.push(new CgroupsCpuIsolator(c, o.enableCfs));
        break;
      }
      case "cgroups/mem": {
        const c = cgroups(name);
        if (typeof c === "string") return { ok: false, error: c };
        if (!c.has("memory")) {
          return { ok: false, error: "The memory cgroup controller is not available" };
        }
        isolators.push(
          new CgroupsMemIsolator(c, context, {
            limitSwap: o.limitSwap,
            commandExecutorAllowanceMb: o.commandExecutorAllowanceMb,
          }),
        );
        break;
      }
      case "cgroups/pids": {
        const c = cgroups(name);
        if (typeof c === "string") return { ok: false, error: c };
        if (!c.has("pids"))
          return { ok: false, error: "The pids cgroup controller is not available" };
        isolators.push(new CgroupsPidsIsolator(c));
        break;
      }
      case "network/ports": {
        const flags = o.ports ?? {
          watchIntervalMs: 30_000,
          enforce: false,
          checkAgentPortRangeOnly: false,
          defaultRole: "*",
        };
        const range = isolatedPortRange(flags);
        if (!range.ok) return range;
        if (range.ports !== undefined) {
          context.logger.info(`Isolating port range ${formatFlatRanges(range.ports)}`);
        }
        isolators.push(
          new NetworkPortsIsolator(context, {
            intervalMs: flags.watchIntervalMs,
            enforce: flags.enforce,
            isolatedPorts: range.ports,
          }),
        );
        break;
      }
      case "namespaces/pid":
        if (!o.root) return { ok: false, error: "Isolator 'namespaces/pid' needs root" };
        isolators.push(new NamespacesPidIsolator());
        break;
      case "filesystem/linux":
      case "filesystem/shared":
        if (!o.root) return { ok: false, error: `Isolator '${name}' needs root` };
        isolators.push(new FilesystemLinuxIsolator(name, o.hostPathVolumeForceCreation));
        break;
      default:
        return { ok: false, error: `Unknown or unsupported isolator '${raw}'` };
    }
  }
  return { ok: true, isolators };
}
