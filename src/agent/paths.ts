/**
 * The agent's directory layout under `--work_dir`, as Mesos lays it out
 * (src/slave/paths.cpp), so operators, tools and tutorials find sandboxes and
 * checkpoints where they expect them:
 *
 *   <work_dir>/slaves/<agent>/frameworks/<framework>/executors/<executor>/runs/<container>   (sandbox)
 *   <work_dir>/meta/boot_id
 *   <work_dir>/meta/slaves/<agent>/frameworks/<framework>/executors/<executor>/runs/<container>/pids/forked.pid
 *
 * Pure string functions; nothing here touches the disk.
 */
import { join } from "node:path";

/** The ids that name one executor run. */
export interface RunIds {
  readonly agentId: string;
  readonly frameworkId: string;
  readonly executorId: string;
  readonly containerId: string;
}

/** The `latest` symlink name Mesos uses in `slaves/` and `runs/`. */
export const LATEST_SYMLINK = "latest";

/**
 * True when `id` can be one path segment: non-empty, not `.` or `..`, no `/`
 * and no NUL. The master validates ids too; the agent checks again because
 * ids end up in paths.
 */
export function isSafePathSegment(id: string): boolean {
  return id !== "" && id !== "." && id !== ".." && !id.includes("/") && !id.includes("\0");
}

/** `<root>/meta`: the checkpoint root. */
export function metaRoot(workDir: string): string {
  return join(workDir, "meta");
}

/** `<meta>/boot_id`. */
export function bootIdPath(workDir: string): string {
  return join(metaRoot(workDir), "boot_id");
}

/** `<root>/slaves/<agent>`. */
export function agentPath(root: string, agentId: string): string {
  return join(root, "slaves", agentId);
}

/** `<root>/slaves/<agent>/frameworks/<framework>`. */
export function frameworkPath(root: string, agentId: string, frameworkId: string): string {
  return join(agentPath(root, agentId), "frameworks", frameworkId);
}

/** `.../frameworks/<framework>/executors/<executor>`. */
export function executorPath(
  root: string,
  agentId: string,
  frameworkId: string,
  executorId: string,
): string {
  return join(frameworkPath(root, agentId, frameworkId), "executors", executorId);
}

/** `.../executors/<executor>/runs/<container>` under `root` (work dir or meta dir). */
export function runPath(root: string, ids: RunIds): string {
  return join(
    executorPath(root, ids.agentId, ids.frameworkId, ids.executorId),
    "runs",
    ids.containerId,
  );
}

/** The sandbox of an executor run: `<work_dir>/slaves/.../runs/<container>`. */
export function sandboxPath(workDir: string, ids: RunIds): string {
  return runPath(workDir, ids);
}

/** The `runs/latest` symlink next to a sandbox. */
export function latestRunLink(workDir: string, ids: RunIds): string {
  return join(
    executorPath(workDir, ids.agentId, ids.frameworkId, ids.executorId),
    "runs",
    LATEST_SYMLINK,
  );
}

/** The checkpoint directory of an executor run: `<work_dir>/meta/slaves/.../runs/<container>`. */
export function metaRunPath(workDir: string, ids: RunIds): string {
  return runPath(metaRoot(workDir), ids);
}

/** `<meta run>/pids/forked.pid`: the executor's pid as decimal text (Mesos' file). */
export function forkedPidPath(workDir: string, ids: RunIds): string {
  return join(metaRunPath(workDir, ids), "pids", "forked.pid");
}

/**
 * `<meta run>/pids/forked.identity`: our addition beside `forked.pid`, the
 * pid with its start time and the boot id, so that recovery never mistakes a
 * reused pid for the executor.
 */
export function forkedIdentityPath(workDir: string, ids: RunIds): string {
  return join(metaRunPath(workDir, ids), "pids", "forked.identity");
}
