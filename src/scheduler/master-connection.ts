/**
 * HTTP to the master's scheduler endpoint. As Mesos' library does, it keeps
 * two persistent connections: one carries the SUBSCRIBE request and its
 * never-ending event stream, the other carries every other call, pipelined
 * (written without waiting for the previous answer; the master answers in
 * order), so calls arrive in the order they were made (an ACCEPT is seen
 * before the KILL sent after it) without one round trip each. With
 * `LIBPROCESS_SSL_ENABLED` both speak HTTPS.
 */
import { Agent, type ClientRequest, type IncomingMessage, request } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { ConnectionOptions } from "node:tls";
import { HttpPipeline } from "../common/process/http-pipeline.js";
import { clientTls } from "../common/process/tls.js";
import type { Call } from "../common/protocol/generated/mesos-v1-scheduler.js";
import { formatMasterAddress, type MasterAddress, masterFromLocation } from "./master-address.js";
import type { SchedulerWire } from "./wire.js";

/** Path of the scheduler API on the master. */
export const SCHEDULER_API_PATH = "/api/v1/scheduler";

/** What a SUBSCRIBE request came to. */
export type SubscribeOutcome =
  /** 200: the event stream is open. */
  | {
      readonly kind: "stream";
      readonly streamId: string;
      readonly response: IncomingMessage;
      readonly request: ClientRequest;
    }
  /** 307: another master leads (`leader` undefined when the Location header names none). */
  | { readonly kind: "redirect"; readonly leader: MasterAddress | undefined; readonly body: string }
  /** Any other status. */
  | { readonly kind: "refused"; readonly status: number; readonly body: string }
  /** No HTTP answer (connection refused, reset, timed out). */
  | { readonly kind: "failed"; readonly error: string };

/** What a non-SUBSCRIBE call came to. */
export type CallOutcome =
  | { readonly kind: "answered"; readonly status: number; readonly body: Buffer }
  | { readonly kind: "failed"; readonly error: string };

export interface MasterConnectionOptions {
  /** Value of the `Authorization` header, when the framework authenticates. */
  readonly authorization?: string;
  /** A call with no answer after this long fails (ms). */
  readonly callTimeoutMs: number;
  /** A SUBSCRIBE whose response head does not arrive in this long fails (ms). */
  readonly subscribeTimeoutMs: number;
  /**
   * TLS options (HTTPS to the master); default: from `LIBPROCESS_SSL_*` in
   * the environment, as libprocess clients do (`clientTls`).
   */
  readonly tls?: ConnectionOptions;
}

/** Connections to one master. Create a new one after a redirect or a disconnection. */
export class MasterConnection {
  private readonly streamAgent: Agent;
  private readonly tls: ConnectionOptions | undefined;
  private readonly calls: HttpPipeline;
  private closed = false;

  constructor(
    readonly master: MasterAddress,
    private readonly wire: SchedulerWire,
    private readonly options: MasterConnectionOptions,
  ) {
    this.tls = options.tls ?? clientTls();
    this.streamAgent =
      this.tls === undefined
        ? new Agent({ keepAlive: true, maxSockets: 1 })
        : new HttpsAgent({ ...this.tls, keepAlive: true, maxSockets: 1 });
    this.calls = new HttpPipeline(
      { host: master.host, port: master.port, path: SCHEDULER_API_PATH, tls: this.tls },
      options.callTimeoutMs,
      MAX_KEPT_BODY,
      "the master",
    );
  }

  /** `host:port` of the master. */
  get address(): string {
    return formatMasterAddress(this.master);
  }

  /** Sends SUBSCRIBE; on 200 the caller owns the response stream. */
  subscribe(call: Call): Promise<SubscribeOutcome> {
    return new Promise((resolve) => {
      const body = this.wire.encodeCall(call);
      const req = this.request(this.streamAgent, body, undefined);
      let settled = false;
      const settle = (outcome: SubscribeOutcome) => {
        if (settled) return;
        settled = true;
        req.setTimeout(0);
        resolve(outcome);
      };
      req.setTimeout(this.options.subscribeTimeoutMs, () => {
        req.destroy(new Error("no answer to SUBSCRIBE in time"));
      });
      req.on("error", (e) => settle({ kind: "failed", error: e.message }));
      req.on("response", (res) => {
        const status = res.statusCode ?? 0;
        if (status === 200) {
          const streamId = header(res, "mesos-stream-id");
          if (streamId === undefined) {
            res.destroy();
            settle({ kind: "refused", status, body: "the answer carried no Mesos-Stream-Id" });
            return;
          }
          settle({ kind: "stream", streamId, response: res, request: req });
          return;
        }
        readBody(
          res,
          (text) => {
            if (status === 307) {
              const location = header(res, "location");
              settle({
                kind: "redirect",
                leader: location === undefined ? undefined : masterFromLocation(location),
                body: text.toString("utf8"),
              });
            } else {
              settle({ kind: "refused", status, body: text.toString("utf8") });
            }
          },
          (error) => settle({ kind: "failed", error }),
        );
      });
      req.end(body);
    });
  }

  /** Sends a call on the call connection, carrying `streamId`. */
  send(call: Call, streamId: string): Promise<CallOutcome> {
    return new Promise((resolve) => {
      if (this.closed) {
        resolve({ kind: "failed", error: "the connection to the master is closed" });
        return;
      }
      const body = this.wire.encodeCall(call);
      this.calls.post(this.headers(body, streamId), body).then(
        (r) => resolve({ kind: "answered", status: r.status, body: r.body }),
        (e: Error) => resolve({ kind: "failed", error: e.message }),
      );
    });
  }

  /** Drops both connections (an open event stream ends). */
  close(): void {
    this.closed = true;
    this.streamAgent.destroy();
    this.calls.close();
  }

  private request(agent: Agent, body: Buffer, streamId: string | undefined): ClientRequest {
    return (this.tls === undefined ? request : httpsRequest)({
      agent,
      host: this.master.host,
      port: this.master.port,
      method: "POST",
      path: SCHEDULER_API_PATH,
      headers: this.headers(body, streamId),
    });
  }

  private headers(body: Buffer, streamId: string | undefined): Record<string, string | number> {
    const headers: Record<string, string | number> = {
      "Content-Type": this.wire.mediaType,
      Accept: this.wire.mediaType,
      "Content-Length": body.length,
    };
    if (streamId !== undefined) headers["Mesos-Stream-Id"] = streamId;
    if (this.options.authorization !== undefined) {
      headers.Authorization = this.options.authorization;
    }
    return headers;
  }
}

function header(res: IncomingMessage, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Most of an error body kept for messages; the rest is read and dropped. */
const MAX_KEPT_BODY = 64 * 1024;

/** Reads a whole (bounded) body; `failed` runs instead when the body breaks off. */
function readBody(
  res: IncomingMessage,
  done: (body: Buffer) => void,
  failed: (error: string) => void,
): void {
  const parts: Buffer[] = [];
  let kept = 0;
  let ended = false;
  res.on("data", (chunk: Buffer) => {
    if (kept < MAX_KEPT_BODY) {
      parts.push(chunk);
      kept += chunk.length;
    }
  });
  res.on("end", () => {
    ended = true;
    done(Buffer.concat(parts));
  });
  res.on("error", (e) => failed(e.message));
  res.on("close", () => {
    if (!ended) failed("the connection closed before the answer was complete");
  });
}
