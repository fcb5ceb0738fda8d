/**
 * SANDBOX_PATH volumes (Mesos' `volume/sandbox_path`): a directory (or
 * file) of the container's own sandbox (`SELF`, also a legacy relative
 * `host_path`) or of its parent's (`PARENT`, nested containers only) made
 * visible at the volume's `container_path`. The source is created when
 * missing, owned like the sandbox it is in; never through a link that
 * leads out of the sandbox (see {@link ensureSandboxPathSource}).
 *
 * With `filesystem/linux` the volume is bind-mounted (filesystem-linux.ts
 * uses {@link sandboxPathOf}); `RO` is honoured and `container_path` may be
 * absolute. Without it, `volume/sandbox_path` links the source at a relative
 * `container_path` in the sandbox (this isolator), as Mesos does: a symlink
 * cannot be made read-only, so `RO` volumes are writable (a warning is
 * logged), and absolute paths and `SELF` volumes are refused. The checks and
 * their texts are Mesos'.
 */
import { type FileHandle, lstat, open, readlink, symlink } from "node:fs/promises";
import { isAbsolute, join, normalize, relative, sep } from "node:path";
import type { Volume } from "../../../common/protocol/generated/mesos-v1.js";
import {
  DIRECTORY_FLAGS,
  type NotADirectory,
  openDirectoryBelow,
  openEntryBelow,
  WalkError,
} from "../sandbox-no-follow.js";
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

/** As many links as the kernel follows in one path lookup. */
const MAX_LINKS = 40;

const codeOf = (e: unknown): string | undefined => (e as NodeJS.ErrnoException).code;

/** A symbolic link met on the way to the source (`at`: the names up to and including it). */
interface LinkOnTheWay extends NonNullable<NotADirectory["link"]> {
  at: string[];
}

/**
 * Creates a missing source as a directory owned by the owner of the sandbox
 * it is in (an existing one is left as it is: it may be someone else's).
 *
 * The sandbox is the task's: its user may put links anywhere in it and
 * swap a directory for a link at any moment, and the agent is root. So the
 * path is walked from the open sandbox one name at a time without following
 * links (`/proc/self/fd/<fd>/<name>`), missing directories are made in the
 * directory held open and the source is chowned on its open handle (not by
 * name, which the task could have pointed at /etc/shadow meanwhile). A link
 * met on the way is resolved by walking its target again from the sandbox
 * when it stays inside it; one that leads out is refused, unless the agent
 * made it (a persistent volume linked into the sandbox) and the source
 * already exists there: nothing is ever created through such a link.
 */
export async function ensureSandboxPathSource(sp: SandboxPathSource): Promise<void> {
  await (await openSandboxPathSource(sp, true)).close();
}

/**
 * Opens the source as {@link ensureSandboxPathSource} finds it (making it
 * when `create`, else a missing one is an error): a directory, or an O_PATH
 * handle of a file. The bind mount is made from this handle
 * (sandbox-mount-main.ts, inside the container's mount namespace), so what
 * is mounted is what was checked, whatever the task renames meanwhile.
 * Below the agent's own link the names are walked without links too.
 */
export async function openSandboxPathSource(
  sp: SandboxPathSource,
  create: boolean,
): Promise<FileHandle> {
  const path = relative(sp.root, sp.source);
  let top: FileHandle;
  try {
    top = await open(sp.root, DIRECTORY_FLAGS);
  } catch (e) {
    throw new Error(`Failed to open the sandbox '${sp.root}': ${(e as Error).message}`);
  }
  let found: FileHandle | undefined;
  try {
    const owner = await top.stat();
    let names = path === "" ? [] : path.split(sep);
    for (let links = 0; ; links++) {
      const link = await walkToSource(top, names, owner, sp, create);
      if (!("at" in link)) {
        found = link;
        return found;
      }
      if (links === MAX_LINKS) {
        throw new Error(`Path '${path}' in SANDBOX_PATH volume has too many symbolic links`);
      }
      // The path the link leads to, spelled from the sandbox (lexically:
      // every directory before it was opened without following a link).
      const rest = names.slice(link.at.length);
      const linked = normalize(
        isAbsolute(link.content)
          ? link.content
          : join(sp.root, ...link.at.slice(0, -1), link.content),
      );
      const inside = relative(sp.root, join(linked, ...rest));
      if (inside !== ".." && !inside.startsWith(`..${sep}`) && !isAbsolute(inside)) {
        names = inside === "" ? [] : inside.split(sep);
        continue;
      }
      const through = join(sp.root, ...link.at);
      if (!link.agents) {
        throw new Error(
          `Path '${path}' in SANDBOX_PATH volume leads out of the ${sp.type === "SELF" ? "" : "parent's "}sandbox through the symbolic link '${through}'`,
        );
      }
      return await openBeyondAgentLink(linked, rest, path, through);
    }
  } finally {
    if (found !== top) await top.close();
  }
}

