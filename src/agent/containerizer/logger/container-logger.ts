/**
 * The logrotate container logger, the built-in stand-in for Mesos'
 * `org_apache_mesos_LogrotateContainerLogger` module (mesos-ts loads no
 * C++ modules; `--container_logger` accepts this one name and its
 * parameters come from `--modules` / `--modules_dir` as in Mesos).
 *
 * For each container it makes two named pipes, starts one logger process
 * per pipe (logrotate-logger-main.ts, in a session of its own so it
 * outlives the agent) reading it into the sandbox's `stdout` / `stderr`,
 * and gives the pipes' paths to the launch as the container's output. All
 * of it goes through the sandbox directory the agent opened once (its
 * `/proc/<pid>/fd/<fd>` path), since the task's user may swap a directory
 * on the sandbox's path for a link meanwhile. Until
 * the launch has opened them the agent holds each pipe open for reading and
 * writing, so neither the launcher helper's open nor the logger's first read
 * can block or see an early end; afterwards only the container writes, and
 * its logger ends when the container's last process has closed the pipe.
 */

import { execFile, spawn } from "node:child_process";
import { closeSync, constants as fsConstants, openSync, readdirSync, readFileSync } from "node:fs";
import { type FileHandle, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { JsonValue } from "../../../common/flags/spec.js";
import type { Logger } from "../../../common/observability/logger.js";
import type { Environment } from "../../../common/protocol/generated/mesos-v1.js";
import { openOwnFifo, openSandbox } from "../sandbox-no-follow.js";
import {
  containerSettings,
  findModuleParameters,
  LOGROTATE_MODULE_NAME,
  type LogrotateParameters,
  parseLogrotateParameters,
  type StreamSettings,
} from "./logrotate-settings.js";

const LOGGER_MAIN = fileURLToPath(new URL("./logrotate-logger-main.js", import.meta.url));

const execFileAsync = promisify(execFile);

/** A container's prepared output: paths for the launch, and what to do once it has opened them. */
export interface ContainerOutput {
  readonly stdout: string;
  readonly stderr: string;
  /** The launch is over (started or failed): the agent lets go of the pipes. */
  release(): void;
}

/** What the logger needs to know of a container. */
export interface ContainerOutputRequest {
  /** The container's sandbox, where `stdout` and `stderr` are kept. */
  readonly directory: string;
  /**
   * A directory only the agent may change that `directory` lies below (a
   * nested container's executor sandbox): the sandbox is then opened from
   * it without following links. Unset: `directory` is opened by its path,
   * not through a link at its last name.
   */
  readonly sandboxBase?: string | undefined;
  /** The container's command environments (overrides come from `CONTAINER_LOGGER_*`). */
  readonly environments: readonly (Environment | undefined)[];
  /** Run the loggers as this user (the container's, when the agent switches users). */
  readonly ids?: { uid: number; gid: number } | undefined;
}

/** The containerizer's view of a container logger. */
export interface ContainerLogger {
  prepare(request: ContainerOutputRequest): Promise<ContainerOutput>;
}

/** The logrotate container logger. */
export class LogrotateContainerLogger implements ContainerLogger {
  constructor(
    readonly parameters: LogrotateParameters,
    private readonly logger: Logger,
  ) {}

  async prepare(request: ContainerOutputRequest): Promise<ContainerOutput> {
    const settings = containerSettings(this.parameters, request.environments);
    if (!settings.ok) throw new Error(settings.error);
    const { directory } = request;
    // Everything in the sandbox goes through the directory opened here, not
    // its path: the user may swap a directory on that path for a link.
    let dir: FileHandle;
    try {
      dir = await openSandbox(request.sandboxBase, directory);
    } catch (e) {
      throw new Error(`Failed to create the container logger's pipes: ${(e as Error).message}`);
    }
    // The agent's own view of the open directory; also right for its children (mkfifo, the loggers).
    const held = `/proc/${process.pid}/fd/${dir.fd}`;
    const names = { stdout: ".logger-stdout.fifo", stderr: ".logger-stderr.fifo" };
    const fifos = { stdout: join(directory, names.stdout), stderr: join(directory, names.stderr) };
    const inDir = (name: string) => `${held}/${name}`;
    const opened: number[] = [];
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      for (const fd of opened.splice(0)) closeSync(fd);
      void Promise.all(Object.values(names).map((n) => rm(inDir(n), { force: true }))).finally(() =>
        dir.close(),
      );
    };
    try {
      await Promise.all(Object.values(names).map((n) => rm(inDir(n), { force: true })));
      try {
        await execFileAsync("mkfifo", ["-m", "600", inDir(names.stdout), inDir(names.stderr)]);
      } catch (e) {
        throw new Error(`Failed to create the container logger's pipes: ${(e as Error).message}`);
      }
    } catch (e) {
      release();
      throw e;
    }
    try {
      for (const stream of ["stdout", "stderr"] as const) {
        // The sandbox is the user's, who may have swapped the pipe for a link
        // (to /etc/shadow, say) since mkfifo: only the agent's own pipe is
        // taken, and the logger reads that very pipe (not the name again).
        const fd = openOwnFifo(inDir(names[stream]), fsConstants.O_RDWR, fifos[stream]);
        opened.push(fd);
        this.startLogger(fd, join(directory, stream), held, settings.value[stream], request);
      }
    } catch (e) {
      release();
      throw new Error(`Failed to start the container logger: ${(e as Error).message}`);
    }
    // The launch opens the pipes through the directory held open too (until release).
    return { stdout: inDir(names.stdout), stderr: inDir(names.stderr), release };
  }

  /** Starts the logger of one stream, reading the pipe the agent holds open as `fifo`. */
  private startLogger(
    fifo: number,
    logFile: string,
    cwd: string,
    settings: StreamSettings,
    request: ContainerOutputRequest,
  ): void {
    const input = openSync(`/proc/self/fd/${fifo}`, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    try {
      const args = [
        LOGGER_MAIN,
        `--log_filename=${logFile}`,
        `--max_size=${settings.maxSize}`,
        `--logrotate_path=${this.parameters.logrotatePath}`,
        "--in_log_directory=true",
        ...(settings.options === undefined ? [] : [`--logrotate_options=${settings.options}`]),
      ];
      const child = spawn(process.execPath, args, {
        // The logger works relative to the sandbox: it is entered before the user switch,
        // so the task's user needs no access to the directories above it.
        cwd,
        detached: true,
        env: loggerEnvironment(process.env),
        stdio: [input, "ignore", "ignore"],
        ...(request.ids === undefined ? {} : request.ids),
      });
      child.once("error", (e) =>
        this.logger.warn(`Container logger for '${logFile}' failed: ${e.message}`),
      );
      child.unref();
    } finally {
      closeSync(input);
    }
  }
}

/**
 * The agent's environment without `MESOS_*` and `LIBPROCESS_*` (as Mesos
 * does for its logger), so nothing mistakes the logger for part of a container.
 */
export function loggerEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined || key.startsWith("MESOS_") || key.startsWith("LIBPROCESS_")) continue;
    out[key] = value;
  }
  return out;
}

