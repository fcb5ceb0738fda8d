/**
 * The task status update manager: delivers every task status update to the
 * framework at least once and in order per task. Each task has a stream;
 * the oldest unacknowledged update of a stream is forwarded (through the
 * master) and re-forwarded with exponential backoff (10 s doubling up to
 * 10 min, as Mesos) until the framework's acknowledgement comes back; then
 * the next update of that task goes out. While the agent is not registered
 * the manager is paused: nothing is forwarded, and `resume` re-sends the
 * head of every stream.
 *
 * Streams of checkpointing frameworks go to disk through the `checkpoint`
 * hook: an update is only sent once its record is durable (and the caller
 * learns when through `durable`, so the executor is acknowledged only
 * then); after an acknowledgement, the next update goes out once the ACK
 * record is durable. `recover` rebuilds streams from the checkpoint after an
 * agent restart; `resume` then replays what was not acknowledged.
 *
 * Plain code on an injected clock.
 */

import { type Logger, LogSite } from "../../common/observability/logger.js";
import type { StatusUpdate } from "../../common/protocol/generated/mesos-internal.js";
import type { Clock } from "../../common/time/clock.js";
import { describeUpdate } from "./status-update.js";
import { TaskStatusUpdateStream } from "./stream.js";

// Call sites of the lines written for every update (see LogSite).
const RECEIVED_UPDATE = new LogSite();
const RECEIVED_ACK = new LogSite();

/** Mesos' STATUS_UPDATE_RETRY_INTERVAL_MIN. */
export const STATUS_UPDATE_RETRY_INTERVAL_MIN_MS = 10_000;
/** Mesos' STATUS_UPDATE_RETRY_INTERVAL_MAX. */
export const STATUS_UPDATE_RETRY_INTERVAL_MAX_MS = 600_000;

export interface StatusUpdateManagerOptions {
  clock: Clock;
  logger: Logger;
  /** Sends an update towards the framework (the agent wraps it for the master). */
  forward: (update: StatusUpdate) => void;
  retryMinMs?: number;
  retryMaxMs?: number;
  /**
   * Writes a stream record to disk; returns undefined when the task's
   * stream is not checkpointed (the framework does not checkpoint).
   */
  checkpoint?: (record: StreamRecord) => Promise<void> | undefined;
}

/** A record of a task's stream, as checkpointed. */
export type StreamRecord =
  | { kind: "update"; update: StatusUpdate & { uuid: Uint8Array } }
  | { kind: "ack"; frameworkId: string; taskId: string; uuid: Uint8Array };

/** What happened to an update handed to the manager. */
export type UpdateOutcome =
  | {
      ok: true;
      kind: "accepted" | "duplicate" | "already-acknowledged";
      /** For a checkpointed update: settles once it is on disk (rejects if writing failed). */
      durable?: Promise<void>;
    }
  | { ok: false; error: string };

/** What happened to an acknowledgement. */
export type AckOutcome =
  | {
      ok: true;
      /** The acknowledged update. */
      update: StatusUpdate;
      /** True when the acknowledged update was terminal: the stream is gone. */
      streamTerminated: boolean;
    }
  | { ok: false; error: string };

/** The manager (one per agent). */
export class TaskStatusUpdateManager {
  private readonly streams = new Map<string, Map<string, TaskStatusUpdateStream>>();
  private pausedFlag = true;
  private readonly retryMin: number;
  private readonly retryMax: number;

  constructor(private readonly options: StatusUpdateManagerOptions) {
    this.retryMin = options.retryMinMs ?? STATUS_UPDATE_RETRY_INTERVAL_MIN_MS;
    this.retryMax = options.retryMaxMs ?? STATUS_UPDATE_RETRY_INTERVAL_MAX_MS;
  }

  /** True while forwarding is paused (the agent is not registered). Starts paused. */
  get paused(): boolean {
    return this.pausedFlag;
  }

