/**
 * Builds the isolators `--isolation` names, in that order, with the
 * cgroups they need. Unknown names and isolators the machine cannot run
 * (no cgroups, not root) are errors the agent reports at start-up.
 */
import { existsSync } from "node:fs";
import { release } from "node:os";
import { formatFlatRanges } from "../../../common/resources/index.js";
import type { SecretResolver } from "../../../common/secrets/resolver.js";
import type { CgroupsHierarchy, Subsystem } from "../cgroups/hierarchy.js";
import { CgroupsBlkioIsolator } from "./cgroups-blkio.js";
import { CgroupsCpuIsolator } from "./cgroups-cpu.js";
import { buildDeviceWhitelist, CgroupsDevicesIsolator } from "./cgroups-devices.js";
import { CgroupsMemIsolator } from "./cgroups-mem.js";
import { CgroupsPidsIsolator } from "./cgroups-pids.js";
import { ENVIRONMENT_SECRET, EnvironmentSecretIsolator } from "./environment-secret.js";
import { FilesystemLinuxIsolator } from "./filesystem-linux.js";
import type { Isolator, IsolatorContext } from "./isolator.js";
import { checkCapabilityFlags, LinuxCapabilitiesIsolator } from "./linux-capabilities.js";
import { LinuxNnpIsolator } from "./linux-nnp.js";
import { type CommandRunner, NamespacesIpcIsolator } from "./namespaces-ipc.js";
import { NamespacesPidIsolator } from "./namespaces-pid.js";
import { type NetworkCniFlags, NetworkCniIsolator, networkCniOptions } from "./network-cni.js";
import { isolatedPortRange, NetworkPortsIsolator, type PortRangeFlags } from "./network-ports.js";
import { type DuRunner, PosixDiskIsolator } from "./posix-disk.js";
import { PosixRlimitsIsolator } from "./posix-rlimits.js";
import { PosixUsageIsolator } from "./posix-usage.js";
import { VolumeSandboxPathIsolator } from "./volume-sandbox-path.js";
import { VolumeSecretIsolator, volumeSecretFlagsError } from "./volume-secret.js";

/** Settings from the agent's flags. */
export interface IsolationOptions {
  /** `--isolation`, split. */
  names: readonly string[];
  /** Detected cgroups, or why there are none. */
  cgroups: CgroupsHierarchy | { error: string };
  /** The agent runs as root (namespaces and mounts need it). */
  root: boolean;
  enableCfs: boolean;
  /** `--revocable_cpu_low_priority`: revocable cpus get a tenth of the usual shares. */
  revocableCpuLowPriority?: boolean | undefined;
  /** `--cgroups_cpu_enable_pids_and_tids_count` (`cgroups/cpu`). */
  cpuCountPidsAndTids?: boolean | undefined;
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
  /** `--allowed_devices` (a DeviceWhitelist as JSON) for `cgroups/devices`; undefined: none. */
  allowedDevices?: unknown;
  /** `--launcher` (`namespaces/ipc` needs `linux`); undefined: not checked. */
  launcher?: string | undefined;
  /** `namespaces/ipc`: `--runtime_dir`, `--default_container_shm_size`, `--disallow_sharing_agent_ipc_namespace`. */
  ipc?:
    | {
        runtimeDir: string;
        defaultShmSizeBytes?: number | undefined;
        disallowSharingAgentIpcNamespace: boolean;
      }
    | undefined;
  /** `--disallow_sharing_agent_pid_namespace` (`namespaces/pid`). */
  disallowSharingAgentPidNamespace?: boolean | undefined;
  /** `--effective_capabilities` and `--bounding_capabilities` (CapabilityInfo JSON). */
  effectiveCapabilities?: unknown;
  boundingCapabilities?: unknown;
  /** `network/cni`: its flags and `--work_dir`, `--runtime_dir`. */
  cni?: NetworkCniFlags | undefined;
  /** Runs mount/umount for isolators that mount on the host. */
  run?: CommandRunner | undefined;
  /** `environment_secret` and `volume/secret`: the agent's secret resolver and `--runtime_dir`. */
  secrets?: { resolver: SecretResolver | undefined; runtimeDir: string } | undefined;
}

/** True when the running kernel is at least `major.minor`. */
function kernelAtLeast(release: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (m === null) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}

/** Isolator names that are accepted and need nothing (filesystem/posix is the default). */
const NO_OPS = new Set([
  "filesystem/posix",
  // Applied by the containerizer when it starts a container from an image.
  "docker/runtime",
]);

/** Names the `linux` launcher (cgroup placement, kill by cgroup) serves. */
export const CGROUP_ISOLATORS = new Set([
  "cgroups/cpu",
  "cgroups/mem",
  "cgroups/pids",
  "cgroups/devices",
  "cgroups/blkio",
  "cgroups/all",
]);

