/**
 * One outbound message connection to a peer host (`ip:port`). Messages are
 * written back to back without waiting for the peer's 202s (pipelining);
 * the responses are read and discarded, and any that is not 202 is logged.
 * Order per peer is the order of `send` calls.
 *
 * While the connection is being (re)established messages wait in a bounded
 * queue. A failed connect is retried with exponential backoff as long as
 * messages are waiting; after `giveUpAfterFailures` failures in a row they are
 * dropped. Messages already written to a connection that then breaks are lost
 * (at most once, like libprocess); Mesos' protocols retry what matters.
 * The connection is never closed for being idle.
 */
import { connect, type Socket } from "node:net";
import { connect as connectTls, type TLSSocket } from "node:tls";
import type { Logger } from "../observability/logger.js";
import type { Clock, TimerHandle } from "../time/clock.js";
import { type BackoffOptions, backoffDelay } from "./backoff.js";
import { ResponseReader } from "./response-reader.js";
import type { ClientTls } from "./tls-client.js";

/** Limits on what may wait for one peer. */
export interface QueueLimits {
  /** Messages waiting for a connection; the oldest is dropped beyond this. */
  maxMessages: number;
  /** Bytes waiting (queued, or written but not yet taken by the kernel); new messages are dropped beyond this. */
  maxBytes: number;
}

export const DEFAULT_QUEUE_LIMITS: QueueLimits = {
  maxMessages: 100_000,
  maxBytes: 256 * 1024 * 1024,
};

export interface PeerConnectionOptions {
  /** `ip:port`, for logs. */
  address: string;
  host: string;
  port: number;
  clock: Clock;
  logger: Logger;
  backoff: BackoffOptions;
  limits: QueueLimits;
  /** The connection went down, or a connect attempt failed (drives "exited"). */
  onDown: () => void;
  /** The connection is down with nothing waiting: the owner may forget it. */
  onIdle?: () => void;
  /**
   * Connect with TLS (LIBPROCESS_SSL_ENABLED). With `downgrade`, a TLS
   * connection that fails before it is up is tried again at once in plain,
   * as libprocess does; `afterHandshake` (the legacy name check) must pass
   * before anything is written.
   */
  tls?: ClientTls | undefined;
}

/** Counters for one peer connection. */
export interface PeerStats {
  sent: number;
  accepted: number;
  notAccepted: number;
  dropped: number;
  connects: number;
  connectFailures: number;
}

/** A burst is written in pieces of about this size. */
const BATCH_BYTES = 256 * 1024;

type State = "idle" | "connecting" | "connected" | "waiting" | "closed";

/** A FIFO of labels (`/id/name`) for messages written but not yet answered. */
class LabelQueue {
  private items: string[] = [];
  private head = 0;
  get size(): number {
    return this.items.length - this.head;
  }
  push(s: string): void {
    this.items.push(s);
  }
  shift(): string | undefined {
    if (this.head >= this.items.length) return undefined;
    const s = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return s;
  }
  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

export class PeerConnection {
  readonly stats: PeerStats = {
    sent: 0,
    accepted: 0,
    notAccepted: 0,
    dropped: 0,
    connects: 0,
    connectFailures: 0,
  };
  private state: State = "idle";
  private socket: Socket | undefined;
  private queue: { frame: Buffer; label: string }[] = [];
  private queuedBytes = 0;
  private failures = 0;
  private timer: TimerHandle | undefined;
  private readonly unanswered = new LabelQueue();
  private batch: { frame: Buffer; label: string }[] = [];
  private batchBytes = 0;
  /** The next connect is the plain retry of a TLS attempt that failed (downgrade). */
  private plainRetry = false;

  constructor(private readonly o: PeerConnectionOptions) {}

  /** True while a connection is established. */
  get connected(): boolean {
    return this.state === "connected";
  }