  /**
   * Takes an update into its task's stream. Updates without a uuid are
   * refused; one seen before is ignored (not an error: executors re-send).
   * The update is forwarded at once when it is the only one pending.
   */
  update(update: StatusUpdate): UpdateOutcome {
    const uuid = update.uuid;
    if (uuid === undefined) return { ok: false, error: "Task status update is missing 'uuid'" };
    const frameworkId = update.framework_id.value;
    const taskId = update.status.task_id.value;
    const stream = this.stream(frameworkId, taskId, true);
    // `uuid` is set (checked above): no copy needed to say so.
    const withUuid = update as StatusUpdate & { uuid: Uint8Array };
    const outcome = stream.update(withUuid);
    if (outcome !== "accepted") {
      this.options.logger.warn(
        outcome === "duplicate"
          ? `Ignoring duplicate task status update ${describeUpdate(update)}`
          : `Ignoring task status update ${describeUpdate(update)} that has already been acknowledged by the framework`,
      );
      return { ok: true, kind: outcome };
    }
    this.options.logger.info(
      `Received task status update ${describeUpdate(update)}`,
      RECEIVED_UPDATE,
    );
    const written = this.options.checkpoint?.({ kind: "update", update: withUuid });
    if (written === undefined) {
      this.sendIfIdle(stream);
      return { ok: true, kind: "accepted" };
    }
    stream.awaitDurable(uuid);
    const durable = written.then(
      () => {
        stream.durable(uuid);
        this.sendIfIdle(stream);
      },
      (e: unknown) => {
        this.options.logger.error(
          `Failed to checkpoint task status update ${describeUpdate(update)}: ${(e as Error).message}`,
        );
        stream.durable(uuid);
        this.sendIfIdle(stream);
        throw e;
      },
    );
    // Callers that do not wait for it must not turn a failed write into an
    // unhandled rejection (it was logged above).
    durable.catch(() => {});
    return { ok: true, kind: "accepted", durable };
  }

  /**
   * Rebuilds a task's stream from its checkpoint (agent recovery): the
   * updates in the order received and the hex uuids acknowledged. Returns
   * how many updates are still pending. Nothing is sent before `resume`.
   */
  recover(
    frameworkId: string,
    taskId: string,
    updates: readonly StatusUpdate[],
    acks: ReadonlySet<string>,
  ): number {
    const stream = this.stream(frameworkId, taskId, true);
    stream.recover(updates, acks);
    if (stream.terminated && stream.pending.length === 0) {
      this.remove(frameworkId, taskId);
      return 0;
    }
    return stream.pending.length;
  }

  /** Sends the head of `stream` unless paused, something is in flight, or the stream is gone. */
  private sendIfIdle(stream: TaskStatusUpdateStream): void {
    if (this.pausedFlag || stream.timer !== undefined || stream.ackWrites > 0) return;
    if (this.streams.get(stream.frameworkId)?.get(stream.taskId) !== stream) return;
    if (stream.next() !== undefined) this.send(stream, this.retryMin);
  }

  /**
   * The framework acknowledged `uuid` for a task. It must be the update in
   * flight; then the next one of the stream goes out, or the stream ends if
   * the acknowledged update was terminal.
   */
  acknowledgement(frameworkId: string, taskId: string, uuid: Uint8Array): AckOutcome {
    const stream = this.stream(frameworkId, taskId, false);
    if (stream === undefined) {
      return {
        ok: false,
        error: `Cannot find the task status update stream for task ${taskId} of framework ${frameworkId}`,
      };
    }
    const outcome = stream.acknowledge(uuid);
    if (outcome.kind === "duplicate") {
      return { ok: false, error: "Duplicate task status acknowledgement" };
    }
    if (outcome.kind === "unexpected") {
      return {
        ok: false,
        error:
          outcome.expected === undefined
            ? `Unexpected task status update acknowledgement for task ${taskId} of framework ${frameworkId}: nothing is pending`
            : `Unexpected task status update acknowledgement for task ${taskId} of framework ${frameworkId}: expecting the one of ${describeUpdate(outcome.expected)}`,
      };
    }
    this.cancelTimer(stream);
    this.options.logger.info(
      `Received task status update acknowledgement for ${describeUpdate(outcome.update)}`,
      RECEIVED_ACK,
    );
    const written = this.options.checkpoint?.({ kind: "ack", frameworkId, taskId, uuid });
    if (stream.terminated) {
      if (stream.pending.length > 0) {
        this.options.logger.warn(
          `Acknowledged a terminal task status update ${describeUpdate(outcome.update)} but updates are still pending`,
        );
      }
      this.remove(frameworkId, taskId);
      written?.catch((e: unknown) => this.ackNotWritten(taskId, e));
      return { ok: true, update: outcome.update, streamTerminated: true };
    }
    if (written === undefined) this.sendIfIdle(stream);
    else {
      // The next update goes out once the acknowledgement is on disk, so a
      // restarted agent never re-sends an update the framework acknowledged.
      stream.ackWrites++;
      written.then(
        () => {
          stream.ackWrites--;
          this.sendIfIdle(stream);
        },
        (e: unknown) => {
          stream.ackWrites--;
          this.ackNotWritten(taskId, e);
          this.sendIfIdle(stream);
        },
      );
    }
    return { ok: true, update: outcome.update, streamTerminated: false };
  }

