/**
 * The garbage collector's real remover. Sandboxes belong to the tasks'
 * users (with --switch_user), who may put a symbolic link anywhere in them
 * and swap a directory for a link while root removes the tree; a nested
 * container's sandbox is even reached through the executor's sandbox. So
 * the tree is removed with `removeSandbox`, from the work directory down
 * through open directories, never following a link (persistent volumes are
 * linked into sandboxes too, and their data must survive). A tree holding
 * a mount point is left alone (the removal fails): deleting through a mount
 * would destroy what it shows, and mesos-ts does not unmount on the
 * collector's behalf.
 */
import { readFileSync } from "node:fs";
import { lstat, realpath } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { removeSandbox } from "../containerizer/sandbox-no-follow.js";
import type { PathRemover, RemoveResult } from "./garbage-collector.js";

/** Mount points (decoded) listed in a `/proc/<pid>/mountinfo` text. */
export function mountPointsOf(mountinfo: string): string[] {
  const points: string[] = [];
  for (const line of mountinfo.split("\n")) {
    const field = line.split(" ")[4];
    if (field === undefined) continue;
    points.push(
      field.replace(/\\([0-7]{3})/g, (_, oct: string) =>
        String.fromCharCode(Number.parseInt(oct, 8)),
      ),
    );
  }
  return points;
}

/** The first mount point at or beneath `path`, if any. */
export function mountBeneath(path: string, mountPoints: readonly string[]): string | undefined {
  const prefix = path.endsWith("/") ? path : `${path}/`;
  return mountPoints.find((m) => m === path || m.startsWith(prefix));
}

function readMountPoints(): string[] {
  try {
    return mountPointsOf(readFileSync("/proc/self/mountinfo", "utf8"));
  } catch {
    return []; // Not Linux: nothing to check.
  }
}

/**
 * Tries made by one removal: a directory the user swaps for a link while
 * it is emptied makes the pass fail (the link is not followed); the next
 * pass finds the link and removes it.
 */
const PASSES = 3;

/**
 * The collector's remover for paths below `workDir` (which only root may
 * change): each path is removed recursively, following no link on the way
 * down from `workDir` or inside the tree. A path elsewhere is refused.
 */
export function sandboxRemover(workDir: string): PathRemover {
  const root = resolve(workDir);
  return (path) => removeBelow(root, path);
}

/** Deletes `path` (below `root`) recursively; "missing" when there was nothing there. */
export async function removeBelow(root: string, path: string): Promise<RemoveResult> {
  const rel = relative(root, resolve(path));
  if (rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new Error(`'${path}' is not inside the work directory '${root}'`);
  }
  // The work directory itself may be reached through an operator's link;
  // nothing below it may.
  let base: string;
  try {
    base = await realpath(root);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "missing";
    throw e;
  }
  const directory = join(base, rel);
  try {
    await lstat(directory);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return "missing";
    throw e;
  }
  const mount = mountBeneath(directory, readMountPoints());
  if (mount !== undefined) {
    throw new Error(`'${mount}' is a mount point inside it; unmount it to let it be removed`);
  }
  await removeTree(base, directory);
  return "removed";
}

/**
 * Removes `directory` (below `base`, a directory only root may change) with
 * everything in it, following no link on the way down or inside: the one
 * way the agent removes a tree a task's user could write in (sandboxes,
 * persistent volumes' data, container root filesystems). `base` itself may
 * be reached through an operator's link. Nothing there: nothing to do.
 */
export async function removeTree(base: string, directory: string): Promise<void> {
  const rel = relative(base, directory);
  let real: string;
  try {
    real = await realpath(base);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  for (let pass = 1; ; pass++) {
    try {
      await removeSandbox(real, join(real, rel));
      return;
    } catch (e) {
      if (pass >= PASSES) throw e;
    }
  }
}
