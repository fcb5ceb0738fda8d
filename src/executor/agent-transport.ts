/**
 * HTTP transport to the agent's executor API, JSON only: the SUBSCRIBE
 * request holds one persistent connection carrying the RecordIO event
 * stream, and every other call goes over a second keep-alive connection,
 * as the Mesos executor library does. No protobuf runtime and no
 * `node:http` are loaded here (both connections are small clients on
 * `node:net`): this file is on the command executor's start-up path.
 */
import type { Socket } from "node:net";
import type { ConnectionOptions } from "node:tls";
import {
  connectTarget,
  HttpPipeline,
  type PipelineTarget,
  postHead,
} from "../common/process/http-pipeline.js";
import { clientTls } from "../common/process/tls-client.js";
import { RecordIoDecoder } from "../common/recordio/decoder.js";
import type { AgentAddress } from "./executor-environment.js";
import { SubscribeResponseParser } from "./subscribe-response.js";

/** Callbacks of one SUBSCRIBE attempt; at most one of `onRejected`/`onClosed` ends it. */
export interface SubscriptionHandlers {
  /** The TCP connection to the agent is up (the request is being sent). */
  onConnected(): void;
  /** The request has been handed to the socket, or failed before that; called once. */
  onSent(): void;
  /** The agent answered 200: events follow. */
  onOpen(): void;
  /** One RecordIO record (a JSON-encoded event). */
  onRecord(record: Uint8Array): void;
  /** The agent answered something other than 200. */
  onRejected(status: number, body: string): void;
  /** The connection failed or the stream ended (after `onOpen`, or before any answer). */
  onClosed(reason: string): void;
}

/** A running SUBSCRIBE request; `close()` ends it without further callbacks. */
export interface Subscription {
  close(): void;
}

/** Result of a non-SUBSCRIBE call. */
export interface CallResponse {
  status: number;
  body: string;
}

/** Longest a call may wait for its answer before it counts as a network failure. */
const CALL_TIMEOUT_MS = 30_000;
/** Bodies of error answers are only logged; keep them short. */
const MAX_ERROR_BODY = 4096;

/** Talks to one agent (over HTTPS with `LIBPROCESS_SSL_ENABLED`, as libprocess executors do). */
export class AgentTransport {
  /** The agent's executor API, with TLS when it is on (never over a Unix socket). */
  private readonly target: PipelineTarget;
  /** Every call but SUBSCRIBE, pipelined on one connection (as Mesos' executor library does). */
  private readonly calls: HttpPipeline;
  private readonly headers: Record<string, string>;
  /** The SUBSCRIBE connection, while open. */
  private stream: Socket | undefined;

  constructor(
    private readonly address: AgentAddress,
    authenticationToken?: string,
    private readonly tls: ConnectionOptions | undefined = address.socketPath === undefined
      ? clientTls()
      : undefined,
  ) {
    this.headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (authenticationToken !== undefined) {
      this.headers.Authorization = `Bearer ${authenticationToken}`;
    }
    this.target = { ...address, tls: address.socketPath === undefined ? tls : undefined };
    this.calls = new HttpPipeline(this.target, CALL_TIMEOUT_MS, MAX_ERROR_BODY, "the agent");
  }

  /** Human-readable address for log lines. */
  describe(): string {
    const a = this.address;
    const where = a.socketPath !== undefined ? `unix:${a.socketPath}` : `${a.host}:${a.port}`;
    return `${this.tls === undefined ? "http" : "https"}://${where}${a.path}`;
  }

  /** Sends SUBSCRIBE (`body` is the JSON call) and streams the events it answers with. */
  subscribe(body: string, handlers: SubscriptionHandlers): Subscription {
    let done = false;
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      return true;
    };
    let sent = false;
    const markSent = (): void => {
      if (sent) return;
      sent = true;
      handlers.onSent();
    };
    const socket = connectTarget(this.target);
    this.stream = socket;
    socket.setNoDelay(true);
    const decoder = new RecordIoDecoder();
    const parser = new SubscribeResponseParser(
      {
        onOpen: () => done || handlers.onOpen(),
        onData: (chunk) => {
          if (done) return;
          let records: Uint8Array[];
          try {
            records = decoder.decode(chunk);
          } catch (err) {
            socket.destroy();
            if (finish()) {
              handlers.onClosed(`failed to decode the event stream: ${(err as Error).message}`);
            }
            return;
          }
          for (const record of records) {
            if (done) return;
            handlers.onRecord(record);
          }
        },
        onEnd: () => {
          socket.destroy();
          if (finish()) handlers.onClosed("the agent closed the event stream");
        },
        onRejected: (status, text) => {
          socket.destroy();
          if (finish()) handlers.onRejected(status, text);
        },
        onError: (message) => {
          socket.destroy();
          if (finish()) handlers.onClosed(`bad response from the agent: ${message}`);
        },
      },
      MAX_ERROR_BODY,
    );
    const connected = (): void => {
      if (!done) handlers.onConnected();
    };
    // A TLS socket is usable once its handshake is done.
    socket.once(this.target.tls === undefined ? "connect" : "secureConnect", connected);
    // Queued until connected; the callback runs once the request is handed to the kernel.
    socket.write(postHead(this.target, this.headers, Buffer.byteLength(body)) + body, () =>
      markSent(),
    );
    socket.on("data", (chunk: Buffer) => parser.feed(chunk));
    socket.on("end", () => parser.end());
    socket.on("error", (err) => {
      markSent();
      if (finish()) handlers.onClosed(err.message);
    });
    socket.on("close", () => {
      markSent();
      if (this.stream === socket) this.stream = undefined;
      if (finish()) handlers.onClosed("the event stream was interrupted");
    });
    return {
      close: () => {
        done = true;
        socket.destroy();
      },
    };
  }

  /**
   * Sends a non-SUBSCRIBE call, pipelined after the calls still in flight on
   * the call connection (answers come in order); rejects on network failure
   * or timeout, which fails every call in flight.
   */
  async post(body: string): Promise<CallResponse> {
    const answer = await this.calls.post(this.headers, body);
    return { status: answer.status, body: answer.body.toString() };
  }

  /** Drops both connections. */
  close(): void {
    this.stream?.destroy();
    this.stream = undefined;
    this.calls.close();
  }
}
