/**
 * Test-side peers of a real mesos-master: a raw v1 scheduler client (one
 * HTTP request per call, the SUBSCRIBE stream decoded from RecordIO) and a
 * scripted fake agent that speaks the internal messages over the real
 * transport.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { userInfo } from "node:os";
import { silentLogger } from "../../src/common/observability/logger.js";
import { ProcessBase } from "../../src/common/process/process-base.js";
import { ProcessHost } from "../../src/common/process/process-host.js";
import { parseUpid, type Upid } from "../../src/common/process/upid.js";
import type { Call, Event } from "../../src/common/protocol/generated/mesos-v1-scheduler.js";
import {
  codecFor,
  type MessageTypeMap,
  type MessageTypeName,
} from "../../src/common/protocol/index.js";
import { RecordIoDecoder } from "../../src/common/recordio/index.js";
import { SystemClock } from "../../src/common/time/clock.js";
import { waitFor } from "../harness/processes.js";

const callCodec = codecFor("mesos.v1.scheduler.Call");
const eventCodec = codecFor("mesos.v1.scheduler.Event");

export interface PostResult {
  status: number;
  headers: Headers;
  body: string;
}

/** POSTs a raw body to the scheduler endpoint. */
export async function post(
  url: string,
  body: string | Uint8Array,
  headers: Record<string, string>,
  method = "POST",
): Promise<PostResult> {
  const response = await fetch(`${url}/api/v1/scheduler`, {
    method,
    headers,
    ...(method === "GET" ? {} : { body }),
  });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** A subscribed scheduler: the event stream and the stream id. */
export class Subscription {
  readonly events: Event[] = [];
  private readonly decoder = new RecordIoDecoder();
  ended = false;
  chunks = 0;
  /** Acknowledge every update that carries a uuid, as it arrives. */
  autoAcknowledge = false;
  /** Decline every offer as it arrives, for an hour (a framework told to keep out of the way). */
  autoDecline = false;

  constructor(
    readonly url: string,
    readonly response: IncomingMessage,
    readonly format: "json" | "protobuf",
  ) {
    response.on("data", (chunk: Buffer) => {
      this.chunks++;
      for (const record of this.decoder.decode(chunk)) {
        const decoded =
          format === "json" ? eventCodec.decodeJson(record) : eventCodec.decodeProtobuf(record);
        if (!decoded.ok) continue;
        this.events.push(decoded.value);
        const offerIds = (decoded.value.offers?.offers ?? []).map((o) => o.id);
        if (this.autoDecline && offerIds.length > 0) {
          this.call({
            type: "DECLINE",
            decline: { offer_ids: offerIds, filters: { refuse_seconds: 3600 } },
          }).catch(() => {});
        }
        const status = decoded.value.update?.status;
        if (this.autoAcknowledge && status?.uuid !== undefined && status.agent_id !== undefined) {
          this.call({
            type: "ACKNOWLEDGE",
            acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid },
          }).catch(() => {});
        }
      }
    });
    response.on("end", () => {
      this.ended = true;
    });
    response.on("close", () => {
      this.ended = true;
    });
  }

  get streamId(): string {
    return String(this.response.headers["mesos-stream-id"] ?? "");
  }

  get frameworkId(): string {
    return this.events[0]?.subscribed?.framework_id.value ?? "";
  }

  /** Waits for an event matching `predicate` (searching from the start). */
  next(predicate: (e: Event) => boolean, what = "an event", timeoutMs = 15_000): Promise<Event> {
    return waitFor(what, () => this.events.find(predicate), { timeoutMs, intervalMs: 10 });
  }

  /** Waits for the `n`th event of a type (1-based). */
  nth(type: string, n = 1, timeoutMs = 15_000): Promise<Event> {
    return waitFor(
      `${n} ${type} event(s)`,
      () => this.events.filter((e) => e.type === type)[n - 1],
      { timeoutMs, intervalMs: 10 },
    );
  }

  /** Sends a call on its own connection, with the stream id and the framework id. */
  call(call: Call): Promise<PostResult> {
    const full: Call = { framework_id: { value: this.frameworkId }, ...call };
    return post(this.url, callCodec.encodeJson(full), {
      "Content-Type": "application/json",
      "Mesos-Stream-Id": this.streamId,
    });
  }

  close(): void {
    this.response.destroy();
  }
}

