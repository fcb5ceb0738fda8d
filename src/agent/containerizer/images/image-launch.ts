/**
 * How a process starts inside a container image: the command task's
 * command wrapped in `chroot` (the command executor itself stays on the
 * host), the executor environment, and, with the `docker/runtime`
 * isolator, the image's own settings: `Env` (under the task's own
 * variables), `WorkingDir`, and `Entrypoint`/`Cmd` when the CommandInfo
 * has `shell: false` and no value (Mesos' table: the entrypoint, then the
 * CommandInfo's arguments or else the image's Cmd). Also where volumes go
 * in a container with an image, and volumes whose source is an image.
 */
import { mkdir, realpath, stat, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, normalize, relative } from "node:path";
import type { CommandInfo, Volume } from "../../../common/protocol/generated/mesos-v1.js";
import { volumeSource, volumeTarget } from "../isolators/filesystem-linux.js";
import type { BindMount, LaunchPreparation } from "../isolators/isolator.js";
import {
  CAPSH,
  type ContainerCapabilities,
  capshArguments,
} from "../isolators/linux-capabilities.js";
import { sandboxPathOf } from "../isolators/volume-sandbox-path.js";
import { IMAGE_SANDBOX, shellQuote } from "../launch-shim.js";
import type { ImageConfig } from "./docker-store.js";
import type { Provisioner } from "./provisioner.js";

/** The image settings `docker/runtime` applies. */
export type ImageRuntime = ImageConfig;

/**
 * Why `docker/runtime` cannot build a launch command from `command` and the
 * image (Mesos' rules: a shell command needs a value; without a value the
 * image must have an Entrypoint or a Cmd), or undefined when it can.
 */
export function runtimeCommandError(
  command: CommandInfo,
  runtime: ImageRuntime,
): string | undefined {
  if (command.shell ?? true) {
    return command.value === undefined
      ? "Shell specified but no command value provided"
      : undefined;
  }
  if (command.value !== undefined) return undefined;
  const found = runtimeArgv(command, runtime);
  return "error" in found ? found.error : undefined;
}

/** The image's Env as name/value pairs; entries without `=` are skipped, as Mesos does. */
export function imageEnv(runtime: ImageRuntime | undefined): [string, string][] {
  const out: [string, string][] = [];
  for (const entry of runtime?.Env ?? []) {
    const at = entry.indexOf("=");
    if (at <= 0) continue;
    const name = entry.slice(0, at);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) continue;
    out.push([name, entry.slice(at + 1)]);
  }
  return out;
}

/** The argv from the image's Entrypoint/Cmd for a CommandInfo without a value, or an error. */
export function runtimeArgv(
  command: CommandInfo,
  runtime: ImageRuntime,
): { argv: string[] } | { error: string } {
  const entrypoint = runtime.Entrypoint ?? [];
  const cmd = runtime.Cmd ?? [];
  const args = command.arguments ?? [];
  if (entrypoint.length > 0) return { argv: [...entrypoint, ...(args.length > 0 ? args : cmd)] };
  const [program, ...rest] = cmd;
  if (program !== undefined) return { argv: [program, ...(args.length > 0 ? args : rest)] };
  return { error: "No executable is found" };
}

/** `export K=V` for the image's Env entries the task does not set itself. */
function exportsOf(runtime: ImageRuntime | undefined, command: CommandInfo): string {
  const own = new Set((command.environment?.variables ?? []).map((v) => v.name));
  const parts: string[] = [];
  for (const [name, value] of imageEnv(runtime)) {
    if (own.has(name)) continue;
    parts.push(`export ${name}=${shellQuote(value)}; `);
  }
  return parts.join("");
}

/** How a command task enters its image besides the root filesystem. */
export interface ImageTaskOptions {
  /** Where the sandbox is mounted inside (`--sandbox_directory`). */
  sandbox?: string;
  /** `linux/capabilities`' sets for the task: applied with capsh, which also does the chroot. */
  capabilities?: ContainerCapabilities | undefined;
  /** capsh's path (tests); the one found on the agent otherwise. */
  capsh?: string | undefined;
}

/**
 * A command task's command run in an image's root filesystem: `chroot`
 * (or, with capabilities, `capsh`), then (inside) a shell that applies the
 * image's runtime settings, moves into the working directory (the sandbox
 * mount unless the image names one), sets MESOS_SANDBOX and execs the
 * task's own command.
 */
