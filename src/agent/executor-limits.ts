/**
 * The cpus and mem limits of an executor's container from its tasks'
 * `TaskInfo.limits`, as Mesos' `Slave::computeExecutorLimits`:
 *
 * - a container has a limit only when at least one of its tasks has one;
 * - the limit is the sum of the tasks' limits, plus the executor's own
 *   request, plus the requests of its tasks without a limit (so the limit
 *   is never below what the container requested);
 * - an infinite task limit makes the container's limit infinite (no CFS
 *   quota, no hard memory limit);
 * - without `--cgroups_enable_cfs`, a cpu limit is dropped when some task
 *   has none: that task would otherwise be throttled by its neighbours'
 *   limits although it asked for no cap.
 */
import type { Resource, Value_Scalar } from "../common/protocol/generated/mesos-v1.js";
import { resourcesOf } from "./wire-resources.js";

/** A task as the limits see it (a queued TaskInfo or a launched Task). */
export interface LimitedTask {
  resources?: Resource[] | undefined;
  limits?: Readonly<Record<string, Value_Scalar>> | undefined;
}

/** The executor's container's limits: `cpus` and `mem` (MB), each maybe Infinity. */
export interface ExecutorLimits {
  cpus?: number;
  mem?: number;
}

/** Adds `delta` to `limit`; infinity is sticky either way. */
function addLimit(limit: number | undefined, delta: number): number {
  if (limit === undefined) return delta;
  return limit + delta;
}

export function executorLimits(
  executorResources: readonly Resource[] | undefined,
  tasks: Iterable<LimitedTask>,
  cgroupsEnableCfs: boolean,
): ExecutorLimits {
  let cpuLimit: number | undefined;
  let memLimit: number | undefined;
  let cpuRequest = 0;
  let memRequest = 0;
  for (const task of tasks) {
    const limits = task.limits ?? {};
    const requested = resourcesOf(task.resources ?? []);
    const cpus = limits.cpus?.value;
    if (cpus !== undefined) cpuLimit = addLimit(cpuLimit, cpus);
    else cpuRequest += requested.cpus() ?? 0;
    const mem = limits.mem?.value;
    if (mem !== undefined) memLimit = addLimit(memLimit, mem);
    else memRequest += requested.mem() ?? 0;
  }
  const own = resourcesOf([...(executorResources ?? [])]);
  const out: ExecutorLimits = {};
  if (cpuLimit !== undefined) {
    cpuLimit = addLimit(cpuLimit, own.cpus() ?? 0);
    if (cpuRequest > 0 && !cgroupsEnableCfs) cpuLimit = undefined;
    else cpuLimit = addLimit(cpuLimit, cpuRequest);
    if (cpuLimit !== undefined) out.cpus = cpuLimit;
  }
  if (memLimit !== undefined) out.mem = addLimit(addLimit(memLimit, own.mem() ?? 0), memRequest);
  return out;
}

/** What `containerLimits` needs of the agent's frameworks and executors. */
interface FrameworksView {
  values(): Iterable<{
    executors: {
      values(): Iterable<{
        containerId: string;
        info: { resources?: Resource[] | undefined };
        queuedTasks: ReadonlyMap<string, LimitedTask>;
        launchedTasks: ReadonlyMap<string, LimitedTask>;
      }>;
    };
  }>;
}

/**
 * The limits of the executor running in `containerId` from its queued and
 * launched tasks (as Mesos, not the terminated ones: their limits go with
 * their resources); none for a container the agent does not know.
 */
export function containerLimits(
  frameworks: FrameworksView,
  containerId: string,
  cgroupsEnableCfs: boolean,
): ExecutorLimits {
  for (const framework of frameworks.values()) {
    for (const executor of framework.executors.values()) {
      if (executor.containerId !== containerId) continue;
      return executorLimits(
        executor.info.resources,
        [...executor.queuedTasks.values(), ...executor.launchedTasks.values()],
        cgroupsEnableCfs,
      );
    }
  }
  return {};
}
