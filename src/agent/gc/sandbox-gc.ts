/**
 * What the agent core asks of garbage collection, and the runtime's
 * implementation of it on top of the `GarbageCollector` and the disk.
 *
 * The core calls these synchronously at the moments Mesos does (an
 * executor's run ends, a framework leaves, recovery finds finished runs):
 * the schedule is updated at once, so an `unschedule` that follows a
 * `schedule` (a framework back with a new task) always sees it. Only the
 * mtime bookkeeping touches the disk.
 */
import { lstatSync, readdirSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../../common/observability/logger.js";
import type { Clock } from "../../common/time/clock.js";
import { agentPath, metaRoot } from "../paths.js";
import { type GarbageCollector, type GcOutcome, remainingDelayMs } from "./garbage-collector.js";

/** The agent core's view of garbage collection. */
export interface SandboxGc {
  /** `path` is finished with now: remove it after `--gc_delay`. */
  schedule(path: string): void;
  /**
   * `path` was found finished (at recovery): remove it `--gc_delay` after
   * it was last modified.
   */
  scheduleByAge(path: string): void;
  /** `path` is in use again: keep it. */
  unschedule(path: string): void;
}

export interface DiskSandboxGcOptions {
  gc: GarbageCollector;
  clock: Clock;
  logger: Logger;
  /** `--gc_delay` in milliseconds. */
  gcDelayMs: number;
  /** Told of each scheduled path once it is gone from the disk (removed, or found missing). */
  onRemoved?: ((path: string) => void) | undefined;
}

/** `SandboxGc` on the real disk. */
export class DiskSandboxGc implements SandboxGc {
  constructor(private readonly o: DiskSandboxGcOptions) {}

  schedule(path: string): void {
    // The mtime records when the path was finished with, for the age
    // count after an agent restart (as Mesos touches it).
    const seconds = this.o.clock.now() / 1000;
    try {
      utimesSync(path, seconds, seconds);
    } catch {
      // Missing: the collector will find nothing to remove.
    }
    this.track(path, this.o.gc.schedule(this.o.gcDelayMs, path));
  }

  scheduleByAge(path: string): void {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(path).mtimeMs;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") {
        this.o.logger.error(`Failed to find the mtime of '${path}': ${(e as Error).message}`);
      }
      return;
    }
    const delay = remainingDelayMs(this.o.gcDelayMs, mtimeMs, this.o.clock.now());
    this.track(path, this.o.gc.schedule(delay, path));
  }

  /** The collector logs the outcome; only a path gone from the disk is passed on. */
  private track(path: string, outcome: Promise<GcOutcome>): void {
    const onRemoved = this.o.onRemoved;
    if (onRemoved === undefined) return;
    void outcome.then((o) => {
      if (o.kind === "removed" || o.kind === "missing") onRemoved(path);
    });
  }

  unschedule(path: string): void {
    this.o.gc.unschedule(path);
  }
}

/**
 * Schedules the directories of earlier agent ids (`slaves/<id>` in the work
 * directory and in the checkpoint directory) once recovery is over, as
 * Mesos does: every id but `currentId`, or all of them when the agent did
 * not recover an id (it will register as a new agent). Returns the ids.
 */
export function scheduleOldAgentDirectories(
  workDir: string,
  currentId: string | undefined,
  gc: SandboxGc,
  logger: Logger,
): string[] {
  let names: string[];
  try {
    names = readdirSync(join(workDir, "slaves"));
  } catch {
    return [];
  }
  const old: string[] = [];
  for (const id of names) {
    if (id === currentId) continue;
    const work = agentPath(workDir, id);
    try {
      if (!lstatSync(work).isDirectory()) continue;
    } catch {
      continue;
    }
    logger.info(`Garbage collecting old agent ${id}`);
    old.push(id);
    gc.schedule(work);
    const meta = agentPath(metaRoot(workDir), id);
    try {
      if (lstatSync(meta).isDirectory()) gc.schedule(meta);
    } catch {
      // No checkpoint directory for that id.
    }
  }
  return old;
}
