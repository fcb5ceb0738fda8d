/**
 * Creating a sandbox: the run directory, the `runs/latest` symlink pointing
 * at it (replaced atomically), and its owner when the executor runs as
 * another user.
 */
import { mkdirSync, renameSync, symlinkSync, unlinkSync } from "node:fs";
import { chown } from "node:fs/promises";
import { dirname, join } from "node:path";
import { LATEST_SYMLINK } from "../paths.js";

/**
 * Creates `directory` and points `runs/latest` at it. Synchronous, as in
 * Mesos' agent: the sandbox exists as soon as the container is known, so a
 * LAUNCH_NESTED_CONTAINER under an executor listed a moment ago finds it.
 */
export function createSandbox(directory: string, containerId: string): void {
  mkdirSync(directory, { recursive: true, mode: 0o755 });
  const runs = dirname(directory);
  const link = join(runs, LATEST_SYMLINK);
  const temp = join(runs, `.${LATEST_SYMLINK}.${containerId}`);
  try {
    unlinkSync(temp);
  } catch {
    // None left by an earlier attempt.
  }
  // An absolute target, as Mesos links it (tools read the link's target).
  symlinkSync(directory, temp);
  renameSync(temp, link);
}

/** Gives the sandbox (not recursively) to `uid:gid`. */
export async function chownSandbox(directory: string, uid: number, gid: number): Promise<void> {
  await chown(directory, uid, gid);
}
