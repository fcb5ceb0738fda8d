/**
 * The fast path for inbound message connections. A libprocess peer's
 * outbound connection carries nothing but messages, so once the first
 * request on a connection is recognized as a message, the whole connection
 * is parsed here instead of by node:http: requests are framed directly from
 * the bytes, delivered in order, and answered with pre-built `202 Accepted`
 * responses written in one batch per tick.
 *
 * Anything this parser does not fully understand at a request boundary (a
 * plain HTTP request, `Expect: 100-continue`, another HTTP version) is handed
 * back to the general HTTP server with the bytes not yet consumed, so the
 * fast path changes speed, never behaviour.
 */
import type { Socket } from "node:net";
import type { Clock } from "../time/clock.js";

/** The outcome of delivering one message: status and optional one-line reason. */
export interface MessageVerdict {
  status: 202 | 400 | 404;
  reason?: string;
}

export interface MessageConnectionOptions {
  clock: Clock;
  maxBodyBytes: number;
  /** Delivers one message; `from` is the raw sender text from the headers. */
  deliver: (from: string, path: string, body: Buffer, remoteAddress: string) => MessageVerdict;
  /** Gives the socket (and unread bytes) to the general HTTP server. */
  handBack: (socket: Socket, rest: Buffer) => void;
  /** Logs a protocol problem (the connection is then closed). */
  onProtocolError: (message: string) => void;
}

const HEAD_END = Buffer.from("\r\n\r\n", "latin1");
const CRLF = Buffer.from("\r\n", "latin1");
const MAX_HEAD_BYTES = 64 * 1024;
/**
 * After this many messages in one turn of the event loop, stop reading until
 * the next turn, so a flood from one peer cannot hold the loop for long.
 */
const MESSAGES_PER_TURN = 1024;
/**
 * After this much time handling messages in one turn, the rest of the read
 * waits for the next turn (in order): 200 launches or status updates arriving in one
 * read cost 100-250 ms of CPU in one go otherwise (a launch storm), during
 * which nothing else (HTTP calls, timers) ran.
 */
const TURN_BUDGET_MS = 10;
/** Stop reading while this much of our own output waits for a slow peer. */
const MAX_PENDING_OUTPUT = 1024 * 1024;
const EMPTY = Buffer.alloc(0);

const REASONS: Record<number, string> = {
  202: "Accepted",
  400: "Bad Request",
  404: "Not Found",
  413: "Payload Too Large",
};

/** True if a request head (request line and headers, no blank line) is a libprocess message. */
export function isMessageHead(head: string): boolean {
  if (!head.startsWith("POST ")) return false;
  return /\r\nlibprocess-from:|\r\nuser-agent:[ \t]*libprocess\//i.test(head);
}

interface Head {
  path: string;
  from: string;
  keepAlive: boolean;
  contentLength: number;
  chunked: boolean;
}

type Stage =
  | { kind: "head" }
  | { kind: "body"; head: Head; remaining: number }
  | { kind: "chunk-size"; head: Head }
  | { kind: "chunk-data"; head: Head; remaining: number }
  | { kind: "chunk-end"; head: Head }
  | { kind: "trailers"; head: Head };

/** Parses and answers the messages of one adopted connection. */
export class MessageConnection {
  private pending: Buffer = EMPTY;
  private stage: Stage = { kind: "head" };
  private finished = false;
  private deliveredThisTurn = 0;
  private turnStartedAt = 0;
  /** Set while the current event-loop turn has been counted (reset by an immediate). */
  private turnMarked = false;
  private yieldScheduled = false;
  private body: Buffer[] = [];
  private bodySize = 0;
  private out: string[] = [];
  private flushScheduled = false;
  private dateSecond = -1;
  private dateText = "";
  private readonly remote: string;
  private readonly onData = (chunk: Buffer): void => this.feed(chunk);
  private readonly onDrain = (): void => {
    if (!this.yieldScheduled) this.socket.resume();
  };

  constructor(
    private readonly socket: Socket,
    private readonly o: MessageConnectionOptions,
  ) {
    this.remote = socket.remoteAddress ?? "";
  }

  /** Takes over the socket; `initial` holds the bytes read while sniffing. */
  start(initial: Buffer): void {
    this.socket.on("data", this.onData);
    this.socket.on("drain", this.onDrain);
    this.feed(initial);
  }

