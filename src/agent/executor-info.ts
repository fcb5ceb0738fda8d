/**
 * The ExecutorInfo the agent makes up for a command task (a TaskInfo with a
 * CommandInfo and no executor), as Mesos' `Slave::getExecutorInfo` does: the
 * executor id and source are the task id, the name describes the command,
 * the task's URIs, environment, user, labels and discovery carry over, the
 * command runs `mesos-executor` from `--launcher_dir`, and the executor's
 * own resource overhead is added (allocated to the task's role).
 */
import type {
  ExecutorInfo,
  FrameworkInfo,
  Resource,
  TaskInfo,
} from "../common/protocol/generated/mesos-v1.js";

/** The command executor's program name in `--launcher_dir`. */
export const MESOS_EXECUTOR = "mesos-executor";
/** The default executor's (task groups) program name in `--launcher_dir`. */
export const MESOS_DEFAULT_EXECUTOR = "mesos-default-executor";

/**
 * Resources charged to the container for the command executor itself, on
 * top of the task's. Mesos charges 0.1 cpus and 32 MB; we keep the same
 * numbers (see docs/architecture/agent.md for how they compare with what
 * our executor measures).
 */
export const COMMAND_EXECUTOR_OVERHEAD = { cpus: 0.1, memMb: 32 } as const;

/** Grace added to a task kill policy for the executor's shutdown (Mesos: reap interval + 1 s). */
const SHUTDOWN_GRACE_MARGIN_NS = 2_000_000_000;

/** Inputs besides the framework and task. */
export interface CommandExecutorOptions {
  /** `--launcher_dir`. */
  launcherDir: string;
  /**
   * Absolute path of `mesos-executor` in the launcher dir, or undefined when
   * it is missing (the executor then only prints that and fails, as in Mesos).
   */
  executorPath: string | undefined;
  overhead?: { cpus: number; memMb: number };
}

/** `(Task: t) (Command: sh -c 'echo hello')`, shortened as Mesos does. */
export function commandExecutorName(task: TaskInfo): string {
  const command = task.command ?? {};
  let name = `(Task: ${task.task_id.value}) `;
  if (command.shell ?? true) {
    if (command.value === undefined) {
      name += "(Command: NO COMMAND)";
    } else {
      const v = command.value;
      name += `(Command: sh -c '${v.length > 15 ? `${v.slice(0, 12)}...` : v}')`;
    }
  } else if (command.value === undefined) {
    name += "(Command: NO EXECUTABLE)";
  } else {
    const args = `${command.value}, ${(command.arguments ?? []).join(", ")}`;
    name += args.length > 15 ? `(Command: [${args.slice(0, 12)}...])` : `(Command: [${args}])`;
  }
  return `Command Executor ${name}`;
}

/** The role the task's resources are allocated to, if any. */
export function allocationRole(resources: readonly Resource[] | undefined): string | undefined {
  for (const r of resources ?? []) {
    const role = r.allocation_info?.role;
    if (role !== undefined) return role;
  }
  return undefined;
}

function overheadResources(
  overhead: { cpus: number; memMb: number },
  role: string | undefined,
): Resource[] {
  const scalar = (name: string, value: number): Resource => {
    const r: Resource = { name, type: "SCALAR", scalar: { value } };
    if (role !== undefined) r.allocation_info = { role };
    return r;
  };
  return [scalar("cpus", overhead.cpus), scalar("mem", overhead.memMb)];
}

/**
 * The ExecutorInfo for `task`: its own executor when it has one, else the
 * command executor made up for it.
 */
export function executorInfoFor(
  framework: FrameworkInfo,
  task: TaskInfo,
  options: CommandExecutorOptions,
): ExecutorInfo {
  if (task.executor !== undefined) return task.executor;
  const command = task.command ?? {};
  const executor: ExecutorInfo = {
    executor_id: { value: task.task_id.value },
    name: commandExecutorName(task),
    source: task.task_id.value,
  };
  if (framework.id !== undefined) executor.framework_id = framework.id;
  if (task.container !== undefined) executor.container = task.container;
  if (task.labels !== undefined) executor.labels = task.labels;
  if (task.discovery !== undefined) executor.discovery = task.discovery;
  const grace = task.kill_policy?.grace_period?.nanoseconds;
  if (grace !== undefined) {
    executor.shutdown_grace_period = { nanoseconds: grace + SHUTDOWN_GRACE_MARGIN_NS };
  }

  const executorCommand: NonNullable<ExecutorInfo["command"]> = {};
  if (command.uris !== undefined && command.uris.length > 0) executorCommand.uris = command.uris;
  if (command.environment !== undefined) executorCommand.environment = command.environment;
  if (command.user !== undefined) executorCommand.user = command.user;
  if (options.executorPath !== undefined) {
    executorCommand.shell = false;
    executorCommand.value = options.executorPath;
    executorCommand.arguments = [MESOS_EXECUTOR, `--launcher_dir=${options.launcherDir}`];
  } else {
    executorCommand.shell = true;
    executorCommand.value = "echo 'No such file or directory'; exit 1";
  }
  executor.command = executorCommand;
  executor.resources = overheadResources(
    options.overhead ?? COMMAND_EXECUTOR_OVERHEAD,
    allocationRole(task.resources),
  );
  return executor;
}

/**
 * The command of a DEFAULT executor (task groups), which frameworks send
 * without one: `mesos-default-executor` from the launcher dir, or, when it
 * is missing, a command that says so and fails (as Mesos does).
 */
export function defaultExecutorCommand(
  launcherDir: string,
  executorPath: string | undefined,
): NonNullable<ExecutorInfo["command"]> {
  if (executorPath === undefined) {
    return {
      shell: true,
      value: `echo '${MESOS_DEFAULT_EXECUTOR} was not found in ${launcherDir.replace(/'/g, "")}: task groups need it'; exit 1`,
    };
  }
  return {
    shell: false,
    value: executorPath,
    arguments: [MESOS_DEFAULT_EXECUTOR, `--launcher_dir=${launcherDir}`],
  };
}
