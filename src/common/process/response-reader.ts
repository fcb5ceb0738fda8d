/**
 * Reads the responses a peer sends back on an outbound message connection.
 * Peers answer every message (202 when delivered), in order; we only need
 * each status, so bodies are skipped without being kept. Handles
 * Content-Length, chunked and close-delimited bodies.
 */

const CRLF = Buffer.from("\r\n", "latin1");
const HEAD_END = Buffer.from("\r\n\r\n", "latin1");
/** A response head (status line and headers) bigger than this is a protocol error. */
const MAX_HEAD_BYTES = 64 * 1024;

type State =
  | { kind: "head" }
  | { kind: "body"; remaining: number }
  | { kind: "chunk-size" }
  | { kind: "chunk-data"; remaining: number }
  | { kind: "trailers" }
  | { kind: "until-close" };

/** Incremental response parser; feed it socket data. */
export class ResponseReader {
  private state: State = { kind: "head" };
  private pending: Buffer = Buffer.alloc(0);
  private failed = false;
  /** With `keepBodyBytes`: the status and body parts of the response being read. */
  private status = 0;
  private parts: Buffer[] = [];
  private kept = 0;

  /**
   * @param onResponse called with each response's status code, in order;
   *   with `keepBodyBytes`, once its body is complete, with up to that many
   *   bytes of it (the rest is read and dropped)
   * @param onError called once when the stream is not valid HTTP; stop feeding after
   */
  constructor(
    private readonly onResponse: (status: number, body?: Buffer) => void,
    private readonly onError: (message: string) => void,
    private readonly keepBodyBytes?: number,
  ) {}

  /**
   * The connection closed: completes a response whose body ran until the
   * close. Returns false when a response was cut short.
   */
  end(): boolean {
    if (this.failed) return true;
    if (this.state.kind === "until-close") {
      this.state = { kind: "head" };
      this.complete();
      return true;
    }
    return this.state.kind === "head" && this.pending.length === 0;
  }

  private keep(buf: Buffer, from: number, to: number): void {
    if (this.keepBodyBytes === undefined || this.kept >= this.keepBodyBytes) return;
    const end = Math.min(to, from + this.keepBodyBytes - this.kept);
    if (end <= from) return;
    this.parts.push(Buffer.from(buf.subarray(from, end)));
    this.kept += end - from;
  }

  /** A response is complete (only called when bodies are kept). */
  private complete(): void {
    if (this.keepBodyBytes === undefined) return;
    const body = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts);
    this.parts = [];
    this.kept = 0;
    this.onResponse(this.status, body);
  }

  /** Consumes bytes read from the socket. */
  feed(data: Buffer): void {
    if (this.failed) return;
    const buf = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    this.pending = Buffer.alloc(0);
    let pos = 0;
    while (pos < buf.length && !this.failed) {
      const s = this.state;
      switch (s.kind) {
        case "head": {
          const end = buf.indexOf(HEAD_END, pos);
          if (end < 0) {
            if (buf.length - pos > MAX_HEAD_BYTES) {
              this.fail("response head too large");
              return;
            }
            this.pending = buf.subarray(pos);
            return;
          }
          this.parseHead(buf.toString("latin1", pos, end));
          pos = end + HEAD_END.length;
          break;
        }
        case "body": {
          const take = Math.min(s.remaining, buf.length - pos);
          this.keep(buf, pos, pos + take);
          s.remaining -= take;
          pos += take;
          if (s.remaining === 0) {
            this.state = { kind: "head" };
            this.complete();
          }
          break;
        }
        case "chunk-size": {
          const end = buf.indexOf(CRLF, pos);
          if (end < 0) {
            if (buf.length - pos > 1024) {
              this.fail("chunk size line too long");
              return;
            }
            this.pending = buf.subarray(pos);
            return;
          }
          const line = buf.toString("latin1", pos, end);
          pos = end + 2;
          const size = Number.parseInt(line.split(";")[0]?.trim() ?? "", 16);
          if (!Number.isFinite(size) || size < 0) {
            this.fail(`bad chunk size '${line}'`);
            return;
          }
          // Data is followed by CRLF; count it as part of the chunk.
          this.state =
            size === 0 ? { kind: "trailers" } : { kind: "chunk-data", remaining: size + 2 };
          break;
        }
        case "chunk-data": {
          const take = Math.min(s.remaining, buf.length - pos);
          // The last two bytes of `remaining` are the CRLF after the data.
          this.keep(buf, pos, pos + Math.min(take, Math.max(0, s.remaining - 2)));
          s.remaining -= take;
          pos += take;
          if (s.remaining === 0) this.state = { kind: "chunk-size" };
          break;
        }
        case "trailers": {
          const end = buf.indexOf(CRLF, pos);
          if (end < 0) {
            if (buf.length - pos > MAX_HEAD_BYTES) {
              this.fail("trailers too large");
              return;
            }
            this.pending = buf.subarray(pos);
            return;
          }
          const last = end === pos;
          pos = end + 2;
          if (last) {
            this.state = { kind: "head" };
            this.complete();
          }
          break;
        }
        case "until-close":
          this.keep(buf, pos, buf.length);
          return;
      }
    }
  }

  private parseHead(head: string): void {
    const lines = head.split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? "");
    if (m === null) {
      this.fail(`bad status line '${(lines[0] ?? "").slice(0, 80)}'`);
      return;
    }
    const status = Number(m[1]);
    let length: number | undefined;
    let chunked = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      const colon = line.indexOf(":");
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === "content-length") {
        if (!/^\d+$/.test(value)) {
          this.fail(`bad Content-Length '${value}'`);
          return;
        }
        length = Number(value);
      } else if (name === "transfer-encoding") {
        chunked = value
          .toLowerCase()
          .split(",")
          .some((v) => v.trim() === "chunked");
      }
    }
    // 1xx answers are interim; only final responses pair up with messages.
    if (status < 200) {
      this.state = { kind: "head" };
      return;
    }
    this.status = status;
    if (this.keepBodyBytes === undefined) this.onResponse(status);
    if (status === 204 || status === 304 || (!chunked && length === 0)) {
      this.state = { kind: "head" };
      this.complete();
    } else if (chunked) this.state = { kind: "chunk-size" };
    else if (length !== undefined) this.state = { kind: "body", remaining: length };
    else this.state = { kind: "until-close" };
  }

  private fail(message: string): void {
    this.failed = true;
    this.onError(message);
  }
}
