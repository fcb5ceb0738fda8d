/**
 * The agent's garbage collector for finished sandboxes and checkpoint
 * directories (Mesos' `GarbageCollector`): paths are scheduled for removal
 * after a delay, can be unscheduled while they wait (a framework or
 * executor comes back), and can be removed early when the disk fills up
 * (`prune`). Pure logic on an injected clock; the disk is reached only
 * through the injected `remove` function, so tests need no files.
 */
import { Duration } from "../../common/flags/duration.js";
import type { Logger } from "../../common/observability/logger.js";
import type { Clock, TimerHandle } from "../../common/time/clock.js";

/** What `remove` found: the path was deleted, or there was nothing there. */
export type RemoveResult = "removed" | "missing";

/** Deletes a path (recursively); rejects when it cannot. */
export type PathRemover = (path: string) => Promise<RemoveResult>;

/**
 * How a scheduled path ended:
 * - `removed`: deleted by this collector (or with a parent path it deleted);
 * - `missing`: it was already gone when its time came;
 * - `unscheduled`: taken off the schedule (or rescheduled) before removal;
 * - `failed`: deleting it failed (`error` says why).
 */
export type GcOutcome =
  | { readonly kind: "removed" }
  | { readonly kind: "missing" }
  | { readonly kind: "unscheduled" }
  | { readonly kind: "failed"; readonly error: string };

export interface GarbageCollectorOptions {
  clock: Clock;
  logger: Logger;
  remove: PathRemover;
}

interface Entry {
  readonly path: string;
  /** Monotonic milliseconds when the path is due. */
  readonly due: number;
  /** Queued for removal (it can no longer be unscheduled). */
  removing: boolean;
  /** The remover is working on it. */
  started: boolean;
  readonly settle: (outcome: GcOutcome) => void;
}

/** A delay as stout prints a Duration (`1weeks`, `6.5days`, `0ns`), as Mesos' collector logs it. */
function durationText(ms: number): string {
  return Duration.nanoseconds(Math.round(Math.max(0, ms) * 1e6)).toString();
}

/** True when `path` lies strictly inside `parent`. */
function isBeneath(path: string, parent: string): boolean {
  const prefix = parent.endsWith("/") ? parent : `${parent}/`;
  return path.startsWith(prefix);
}

/**
 * Schedules paths for removal. At most one timer is armed (for the earliest
 * due path) and removals run one at a time, so a burst of expirations never
 * floods the disk.
 */
export class GarbageCollector {
  private readonly entries = new Map<string, Entry>();
  private timer: TimerHandle | undefined;
  private timerDue = Number.POSITIVE_INFINITY;
  /** The tail of the removal queue: removals run one after another. */
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;
  private succeededCount = 0;
  private failedCount = 0;

  constructor(private readonly o: GarbageCollectorOptions) {}

  /** Paths scheduled and not yet removed (including those being removed): `gc/path_removals_pending`. */
  get pending(): number {
    return this.entries.size;
  }

  /** Paths removed so far: `gc/path_removals_succeeded`. */
  get succeeded(): number {
    return this.succeededCount;
  }

  /** Removals that failed so far: `gc/path_removals_failed`. */
  get failed(): number {
    return this.failedCount;
  }

  /** True while `path` is scheduled (or being removed). */
  isScheduled(path: string): boolean {
    return this.entries.has(path);
  }

  /** Milliseconds until `path` is due, if it is scheduled. */
  remaining(path: string): number | undefined {
    const entry = this.entries.get(path);
    return entry === undefined ? undefined : Math.max(0, entry.due - this.o.clock.monotonic());
  }

  /**
   * Schedules `path` for removal in `delayMs` (a negative delay means now).
   * A path already scheduled is rescheduled: its earlier promise resolves
   * `unscheduled`. A path being removed is scheduled again once that
   * removal ends. The promise never rejects.
   */
  schedule(delayMs: number, path: string): Promise<GcOutcome> {
    const current = this.entries.get(path);
    if (current?.removing === true) {
      return this.settled(current).then(() => this.schedule(delayMs, path));
    }
    if (current !== undefined) this.drop(current, { kind: "unscheduled" });
    this.o.logger.info(`Scheduling '${path}' for gc ${durationText(delayMs)} in the future`);
    return new Promise<GcOutcome>((resolve) => {
      const entry: Entry = {
        path,
        due: this.o.clock.monotonic() + Math.max(0, delayMs),
        removing: false,
        started: false,
        settle: resolve,
      };
      this.entries.set(path, entry);
      this.arm();
    });
  }