/**
 * Opens `rest` below `linked`, where the agent's own link in the sandbox
 * leads (a persistent volume, whose contents the task may change too):
 * nothing is made there, and no link is followed.
 */
async function openBeyondAgentLink(
  linked: string,
  rest: readonly string[],
  path: string,
  through: string,
): Promise<FileHandle> {
  const missing = () =>
    new Error(
      `Path '${path}' in SANDBOX_PATH volume does not exist beyond the link '${through}', and nothing is created through a link`,
    );
  let top: FileHandle;
  try {
    top = await open(linked, DIRECTORY_FLAGS);
  } catch {
    throw missing();
  }
  let found: FileHandle | undefined;
  try {
    const walked = await openEntryBelow(top, rest, false).catch(() => {
      throw missing();
    });
    if ("stopped" in walked) {
      throw new Error(
        `Path '${path}' in SANDBOX_PATH volume meets '${join(linked, ...rest.slice(0, walked.stopped.at + 1))}' beyond the link '${through}', ${walked.stopped.link === undefined ? "not a directory" : "a symbolic link"}`,
      );
    }
    found = walked.entry;
    return found;
  } finally {
    if (found !== top) await top.close();
  }
}

/**
 * Opens `names` one below the other from `top` without following links,
 * making the missing ones when `create`; the last is the source: chowned to
 * `owner` when made here, left as it is (directory or file) when there
 * already, and returned open (`top` itself when `names` is empty). Returns
 * the first symbolic link met instead of following it.
 */
async function walkToSource(
  top: FileHandle,
  names: readonly string[],
  owner: { uid: number; gid: number },
  sp: SandboxPathSource,
  create: boolean,
): Promise<LinkOnTheWay | FileHandle> {
  let walked: Awaited<ReturnType<typeof openEntryBelow>>;
  try {
    walked = await openEntryBelow(top, names, create);
  } catch (e) {
    if (!(e instanceof WalkError)) throw e;
    if (e.making) {
      throw new Error(`Failed to create the directory '${sp.source}' in the sandbox: ${e.message}`);
    }
    throw new Error(
      `Failed to open '${names.slice(0, e.at + 1).join("/")}' in the sandbox '${sp.root}': ${codeOf(e.error) ?? e.message}`,
    );
  }
  if ("stopped" in walked) {
    const { at, link } = walked.stopped;
    if (link !== undefined) return { at: names.slice(0, at + 1), ...link };
    throw new Error(
      `Path '${names.slice(0, at + 1).join("/")}' in the SANDBOX_PATH volume's sandbox is not a directory`,
    );
  }
  const { entry, made } = walked;
  try {
    // Only the source itself is given to the sandbox's owner, as Mesos does.
    if (made && entry !== top) await entry.chown(owner.uid, owner.gid);
  } catch (e) {
    await entry.close();
    throw e;
  }
  return entry;
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
      await linkSource(config.directory, sp.source, target);
    }
    return undefined;
  }
}

/**
 * Links `target` (below `sandbox`) to `source`; a link already there to the
 * same source is kept (a relaunch). The sandbox is the task's: the
 * directories on the way are opened (and made) without following links, and
 * the link is read and made in the directory held open, so a name the task
 * swapped for a link cannot have root make directories or the link elsewhere.
 */
async function linkSource(sandbox: string, source: string, target: string): Promise<void> {
  const fail = (why: string) => new Error(`Failed to symlink '${source}' -> '${target}': ${why}`);
  const names = relative(sandbox, target).split(sep);
  const name = names.pop() as string;
  let top: FileHandle;
  try {
    top = await open(sandbox, DIRECTORY_FLAGS);
  } catch (e) {
    throw fail((e as Error).message);
  }
  let dir: FileHandle | undefined;
  try {
    const walked = await openDirectoryBelow(top, names, true).catch((e: unknown) => {
      throw fail((e as Error).message);
    });
    if ("stopped" in walked) {
      const shown = join(sandbox, ...names.slice(0, walked.stopped.at + 1));
      throw fail(
        `'${shown}' is ${walked.stopped.link === undefined ? "not a directory" : "a symbolic link"}`,
      );
    }
    if (walked.dir !== top) dir = walked.dir;
    const entry = `/proc/self/fd/${walked.dir.fd}/${name}`;
    try {
      if ((await lstat(entry)).isSymbolicLink() && (await readlink(entry)) === source) return;
    } catch {
      // Nothing there yet.
    }
    await symlink(source, entry).catch((e: unknown) => {
      throw fail((e as Error).message);
    });
  } finally {
    await dir?.close();
    await top.close();
  }
}
