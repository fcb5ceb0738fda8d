/**
 * The disk watch behind sandbox garbage collection (Mesos'
 * `checkDiskUsage`): every `--disk_watch_interval` the agent reads how full
 * the file system holding `--work_dir` is, derives how old a finished
 * sandbox may get, and prunes what is older.
 */
import { statfs } from "node:fs/promises";
import { Duration } from "../../common/flags/duration.js";
import type { Logger } from "../../common/observability/logger.js";
import type { Clock, TimerHandle } from "../../common/time/clock.js";

/**
 * How old a finished sandbox may get before garbage collection takes it, as
 * Mesos computes it: `gc_delay x max(0, 1 - gc_disk_headroom - usage)`, with
 * `usage` the used fraction (0-1) of the work directory's file system.
 * Works in any unit: the result is in the unit of `gcDelay`.
 */
export function executorDirectoryMaxAllowedAgeSecs(
  gcDelaySecs: number,
  diskHeadroom: number,
  usage: number,
): number {
  return gcDelaySecs * Math.max(0, 1 - diskHeadroom - usage);
}

/** The used fraction of the file system holding `path` (blocks in use over all blocks). */
export async function diskUsage(path: string): Promise<number> {
  const s = await statfs(path);
  return s.blocks === 0 ? 0 : (s.blocks - s.bfree) / s.blocks;
}

/** The age as stout prints a Duration (`0ns`, `6.3days`), as Mesos' disk check logs it. */
function maxAgeText(ms: number): string {
  return Duration.nanoseconds(Math.round(ms * 1e6)).toString();
}

/** What the watch prunes: the garbage collector's `prune`. */
export interface Prunable {
  prune(withinMs: number): number;
}

export interface DiskWatchOptions {
  clock: Clock;
  logger: Logger;
  /** `--disk_watch_interval` in milliseconds. */
  intervalMs: number;
  /** `--gc_delay` in milliseconds. */
  gcDelayMs: number;
  /** `--gc_disk_headroom` (0-1). */
  diskHeadroom: number;
  /** Reads the used fraction of the work directory's file system. */
  usage: () => Promise<number>;
  gc: Prunable;
}

/**
 * Checks the disk every interval (the first check one interval after
 * `start`, as in Mesos) and prunes sandboxes older than the allowed age.
 */
export class DiskWatch {
  private timer: TimerHandle | undefined;
  private running = false;
  /** The allowed age from the last check; before any check, as for an empty disk. */
  private maxAgeMs: number;

  constructor(private readonly o: DiskWatchOptions) {
    this.maxAgeMs = executorDirectoryMaxAllowedAgeSecs(o.gcDelayMs, o.diskHeadroom, 0);
  }

  /** The max allowed age of a finished sandbox from the last check, in milliseconds. */
  get maxAllowedAgeMs(): number {
    return this.maxAgeMs;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.arm();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== undefined) this.o.clock.cancelTimer(this.timer);
    this.timer = undefined;
  }

  /** One check: read the usage, update the allowed age, prune. Never rejects. */
  async check(): Promise<void> {
    let usage: number;
    try {
      usage = await this.o.usage();
    } catch (e) {
      this.o.logger.error(`Failed to get disk usage: ${(e as Error).message}`);
      return;
    }
    this.maxAgeMs = executorDirectoryMaxAllowedAgeSecs(
      this.o.gcDelayMs,
      this.o.diskHeadroom,
      usage,
    );
    this.o.logger.info(
      `Current disk usage ${(100 * usage).toFixed(2)}%. Max allowed age: ${maxAgeText(this.maxAgeMs)}`,
    );
    // Paths are scheduled gc_delay ahead, so those due within
    // gc_delay - maxAge were scheduled at least maxAge ago.
    this.o.gc.prune(this.o.gcDelayMs - this.maxAgeMs);
  }

  private arm(): void {
    this.timer = this.o.clock.setTimer(this.o.intervalMs, () => {
      this.timer = undefined;
      void this.check().then(() => {
        if (this.running) this.arm();
      });
    });
  }
}
