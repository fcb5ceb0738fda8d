/**
 * The garbage collector's real remover: deletes a directory tree without
 * following symbolic links (persistent volumes are linked into sandboxes,
 * and their data must survive). A tree holding a mount point is left alone
 * (the removal fails): deleting through a mount would destroy what it
 * shows, and mesos-ts does not unmount on the collector's behalf.
 */
import { readFileSync } from "node:fs";
import { lstat, rm } from "node:fs/promises";
import type { RemoveResult } from "./garbage-collector.js";

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

/** Deletes `path` recursively; "missing" when there was nothing there. */
export async function removePath(path: string): Promise<RemoveResult> {
  try {
    await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "missing";
    throw e;
  }
  const mount = mountBeneath(path, readMountPoints());
  if (mount !== undefined) {
    throw new Error(`'${mount}' is a mount point inside it; unmount it to let it be removed`);
  }
  await rm(path, { recursive: true, force: true, maxRetries: 2 });
  return "removed";
}
