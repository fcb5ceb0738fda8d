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

// ---- checkpoint files (Mesos' names, under <work_dir>/meta) ------------------

/** `<meta>/slaves/latest`: symlink to the checkpoint directory of the current agent id. */
export function latestAgentLink(workDir: string): string {
  return join(metaRoot(workDir), "slaves", LATEST_SYMLINK);
}

/** `<meta>/slaves/<agent>/slave.info`. */
export function agentInfoPath(workDir: string, agentId: string): string {
  return join(agentPath(metaRoot(workDir), agentId), "slave.info");
}

/** `<meta>/slaves/<agent>/frameworks/<framework>/framework.info`. */
export function frameworkInfoPath(workDir: string, agentId: string, frameworkId: string): string {
  return join(frameworkPath(metaRoot(workDir), agentId, frameworkId), "framework.info");
}

/** `<meta>/slaves/<agent>/frameworks/<framework>/framework.pid`. */
export function frameworkPidPath(workDir: string, agentId: string, frameworkId: string): string {
  return join(frameworkPath(metaRoot(workDir), agentId, frameworkId), "framework.pid");
}

/** `<meta>/.../executors/<executor>/executor.info`. */
export function executorInfoPath(
  workDir: string,
  agentId: string,
  frameworkId: string,
  executorId: string,
): string {
  return join(executorPath(metaRoot(workDir), agentId, frameworkId, executorId), "executor.info");
}

/** `<meta>/.../executors/<executor>/executor_generated_for_command_task` ("1" or "0"). */
export function executorGeneratedPath(
  workDir: string,
  agentId: string,
  frameworkId: string,
  executorId: string,
): string {
  return join(
    executorPath(metaRoot(workDir), agentId, frameworkId, executorId),
    "executor_generated_for_command_task",
  );
}

/** `<meta>/.../executors/<executor>/runs/latest`: symlink to the executor's current run. */
export function latestMetaRunLink(workDir: string, ids: RunIds): string {
  return join(
    executorPath(metaRoot(workDir), ids.agentId, ids.frameworkId, ids.executorId),
    "runs",
    LATEST_SYMLINK,
  );
}

/** `<meta run>/http.marker`: the executor subscribed over the v1 HTTP API. */
export function httpMarkerPath(workDir: string, ids: RunIds): string {
  return join(metaRunPath(workDir, ids), "http.marker");
}

/** `<meta run>/pids/libprocess.pid`: a v0 (driver) executor's UPID. */
export function libprocessPidPath(workDir: string, ids: RunIds): string {
  return join(metaRunPath(workDir, ids), "pids", "libprocess.pid");
}

/** `<meta run>/executor.sentinel`: the agent removed this run (it is complete). */
export function executorSentinelPath(workDir: string, ids: RunIds): string {
  return join(metaRunPath(workDir, ids), "executor.sentinel");
}

/** `<meta run>/tasks/<task>`. */
export function metaTaskPath(workDir: string, ids: RunIds, taskId: string): string {
  return join(metaRunPath(workDir, ids), "tasks", taskId);
}

/** `<meta run>/tasks/<task>/task.info`. */
export function taskInfoPath(workDir: string, ids: RunIds, taskId: string): string {
  return join(metaTaskPath(workDir, ids, taskId), "task.info");
}

/** `<meta run>/tasks/<task>/task.updates`. */
export function taskUpdatesPath(workDir: string, ids: RunIds, taskId: string): string {
  return join(metaTaskPath(workDir, ids, taskId), "task.updates");
}

// ---- operations on the agent's own resources (Mesos' operation feedback) ------

/** `<meta>/resources/resources_and_operations.state`: checkpointed resources and operations. */
export function resourceStatePath(workDir: string): string {
  return join(metaRoot(workDir), "resources", "resources_and_operations.state");
}

/** `<meta>/slaves/<agent>/operations`: one directory per operation with a status update stream. */
export function operationsPath(workDir: string, agentId: string): string {
  return join(agentPath(metaRoot(workDir), agentId), "operations");
}

/** `<meta>/slaves/<agent>/operations/<operation uuid as text>`. */
export function operationPath(workDir: string, agentId: string, operationUuid: string): string {
  return join(operationsPath(workDir, agentId), operationUuid);
}

/** `<meta>/slaves/<agent>/operations/<operation uuid>/operation.updates`: the stream's records. */
export function operationUpdatesPath(
  workDir: string,
  agentId: string,
  operationUuid: string,
): string {
  return join(operationPath(workDir, agentId, operationUuid), "operation.updates");
}
