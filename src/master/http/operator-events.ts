/**
 * The operator event stream (v1 operator SUBSCRIBE): SUBSCRIBED with the
 * full GET_STATE, then TASK_ADDED, TASK_UPDATED, AGENT_ADDED,
 * AGENT_REMOVED, FRAMEWORK_ADDED, FRAMEWORK_UPDATED, FRAMEWORK_REMOVED as
 * the master changes, and a HEARTBEAT every 15 seconds, as RecordIO
 * records in the subscriber's encoding.
 *
 * SUBSCRIBED is the cached GET_STATE document (state-documents.ts: built in
 * slices from per-entity fragments, JSON or protobuf) spliced into the
 * event and written in the turns big reads share, so a subscriber at 10k
 * agents never holds the event loop for the whole state. Events that
 * happen meanwhile wait behind it, in order. Every event bumps the state
 * version and is tagged with the version after its bump; the snapshot's
 * entities were collected at its build's version, so an event is sent
 * after SUBSCRIBED exactly when its tag is newer than the snapshot (a task
 * added during the write is either in the snapshot or announced by
 * TASK_ADDED after it, never both). An entity's content is rendered during
 * the build, so an update in that window may already show in the snapshot;
 * its TASK_UPDATED still follows (applying it again changes nothing).
 *
 * Each event is encoded once per encoding and written to every subscriber.
 * Writes never wait: a subscriber whose unsent output grows beyond
 * `maxBufferedBytes` (beyond what is left of its SUBSCRIBED snapshot) is
 * disconnected, so one slow reader cannot hold memory or delay the others. At most
 * `--max_operator_event_stream_subscribers` streams are open; the oldest is
 * closed to make room.
 */
import type { ResponseStream, StreamingResponse } from "../../common/http/response.js";
import { streaming } from "../../common/http/response.js";
import { mediaType, type V1ContentType } from "../../common/http/v1-api.js";
import type { Logger } from "../../common/observability/logger.js";
import type { Event } from "../../common/protocol/generated/mesos-v1-master.js";
import { codecFor } from "../../common/protocol/index.js";
import { recordHeader } from "../../common/recordio/encoder.js";
import type { Clock, TimerHandle } from "../../common/time/clock.js";
import type { Master } from "../core/master.js";
import { lengthKey, type StateDocuments } from "./state-documents.js";
import { agentMessage, frameworkMessage } from "./v1-state.js";

const eventCodec = codecFor("mesos.v1.master.Event");

/** Mesos' DEFAULT_HEARTBEAT_INTERVAL for operator streams. */
export const OPERATOR_HEARTBEAT_MS = 15_000;
/** Default bound on a subscriber's unsent output beyond its snapshot. */
export const DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export interface OperatorEventsOptions {
  readonly master: Master;
  readonly documents: StateDocuments;
  readonly clock: Clock;
  readonly logger: Logger;
  /** `--max_operator_event_stream_subscribers`. */
  readonly maxSubscribers: number;
  readonly heartbeatMs?: number;
  readonly maxBufferedBytes?: number;
}

interface Subscriber {
  readonly stream: ResponseStream;
  readonly type: V1ContentType;
  /** Events (with their state version) that happened before SUBSCRIBED went out. */
  pending: { record: Uint8Array; version: number }[] | undefined;
  pendingBytes: number;
  /** Buffered bytes allowed (the snapshot plus the bound). */
  allowance: number;
  heartbeat: TimerHandle | undefined;
}

/** One encoded event, encoded lazily per encoding. */
class EncodedEvent {
  private json: Buffer | undefined;
  private protobuf: Buffer | undefined;

  constructor(private readonly event: Event) {}

  record(type: V1ContentType): Buffer {
    if (type === "json") {
      this.json ??= frame(Buffer.from(eventCodec.encodeJson(this.event), "utf8"));
      return this.json;
    }
    this.protobuf ??= frame(eventCodec.encodeProtobuf(this.event));
    return this.protobuf;
  }
}

function frame(body: Buffer): Buffer {
  return Buffer.concat([recordHeader(body.byteLength), body]);
}

