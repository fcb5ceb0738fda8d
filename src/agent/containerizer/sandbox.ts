/**
 * Creating a sandbox: the run directory, the `runs/latest` symlink pointing
 * at it (replaced atomically), and its owner when the executor runs as
 * another user.
 */
import { chown, mkdir, rename, symlink, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { LATEST_SYMLINK } from "../paths.js";

/** Creates `directory` and points `runs/latest` at it. */
export async function createSandbox(directory: string, containerId: string): Promise<void> {
  await mkdir(directory, { recursive: true, mode: 0o755 });
  const runs = dirname(directory);
  const link = join(runs, LATEST_SYMLINK);
  const temp = join(runs, `.${LATEST_SYMLINK}.${containerId}`);
  await unlink(temp).catch(() => undefined);
  // An absolute target, as Mesos links it (tools read the link's target).
  await symlink(directory, temp);
  await rename(temp, link);
}

/** Gives the sandbox (not recursively) to `uid:gid`. */
export async function chownSandbox(directory: string, uid: number, gid: number): Promise<void> {
  await chown(directory, uid, gid);
}
