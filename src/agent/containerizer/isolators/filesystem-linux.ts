/**
 * `filesystem/linux` (and `filesystem/shared`, `volume/host_path`,
 * `volume/sandbox_path`): the executor gets its own mount namespace and the
 * ContainerInfo volumes are bind-mounted in it, so the mounts are invisible
 * on the host and vanish with the container.
 *
 * A volume's source is `host_path` (or `source.host_path.path`, which must
 * be absolute, or a `source.sandbox_path`: SELF, or PARENT for a nested
 * container, checked as in volume-sandbox-path.ts); a relative `host_path`
 * is a directory in the sandbox (created when missing), which is how a task gets a private
 * `/tmp`: `{"container_path": "/tmp", "host_path": "tmp", "mode": "RW"}`.
 * A relative `container_path` is a path in the sandbox (created); an
 * absolute one must exist on the host (no container image: the host's
 * filesystem is the container's). `RO` volumes are remounted read-only.
 *
 * An absolute source that does not exist is an error, unless it lies under a
 * directory of `--host_path_volume_force_creation`: then it is created (as a
 * directory), as Mesos' volume/host_path does.
 */
import { mkdir, stat } from "node:fs/promises";
import { isAbsolute, join, normalize } from "node:path";
import type { Volume } from "../../../common/protocol/generated/mesos-v1.js";
import { makeMountPoint, makeSandbox } from "../sandbox-no-follow.js";
import {
  BaseIsolator,
  type BindMount,
  type ContainerConfig,
  type LaunchPreparation,
} from "./isolator.js";
import { ensureSandboxPathSource, sandboxPathOf } from "./volume-sandbox-path.js";

/**
 * Where a volume comes from, or an error text. `parentSandbox`: the parent's
 * sandbox of a nested container (SANDBOX_PATH volumes of type PARENT).
 */
export function volumeSource(
  volume: Volume,
  sandbox: string,
  parentSandbox?: string,
): string | { error: string } {
  const sp = sandboxPathOf(volume, sandbox, parentSandbox, true);
  if (sp !== undefined) return "error" in sp ? sp : sp.source;
  const type = volume.source?.type;
  if (volume.host_path === undefined && (type === "DOCKER_VOLUME" || type === "CSI_VOLUME")) {
    // Mesos leaves these to its docker/volume and volume/csi isolators (and
    // ignores them without); mesos-ts has neither, so the task would run
    // without the data it asked for.
    return {
      error: `${type} volume '${volume.container_path}' is not supported (no docker/volume or volume/csi isolator)`,
    };
  }
  const fromSource = volume.source?.host_path?.path;
  // As Mesos' volume/host_path: only the legacy `host_path` field may be
  // relative (a directory in the sandbox); a HOST_PATH source must be absolute.
  if (volume.host_path === undefined && fromSource !== undefined && !isAbsolute(fromSource)) {
    return { error: `Path '${fromSource}' in HOST_PATH volume is not absolute` };
  }
  if (volume.source?.host_path?.mount_propagation?.mode === "BIDIRECTIONAL") {
    // Every container mount namespace here is private: mounts the task made
    // would silently stay invisible to the host.
    return {
      error: `BIDIRECTIONAL mount propagation (HOST_PATH volume '${volume.container_path}') is not supported`,
    };
  }
  const source = volume.host_path ?? fromSource;
  if (source === undefined) {
    return {
      error: `volume '${volume.container_path}' has no host path (only host and sandbox paths are supported)`,
    };
  }
  if (isAbsolute(source)) return normalize(source);
  const inside = normalize(join(sandbox, source));
  if (!inside.startsWith(`${sandbox}/`) && inside !== sandbox) {
    return { error: `volume source '${source}' leaves the sandbox` };
  }
  return inside;
}

/** Where a volume is mounted, or an error text. */
export function volumeTarget(volume: Volume, sandbox: string): string | { error: string } {
  const path = volume.container_path;
  if (path === "") return { error: "a volume needs a container_path" };
  if (isAbsolute(path)) return normalize(path);
  const inside = normalize(join(sandbox, path));
  if (!inside.startsWith(`${sandbox}/`))
    return { error: `container_path '${path}' leaves the sandbox` };
  return inside;
}