  /** Sends one framed message; `label` names it in logs. */
  send(frame: Buffer, label: string): void {
    if (this.state === "closed") return;
    if (this.state === "connected" && this.socket !== undefined) {
      if (
        this.socket.writableLength + this.batchBytes + frame.byteLength >
        this.o.limits.maxBytes
      ) {
        this.drop(1, `peer is not reading (${this.socket.writableLength} bytes buffered)`);
        return;
      }
      this.write(this.socket, frame, label);
      return;
    }
    this.enqueue(frame, label);
    if (this.state === "idle") this.open();
  }

  /** Makes sure a connection exists or is being made now (used by link). */
  ensureConnected(): void {
    if (this.state === "idle") this.open();
    else if (this.state === "waiting") {
      this.cancelTimer();
      this.open();
    }
  }

  /**
   * Replaces the current socket by a new one (link with reconnect). The old
   * socket is dropped without a down notification; messages written on it
   * and not answered may be lost.
   */
  reconnect(): void {
    if (this.state === "closed") return;
    const old = this.socket;
    this.socket = undefined;
    this.requeueBatch();
    const lost = this.unanswered.size;
    this.unanswered.clear();
    if (old !== undefined) {
      old.destroy();
      if (lost > 0) {
        this.o.logger.info(
          `Replaced connection to ${this.o.address}; ${lost} message(s) unanswered`,
        );
      }
    }
    this.cancelTimer();
    this.open();
  }

  /** Closes for good: drops the socket, the timer and anything queued. */
  close(): void {
    this.state = "closed";
    this.cancelTimer();
    const s = this.socket;
    this.socket = undefined;
    s?.destroy();
    this.queue = [];
    this.queuedBytes = 0;
    this.batch = [];
    this.batchBytes = 0;
    this.unanswered.clear();
  }

  private enqueue(frame: Buffer, label: string): void {
    if (this.queuedBytes + frame.byteLength > this.o.limits.maxBytes) {
      this.drop(1, `more than ${this.o.limits.maxBytes} bytes waiting`);
      return;
    }
    this.queue.push({ frame, label });
    this.queuedBytes += frame.byteLength;
    if (this.queue.length > this.o.limits.maxMessages) {
      const oldest = this.queue.shift();
      if (oldest !== undefined) this.queuedBytes -= oldest.frame.byteLength;
      this.drop(1, `more than ${this.o.limits.maxMessages} messages waiting`);
    }
  }

  private drop(count: number, why: string): void {
    const before = this.stats.dropped;
    this.stats.dropped += count;
    // One line per power of ten keeps a dead peer from flooding the log.
    if (
      Math.floor(Math.log10(before + 1)) !== Math.floor(Math.log10(this.stats.dropped + 1)) ||
      before === 0
    ) {
      this.o.logger.warn(
        `Dropped ${count} message(s) to ${this.o.address}: ${why} (${this.stats.dropped} dropped so far)`,
      );
    }
  }

  private write(socket: Socket, frame: Buffer, label: string): void {
    // Frames sent in the same tick go out together as one buffer: one
    // syscall for a burst instead of one per message.
    if (this.batch.length === 0) process.nextTick(() => this.flush(socket));
    this.batch.push({ frame, label });
    this.batchBytes += frame.byteLength;
    if (this.batchBytes >= BATCH_BYTES) this.flush(socket);
  }

  private flush(socket: Socket): void {
    if (this.batch.length === 0 || this.socket !== socket) return;
    const items = this.batch;
    const bytes = this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    const frames: Buffer[] = [];
    for (const item of items) {
      frames.push(item.frame);
      this.unanswered.push(item.label);
    }
    this.stats.sent += items.length;
    socket.write(frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames, bytes));
  }

  /** Frames batched for a socket that is going away go back to the front of the queue. */
  private requeueBatch(): void {
    if (this.batch.length === 0) return;
    this.queue = [...this.batch, ...this.queue];
    this.queuedBytes += this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
  }

