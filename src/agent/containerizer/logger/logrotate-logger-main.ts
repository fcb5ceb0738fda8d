/**
 * The logger process of the logrotate container logger (Mesos'
 * `mesos-logrotate-logger`): copies its stdin (the read end of a
 * container's stdout or stderr pipe) into `--log_filename`, and runs
 * `logrotate` with a configuration written beside that file whenever the
 * file would pass `--max_size`. It is started in a session of its own, so
 * it outlives an agent restart, and exits when every writer of the pipe
 * (the container's processes) is gone. It works in the log file's directory
 * with relative names: when started as a task's user, that directory was
 * entered before the switch and those above it may be closed to the user.
 *
 *   node logrotate-logger-main.js --log_filename=/sandbox/stdout --max_size=10485760
 *     [--logrotate_options='rotate 9'] [--logrotate_path=logrotate]
 *     [--in_log_directory=true: started in the log file's directory, not to be entered by name]
 */

import { spawnSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { Socket } from "node:net";
import { basename, dirname, isAbsolute } from "node:path";
import {
  CONF_SUFFIX,
  LOGGER_BUFFER_SIZE,
  logrotateCommand,
  logrotateConfig,
} from "./logrotate-settings.js";
import { RotatingLog } from "./rotating-log.js";

function fail(message: string): never {
  process.stderr.write(`mesos-logrotate-logger: ${message}\n`);
  process.exit(1);
}

function readArgs(argv: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const arg of argv) {
    const m = /^--([a-z_]+)=([\s\S]*)$/.exec(arg);
    if (m === null) fail(`unexpected argument '${arg}'`);
    out.set(m[1] as string, m[2] as string);
  }
  return out;
}

function main(): void {
  // The agent may be gone; a closed stderr must not end the logger.
  process.stderr.on("error", () => {});
  const args = readArgs(process.argv.slice(2));
  const logFile = args.get("log_filename");
  if (logFile === undefined || !isAbsolute(logFile)) {
    fail("--log_filename must be an absolute path");
  }
  const maxSize = Number(args.get("max_size") ?? "");
  if (!Number.isSafeInteger(maxSize) || maxSize < LOGGER_BUFFER_SIZE) {
    fail(`--max_size must be a whole number of at least ${LOGGER_BUFFER_SIZE} bytes`);
  }
  const options = args.get("logrotate_options");
  const logrotatePath = args.get("logrotate_path") ?? "logrotate";
  // The agent starts the logger in the log file's directory, which it opened
  // without following links: that path is not looked up again (the task's
  // user may have swapped a directory on it for a link meanwhile).
  const entered = args.get("in_log_directory") === "true";
  if (!entered && process.cwd() !== dirname(logFile)) {
    try {
      process.chdir(dirname(logFile));
    } catch (e) {
      fail(`Failed to enter the directory of '${logFile}': ${(e as Error).message}`);
    }
  }
  const name = basename(logFile);
  const conf = name + CONF_SUFFIX;
  try {
    writeFileSync(conf, logrotateConfig(name, { maxSize, options }), { mode: 0o644 });
    // logrotate refuses a configuration others may write, and a file left by an
    // earlier logger keeps its old mode.
    chmodSync(conf, 0o644);
  } catch (e) {
    fail(`Failed to write configuration file: ${(e as Error).message}`);
  }
  const command = logrotateCommand(logrotatePath, name);
  const warn = (message: string) => process.stderr.write(`mesos-logrotate-logger: ${message}\n`);
  const log = new RotatingLog(
    name,
    maxSize,
    () => {
      // A failed rotation is ignored, as in Mesos: logging goes on into the same file.
      const r = spawnSync("/bin/sh", ["-c", command], { stdio: "ignore" });
      if (r.error !== undefined || r.status !== 0) warn(`logrotate failed for '${logFile}'`);
    },
    warn,
  );
  const input = new Socket({ fd: 0, readable: true, writable: false });
  input.on("data", (chunk: Buffer) => {
    try {
      log.write(chunk);
    } catch (e) {
      fail(`Failed to open '${logFile}': ${(e as Error).message}`);
    }
  });
  input.on("end", () => {
    log.close();
    process.exit(0);
  });
  input.on("error", (e) => fail(`Failed to read: ${e.message}`));
}

main();
