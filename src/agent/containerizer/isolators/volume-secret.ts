/**
 * `volume/secret`: a ContainerInfo volume whose source is a SECRET becomes a
 * file at the volume's `container_path` holding the resolved secret, as
 * Mesos' isolator of that name lays it out:
 *
 * - a relative `container_path` is a file in the sandbox (created empty on
 *   the host as the mount point); an absolute one must already exist (the
 *   host's filesystem is the container's);
 * - inside the container, `<sandbox>/.secret-<uuid>` is an in-memory
 *   filesystem (ramfs: never swapped out) holding each secret at
 *   `<sandbox>/.secret-<uuid>/<container_path>`, bind-mounted at the
 *   volume's path (read-only for `mode: RO`); on the host that directory
 *   stays empty;
 * - files are written by the agent (root) with mode 0644.
 *
 * Mesos writes each secret under `<runtime_dir>/.secret/<container id>` and
 * moves it into a ramfs mounted in the container's own mount namespace. Our
 * launch shim only makes bind mounts, so the ramfs is mounted on the host at
 * `<runtime_dir>/.secret/<container id>` (mode 0700, root only) and bound
 * into the container; it is unmounted and removed when the container ends.
 *
 * As in Mesos it needs `filesystem/linux` and `--launcher=linux` (and so
 * root). Containers with an image are refused for now: the isolators run
 * before the image is provisioned, so the paths inside it are not known.
 */
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, normalize } from "node:path";
import type { Secret, Volume } from "../../../common/protocol/generated/mesos-v1.js";
import type { SecretResolver } from "../../../common/secrets/resolver.js";
import { validateSecret } from "../../../common/secrets/validation.js";
import {
  BaseIsolator,
  type BindMount,
  type ContainerConfig,
  type LaunchPreparation,
} from "./isolator.js";
import type { CommandRunner } from "./namespaces-ipc.js";

/** Mesos' name for the secrets directory (`SECRET_DIRECTORY`). */
export const SECRET_DIRECTORY = ".secret";

export interface VolumeSecretOptions {
  /** `--runtime_dir`: the secrets' ramfs mounts are made under `<runtime_dir>/.secret`. */
  runtimeDir: string;
  resolver: SecretResolver | undefined;
  /** Runs mount/umount as the agent (root). */
  run: CommandRunner;
}

/** Why `volume/secret` cannot run with these flags, if so (Mesos' check at start). */
export function volumeSecretFlagsError(
  isolation: readonly string[],
  launcher: string | undefined,
): string | undefined {
  if ((launcher !== undefined && launcher !== "linux") || !isolation.includes("filesystem/linux")) {
    return "Volume secret isolation requires filesystem/linux isolator.";
  }
  return undefined;
}

/** Mesos writes a nested container id as `<parent>.<child>`. */
export function secretDirectoryName(containerId: string): string {
  return containerId.split("/mesos/").join(".");
}

/** `<runtime_dir>/.secret/<container id>`: the container's secrets on the host. */
export function hostSecretDirectory(runtimeDir: string, containerId: string): string {
  return join(runtimeDir, SECRET_DIRECTORY, secretDirectoryName(containerId));
}

function isSecretVolume(volume: Volume): boolean {
  return volume.source?.type === "SECRET";
}

/** A file path made relative to a root (an absolute container path keeps its tree). */
function under(root: string, path: string): string {
  return normalize(join(root, path));
}

export class VolumeSecretIsolator extends BaseIsolator {
  readonly name = "volume/secret";

  constructor(private readonly o: VolumeSecretOptions) {
    super();
  }

