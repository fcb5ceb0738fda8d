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
import { type FileHandle, open, readdir } from "node:fs/promises";
import { MAX_REMOVAL_DEPTH, openSandbox } from "./sandbox-no-follow.js";

/** Opens any entry but a link, never waiting on a pipe nor taking a terminal. */
const ENTRY_FLAGS =
  fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY;

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
      const code = (e as NodeJS.ErrnoException).code;
      // A link (ELOOP), a socket (ENXIO), or gone meanwhile: left alone.
      if (code === "ELOOP" || code === "ENXIO" || code === "ENOENT") continue;
      throw e;
    }
    try {
      const st = await entry.stat();
      if (st.isDirectory()) await chownIn(entry, ids, depth + 1);
      else if ((st.isFile() || st.isFIFO()) && st.nlink === 1) await entry.chown(ids.uid, ids.gid);
    } finally {
      await entry.close();
    }
  }
}
