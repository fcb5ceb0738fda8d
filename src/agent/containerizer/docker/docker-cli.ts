/**
 * Runs the `docker` program (`--docker`) for the agent and the docker
 * executor: one process per subcommand, stdout collected, a timeout, and a
 * one-line error with docker's own stderr when it fails. `-H unix://<socket>`
 * (`--docker_socket`) goes before every subcommand, as Mesos does.
 */
import { spawn } from "node:child_process";
import { globalArgs } from "./docker-args.js";

/** A failed docker command: its argv, exit status and stderr in one line. */
export class DockerError extends Error {
  constructor(
    message: string,
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(message);
    this.name = "DockerError";
  }
}

/** Where docker is and how long a command may take. */
export interface DockerCliOptions {
  /** `--docker`: path (or name on PATH) of the docker program. */
  path: string;
  /** `--docker_socket`. */
  socket: string;
  /** Default time limit of a command (default 60 s). */
  timeoutMs?: number;
  /** Environment of the docker processes (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

/** What a finished command printed. */
export interface DockerOutput {
  stdout: string;
  stderr: string;
}

const MAX_STDERR_IN_MESSAGE = 500;

/** Runs docker subcommands. */
export class DockerCli {
  constructor(readonly o: DockerCliOptions) {}

  /** The full argv (without the program) of a subcommand. */
  argv(args: readonly string[]): string[] {
    return [...globalArgs(this.o.socket), ...args];
  }

  /**
   * Runs `docker <global args> <args>`; resolves with its output when it
   * exits 0, rejects with a DockerError otherwise (or when it outlives the
   * timeout, after SIGKILL, or cannot start).
   */
  run(
    args: readonly string[],
    options: { timeoutMs?: number; cwd?: string; signal?: AbortSignal } = {},
  ): Promise<DockerOutput> {
    const argv = this.argv(args);
    const what = `'${this.o.path} ${argv.join(" ")}'`;
    return new Promise((resolve, reject) => {
      const child = spawn(this.o.path, argv, {
        stdio: ["ignore", "pipe", "pipe"],
        env: this.o.env ?? process.env,
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      });
      let stdout = "";
      let stderr = "";
      let timedOut = false;
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        stdout += d;
      });
      child.stderr.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
      });
      const timeoutMs = options.timeoutMs ?? this.o.timeoutMs ?? 60_000;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, timeoutMs);
      const abort = () => child.kill("SIGKILL");
      options.signal?.addEventListener("abort", abort, { once: true });
      child.once("error", (e) => {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", abort);
        reject(new DockerError(`Failed to run ${what}: ${e.message}`, null, ""));
      });
      child.once("close", (code, signal) => {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", abort);
        if (code === 0) {
          resolve({ stdout, stderr });
          return;
        }
        const detail = stderr
          .trim()
          .slice(0, MAX_STDERR_IN_MESSAGE)
          .replace(/\s*\n\s*/g, "; ");
        const how = timedOut
          ? `timed out after ${timeoutMs} ms`
          : signal !== null
            ? `was killed by ${signal}`
            : `exited with status ${code}`;
        reject(
          new DockerError(
            `Failed to run ${what}: it ${how}${detail === "" ? "" : `: ${detail}`}`,
            code,
            stderr,
          ),
        );
      });
    });
  }
}
