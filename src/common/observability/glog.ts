/**
 * The glog-style `Logger` of the daemons: lines such as
 *
 *     I1228 07:29:16.367847  2900 master.ts:318] Elected as the leading master!
 *
 * (level letter, month and day, local time with microseconds, process id
 * right-aligned in five columns, the caller's TypeScript file and line) on
 * stderr and, with `--log_dir`, in glog's files (see log-files.ts).
 *
 * Levels follow Mesos' logging flags: nothing below `--logging_level` is
 * written anywhere; `--quiet` silences stderr only. `verbose(n, ...)` lines
 * (glog's VLOG) are written as INFO when `n` is at most the verbosity, which
 * starts at `GLOG_v` and can be raised for a while with `setLevel` (the
 * `/logging/toggle` endpoint).
 *
 * The caller's file:line comes from one stack frame (~3-7 µs), looked up
 * only for lines that are written, and once per `LogSite` for calls that
 * pass one (hot paths); pass `sourceLookup: false` to name a fixed `source`
 * instead.
 */
import { writeSync } from "node:fs";
import { hostname as osHostname, userInfo } from "node:os";
import { systemErrorReason } from "../flags/system-error.js";
import { makeDirectories } from "../io/directories.js";
import { type Clock, systemClock, type TimerHandle } from "../time/clock.js";
import { callerSite } from "./glog-source.js";
import { LogFiles } from "./log-files.js";
import type { Logger, LogLevel, LogSite } from "./logger.js";

const RANK: Record<LogLevel, number> = { INFO: 0, WARNING: 1, ERROR: 2 };

export interface GlogOptions {
  /** Program name for file names and links, e.g. `mesos-master`. */
  readonly program: string;
  /** `--logging_level`: lowest level written anywhere. Default INFO. */
  readonly minLevel?: LogLevel;
  /** `--quiet`: nothing on stderr. */
  readonly quiet?: boolean;
  /** `--log_dir`: also write glog files there. */
  readonly logDir?: string;
  /** `--logbufsecs`. */
  readonly logbufsecs?: number;
  /** Size in MiB at which a log file is left for a new one (`GLOG_max_log_size`); default 1800. */
  readonly maxLogSizeMb?: number;
  /** Starting VLOG verbosity (`GLOG_v`). Default 0. */
  readonly verbosity?: number;
  /** Where stderr lines go. Default `process.stderr`. */
  readonly stderr?: { write(text: string): unknown };
  /** Line format on stderr: `glog` (default) or `json` (one JSON object per line). Files are always glog. */
  readonly stderrFormat?: "glog" | "json";
  /** Wall-clock epoch milliseconds, fractions allowed (for the microseconds). */
  readonly now?: () => number;
  /** Timers (`--logbufsecs`, `setLevel` expiry). Default the system clock. */
  readonly clock?: Clock;
  /** The id glog prints (its thread id); default the process id. */
  readonly pid?: number;
  readonly hostname?: string;
  readonly user?: string;
  /** Look up the caller's file:line (default true); otherwise print `source`. */
  readonly sourceLookup?: boolean;
  /** The file:line shown when lookup is off or fails. Default `<program>:0`. */
  readonly source?: string;
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/** glog's line prefix and message, newline-terminated. `ms` is epoch milliseconds (fractional). */
export function formatGlogLine(
  level: LogLevel,
  ms: number,
  pid: number,
  source: string,
  message: string,
): string {
  // Whole microseconds first, so float noise in `ms` cannot shift the last digit.
  const totalMicros = Math.round(ms * 1000);
  const second = Math.floor(totalMicros / 1_000_000);
  if (second !== stamp.second || pid !== stamp.pid) {
    // Local date and time change once a second: format them once a second.
    const d = new Date(second * 1000);
    stamp.second = second;
    stamp.pid = pid;
    stamp.date =
      `${pad2(d.getMonth() + 1)}${pad2(d.getDate())} ` +
      `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.`;
    stamp.pidText = String(pid).padStart(5);
  }
  const micros = totalMicros % 1_000_000;
  const head = `${level[0]}${stamp.date}${String(micros).padStart(6, "0")} ${stamp.pidText} ${source}] `;
  return message.endsWith("\n") ? `${head}${message}` : `${head}${message}\n`;
}

/** The last second formatted by `formatGlogLine`. */
const stamp = { second: Number.NaN, pid: Number.NaN, date: "", pidText: "" };

/** The same line as one JSON object (for log shippers). */
export function formatJsonLine(
  level: LogLevel,
  ms: number,
  pid: number,
  source: string,
  message: string,
): string {
  return `${JSON.stringify({ time: new Date(ms).toISOString(), level, pid, source, message })}\n`;
}

/**
 * Wall-clock time with microseconds: the monotonic clock (fractions of a
 * millisecond) plus an offset to the wall clock, checked against
 * `Date.now()` at most once a second. `Date.now()` truncates to whole
 * milliseconds, so the offset is kept while it agrees with it (within that
 * millisecond) and moved only when the wall clock was set; taking
 * `Date.now()` as is would print `.xxx000` for the first line after each
 * quiet second.
 */
export function preciseWallClock(
  wall: () => number = Date.now,
  mono: () => number = () => performance.now(),
): () => number {
  let anchoredAt = mono();
  let offset = wall() + 0.5 - anchoredAt;
  return () => {
    const m = mono();
    if (m - anchoredAt > 1000) {
      anchoredAt = m;
      const w = wall();
      const estimate = offset + m;
      if (estimate < w || estimate >= w + 1) offset = w + 0.5 - m;
    }
    return offset + m;
  };
}

function currentUser(): string {
  try {
    return process.env.USER ?? userInfo().username;
  } catch {
    return "invalid-user";
  }
}

type LogMethod = (...args: never[]) => unknown;

/** Pending bytes beyond which the batch is written at once. */
const STDERR_BATCH_BYTES = 64 * 1024;

let stderrBatch: { write(text: string): unknown } | undefined;

/**
 * The process's stderr, written once per event-loop turn: a daemon logs a few
 * lines per status update, and one synchronous write per line cost ~5 % of
 * the master's and agent's CPU at 1,000 updates/s. Lines still reach stderr
 * in order, before the loop next waits for I/O, and on exit.
 */
function processStderrBatch(): { write(text: string): unknown } {
  if (stderrBatch !== undefined) return stderrBatch;
  let pending: string[] = [];
  let bytes = 0;
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.length === 1 ? (pending[0] as string) : pending.join("");
    pending = [];
    bytes = 0;
    process.stderr.write(text);
  };
  process.on("exit", flush);
  stderrBatch = {
    write(text: string): boolean {
      pending.push(text);
      bytes += text.length;
      if (bytes >= STDERR_BATCH_BYTES) flush();
      else if (!scheduled) {
        scheduled = true;
        // Not a timer: runs right after this turn's I/O callbacks.
        setImmediate(flush);
      }
      return true;
    },
  };
  return stderrBatch;
}

