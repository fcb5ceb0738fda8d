/**
 * Gives a sandbox and what is in it to the container's user, as `chown -R`
 * would, but the way root must treat a directory its user may change (see
 * sandbox-no-follow.ts): the sandbox is opened from a trusted base down
 * without following links, each directory below through the one held open,
 * and every change is made on the open file. Links are left alone (never
 * what they point at), as are files with more than one link (a hard link
 * the user made to a file that is not theirs).
 */
import { constants as fsConstants } from "node:fs";
import { chown, type FileHandle, open, readdir } from "node:fs/promises";
import { O_PATH } from "./o-path.js";
import { MAX_REMOVAL_DEPTH, openSandbox } from "./sandbox-no-follow.js";

/**
 * Takes any entry, a link itself included, without opening it: a device or
 * a pipe the user put there is never opened, and no read permission is needed.
 */
const ENTRY_FLAGS = O_PATH | fsConstants.O_NOFOLLOW;

/**
 * Chowns the sandbox `directory` (below `base`, opened as
 * {@link openSandbox} does) and everything in it to `ids`.
 */
export async function chownSandboxTree(
  base: string | undefined,
  directory: string,
  ids: { uid: number; gid: number },
): Promise<void> {
  const dir = await openSandbox(base, directory);
  try {
    await chownIn(dir, ids, 0);
  } finally {
    await dir.close();
  }
}

async function chownIn(
  dir: FileHandle,
  ids: { uid: number; gid: number },
  depth: number,
): Promise<void> {
  await dir.chown(ids.uid, ids.gid);
  if (depth >= MAX_REMOVAL_DEPTH) {
    throw new Error(`directories nested deeper than ${MAX_REMOVAL_DEPTH} levels are not chowned`);
  }
  for (const name of await readdir(`/proc/self/fd/${dir.fd}`)) {
    let entry: FileHandle;
    try {
      entry = await open(`/proc/self/fd/${dir.fd}/${name}`, ENTRY_FLAGS);
    } catch (e) {
      // Gone meanwhile: nothing to do.
      if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw e;
    }
    let sub: FileHandle | undefined;
    try {
      // Links, sockets and devices are left alone.
      const st = await entry.stat();
      const held = `/proc/self/fd/${entry.fd}`;
      if (st.isDirectory()) {
        // The very directory taken above (its /proc link, not its name again:
        // O_NOFOLLOW would refuse the /proc link itself).
        sub = await open(held, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
      } else if ((st.isFile() || st.isFIFO()) && st.nlink === 1) {
        // An O_PATH handle takes no fchown; chown of its /proc link changes that very file.
        await chown(held, ids.uid, ids.gid);
      }
    } finally {
      await entry.close();
    }
    if (sub === undefined) continue;
    try {
      await chownIn(sub, ids, depth + 1);
    } finally {
      await sub.close();
    }
  }
}
