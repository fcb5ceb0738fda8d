/**
 * SANDBOX_PATH volumes (Mesos' `volume/sandbox_path`): a directory (or
 * file) of the container's own sandbox (`SELF`, also a legacy relative
 * `host_path`) or of its parent's (`PARENT`, nested containers only) made
 * visible at the volume's `container_path`. The source is created when
 * missing, owned like the sandbox it is in.
 *
 * With `filesystem/linux` the volume is bind-mounted (filesystem-linux.ts
 * uses {@link sandboxPathOf}); `RO` is honoured and `container_path` may be
 * absolute. Without it, `volume/sandbox_path` links the source at a relative
 * `container_path` in the sandbox (this isolator), as Mesos does: a symlink
 * cannot be made read-only, so `RO` volumes are writable (a warning is
 * logged), and absolute paths and `SELF` volumes are refused. The checks and
 * their texts are Mesos'.
 */
import { chown, lstat, mkdir, readlink, stat, symlink } from "node:fs/promises";
import { dirname, isAbsolute, join, normalize } from "node:path";
import type { Volume } from "../../../common/protocol/generated/mesos-v1.js";
import {
  BaseIsolator,
  type ContainerConfig,
  type IsolatorContext,
  type LaunchPreparation,
} from "./isolator.js";

/** A SANDBOX_PATH volume's source, resolved. */
export interface SandboxPathSource {
  type: "SELF" | "PARENT";
  /** The sandbox the source is in (its owner owns a created source). */
  root: string;
  /** The source on the host. */
  source: string;
}

/**
 * The SANDBOX_PATH source of `volume` (undefined: not a SANDBOX_PATH volume),
 * or why it cannot be used, in Mesos' words. `parentSandbox` is the parent's
 * sandbox of a nested container; `bindMounts` says whether filesystem/linux
 * mounts it (else an absolute container_path cannot be had).
 */
export function sandboxPathOf(
  volume: Volume,
  sandbox: string,
  parentSandbox: string | undefined,
  bindMounts: boolean,
): SandboxPathSource | { error: string } | undefined {
  let type: string | undefined;
  let path: string;
  if (volume.host_path !== undefined && !isAbsolute(volume.host_path)) {
    // The legacy form: a relative host_path is a path in the container's own sandbox.
    type = "SELF";
    path = volume.host_path;
  } else if (volume.source?.type === "SANDBOX_PATH") {
    const sp = volume.source.sandbox_path;
    if (sp === undefined) {
      return { error: "Invalid volume: 'source.sandbox_path' is not set for SANDBOX_PATH volume" };
    }
    if (isAbsolute(sp.path))
      return { error: `Path '${sp.path}' in SANDBOX_PATH volume is absolute` };
    type = sp.type;
    path = sp.path;
  } else {
    return undefined;
  }
  if (!bindMounts && isAbsolute(volume.container_path)) {
    return {
      error:
        "The 'linux' launcher and 'filesystem/linux' isolator must be enabled to support SANDBOX_PATH volume with absolute container path",
    };
  }
  let root: string;
  if (type === "SELF") {
    if (!isAbsolute(volume.container_path)) {
      return { error: "'container_path' is relative for SANDBOX_PATH volume SELF type" };
    }
    root = sandbox;
  } else if (type === "PARENT") {
    if (parentSandbox === undefined) {
      return { error: "SANDBOX_PATH volume PARENT type only works for nested container" };
    }
    root = parentSandbox;
  } else {
    return { error: "Unknown SANDBOX_PATH volume type" };
  }
  const source = normalize(join(root, path));
  if (source !== root && !source.startsWith(`${root}/`)) {
    return {
      error: `Path '${path}' in SANDBOX_PATH volume leaves the ${type === "SELF" ? "" : "parent's "}sandbox`,
    };
  }
  return { type, root, source };
}

/**
 * Creates a missing source as a directory owned by the owner of the sandbox
 * it is in (an existing one is left as it is: it may be someone else's).
 */
export async function ensureSandboxPathSource(sp: SandboxPathSource): Promise<void> {
  try {
    await stat(sp.source);
    return;
  } catch {
    // Missing: created below.
  }
  try {
    await mkdir(sp.source, { recursive: true });
  } catch (e) {
    throw new Error(
      `Failed to create the directory '${sp.source}' in the sandbox: ${(e as Error).message}`,
    );
  }
  const owner = await stat(sp.root);
  await chown(sp.source, owner.uid, owner.gid);
}

/** `volume/sandbox_path` without `filesystem/linux`: SANDBOX_PATH volumes as symlinks. */
export class VolumeSandboxPathIsolator extends BaseIsolator {
  readonly name = "volume/sandbox_path";

  constructor(private readonly context: Pick<IsolatorContext, "logger">) {
    super();
  }

  override async prepare(config: ContainerConfig): Promise<LaunchPreparation | undefined> {
    for (const volume of config.executor.container?.volumes ?? []) {
      const sp = sandboxPathOf(volume, config.directory, config.parentDirectory, false);
      if (sp === undefined) continue;
      if ("error" in sp) throw new Error(sp.error);
      const target = normalize(join(config.directory, volume.container_path));
      if (!target.startsWith(`${config.directory}/`)) {
        throw new Error(`container_path '${volume.container_path}' leaves the sandbox`);
      }
      await ensureSandboxPathSource(sp);
      if (volume.mode === "RO") {
        this.context.logger.warn(
          `Allowing read-write access to read-only volume '${sp.source}' of container ${config.containerId} (a symlink cannot be read-only; use filesystem/linux)`,
        );
      }
      await linkSource(sp.source, target);
    }
    return undefined;
  }
}

/** Links `target` to `source`; a link already there to the same source is kept (a relaunch). */
async function linkSource(source: string, target: string): Promise<void> {
  try {
    if ((await lstat(target)).isSymbolicLink() && (await readlink(target)) === source) return;
  } catch {
    // Nothing there yet.
  }
  try {
    await mkdir(dirname(target), { recursive: true });
    await symlink(source, target);
  } catch (e) {
    throw new Error(`Failed to symlink '${source}' -> '${target}': ${(e as Error).message}`);
  }
}
