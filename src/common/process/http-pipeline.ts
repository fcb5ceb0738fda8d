/**
 * An HTTP/1.1 client that pipelines POSTs on one keep-alive connection:
 * requests are written back to back without waiting for answers, and the
 * server answers them in order, so they are handled in the order they were
 * made without one round trip each (node:http's client sends one request per
 * connection at a time). Mesos' scheduler and executor libraries send their
 * calls this way; ours do too (the scheduler library to the master, the
 * executor library to its agent, over TCP, TLS or a Unix socket).
 */
import { createRequire } from "node:module";
import { connect, type Socket } from "node:net";
import type { ConnectionOptions } from "node:tls";
import { ResponseReader } from "./response-reader.js";

/** Where the POSTs go: a host and port, or a Unix socket. */
export interface PipelineTarget {
  readonly host?: string | undefined;
  readonly port?: number | undefined;
  /** A Unix domain socket instead of host and port (`Host: localhost` then). */
  readonly socketPath?: string | undefined;
  readonly path: string;
  /** Speak TLS, with these options (see `clientTls`); not over a Unix socket. */
  readonly tls?: ConnectionOptions | undefined;
}

/** One answer: status and up to `keepBodyBytes` of its body. */
export interface PipelineResponse {
  readonly status: number;
  readonly body: Buffer;
}

interface Waiter {
  resolve(r: PipelineResponse): void;
  reject(e: Error): void;
}

const EMPTY = Buffer.alloc(0);

/**
 * Opens a connection to `target`. `node:tls` is loaded only when TLS is on:
 * it costs an executor's start-up time otherwise.
 */
export function connectTarget(target: PipelineTarget): Socket {
  if (target.socketPath !== undefined) return connect(target.socketPath);
  const host = target.host ?? "127.0.0.1";
  const port = target.port ?? 0;
  if (target.tls === undefined) return connect(port, host);
  // The base path only matters for files; built-ins resolve from anywhere.
  const tls = createRequire("file:///")("node:tls") as typeof import("node:tls");
  return tls.connect({ ...target.tls, host, port });
}

/** The head of a keep-alive POST to `target` with a body of `length` bytes. */
export function postHead(
  target: PipelineTarget,
  headers: Readonly<Record<string, string | number>>,
  length: number,
): string {
  const host = target.socketPath !== undefined ? "localhost" : `${target.host}:${target.port}`;
  let head = `POST ${target.path} HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n`;
  for (const k in headers) {
    if (k.toLowerCase() !== "content-length") head += `${k}: ${headers[k]}\r\n`;
  }
  return `${head}Content-Length: ${length}\r\n\r\n`;
}

/** One connection; a failure fails every request in flight, and the next request reconnects. */
export class HttpPipeline {
  private socket: Socket | undefined;
  private waiting: Waiter[] = [];

  constructor(
    private readonly target: PipelineTarget,
    /** A request in flight with no byte from the server for this long fails (ms). */
    private readonly timeoutMs: number,
    private readonly keepBodyBytes = 64 * 1024,
    /** Who answers, for error messages ("the master", "the agent"). */
    private readonly peer = "the server",
  ) {}

  /** Requests written and not yet answered. */
  get inFlight(): number {
    return this.waiting.length;
  }

  /** Writes one POST; resolves with its answer, rejects when the connection fails first. */
  post(
    headers: Readonly<Record<string, string | number>>,
    body: Buffer | string,
  ): Promise<PipelineResponse> {
    const socket = this.socket ?? this.open();
    const length = typeof body === "string" ? Buffer.byteLength(body) : body.byteLength;
    const head = postHead(this.target, headers, length);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (this.waiting.length === 1) socket.setTimeout(this.timeoutMs);
      // Requests made in one tick (the acknowledgements of one read of
      // events, an executor's burst of updates) leave in one write: one
      // syscall here and one read for the server.
      if (socket.writableCorked === 0) {
        socket.cork();
        process.nextTick(() => socket.uncork());
      }
      socket.write(
        typeof body === "string" ? head + body : Buffer.concat([Buffer.from(head, "latin1"), body]),
      );
    });
  }

  /** Drops the connection; requests in flight fail. */
  close(): void {
    this.fail(this.socket, new Error("the connection was closed"));
  }

  private open(): Socket {
    const socket = connectTarget(this.target);
    socket.setNoDelay(true);
    this.socket = socket;
    const peer = this.peer;
    const reader = new ResponseReader(
      (status, body) => {
        const w = this.waiting.shift();
        if (this.waiting.length === 0) socket.setTimeout(0);
        w?.resolve({ status, body: body ?? EMPTY });
      },
      (message) => this.fail(socket, new Error(`bad response from ${peer}: ${message}`)),
      this.keepBodyBytes,
    );
    socket.on("data", (chunk: Buffer) => reader.feed(chunk));
    socket.on("timeout", () => this.fail(socket, new Error(`timed out waiting for ${peer}`)));
    socket.on("error", (e) => this.fail(socket, e));
    socket.on("end", () => {
      reader.end();
      this.fail(socket, new Error(`${peer} closed the connection`));
    });
    socket.on("close", () => this.fail(socket, new Error(`${peer} closed the connection`)));
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
