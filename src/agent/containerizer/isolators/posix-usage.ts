/**
 * `posix/cpu` and `posix/mem`: nothing is limited; CPU time, RSS,
 * processes and threads are summed over the executor's process tree from
 * /proc (as the resource monitor did before cgroups).
 */
import type { ResourceStatistics } from "../../../common/protocol/generated/mesos-v1.js";
import { type TreeUsage, treeUsages } from "../../monitor/process-usage.js";
import { type ProcEntry, readProcTable } from "../proc.js";
import { BaseIsolator } from "./isolator.js";

/** How long one read of the process table serves every container's usage. */
const TABLE_REUSE_MS = 250;
let shared:
  | { at: number; table: Promise<ProcEntry[]>; trees: Map<number, Promise<TreeUsage | undefined>> }
  | undefined;

/**
 * The usage of the tree under `pid`, from a process table read at most once
 * per TABLE_REUSE_MS for all containers (and computed once for posix/cpu and
 * posix/mem together).
 */
function treeUsage(pid: number): Promise<TreeUsage | undefined> {
  const now = Date.now();
  if (shared === undefined || now - shared.at > TABLE_REUSE_MS) {
    shared = { at: now, table: readProcTable(), trees: new Map() };
  }
  const { table, trees } = shared;
  let usage = trees.get(pid);
  if (usage === undefined) {
    usage = table.then((t) => treeUsages([pid], t)).then((m) => m.get(pid));
    trees.set(pid, usage);
  }
  return usage;
}

export class PosixUsageIsolator extends BaseIsolator {
  private readonly pids = new Map<string, number>();

  constructor(
    readonly name: string,
    private readonly what: "cpu" | "mem",
  ) {
    super();
  }

  override async isolate(containerId: string, pid: number): Promise<void> {
    this.pids.set(containerId, pid);
  }

  override async recover(containers: ReadonlyMap<string, number>): Promise<void> {
    for (const [id, pid] of containers) this.pids.set(id, pid);
  }

  override async usage(containerId: string): Promise<ResourceStatistics> {
    const pid = this.pids.get(containerId);
    const stats: ResourceStatistics = { timestamp: 0 };
    if (pid === undefined) return stats;
    const usage = await treeUsage(pid);
    if (usage === undefined) return stats;
    stats.processes = usage.processes;
    stats.threads = usage.threads;
    if (this.what === "cpu") {
      stats.cpus_user_time_secs = usage.cpusUserTimeSecs;
      stats.cpus_system_time_secs = usage.cpusSystemTimeSecs;
    } else {
      stats.mem_rss_bytes = usage.memRssBytes;
    }
    return stats;
  }

  override async cleanup(containerId: string): Promise<void> {
    this.pids.delete(containerId);
  }
}
