/**
 * The logging interface every component takes. The glog-style implementation
 * (stderr lines, --log_dir files, levels) lives beside this file; tests may
 * pass `silentLogger` or a capturing logger.
 */
export type LogLevel = "INFO" | "WARNING" | "ERROR";

/**
 * One logging call site, for hot paths: the glog logger finds the site's
 * `file:line` from a stack frame the first time it writes a line from it
 * and reuses it afterwards (a stack capture costs ~3-7 µs per line). Make
 * one per call site, at module level, and never share it between sites:
 *
 *     const RECEIVED = new LogSite();
 *     ...
 *     logger.info(`Received ${what}`, RECEIVED);
 */
export class LogSite {
  /** `file:line`, once known. */
  where: string | undefined = undefined;
}

export interface Logger {
  info(message: string, site?: LogSite): void;
  warn(message: string, site?: LogSite): void;
  error(message: string, site?: LogSite): void;
  /** Verbose logging at glog verbosity `level` (shown when --logging_level/VLOG allows). */
  verbose(level: number, message: string, site?: LogSite): void;
}

export const silentLogger: Logger = {
  info: () => {},
  warn: () => {},
  error: () => {},
  verbose: () => {},
};