export function chrootTaskCommand(
  command: CommandInfo,
  rootfs: string,
  chroot: string,
  runtime?: ImageRuntime,
  options: ImageTaskOptions = {},
): CommandInfo {
  const sandbox = options.sandbox ?? IMAGE_SANDBOX;
  const workDir =
    runtime?.WorkingDir !== undefined && runtime.WorkingDir !== "" ? runtime.WorkingDir : sandbox;
  const enter = `${exportsOf(runtime, command)}cd ${shellQuote(workDir)} && MESOS_SANDBOX=${shellQuote(sandbox)} exec`;
  let program = chroot;
  let entry = ["chroot", rootfs, "/bin/sh"];
  if (options.capabilities !== undefined) {
    const capsh = options.capsh ?? CAPSH;
    if (capsh === undefined) {
      throw new Error("Capabilities for containers with an image need capsh (libcap2-bin)");
    }
    program = capsh;
    entry = ["capsh", ...capshArguments({ rootfs, capabilities: options.capabilities })];
  }
  let args: string[];
  if (command.shell ?? true) {
    args = [...entry, "-c", `${enter} /bin/sh -c "$0"`, command.value ?? ""];
  } else {
    let argv: string[];
    if (command.value === undefined && runtime !== undefined) {
      const found = runtimeArgv(command, runtime);
      argv =
        "argv" in found
          ? found.argv
          : ["/bin/sh", "-c", `echo ${shellQuote(found.error)} >&2; exit 1`];
    } else {
      argv = [command.value ?? "", ...(command.arguments ?? []).slice(1)];
    }
    args = [...entry, "-c", `${enter} "$@"`, "mesos-task", ...argv];
  }
  const wrapped: CommandInfo = { shell: false, value: program, arguments: args };
  if (command.environment !== undefined) wrapped.environment = command.environment;
  return wrapped;
}

/** The image's Env as variables for an executor running inside it (the task's win). */
export function imageVariables(
  runtime: ImageRuntime | undefined,
  executorEnvironment: Readonly<Record<string, string>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of imageEnv(runtime)) {
    if (name.startsWith("MESOS_")) continue;
    // Variables the framework set for the executor win; the host's PATH does not.
    if (name in executorEnvironment && name !== "PATH") continue;
    out[name] = value;
  }
  return out;
}

/**
 * The environment an executor inside an image is started with: MESOS_SANDBOX
 * is where its sandbox is mounted in there (`--sandbox_directory`).
 */
export function imageEnvironment(
  environment: Readonly<Record<string, string>>,
  sandbox: string = IMAGE_SANDBOX,
): Record<string, string> {
  return { ...environment, MESOS_SANDBOX: sandbox };
}

/**
 * The bind mount of a container's sandbox at `sandboxDirectory` inside its
 * image (`--sandbox_directory`), its mount point created in the image. The
 * mount point is resolved as it would be inside the image, so that a
 * symlink in the image cannot move the mount out of the root filesystem.
 */
export async function sandboxMount(
  sandbox: string,
  rootfs: string,
  sandboxDirectory: string = IMAGE_SANDBOX,
): Promise<BindMount> {
  return {
    source: sandbox,
    target: await sandboxInRootfs(rootfs, sandboxDirectory),
    readOnly: false,
  };
}

/** The host path of the sandbox mount point in `rootfs` (created), or an error. */
async function sandboxInRootfs(rootfs: string, sandboxDirectory: string): Promise<string> {
  const target = await ensureInRootfs(rootfs, normalize(sandboxDirectory));
  if (target === undefined) {
    throw new Error(
      `The sandbox directory '${sandboxDirectory}' leaves the image's root filesystem`,
    );
  }
  return target;
}

/**
 * Resolves `path` inside `rootfs` on the host (symlinks in the image are
 * followed, as they would be inside the chroot, but never out of it) and
 * creates what is missing: a directory, or an empty file when `file`.
 * Returns the host path, or undefined when the path leads out of the rootfs.
 */
export async function ensureInRootfs(
  rootfs: string,
  path: string,
  file = false,
): Promise<string | undefined> {
  const root = await realpath(rootfs);
  const target = join(rootfs, path);
  let existing = target;
  let resolved: string | undefined;
  while (resolved === undefined) {
    try {
      resolved = await realpath(existing);
    } catch {
      const parent = dirname(existing);
      if (parent === existing) return undefined;
      existing = parent;
    }
  }
  const host = join(resolved, relative(existing, target));
  const inside = relative(root, host);
  if (inside.startsWith("..") || isAbsolute(inside)) return undefined;
  if (existing !== target) {
    if (file) {
      await mkdir(dirname(host), { recursive: true });
      await writeFile(host, "", { flag: "a" });
    } else {
      await mkdir(host, { recursive: true });
    }
  }
  return host;
}

/** Creates the image's WorkingDir in `rootfs` when the image lacks it, as Mesos' launcher does. */
export async function ensureWorkingDir(rootfs: string, workingDir: string): Promise<void> {
  await ensureInRootfs(rootfs, workingDir).catch(() => undefined);
}

/**
 * The volume mounts of a container with an image, as Mesos places them: an
 * absolute `container_path` inside the image's rootfs (its mount point
 * created there), a relative one under the sandbox mount in the image at
 * `sandboxDirectory` (filesystem/linux mounted it in the host sandbox,
 * which the sandbox bind mount does not carry along). `parentSandbox`: a
 * nested container's parent's sandbox, where PARENT sandbox paths are.
 */
