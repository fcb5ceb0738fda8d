/**
 * A stand-in for the master's scheduler endpoint, for unit tests of
 * frameworks (and of this library) without a cluster: it answers SUBSCRIBE
 * with a RecordIO event stream in the encoding asked for, answers every
 * other call with 202, and records what it received. Tests push events and
 * break streams by hand.
 *
 *   const master = new FakeMaster();
 *   await master.listen();
 *   const client = new SchedulerClient({ master: master.address, framework });
 *   ...
 *   master.push({ type: "OFFERS", offers: { offers: [...] } });
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Call, Event } from "../../common/protocol/generated/mesos-v1-scheduler.js";
import { codecFor } from "../../common/protocol/index.js";
import { encodeRecord } from "../../common/recordio/index.js";

const callCodec = codecFor("mesos.v1.scheduler.Call");
const eventCodec = codecFor("mesos.v1.scheduler.Event");

/** A call the fake master received. */
export interface ReceivedCall {
  call: Call;
  streamId: string | undefined;
  contentType: string | undefined;
  accept: string | undefined;
}

/** The fake master (see the file comment). */
export class FakeMaster {
  readonly server: Server;
  readonly calls: ReceivedCall[] = [];
  readonly streams: { res: ServerResponse; json: boolean; streamId: string }[] = [];
  frameworkCounter = 0;
  /** Status to answer the next SUBSCRIBEs with, instead of a stream. */
  refuseWith: { status: number; body: string; location?: string }[] = [];
  heartbeatSeconds = 15;
  callStatus = 202;
  private waiters: (() => void)[] = [];

  constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return (this.server.address() as AddressInfo).port;
  }

  get address(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  push(event: Event, stream = this.streams.at(-1)): void {
    if (stream === undefined) throw new Error("no open stream");
    const body = stream.json
      ? Buffer.from(eventCodec.encodeJson(event), "utf8")
      : eventCodec.encodeProtobuf(event);
    stream.res.write(encodeRecord(body));
  }

  /** Resolves once `predicate` holds, checking after every request. */
  async until(what: string, predicate: () => boolean): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 20);
      });
    }
  }

  callsOfType(type: string): ReceivedCall[] {
    return this.calls.filter((c) => c.call.type === type);
  }

  async close(): Promise<void> {
    for (const s of this.streams) s.res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      const body = Buffer.concat(parts);
      const json = req.headers["content-type"] === "application/json";
      const decoded = json ? callCodec.decodeJson(body) : callCodec.decodeProtobuf(body);
      if (!decoded.ok) {
        res.writeHead(400).end(decoded.error.message);
        return;
      }
      const call = decoded.value;
      this.calls.push({
        call,
        streamId: req.headers["mesos-stream-id"] as string | undefined,
        contentType: req.headers["content-type"],
        accept: req.headers.accept,
      });
      if (call.type === "SUBSCRIBE") {
        const refusal = this.refuseWith.shift();
        if (refusal !== undefined) {
          const headers: Record<string, string> =
            refusal.location === undefined ? {} : { Location: refusal.location };
          res.writeHead(refusal.status, headers).end(refusal.body);
        } else {
          const streamId = randomUUID();
          res.writeHead(200, {
            "Content-Type": json ? "application/json" : "application/x-protobuf",
            "Mesos-Stream-Id": streamId,
          });
          res.flushHeaders();
          const stream = { res, json, streamId };
          this.streams.push(stream);
          const id = call.framework_id?.value ?? `fw-${++this.frameworkCounter}`;
          this.push(
            {
              type: "SUBSCRIBED",
              subscribed: {
                framework_id: { value: id },
                heartbeat_interval_seconds: this.heartbeatSeconds,
              },
            },
            stream,
          );
        }
      } else {
        res.writeHead(this.callStatus).end(this.callStatus === 202 ? "" : "Call refused");
      }
      for (const w of this.waiters.splice(0)) w();
    });
  }
}
