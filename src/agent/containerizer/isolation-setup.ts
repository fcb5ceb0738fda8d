/**
 * Turns the agent's containerization flags into isolators and a launcher:
 * `--isolation`, `--launcher`, `--cgroups_hierarchy`, `--cgroups_root`,
 * `--cgroups_enable_cfs`, `--cgroups_limit_swap`,
 * `--container_disk_watch_interval`, `--enforce_container_disk_quota`, and
 * the network/ports flags (`--container_ports_watch_interval`,
 * `--enforce_container_ports`, `--check_agent_port_range_only`,
 * `--container_ports_isolated_range`), `namespaces/ipc`'s
 * (`--runtime_dir`, `--default_container_shm_size`,
 * `--disallow_sharing_agent_ipc_namespace`) and `linux/capabilities`'
 * (`--effective_capabilities`, `--bounding_capabilities`).
 *
 * The `linux` launcher (a cgroup per container, killed through it) is used
 * when `--launcher=linux` and isolation needs cgroups or namespaces; plain
 * POSIX isolation keeps the cheaper POSIX launch.
 */

import { statSync } from "node:fs";
import { isAbsolute } from "node:path";
import type { Logger } from "../../common/observability/logger.js";
import { createSecretResolver } from "../../common/secrets/resolver.js";
import type { AgentFlags } from "../flags.js";
import { CgroupsHierarchy } from "./cgroups/hierarchy.js";
import { DockerStore } from "./images/docker-store.js";
import { Provisioner } from "./images/provisioner.js";
import { CGROUP_ISOLATORS, createIsolators } from "./isolators/index.js";
import type { ContainerLimitation, Isolator } from "./isolators/isolator.js";
import type { LauncherClient } from "./launcher.js";

/**
 * Extra memory limit for the built-in command executor: Mesos charges
 * 32 MB for its executor, our Node executor's resident set is larger, and a
 * task must not be pushed over its own mem by it.
 */
export const COMMAND_EXECUTOR_MEMORY_ALLOWANCE_MB = 64;

/** The isolation the containerizer runs with. */
export type Isolation =
  | {
      ok: true;
      isolators: Isolator[];
      launcherCgroups: CgroupsHierarchy | undefined;
      provisioner: Provisioner | undefined;
      dockerRuntime: boolean;
    }
  | { ok: false; error: string };

/** `--isolation` as a list. */
export function isolationNames(text: string): string[] {
  return text
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");
}

/** Builds the isolators and picks the launcher. */
export function buildIsolation(
  flags: Pick<
    AgentFlags,
    | "isolation"
    | "launcher"
    | "cgroups_hierarchy"
    | "cgroups_root"
    | "cgroups_enable_cfs"
    | "revocable_cpu_low_priority"
    | "cgroups_cpu_enable_pids_and_tids_count"
    | "cgroups_limit_swap"
    | "container_disk_watch_interval"
    | "enforce_container_disk_quota"
    | "container_ports_watch_interval"
    | "enforce_container_ports"
    | "check_agent_port_range_only"
    | "container_ports_isolated_range"
    | "host_path_volume_force_creation"
    | "allowed_devices"
    | "resources"
    | "default_role"
    | "image_providers"
    | "image_provisioner_backend"
    | "docker_registry"
    | "docker_store_dir"
    | "docker_ignore_runtime"
    | "work_dir"
    | "sandbox_directory"
    | "runtime_dir"
    | "default_container_shm_size"
    | "disallow_sharing_agent_ipc_namespace"
    | "disallow_sharing_agent_pid_namespace"
    | "effective_capabilities"
    | "bounding_capabilities"
    | "secret_resolver"
    | "network_cni_plugins_dir"
    | "network_cni_config_dir"
    | "network_cni_root_dir_persist"
    | "network_cni_metrics"
    | "default_container_dns"
  >,
  launcher: LauncherClient,
  logger: Logger,
  limit: (containerId: string, limitation: ContainerLimitation) => void,
): Isolation {
  const names = isolationNames(flags.isolation);
  const root = process.getuid?.() === 0;
  const cgroups = CgroupsHierarchy.detect(flags.cgroups_hierarchy, flags.cgroups_root);
  const imageError = imageFlagsError(flags, names);
  if (imageError !== undefined) return { ok: false, error: imageError };
  const secretResolver = createSecretResolver(flags.secret_resolver);
  if (!secretResolver.ok) return secretResolver;
  const built = createIsolators(
    {
      names,
      cgroups,
      root,
      enableCfs: flags.cgroups_enable_cfs,
      revocableCpuLowPriority: flags.revocable_cpu_low_priority,
      cpuCountPidsAndTids: flags.cgroups_cpu_enable_pids_and_tids_count,
      limitSwap: flags.cgroups_limit_swap,
      diskWatchIntervalMs: flags.container_disk_watch_interval.toMs(),
      enforceDiskQuota: flags.enforce_container_disk_quota,
      du: (args) =>
        launcher.run({ op: "run", file: "du", args, timeoutMs: 60_000 }).then((r) => ({
          code: r.code,
          output: r.output,
        })),
      commandExecutorAllowanceMb: COMMAND_EXECUTOR_MEMORY_ALLOWANCE_MB,
      hostPathVolumeForceCreation: flags.host_path_volume_force_creation?.split(":"),
      allowedDevices: flags.allowed_devices,
      launcher: flags.launcher,
      ipc: {
        runtimeDir: flags.runtime_dir,
        defaultShmSizeBytes: flags.default_container_shm_size?.bytes,
        disallowSharingAgentIpcNamespace: flags.disallow_sharing_agent_ipc_namespace,
      },
      secrets: { resolver: secretResolver.resolver, runtimeDir: flags.runtime_dir },
      cni: flags,
      disallowSharingAgentPidNamespace: flags.disallow_sharing_agent_pid_namespace,
      effectiveCapabilities: flags.effective_capabilities,
      boundingCapabilities: flags.bounding_capabilities,
      run: (file, args) =>
        launcher.run({ op: "run", file, args, timeoutMs: 60_000 }).then((r) => ({
          code: r.code,
          output: r.output,
        })),
      ports: {
        watchIntervalMs: flags.container_ports_watch_interval.toMs(),
        enforce: flags.enforce_container_ports,
        checkAgentPortRangeOnly: flags.check_agent_port_range_only,
        isolatedRange: flags.container_ports_isolated_range,
        agentResources: flags.resources,
        defaultRole: flags.default_role,
      },
    },
    { logger, limit },
  );
  if (!built.ok) return built;
  const wantsLinux = names.some((n) => CGROUP_ISOLATORS.has(n)) || names.includes("namespaces/pid");
  let launcherCgroups: CgroupsHierarchy | undefined;
  if (flags.launcher === "linux" && wantsLinux) {
    if ("error" in cgroups) {
      return { ok: false, error: `The linux launcher needs cgroups: ${cgroups.error}` };
    }
    if (!cgroups.has("freezer")) {
      return { ok: false, error: "The linux launcher needs the freezer cgroup controller" };
    }
    launcherCgroups = cgroups;
  } else if (flags.launcher !== "linux" && flags.launcher !== "posix") {
    return { ok: false, error: `Unknown launcher '${flags.launcher}'` };
  }
  if (names.some((n) => CGROUP_ISOLATORS.has(n)) && !("error" in cgroups)) {
    logger.info(
      `Using cgroups v${cgroups.version} under '${flags.cgroups_hierarchy}' (root cgroup '${flags.cgroups_root}')`,
    );
  }
  logger.info(
    `Isolation: ${
      built.isolators
        // Always loaded (as in Mesos), so not worth a mention.
        .filter((i) => i.name !== "environment_secret")
        .map((i) => i.name)
        .join(",") || "none"
    }; launcher: ${launcherCgroups === undefined ? "posix" : "linux"}`,
  );
  const images = buildProvisioner(flags, launcher, root);
  if (!images.ok) return images;
  return {
    ok: true,
    isolators: built.isolators,
    launcherCgroups,
    provisioner: images.provisioner,
    // --docker_ignore_runtime: images give only their root filesystem.
    dockerRuntime: names.includes("docker/runtime") && !flags.docker_ignore_runtime,
  };
}

