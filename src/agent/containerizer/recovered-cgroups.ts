/**
 * Cgroups of containers started by a previous run of the agent. Their
 * executors are adopted by agent recovery (and killed, when needed, as
 * processes); their cgroups keep limiting them and are read for
 * statistics. This watcher removes each such cgroup once its processes are
 * gone, and kills a container stuck at its memory limit (cgroup v1 keeps
 * the OOM killer off for our containers: nobody else would notice).
 */
import type { Logger } from "../../common/observability/logger.js";
import {
  type CgroupsHierarchy,
  cgroupPids,
  killCgroup,
  parseFlatKeyed,
  readControl,
  removeCgroup,
} from "./cgroups/hierarchy.js";
import type { Isolator } from "./isolators/isolator.js";

/** Watches leftover container cgroups until they are empty, then removes them. */
export class RecoveredCgroups {
  private readonly ids = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  /**
   * True while the memory isolator watches the container itself (it was
   * recovered): it reports the limit, so the container's tasks fail with
   * the memory reason, and the containerizer kills it. Not killed here then.
   */
  memoryWatched: (containerId: string) => boolean = () => false;

  constructor(
    private readonly cgroups: CgroupsHierarchy,
    private readonly isolators: readonly Isolator[],
    private readonly logger: Logger,
    /** Containers the current agent started (not leftovers). */
    private readonly isOwn: (containerId: string) => boolean,
    /** Also runs for each ended container (e.g. to remove its image root filesystem). */
    private readonly onEnded: (containerId: string) => Promise<void> = async () => {},
    private readonly intervalMs = 1000,
  ) {}

  /** Finds the container cgroups under the root and starts watching them. */
  async start(): Promise<void> {
    for (const id of await this.cgroups.containers("freezer")) {
      if (!this.isOwn(id)) this.ids.add(id);
    }
    if (this.ids.size === 0) return;
    this.logger.info(`Found the cgroups of ${this.ids.size} container(s) of a previous agent run`);
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  /** True for a container whose cgroups are watched here. */
  has(containerId: string): boolean {
    return this.ids.has(containerId);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async check(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (const id of [...this.ids]) {
        const own = this.cgroups.path("freezer", id);
        if ((await cgroupPids(own)).length === 0) {
          this.ids.delete(id);
          for (const isolator of this.isolators) await isolator.cleanup(id).catch(() => undefined);
          await removeCgroup(own).catch(() => undefined);
          await this.onEnded(id).catch(() => undefined);
          this.logger.info(`Removed the cgroups of ended container '${id}'`);
        } else if (!this.memoryWatched(id) && (await this.stuckAtMemoryLimit(id))) {
          this.logger.warn(`Killing recovered container '${id}': it reached its memory limit`);
          await killCgroup(own, this.cgroups.version);
        }
      }
      if (this.ids.size === 0) this.stop();
    } finally {
      this.busy = false;
    }
  }

  private async stuckAtMemoryLimit(id: string): Promise<boolean> {
    if (this.cgroups.version !== 1 || !this.cgroups.has("memory")) return false;
    try {
      const control = await readControl(this.cgroups.path("memory", id), "memory.oom_control");
      return (parseFlatKeyed(control).get("under_oom") ?? 0) > 0;
    } catch {
      return false;
    }
  }
}
