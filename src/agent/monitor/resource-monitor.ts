/**
 * The agent's resource monitor: per-executor ResourceStatistics for
 * `/monitor/statistics`, `/containers` and GET_CONTAINERS. Limits start from
 * what the executor is allocated; usage (and the enforced limits) come from
 * the containerizer's isolators when it has any (cgroups, du, /proc), else
 * from /proc over the executor's process tree.
 */
import type { ResourceStatistics } from "../../common/protocol/generated/mesos-v1.js";
import type { Clock } from "../../common/time/clock.js";
import type { Agent } from "../agent.js";
import type { Executor } from "../executor.js";
import { type TreeUsage, treeUsages } from "./process-usage.js";

/** One running executor's container and its statistics. */
export interface ExecutorUsage {
  readonly frameworkId: string;
  readonly executorId: string;
  readonly executorName: string;
  readonly source: string;
  readonly containerId: string;
  readonly pid: number | undefined;
  readonly statistics: ResourceStatistics;
}

const MB = 1024 * 1024;

/** ResourceStatistics of an executor from its allocation and measured usage. */
export function executorStatistics(
  executor: Executor,
  usage: TreeUsage | undefined,
  nowSecs: number,
): ResourceStatistics {
  const allocated = executor.allocatedResources();
  const stats: ResourceStatistics = { timestamp: nowSecs };
  const cpus = allocated.cpus();
  const mem = allocated.mem();
  if (cpus !== undefined) stats.cpus_limit = cpus;
  if (mem !== undefined) stats.mem_limit_bytes = Math.round(mem * MB);
  if (usage !== undefined) {
    stats.processes = usage.processes;
    stats.threads = usage.threads;
    stats.cpus_user_time_secs = usage.cpusUserTimeSecs;
    stats.cpus_system_time_secs = usage.cpusSystemTimeSecs;
    stats.mem_rss_bytes = usage.memRssBytes;
  }
  return stats;
}

/** Where container statistics come from (the containerizer). */
export interface ContainerUsageSource {
  /** Statistics of a container, or undefined when it is unknown or not isolated. */
  usage(containerId: string): Promise<ResourceStatistics | undefined>;
}

/** Reads the usage of every live executor of `agent`. */
export class ResourceMonitor {
  private source: ContainerUsageSource | undefined;

  constructor(
    private readonly agent: Agent,
    private readonly clock: Clock,
  ) {}

  /** Takes statistics from the containerizer's isolators from now on. */
  useContainerizer(source: ContainerUsageSource): void {
    this.source = source;
  }

  /** Live executors (launched or running), in a stable order. */
  executors(): Executor[] {
    const out: Executor[] = [];
    for (const framework of this.agent.frameworks.values()) {
      for (const executor of framework.executors.values()) {
        if (executor.state !== "TERMINATED") out.push(executor);
      }
    }
    return out;
  }

  /** Statistics of every live executor. */
  async usages(): Promise<ExecutorUsage[]> {
    const executors = this.executors();
    const source = this.source;
    if (source !== undefined) {
      const measured = await Promise.all(
        executors.map((e) => source.usage(e.containerId).catch(() => undefined)),
      );
      const now = this.clock.now() / 1000;
      return executors.map((e, i) => {
        const statistics = executorStatistics(e, undefined, now);
        Object.assign(statistics, measured[i] ?? {});
        statistics.timestamp = now;
        return {
          frameworkId: e.frameworkId,
          executorId: e.id,
          executorName: e.info.name ?? "",
          source: e.info.source ?? "",
          containerId: e.containerId,
          pid: e.pid,
          statistics,
        };
      });
    }
    const roots = executors.map((e) => e.pid).filter((p): p is number => p !== undefined);
    const usage = await treeUsages(roots);
    const now = this.clock.now() / 1000;
    return executors.map((e) => ({
      frameworkId: e.frameworkId,
      executorId: e.id,
      executorName: e.info.name ?? "",
      source: e.info.source ?? "",
      containerId: e.containerId,
      pid: e.pid,
      statistics: executorStatistics(e, e.pid === undefined ? undefined : usage.get(e.pid), now),
    }));
  }
}