/**
 * The cgroup isolators `cgroups/all` can stand for, with the controller
 * each needs (devices and blkio only exist as v1 hierarchies).
 */
const ALL_CGROUP_ISOLATORS: readonly { name: string; subsystem: Subsystem; v1Only: boolean }[] = [
  { name: "cgroups/cpu", subsystem: "cpu", v1Only: false },
  { name: "cgroups/mem", subsystem: "memory", v1Only: false },
  { name: "cgroups/pids", subsystem: "pids", v1Only: false },
  { name: "cgroups/devices", subsystem: "devices", v1Only: true },
  { name: "cgroups/blkio", subsystem: "blkio", v1Only: true },
];

/**
 * `--isolation` with `cgroups/all` replaced (where it stands) by every
 * cgroup isolator whose controller is there; as in Mesos, the other
 * `cgroups/*` names are then redundant and dropped. Names without
 * `cgroups/all` come back unchanged.
 */
export function expandCgroupsAll(
  names: readonly string[],
  cgroups: Pick<CgroupsHierarchy, "has" | "version">,
): { ok: true; names: string[]; loaded: string[] } | { ok: false; error: string } {
  if (!names.includes("cgroups/all")) return { ok: true, names: [...names], loaded: [] };
  const loaded = ALL_CGROUP_ISOLATORS.filter(
    (i) => cgroups.has(i.subsystem) && (!i.v1Only || cgroups.version === 1),
  ).map((i) => i.name);
  if (loaded.length === 0) {
    return { ok: false, error: "'cgroups/all': no supported cgroup controller is available" };
  }
  const out: string[] = [];
  for (const name of names) {
    if (name === "cgroups/all") out.push(...loaded);
    else if (!CGROUP_ISOLATORS.has(name)) out.push(name);
  }
  return { ok: true, names: out, loaded };
}

