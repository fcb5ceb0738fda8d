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
import {
  type AddressInfo,
  createServer as createListener,
  type Server as Listener,
  type Socket,
} from "node:net";
import { Duplex } from "node:stream";
import { type TLSSocket, Server as TlsServer } from "node:tls";
import type { Logger } from "../observability/logger.js";
import { looksLikeTls, type TlsSettings } from "../process/tls.js";
import type { Clock, TimerHandle } from "../time/clock.js";
import { gunzipBody, gzipBody, shouldGzip } from "./content-encoding.js";
import { decodeForm } from "./form.js";
import { splitTarget } from "./path.js";
import { type HttpHeaders, HttpRequest } from "./request.js";
import {
  badRequest,
  type HttpResponse,
  hasHeader,
  internalServerError,
  payloadTooLarge,
  type ResponseStream,
  type StreamCloseReason,
  type StreamingResponse,
} from "./response.js";

/** Turns a fully read request into a response. */
export type RequestDispatcher = (request: HttpRequest) => HttpResponse | Promise<HttpResponse>;

/**
 * Optionally takes over whole connections by the head of their first
 * request (the libprocess message fast path). Connections it does not claim,
 * or hands back, are served by node:http.
 */
export interface ConnectionClaimer {
  /** `head` is the first request's line and headers (no blank line), latin1. */
  claims(head: string): boolean;
  /**
   * Owns `socket` from now on. `initial` holds the bytes read so far. Call
   * `handBack(socket, rest)` at a request boundary to return the socket
   * (with the unread bytes) to the HTTP server.
   */
  adopt(socket: Socket, initial: Buffer, handBack: (socket: Socket, rest: Buffer) => void): void;
}

export interface HttpServerOptions {
  logger: Logger;
  clock: Clock;
  claimer?: ConnectionClaimer;
  /** Largest request body accepted; bigger ones get 413 and the connection is closed. Default 64 MiB. */
  maxBodyBytes?: number;
  /** Time allowed for a request's headers once it has started. Default 60 s. */
  headersTimeoutMs?: number;
  /** Serve TLS (LIBPROCESS_SSL_*); with `downgrade`, plain connections too. */
  tls?: TlsSettings | undefined;
}

/** Default body limit: room for the largest Mesos messages (re-registration of a big agent). */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

/**
 * The request's header fields by lower-cased name. A field sent more than
 * once keeps its last value, as in libprocess, whose request decoder assigns
 * each field into a map (node joins most repeats with ", " and keeps the
 * first of some). mesos-go sends `Accept` twice when it wants a stream (its
 * codec's type, then application/recordio): Mesos reads application/recordio.
 */
function toHeaders(raw: readonly string[]): HttpHeaders {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    out[(raw[i] as string).toLowerCase()] = raw[i + 1] as string;
  }
  return out;
}

const HEAD_END = Buffer.from("\r\n\r\n", "latin1");
const POST = "POST ";
/** Sniffing gives up (and lets node:http answer 431) past this many bytes without a blank line. */
const MAX_SNIFF_BYTES = 64 * 1024;
/**
 * After this much time dispatching requests in one event-loop turn, further
 * requests wait for the next turn (in arrival order). A client pipelining
 * 200 calls (a framework killing or acknowledging 200 tasks at once) got
 * them all handled in one turn: 150-300 ms of CPU during which nothing else
 * ran.
 */
const DISPATCH_BUDGET_MS = 10;

/**
 * An HTTP/1.1 server that reads whole bodies (size-limited) and hands
 * requests to a dispatcher. It owns the listening socket; node:http serves
 * every connection the claimer does not take.
 */
export class HttpServer {
  private readonly server: Server;
  private readonly listener: Listener;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly claimer: ConnectionClaimer | undefined;
  private readonly headersTimeoutMs: number;
  private readonly maxBodyBytes: number;
  private readonly tls: TlsSettings | undefined;
  /** Runs the server side of TLS handshakes (never listens itself; connections are handed to it). */
  private readonly tlsServer: TlsServer | undefined;
  /** Connections being sniffed or owned by the claimer (node:http tracks its own). */
  private readonly ownSockets = new Set<Socket>();
  /** Requests waiting for a later turn (see DISPATCH_BUDGET_MS), oldest first. */
  private readonly deferred: (() => void)[] = [];
  private turnStartedAt = 0;
  private turnMarked = false;
  private drainScheduled = false;