  private open(): void {
    this.state = "connecting";
    const tls = this.plainRetry ? undefined : this.o.tls;
    this.plainRetry = false;
    const socket =
      tls === undefined
        ? connect({ host: this.o.host, port: this.o.port, noDelay: true })
        : connectTls({ ...tls, host: this.o.host, port: this.o.port });
    if (tls !== undefined) socket.setNoDelay(true);
    this.socket = socket;
    socket.setKeepAlive(true, 30_000);
    const reader = new ResponseReader(
      (status) => this.onResponse(status),
      (message) => {
        this.o.logger.warn(`Bad response stream from ${this.o.address}: ${message}; reconnecting`);
        socket.destroy();
      },
    );
    let lastError: string | undefined;
    const up = (): void => {
      if (this.socket !== socket) return;
      this.state = "connected";
      this.failures = 0;
      this.stats.connects++;
      this.o.logger.verbose(
        1,
        `Connected to ${this.o.address}${tls === undefined ? "" : " (TLS)"}`,
      );
      const queued = this.queue;
      this.queue = [];
      this.queuedBytes = 0;
      for (const q of queued) this.write(socket, q.frame, q.label);
    };
    if (tls === undefined) {
      socket.on("connect", up);
    } else {
      // Up once the handshake (and the legacy name check, if any) passed.
      socket.on("secureConnect", () => {
        const check = tls.afterHandshake;
        if (check === undefined) {
          up();
          return;
        }
        const tlsSocket = socket as TLSSocket;
        void check(tlsSocket).then((problem) => {
          if (problem === undefined) {
            up();
            return;
          }
          lastError = `certificate verification failed: ${problem}`;
          socket.destroy();
        });
      });
    }
    socket.on("data", (data: Buffer) => reader.feed(data));
    socket.on("error", (e) => {
      lastError = e.message;
    });
    socket.on("close", () => this.onClose(socket, lastError, tls !== undefined));
  }

  private onResponse(status: number): void {
    const label = this.unanswered.shift();
    if (status === 202) {
      this.stats.accepted++;
      return;
    }
    this.stats.notAccepted++;
    this.o.logger.warn(
      `Peer ${this.o.address} answered ${status} to message ${label ?? "(unknown)"}; it was not delivered`,
    );
  }

  private onClose(socket: Socket, error: string | undefined, wasTls: boolean): void {
    if (this.socket !== socket) return; // replaced by reconnect() or closed
    this.socket = undefined;
    this.requeueBatch();
    const wasConnected = this.state === "connected";
    if (!wasConnected && wasTls && this.o.tls?.downgrade === true) {
      this.o.logger.verbose(
        1,
        `TLS connection to ${this.o.address} failed (${error ?? "closed"}); trying plain (LIBPROCESS_SSL_SUPPORT_DOWNGRADE)`,
      );
      this.plainRetry = true;
      this.open();
      return;
    }
    const lost = this.unanswered.size;
    this.unanswered.clear();
    if (wasConnected) {
      const detail = lost > 0 ? ` with ${lost} message(s) unanswered (they may be lost)` : "";
      this.o.logger.info(
        `Connection to ${this.o.address} closed${error === undefined ? "" : ` (${error})`}${detail}`,
      );
    } else {
      this.failures++;
      this.stats.connectFailures++;
      const line = `Failed to connect to ${this.o.address}: ${error ?? "closed"}`;
      if (this.failures === 1) this.o.logger.warn(line);
      else this.o.logger.verbose(1, `${line} (attempt ${this.failures})`);
    }
    this.state = "idle";
    this.o.onDown();
    if (this.state !== "idle") return; // onDown re-linked and reopened
    if (this.queue.length === 0) {
      this.o.onIdle?.();
      return;
    }
    if (this.failures >= this.o.backoff.giveUpAfterFailures) {
      const n = this.queue.length;
      this.queue = [];
      this.queuedBytes = 0;
      this.failures = 0;
      this.drop(n, `peer unreachable after ${this.o.backoff.giveUpAfterFailures} attempts`);
      this.o.onIdle?.();
      return;
    }
    if (this.failures === 0) {
      this.open();
      return;
    }
    this.state = "waiting";
    this.timer = this.o.clock.setTimer(backoffDelay(this.failures, this.o.backoff), () => {
      this.timer = undefined;
      if (this.state === "waiting") this.open();
    });
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) {
      this.o.clock.cancelTimer(this.timer);
      this.timer = undefined;
    }
  }
}
