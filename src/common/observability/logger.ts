/**
 * The logging interface every component takes. The glog-style implementation
 * (stderr lines, --log_dir files, levels) lives beside this file; tests may
 * pass `silentLogger` or a capturing logger.
 */
export type LogLevel = "INFO" | "WARNING" | "ERROR";

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Verbose logging at glog verbosity `level` (shown when --logging_level/VLOG allows). */
  verbose(level: number, message: string): void;
}

export const silentLogger: Logger = {
  info: () => {},
  warn: () => {},
  error: () => {},
  verbose: () => {},
};
