/**
 * HTTP transport to the agent's executor API, JSON only: the SUBSCRIBE
 * request holds one persistent connection carrying the RecordIO event
 * stream, and every other call goes over a second keep-alive connection,
 * as the Mesos executor library does. No protobuf runtime is loaded here:
 * this file is on the command executor's start-up path.
 */
import { Agent, type ClientRequest, type IncomingMessage, request } from "node:http";
import { createRequire } from "node:module";
import type { ConnectionOptions } from "node:tls";
import { clientTls } from "../common/process/tls-client.js";
import { RecordIoDecoder } from "../common/recordio/decoder.js";
import type { AgentAddress } from "./executor-environment.js";
import { PipelinedCalls } from "./pipelined-calls.js";

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

/**
 * Loads `node:https` only when TLS is on (it costs start-up time otherwise).
 * The base path only matters for files; built-ins resolve from anywhere.
 */
function https(): typeof import("node:https") {
  return createRequire("file:///")("node:https") as typeof import("node:https");
}

/** Talks to one agent (over HTTPS with `LIBPROCESS_SSL_ENABLED`, as libprocess executors do). */
export class AgentTransport {
  private readonly streamAgent: Agent;
  private readonly send: typeof request;
  private readonly calls: PipelinedCalls;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly address: AgentAddress,
    authenticationToken?: string,
    tls: ConnectionOptions | undefined = address.socketPath === undefined ? clientTls() : undefined,
  ) {
    this.headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (authenticationToken !== undefined) {
      this.headers.Authorization = `Bearer ${authenticationToken}`;
    }
    if (tls === undefined) {
      this.streamAgent = new Agent({ keepAlive: true, maxSockets: 1 });
      this.send = request;
    } else {
      const secure = https();
      this.streamAgent = new secure.Agent({ ...tls, keepAlive: true, maxSockets: 1 });
      this.send = secure.request;
    }
    this.calls = new PipelinedCalls(address, this.headers, CALL_TIMEOUT_MS, tls);
  }

  /** Human-readable address for log lines. */
  describe(): string {
    const a = this.address;
    const where = a.socketPath !== undefined ? `unix:${a.socketPath}` : `${a.host}:${a.port}`;
    return `${this.send === request ? "http" : "https"}://${where}${a.path}`;
  }

  private open(agent: Agent, body: string): ClientRequest {
    const a = this.address;
    return this.send({
      method: "POST",
      agent,
      path: a.path,
      ...(a.socketPath !== undefined
        ? { socketPath: a.socketPath }
        : { host: a.host, port: a.port }),
      headers: { ...this.headers, "Content-Length": Buffer.byteLength(body) },
    });
  }

  /** Sends SUBSCRIBE (`body` is the JSON call) and streams the events it answers with. */
  subscribe(body: string, handlers: SubscriptionHandlers): Subscription {
    let done = false;
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      return true;
    };
    const req = this.open(this.streamAgent, body);
    let sent = false;
    const markSent = (): void => {
      if (sent) return;
      sent = true;
      handlers.onSent();
    };
    req.on("finish", markSent);
    req.on("close", markSent);
    req.on("socket", (socket) => {
      if (socket.connecting) socket.once("connect", () => done || handlers.onConnected());
      else handlers.onConnected();
    });
    req.on("error", (err) => finish() && handlers.onClosed(err.message));
    req.on("response", (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        readBody(res, (text) => finish() && handlers.onRejected(res.statusCode ?? 0, text));
        return;
      }
      if (done) return;
      handlers.onOpen();
      const decoder = new RecordIoDecoder();
      res.on("data", (chunk: Buffer) => {
        if (done) return;
        let records: Uint8Array[];
        try {
          records = decoder.decode(chunk);
        } catch (err) {
          req.destroy();
          if (finish())
            handlers.onClosed(`failed to decode the event stream: ${(err as Error).message}`);
          return;
        }
        for (const record of records) {
          if (done) return;
          handlers.onRecord(record);
        }
      });
      res.on("end", () => finish() && handlers.onClosed("the agent closed the event stream"));
      res.on("error", (err) => finish() && handlers.onClosed(err.message));
      res.on("close", () => finish() && handlers.onClosed("the event stream was interrupted"));
    });
    req.end(body);
    return {
      close: () => {
        done = true;
        req.destroy();
      },
    };
  }

  /**
   * Sends a non-SUBSCRIBE call, pipelined after the calls still in flight on
   * the call connection (answers come in order); rejects on network failure
   * or timeout, which fails every call in flight.
   */
  post(body: string): Promise<CallResponse> {
    return this.calls.post(body);
  }

  /** Drops both connections. */
  close(): void {
    this.streamAgent.destroy();
    this.calls.close();
  }
}

function readBody(res: IncomingMessage, done: (text: string) => void): void {
  let text = "";
  res.setEncoding("utf8");
  res.on("data", (chunk: string) => {
    if (text.length < MAX_ERROR_BODY) text += chunk;
  });
  res.on("end", () => done(text.slice(0, MAX_ERROR_BODY)));
  res.on("error", () => done(text.slice(0, MAX_ERROR_BODY)));
}