/** Why `cgroups/devices` or `cgroups/blkio` cannot run on these cgroups, if so. */
function v1OnlyError(name: string, subsystem: Subsystem, c: CgroupsHierarchy): string | undefined {
  if (c.version === 2) {
    return subsystem === "devices"
      ? `Isolator '${name}' needs the cgroup v1 devices hierarchy (cgroup v2 controls devices with eBPF, which is not implemented)`
      : `Isolator '${name}' needs the cgroup v1 blkio hierarchy (the cgroup v2 io controller is not implemented)`;
  }
  if (!c.has(subsystem)) return `The ${subsystem} cgroup controller is not available`;
  return undefined;
}

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
  let names = o.names;
  if (names.includes("cgroups/all")) {
    const c = cgroups("cgroups/all");
    if (typeof c === "string") return { ok: false, error: c };
    const expanded = expandCgroupsAll(names, c);
    if (!expanded.ok) return expanded;
    context.logger.info(`'cgroups/all' loads ${expanded.loaded.join(",")}`);
    names = expanded.names;
  }
  // As Mesos: one filesystem isolator at most.
  if (new Set(names.filter((n) => n.startsWith("filesystem/"))).size > 1) {
    return { ok: false, error: "Using multiple filesystem isolators simultaneously is disallowed" };
  }
  for (const raw of names) {
    const name = raw === "disk/du" ? "posix/disk" : raw;
    if (seen.has(name)) continue;
    seen.add(name);
    if (NO_OPS.has(name)) continue;
    switch (name) {
      case ENVIRONMENT_SECRET:
        // Loaded below whether named or not.
        break;
      case "volume/secret": {
        const unusable = volumeSecretFlagsError(names, o.launcher);
        if (unusable !== undefined) return { ok: false, error: unusable };
        if (!o.root) return { ok: false, error: "Isolator 'volume/secret' needs root" };
        const run = o.run;
        if (run === undefined) return { ok: false, error: "'volume/secret' needs a launcher" };
        isolators.push(
          new VolumeSecretIsolator({
            runtimeDir: o.secrets?.runtimeDir ?? "/var/run/mesos",
            resolver: o.secrets?.resolver,
            run,
          }),
        );
        break;
      }
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
        isolators.push(
          new CgroupsCpuIsolator(
            c,
            o.enableCfs,
            o.revocableCpuLowPriority ?? false,
            o.cpuCountPidsAndTids ?? false,
          ),
        );
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
      case "cgroups/devices": {
        const c = cgroups(name);
        if (typeof c === "string") return { ok: false, error: c };
        const unusable = v1OnlyError(name, "devices", c);
        if (unusable !== undefined) return { ok: false, error: unusable };
        const whitelist = buildDeviceWhitelist(o.allowedDevices);
        if (!whitelist.ok) return whitelist;
        isolators.push(new CgroupsDevicesIsolator(c, whitelist.value));
        break;
      }
      case "cgroups/blkio": {
        const c = cgroups(name);
        if (typeof c === "string") return { ok: false, error: c };
        const unusable = v1OnlyError(name, "blkio", c);
        if (unusable !== undefined) return { ok: false, error: unusable };
        isolators.push(new CgroupsBlkioIsolator(c));
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
      case "network/cni": {
        const cni = networkCniOptions(
          o.cni ?? { network_cni_root_dir_persist: false, work_dir: "", runtime_dir: "" },
          o.root,
          context.logger,
        );
        if (!cni.ok) return cni;
        isolators.push(new NetworkCniIsolator(cni.options));
        break;
      }
      case "namespaces/pid":
        // Mesos' checks and messages.
        if (!o.root) {
          return { ok: false, error: "The pid namespace isolator requires root permissions" };
        }
        if (!existsSync("/proc/self/ns/pid")) {
          return { ok: false, error: "Pid namespaces are not supported by this kernel" };
        }
        if (o.launcher !== undefined && o.launcher !== "linux") {
          return { ok: false, error: "'linux' launcher must be used to enable pid namespace" };
        }
        if (!names.includes("filesystem/linux")) {
          return { ok: false, error: "'filesystem/linux' must be used to enable pid namespace" };
        }
        isolators.push(
          new NamespacesPidIsolator({
            disallowSharingAgentPidNamespace: o.disallowSharingAgentPidNamespace ?? false,
          }),
        );
        break;
      case "namespaces/ipc": {
        if (!o.root) {
          return { ok: false, error: "The IPC namespace isolator requires root permissions" };
        }
        if (!existsSync("/proc/self/ns/ipc")) {
          return { ok: false, error: "IPC namespaces are not supported by this kernel" };
        }
        if (o.launcher !== undefined && o.launcher !== "linux") {
          return {
            ok: false,
            error: "The 'linux' launcher must be used to enable the IPC namespace",
          };
        }
        if (!names.includes("filesystem/linux")) {
          return { ok: false, error: "'filesystem/linux' must be used to enable IPC namespace" };
        }
        const ipc = o.ipc ?? {
          runtimeDir: "/var/run/mesos",
          disallowSharingAgentIpcNamespace: false,
        };
        const run = o.run;
        if (run === undefined) return { ok: false, error: "'namespaces/ipc' needs a launcher" };
        isolators.push(new NamespacesIpcIsolator({ ...ipc, run }));
        break;
      }
      case "linux/capabilities": {
        if (!o.root) {
          return { ok: false, error: "Linux capabilities isolator requires root permissions" };
        }
        const flags = checkCapabilityFlags(o.effectiveCapabilities, o.boundingCapabilities);
        if (!flags.ok) return flags;
        isolators.push(new LinuxCapabilitiesIsolator(flags.flags));
        break;
      }
      case "linux/nnp":
        if (!kernelAtLeast(release(), 3, 5)) {
          return {
            ok: false,
            error: "Linux kernel version greater than or equal to 3.5 required",
          };
        }
        isolators.push(new LinuxNnpIsolator());
        break;
      case "volume/sandbox_path":
        // With filesystem/linux, SANDBOX_PATH volumes are its bind mounts; else symlinks, as Mesos.
        if (!names.includes("filesystem/linux") && !names.includes("filesystem/shared")) {
          isolators.push(new VolumeSandboxPathIsolator(context));
        }
        break;
      // Both are part of filesystem/linux here (bind mounts, image volumes),
      // which Mesos also loads them with; named alone, Mesos refuses them.
      case "volume/host_path":
        if (!names.includes("filesystem/linux")) {
          return { ok: false, error: "'volume/host_path' needs the 'filesystem/linux' isolator" };
        }
        break;
      case "volume/image":
        if (!names.includes("filesystem/linux")) {
          return {
            ok: false,
            error: "'filesystem/linux' must be enabled to create the volume image isolator",
          };
        }
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
  // As Mesos (checked last, so the isolators that need it say so first): the
  // mount namespace setup is the linux launcher's.
  if (names.includes("filesystem/linux") && o.launcher !== undefined && o.launcher !== "linux") {
    return { ok: false, error: "'filesystem/linux' isolator requires 'linux' launcher" };
  }
  // As Mesos: always there (the agent always passes its resolver), last, so
  // any container's SECRET variables are resolved.
  if (o.secrets !== undefined) isolators.push(new EnvironmentSecretIsolator(o.secrets.resolver));
  return { ok: true, isolators };
}
