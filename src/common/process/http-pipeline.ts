/**
 * An HTTP/1.1 client that pipelines POSTs on one keep-alive connection:
 * requests are written back to back without waiting for answers, and the
 * server answers them in order, so they are handled in the order they were
 * made without one round trip each (node:http's client sends one request per
 * connection at a time). Used by the scheduler library's call connection;
 * over TLS when its target says so.
 */
import { connect, type Socket } from "node:net";
import { type ConnectionOptions, connect as connectTls } from "node:tls";
import { ResponseReader } from "./response-reader.js";

/** Where the POSTs go. */
export interface PipelineTarget {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  /** Speak TLS, with these options (see `clientTls`). */
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

/** One connection; a failure fails every request in flight, and the next request reconnects. */
export class HttpPipeline {
  private socket: Socket | undefined;
  private waiting: Waiter[] = [];

  constructor(
    private readonly target: PipelineTarget,
    /** A request in flight with no byte from the server for this long fails (ms). */
    private readonly timeoutMs: number,
    private readonly keepBodyBytes = 64 * 1024,
  ) {}

  /** Requests written and not yet answered. */
  get inFlight(): number {
    return this.waiting.length;
  }

  /** Writes one POST; resolves with its answer, rejects when the connection fails first. */
  post(
    headers: Readonly<Record<string, string | number>>,
    body: Buffer,
  ): Promise<PipelineResponse> {
    const socket = this.socket ?? this.open();
    const t = this.target;
    let head = `POST ${t.path} HTTP/1.1\r\nHost: ${t.host}:${t.port}\r\nConnection: keep-alive\r\n`;
    for (const k in headers) {
      if (k.toLowerCase() !== "content-length") head += `${k}: ${headers[k]}\r\n`;
    }
    head += `Content-Length: ${body.byteLength}\r\n\r\n`;
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (this.waiting.length === 1) socket.setTimeout(this.timeoutMs);
      // Requests made in one tick (e.g. the acknowledgements of one read of
      // events) leave in one write.
      if (socket.writableCorked === 0) {
        socket.cork();
        process.nextTick(() => socket.uncork());
      }
      socket.write(Buffer.concat([Buffer.from(head, "latin1"), body]));
    });
  }

  /** Drops the connection; requests in flight fail. */
  close(): void {
    this.fail(this.socket, new Error("the connection was closed"));
  }

  private open(): Socket {
    const t = this.target;
    const socket =
      t.tls === undefined
        ? connect(t.port, t.host)
        : connectTls({ ...t.tls, host: t.host, port: t.port });
    socket.setNoDelay(true);
    this.socket = socket;
    const reader = new ResponseReader(
      (status, body) => {
        const w = this.waiting.shift();
        if (this.waiting.length === 0) socket.setTimeout(0);
        w?.resolve({ status, body: body ?? Buffer.alloc(0) });
      },
      (message) => this.fail(socket, new Error(`bad response: ${message}`)),
      this.keepBodyBytes,
    );
    socket.on("data", (chunk: Buffer) => reader.feed(chunk));
    socket.on("timeout", () => this.fail(socket, new Error("no answer in time")));
    socket.on("error", (e) => this.fail(socket, e));
    socket.on("end", () => {
      reader.end();
      this.fail(socket, new Error("the server closed the connection"));
    });
    socket.on("close", () => this.fail(socket, new Error("the connection closed")));
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
