/**
 * Incremental parser of the agent's answer to SUBSCRIBE, read straight off
 * the socket: the status line and headers, then the body — passed on as it
 * arrives (de-chunked) when the status is 200, collected (up to a limit)
 * otherwise. It lets the executor subscribe over `node:net` without loading
 * `node:http` (~5 ms of CPU per executor start, see
 * docs/architecture/command-executor.md). Handles chunked,
 * Content-Length and close-delimited bodies; anything else is an error.
 */

const CRLF = Buffer.from("\r\n", "latin1");
const HEAD_END = Buffer.from("\r\n\r\n", "latin1");
/** A response head bigger than this is a protocol error. */
const MAX_HEAD_BYTES = 64 * 1024;

/** What the parser reports; at most one of `onError`/`onEnd` ends the response. */
export interface SubscribeResponseHandlers {
  /** The head of a 200 answer: body data follows. */
  onOpen(): void;
  /** A piece of a 200 answer's body. */
  onData(data: Buffer): void;
  /** The body of a 200 answer ended (chunked terminator, length reached, or close). */
  onEnd(): void;
  /** A non-200 answer, complete, with the first `maxErrorBody` bytes of its body as text. */
  onRejected(status: number, body: string): void;
  /** The bytes were not a valid HTTP response (or it was cut short). */
  onError(message: string): void;
}

type Body =
  | { kind: "length"; remaining: number }
  | { kind: "chunk-size" }
  | { kind: "chunk-data"; remaining: number }
  | { kind: "chunk-end" }
  | { kind: "trailers" }
  | { kind: "until-close" };

/** Parses one HTTP/1.1 response; feed it socket data, then `end()` on close. */
export class SubscribeResponseParser {
  private pending: Buffer = Buffer.alloc(0);
  private status = 0;
  private body: Body | undefined;
  private done = false;
  private errorText = "";

  constructor(
    private readonly handlers: SubscribeResponseHandlers,
    private readonly maxErrorBody = 4096,
  ) {}

  /** Consumes bytes read from the socket. */
  feed(data: Buffer): void {
    if (this.done) return;
    let buf = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    this.pending = Buffer.alloc(0);
    if (this.body === undefined) {
      const end = buf.indexOf(HEAD_END);
      if (end < 0) {
        if (buf.length > MAX_HEAD_BYTES) this.fail("response head too large");
        else this.pending = buf;
        return;
      }
      if (!this.parseHead(buf.toString("latin1", 0, end))) return;
      buf = buf.subarray(end + HEAD_END.length);
      if (this.status === 200) this.handlers.onOpen();
    }
    this.feedBody(buf);
  }

  /** The connection closed. */
  end(): void {
    if (this.done) return;
    if (this.body?.kind === "until-close") this.finish();
    else this.fail("the connection closed before the response ended");
  }

  private parseHead(head: string): boolean {
    const lines = head.split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? "");
    if (m === null) {
      this.fail(`bad status line '${(lines[0] ?? "").slice(0, 100)}'`);
      return false;
    }
    this.status = Number(m[1]);
    let length: number | undefined;
    let chunked = false;
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === "content-length") {
        length = Number(value);
        if (!Number.isSafeInteger(length) || length < 0) {
          this.fail(`bad Content-Length '${value}'`);
          return false;
        }
      } else if (name === "transfer-encoding") {
        chunked = value.toLowerCase().split(",").pop()?.trim() === "chunked";
      }
    }
    this.body = chunked
      ? { kind: "chunk-size" }
      : length !== undefined
        ? { kind: "length", remaining: length }
        : { kind: "until-close" };
    return true;
  }

  private feedBody(buf: Buffer): void {
    let pos = 0;
    while (!this.done) {
      const b = this.body as Body;
      if (b.kind === "length" && b.remaining === 0) {
        this.finish();
        return;
      }
      if (pos >= buf.length) return;
      switch (b.kind) {
        case "until-close": {
          this.data(buf.subarray(pos));
          return;
        }
        case "length":
        case "chunk-data": {
          const take = Math.min(b.remaining, buf.length - pos);
          this.data(buf.subarray(pos, pos + take));
          b.remaining -= take;
          pos += take;
          if (b.kind === "chunk-data" && b.remaining === 0) this.body = { kind: "chunk-end" };
          break;
        }
        case "chunk-size":
        case "chunk-end":
        case "trailers": {
          const end = buf.indexOf(CRLF, pos);
          if (end < 0) {
            if (buf.length - pos > 1024) this.fail("chunk framing line too long");
            else this.pending = Buffer.from(buf.subarray(pos));
            return;
          }
          const line = buf.toString("latin1", pos, end);
          pos = end + CRLF.length;
          if (b.kind === "chunk-end") {
            if (line !== "") this.fail("chunk data longer than its size");
            else this.body = { kind: "chunk-size" };
          } else if (b.kind === "trailers") {
            if (line === "") this.finish();
          } else {
            const size = Number.parseInt(line.split(";")[0]?.trim() ?? "", 16);
            if (!Number.isFinite(size) || size < 0) this.fail(`bad chunk size '${line}'`);
            else
              this.body =
                size === 0 ? { kind: "trailers" } : { kind: "chunk-data", remaining: size };
          }
          break;
        }
      }
    }
  }

  private data(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.status === 200) this.handlers.onData(piece);
    else if (this.errorText.length < this.maxErrorBody) {
      this.errorText += piece.toString("utf8", 0, this.maxErrorBody - this.errorText.length);
    }
  }

  private finish(): void {
    this.done = true;
    if (this.status === 200) this.handlers.onEnd();
    else this.handlers.onRejected(this.status, this.errorText.slice(0, this.maxErrorBody));
  }

  private fail(message: string): void {
    this.done = true;
    this.handlers.onError(message);
  }
}
