/**
 * `cgroups/mem`: a hard memory limit from the container's mem (at least
 * 32 MB), plus swap when `--cgroups_limit_swap` is set, and memory
 * statistics from the cgroup. When its tasks set a mem limit
 * (`TaskInfo.limits`) the hard limit is that limit (none if infinite) and
 * the soft limit (v2: `memory.low`) stays at the requested mem, as Mesos.
 *
 * Going over the limit is reported as a limitation
 * (REASON_CONTAINER_LIMITATION_MEMORY) and the whole container is
 * destroyed, so the executor cannot report the task's death first with a
 * vaguer reason. On cgroup v1 the kernel's OOM killer is disabled for the
 * container: a process that hits the limit waits (`under_oom`), which a
 * short poll sees. On v2 the OOM killer takes the whole cgroup
 * (`memory.oom.group`) and `memory.events` says it did.
 */
import { totalmem } from "node:os";
import type { ResourceStatistics } from "../../../common/protocol/generated/mesos-v1.js";
import {
  type CgroupsHierarchy,
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
  type IsolatorContext,
  type LaunchPreparation,
  MB,
  MIN_MEMORY_BYTES,
  scalarResource,
} from "./isolator.js";

/** How often containers are checked for an OOM. */
const OOM_POLL_MS = 200;

/** The hard limit in bytes for `memMb` (plus an allowance for the executor). */
export function memoryLimitBytes(memMb: number, allowanceMb = 0): number {
  return Math.max(Math.floor((memMb + allowanceMb) * MB), MIN_MEMORY_BYTES);
}

interface Watched {
  path: string;
  limitBytes: number;
  reported: boolean;
}

export class CgroupsMemIsolator extends BaseIsolator {
  readonly name = "cgroups/mem";
  private readonly watched = new Map<string, Watched>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(
    private readonly cgroups: CgroupsHierarchy,
    private readonly context: IsolatorContext,
    private readonly options: {
      limitSwap: boolean;
      /**
       * Extra MB on top of the container's mem for the built-in command
       * executor, whose Node runtime needs more than the 32 MB Mesos charges.
       */
      commandExecutorAllowanceMb: number;
    },
  ) {
    super();
  }

  override async prepare(config: ContainerConfig): Promise<LaunchPreparation> {
    const path = await this.cgroups.create("memory", config.containerId);
    const allowance = config.commandExecutor ? this.options.commandExecutorAllowanceMb : 0;
    this.watched.set(config.containerId, { path, limitBytes: 0, reported: false });
    this.allowances.set(config.containerId, allowance);
    if (this.cgroups.version === 1) {
      await writeControl(path, "memory.oom_control", "1");
    } else {
      await writeControl(path, "memory.oom.group", "1").catch(() => undefined);
    }
    await this.update(config.containerId, config.resources);
    this.startPolling();
    return { cgroupProcs: [`${path}/cgroup.procs`] };
  }

  private readonly allowances = new Map<string, number>();
  /**
   * Recovered containers whose allowance is not known yet: their soft limit
   * as the previous agent left it (see `recoveredAllowance`).
   */
  private readonly recoveredSoft = new Map<string, number>();

  /**
   * The allowance of a container recovered from the previous agent run,
   * which did not record it: a command executor's soft limit was its mem
   * plus the allowance, so when the first update's mem plus the allowance
   * gives that soft limit again, it is one. (If its tasks changed while the
   * agent was down this cannot tell, and it gets none.)
   */
  private recoveredAllowance(containerId: string, memMb: number): number {
    const soft = this.recoveredSoft.get(containerId);
    this.recoveredSoft.delete(containerId);
    const allowance = this.options.commandExecutorAllowanceMb;
    const known = allowance > 0 && soft === memoryLimitBytes(memMb, allowance) ? allowance : 0;
    this.allowances.set(containerId, known);
    return known;
  }