  /**
   * Takes `path` off the schedule. True when it was waiting; false when it
   * was not scheduled or its removal has already started.
   */
  unschedule(path: string): boolean {
    const entry = this.entries.get(path);
    if (entry === undefined || entry.removing) return false;
    this.o.logger.info(`Unscheduling '${path}' from gc`);
    this.drop(entry, { kind: "unscheduled" });
    this.arm();
    return true;
  }

  /**
   * Removes now every path due within the next `withinMs` milliseconds
   * (Mesos' `prune`): with paths scheduled `gc_delay` ahead, pruning within
   * `gc_delay - maxAge` removes those scheduled at least `maxAge` ago.
   * Returns how many removals it started.
   */
  prune(withinMs: number): number {
    const limit = this.o.clock.monotonic() + withinMs;
    const due = [...this.entries.values()].filter((e) => !e.removing && e.due <= limit);
    if (due.length > 0) {
      this.o.logger.info(
        `Pruning ${due.length} path(s) with remaining removal time up to ${durationText(withinMs)}`,
      );
    }
    for (const entry of due) this.startRemoval(entry);
    return due.length;
  }

  /** Cancels the timer; waiting paths stay unremoved and their promises resolve `unscheduled`. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.o.clock.cancelTimer(this.timer);
    this.timer = undefined;
    for (const entry of [...this.entries.values()]) {
      if (!entry.removing) this.drop(entry, { kind: "unscheduled" });
    }
  }

  /** Resolves once every removal started so far has ended (for tests and shutdown). */
  idle(): Promise<void> {
    return this.queue;
  }

  // ---- internals --------------------------------------------------------------

  private drop(entry: Entry, outcome: GcOutcome): void {
    if (this.entries.get(entry.path) === entry) this.entries.delete(entry.path);
    entry.settle(outcome);
  }

  /** Resolves when `entry` leaves the schedule (its removal ended). */
  private settled(entry: Entry): Promise<void> {
    return new Promise<void>((resolve) => {
      const check = () => {
        if (this.entries.get(entry.path) !== entry) resolve();
        else void this.queue.then(check);
      };
      check();
    });
  }

  /** Arms the single timer for the earliest waiting path. */
  private arm(): void {
    if (this.stopped) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const entry of this.entries.values()) {
      if (!entry.removing && entry.due < earliest) earliest = entry.due;
    }
    if (earliest === this.timerDue && this.timer !== undefined) return;
    if (this.timer !== undefined) this.o.clock.cancelTimer(this.timer);
    this.timer = undefined;
    this.timerDue = earliest;
    if (earliest === Number.POSITIVE_INFINITY) return;
    this.timer = this.o.clock.setTimer(earliest - this.o.clock.monotonic(), () => {
      this.timer = undefined;
      this.timerDue = Number.POSITIVE_INFINITY;
      this.fire();
    });
  }

  private fire(): void {
    const now = this.o.clock.monotonic();
    for (const entry of [...this.entries.values()]) {
      if (!entry.removing && entry.due <= now) this.startRemoval(entry);
    }
    this.arm();
  }

  private startRemoval(entry: Entry): void {
    entry.removing = true;
    this.queue = this.queue.then(() => this.removeOne(entry));
  }

  private async removeOne(entry: Entry): Promise<void> {
    // A parent removed earlier in the queue may have taken this path already.
    if (this.entries.get(entry.path) !== entry) return;
    entry.started = true;
    this.o.logger.info(`Deleting ${entry.path}`);
    let outcome: GcOutcome;
    try {
      const result = await this.o.remove(entry.path);
      if (result === "missing") {
        this.o.logger.info(`Skipped '${entry.path}' which does not exist`);
        outcome = { kind: "missing" };
      } else {
        this.o.logger.info(`Deleted '${entry.path}'`);
        this.succeededCount++;
        outcome = { kind: "removed" };
      }
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      this.o.logger.warn(`Failed to delete '${entry.path}': ${error}`);
      this.failedCount++;
      outcome = { kind: "failed", error };
    }
    this.drop(entry, outcome);
    if (outcome.kind === "removed" || outcome.kind === "missing") this.dropBeneath(entry.path);
    this.arm();
  }

  /** Paths scheduled inside a removed directory went with it. */
  private dropBeneath(parent: string): void {
    for (const entry of [...this.entries.values()]) {
      if (!entry.started && isBeneath(entry.path, parent)) {
        this.drop(entry, { kind: "removed" });
      }
    }
  }
}

/**
 * The delay that removes a path `gcDelayMs` after it was last modified
 * (Mesos' `garbageCollect(path)`): the rest of the delay, at least 0.
 */
export function remainingDelayMs(gcDelayMs: number, mtimeMs: number, nowMs: number): number {
  return Math.max(0, gcDelayMs - (nowMs - mtimeMs));
}
