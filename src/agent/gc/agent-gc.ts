/**
 * Sandbox garbage collection as one agent runs it: the collector removing
 * real directories, the disk watch pruning it, and the `SandboxGc` the
 * agent core calls, all from the agent's flags.
 */
import { realpath } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { VirtualFiles } from "../../common/files/virtual-files.js";
import type { Logger } from "../../common/observability/logger.js";
import type { Clock } from "../../common/time/clock.js";
import type { AgentFlags } from "../flags.js";
import { DiskWatch, diskUsage } from "./disk-watch.js";
import { GarbageCollector } from "./garbage-collector.js";
import { sandboxRemover } from "./remove-path.js";
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

/**
 * Builds the collector from `--gc_delay`, `--gc_disk_headroom`,
 * `--disk_watch_interval` and starts the disk watch. With `files`, a
 * removed directory's sandboxes leave `/files` too (as Mesos detaches them
 * once collected), so the attachments of an agent that runs for months do
 * not pile up.
 */
export function startSandboxGc(
  flags: Pick<AgentFlags, "work_dir" | "gc_delay" | "gc_disk_headroom" | "disk_watch_interval">,
  clock: Clock,
  logger: Logger,
  files?: VirtualFiles,
): AgentSandboxGc {
  const gcDelayMs = flags.gc_delay.toMs();
  const collector = new GarbageCollector({
    clock,
    logger,
    remove: sandboxRemover(flags.work_dir),
  });
  const onRemoved =
    files === undefined ? undefined : (path: string) => void detachRemoved(files, path, logger);
  const sandboxGc = new DiskSandboxGc({ gc: collector, clock, logger, gcDelayMs, onRemoved });
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

/**
 * Detaches whatever `/files` serves from the removed directory `path`.
 * Attachments name real paths (links resolved), so the path is resolved
 * through its parent, which is still there; when the parent went too (a
 * directory inside a removed one), the enclosing directory's own removal
 * detaches it.
 */
async function detachRemoved(files: VirtualFiles, path: string, logger: Logger): Promise<void> {
  let real: string;
  try {
    real = join(await realpath(dirname(path)), basename(path));
  } catch {
    real = path;
  }
  for (const virtualPath of files.detachBeneath(real)) {
    logger.verbose(1, `Detached '${virtualPath}' from /files: its directory was removed`);
  }
}
