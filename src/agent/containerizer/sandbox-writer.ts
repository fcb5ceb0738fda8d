/**
 * What the fetcher does inside a sandbox (create directories, copy local
 * files, download, run tar/unzip/gunzip/hadoop, chmod, append its log),
 * done either by the agent itself or, when the agent runs as root and the
 * container has a user, by one child process per fetch running as that user
 * (fetcher-worker.ts), as Mesos' `mesos-fetcher` switches to the task's user
 * (`os::su`) before it writes. The sandbox belongs to that user, who may
 * swap any directory in it for a symbolic link while the fetch runs; writes
 * made with the user's own rights cannot reach anything the user could not
 * already write.
 *
 * The worker runs in the sandbox (the agent enters it before the switch, as
 * the user may not reach it by its full path under a private --work_dir;
 * a nested sandbox through the directory held open, see fetcher.ts'
 * `holdSandbox`), so it gets sandbox paths relative to it (`path`). Files
 * from the fetcher cache, which belongs to root, are read by the agent and
 * streamed to the worker on a pipe (`receive`).
 */
import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { appendFile, chmod, copyFile, mkdir, open, rm } from "node:fs/promises";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { onLines } from "../../common/io/lines.js";
import { type DownloadResult, downloadToFile } from "./download.js";

export interface RunResult {
  code: number | null;
  signal: string | null;
  output: string;
}

/** Runs a program to completion; `cwd` is the sandbox. */
export type Runner = (file: string, args: string[], cwd: string) => Promise<RunResult>;

/** The user a worker switches to (name for its supplementary groups). */
export interface FetchUser {
  user: string;
  uid: number;
  gid: number;
}

export interface SandboxWriter {
  /** The path to give the other operations for `sandboxPath` (absolute, or relative to the sandbox). */
  path(sandboxPath: string): string;
  mkdir(dir: string): Promise<void>;
  /** Copies a local file (a regular file, checked) to `to`. Errors keep their `code` (ENOENT, EACCES). */
  copyLocal(from: string, to: string): Promise<void>;
  download(url: string, to: string, stallTimeoutMs: number | undefined): Promise<DownloadResult>;
  run(file: string, args: string[]): Promise<RunResult>;
  /** Copies `from`, a file only the agent may read (the cache), to `to`. */
  receive(from: string, to: string): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  append(path: string, text: string): Promise<void>;
  remove(path: string): Promise<void>;
  /** True when the writes are made by the container's user, not the agent. */
  readonly asUser: boolean;
  close(): void;
}

/** The `code` of an error writing the destination (its errno code follows the colon). */
export const WRITE_ERROR = "EWRITE";

/**
 * Copies `from`, checked to be a regular file, to `to` (the worker's and
 * the agent's copy). Reading errors keep their errno `code` (ENOENT,
 * EACCES); writing errors have the code `EWRITE:<errno code>`.
 */
export async function copyRegularFile(from: string, to: string): Promise<void> {
  // Non-blocking, so that a FIFO cannot hold the fetch.
  const file = await open(from, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const info = await file.stat();
    if (info.isDirectory()) throw new Error(`'${from}' is a directory`);
    if (!info.isFile()) throw new Error(`'${from}' is not a regular file`);
    try {
      await copyFile(`/proc/self/fd/${file.fd}`, to);
    } catch (e) {
      const error = new Error(
        (e as Error).message.replace(/, copyfile '[^']*' -> /, ", "),
      ) as NodeJS.ErrnoException;
      error.code = `${WRITE_ERROR}:${(e as NodeJS.ErrnoException).code ?? ""}`;
      throw error;
    }
  } finally {
    await file.close();
  }
}

/** The writer of an agent that writes itself (not root, or no user to switch to). */
export function directWriter(sandbox: string, run: Runner, signal?: AbortSignal): SandboxWriter {
  return {
    asUser: false,
    path: (p) => p,
    mkdir: async (dir) => {
      await mkdir(dir, { recursive: true });
    },
    copyLocal: copyRegularFile,
    download: (url, to, stallTimeoutMs) =>
      downloadToFile(url, to, {
        ...(stallTimeoutMs === undefined ? {} : { stallTimeoutMs }),
        ...(signal === undefined ? {} : { signal }),
      }),
    run: (file, args) => run(file, args, sandbox),
    receive: (from, to) => copyFile(from, to),
    chmod: (p, mode) => chmod(p, mode),
    append: (p, text) => appendFile(p, text),
    remove: (p) => rm(p, { force: true }),
    close: () => {},
  };
}

/** A request to the worker (one JSON line on its stdin). */
export type WorkerRequest =
  | { id: number; op: "mkdir"; path: string }
  | { id: number; op: "copyLocal"; from: string; to: string }
  | { id: number; op: "download"; url: string; to: string; stallTimeoutMs?: number }
  | { id: number; op: "run"; file: string; args: string[] }
  | { id: number; op: "receive"; to: string; size: number }
  | { id: number; op: "chmod"; path: string; mode: number }
  | { id: number; op: "append"; path: string; text: string }
  | { id: number; op: "remove"; path: string };

/** A request without its id (what the agent asks for). */
type WorkerCall = WorkerRequest extends infer R
  ? R extends unknown
    ? Omit<R, "id">
    : never
  : never;

/** A reply (one JSON line on its stdout); `fatal` when it could not become the user. */
export type WorkerReply =
  | { id: number; value?: unknown }
  | { id: number; error: string; code?: string }
  | { fatal: string };