/** Opens a SUBSCRIBE stream; resolves once the response headers arrive. */
export function subscribe(
  url: string,
  call: Call,
  options: { format?: "json" | "protobuf"; headers?: Record<string, string> } = {},
): Promise<Subscription> {
  const format = options.format ?? "json";
  const body = format === "json" ? callCodec.encodeJson(call) : callCodec.encodeProtobuf(call);
  const type = format === "json" ? "application/json" : "application/x-protobuf";
  const target = new URL(`${url}/api/v1/scheduler`);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        agent: false,
        headers: { "Content-Type": type, Accept: type, ...options.headers },
      },
      (res) => resolve(new Subscription(url, res, format)),
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The SUBSCRIBE call for a framework. */
export function subscribeCall(name = "test", extra: Record<string, unknown> = {}): Call {
  return {
    type: "SUBSCRIBE",
    // The current user, so a real agent (with --switch_user) can run tasks as it.
    subscribe: { framework_info: { user: userInfo().username, name, ...extra } },
  };
}

/** A message a fake agent received. */
export interface Received {
  type: string;
  message: unknown;
}

/** A fake agent process (`slave(1)` in a host of its own) that registers and answers pings. */
export class FakeAgent {
  readonly received: Received[] = [];
  agentId = "";
  private constructor(
    readonly host: ProcessHost,
    readonly process: ProcessBase,
    readonly master: Upid,
  ) {}

  /** `bindPort`: 0 (the default) for any free port. */
  static async start(masterAddress: string, bindPort = 0): Promise<FakeAgent> {
    const host = new ProcessHost({
      logger: silentLogger,
      clock: new SystemClock(),
      listen: {
        bindIp: "127.0.0.1",
        bindPort,
        advertiseIp: undefined,
        advertisePort: undefined,
      },
    });
    await host.start();
    const process = new ProcessBase("slave(1)");
    const master = parseUpid(`master@${masterAddress}`);
    if (!master.ok) throw master.error;
    const agent = new FakeAgent(host, process, master.value);
    const record = <K extends MessageTypeName>(type: K, then?: (m: MessageTypeMap[K]) => void) => {
      const codec = codecFor(type);
      process.install(
        type,
        (bytes) => {
          const r = codec.decodeProtobuf(bytes);
          return r.ok ? { ok: true, value: r.value } : { ok: false, error: r.error };
        },
        (_from, message) => {
          agent.received.push({ type, message });
          then?.(message);
        },
      );
    };
    record("mesos.internal.SlaveRegisteredMessage", (m) => {
      agent.agentId = m.slave_id.value;
    });
    record("mesos.internal.PingSlaveMessage", () =>
      agent.send("mesos.internal.PongSlaveMessage", {}),
    );
    for (const type of [
      "mesos.internal.RunTaskMessage",
      "mesos.internal.RunTaskGroupMessage",
      "mesos.internal.KillTaskMessage",
      "mesos.internal.StatusUpdateAcknowledgementMessage",
      "mesos.internal.ShutdownFrameworkMessage",
      "mesos.internal.UpdateFrameworkMessage",
    ] as const) {
      record(type);
    }
    host.spawn(process);
    return agent;
  }

  send<K extends MessageTypeName>(type: K, message: MessageTypeMap[K]): void {
    this.process.send(this.master, type, codecFor(type).encodeProtobuf(message));
  }

  /** Registers with the given resources and waits for the agent id. */
  async register(
    resources: MessageTypeMap["mesos.internal.RegisterSlaveMessage"]["slave"]["resources"],
  ): Promise<string> {
    this.send("mesos.internal.RegisterSlaveMessage", {
      slave: { hostname: "fake-agent", port: this.host.port, resources, checkpoint: true },
      version: "1.12.0",
      agent_capabilities: [
        { type: "MULTI_ROLE" },
        { type: "HIERARCHICAL_ROLE" },
        { type: "RESERVATION_REFINEMENT" },
        { type: "TASK_RESOURCE_LIMITS" },
      ],
    });
    await waitFor("the agent to register", () => this.agentId !== "");
    return this.agentId;
  }

  /** Messages of one type received so far. */
  ofType<K extends MessageTypeName>(type: K): MessageTypeMap[K][] {
    return this.received.filter((r) => r.type === type).map((r) => r.message as MessageTypeMap[K]);
  }

  get pid(): string {
    return this.process.self.toString();
  }

  stop(): Promise<void> {
    return this.host.stop();
  }
}