/**
 * Why `--image_providers` cannot be served with these flags, if so. Checked
 * before the isolators are built, as Mesos checks them before its isolators
 * (whose own complaints would otherwise hide these).
 */
function imageFlagsError(
  flags: Pick<AgentFlags, "image_providers" | "launcher">,
  isolation: readonly string[],
): string | undefined {
  const providers = isolationNames((flags.image_providers ?? "").toLowerCase());
  if (providers.length === 0) return undefined;
  // Mesos' words for a name that is no Image.Type; APPC is one, but not served here.
  const unknown = providers.find((p) => p !== "docker" && p !== "appc");
  if (unknown !== undefined) return `Unknown image type '${unknown}'`;
  if (providers.includes("appc")) return "Unsupported image provider 'appc' (only docker)";
  // As Mesos: an image's root filesystem is mounted by filesystem/linux.
  if (!isolation.includes("filesystem/linux")) {
    return "The 'filesystem/linux' isolator must be enabled for container image support";
  }
  // As Mesos' docker store (it exits): the image's runtime settings need
  // their isolator; --docker_ignore_runtime is the way to leave them out.
  if (!isolation.includes("docker/runtime")) {
    return "Docker runtime isolator has to be specified if 'DOCKER' is included in 'image_providers'. Please add 'docker/runtime' to '--isolation' flags";
  }
  // As Mesos: images need the linux launcher's mount namespace handling.
  if (flags.launcher !== "linux") {
    return "The 'linux' launcher must be used for container image support";
  }
  return undefined;
}

/** The image provisioner when `--image_providers` names docker, or a one-line error. */
function buildProvisioner(
  flags: Pick<
    AgentFlags,
    | "image_providers"
    | "image_provisioner_backend"
    | "docker_registry"
    | "docker_store_dir"
    | "work_dir"
    | "sandbox_directory"
  >,
  launcher: LauncherClient,
  root: boolean,
): { ok: true; provisioner: Provisioner | undefined } | { ok: false; error: string } {
  const providers = isolationNames((flags.image_providers ?? "").toLowerCase());
  if (providers.length === 0) return { ok: true, provisioner: undefined };
  const backend = flags.image_provisioner_backend;
  if (backend !== undefined && backend !== "copy") {
    return { ok: false, error: `Unsupported image provisioner backend '${backend}' (only copy)` };
  }
  if (!root) return { ok: false, error: "Container images need the agent to run as root" };
  const registry = flags.docker_registry.replace(/^file:\/\//, "");
  let isDirectory = false;
  try {
    isDirectory = isAbsolute(registry) && statSync(registry).isDirectory();
  } catch {
    isDirectory = false;
  }
  if (!isDirectory) {
    return {
      ok: false,
      error: `--docker_registry must be a local directory of 'docker save' archives (got '${flags.docker_registry}')`,
    };
  }
  const run = (file: string, args: string[]) =>
    launcher.run({ op: "run", file, args, timeoutMs: 600_000 }).then((r) => ({
      code: r.code,
      output: r.output,
    }));
  const store = new DockerStore(registry, flags.docker_store_dir, run);
  return {
    ok: true,
    provisioner: new Provisioner(flags.work_dir, store, run, flags.sandbox_directory),
  };
}
