/**
 * Sandbox garbage collection as one agent runs it: the collector removing
 * real directories, the disk watch pruning it, and the `SandboxGc` the
 * agent core calls, all from the agent's flags.
 */
import type { Logger } from "../../common/observability/logger.js";
import type { Clock } from "../../common/time/clock.js";
import type { AgentFlags } from "../flags.js";
import { DiskWatch, diskUsage } from "./disk-watch.js";
import { GarbageCollector } from "./garbage-collector.js";
import { removePath } from "./remove-path.js";
import { DiskSandboxGc, type SandboxGc, scheduleOldAgentDirectories } from "./sandbox-gc.js";

/** A running sandbox garbage collection (see `startSandboxGc`). */
export interface AgentSandboxGc {
  readonly collector: GarbageCollector;
  readonly sandboxGc: SandboxGc;
  readonly watch: DiskWatch;
  /** Schedules the directories of agent ids other than `currentId` (after recovery). */
  collectOldAgents(currentId: string | undefined): void;
  stop(): void;
}

/** Builds the collector from `--gc_delay`, `--gc_disk_headroom`, `--disk_watch_interval` and starts the disk watch. */
export function startSandboxGc(
  flags: Pick<AgentFlags, "work_dir" | "gc_delay" | "gc_disk_headroom" | "disk_watch_interval">,
  clock: Clock,
  logger: Logger,
): AgentSandboxGc {
  const gcDelayMs = flags.gc_delay.toMs();
  const collector = new GarbageCollector({ clock, logger, remove: removePath });
  const sandboxGc = new DiskSandboxGc({ gc: collector, clock, logger, gcDelayMs });
  const watch = new DiskWatch({
    clock,
    logger,
    intervalMs: flags.disk_watch_interval.toMs(),
    gcDelayMs,
    diskHeadroom: flags.gc_disk_headroom,
    usage: () => diskUsage(flags.work_dir),
    gc: collector,
  });
  watch.start();
  return {
    collector,
    sandboxGc,
    watch,
    collectOldAgents: (currentId) =>
      scheduleOldAgentDirectories(flags.work_dir, currentId, sandboxGc, logger),
    stop: () => {
      watch.stop();
      collector.stop();
    },
  };
}
