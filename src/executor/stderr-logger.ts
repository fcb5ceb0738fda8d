/**
 * A minimal glog-style logger on stderr for executors, whose stderr the
 * agent sends to the sandbox `stderr` file. Lines look like Mesos':
 * `I0102 03:04:05.678901 12345 executor.ts] message`. Kept separate from the
 * daemons' logger so the executor loads nothing more at start-up.
 */
import type { Logger } from "../common/observability/logger.js";
import type { Clock } from "../common/time/clock.js";

const pad = (n: number, width = 2): string => String(n).padStart(width, "0");

const RANK: Record<string, number> = { I: 0, W: 1, E: 2 };

/** How much to log: `verbosity` enables `verbose(level)` lines up to that level. */
export interface StderrLoggerOptions {
  verbosity?: number;
  /** Lowest severity written (`--logging_level`); default INFO. */
  minimum?: "INFO" | "WARNING" | "ERROR";
  /** `--quiet`: write nothing. */
  quiet?: boolean;
  /** Where lines go; default: this process' stderr (a hosted executor writes to its sandbox's). */
  write?: (line: string) => void;
}

/** Builds a glog-style logger writing to stderr. */
export function stderrLogger(
  clock: Clock,
  source: string,
  options: StderrLoggerOptions = {},
): Logger {
  const verbosity = options.verbosity ?? 0;
  const out = options.write ?? ((line: string) => process.stderr.write(line));
  const minimum = options.quiet ? 3 : (RANK[(options.minimum ?? "INFO").charAt(0)] ?? 0);
  const write = (severity: string, message: string): void => {
    if ((RANK[severity] ?? 0) < minimum) return;
    const d = new Date(clock.now());
    const micros = `${pad(d.getMilliseconds(), 3)}000`;
    const line =
      `${severity}${pad(d.getMonth() + 1)}${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${micros} ` +
      `${String(process.pid).padStart(5)} ${source}] ${message}\n`;
    out(line);
  };
  return {
    info: (m) => write("I", m),
    warn: (m) => write("W", m),
    error: (m) => write("E", m),
    verbose: (level, m) => {
      if (level <= verbosity) write("I", m);
    },
  };
}