/** The variable that tells the worker whom to become. */
export const FETCH_USER_VARIABLE = "MESOS_FETCHER_USER";

const workerPath = new URL("./fetcher-worker.js", import.meta.url);

/**
 * The writer of a root agent fetching for `who`: starts the worker (one per
 * fetch) in the sandbox, entered as `cwd` (a /proc path of the sandbox held
 * open) when given. Aborting `signal` kills it; what it was doing fails
 * with "the container was destroyed".
 */
export function userWriter(
  sandbox: string,
  who: FetchUser,
  signal?: AbortSignal,
  cwd: string = sandbox,
): SandboxWriter {
  const child = spawn(process.execPath, [fileURLToPath(workerPath)], {
    cwd,
    env: { ...process.env, [FETCH_USER_VARIABLE]: JSON.stringify(who) },
    stdio: ["pipe", "pipe", "pipe", "pipe"],
  });
  const data = child.stdio[3] as NodeJS.WritableStream & { destroy(): void };
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let serial = 0;
  let failure: string | undefined;
  let stderr = "";
  const failAll = (reason: string) => {
    failure ??= reason;
    for (const p of pending.values()) p.reject(new Error(failure));
    pending.clear();
  };
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-2048);
  });
  for (const stream of [child.stdin, data, child.stdout] as (NodeJS.EventEmitter | null)[]) {
    stream?.on("error", () => {});
  }
  onLines(child.stdout as NodeJS.ReadableStream as never, (line) => {
    let reply: WorkerReply;
    try {
      reply = JSON.parse(line) as WorkerReply;
    } catch {
      return;
    }
    if ("fatal" in reply) {
      failAll(reply.fatal);
      return;
    }
    const waiter = pending.get(reply.id);
    if (waiter === undefined) return;
    pending.delete(reply.id);
    if ("error" in reply) {
      const e = new Error(reply.error) as NodeJS.ErrnoException;
      if (reply.code !== undefined) e.code = reply.code;
      waiter.reject(e);
    } else waiter.resolve(reply.value);
  });
  child.once("error", (e) => failAll(`Failed to start the fetcher process: ${e.message}`));
  child.once("close", (code, sig) => {
    const last = stderr.trim().split("\n").slice(-1)[0] ?? "";
    failAll(
      `The fetcher process exited (${sig ?? `status ${code}`})${last === "" ? "" : `: ${last}`}`,
    );
  });
  const onAbort = () => {
    failAll("the container was destroyed");
    child.kill("SIGKILL");
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  if (signal?.aborted === true) onAbort();

  const request = <T>(r: WorkerCall): Promise<T> => {
    if (failure !== undefined) return Promise.reject(new Error(failure));
    const id = ++serial;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.stdin?.write(`${JSON.stringify({ ...r, id })}\n`);
    });
  };
  const path = (p: string) => relative(sandbox, p) || ".";
  return {
    asUser: true,
    path,
    mkdir: (dir) => request({ op: "mkdir", path: dir }),
    copyLocal: (from, to) => request({ op: "copyLocal", from, to }),
    download: (url, to, stallTimeoutMs) =>
      request({
        op: "download",
        url,
        to,
        ...(stallTimeoutMs === undefined ? {} : { stallTimeoutMs }),
      }),
    run: (file, args) => request({ op: "run", file, args }),
    receive: async (from, to) => {
      // Root reads the cache; the worker writes the bytes it is sent, exactly `size` of them.
      const file = await open(from, "r");
      try {
        const { size } = await file.stat();
        const done = request<void>({ op: "receive", to, size });
        // Settles with the reply, or when the worker is gone (then nothing drains any more).
        const settled = done.then(
          () => undefined,
          () => undefined,
        );
        let over = false;
        void settled.then(() => {
          over = true;
        });
        if (size > 0) {
          const stream = file.createReadStream({ start: 0, end: size - 1, autoClose: false });
          let sent = 0;
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            if (over) break;
            sent += chunk.length;
            if (!data.write(chunk)) {
              await Promise.race([
                new Promise<void>((r) => data.once("drain", () => r())),
                settled,
              ]);
            }
          }
          // Shorter than it was (it cannot be, the cache is root's): keep the stream in step.
          if (!over && sent < size) data.write(Buffer.alloc(size - sent));
        }
        await done;
      } finally {
        await file.close();
      }
    },
    chmod: (p, mode) => request({ op: "chmod", path: p, mode }),
    append: (p, text) => request({ op: "append", path: p, text }),
    remove: (p) => request({ op: "remove", path: p }),
    close: () => {
      signal?.removeEventListener("abort", onAbort);
      child.stdin?.end();
      data.destroy();
    },
  };
}

/**
 * Moves a file the worker wrote into the sandbox (`staged`) into the
 * agent's cache at `to`: opened without following a link, and taken only
 * when it is a regular file of the user, so a swapped path gives the cache
 * nothing the user could not read.
 */
export async function adoptStaged(staged: string, to: string, uid: number): Promise<void> {
  const file = await open(staged, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const info = await file.stat();
    if (!info.isFile() || info.uid !== uid) {
      throw new Error(`'${staged}' was replaced while it was fetched`);
    }
    await copyFile(`/proc/self/fd/${file.fd}`, to);
  } finally {
    await file.close();
  }
}