/** The agent flags the container logger is configured by. */
export interface ContainerLoggerFlags {
  container_logger?: string | undefined;
  modules?: JsonValue | undefined;
  modules_dir?: string | undefined;
}

/** The manifests of `--modules` or of the files in `--modules_dir` (name order). */
export function readManifests(flags: ContainerLoggerFlags): JsonValue[] {
  if (flags.modules !== undefined) return [flags.modules];
  if (flags.modules_dir === undefined) return [];
  const dir = flags.modules_dir;
  const out: JsonValue[] = [];
  for (const name of readdirSync(dir).sort()) {
    const file = join(dir, name);
    try {
      out.push(JSON.parse(readFileSync(file, "utf8")) as JsonValue);
    } catch (e) {
      throw new Error(`Failed to read module manifest '${file}': ${(e as Error).message}`);
    }
  }
  return out;
}

/**
 * The container logger `--container_logger` names, or undefined (output goes
 * to sandbox files). Throws a one-line Error when the module is not listed
 * in `--modules` / `--modules_dir`, its parameters are wrong, or
 * `logrotate` cannot be run.
 */
export async function createContainerLogger(
  flags: ContainerLoggerFlags,
  logger: Logger,
): Promise<LogrotateContainerLogger | undefined> {
  const name = flags.container_logger;
  if (name === undefined || name === "") return undefined;
  const fail = (why: string) => new Error(`Cannot create container logger: ${why}`);
  let manifests: JsonValue[];
  try {
    manifests = readManifests(flags);
  } catch (e) {
    throw fail((e as Error).message);
  }
  const found = findModuleParameters(manifests, LOGROTATE_MODULE_NAME);
  if (!found.ok) throw fail(found.error);
  if (found.value === undefined) {
    throw fail(`module '${name}' is not listed in --modules or --modules_dir`);
  }
  const parsed = parseLogrotateParameters(found.value);
  if (!parsed.ok) throw fail(parsed.error);
  // As Mesos: the agent does not start with a logrotate it cannot run.
  try {
    await execFileAsync("/bin/sh", ["-c", `${parsed.value.logrotatePath} --help > /dev/null`]);
  } catch {
    throw fail(`Failed to check logrotate: '${parsed.value.logrotatePath} --help' failed`);
  }
  logger.info(`Container output goes through the logrotate container logger (${name})`);
  return new LogrotateContainerLogger(parsed.value, logger);
}