  override async update(containerId: string, resources: ContainerResources): Promise<void> {
    const w = this.watched.get(containerId);
    if (w === undefined || resources.memMb === undefined) return;
    const allowance =
      this.allowances.get(containerId) ?? this.recoveredAllowance(containerId, resources.memMb);
    const soft = memoryLimitBytes(resources.memMb, allowance);
    const limitMb = resources.memLimitMb;
    // Infinity: no hard limit; else the tasks' limit (whole MB, as Mesos) or the request.
    const hard =
      limitMb === undefined
        ? soft
        : Number.isFinite(limitMb)
          ? memoryLimitBytes(Math.floor(limitMb), allowance)
          : Number.POSITIVE_INFINITY;
    // The soft limit always follows the request.
    if (this.cgroups.version === 1) {
      await writeControl(w.path, "memory.soft_limit_in_bytes", String(soft));
    } else {
      await writeControl(w.path, "memory.low", String(soft)).catch(() => undefined);
    }
    // Lowering a hard limit under current use would hang or kill the
    // container: like Mesos, set it the first time and then only raise it.
    if (w.limitBytes > 0 && hard <= w.limitBytes) return;
    const first = w.limitBytes === 0;
    w.limitBytes = hard;
    if (this.cgroups.version === 1) {
      const value = Number.isFinite(hard) ? String(hard) : "-1";
      const memsw = () =>
        this.options.limitSwap
          ? writeControl(w.path, "memory.memsw.limit_in_bytes", value)
          : Promise.resolve();
      // The kernel wants limit_in_bytes <= memsw.limit_in_bytes at all times:
      // lower the memory limit first (the first time), raise memsw first later.
      if (first) {
        await writeControl(w.path, "memory.limit_in_bytes", value);
        await memsw();
      } else {
        await memsw();
        await writeControl(w.path, "memory.limit_in_bytes", value);
      }
    } else {
      await writeControl(w.path, "memory.max", Number.isFinite(hard) ? String(hard) : "max");
      if (this.options.limitSwap) {
        await writeControl(w.path, "memory.swap.max", "0").catch(() => undefined);
      }
    }
  }

  override async usage(containerId: string): Promise<ResourceStatistics> {
    const stats: ResourceStatistics = { timestamp: 0 };
    const path = this.cgroups.path("memory", containerId);
    const unlimited = this.watched.get(containerId)?.limitBytes === Number.POSITIVE_INFINITY;
    try {
      const s = parseFlatKeyed(await readControl(path, "memory.stat"));
      if (this.cgroups.version === 1) {
        stats.mem_total_bytes = Number(await readControl(path, "memory.usage_in_bytes"));
        stats.mem_limit_bytes = Number(await readControl(path, "memory.limit_in_bytes"));
        stats.mem_soft_limit_bytes = Number(await readControl(path, "memory.soft_limit_in_bytes"));
        stats.mem_rss_bytes = s.get("total_rss") ?? s.get("rss") ?? 0;
        stats.mem_cache_bytes = s.get("total_cache") ?? s.get("cache") ?? 0;
        stats.mem_mapped_file_bytes = s.get("total_mapped_file") ?? 0;
        stats.mem_swap_bytes = s.get("total_swap") ?? 0;
        stats.mem_unevictable_bytes = s.get("total_unevictable") ?? 0;
        stats.mem_anon_bytes =
          (s.get("total_active_anon") ?? 0) + (s.get("total_inactive_anon") ?? 0);
        stats.mem_file_bytes =
          (s.get("total_active_file") ?? 0) + (s.get("total_inactive_file") ?? 0);
      } else {
        stats.mem_total_bytes = Number(await readControl(path, "memory.current"));
        const max = await readControl(path, "memory.max");
        if (max !== "max") stats.mem_limit_bytes = Number(max);
        stats.mem_rss_bytes = s.get("anon") ?? 0;
        stats.mem_anon_bytes = s.get("anon") ?? 0;
        stats.mem_cache_bytes = s.get("file") ?? 0;
        stats.mem_file_bytes = s.get("file") ?? 0;
        stats.mem_mapped_file_bytes = s.get("file_mapped") ?? 0;
        stats.mem_unevictable_bytes = s.get("unevictable") ?? 0;
      }
      // As Mesos: an infinite mem limit shows as all the host's memory.
      if (unlimited) stats.mem_limit_bytes = totalmem();
    } catch {
      // The cgroup is gone.
    }
    return stats;
  }