  constructor(
    private readonly dispatch: RequestDispatcher,
    options: HttpServerOptions,
  ) {
    this.logger = options.logger;
    this.clock = options.clock;
    this.claimer = options.claimer;
    this.headersTimeoutMs = options.headersTimeoutMs ?? 60_000;
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.tls = options.tls;
    // libprocess does not insist on a Host header, and neither do we.
    this.server = createServer(
      { noDelay: true, keepAlive: true, requireHostHeader: false },
      (req, res) => this.onRequest(req, res),
    );
    this.server.keepAliveTimeout = 0;
    this.server.requestTimeout = 0;
    this.server.headersTimeout = this.headersTimeoutMs;
    this.server.timeout = 0;
    this.server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => {
      this.logger.verbose(1, `HTTP client error from ${socket.remoteAddress}: ${error.message}`);
      if (socket.writable && error.code !== "ECONNRESET") {
        const status =
          error.code === "HPE_HEADER_OVERFLOW"
            ? "431 Request Header Fields Too Large"
            : "400 Bad Request";
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      } else {
        socket.destroy();
      }
    });
    this.listener = createListener({ noDelay: true, keepAlive: true }, (socket) =>
      this.accept(socket),
    );
    this.tlsServer = this.tls === undefined ? undefined : this.makeTlsServer(this.tls);
  }

  /**
   * The server side of TLS: a `tls.Server` fed the accepted connections,
   * because only it refuses a client certificate the CAs did not sign (a
   * bare server-side TLSSocket insists that one is presented, not that it
   * verifies). A handshake not done within the header timeout is dropped.
   */
  private makeTlsServer(tls: TlsSettings): TlsServer {
    const server = new TlsServer({ ...tls.serverOptions, handshakeTimeout: this.headersTimeoutMs });
    server.on("secureConnection", (secure: TLSSocket) => this.secured(secure, tls));
    server.on("tlsClientError", (e: Error, secure: TLSSocket) => {
      this.logger.verbose(
        1,
        `TLS handshake with ${secure.remoteAddress ?? "unknown"} failed: ${e.message}`,
      );
      secure.destroy();
    });
    return server;
  }

  /** Binds and listens; resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.listener.once("error", onError);
      this.listener.listen({ host, port, backlog: 1024 }, () => {
        this.listener.off("error", onError);
        this.listener.on("error", (e) => this.logger.error(`Listener error: ${e.message}`));
        // node:http starts its header-timeout bookkeeping when it "listens";
        // it never binds itself here, the listener feeds it connections.
        this.server.emit("listening");
        resolve((this.listener.address() as AddressInfo).port);
      });
    });
  }

  /** Stops accepting and drops every open connection (streams see `disconnected`). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.listener.close(() => resolve());
      // Not bound itself: close() only stops node:http's timers (its error is expected).
      this.server.close(() => {});
      this.server.closeAllConnections();
      for (const s of this.ownSockets) s.destroy();
      this.ownSockets.clear();
    });
  }

  /**
   * A new connection: with TLS on, a handshake is expected (with downgrade,
   * a connection whose first byte does not start one stays plain).
   */
  private accept(socket: Socket): void {
    const tls = this.tls;
    if (tls === undefined) {
      this.onConnection(socket);
      return;
    }
    socket.on("error", (e) => this.logger.verbose(1, `Connection error: ${e.message}`));
    if (!tls.downgrade) {
      this.secure(socket);
      return;
    }
    this.ownSockets.add(socket);
    // A connection that never sends a byte is not kept for ever.
    let timer: TimerHandle | undefined = this.clock.setTimer(this.headersTimeoutMs, () => {
      timer = undefined;
      socket.destroy();
    });
    socket.once("close", () => {
      if (timer !== undefined) this.clock.cancelTimer(timer);
      this.ownSockets.delete(socket);
    });
    socket.once("data", (first: Buffer) => {
      if (timer !== undefined) this.clock.cancelTimer(timer);
      timer = undefined;
      this.ownSockets.delete(socket);
      socket.pause();
      // Put back: a TLS socket takes over bytes its stream already buffered.
      socket.unshift(first);
      if (looksLikeTls(first[0] ?? 0)) {
        this.secure(socket);
      } else {
        this.onConnection(socket);
        socket.resume();
      }
    });
  }

  /** Hands `socket` to the TLS server; it is tracked until its handshake is done. */
  private secure(socket: Socket): void {
    this.ownSockets.add(socket);
    socket.once("close", () => this.ownSockets.delete(socket));
    this.tlsServer?.emit("connection", socket);
  }

  /**
   * A TLS connection whose handshake (and client certificate, when
   * required) passed: served at once, or, with client certificates required,
   * once the chain depth and (`legacy` scheme) the client's reverse-DNS name
   * pass too, as libprocess checks after accepting; a mismatch drops it.
   */
  private secured(secure: TLSSocket, tls: TlsSettings): void {
    const peer = secure.remoteAddress;
    secure.on("error", (e) => this.logger.verbose(1, `TLS connection error: ${e.message}`));
    const check = tls.inboundCheck;
    if (check === undefined) {
      this.onConnection(secure);
      return;
    }
    // Until the check passes nothing is read: the socket stays paused and buffers.
    this.ownSockets.add(secure);
    secure.once("close", () => this.ownSockets.delete(secure));
    const verified = {
      remoteAddress: peer,
      getPeerCertificate: () => secure.getPeerCertificate(true),
    };
    void check(verified).then((problem) => {
      this.ownSockets.delete(secure);
      if (secure.destroyed) return;
      if (problem === undefined) {
        this.onConnection(secure);
        return;
      }
      this.logger.warn(`Dropped TLS connection from ${peer ?? "unknown"}: ${problem}`);
      secure.destroy();
    });
  }

  /** Sniffs the first request head to let the claimer take message connections. */
  private onConnection(socket: Socket): void {
    socket.on("error", (e) => this.logger.verbose(1, `Connection error: ${e.message}`));
    const claimer = this.claimer;
    if (claimer === undefined) {
      this.server.emit("connection", socket);
      return;
    }
    this.ownSockets.add(socket);
    let seen: Buffer = Buffer.alloc(0);
    let timer: TimerHandle | undefined = this.clock.setTimer(this.headersTimeoutMs, () => {
      timer = undefined;
      socket.destroy();
    });
    const stopSniffing = (): void => {
      socket.off("data", onData);
      socket.off("close", onClose);
      if (timer !== undefined) this.clock.cancelTimer(timer);
      timer = undefined;
    };
    const onClose = (): void => {
      stopSniffing();
      this.ownSockets.delete(socket);
    };
    const onData = (chunk: Buffer): void => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, POST.length);
      const end = seen.indexOf(HEAD_END);
      const decided =
        seen.toString("latin1", 0, n) !== POST.slice(0, n) ||
        end >= 0 ||
        seen.length > MAX_SNIFF_BYTES;
      if (!decided) return;
      stopSniffing();
      if (end >= 0 && claimer.claims(seen.toString("latin1", 0, end))) {
        socket.on("close", () => this.ownSockets.delete(socket));
        claimer.adopt(socket, seen, (s, rest) => this.handOff(s, rest));
      } else {
        this.handOff(socket, seen);
      }
    };
    socket.on("data", onData);
    socket.on("close", onClose);
  }

  /** Gives a connection (and bytes already read from it) to node:http. */
  private handOff(socket: Socket, rest: Buffer): void {
    this.ownSockets.delete(socket);
    // Paused so nothing flows while no one listens; node:http's own 'data'
    // listener does not restart an explicitly paused socket, so resume after.
    socket.pause();
    if (rest.length > 0) socket.unshift(rest);
    this.server.emit("connection", socket);
    socket.resume();
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    req.on("error", (e) => this.logger.verbose(1, `HTTP request aborted: ${e.message}`));
    const target = splitTarget(req.url ?? "");
    if (target === undefined) {
      req.resume();
      this.write(res, badRequest("Request URL path must start with '/'"));
      return;
    }
    // libprocess cannot decode such a query and drops the connection; we say why instead.
    const query = decodeForm(target.rawQuery);
    if (!query.ok) {
      req.resume();
      this.write(res, badRequest(`Failed to decode HTTP query string: ${query.error}`));
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
      const headers = toHeaders(req.rawHeaders);
      const make = (decoded: Buffer, h: HttpHeaders): HttpRequest =>
        new HttpRequest({
          method: req.method ?? "GET",
          path: target.path,
          rawQuery: target.rawQuery,
          query: query.value,
          headers: h,
          body: decoded,
          remoteAddress: req.socket.remoteAddress ?? "",
          remotePort: req.socket.remotePort ?? 0,
        });
      if (headers["content-encoding"]?.trim().toLowerCase() !== "gzip" || body.length === 0) {
        const request = make(body, headers);
        this.dispatchSoon(() => this.run(request, res));
        return;
      }
      // A gzip-encoded body is decoded before routing, as libprocess does.
      gunzipBody(body, this.maxBodyBytes).then(
        (decoded) => {
          const { "content-encoding": _, ...rest } = headers;
          const request = make(decoded, { ...rest, "content-length": String(decoded.length) });
          this.dispatchSoon(() => this.run(request, res));
        },
        (e: unknown) => {
          if ((e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
            this.rejectTooLarge(req, res);
            return;
          }
          const reason = e instanceof Error ? e.message : String(e);
          this.write(res, badRequest(`Failed to decompress the gzip-encoded body: ${reason}`));
        },
      );
    });
  }

  /** Runs `job` now, or in a later turn once this turn has dispatched for its budget. */
  private dispatchSoon(job: () => void): void {
    if (this.deferred.length === 0 && this.withinBudget()) {
      job();
      return;
    }
    this.deferred.push(job);
    this.scheduleDrain();
  }

  private withinBudget(): boolean {
    if (!this.turnMarked) {
      this.turnMarked = true;
      this.turnStartedAt = performance.now();
      setImmediate(() => {
        this.turnMarked = false;
      });
      return true;
    }
    return performance.now() - this.turnStartedAt <= DISPATCH_BUDGET_MS;
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      while (this.deferred.length > 0 && this.withinBudget()) {
        const job = this.deferred.shift() as () => void;
        job();
      }
      if (this.deferred.length > 0) this.scheduleDrain();
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
        (r) => this.write(res, r, request),
        (e: unknown) => this.fail(request, res, e),
      );
    } else {
      this.write(res, result, request);
    }
  }

  private fail(request: HttpRequest, res: ServerResponse, e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    this.logger.error(
      `Handler for ${request.method} ${request.path} failed: ${e instanceof Error ? (e.stack ?? message) : message}`,
    );
    this.write(res, internalServerError(message), request);
  }

  /** Sends a response; a whole body goes out gzip-encoded when `request` accepts it (as libprocess does). */
  private write(res: ServerResponse, r: HttpResponse, request?: HttpRequest): void {
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
    if (
      request !== undefined &&
      shouldGzip(request.header("accept-encoding"), body.byteLength) &&
      !hasHeader(r.headers, "content-encoding")
    ) {
      gzipBody(body).then(
        (compressed) => {
          headers["Content-Encoding"] = "gzip";
          this.sendBody(res, r.status, headers, compressed);
        },
        (e: unknown) => {
          this.logger.warn(`Failed to gzip the response to ${request.path}: ${String(e)}`);
          this.sendBody(res, r.status, headers, body);
        },
      );
      return;
    }
    this.sendBody(res, r.status, headers, body);
  }

  private sendBody(
    res: ServerResponse,
    status: number,
    headers: Record<string, string>,
    body: Uint8Array,
  ): void {
    if (res.headersSent || res.destroyed) return;
    headers["Content-Length"] = String(body.byteLength);
    res.writeHead(status, headers);
    res.end(body);
  }

  private startStream(res: ServerResponse, r: StreamingResponse): void {
    const headers: Record<string, string> = {};
    for (const k in r.headers) {
      if (k.toLowerCase() !== "content-length") headers[k] = r.headers[k] as string;
    }
    // The head goes out at the first write, or when `start` returns, so a
    // writer that knows its size (`declareLength`) is sent with a
    // Content-Length instead of chunks.
    let headed = false;
    const head = (length?: number): void => {
      if (headed) return;
      headed = true;
      if (length !== undefined) headers["Content-Length"] = String(length);
      res.writeHead(r.status, headers);
    };
    const socket = res.socket;
    if (socket !== null) coalesceWrites(socket);
    let closedWith: StreamCloseReason | undefined;
    const onClose: ((reason: StreamCloseReason) => void)[] = [];
    const onDrain: (() => void)[] = [];
    const finish = (reason: StreamCloseReason): void => {
      if (closedWith !== undefined) return;
      closedWith = reason;
      if (socket !== null) stopCoalescing(socket);
      for (const cb of onClose.splice(0)) cb(reason);
    };
    res.on("close", () => finish("disconnected"));
    res.on("drain", () => {
      for (const cb of onDrain) cb();
    });
    const remote = `${res.socket?.remoteAddress ?? "?"}:${res.socket?.remotePort ?? "?"}`;
    const stream: LengthAwareStream = {
      write: (chunk) => {
        if (closedWith !== undefined) return false;
        head();
        return res.write(chunk);
      },
      end: () => {
        if (closedWith !== undefined) return;
        head();
        res.end();
        finish("ended");
      },
      declareLength: (bytes) => head(bytes),
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
      get bufferedBytes() {
        return res.writableLength;
      },
      abort: () => {
        if (closedWith !== undefined) return;
        res.socket?.destroy();
        finish("disconnected");
      },
    };
    try {
      r.start(stream);
    } catch (e) {
      this.logger.error(`Streaming response failed to start: ${String(e)}`);
      stream.end();
    }
    if (!headed) {
      head();
      res.flushHeaders();
    }
  }
}