  private feed(chunk: Buffer, resumed = false): void {
    if (this.finished) return;
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = EMPTY;
    if (this.yieldScheduled && !resumed) {
      // Read while yielding (the socket had it buffered): after what waits.
      this.pending = buf;
      return;
    }
    if (!this.turnMarked) {
      this.turnMarked = true;
      this.turnStartedAt = performance.now();
      this.deliveredThisTurn = 0;
      setImmediate(() => {
        this.turnMarked = false;
      });
    }
    let pos = 0;
    while (pos < buf.length) {
      const next = this.step(buf, pos);
      if (next < 0) {
        // Need more bytes: keep the unconsumed tail.
        this.pending = buf.subarray(pos);
        break;
      }
      pos = next;
      if (this.finished) return;
      if (
        pos < buf.length &&
        this.deliveredThisTurn > 0 &&
        performance.now() - this.turnStartedAt > TURN_BUDGET_MS
      ) {
        // The rest of this read is handled next turn, in order.
        this.pending = buf.subarray(pos);
        this.yieldTurn(true);
        return;
      }
    }
    buf = EMPTY;
    if (this.socket.writableLength > MAX_PENDING_OUTPUT) {
      this.socket.pause();
    } else if (this.deliveredThisTurn >= MESSAGES_PER_TURN) {
      this.yieldTurn(false);
    }
  }

  /** Stops reading until the next turn; `more`: bytes already read wait in `pending`. */
  private yieldTurn(more: boolean): void {
    if (this.yieldScheduled) return;
    this.yieldScheduled = true;
    this.socket.pause();
    setImmediate(() => {
      this.yieldScheduled = false;
      this.turnMarked = false;
      if (this.finished) return;
      if (more || this.pending.length > 0) this.feed(EMPTY, true);
      if (
        !this.finished &&
        !this.yieldScheduled &&
        this.socket.writableLength <= MAX_PENDING_OUTPUT
      )
        this.socket.resume();
    });
  }

  /** Consumes from `pos`; returns the new position, or -1 if more bytes are needed. */
  private step(buf: Buffer, pos: number): number {
    const s = this.stage;
    switch (s.kind) {
      case "head": {
        const end = buf.indexOf(HEAD_END, pos);
        if (end < 0) {
          if (buf.length - pos <= MAX_HEAD_BYTES) return -1;
          this.handBack(buf.subarray(pos)); // the HTTP server answers 431
          return buf.length;
        }
        const head = this.parseHead(buf.toString("latin1", pos, end));
        if (head === undefined) {
          this.handBack(buf.subarray(pos));
          return buf.length;
        }
        if (typeof head === "string") {
          this.reject(400, head);
          return buf.length;
        }
        if (head.contentLength > this.o.maxBodyBytes) {
          this.reject(413, `Request body is larger than ${this.o.maxBodyBytes} bytes`);
          return buf.length;
        }
        this.body = [];
        this.bodySize = 0;
        if (head.chunked) this.stage = { kind: "chunk-size", head };
        else if (head.contentLength > 0) {
          this.stage = { kind: "body", head, remaining: head.contentLength };
        } else this.complete(head);
        return end + HEAD_END.length;
      }
      case "body": {
        const take = Math.min(s.remaining, buf.length - pos);
        this.body.push(buf.subarray(pos, pos + take));
        this.bodySize += take;
        s.remaining -= take;
        if (s.remaining === 0) this.complete(s.head);
        return pos + take;
      }
      case "chunk-size": {
        const end = buf.indexOf(CRLF, pos);
        if (end < 0) {
          if (buf.length - pos <= 1024) return -1;
          this.reject(400, "chunk size line too long");
          return buf.length;
        }
        const text = buf.toString("latin1", pos, end).split(";")[0]?.trim() ?? "";
        const size = /^[0-9a-fA-F]{1,8}$/.test(text) ? Number.parseInt(text, 16) : Number.NaN;
        if (Number.isNaN(size)) {
          this.reject(400, `bad chunk size '${text.slice(0, 20)}'`);
          return buf.length;
        }
        if (this.bodySize + size > this.o.maxBodyBytes) {
          this.reject(413, `Request body is larger than ${this.o.maxBodyBytes} bytes`);
          return buf.length;
        }
        this.stage =
          size === 0
            ? { kind: "trailers", head: s.head }
            : { kind: "chunk-data", head: s.head, remaining: size };
        return end + 2;
      }
      case "chunk-data": {
        const take = Math.min(s.remaining, buf.length - pos);
        this.body.push(buf.subarray(pos, pos + take));
        this.bodySize += take;
        s.remaining -= take;
        if (s.remaining === 0) this.stage = { kind: "chunk-end", head: s.head };
        return pos + take;
      }
      case "chunk-end": {
        if (buf.length - pos < 2) return -1;
        if (buf[pos] !== 13 || buf[pos + 1] !== 10) {
          this.reject(400, "chunk data not followed by CRLF");
          return buf.length;
        }
        this.stage = { kind: "chunk-size", head: s.head };
        return pos + 2;
      }
      case "trailers": {
        const end = buf.indexOf(CRLF, pos);
        if (end < 0) {
          if (buf.length - pos <= MAX_HEAD_BYTES) return -1;
          this.reject(400, "trailers too large");
          return buf.length;
        }
        if (end === pos) this.complete(s.head);
        return end + 2;
      }
    }
  }

