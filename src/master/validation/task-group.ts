/**
 * Validation of a LAUNCH_GROUP operation: every task, then the executor
 * that runs them all (Mesos `validation::task::group`). A failure fails the
 * whole group with TASK_ERROR and REASON_TASK_GROUP_INVALID.
 */
import type {
  ContainerInfo,
  ExecutorInfo,
  TaskGroupInfo,
  TaskInfo,
} from "../../common/protocol/generated/mesos-v1.js";
import { type Resource as CoreResource, Resources } from "../../common/resources/index.js";
import {
  formatResourceField,
  overlappingSetsOrRanges,
  validateRevocableMix,
  validateUniquePersistenceId,
} from "./resources.js";
import {
  type LaunchContext,
  sameExecutorInfo,
  validateExecutorInfo,
  validateTaskFields,
} from "./task.js";

/** Mesos' minimum executor resources for task groups. */
const MIN_CPUS = 0.01;
const MIN_MEM_MB = 32;

/** Undefined when the group can be launched on `available`. */
export function validateTaskGroup(
  group: TaskGroupInfo,
  executor: ExecutorInfo,
  ctx: LaunchContext,
  available: Resources,
): string | undefined {
  const tasks = group.tasks ?? [];
  for (const task of tasks) {
    let error = validateTaskFields(task, ctx);
    if (error === undefined && task.executor === undefined)
      error = "'TaskInfo.executor' must be set";
    const healthType = task.health_check?.type;
    if (
      error === undefined &&
      (task.container?.network_infos?.length ?? 0) > 0 &&
      (healthType === "HTTP" || healthType === "TCP")
    ) {
      error =
        "HTTP and TCP health checks are not supported for nested containers not joining " +
        "parent's network";
    }
    if (error === undefined && task.container?.type === "DOCKER") {
      error = "Docker ContainerInfo is not supported on the task";
    }
    if (
      error === undefined &&
      Object.keys(task.limits ?? {}).length > 0 &&
      task.container?.linux_info?.share_cgroups !== false
    ) {
      error =
        "Resource limits may only be set for tasks within a task group when the " +
        "'share_cgroups' field is set to 'false'.";
    }
    if (error !== undefined) return `Task '${task.task_id.value}' is invalid: ${error}`;
  }
  const executorError = validateExecutorInfo(executor, ctx);
  if (executorError !== undefined) return executorError;
  const id = executor.executor_id.value;
  if (executor.type === undefined) return "'ExecutorInfo.type' must be set";
  if (executor.type === "UNKNOWN") return "Unknown executor type";
  if (executor.container?.type === "DOCKER") {
    return "Docker ContainerInfo is not supported on the executor";
  }
  for (const task of tasks) {
    if (task.executor !== undefined && !sameExecutorInfo(task.executor, executor)) {
      return `The \`ExecutorInfo\` of task '${task.task_id.value}' is different from executor '${id}'`;
    }
  }
  const executorResources = Resources.from((executor.resources ?? []) as CoreResource[]);
  const cpus = executorResources.cpus();
  if (cpus === undefined || cpus < MIN_CPUS) {
    return `Executor '${id}' uses less CPUs (${cpus ?? "None"}) than the minimum required (${MIN_CPUS})`;
  }
  const mem = executorResources.mem();
  if (mem === undefined || mem < MIN_MEM_MB) {
    const shown = mem === undefined ? "None" : `${mem}MB`;
    return `Executor '${id}' uses less memory (${shown}) than the minimum required (${MIN_MEM_MB}MB)`;
  }
  if (executorResources.disk() === undefined) return `Executor '${id}' uses no disk`;
  const all = [...(executor.resources ?? []), ...tasks.flatMap((t) => t.resources ?? [])];
  const duplicate = validateUniquePersistenceId(all);
  if (duplicate !== undefined) {
    return `Task group and executor use duplicate persistence ID: ${duplicate}`;
  }
  const mix = validateRevocableMix(all);
  if (mix !== undefined) {
    return `Task group and executor mix revocable and non-revocable resources: ${mix}`;
  }
  const perTask = tasks.map((t) => t.resources ?? []);
  if (overlappingSetsOrRanges([...perTask, executor.resources ?? []])) {
    // Mesos prints the tasks' resources as a list of resource sets, the executor's as a field.
    const listed = perTask.map((r) => Resources.from(r as CoreResource[]).toString());
    return (
      `There are overlapping resources in the task group's task resources [ ${listed.join(", ")} ] ` +
      `and/or executor resources ${formatResourceField(executor.resources ?? [])}`
    );
  }
  const total = Resources.empty();
  for (const task of tasks) total.add(Resources.from((task.resources ?? []) as CoreResource[]));
  if (ctx.existingExecutor(id) === undefined) total.add(executorResources);
  if (!available.contains(total)) {
    return (
      `Total resources ${total.toString()} required by task group and its executor are more ` +
      `than available ${available.toString()}`
    );
  }
  return shareCgroupsError(tasks, executor, ctx);
}

/**
 * Mesos' share_cgroups rules for a group: never `true` on the executor, and
 * one value (unset means true) for all tasks of the group and those already
 * running under the same executor.
 */
function shareCgroupsError(
  tasks: readonly TaskInfo[],
  executor: ExecutorInfo,
  ctx: LaunchContext,
): string | undefined {
  if (executor.container?.linux_info?.share_cgroups === true) {
    return "The 'share_cgroups' field cannot be set to 'true' on executor containers";
  }
  const shares = (container: ContainerInfo | undefined): boolean =>
    container?.linux_info?.share_cgroups ?? true;
  const values = tasks.map((t) => shares(t.container));
  const id = executor.executor_id.value;
  if (values.length > 0 && ctx.existingExecutor(id) !== undefined) {
    for (const container of ctx.executorTaskContainers?.(id) ?? []) values.push(shares(container));
  }
  if (values.some((v) => v !== values[0])) {
    return (
      "If set, the value of 'share_cgroups' must be the same for all tasks in each task group " +
      "and under a single executor"
    );
  }
  return undefined;
}
