/**
 * glog's log files under `--log_dir`: one file per severity, named
 * `<program>.<host>.<user>.log.<LEVEL>.<yyyymmdd-hhmmss>.<pid>`, created on
 * the first line of that severity, each behind a `<program>.<LEVEL>` symlink.
 * A line goes into the file of its severity and of every lower one (an ERROR
 * line is in the ERROR, WARNING and INFO files).
 *
 * Writes never wait on the disk: lines collect in memory and go out with
 * asynchronous writes, at once for WARNING and ERROR, when `bufferSecs` is
 * 0, or when `bufferSecs` have passed since the last write (as glog: the
 * first line goes out at once), otherwise within `bufferSecs` (`--logbufsecs`). What is still pending
 * when the process exits is written synchronously.
 *
 * As glog, a file that has reached `maxFileBytes` (`GLOG_max_log_size`
 * MiB, 1800 by default) is left for a new one, named by the time of its
 * first line, and the link moves to it; old files are never deleted.
 */
import { closeSync, openSync, symlinkSync, unlinkSync, write, writeSync } from "node:fs";
import { join } from "node:path";
import { makeDirectories } from "../io/directories.js";
import type { Clock, TimerHandle } from "../time/clock.js";
import type { LogLevel } from "./logger.js";

export const SEVERITIES: readonly LogLevel[] = ["INFO", "WARNING", "ERROR"];

/** Flush at once when this much is pending, whatever `bufferSecs` says. */
const MAX_PENDING_BYTES = 1 << 20;