  override async cleanup(containerId: string): Promise<void> {
    const w = this.watched.get(containerId);
    // The container may have ended of its OOM before a poll saw it (on v2 the
    // kernel kills the whole cgroup): report it now, while the reason can
    // still reach the container's termination.
    if (w !== undefined && !w.reported) await this.check(containerId, w);
    this.watched.delete(containerId);
    this.allowances.delete(containerId);
    this.recoveredSoft.delete(containerId);
    if (this.watched.size === 0) this.stopPolling();
    const path = this.cgroups.path("memory", containerId);
    await killCgroup(path, this.cgroups.version);
    await removeCgroup(path);
  }

  override async recover(containers: ReadonlyMap<string, number>): Promise<void> {
    for (const id of containers.keys()) {
      const path = this.cgroups.path("memory", id);
      let text: string;
      try {
        text = await readControl(
          path,
          this.cgroups.version === 1 ? "memory.limit_in_bytes" : "memory.max",
        );
      } catch {
        continue;
      }
      // v2 writes an infinite mem limit as "max" (v1 as a huge number).
      const limitBytes = text === "max" ? Number.POSITIVE_INFINITY : Number(text);
      const soft = await readControl(
        path,
        this.cgroups.version === 1 ? "memory.soft_limit_in_bytes" : "memory.low",
      ).catch(() => undefined);
      if (soft !== undefined && Number.isFinite(Number(soft))) {
        this.recoveredSoft.set(id, Number(soft));
      }
      this.watched.set(id, {
        path,
        limitBytes: Number.isNaN(limitBytes) ? 0 : limitBytes,
        reported: false,
      });
    }
    if (this.watched.size > 0) this.startPolling();
  }

  private startPolling(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.poll(), OOM_POLL_MS);
    this.timer.unref();
  }

  private stopPolling(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      for (const [id, w] of this.watched) {
        if (!w.reported) await this.check(id, w);
      }
    } finally {
      this.polling = false;
    }
  }

  /** Reports the container's limitation if it ran out of memory. */
  private async check(id: string, w: Watched): Promise<void> {
    if (!(await this.oomHappened(w.path)) || w.reported) return;
    w.reported = true;
    const used = await this.maxUsage(w.path);
    // Without a hard limit of its own, the container hit an ancestor's.
    const limit = Number.isFinite(w.limitBytes) ? w.limitBytes : (used ?? 0);
    this.context.logger.info(`Container '${id}' reached its memory limit`);
    this.context.limit(id, {
      reason: "REASON_CONTAINER_LIMITATION_MEMORY",
      message:
        `Memory limit exceeded: Requested: ${formatMb(limit)} ` +
        `Maximum Used: ${formatMb(used ?? limit)}`,
      // As Mesos: the memory in use when the limit was hit, in MB.
      resources: [scalarResource("mem", (used ?? limit) / MB)],
    });
  }

  private async oomHappened(path: string): Promise<boolean> {
    try {
      if (this.cgroups.version === 1) {
        const c = parseFlatKeyed(await readControl(path, "memory.oom_control"));
        return (c.get("under_oom") ?? 0) > 0 || (c.get("oom_kill") ?? 0) > 0;
      }
      const events = parseFlatKeyed(await readControl(path, "memory.events"));
      return (events.get("oom_kill") ?? 0) > 0 || (events.get("oom_group_kill") ?? 0) > 0;
    } catch {
      return false;
    }
  }

  private async maxUsage(path: string): Promise<number | undefined> {
    try {
      const file = this.cgroups.version === 1 ? "memory.max_usage_in_bytes" : "memory.peak";
      return Number(await readControl(path, file));
    } catch {
      return undefined;
    }
  }
}

function formatMb(bytes: number): string {
  return `${Math.round(bytes / MB)}MB`;
}
