/**
 * The HTTP server every process host uses, on node:http.
 *
 * Timeouts are chosen for long-lived peer connections:
 * - `keepAliveTimeout = 0`: Node would otherwise close a keep-alive
 *   connection after 5 s of silence. Libprocess peers keep one connection
 *   open for as long as they talk to us, and some of them treat its loss as
 *   our failure, so idle connections must stay up.
 * - `requestTimeout = 0`: a request is never cut off for taking long as a
 *   whole (big messages over slow links). A slow body only holds its own
 *   socket and at most `maxBodyBytes` of memory; it cannot block anyone else.
 * - `headersTimeout` (60 s by default): a client that starts a request must
 *   finish its headers in time (slowloris). Node only checks this while a
 *   request is in progress, never on an idle connection.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Logger } from "../observability/logger.js";
import { splitTarget } from "./path.js";
import { type HttpHeaders, HttpRequest } from "./request.js";
import {
  badRequest,
  type HttpResponse,
  internalServerError,
  payloadTooLarge,
  type ResponseStream,
  type StreamCloseReason,
  type StreamingResponse,
} from "./response.js";

/** Turns a fully read request into a response. */
export type RequestDispatcher = (request: HttpRequest) => HttpResponse | Promise<HttpResponse>;

export interface HttpServerOptions {
  logger: Logger;
  /** Largest request body accepted; bigger ones get 413 and the connection is closed. Default 64 MiB. */
  maxBodyBytes?: number;
  /** Time allowed for a request's headers once it has started. Default 60 s. */
  headersTimeoutMs?: number;
}

/** Default body limit: room for the largest Mesos messages (re-registration of a big agent). */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

function toHeaders(raw: IncomingMessage["headers"]): HttpHeaders {
  let out: Record<string, string> | undefined;
  for (const key in raw) {
    const v = raw[key];
    if (typeof v !== "string") {
      out ??= { ...(raw as Record<string, string>) };
      if (Array.isArray(v)) out[key] = v.join(", ");
      else delete out[key];
    }
  }
  return out ?? (raw as HttpHeaders);
}

/** An HTTP/1.1 server that reads whole bodies (size-limited) and hands requests to a dispatcher. */
export class HttpServer {
  private readonly server: Server;
  private readonly logger: Logger;
  private readonly maxBodyBytes: number;

  constructor(
    private readonly dispatch: RequestDispatcher,
    options: HttpServerOptions,
  ) {
    this.logger = options.logger;
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    // libprocess does not insist on a Host header, and neither do we.
    this.server = createServer(
      { noDelay: true, keepAlive: true, requireHostHeader: false },
      (req, res) => this.onRequest(req, res),
    );
    this.server.keepAliveTimeout = 0;
    this.server.requestTimeout = 0;
    this.server.headersTimeout = options.headersTimeoutMs ?? 60_000;
    this.server.timeout = 0;
    this.server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => {
      this.logger.verbose(1, `HTTP client error from ${socket.remoteAddress}: ${error.message}`);
      if (socket.writable && error.code !== "ECONNRESET") {
        socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      } else {
        socket.destroy();
      }
    });
  }

  /** Binds and listens; resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.server.once("error", onError);
      this.server.listen({ host, port, backlog: 1024 }, () => {
        this.server.off("error", onError);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  /** Stops accepting and drops every open connection (streams see `disconnected`). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    req.on("error", (e) => this.logger.verbose(1, `HTTP request aborted: ${e.message}`));
    const target = splitTarget(req.url ?? "");
    if (target === undefined) {
      req.resume();
      this.write(res, badRequest("Request URL path must start with '/'"));
      return;
    }
    const declared = req.headers["content-length"];
    if (declared !== undefined && Number(declared) > this.maxBodyBytes) {
      this.rejectTooLarge(req, res);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let rejected = false;
    req.on("data", (chunk: Buffer) => {
      if (rejected) return;
      size += chunk.length;
      if (size > this.maxBodyBytes) {
        rejected = true;
        chunks.length = 0;
        this.rejectTooLarge(req, res);
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (rejected) return;
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
      const request = new HttpRequest({
        method: req.method ?? "GET",
        path: target.path,
        rawQuery: target.rawQuery,
        headers: toHeaders(req.headers),
        body,
        remoteAddress: req.socket.remoteAddress ?? "",
        remotePort: req.socket.remotePort ?? 0,
      });
      this.run(request, res);
    });
  }

  private rejectTooLarge(req: IncomingMessage, res: ServerResponse): void {
    this.logger.warn(
      `Rejecting ${req.method} ${req.url} from ${req.socket.remoteAddress}: body larger than ${this.maxBodyBytes} bytes`,
    );
    res.setHeader("Connection", "close");
    this.write(res, payloadTooLarge(`Request body is larger than ${this.maxBodyBytes} bytes`));
  }

  private run(request: HttpRequest, res: ServerResponse): void {
    let result: HttpResponse | Promise<HttpResponse>;
    try {
      result = this.dispatch(request);
    } catch (e) {
      this.fail(request, res, e);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (r) => this.write(res, r),
        (e: unknown) => this.fail(request, res, e),
      );
    } else {
      this.write(res, result);
    }
  }

  private fail(request: HttpRequest, res: ServerResponse, e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    this.logger.error(
      `Handler for ${request.method} ${request.path} failed: ${e instanceof Error ? (e.stack ?? message) : message}`,
    );
    this.write(res, internalServerError(message));
  }

  private write(res: ServerResponse, r: HttpResponse): void {
    if (res.headersSent || res.destroyed) return;
    if (r.kind === "stream") {
      this.startStream(res, r);
      return;
    }
    const body = typeof r.body === "string" ? Buffer.from(r.body, "utf8") : r.body;
    const headers: Record<string, string> = {};
    for (const k in r.headers) {
      if (k.toLowerCase() !== "content-length") headers[k] = r.headers[k] as string;
    }
    headers["Content-Length"] = String(body.byteLength);
    res.writeHead(r.status, headers);
    res.end(body);
  }

  private startStream(res: ServerResponse, r: StreamingResponse): void {
    const headers: Record<string, string> = {};
    for (const k in r.headers) {
      if (k.toLowerCase() !== "content-length") headers[k] = r.headers[k] as string;
    }
    res.writeHead(r.status, headers);
    res.flushHeaders();
    let closedWith: StreamCloseReason | undefined;
    const onClose: ((reason: StreamCloseReason) => void)[] = [];
    const onDrain: (() => void)[] = [];
    const finish = (reason: StreamCloseReason): void => {
      if (closedWith !== undefined) return;
      closedWith = reason;
      for (const cb of onClose.splice(0)) cb(reason);
    };
    res.on("close", () => finish("disconnected"));
    res.on("drain", () => {
      for (const cb of onDrain) cb();
    });
    const remote = `${res.socket?.remoteAddress ?? "?"}:${res.socket?.remotePort ?? "?"}`;
    const stream: ResponseStream = {
      write: (chunk) => (closedWith === undefined ? res.write(chunk) : false),
      end: () => {
        if (closedWith !== undefined) return;
        res.end();
        finish("ended");
      },
      onClose: (cb) => {
        if (closedWith === undefined) onClose.push(cb);
        else cb(closedWith);
      },
      onDrain: (cb) => {
        onDrain.push(cb);
      },
      get closed() {
        return closedWith !== undefined;
      },
      remote,
    };
    try {
      r.start(stream);
    } catch (e) {
      this.logger.error(`Streaming response failed to start: ${String(e)}`);
      stream.end();
    }
  }
}
