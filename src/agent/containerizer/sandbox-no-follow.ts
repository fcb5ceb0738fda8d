/**
 * What the agent (root, with --switch_user) does to files inside sandboxes
 * the task's user may change: that user can put a symbolic link, a named
 * pipe or a hard link under any name there, and swap a directory for a link
 * at any moment. So root never looks a name up through the user's
 * directories by its full path twice: it opens each directory from one it
 * already holds (`/proc/self/fd/<fd>/<name>`, no link followed), and
 * checks what it opened on the open file (fstat), not on the name.
 * {@link openDirectoryBelow} is that walk for every caller (sandboxes of
 * nested containers, SANDBOX_PATH volume sources and links).
 *
 * Keep the imports to Node's own (and o-path.ts): the launcher helper loads this file.
 */
import { randomUUID } from "node:crypto";
import { closeSync, constants as fsConstants, fstatSync, openSync } from "node:fs";
import {
  type FileHandle,
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  rename,
  rmdir,
  unlink,
} from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";
import { O_PATH } from "./o-path.js";

/**
 * An output file that is not there yet: made by this very open, so nothing
 * the task's user put there (a link, a pipe, a device node) is opened.
 */
const NEW_OUTPUT_FLAGS =
  fsConstants.O_WRONLY |
  fsConstants.O_APPEND |
  fsConstants.O_CREAT |
  fsConstants.O_EXCL |
  fsConstants.O_NOFOLLOW |
  fsConstants.O_NOCTTY;

/**
 * What is already at a name: an O_PATH handle, so no device's or pipe's open
 * runs (a tape rewinding, a reader's open returning) before its type is
 * checked on the handle; the name's own link, not what it points at.
 */
const LOOK_FLAGS = O_PATH | fsConstants.O_NOFOLLOW;

/** How often a name made and removed again by the user in between is tried again. */
const NAME_TRIES = 3;

/** A directory, opened only if the name is one (not a link to one). */
export const DIRECTORY_FLAGS =
  fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW;

/** A file mount point that is not there yet: made by this very open (see NEW_OUTPUT_FLAGS). */
const NEW_MOUNT_POINT_FLAGS =
  fsConstants.O_WRONLY |
  fsConstants.O_CREAT |
  fsConstants.O_EXCL |
  fsConstants.O_NOFOLLOW |
  fsConstants.O_NOCTTY;

/** An agent's named pipe: opened without following a link, without waiting. */
const FIFO_FLAGS = fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK;

/**
 * Opens where a process's output goes, checking what the task's user may
 * have put at `path`: the sandbox's own regular file, or a named pipe of the
 * agent's (the container logger's or a session's); either with one link
 * (not another file hard-linked there). `kind` narrows it to one of the
 * two; unset, both are taken. A missing file is made by the open itself;
 * anything already there is first taken as an O_PATH handle and checked on
 * it, and only what passes is opened, through that handle: a device node,
 * socket or pipe of the user's is never opened. The agent's pipe is opened
 * without waiting first (a pipe nobody reads is refused), then again,
 * blocking, as the process expects its output to be (the agent holds it
 * open for reading until the launch is over).
 */
export function openSandboxOutput(path: string, kind?: "file" | "pipe"): number {
  const refused = () =>
    new Error(
      kind === "pipe"
        ? `'${path}' is not the container logger's pipe`
        : `'${path}' is not a regular file with a single link`,
    );
  for (let tries = 1; ; tries++) {
    if (kind !== "pipe") {
      try {
        return openSync(path, NEW_OUTPUT_FLAGS, 0o644);
      } catch (e) {
        if (codeOf(e) !== "EEXIST") throw e;
      }
    }
    let handle: number;
    try {
      handle = openSync(path, LOOK_FLAGS);
    } catch (e) {
      if (codeOf(e) !== "ENOENT") throw e;
      if (kind === "pipe") throw refused();
      // Removed again since the exclusive open found it: made afresh.
      if (tries < NAME_TRIES) continue;
      throw e;
    }
    try {
      return openChecked(handle, kind, refused);
    } finally {
      closeSync(handle);
    }
  }
}