  /**
   * Parses a request head. Returns undefined for requests this fast path
   * leaves to the HTTP server, a string for a malformed message.
   */
  private parseHead(text: string): Head | string | undefined {
    if (!isMessageHead(text)) return undefined;
    const lines = text.split("\r\n");
    const m = /^POST (\S+) HTTP\/1\.([01])$/.exec(lines[0] ?? "");
    if (m === null) return undefined;
    const target = m[1] as string;
    if (!target.startsWith("/") || target.includes("?") || target.includes("#")) return undefined;
    let from: string | undefined;
    let agent: string | undefined;
    let contentLength = -1;
    let chunked = false;
    let connection = "";
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      const colon = line.indexOf(":");
      if (colon <= 0) return "malformed header line";
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      switch (name) {
        case "libprocess-from":
          from = value;
          break;
        case "user-agent":
          agent = value;
          break;
        case "content-length":
          if (!/^\d{1,15}$/.test(value) || contentLength >= 0) return "bad Content-Length";
          contentLength = Number(value);
          break;
        case "transfer-encoding":
          if (value.toLowerCase() !== "chunked") return undefined;
          chunked = true;
          break;
        case "connection":
          connection = value.toLowerCase();
          break;
        case "expect":
          return undefined;
      }
    }
    if (chunked && contentLength >= 0) return "both Content-Length and chunked encoding";
    const sender = from ?? agent?.slice("libprocess/".length);
    if (sender === undefined) return undefined;
    const keepAlive =
      m[2] === "1" ? !connection.includes("close") : connection.includes("keep-alive");
    return {
      path: target,
      from: sender,
      keepAlive,
      contentLength: Math.max(contentLength, 0),
      chunked,
    };
  }

  private complete(head: Head): void {
    // A single part is a view into a socket read buffer shared with other
    // messages; copy it so a handler keeping the body does not pin the rest.
    const body =
      this.body.length === 1
        ? Buffer.from(this.body[0] as Buffer)
        : Buffer.concat(this.body, this.bodySize);
    this.body = [];
    this.bodySize = 0;
    this.stage = { kind: "head" };
    const verdict = this.o.deliver(head.from, head.path, body, this.remote);
    this.deliveredThisTurn++;
    this.respond(verdict.status, verdict.reason ?? "", !head.keepAlive);
    if (!head.keepAlive) this.finish(true);
  }

  private reject(status: number, reason: string): void {
    this.o.onProtocolError(`${reason} (from ${this.remote})`);
    this.respond(status, reason, true);
    this.finish(true);
  }

  private respond(status: number, body: string, close: boolean): void {
    const second = Math.floor(this.o.clock.now() / 1000);
    if (second !== this.dateSecond) {
      this.dateSecond = second;
      this.dateText = new Date(second * 1000).toUTCString();
    }
    let text = `HTTP/1.1 ${status} ${REASONS[status] ?? ""}\r\nDate: ${this.dateText}\r\n`;
    if (close) text += "Connection: close\r\n";
    if (body.length > 0) text += "Content-Type: text/plain; charset=utf-8\r\n";
    text += `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    this.out.push(text);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.out.length === 0 || this.socket.destroyed) return;
    const text = this.out.length === 1 ? (this.out[0] as string) : this.out.join("");
    this.out = [];
    this.socket.write(text, "latin1");
  }

  /** Stops parsing; with `close`, ends the socket after pending responses. */
  private finish(close: boolean): void {
    this.finished = true;
    this.socket.off("data", this.onData);
    if (close) {
      this.flush();
      this.socket.end();
    }
  }

  private handBack(rest: Buffer): void {
    this.flush();
    this.finish(false);
    this.socket.off("drain", this.onDrain);
    this.o.handBack(this.socket, Buffer.from(rest));
  }
}
