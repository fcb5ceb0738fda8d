/**
 * The agent's side of the launcher helper (see launcher-helper.ts): starts
 * the helper once, sends it requests over its stdin, matches replies by id,
 * and reports the exits of the executors it started. Should the helper die,
 * it is restarted on the next request; executors it had started keep
 * running and are then watched by polling their pid (see PidWatcher).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Logger } from "../../common/observability/logger.js";
import type {
  ErrorReply,
  LauncherMessage,
  RunReply,
  RunRequest,
  SpawnReply,
  SpawnRequest,
  UserReply,
} from "./launcher-protocol.js";

/** The helper's script (compiled next to this file). */
export const LAUNCHER_HELPER_SCRIPT = fileURLToPath(
  new URL("./launcher-helper.js", import.meta.url),
);

/** Node flags that keep the helper small. */
const HELPER_NODE_FLAGS = ["--max-old-space-size=32", "--max-semi-space-size=1"];

/** How a process started through the helper ended. */
export interface ProcessExit {
  code: number | null;
  signal: string | null;
}

type Pending = {
  resolve: (reply: SpawnReply | RunReply | UserReply) => void;
  reject: (error: Error) => void;
};

type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;

/** Talks to the launcher helper. */
export class LauncherClient {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buffered = "";
  private stopped = false;
  private generation = 0;

  /**
   * @param onExit a process started by `spawn` ended.
   * @param onHelperLost the helper died; the pids it had started are no longer reported.
   */
  constructor(
    private readonly logger: Logger,
    private readonly onExit: (pid: number, exit: ProcessExit) => void,
    private readonly onHelperLost: () => void,
  ) {}

  /**
   * Starts the helper now, while the agent's heap is small (spawning gets
   * dearer as the heap grows); otherwise it starts on the first request.
   */
  start(): void {
    if (!this.stopped) this.ensureHelper();
  }

  /**
   * Starts an executor; resolves with its pid (and start time when known).
   * A paced spawn still waiting in the helper is dropped when `signal`
   * aborts (the promise then rejects).
   */
  spawn(request: WithoutId<SpawnRequest>, signal?: AbortSignal): Promise<SpawnReply> {
    if (signal === undefined || request.paceLimit === undefined) {
      return this.request(request) as Promise<SpawnReply>;
    }
    let id = 0;
    const cancel = () => {
      if (this.pending.has(id))
        this.child?.stdin?.write(`${JSON.stringify({ op: "cancel", id: 0, target: id })}\n`);
    };
    const reply = this.request(request, (assigned) => {
      id = assigned;
    }) as Promise<SpawnReply>;
    if (signal.aborted) cancel();
    else signal.addEventListener("abort", cancel, { once: true });
    const forget = () => signal.removeEventListener("abort", cancel);
    reply.then(forget, forget);
    return reply;
  }

  /** Runs a command to completion. */
  run(request: WithoutId<RunRequest>): Promise<RunReply> {
    return this.request(request) as Promise<RunReply>;
  }

  /** Looks up a user; rejects with a readable message when there is no such user. */
  user(name: string): Promise<UserReply> {
    return this.request({ op: "user", name }) as Promise<UserReply>;
  }

  /** Closes the helper's stdin (it exits; executors keep running). */
  stop(): void {
    this.stopped = true;
    this.child?.stdin?.end();
    this.child = undefined;
    this.failPending(new Error("the launcher is stopped"));
  }

  /** Pid of the helper process, if running. */
  get helperPid(): number | undefined {
    return this.child?.pid;
  }

  private request(
    body: WithoutId<SpawnRequest | RunRequest | { op: "user"; name: string }>,
    onId?: (id: number) => void,
  ) {
    if (this.stopped) return Promise.reject(new Error("the launcher is stopped"));
    const child = this.ensureHelper();
    const id = this.nextId++;
    onId?.(id);
    return new Promise<SpawnReply | RunReply | UserReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      child.stdin?.write(`${JSON.stringify({ ...body, id })}\n`);
    });
  }

  private ensureHelper(): ChildProcess {
    if (this.child !== undefined) return this.child;
    const generation = ++this.generation;
    const child = spawn(process.execPath, [...HELPER_NODE_FLAGS, LAUNCHER_HELPER_SCRIPT], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    this.child = child;
    this.buffered = "";
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => this.receive(chunk));
    child.stdin?.on("error", () => {});
    const lost = (why: string) => {
      if (this.generation !== generation || this.child !== child) return;
      this.child = undefined;
      this.failPending(new Error(`the launcher helper ${why}`));
      if (!this.stopped) {
        this.logger.error(`The launcher helper ${why}; it will be restarted on the next launch`);
        this.onHelperLost();
      }
    };
    child.once("error", (e) => lost(`failed: ${e.message}`));
    child.once("exit", (code, signal) =>
      lost(`exited (${signal === null ? `status ${code}` : `signal ${signal}`})`),
    );
    this.logger.info(`Started the launcher helper (pid ${child.pid ?? "?"})`);
    return child;
  }

  private receive(chunk: string): void {
    this.buffered += chunk;
    for (;;) {
      const newline = this.buffered.indexOf("\n");
      if (newline < 0) return;
      const line = this.buffered.slice(0, newline);
      this.buffered = this.buffered.slice(newline + 1);
      let message: LauncherMessage;
      try {
        message = JSON.parse(line) as LauncherMessage;
      } catch {
        this.logger.warn(`Unreadable line from the launcher helper: ${line.slice(0, 200)}`);
        continue;
      }
      if ("event" in message) {
        // A quick process's exit can arrive in the same read as its spawn
        // reply; the reply's awaiter records the pid in a microtask, so the
        // exit goes out after those have run, or it would find no owner.
        const { pid, code, signal } = message;
        setImmediate(() => this.onExit(pid, { code, signal }));
        continue;
      }
      const waiter = this.pending.get(message.id);
      if (waiter === undefined) continue;
      this.pending.delete(message.id);
      if ("error" in message) waiter.reject(new Error((message as ErrorReply).error));
      else waiter.resolve(message);
    }
  }

  private failPending(error: Error): void {
    const waiters = [...this.pending.values()];
    this.pending.clear();
    for (const w of waiters) w.reject(error);
  }
}
