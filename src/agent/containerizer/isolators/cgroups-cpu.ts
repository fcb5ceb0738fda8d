/**
 * `cgroups/cpu`: CPU shares from the container's cpus (1024 per cpu, at
 * least 2; on cgroup v2 `cpu.weight`, 100 per cpu), a hard cap through CFS bandwidth
 * control when `--cgroups_enable_cfs` is set (quota = cpus x 100 ms per
 * 100 ms period), and CPU time and throttling statistics from cpuacct/cpu.
 * A container whose tasks set a cpus limit (`TaskInfo.limits`) gets that
 * limit as its quota whether or not CFS is enabled (an infinite limit: no
 * quota); without a limit and without CFS its quota is lifted, so a limit
 * ends with the last task that set it.
 * With `--revocable_cpu_low_priority` (the default) a container with
 * revocable cpus gets 10 shares per cpu instead of 1024 (v2: weight 1 per
 * cpu), as Mesos: oversubscribed work yields to regular containers.
 */
import { cpus as hostCpus } from "node:os";
import type { ResourceStatistics } from "../../../common/protocol/generated/mesos-v1.js";
import {
  type CgroupsHierarchy,
  cgroupPids,
  killCgroup,
  parseFlatKeyed,
  readControl,
  removeCgroup,
  writeControl,
} from "../cgroups/hierarchy.js";
import {
  BaseIsolator,
  type ContainerConfig,
  type ContainerResources,
  CPU_CFS_PERIOD_US,
  CPU_SHARES_PER_CPU,
  type LaunchPreparation,
  MAX_CPU_WEIGHT,
  MIN_CPU_CFS_QUOTA_US,
  MIN_CPU_SHARES,
  MIN_CPU_WEIGHT,
} from "./isolator.js";

/** USER_HZ: cpuacct.stat counts in these ticks. */
const TICKS_PER_SECOND = 100;

/** cpu.shares for `cpus`. */
export function cpuShares(cpus: number): number {
  return Math.max(Math.floor(CPU_SHARES_PER_CPU * cpus), MIN_CPU_SHARES);
}

/** Mesos' shares per revocable cpu under `--revocable_cpu_low_priority`. */
export const CPU_SHARES_PER_CPU_REVOCABLE = 10;
/** Mesos' cgroup v2 weight per revocable cpu under `--revocable_cpu_low_priority`. */
export const CPU_WEIGHT_PER_CPU_REVOCABLE = 1;

/** Mesos' cgroup v2 weight per cpu. */
export const CPU_WEIGHT_PER_CPU = 100;

/**
 * cgroup v2 cpu.weight for `cpus`: 100 per cpu, at least 1, as Mesos'
 * cgroups2 cpu controller; above 100 cpus the kernel's maximum (Mesos'
 * write of a larger weight would fail).
 */
export function cpuWeight(cpus: number): number {
  const weight = Math.max(Math.floor(CPU_WEIGHT_PER_CPU * cpus), MIN_CPU_WEIGHT);
  return Math.min(weight, MAX_CPU_WEIGHT);
}

/** CFS quota in microseconds for `cpus` per 100 ms period. */
export function cfsQuotaUs(cpus: number): number {
  return Math.max(Math.floor(CPU_CFS_PERIOD_US * cpus), MIN_CPU_CFS_QUOTA_US);
}

/**
 * The CFS quota (microseconds per 100 ms) of a container requesting `cpus`
 * with its tasks' `cpuLimit`: the limit when there is one, else the request
 * under `--cgroups_enable_cfs`; undefined for no quota (an infinite limit,
 * or neither).
 */
export function cfsQuotaFor(
  cpus: number,
  cpuLimit: number | undefined,
  enableCfs: boolean,
): number | undefined {
  if (cpuLimit !== undefined) return Number.isFinite(cpuLimit) ? cfsQuotaUs(cpuLimit) : undefined;
  return enableCfs ? cfsQuotaUs(cpus) : undefined;
}

export class CgroupsCpuIsolator extends BaseIsolator {
  readonly name = "cgroups/cpu";
  /** Containers with a cpus limit: their request and limit, for statistics. */
  private readonly limited = new Map<string, { request: number; limit: number }>();

  constructor(
    private readonly cgroups: CgroupsHierarchy,
    private readonly enableCfs: boolean,
    private readonly revocableLowPriority = false,
    /** `--cgroups_cpu_enable_pids_and_tids_count`: processes and threads from the cgroup. */
    private readonly countPidsAndTids = false,
  ) {
    super();
  }

  private paths(containerId: string): string[] {
    const out = new Set([this.cgroups.path("cpu", containerId)]);
    if (this.cgroups.has("cpuacct")) out.add(this.cgroups.path("cpuacct", containerId));
    return [...out];
  }

  override async prepare(config: ContainerConfig): Promise<LaunchPreparation> {
    const procs: string[] = [];
    await this.cgroups.create("cpu", config.containerId);
    if (this.cgroups.has("cpuacct")) await this.cgroups.create("cpuacct", config.containerId);
    for (const path of this.paths(config.containerId)) procs.push(`${path}/cgroup.procs`);
    await this.update(config.containerId, config.resources);
    return { cgroupProcs: procs };
  }