/** `Event.type = SUBSCRIBED` (field 1, varint 1). */
const SUBSCRIBED_TYPE = Buffer.from([0x08, 1]);

/** `Subscribed.heartbeat_interval_seconds` (field 2, a double). */
function heartbeatField(seconds: number): Buffer {
  const out = Buffer.alloc(9);
  out[0] = (2 << 3) | 1;
  out.writeDoubleLE(seconds, 1);
  return out;
}

/** The subscribers of one master. */
export class OperatorEvents {
  private readonly subscribers: Subscriber[] = [];
  private readonly heartbeatMs: number;
  private readonly maxBuffered: number;
  /** Subscribers dropped for reading too slowly. */
  dropped = 0;

  constructor(private readonly options: OperatorEventsOptions) {
    this.heartbeatMs = options.heartbeatMs ?? OPERATOR_HEARTBEAT_MS;
    this.maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    const m = options.master;
    m.events.listen({
      taskAdded: (task) => this.publish(() => ({ type: "TASK_ADDED", task_added: { task } })),
      taskUpdated: (task, status, _previous, notify) => {
        if (!notify) return;
        this.publish(() => ({
          type: "TASK_UPDATED",
          task_updated: { framework_id: task.framework_id, status, state: task.state },
        }));
      },
      agentAdded: (agent) =>
        this.publish(() => ({
          type: "AGENT_ADDED",
          agent_added: { agent: agentMessage(m, agent) },
        })),
      agentRemoved: (agent) =>
        this.publish(() => ({
          type: "AGENT_REMOVED",
          agent_removed: { agent_id: { value: agent.id } },
        })),
      frameworkAdded: (f) =>
        this.publish(() => ({
          type: "FRAMEWORK_ADDED",
          framework_added: { framework: frameworkMessage(f) },
        })),
      frameworkUpdated: (f) =>
        this.publish(() => ({
          type: "FRAMEWORK_UPDATED",
          framework_updated: { framework: frameworkMessage(f) },
        })),
      frameworkRemoved: (f) =>
        this.publish(() => ({
          type: "FRAMEWORK_REMOVED",
          framework_removed: { framework_info: f.info },
        })),
    });
  }

  /** Open streams. */
  get count(): number {
    return this.subscribers.length;
  }

  /** The response of a SUBSCRIBE call in `type`. */
  subscribe(type: V1ContentType): StreamingResponse {
    return streaming(
      200,
      { "Content-Type": mediaType(type), "Transfer-Encoding": "chunked" },
      (stream) => this.start(stream, type),
    );
  }

  /** Ends every stream (shutdown). */
  stop(): void {
    for (const s of [...this.subscribers]) this.remove(s, "end");
  }

  private start(stream: ResponseStream, type: V1ContentType): void {
    const max = this.options.maxSubscribers;
    while (max > 0 && this.subscribers.length >= max) {
      const oldest = this.subscribers[0] as Subscriber;
      this.options.logger.info(
        `Closing the oldest operator event stream (${oldest.stream.remote}): ` +
          `--max_operator_event_stream_subscribers=${max} reached`,
      );
      this.remove(oldest, "end");
    }
    const s: Subscriber = {
      stream,
      type,
      pending: [],
      pendingBytes: 0,
      allowance: this.maxBuffered,
      heartbeat: undefined,
    };
    this.subscribers.push(s);
    stream.onClose(() => this.remove(s, "keep"));
    this.options.logger.info(`Added operator event stream subscriber ${stream.remote}`);
    this.sendSubscribed(s).then(
      (snapshot) => {
        if (stream.closed) return;
        // What is left of the snapshot in the socket is allowed on top of the bound.
        s.allowance = (stream.bufferedBytes ?? 0) + this.maxBuffered;
        const pending = s.pending ?? [];
        s.pending = undefined;
        for (const { record, version } of pending) {
          // Older events are already in the snapshot.
          if (version > snapshot) this.write(s, record);
        }
        this.scheduleHeartbeat(s);
      },
      (error: unknown) => {
        this.options.logger.error(
          `Failed to send SUBSCRIBED to ${stream.remote}: ${String(error)}`,
        );
        this.remove(s, "abort");
      },
    );
  }