/** The daemons' logger. Implements `Logger`; also `setLevel`, `child`, `flush`, `close`. */
export class GlogLogger implements Logger {
  private readonly minLevel: LogLevel;
  private readonly minRank: number;
  private readonly quiet: boolean;
  private readonly stderr: { write(text: string): unknown };
  private readonly json: boolean;
  private readonly now: () => number;
  private readonly clock: Clock;
  private readonly pid: number;
  private readonly lookup: boolean;
  private readonly source: string;
  private readonly files: LogFiles | undefined;
  private readonly baseVerbosity: number;
  private currentVerbosity: number;
  private revertTimer: TimerHandle | undefined;

  constructor(options: GlogOptions) {
    this.minLevel = options.minLevel ?? "INFO";
    this.minRank = RANK[this.minLevel];
    this.quiet = options.quiet === true;
    this.stderr = options.stderr ?? processStderrBatch();
    this.json = options.stderrFormat === "json";
    this.now = options.now ?? preciseWallClock();
    this.clock = options.clock ?? systemClock;
    this.pid = options.pid ?? process.pid;
    this.lookup = options.sourceLookup !== false;
    this.source = options.source ?? `${options.program}:0`;
    this.baseVerbosity = Math.max(0, Math.trunc(options.verbosity ?? 0));
    this.currentVerbosity = this.baseVerbosity;
    if (options.logDir !== undefined) {
      let reported = false;
      this.files = new LogFiles({
        dir: options.logDir,
        program: options.program,
        hostname: options.hostname ?? osHostname(),
        user: options.user ?? currentUser(),
        pid: this.pid,
        now: this.now,
        clock: this.clock,
        bufferSecs: options.logbufsecs ?? 0,
        maxFileBytes: (options.maxLogSizeMb ?? 1800) * 2 ** 20,
        onError: (message) => {
          // Say it once on stderr (even when quiet): losing log files matters.
          if (!reported) this.stderr.write(`${message}\n`);
          reported = true;
        },
      });
    }
  }

  info(message: string, site?: LogSite): void {
    this.log("INFO", message, this.info, site);
  }

  warn(message: string, site?: LogSite): void {
    this.log("WARNING", message, this.warn, site);
  }

  error(message: string, site?: LogSite): void {
    this.log("ERROR", message, this.error, site);
  }

  verbose(level: number, message: string, site?: LogSite): void {
    if (level > this.currentVerbosity) return;
    this.log("INFO", message, this.verbose, site);
  }

  /** True when `verbose(level, ...)` lines are written now (to skip building costly messages). */
  isVerbose(level: number): boolean {
    return level <= this.currentVerbosity && this.minRank === 0;
  }

  /** The VLOG verbosity in force. */
  get verbosity(): number {
    return this.currentVerbosity;
  }

  /**
   * Sets the VLOG verbosity to `level` for `durationMs`, then back to the
   * starting one (`/logging/toggle?level=N&duration=D`). A new call replaces
   * the previous one and its expiry.
   */
  setLevel(level: number, durationMs: number): void {
    if (!Number.isInteger(level) || level < 0) throw new RangeError(`bad verbosity ${level}`);
    if (this.revertTimer !== undefined) this.clock.cancelTimer(this.revertTimer);
    this.currentVerbosity = level;
    this.revertTimer = this.clock.setTimer(durationMs, () => {
      this.revertTimer = undefined;
      this.currentVerbosity = this.baseVerbosity;
    });
  }

