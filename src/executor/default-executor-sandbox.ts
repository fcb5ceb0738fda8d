/**
 * Per-task sandboxes of the default executor: `<executor sandbox>/tasks/<task id>/`
 * holding the task's `stdout` and `stderr`. (Mesos puts a nested container's
 * sandbox under `containers/<container id>` and links `tasks/<task id>` to
 * it; without nested containers the directory itself lives at `tasks/<id>`.)
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { TaskSandbox, TaskSandboxes } from "./default-executor.js";

/** Why `taskId` cannot name a directory, or undefined when it can. */
export function taskIdPathProblem(taskId: string): string | undefined {
  if (taskId === "" || taskId === "." || taskId === "..") return `'${taskId}' is not a file name`;
  if (taskId.includes("/") || taskId.includes("\0")) {
    return `task id '${taskId.replace(/\0/g, "\\0")}' contains '/' or a NUL character`;
  }
  return undefined;
}

/** The sandbox of `taskId` under `executorSandbox` (paths only). */
export function taskSandboxPaths(executorSandbox: string, taskId: string): TaskSandbox {
  const directory = join(executorSandbox, "tasks", taskId);
  return {
    directory,
    stdoutPath: join(directory, "stdout"),
    stderrPath: join(directory, "stderr"),
  };
}

/** Task sandboxes on disk, under the executor's sandbox. */
export function taskSandboxesIn(executorSandbox: string): TaskSandboxes {
  return {
    create(taskId) {
      const problem = taskIdPathProblem(taskId);
      if (problem !== undefined) return { error: problem };
      const sandbox = taskSandboxPaths(executorSandbox, taskId);
      try {
        mkdirSync(sandbox.directory, { recursive: true });
      } catch (err) {
        return { error: (err as Error).message };
      }
      return sandbox;
    },
  };
}
