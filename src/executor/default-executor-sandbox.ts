/**
 * Per-task sandboxes of the default executor. A task in a nested container
 * has the container's sandbox, `<executor sandbox>/containers/<container id>/`
 * (made by the agent), linked from `tasks/<task id>` as Mesos does; a task run
 * as a child process (no nested containers) has the directory
 * `tasks/<task id>/` itself. Each holds the task's `stdout` and `stderr`.
 * A task run as a child process sees each of its persistent volumes at its
 * `container_path` in its sandbox through a symlink to the executor's
 * (where the agent put the volume), as Mesos' SANDBOX_PATH volumes are
 * linked without mount namespaces.
 */
import { lstatSync, mkdirSync, readlinkSync, symlinkSync } from "node:fs";
import { dirname, isAbsolute, join, normalize, relative } from "node:path";
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
    nested(taskId, containerId) {
      const problem = taskIdPathProblem(taskId);
      if (problem !== undefined) return { error: problem };
      const directory = join(executorSandbox, "containers", containerId);
      return {
        directory,
        stdoutPath: join(directory, "stdout"),
        stderrPath: join(directory, "stderr"),
      };
    },
    linkVolume(taskId, containerPath) {
      const path = normalize(containerPath);
      if (isAbsolute(containerPath) || path === "." || path === ".." || path.startsWith("../")) {
        return { error: `'${containerPath}' is not a relative path inside the sandbox` };
      }
      const target = join(taskSandboxPaths(executorSandbox, taskId).directory, path);
      // Relative, so it also holds where the sandbox is seen elsewhere (in an image).
      const source = relative(dirname(target), join(executorSandbox, path));
      try {
        // A link already there to the volume is kept (a task relaunched in the same sandbox).
        if (lstatSync(target).isSymbolicLink() && readlinkSync(target) === source) return undefined;
      } catch {
        // Nothing there yet.
      }
      try {
        mkdirSync(dirname(target), { recursive: true });
        symlinkSync(source, target);
      } catch (err) {
        return { error: (err as Error).message };
      }
      return undefined;
    },
    link(taskId, containerId) {
      try {
        mkdirSync(join(executorSandbox, "tasks"), { recursive: true });
        symlinkSync(join("..", "containers", containerId), join(executorSandbox, "tasks", taskId));
      } catch {
        // Only a convenience for people browsing the sandbox.
      }
    },
  };
}
