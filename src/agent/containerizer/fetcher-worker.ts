/**
 * The fetcher's worker: started by a root agent once per fetch, in the
 * container's sandbox, it becomes the container's user (its groups, then
 * gid, then uid, as Mesos' `mesos-fetcher` does with `os::su`) and then makes
 * every write into the sandbox the agent asks for (sandbox-writer.ts).
 * Requests come as JSON lines on stdin, replies go out as JSON lines on
 * stdout; file content from the agent's cache arrives on fd 3.
 *
 * Keep the imports minimal: this file is the whole program.
 */
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { appendFile, chmod, mkdir, rm } from "node:fs/promises";
import { Socket } from "node:net";
import { onLines } from "../../common/io/lines.js";
import { downloadToFile } from "./download.js";
import {
  copyRegularFile,
  FETCH_USER_VARIABLE,
  type FetchUser,
  type RunResult,
  type WorkerReply,
  type WorkerRequest,
} from "./sandbox-writer.js";

const OUTPUT_TAIL_BYTES = 8192;
const RUN_TIMEOUT_MS = 600_000;

function reply(message: WorkerReply): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function becomeUser(): string | undefined {
  let who: FetchUser;
  try {
    who = JSON.parse(process.env[FETCH_USER_VARIABLE] ?? "") as FetchUser;
  } catch {
    return `${FETCH_USER_VARIABLE} is not set`;
  }
  try {
    try {
      const initgroups = (process as { initgroups?: (user: string, group: number) => void })
        .initgroups;
      if (initgroups === undefined) throw new Error("no initgroups");
      initgroups.call(process, who.user, who.gid);
    } catch {
      // A user known by id only: just its primary group.
      process.setgroups?.([who.gid]);
    }
    process.setgid?.(who.gid);
    process.setuid?.(who.uid);
  } catch (e) {
    return `Fetcher could not switch to user '${who.user}': ${(e as Error).message}`;
  }
  if (process.getuid?.() !== who.uid || process.getgid?.() !== who.gid) {
    return `Fetcher could not switch to user '${who.user}'`;
  }
  return undefined;
}

/** Content the agent sends on fd 3, read exactly `size` bytes at a time. */
const data = new Socket({ fd: 3, readable: true, writable: false });
data.pause();
let ended = false;
data.once("end", () => {
  ended = true;
});

async function nextChunk(max: number): Promise<Buffer> {
  for (;;) {
    const chunk = data.read(Math.min(max, data.readableLength || max)) as Buffer | null;
    if (chunk !== null) return chunk;
    if (ended) throw new Error("the agent stopped sending the file");
    await new Promise<void>((resolve) => {
      const done = () => {
        data.off("readable", done);
        data.off("end", done);
        resolve();
      };
      data.once("readable", done);
      data.once("end", done);
    });
  }
}

async function receive(to: string, size: number): Promise<void> {
  const out = createWriteStream(to);
  const opened = new Promise<void>((resolve, reject) => {
    out.once("open", () => resolve());
    out.once("error", reject);
  });
  let left = size;
  let failure: unknown;
  try {
    await opened;
  } catch (e) {
    failure = e;
  }
  // Every byte is read off the pipe, even when the file cannot be written.
  while (left > 0) {
    const chunk = await nextChunk(left);
    left -= chunk.length;
    if (failure === undefined && !out.write(chunk)) {
      await new Promise<void>((r) => out.once("drain", () => r()));
    }
  }
  await new Promise<void>((resolve, reject) => {
    out.end((e?: Error | null) => (e ? reject(e) : resolve()));
  }).catch((e: unknown) => {
    failure ??= e;
  });
  if (failure !== undefined) throw failure;
}

function run(file: string, args: string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    let output = "";
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-OUTPUT_TAIL_BYTES);
    };
    const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

async function perform(r: WorkerRequest): Promise<unknown> {
  switch (r.op) {
    case "mkdir":
      await mkdir(r.path, { recursive: true });
      return undefined;
    case "copyLocal":
      return copyRegularFile(r.from, r.to);
    case "download":
      return downloadToFile(r.url, r.to, {
        ...(r.stallTimeoutMs === undefined ? {} : { stallTimeoutMs: r.stallTimeoutMs }),
      });
    case "run":
      return run(r.file, r.args);
    case "receive":
      return receive(r.to, r.size);
    case "chmod":
      return chmod(r.path, r.mode);
    case "append":
      return appendFile(r.path, r.text);
    case "remove":
      return rm(r.path, { force: true });
  }
}

function main(): void {
  const fatal = becomeUser();
  if (fatal !== undefined) {
    reply({ fatal });
    process.exit(1);
  }
  // One request at a time, in order: the agent waits for each reply anyway,
  // and `receive` must read its bytes off fd 3 before the next one.
  let queue = Promise.resolve();
  onLines(process.stdin, (line) => {
    if (line.trim() === "") return;
    let request: WorkerRequest;
    try {
      request = JSON.parse(line) as WorkerRequest;
    } catch {
      return;
    }
    queue = queue.then(() =>
      perform(request).then(
        (value) => reply(value === undefined ? { id: request.id } : { id: request.id, value }),
        (e: unknown) => {
          const code = (e as NodeJS.ErrnoException).code;
          reply({
            id: request.id,
            error: e instanceof Error ? e.message : String(e),
            ...(typeof code === "string" ? { code } : {}),
          });
        },
      ),
    );
  });
  // The agent is done (or gone): leave once the last request is answered.
  process.stdin.on("end", () => {
    void queue.then(() => process.exit(0));
  });
  process.stdout.on("error", () => process.exit(0));
}

main();