  /**
   * Writes SUBSCRIBED in turns (the snapshot's parts are the cached
   * document's buffers, never copied); resolves with the snapshot's version.
   */
  private async sendSubscribed(s: Subscriber): Promise<number> {
    const heartbeat = this.heartbeatMs / 1000;
    const documents = this.options.documents;
    if (s.type === "protobuf") {
      const state = await documents.getStateProtobufMessage();
      if (s.stream.closed) return state.version;
      // Event { type = 1; subscribed = 2 { get_state = 1; heartbeat_interval_seconds = 2 } }.
      const stateKey = lengthKey(1, state.bytes);
      const tail = heartbeatField(heartbeat);
      const subscribedBytes = stateKey.byteLength + state.bytes + tail.byteLength;
      const head = Buffer.concat([SUBSCRIBED_TYPE, lengthKey(2, subscribedBytes), stateKey]);
      const length = head.byteLength + state.bytes + tail.byteLength;
      await documents.write(s.stream, [recordHeader(length), head, ...state.parts, tail]);
      return state.version;
    }
    const doc = await documents.getState();
    if (s.stream.closed) return doc.version;
    const head = '{"type":"SUBSCRIBED","subscribed":{"get_state":';
    const tail = `,"heartbeat_interval_seconds":${heartbeat}}}`;
    const length = Buffer.byteLength(head) + doc.bytes + Buffer.byteLength(tail);
    await documents.write(s.stream, [`${length}\n${head}`, ...doc.parts, tail]);
    return doc.version;
  }

  private scheduleHeartbeat(s: Subscriber): void {
    s.heartbeat = this.options.clock.setTimer(this.heartbeatMs, () => {
      s.heartbeat = undefined;
      if (s.stream.closed) return;
      this.write(s, new EncodedEvent({ type: "HEARTBEAT" }).record(s.type));
      if (!s.stream.closed) this.scheduleHeartbeat(s);
    });
  }

  private publish(make: () => Event): void {
    // The change is newer than any snapshot started before it (see the top).
    const version = this.options.documents.version;
    version.bump();
    if (this.subscribers.length === 0) return;
    const event = new EncodedEvent(make());
    for (const s of [...this.subscribers]) {
      const record = event.record(s.type);
      if (s.pending === undefined) {
        this.write(s, record);
        continue;
      }
      s.pending.push({ record, version: version.value });
      s.pendingBytes += record.byteLength;
      if (s.pendingBytes > this.maxBuffered) {
        this.dropped++;
        this.options.logger.warn(
          `Disconnecting operator event stream subscriber ${s.stream.remote}: ` +
            `${s.pendingBytes} bytes of events queued behind its SUBSCRIBED`,
        );
        this.remove(s, "abort");
      }
    }
  }

  private write(s: Subscriber, record: Uint8Array): void {
    if (s.stream.closed) return;
    s.stream.write(record);
    const buffered = s.stream.bufferedBytes;
    if (buffered !== undefined && buffered > s.allowance) {
      this.dropped++;
      this.options.logger.warn(
        `Disconnecting operator event stream subscriber ${s.stream.remote}: ` +
          `${buffered} bytes not yet read (limit ${s.allowance})`,
      );
      this.remove(s, "abort");
    }
  }

  /** Forgets a subscriber; `end` closes its stream cleanly, `abort` drops the connection. */
  private remove(s: Subscriber, how: "keep" | "end" | "abort"): void {
    const i = this.subscribers.indexOf(s);
    if (i >= 0) this.subscribers.splice(i, 1);
    if (s.heartbeat !== undefined) this.options.clock.cancelTimer(s.heartbeat);
    s.heartbeat = undefined;
    if (how === "keep" || s.stream.closed) return;
    if (how === "abort" && s.stream.abort !== undefined) s.stream.abort();
    else s.stream.end();
  }
}