  override async prepare(config: ContainerConfig): Promise<LaunchPreparation | undefined> {
    const container = config.executor.container;
    const volumes = (container?.volumes ?? []).filter(isSecretVolume);
    if (container === undefined || volumes.length === 0) return undefined;
    if (container.type !== undefined && container.type !== "MESOS") {
      throw new Error("Can only prepare the secret volume isolator for a MESOS container");
    }
    // With an image, the mount points inside it are made once it is provisioned.
    const inImage = container.mesos?.image !== undefined;
    // Every volume is checked before anything is written.
    const planned: { secret: Secret; containerPath: string; target: string; readOnly: boolean }[] =
      [];
    for (const volume of volumes) {
      const secret = volume.source?.secret;
      if (secret === undefined) throw new Error("volume.source.secret is not specified");
      if (this.o.resolver === undefined) {
        throw new Error("Error: Volume has secret but no secret-resolver provided");
      }
      const error = validateSecret(secret);
      if (error !== undefined) throw new Error(`Invalid secret specified in volume: ${error}`);
      const path = volume.container_path;
      let target: string;
      if (isAbsolute(path)) {
        target = normalize(path);
        if (!inImage && !existsSync(target)) {
          throw new Error(`Absolute container path '${target}' does not exist`);
        }
      } else {
        target = under(config.directory, path);
        if (!target.startsWith(`${config.directory}/`)) {
          throw new Error(`Container path '${path}' of a secret volume leaves the sandbox`);
        }
      }
      planned.push({ secret, containerPath: path, target, readOnly: volume.mode === "RO" });
    }
    const resolver = this.o.resolver as SecretResolver;
    const resolved = await Promise.all(planned.map((p) => resolver.resolve(p.secret)));

    const hostDir = hostSecretDirectory(this.o.runtimeDir, config.containerId);
    await this.mountRamfs(hostDir);
    const sandboxRoot = join(config.directory, `${SECRET_DIRECTORY}-${randomUUID()}`);
    try {
      await mkdir(sandboxRoot, { recursive: true, mode: 0o755 });
    } catch (e) {
      throw new Error(
        `Failed to create sandbox secret root directory at '${sandboxRoot}': ${(e as Error).message}`,
      );
    }
    // The ramfs shows at the sandbox root inside the container only.
    const mounts: BindMount[] = [{ source: hostDir, target: sandboxRoot, readOnly: false }];
    for (const [i, p] of planned.entries()) {
      const data = resolved[i] as Buffer;
      if (!isAbsolute(p.containerPath)) {
        // The mount point: an empty file in the sandbox.
        try {
          await mkdir(dirname(p.target), { recursive: true });
        } catch (e) {
          throw new Error(
            `Failed to create the target mount file directory at '${dirname(p.target)}': ${(e as Error).message}`,
          );
        }
        try {
          if (!existsSync(p.target)) await writeFile(p.target, "", { flag: "a" });
        } catch (e) {
          throw new Error(
            `Failed to create the target mount file at '${p.target}': ${(e as Error).message}`,
          );
        }
      }
      const hostFile = under(hostDir, p.containerPath);
      try {
        await mkdir(dirname(hostFile), { recursive: true, mode: 0o755 });
        await writeFile(hostFile, data, { mode: 0o644 });
      } catch (e) {
        throw new Error(`Error writing secret to '${hostFile}': ${(e as Error).message}`);
      }
      mounts.push({
        source: under(sandboxRoot, p.containerPath),
        target: inImage ? p.containerPath : p.target,
        readOnly: p.readOnly,
        ...(inImage ? { inImage: true } : {}),
      });
    }
    return { mountNamespace: true, mounts };
  }

  override async cleanup(containerId: string): Promise<void> {
    await this.removeHostDirectory(
      hostSecretDirectory(this.o.runtimeDir, containerId),
      await this.mountTargets(),
    );
  }

  /**
   * After an agent restart: the secrets of containers that ended while it
   * was down go. A nested container's directory stays while its top-level
   * container lives (nested containers recover one at a time).
   */
  override async recover(containers: ReadonlyMap<string, number>): Promise<void> {
    const alive = new Set([...containers.keys()].map((id) => secretDirectoryName(id)));
    const root = join(this.o.runtimeDir, SECRET_DIRECTORY);
    const mounts = await this.mountTargets();
    for (const name of await readdir(root).catch(() => [] as string[])) {
      const top = name.split(".")[0] ?? name;
      if (alive.has(name) || alive.has(top)) continue;
      await this.removeHostDirectory(join(root, name), mounts);
    }
  }

  private async mountRamfs(dir: string): Promise<void> {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new Error(`Failed to create container directory at '${dir}': ${(e as Error).message}`);
    }
    if ((await this.mountTargets()).has(dir)) return;
    const r = await this.o.run("mount", ["-t", "ramfs", "-o", "mode=0700", "ramfs", dir]);
    if (r.code !== 0) throw new Error(`Failed to mount a ramfs at '${dir}': ${r.output.trim()}`);
  }

  private async removeHostDirectory(dir: string, mounts: ReadonlySet<string>): Promise<void> {
    if (mounts.has(dir)) {
      const r = await this.o.run("umount", [dir]);
      if (r.code !== 0 && !/not mounted/.test(r.output)) {
        throw new Error(`Failed to unmount '${dir}': ${r.output.trim()}`);
      }
    }
    const exists = await stat(dir).then(
      () => true,
      () => false,
    );
    if (!exists) return;
    try {
      await rm(dir, { recursive: true, force: true });
    } catch (e) {
      throw new Error(`Failed to remove the container directory '${dir}': ${(e as Error).message}`);
    }
  }

  /** Mount points on the host (from /proc/self/mounts; octal escapes decoded). */
  private async mountTargets(): Promise<Set<string>> {
    const text = await readFile("/proc/self/mounts", "utf8").catch(() => "");
    return new Set(
      text
        .split("\n")
        .map((line) => line.split(" ")[1] ?? "")
        .filter((t) => t !== "")
        .map((t) =>
          t.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))),
        ),
    );
  }
}