/**
 * True when `path` (normalized) is one of `allowed` or lies beneath one:
 * `--host_path_volume_force_creation` lets such missing host paths be created.
 */
export function hostPathCreationAllowed(path: string, allowed: readonly string[]): boolean {
  return allowed.some((dir) => {
    if (dir === "") return false;
    const base = normalize(dir).replace(/(.)\/+$/, "$1");
    return path === base || path.startsWith(base.endsWith("/") ? base : `${base}/`);
  });
}

export class FilesystemLinuxIsolator extends BaseIsolator {
  /**
   * @param forceCreation `--host_path_volume_force_creation`, split: directories
   *   under which missing host paths are created; undefined when not given.
   */
  constructor(
    readonly name: string,
    private readonly forceCreation?: readonly string[],
  ) {
    super();
  }

  override async prepare(config: ContainerConfig): Promise<LaunchPreparation> {
    const mounts: BindMount[] = [];
    const inImage = config.executor.container?.mesos?.image !== undefined;
    for (const volume of config.executor.container?.volumes ?? []) {
      // Secret volumes are volume/secret's.
      if (volume.source?.type === "SECRET") continue;
      // Image volumes are the provisioner's (images/image-launch.ts).
      if (volume.image !== undefined) continue;
      const sp = sandboxPathOf(volume, config.directory, config.parentDirectory, true);
      if (sp !== undefined && "error" in sp) throw new Error(sp.error);
      const source = sp?.source ?? volumeSource(volume, config.directory);
      if (typeof source !== "string") throw new Error(source.error);
      const target = volumeTarget(volume, config.directory);
      if (typeof target !== "string") throw new Error(target.error);
      const sourceInSandbox = sp !== undefined || source.startsWith(`${config.directory}/`);
      if (sp !== undefined) {
        await ensureSandboxPathSource(sp);
      } else if (sourceInSandbox) {
        // Made, and given to the user, without following the task's links there.
        await makeSandbox(config.directory, source, config.user);
      }
      if (!sourceInSandbox) await this.createAllowedHostPath(source);
      let sourceIsDirectory: boolean;
      try {
        sourceIsDirectory = (await stat(source)).isDirectory();
      } catch {
        throw new Error(`volume source '${source}' does not exist`);
      }
      if (target.startsWith(`${config.directory}/`)) {
        // Not through the task's links there (root would make it where they lead).
        await makeMountPoint(config.directory, target, sourceIsDirectory);
      } else if (inImage) {
        // Inside the image's rootfs: mounted there by the provisioner (images/image-launch.ts).
        continue;
      } else {
        try {
          await stat(target);
        } catch {
          // Mesos' words (volume/host_path, volume/sandbox_path): no mount
          // points are made outside the sandbox on the host.
          throw new Error(
            `Mount point '${target}' is an absolute path. It must exist if the container shares the host filesystem`,
          );
        }
      }
      const mount: BindMount = { source, target, readOnly: volume.mode === "RO" };
      // The launch mounts from the files it opens in the sandbox, not by name.
      if (sp !== undefined) mount.sandboxPath = sp;
      if (target.startsWith(`${config.directory}/`)) mount.targetSandbox = config.directory;
      mounts.push(mount);
    }
    return { mountNamespace: true, mounts };
  }

  /** Creates a missing host path when the flag allows it; says why not otherwise. */
  private async createAllowedHostPath(path: string): Promise<void> {
    try {
      await stat(path);
      return;
    } catch {
      // Missing: created below when allowed.
    }
    if (this.forceCreation === undefined) {
      throw new Error(`Path '${path}' in HOST_PATH volume does not exist`);
    }
    if (!hostPathCreationAllowed(path, this.forceCreation)) {
      throw new Error(
        `Path '${path}' in HOST_PATH volume does not exist and is not under a directory of --host_path_volume_force_creation`,
      );
    }
    await mkdir(path, { recursive: true });
  }
}
