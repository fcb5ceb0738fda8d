/**
 * HTTP/1.1 pipelining of the executor's non-SUBSCRIBE calls on one
 * keep-alive connection, as Mesos' executor library does: requests are
 * written back to back without waiting for the previous answer, and the agent
 * answers them in order, so the calls reach it in the order they were made.
 * node:http's client sends one request per connection at a time, hence this
 * small client on `node:net` (only statuses are read; bodies are skipped).
 */
import { createRequire } from "node:module";
import { connect, type Socket } from "node:net";
import type { ConnectionOptions } from "node:tls";
import { ResponseReader } from "../common/process/response-reader.js";
import type { AgentAddress } from "./executor-environment.js";

/** Answer of one pipelined call; `body` is not kept (always ""). */
export interface PipelinedResponse {
  status: number;
  body: string;
}

interface Waiter {
  resolve(r: PipelinedResponse): void;
  reject(e: Error): void;
}

/** One connection carrying pipelined calls; reconnects on the next call after a failure. */
export class PipelinedCalls {
  private socket: Socket | undefined;
  private waiting: Waiter[] = [];
  /** The socket corked until the end of this tick, if any. */
  private corked: Socket | undefined;

  constructor(
    private readonly address: AgentAddress,
    private readonly headers: Readonly<Record<string, string>>,
    private readonly timeoutMs: number,
    /** Speak TLS with these options (loaded only then: `node:tls` costs start-up time). */
    private readonly tls?: ConnectionOptions,
  ) {}

  /** Calls written and not yet answered. */
  get inFlight(): number {
    return this.waiting.length;
  }

  /** Writes one POST of `body`; resolves with its status, rejects when the connection fails. */
  post(body: string): Promise<PipelinedResponse> {
    const socket = this.socket ?? this.open();
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (this.waiting.length === 1) socket.setTimeout(this.timeoutMs);
      this.corkForThisTick(socket);
      socket.write(this.head(Buffer.byteLength(body)) + body);
    });
  }

  /**
   * Calls made in one burst (one tick) leave in one write: one syscall for
   * the executor and one read for the agent instead of one per call.
   */
  private corkForThisTick(socket: Socket): void {
    if (this.corked === socket) return;
    this.corked = socket;
    socket.cork();
    process.nextTick(() => {
      if (this.corked === socket) this.corked = undefined;
      socket.uncork();
    });
  }

  /** Drops the connection; calls in flight fail. */
  close(): void {
    this.fail(this.socket, new Error("the connection was closed"));
  }

  private head(length: number): string {
    const a = this.address;
    const host = a.socketPath !== undefined ? "localhost" : `${a.host}:${a.port}`;
    let text = `POST ${a.path} HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n`;
    for (const k in this.headers) text += `${k}: ${this.headers[k]}\r\n`;
    return `${text}Content-Length: ${length}\r\n\r\n`;
  }

  private open(): Socket {
    const a = this.address;
    const tls = this.tls;
    const socket =
      a.socketPath !== undefined
        ? connect(a.socketPath)
        : tls === undefined
          ? connect(a.port ?? 0, a.host ?? "127.0.0.1")
          : (createRequire("file:///")("node:tls") as typeof import("node:tls")).connect({
              ...tls,
              host: a.host ?? "127.0.0.1",
              port: a.port ?? 0,
            });
    socket.setNoDelay(true);
    this.socket = socket;
    const reader = new ResponseReader(
      (status) => {
        const w = this.waiting.shift();
        if (this.waiting.length === 0) socket.setTimeout(0);
        w?.resolve({ status, body: "" });
      },
      (message) => this.fail(socket, new Error(`bad response from the agent: ${message}`)),
    );
    socket.on("data", (chunk: Buffer) => reader.feed(chunk));
    socket.on("timeout", () => this.fail(socket, new Error("timed out waiting for the agent")));
    socket.on("error", (e) => this.fail(socket, e));
    socket.on("close", () => this.fail(socket, new Error("the agent closed the connection")));
    return socket;
  }

  private fail(socket: Socket | undefined, error: Error): void {
    if (socket === undefined || socket !== this.socket) return;
    this.socket = undefined;
    socket.destroy();
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w.reject(error);
  }
}