/** Opens the output `handle` (O_PATH) holds when it passes openSandboxOutput's checks. */
function openChecked(
  handle: number,
  kind: "file" | "pipe" | undefined,
  refused: () => Error,
): number {
  const st = fstatSync(handle);
  // Through the handle: the very file checked, whatever the name is now.
  const checked = `/proc/self/fd/${handle}`;
  if (st.isFile() && kind !== "pipe") {
    if (st.nlink !== 1) throw refused();
    return openSync(checked, fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_NOCTTY);
  }
  if (!st.isFIFO() || kind === "file" || !ownSingleLink(st)) throw refused();
  let waitless: number;
  try {
    waitless = openSync(checked, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
  } catch (e) {
    // Nobody reads it (the agent's end is gone).
    throw codeOf(e) === "ENXIO" ? refused() : e;
  }
  try {
    return openSync(`/proc/self/fd/${waitless}`, fsConstants.O_WRONLY);
  } finally {
    closeSync(waitless);
  }
}

/** Made by this process's user (the agent), and not hard-linked elsewhere. */
function ownSingleLink(st: { uid: number; nlink: number }): boolean {
  return st.nlink === 1 && st.uid === process.getuid?.();
}

/**
 * Opens the named pipe the agent just made at `path` (`flags`: the access
 * mode, O_RDONLY / O_WRONLY / O_RDWR), refusing anything else the task's
 * user may have swapped in for it: a link (to /etc/shadow, say: the read
 * end goes to a process of the user's), another file, a pipe of the user's.
 * Never waits for the other end. Throws a one-line Error (naming the pipe
 * `shown`, when `path` is spelled through /proc/self/fd).
 */
export function openOwnFifo(path: string, flags: number, shown = path): number {
  let fd: number;
  try {
    fd = openSync(path, flags | FIFO_FLAGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP") throw new Error(`'${shown}' is not the agent's named pipe`);
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFIFO() || !ownSingleLink(st)) {
      throw new Error(`'${shown}' is not the agent's named pipe`);
    }
    return fd;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** The names from `base` down to `directory`; throws unless it lies strictly below. */
function namesBelow(base: string, directory: string): string[] {
  const rel = relative(base, directory);
  if (rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new Error(`The sandbox path '${directory}' is not below '${base}'`);
  }
  return rel.split(sep);
}

const inside = (dir: FileHandle, name: string): string => `/proc/self/fd/${dir.fd}/${name}`;

const codeOf = (e: unknown): string | undefined => (e as NodeJS.ErrnoException).code;

/** Where {@link openDirectoryBelow} stopped: the name at index `at` is not a directory. */
export interface NotADirectory {
  at: number;
  /** Set when that name is a symbolic link (not followed). */
  link?: {
    content: string;
    /** Made by the agent (its user's, one link), such as a persistent volume's link. */
    agents: boolean;
  };
}

/**
 * An open (or, with `create`, a mkdir) during {@link openDirectoryBelow}
 * failed on the name at index `at`; `error` is the system's error, as thrown.
 */
export class WalkError extends Error {
  constructor(
    readonly at: number,
    readonly making: boolean,
    readonly error: unknown,
  ) {
    super((error as Error).message);
  }
}

/**
 * The one way root goes down a task's directories: opens `names` one below
 * the other from `top` (held open by the caller), each through the one above
 * (`/proc/self/fd/<fd>/<name>`), following no link. With `create` a missing
 * directory is made (root's, 0755) in the directory held open; `made` says
 * whether the last name was made by this call. A name that is not a
 * directory (a link, a file, a pipe) ends the walk as `stopped`; a failed
 * open or mkdir throws a {@link WalkError}. The directory returned is `top`
 * itself when `names` is empty; any other the caller closes.
 */
export async function openDirectoryBelow(
  top: FileHandle,
  names: readonly string[],
  create: boolean,
): Promise<{ dir: FileHandle; made: boolean } | { stopped: NotADirectory }> {
  // `..`, `.` or a slash would walk out of `top` or through a link unchecked.
  const odd = names.find((n) => n === "" || n === "." || n === ".." || n.includes("/"));
  if (odd !== undefined) {
    throw new Error(`'${JSON.stringify(odd).slice(1, -1)}' is not a name in a sandbox`);
  }
  let dir = top;
  let made = false;
  try {
    for (let at = 0; at < names.length; at++) {
      const entry = inside(dir, names[at] as string);
      made = false;
      let tried = false;
      let next: FileHandle | undefined;
      while (next === undefined) {
        try {
          next = await open(entry, DIRECTORY_FLAGS);
        } catch (e) {
          const code = codeOf(e);
          if (code === "ENOENT" && create && !tried) {
            // Made (or found made meanwhile) once: gone again is an error.
            tried = true;
            made = await mkdir(entry, { mode: 0o755 }).then(
              () => true,
              (m: unknown) => {
                if (codeOf(m) === "EEXIST") return false;
                throw new WalkError(at, true, m);
              },
            );
            continue;
          }
          if (code !== "ELOOP" && code !== "ENOTDIR") throw new WalkError(at, false, e);
          return { stopped: await notADirectory(entry, at) };
        }
      }
      if (dir !== top) await dir.close();
      dir = next;
    }
    const result = { dir, made };
    dir = top;
    return result;
  } finally {
    if (dir !== top) await dir.close();
  }
}

/**
 * {@link openDirectoryBelow}, but the last name may also be a file (or a
 * pipe, or a device): it is then opened as an O_PATH handle (good for fstat
 * and as a bind mount's source or target, never read), still not through a
 * link. `entry` is `top` itself when `names` is empty; any other the caller
 * closes.
 */
export async function openEntryBelow(
  top: FileHandle,
  names: readonly string[],
  create: boolean,
): Promise<{ entry: FileHandle; made: boolean } | { stopped: NotADirectory }> {
  const walked = await openDirectoryBelow(top, names, create);
  if ("dir" in walked) return { entry: walked.dir, made: walked.made };
  const { at, link } = walked.stopped;
  if (link !== undefined || at !== names.length - 1) return walked;
  const parent = await openDirectoryBelow(top, names.slice(0, -1), false);
  if ("stopped" in parent) return parent;
  try {
    const path = inside(parent.dir, names[at] as string);
    const entry = await open(path, O_PATH | fsConstants.O_NOFOLLOW).catch((e: unknown) => {
      throw new WalkError(at, false, e);
    });
    // Swapped for a link since the walk: that is where it stops.
    if (!(await entry.stat()).isSymbolicLink()) return { entry, made: false };
    await entry.close();
    return { stopped: await notADirectory(path, at) };
  } finally {
    if (parent.dir !== top) await parent.dir.close();
  }
}

/** What is at `entry` instead of a directory. */
async function notADirectory(entry: string, at: number): Promise<NotADirectory> {
  let st: Awaited<ReturnType<typeof lstat>>;
  let content: string;
  try {
    st = await lstat(entry);
    if (!st.isSymbolicLink()) return { at };
    content = await readlink(entry);
  } catch (e) {
    throw new WalkError(at, false, e);
  }
  return { at, link: { content, agents: ownSingleLink(st) } };
}

/**
 * Opens the directory `directory` below `base` (a directory only the agent
 * may change), none of the names between a link; makes missing ones when
 * `create`. Throws a one-line Error naming what is not a directory, or the
 * system's error (ENOENT and all) of a failed open or mkdir.
 */
async function walk(
  base: string,
  names: readonly string[],
  create: boolean,
): Promise<{ dir: FileHandle; made: boolean }> {
  const top = await open(base, DIRECTORY_FLAGS);
  let result: Awaited<ReturnType<typeof openDirectoryBelow>>;
  try {
    result = await openDirectoryBelow(top, names, create);
  } catch (e) {
    await top.close();
    throw e instanceof WalkError ? e.error : e;
  }
  if ("dir" in result && result.dir === top) return result;
  await top.close();
  if ("dir" in result) return result;
  const shown = join(base, ...names.slice(0, result.stopped.at + 1));
  throw new Error(
    result.stopped.link !== undefined
      ? `The sandbox path '${shown}' is a symbolic link`
      : `The sandbox path '${shown}' is not a directory`,
  );
}

/**
 * Opens the sandbox `directory` for root to work in through the open
 * directory: from `base` down without following links when given (see
 * {@link makeSandbox}), else `directory` itself, not through a link at its
 * last name (its parents must be root's, as an executor sandbox's are).
 */
export async function openSandbox(
  base: string | undefined,
  directory: string,
): Promise<FileHandle> {
  if (base !== undefined) return (await walk(base, namesBelow(base, directory), false)).dir;
  try {
    return await open(directory, DIRECTORY_FLAGS);
  } catch (e) {
    const code = codeOf(e);
    if (code !== "ELOOP" && code !== "ENOTDIR") throw e;
    const linked = await lstat(directory).then(
      (st) => st.isSymbolicLink(),
      () => false,
    );
    throw new Error(
      `The sandbox path '${directory}' is ${linked ? "a symbolic link" : "not a directory"}`,
    );
  }
}

/**
 * Makes the mount point `target` below `sandbox` (a directory, or an empty
 * file for a file's mount) with the directories on the way (root's, 0755),
 * none of them through a link; whatever else is already there is kept (the
 * mount then says whether it fits). The mount opens it again the same way
 * (sandbox-mount-main.ts).
 */
export async function makeMountPoint(
  sandbox: string,
  target: string,
  directory: boolean,
): Promise<void> {
  const names = namesBelow(sandbox, target);
  if (directory) {
    await (await walk(sandbox, names, true)).dir.close();
    return;
  }
  const last = names.pop() as string;
  const { dir } = await walk(sandbox, names, true);
  const path = inside(dir, last);
  try {
    for (let tries = 1; ; tries++) {
      try {
        await (await open(path, NEW_MOUNT_POINT_FLAGS, 0o644)).close();
        return;
      } catch (e) {
        if (codeOf(e) !== "EEXIST") throw e;
      }
      // Something is there: looked at, never opened (it may be a device node).
      let entry: FileHandle;
      try {
        entry = await open(path, LOOK_FLAGS);
      } catch (e) {
        if (codeOf(e) === "ENOENT" && tries < NAME_TRIES) continue;
        throw e;
      }
      try {
        if ((await entry.stat()).isSymbolicLink()) {
          throw new Error(`The sandbox path '${target}' is a symbolic link`);
        }
      } finally {
        await entry.close();
      }
      // A file, directory, pipe or device is kept: the mount says whether it fits.
      return;
    }
  } finally {
    await dir.close();
  }
}

/**
 * Makes the sandbox `directory` below `base` (a directory only the agent
 * may change, e.g. the executor's sandbox, whose own parents are root's),
 * with the directories between; none of them may be a link. When `owner` is
 * given the sandbox is given to it, on the open directory, and only if it
 * is the agent's or already the owner's (not another user's directory put
 * there). True when this call made the sandbox (only then may the launch
 * that made it remove it: see {@link removeSandbox}).
 */
export async function makeSandbox(
  base: string,
  directory: string,
  owner?: { uid: number; gid: number },
): Promise<boolean> {
  const { dir, made } = await walk(base, namesBelow(base, directory), true);
  try {
    if (owner !== undefined) {
      const st = await dir.stat();
      if (st.uid !== process.getuid?.() && st.uid !== owner.uid) {
        throw new Error(`The sandbox path '${directory}' belongs to another user`);
      }
      await dir.chown(owner.uid, owner.gid);
    }
  } finally {
    await dir.close();
  }
  return made;
}

/**
 * Removes the sandbox `directory` below `base` (see {@link makeSandbox})
 * with everything in it, following no link on the way to it or inside it:
 * each directory is emptied through the open directory, so a directory the
 * user swaps for a link meanwhile is not followed. Nothing there: nothing to
 * do. What cannot be removed does not stop the rest; the first failure is
 * then thrown, one line naming the entry (relative to `directory`).
 */
export async function removeSandbox(base: string, directory: string): Promise<void> {
  const names = namesBelow(base, directory);
  const last = names.pop() as string;
  let parent: FileHandle;
  try {
    parent = (await walk(base, names, false)).dir;
  } catch (e) {
    if (codeOf(e) === "ENOENT") return;
    throw e;
  }
  try {
    await removeIn(parent, last, 0, { moved: 0 }, []);
  } finally {
    await parent.close();
  }
}

/**
 * How deep a removal descends. Each level holds one open directory, so a
 * task's directory at this depth is moved up to the top of the tree being
 * removed (and removed from there), instead of using up the agent's file
 * descriptors (which every other agent operation needs).
 */
export const MAX_REMOVAL_DEPTH = 512;

/** Rounds of moving deep directories up: over 500,000 levels, or a tree still growing. */
const MAX_REMOVAL_ROUNDS = 1024;

/** One removal: its top directory (held open) and how many directories were moved up to it. */
interface Removal {
  top?: FileHandle;
  moved: number;
}

/** `names` (from the removed directory down) as one line, control characters escaped, its end if long. */
function shownEntry(names: readonly string[]): string {
  const shown = JSON.stringify(names.join("/")).slice(1, -1);
  return shown.length <= 300 ? shown : `...${shown.slice(-300)}`;
}

/** The system's error `e` on the entry `names`, in one line without /proc paths. */
function removalError(e: unknown, names: readonly string[]): Error {
  if (e instanceof RemovalError) return e;
  const reason = ((e as Error).message ?? String(e)).replace(/, \w+ '[\s\S]*$/, "");
  return new RemovalError(names.length === 0 ? reason : `${reason} (at '${shownEntry(names)}')`);
}

class RemovalError extends Error {}

async function removeIn(
  dir: FileHandle,
  name: string,
  depth: number,
  removal: Removal,
  names: readonly string[],
): Promise<void> {
  const path = inside(dir, name);
  try {
    const st = await lstat(path).catch((e: unknown) => {
      if (codeOf(e) === "ENOENT") return undefined;
      throw e;
    });
    if (st === undefined) return;
    if (!st.isDirectory()) {
      // A file, pipe or link: the name goes, never what a link points at.
      await unlink(path).catch((e: unknown) => {
        if (codeOf(e) !== "ENOENT") throw e;
      });
      return;
    }
    if (depth >= MAX_REMOVAL_DEPTH && removal.top !== undefined) {
      // Moved as it is (a link swapped in moves as a link), to be removed from the top.
      await rename(path, inside(removal.top, `.removal-${randomUUID()}`));
      removal.moved++;
      return;
    }
  } catch (e) {
    throw removalError(e, names);
  }
  let sub: FileHandle;
  try {
    sub = await open(path, DIRECTORY_FLAGS);
  } catch (e) {
    if (codeOf(e) === "ENOENT") return;
    // Swapped for a link since the lstat: that name goes on the next removal.
    throw removalError(e, names);
  }
  let first: unknown;
  try {
    if (depth === 0) removal.top = sub;
    for (let round = 0; ; round++) {
      const moved = removal.moved;
      let entries: string[];
      try {
        entries = await readdir(`/proc/self/fd/${sub.fd}`);
      } catch (e) {
        throw removalError(e, names);
      }
      for (const entry of entries) {
        // The rest is removed all the same: one entry the user holds on to keeps only itself.
        await removeIn(sub, entry, depth + 1, removal, [...names, entry]).catch((e: unknown) => {
          first ??= e;
        });
      }
      // The top goes round again while directories were moved up to it.
      if (depth > 0 || removal.moved === moved || first !== undefined) break;
      if (round >= MAX_REMOVAL_ROUNDS) {
        throw new RemovalError(
          `directories nested deeper than ${MAX_REMOVAL_DEPTH * MAX_REMOVAL_ROUNDS} levels are not removed`,
        );
      }
    }
  } finally {
    if (depth === 0) delete removal.top;
    await sub.close();
  }
  if (first !== undefined) throw first;
  await rmdir(path).catch((e: unknown) => {
    if (codeOf(e) !== "ENOENT") throw removalError(e, names);
  });
}