/**
 * A response stream whose writer may state the whole body's size before
 * its first write (big documents): the response then carries a
 * Content-Length and no chunk framing, as Mesos sends its state documents.
 * The body written must be exactly that many bytes.
 */
export interface LengthAwareStream extends ResponseStream {
  declareLength(bytes: number): void;
}

/** Sockets holding writes until the end of this event-loop turn. */
const corkedSockets = new Set<Socket>();
let uncorkScheduled = false;
const realUncork = Duplex.prototype.uncork;

function uncorkAll(): void {
  uncorkScheduled = false;
  for (const socket of corkedSockets) {
    while (socket.writableCorked > 0 && !socket.destroyed) realUncork.call(socket);
  }
  corkedSockets.clear();
}

/**
 * Makes the events of a streamed response on `socket` leave once per
 * event-loop turn. node:http corks a chunked response's socket for each
 * chunk and uncorks it on the next tick, so every event sent from its own
 * callback (each status update the master forwards, each acknowledgement
 * the agent passes to an executor) cost one `writev` syscall of its own.
 * Here the last uncork is deferred to one `setImmediate` shared by all
 * streams, so the events produced during one turn go out in one write per
 * stream. Order is unchanged (the socket's buffer is FIFO). Only for
 * streams: answers to pipelined calls are sent one after the other by
 * node:http (each after the previous one's write completed), so deferring
 * them would spread them over turns.
 */
function coalesceWrites(socket: Socket): void {
  socket.uncork = function deferredUncork(this: Socket): void {
    if (this.writableCorked > 1) {
      realUncork.call(this);
      return;
    }
    if (this.writableCorked === 0 || corkedSockets.has(this)) return;
    corkedSockets.add(this);
    if (!uncorkScheduled) {
      uncorkScheduled = true;
      setImmediate(uncorkAll);
    }
  };
}

/** Back to node:http's own uncork (the stream ended; the connection may serve other requests). */
function stopCoalescing(socket: Socket): void {
  Reflect.deleteProperty(socket, "uncork");
  if (corkedSockets.delete(socket)) {
    while (socket.writableCorked > 0 && !socket.destroyed) realUncork.call(socket);
  }
}