export interface LogFilesOptions {
  readonly dir: string;
  readonly program: string;
  readonly hostname: string;
  readonly user: string;
  readonly pid: number;
  /** Wall-clock milliseconds since the epoch (for file names and headers). */
  readonly now: () => number;
  /** Timers for `bufferSecs`. */
  readonly clock: Clock;
  /** `--logbufsecs`. */
  readonly bufferSecs: number;
  /** Size at which a file is left for a new one; default 1800 MiB (glog's). */
  readonly maxFileBytes?: number;
  /** Told once per failure (e.g. the directory cannot be written). */
  readonly onError: (message: string) => void;
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/** `yyyymmdd-hhmmss` in local time, as glog stamps file names. */
export function fileTimestamp(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getFullYear()}${pad2(d.getMonth() + 1)}${pad2(d.getDate())}-` +
    `${pad2(d.getHours())}${pad2(d.getMinutes())}${pad2(d.getSeconds())}`
  );
}

/** glog's file name for a severity. */
export function logFileName(
  o: Pick<LogFilesOptions, "program" | "hostname" | "user" | "pid">,
  severity: LogLevel,
  ms: number,
): string {
  return `${o.program}.${o.hostname}.${o.user}.log.${severity}.${fileTimestamp(ms)}.${o.pid}`;
}

/** The header glog puts at the top of each file. */
export function logFileHeader(hostname: string, ms: number): string {
  const d = new Date(ms);
  const date = `${d.getFullYear()}/${pad2(d.getMonth() + 1)}/${pad2(d.getDate())}`;
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  return (
    `Log file created at: ${date} ${time}\n` +
    `Running on machine: ${hostname}\n` +
    "Log line format: [IWEF]mmdd hh:mm:ss.uuuuuu threadid file:line] msg\n"
  );
}

class LogFile {
  private pending: string[] = [];
  private pendingBytes = 0;
  private writing = false;
  private closing = false;
  private waiters: (() => void)[] = [];

  constructor(
    readonly path: string,
    private readonly fd: number,
    private readonly onError: (message: string) => void,
  ) {}

  /** Characters written or pending so far, header included (for the size limit). */
  size = 0;

  append(text: string): boolean {
    this.size += text.length;
    this.pending.push(text);
    this.pendingBytes += text.length;
    return this.pendingBytes >= MAX_PENDING_BYTES;
  }

  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** Writes what is pending; `done` runs once everything appended so far is written. */
  flush(done?: () => void): void {
    if (done !== undefined) this.waiters.push(done);
    if (this.writing) return;
    if (this.pending.length === 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
      return;
    }
    const data = this.pending.join("");
    this.pending = [];
    this.pendingBytes = 0;
    this.writing = true;
    write(this.fd, data, null, "utf8", (err) => {
      this.writing = false;
      if (err) this.onError(`Failed to write to log file ${this.path}: ${err.message}`);
      if (this.closing) {
        this.finishClose();
        return;
      }
      this.flush();
    });
  }

  flushSync(): void {
    if (this.pending.length === 0) return;
    const data = this.pending.join("");
    this.pending = [];
    this.pendingBytes = 0;
    try {
      writeSync(this.fd, data);
    } catch (e) {
      this.onError(`Failed to write to log file ${this.path}: ${(e as Error).message}`);
    }
  }

  close(): void {
    this.closing = true;
    // Closing under an asynchronous write would let the kernel hand this fd
    // number to another file before the write lands: the write's callback
    // closes instead.
    if (!this.writing) this.finishClose();
  }

  private finishClose(): void {
    this.flushSync();
    try {
      closeSync(this.fd);
    } catch {
      // Already closed or never usable: nothing left to save.
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** The set of log files of one process. */
export class LogFiles {
  private readonly files = new Map<LogLevel, LogFile>();
  private readonly failed = new Set<LogLevel>();
  private timer: TimerHandle | undefined;
  private readonly onExit = () => this.flushSync();
  private readonly maxFileBytes: number;
  /** Monotonic time before which INFO lines are held (`bufferSecs` after the last flush). */
  private nextFlushAt = Number.NEGATIVE_INFINITY;
  private closed = false;

  constructor(private readonly options: LogFilesOptions) {
    this.maxFileBytes = options.maxFileBytes ?? 1800 * 2 ** 20;
    process.once("exit", this.onExit);
  }

  /** Path of the current file of a severity, if created (the `--logging_level` one is what `/files` shows). */
  path(severity: LogLevel): string | undefined {
    return this.files.get(severity)?.path;
  }

  /** Adds a formatted line (ending in `\n`) of `severity`. */
  write(severity: LogLevel, line: string): void {
    if (this.closed) return;
    const rank = SEVERITIES.indexOf(severity);
    // As glog: a line at or past the flush deadline goes out at once (so the
    // first line after a quiet spell does), later ones wait for the timer.
    let urgent =
      rank > 0 ||
      this.options.bufferSecs <= 0 ||
      this.options.clock.monotonic() >= this.nextFlushAt;
    for (let i = 0; i <= rank; i++) {
      const target = SEVERITIES[i];
      if (target === undefined) continue;
      let file = this.open(target);
      if (file !== undefined && file.size >= this.maxFileBytes) file = this.rotate(target, file);
      if (file?.append(line)) urgent = true;
    }
    if (urgent) this.flush();
    else if (this.timer === undefined) {
      this.timer = this.options.clock.setTimer(this.options.bufferSecs * 1000, () => {
        this.timer = undefined;
        this.flush();
      });
    }
  }

  /** Starts writing everything pending; `done` runs when it is on disk (or failed). */
  flush(done?: () => void): void {
    this.nextFlushAt = this.options.clock.monotonic() + this.options.bufferSecs * 1000;
    if (this.timer !== undefined) {
      this.options.clock.cancelTimer(this.timer);
      this.timer = undefined;
    }
    let waiting = this.files.size + 1;
    const one = () => {
      waiting--;
      if (waiting === 0) done?.();
    };
    for (const file of this.files.values()) file.flush(one);
    one();
  }

  /** Writes everything pending now (used at exit). */
  flushSync(): void {
    for (const file of this.files.values()) file.flushSync();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) this.options.clock.cancelTimer(this.timer);
    process.removeListener("exit", this.onExit);
    for (const file of this.files.values()) file.close();
    this.files.clear();
  }

  /**
   * Leaves a full file for a new one, as glog does before writing a line
   * past the limit. Within the second the full file was created the new
   * name would be the same: the full file is kept until the second turns.
   */
  private rotate(severity: LogLevel, full: LogFile): LogFile | undefined {
    const name = logFileName(this.options, severity, this.options.now());
    if (join(this.options.dir, name) === full.path) return full;
    full.close();
    this.files.delete(severity);
    return this.open(severity);
  }

  private open(severity: LogLevel): LogFile | undefined {
    const existing = this.files.get(severity);
    if (existing !== undefined || this.failed.has(severity)) return existing;
    const o = this.options;
    const ms = o.now();
    const name = logFileName(o, severity, ms);
    const path = join(o.dir, name);
    const header = logFileHeader(o.hostname, ms);
    let fd: number;
    try {
      makeDirectories(o.dir);
      fd = openSync(path, "a", 0o664);
      writeSync(fd, header);
    } catch (e) {
      this.failed.add(severity);
      o.onError(`Could not create log file ${path}: ${(e as Error).message}`);
      return undefined;
    }
    // The <program>.<LEVEL> link always names the newest file, relative to the directory.
    const link = join(o.dir, `${o.program}.${severity}`);
    try {
      unlinkSync(link);
    } catch {
      // No previous link.
    }
    try {
      symlinkSync(name, link);
    } catch (e) {
      o.onError(`Could not create symlink ${link}: ${(e as Error).message}`);
    }
    const file = new LogFile(path, fd, o.onError);
    file.size = header.length;
    this.files.set(severity, file);
    return file;
  }
}