  /** A logger whose lines start with `prefix` (e.g. `"Framework abc: "`), sharing this one's outputs. */
  child(prefix: string): Logger {
    const child: Logger = {
      info: (m, site) => this.log("INFO", prefix + m, child.info, site),
      warn: (m, site) => this.log("WARNING", prefix + m, child.warn, site),
      error: (m, site) => this.log("ERROR", prefix + m, child.error, site),
      verbose: (level, m, site) => {
        if (level <= this.currentVerbosity) this.log("INFO", prefix + m, child.verbose, site);
      },
    };
    return child;
  }

  /**
   * The current log file of the `--logging_level` severity, if any: what
   * `/master/log` and `/slave/log` show, as Mesos attaches that file (with
   * `--logging_level=WARNING`, the WARNING file).
   */
  logFile(): string | undefined {
    return this.files?.path(this.minLevel);
  }

  /** Resolves once every line logged so far is in the files. */
  flush(): Promise<void> {
    const files = this.files;
    if (files === undefined) return Promise.resolve();
    return new Promise((resolve) => files.flush(resolve));
  }

  /** Writes pending lines and closes the files; later lines go to stderr only. */
  close(): void {
    if (this.revertTimer !== undefined) this.clock.cancelTimer(this.revertTimer);
    this.revertTimer = undefined;
    this.files?.close();
  }

  private log(level: LogLevel, message: string, caller: LogMethod, site?: LogSite): void {
    if (RANK[level] < this.minRank) return;
    const toStderr = !this.quiet;
    if (!toStderr && this.files === undefined) return;
    let source = this.source;
    if (this.lookup) {
      const known = site?.where;
      if (known !== undefined) source = known;
      else {
        const found = callerSite(caller);
        if (found !== undefined) source = `${found.file}:${found.line}`;
        if (site !== undefined) site.where = source;
      }
    }
    const ms = this.now();
    const line = formatGlogLine(level, ms, this.pid, source, message);
    if (toStderr) {
      this.stderr.write(this.json ? formatJsonLine(level, ms, this.pid, source, message) : line);
    }
    this.files?.write(level, line);
  }
}

/**
 * Creates `--log_dir` (and its parents); returns Mesos' line when that
 * fails, e.g. `Could not initialize logging: Failed to create directory
 * /etc/passwd/logs: Not a directory`.
 */
export function logDirectoryProblem(dir: string): string | undefined {
  try {
    makeDirectories(dir);
    return undefined;
  } catch (e) {
    return `Could not initialize logging: Failed to create directory ${dir}: ${systemErrorReason(e)}`;
  }
}

/**
 * glog's reading of `GLOG_max_log_size`: 1800 MiB when unset; a value
 * outside 1-4095 (or not a number) means 1 MiB.
 */
export function maxLogSizeMb(text: string | undefined): number {
  if (text === undefined) return 1800;
  const n = Number.parseInt(text, 10);
  return n > 0 && n < 4096 ? n : 1;
}

/** The logging flag values a daemon passes to `createDaemonLogger`. */
export interface LoggingFlagValues {
  readonly quiet: boolean;
  readonly logging_level: string;
  readonly log_dir?: string | undefined;
  readonly logbufsecs: number;
}

/**
 * Sets up a daemon's logger from its logging flags and environment (`GLOG_v`),
 * as Mesos' logging::initialize does, including the first line that creates
 * the log file.
 */
export function createDaemonLogger(
  program: string,
  flags: LoggingFlagValues,
  env: Readonly<Record<string, string | undefined>> = process.env,
  overrides: Partial<GlogOptions> = {},
): GlogLogger {
  if (flags.log_dir !== undefined) {
    const problem = logDirectoryProblem(flags.log_dir);
    if (problem !== undefined) {
      // As Mesos: a daemon asked to keep log files that it cannot keep stops
      // at once rather than run without them.
      writeSync(2, `${problem}\n`);
      process.exit(1);
    }
  }
  const level = (["INFO", "WARNING", "ERROR"] as const).find((l) => l === flags.logging_level);
  const verbosity = Number.parseInt(env.GLOG_v ?? "0", 10);
  const logger = new GlogLogger({
    program,
    minLevel: level ?? "INFO",
    quiet: flags.quiet,
    logbufsecs: flags.logbufsecs,
    maxLogSizeMb: maxLogSizeMb(env.GLOG_max_log_size),
    verbosity: Number.isFinite(verbosity) ? verbosity : 0,
    ...(flags.log_dir !== undefined ? { logDir: flags.log_dir } : {}),
    ...overrides,
  });
  if (flags.log_dir !== undefined) {
    const started = `${level ?? "INFO"} level logging started!`;
    if (level === "ERROR") logger.error(started);
    else if (level === "WARNING") logger.warn(started);
    else logger.info(started);
  }
  logger.verbose(1, `Logging to ${flags.log_dir ?? "STDERR"}`);
  return logger;
}