  private ackNotWritten(taskId: string, e: unknown): void {
    this.options.logger.error(
      `Failed to checkpoint the acknowledgement of a status update of task ${taskId}: ${(e as Error).message}`,
    );
  }

  /** Stops forwarding (the agent lost its master). */
  pause(): void {
    if (this.pausedFlag) return;
    this.options.logger.info("Pausing sending task status updates");
    this.pausedFlag = true;
    for (const stream of this.allStreams()) this.cancelTimer(stream);
  }

  /** Forwards again, starting with the head of every stream. */
  resume(): void {
    if (!this.pausedFlag) return;
    this.options.logger.info("Resuming sending task status updates");
    this.pausedFlag = false;
    for (const stream of this.allStreams()) {
      const head = stream.next();
      if (head === undefined || stream.ackWrites > 0) continue;
      this.options.logger.warn(`Resending task status update ${describeUpdate(head)}`);
      this.send(stream, this.retryMin);
    }
  }

  /** Forgets every stream of a framework (it was shut down). */
  cleanup(frameworkId: string): void {
    const streams = this.streams.get(frameworkId);
    if (streams === undefined) return;
    for (const stream of streams.values()) this.cancelTimer(stream);
    this.streams.delete(frameworkId);
  }

  /** Updates not yet acknowledged for a task, oldest first. */
  pendingUpdates(frameworkId: string, taskId: string): readonly StatusUpdate[] {
    return this.stream(frameworkId, taskId, false)?.pending ?? [];
  }

  /** True when the task has a stream (an update not yet acknowledged, or not terminal). */
  hasStream(frameworkId: string, taskId: string): boolean {
    return this.stream(frameworkId, taskId, false) !== undefined;
  }

  /** Number of open streams. */
  get streamCount(): number {
    let n = 0;
    for (const m of this.streams.values()) n += m.size;
    return n;
  }

  private send(stream: TaskStatusUpdateStream, intervalMs: number): void {
    const head = stream.next();
    if (head === undefined) return;
    this.cancelTimer(stream);
    stream.retryMs = intervalMs;
    this.options.forward(head);
    stream.timer = this.options.clock.setTimer(intervalMs, () => {
      stream.timer = undefined;
      if (this.pausedFlag || stream.next() !== head) return;
      this.options.logger.warn(`Resending task status update ${describeUpdate(head)}`);
      this.send(stream, Math.min(intervalMs * 2, this.retryMax));
    });
  }

  private cancelTimer(stream: TaskStatusUpdateStream): void {
    if (stream.timer !== undefined) {
      this.options.clock.cancelTimer(stream.timer);
      stream.timer = undefined;
    }
  }

  private stream(frameworkId: string, taskId: string, create: true): TaskStatusUpdateStream;
  private stream(
    frameworkId: string,
    taskId: string,
    create: false,
  ): TaskStatusUpdateStream | undefined;
  private stream(
    frameworkId: string,
    taskId: string,
    create: boolean,
  ): TaskStatusUpdateStream | undefined {
    let byTask = this.streams.get(frameworkId);
    if (byTask === undefined) {
      if (!create) return undefined;
      byTask = new Map();
      this.streams.set(frameworkId, byTask);
    }
    let stream = byTask.get(taskId);
    if (stream === undefined && create) {
      stream = new TaskStatusUpdateStream(frameworkId, taskId);
      byTask.set(taskId, stream);
    }
    return stream;
  }

  private remove(frameworkId: string, taskId: string): void {
    const byTask = this.streams.get(frameworkId);
    if (byTask === undefined) return;
    byTask.delete(taskId);
    if (byTask.size === 0) this.streams.delete(frameworkId);
  }

  private *allStreams(): Iterable<TaskStatusUpdateStream> {
    for (const byTask of this.streams.values()) yield* byTask.values();
  }
}