  override async update(containerId: string, resources: ContainerResources): Promise<void> {
    const cpus = resources.cpus;
    if (cpus === undefined) return;
    const cpu = this.cgroups.path("cpu", containerId);
    const low = this.revocableLowPriority && resources.revocableCpus === true;
    if (this.cgroups.version === 1) {
      const shares = low
        ? Math.max(Math.floor(CPU_SHARES_PER_CPU_REVOCABLE * cpus), MIN_CPU_SHARES)
        : cpuShares(cpus);
      await writeControl(cpu, "cpu.shares", String(shares));
    } else {
      const weight = low
        ? Math.max(Math.floor(CPU_WEIGHT_PER_CPU_REVOCABLE * cpus), MIN_CPU_WEIGHT)
        : cpuWeight(cpus);
      await writeControl(cpu, "cpu.weight", String(weight));
    }
    if (resources.cpuLimit === undefined) this.limited.delete(containerId);
    else this.limited.set(containerId, { request: cpus, limit: resources.cpuLimit });
    const quota = cfsQuotaFor(cpus, resources.cpuLimit, this.enableCfs);
    if (quota === undefined) {
      // No quota: lift one an earlier limit set. A kernel without CFS
      // bandwidth control has no file to write, and no quota either.
      if (this.cgroups.version === 1) {
        await writeControl(cpu, "cpu.cfs_quota_us", "-1").catch(() => undefined);
      } else {
        await writeControl(cpu, "cpu.max", `max ${CPU_CFS_PERIOD_US}`).catch(() => undefined);
      }
    } else if (this.cgroups.version === 1) {
      await writeControl(cpu, "cpu.cfs_period_us", String(CPU_CFS_PERIOD_US));
      await writeControl(cpu, "cpu.cfs_quota_us", String(quota));
    } else {
      await writeControl(cpu, "cpu.max", `${quota} ${CPU_CFS_PERIOD_US}`);
    }
  }

  override async usage(containerId: string): Promise<ResourceStatistics> {
    const stats: ResourceStatistics = { timestamp: 0 };
    const limited = this.limited.get(containerId);
    if (limited !== undefined) {
      // As Mesos: the limit (all the host's cpus when infinite), and the request.
      stats.cpus_limit = Number.isFinite(limited.limit) ? limited.limit : hostCpus().length;
      stats.cpus_soft_limit = limited.request;
    }
    const cpu = this.cgroups.path("cpu", containerId);
    try {
      if (this.cgroups.version === 1) {
        if (this.cgroups.has("cpuacct")) {
          const acct = this.cgroups.path("cpuacct", containerId);
          const times = parseFlatKeyed(await readControl(acct, "cpuacct.stat"));
          stats.cpus_user_time_secs = (times.get("user") ?? 0) / TICKS_PER_SECOND;
          stats.cpus_system_time_secs = (times.get("system") ?? 0) / TICKS_PER_SECOND;
        }
        // As Mesos' v1 cpu subsystem: throttling only means something with CFS.
        if (this.enableCfs) {
          const throttling = parseFlatKeyed(await readControl(cpu, "cpu.stat"));
          stats.cpus_nr_periods = throttling.get("nr_periods") ?? 0;
          stats.cpus_nr_throttled = throttling.get("nr_throttled") ?? 0;
          stats.cpus_throttled_time_secs = (throttling.get("throttled_time") ?? 0) / 1e9;
        }
      } else {
        const s = parseFlatKeyed(await readControl(cpu, "cpu.stat"));
        stats.cpus_user_time_secs = (s.get("user_usec") ?? 0) / 1e6;
        stats.cpus_system_time_secs = (s.get("system_usec") ?? 0) / 1e6;
        stats.cpus_nr_periods = s.get("nr_periods") ?? 0;
        stats.cpus_nr_throttled = s.get("nr_throttled") ?? 0;
        stats.cpus_throttled_time_secs = (s.get("throttled_usec") ?? 0) / 1e6;
      }
      if (this.countPidsAndTids) {
        // As Mesos' cpuacct subsystem: the cgroup's processes and threads.
        const acct = this.cgroups.has("cpuacct") ? this.cgroups.path("cpuacct", containerId) : cpu;
        stats.processes = (await cgroupPids(acct)).length;
        const threads = await readControl(
          acct,
          this.cgroups.version === 1 ? "tasks" : "cgroup.threads",
        );
        stats.threads = threads.split("\n").filter((l) => l.trim() !== "").length;
      }
    } catch {
      // The cgroup is gone (container ending): no numbers.
    }
    return stats;
  }

  override async cleanup(containerId: string): Promise<void> {
    this.limited.delete(containerId);
    for (const path of this.paths(containerId)) {
      await killCgroup(path, this.cgroups.version);
      await removeCgroup(path);
    }
  }
}