export async function imageVolumeMounts(
  volumes: readonly Volume[],
  sandbox: string,
  rootfs: string,
  sandboxDirectory: string = IMAGE_SANDBOX,
  parentSandbox?: string,
): Promise<BindMount[]> {
  const mounts: BindMount[] = [];
  for (const volume of volumes) {
    if (volume.source?.type === "SECRET" || volume.image !== undefined) continue;
    const source = volumeSource(volume, sandbox, parentSandbox);
    if (typeof source !== "string") throw new Error(source.error);
    const readOnly = volume.mode === "RO";
    // A SANDBOX_PATH source is mounted from the file the launch opens, not by name.
    const sp = sandboxPathOf(volume, sandbox, parentSandbox, true);
    const fromSandbox = sp !== undefined && !("error" in sp) ? { sandboxPath: sp } : {};
    if (!isAbsolute(volume.container_path)) {
      const target = volumeTarget(volume, sandbox);
      if (typeof target !== "string") throw new Error(target.error);
      const rel = relative(sandbox, target);
      const inside = await sandboxInRootfs(rootfs, sandboxDirectory);
      // In the sandbox mounted there by then: opened from it without following links.
      mounts.push({
        source,
        target: join(inside, rel),
        readOnly,
        ...fromSandbox,
        targetSandbox: inside,
      });
      continue;
    }
    let isFile = false;
    try {
      isFile = !(await stat(source)).isDirectory();
    } catch {
      throw new Error(`volume source '${source}' does not exist`);
    }
    const target = await ensureInRootfs(rootfs, normalize(volume.container_path), isFile);
    if (target === undefined) {
      throw new Error(
        `container_path '${volume.container_path}' leaves the image's root filesystem`,
      );
    }
    mounts.push({ source, target, readOnly, ...fromSandbox });
  }
  return mounts;
}

/**
 * Volumes whose source is an image (Mesos' volume/image isolator): each
 * image gets a root filesystem of its own from the provisioner, mounted at
 * the volume's `container_path`: inside the container's image (absolute),
 * under the sandbox (relative; in an image, under its sandbox mount at
 * `sandboxDirectory`), or, without an image, at an absolute host path that
 * must exist.
 */
export async function imageVolumePreparation(
  provisioner: Pick<Provisioner, "provision">,
  containerId: string,
  volumes: readonly Volume[],
  sandbox: string,
  rootfs: string | undefined,
  sandboxDirectory: string = IMAGE_SANDBOX,
): Promise<BindMount[]> {
  const mounts: BindMount[] = [];
  for (const volume of volumes) {
    const image = volume.image;
    if (image === undefined) continue;
    if (image.type !== "DOCKER" || image.docker?.name === undefined) {
      throw new Error(`Only DOCKER images are supported (got ${image.type})`);
    }
    let target: string;
    const path = volume.container_path;
    if (isAbsolute(path)) {
      if (rootfs !== undefined) {
        const inside = await ensureInRootfs(rootfs, normalize(path));
        if (inside === undefined) {
          throw new Error(`container_path '${path}' leaves the image's root filesystem`);
        }
        target = inside;
      } else {
        target = normalize(path);
        try {
          await stat(target);
        } catch {
          throw new Error(`Absolute container path '${target}' does not exist`);
        }
      }
    } else {
      const inSandbox = volumeTarget(volume, sandbox);
      if (typeof inSandbox !== "string") throw new Error(inSandbox.error);
      // The mount point is made in the host sandbox: the sandbox mount shows it in the image.
      await mkdir(inSandbox, { recursive: true });
      target =
        rootfs === undefined
          ? inSandbox
          : join(await sandboxInRootfs(rootfs, sandboxDirectory), relative(sandbox, inSandbox));
    }
    const provisioned = await provisioner.provision(
      containerId,
      image.docker.name,
      image.cached ?? true,
    );
    mounts.push({ source: provisioned.path, target, readOnly: volume.mode === "RO" });
  }
  return mounts;
}

/**
 * Moves the mounts isolators marked `inImage` (their target a container
 * path) out of `preparations` and returns them placed in the image, for the
 * caller to add last (after the sandbox mount, which would hide them): an
 * absolute path inside `rootfs` (a file mount point created there, never
 * through a symlink out of it), a relative one under the sandbox mount at
 * `sandboxDirectory` (its mount point was made in the host sandbox).
 */
export async function placeImageMounts(
  preparations: readonly (LaunchPreparation | undefined)[],
  rootfs: string,
  sandboxDirectory: string = IMAGE_SANDBOX,
): Promise<LaunchPreparation> {
  const placed: BindMount[] = [];
  for (const p of preparations) {
    if (p?.mounts === undefined || !p.mounts.some((m) => m.inImage === true)) continue;
    const marked = p.mounts.filter((m) => m.inImage === true);
    p.mounts = p.mounts.filter((m) => m.inImage !== true);
    for (const m of marked) {
      let target: string | undefined;
      if (isAbsolute(m.target)) {
        target = await ensureInRootfs(rootfs, normalize(m.target), true);
        if (target === undefined) {
          throw new Error(`container_path '${m.target}' leaves the image's root filesystem`);
        }
      } else {
        target = join(await sandboxInRootfs(rootfs, sandboxDirectory), normalize(m.target));
      }
      placed.push({ source: m.source, target, readOnly: m.readOnly });
    }
  }
  return placed.length === 0 ? {} : { mountNamespace: true, mounts: placed };
}
