/**
 * The operation status update manager (Mesos' OperationStatusUpdateManager,
 * a StatusUpdateManagerProcess keyed by operation uuid): delivers every
 * status update of an operation on the agent's own resources to the master
 * at least once and in order. Each operation has a stream; the oldest
 * unacknowledged update is forwarded as an UpdateOperationStatusMessage
 * (with `latest_status`, the newest status of the stream) and re-forwarded
 * with the task manager's backoff (10 s doubling up to 10 min) until an
 * AcknowledgeOperationStatusMessage for its status uuid comes back. Every
 * update and acknowledgement goes to disk through the `checkpoint` hook
 * first (`operations/<uuid>/operation.updates`): an update is sent only
 * once it is durable, and after an acknowledgement the next update only
 * once the ACK record is. Paused while the agent is not registered;
 * `resume` re-sends the head of every stream.
 *
 * Plain code on an injected clock: no files, no sockets.
 */
import { uuidBytesToText } from "../../common/ids/uuid.js";
import type { Logger } from "../../common/observability/logger.js";
import type { UpdateOperationStatusMessage } from "../../common/protocol/generated/mesos-internal.js";
import type { Clock, TimerHandle } from "../../common/time/clock.js";
import {
  STATUS_UPDATE_RETRY_INTERVAL_MAX_MS,
  STATUS_UPDATE_RETRY_INTERVAL_MIN_MS,
} from "../status-updates/manager.js";
import { uuidKey } from "../status-updates/stream.js";
import { isTerminalOperationState } from "./conversions.js";

/** A record of an operation's stream, as checkpointed. */
export type OperationStreamRecord =
  | { kind: "update"; operationUuid: Uint8Array; update: UpdateOperationStatusMessage }
  | { kind: "ack"; operationUuid: Uint8Array; statusUuid: Uint8Array };

export interface OperationStatusUpdateManagerOptions {
  clock: Clock;
  logger: Logger;
  /** Sends an update (with `latest_status` set) to the master. */
  forward: (update: UpdateOperationStatusMessage) => void;
  /** Writes a stream record to disk; settles once it is durable. */
  checkpoint: (record: OperationStreamRecord) => Promise<void>;
  retryMinMs?: number;
  retryMaxMs?: number;
}

/** What a checkpointed stream holds (see `recover`). */
export interface RecoveredOperationStream {
  updates: readonly UpdateOperationStatusMessage[];
  /** Hex of the acknowledged status uuids. */
  acks: ReadonlySet<string>;
}

/** Short text for logs: `OPERATION_FINISHED (Status UUID: ...) for operation 'op1' (uuid: ...)`. */
export function describeOperationUpdate(update: UpdateOperationStatusMessage): string {
  const status = update.status;
  const statusUuid =
    status.uuid === undefined ? "none" : (uuidBytesToText(status.uuid.value) ?? "invalid");
  const operationUuid =
    update.operation_uuid === undefined
      ? "none"
      : (uuidBytesToText(update.operation_uuid.value) ?? "invalid");
  const id = status.operation_id === undefined ? "with no ID" : `'${status.operation_id.value}'`;
  const owner =
    update.framework_id === undefined
      ? "an operator API call"
      : `framework ${update.framework_id.value}`;
  return `${status.state} (Status UUID: ${statusUuid}) for operation ${id} (operation_uuid: ${operationUuid}) of ${owner}`;
}

/** One operation's stream. */
class OperationStream {
  /** Updates not yet acknowledged, oldest first; the first is in flight. */
  readonly pending: UpdateOperationStatusMessage[] = [];
  readonly received = new Set<string>();
  readonly acknowledged = new Set<string>();
  /** True once a terminal update was acknowledged. */
  terminated = false;
  timer: TimerHandle | undefined;
  /** Status keys of updates whose UPDATE record is not on disk yet: not sent before it is. */
  readonly notDurable = new Set<string>();
  /** ACK records being written: the next update waits for them. */
  ackWrites = 0;

  constructor(readonly key: string) {}

  /** The newest status of the stream (Mesos' `latest_status`). */
  latest(): UpdateOperationStatusMessage["status"] | undefined {
    return this.pending.at(-1)?.status;
  }
}

/** Outcome of handing an update to the manager. */
export type OperationUpdateOutcome =
  | { ok: true; kind: "accepted" | "duplicate"; durable?: Promise<void> }
  | { ok: false; error: string };

/** Outcome of an acknowledgement. */
export type OperationAckOutcome =
  | { ok: true; streamTerminated: boolean; durable: Promise<void> }
  | { ok: false; error: string };

/** The manager (one per agent). */
export class OperationStatusUpdateManager {
  private readonly streams = new Map<string, OperationStream>();
  private pausedFlag = true;
  private readonly retryMin: number;
  private readonly retryMax: number;

  constructor(private readonly options: OperationStatusUpdateManagerOptions) {
    this.retryMin = options.retryMinMs ?? STATUS_UPDATE_RETRY_INTERVAL_MIN_MS;
    this.retryMax = options.retryMaxMs ?? STATUS_UPDATE_RETRY_INTERVAL_MAX_MS;
  }

  /** True while forwarding is paused (the agent is not registered). Starts paused. */
  get paused(): boolean {
    return this.pausedFlag;
  }

  /**
   * Takes an update into its operation's stream: checkpointed, then
   * forwarded when it is the head of the stream. It needs `operation_uuid`
   * and a status `uuid`, and no `latest_status` (the manager sets it).
   */
  update(update: UpdateOperationStatusMessage): OperationUpdateOutcome {
    const operationUuid = update.operation_uuid?.value;
    const statusUuid = update.status.uuid?.value;
    if (operationUuid === undefined) {
      return { ok: false, error: "Operation status update is missing 'operation_uuid'" };
    }
    if (statusUuid === undefined) {
      return { ok: false, error: "Operation status update is missing 'status.uuid'" };
    }
    if (update.latest_status !== undefined) {
      return {
        ok: false,
        error: "Expected operation status update to not contain 'latest_status'",
      };
    }
    const key = uuidKey(operationUuid);
    let stream = this.streams.get(key);
    if (stream === undefined) {
      stream = new OperationStream(key);
      this.streams.set(key, stream);
    }
    const statusKey = uuidKey(statusUuid);
    if (stream.received.has(statusKey)) {
      this.options.logger.warn(
        `Ignoring duplicate operation status update ${describeOperationUpdate(update)}`,
      );
      return { ok: true, kind: "duplicate" };
    }
    this.options.logger.info(`Received operation status update ${describeOperationUpdate(update)}`);
    stream.received.add(statusKey);
    stream.pending.push(update);
    const target = stream;
    target.notDurable.add(statusKey);
    const durable = this.options.checkpoint({ kind: "update", operationUuid, update }).then(
      () => {
        target.notDurable.delete(statusKey);
        this.sendIfIdle(target);
      },
      (e: unknown) => {
        target.notDurable.delete(statusKey);
        this.options.logger.error(
          `Failed to checkpoint operation status update ${describeOperationUpdate(update)}: ${(e as Error).message}`,
        );
        this.sendIfIdle(target);
        throw e;
      },
    );
    durable.catch(() => {});
    return { ok: true, kind: "accepted", durable };
  }

  /**
   * The master acknowledged `statusUuid` of an operation: it must be the
   * update in flight. The next one goes out once the ACK is durable; a
   * terminal acknowledged update ends (and forgets) the stream.
   */
  acknowledgement(operationUuid: Uint8Array, statusUuid: Uint8Array): OperationAckOutcome {
    const key = uuidKey(operationUuid);
    const stream = this.streams.get(key);
    if (stream === undefined) {
      return {
        ok: false,
        error: `Cannot find the operation status update stream ${uuidBytesToText(operationUuid) ?? key}`,
      };
    }
    const statusKey = uuidKey(statusUuid);
    if (stream.acknowledged.has(statusKey)) {
      return { ok: false, error: "Duplicate operation status update acknowledgement" };
    }
    const head = stream.pending[0];
    const headUuid = head?.status.uuid?.value;
    if (head === undefined || headUuid === undefined || uuidKey(headUuid) !== statusKey) {
      return {
        ok: false,
        error:
          head === undefined
            ? "Unexpected operation status update acknowledgement: nothing is pending"
            : `Unexpected operation status update acknowledgement: expecting the one of ${describeOperationUpdate(head)}`,
      };
    }
    this.cancelTimer(stream);
    stream.pending.shift();
    stream.acknowledged.add(statusKey);
    if (isTerminalOperationState(head.status.state)) stream.terminated = true;
    this.options.logger.info(
      `Received operation status update acknowledgement for ${describeOperationUpdate(head)}`,
    );
    stream.ackWrites++;
    const durable = this.options.checkpoint({ kind: "ack", operationUuid, statusUuid }).then(
      () => {
        stream.ackWrites--;
        this.sendIfIdle(stream);
      },
      (e: unknown) => {
        stream.ackWrites--;
        this.options.logger.error(
          `Failed to checkpoint the acknowledgement of ${describeOperationUpdate(head)}: ${(e as Error).message}`,
        );
        this.sendIfIdle(stream);
        throw e;
      },
    );
    durable.catch(() => {});
    if (stream.terminated) {
      if (stream.pending.length > 0) {
        this.options.logger.warn(
          `Acknowledged a terminal operation status update ${describeOperationUpdate(head)} but updates are still pending`,
        );
      }
      this.streams.delete(key);
    }
    return { ok: true, streamTerminated: stream.terminated, durable };
  }

  /**
   * Rebuilds a stream from its checkpoint (agent recovery). Returns
   * whether its terminal update was already acknowledged (the stream is
   * over and not kept) and how many updates are still pending. Nothing is
   * sent before `resume`.
   */
  recover(
    operationUuid: Uint8Array,
    saved: RecoveredOperationStream,
  ): { terminated: boolean; pending: number } {
    const key = uuidKey(operationUuid);
    const stream = new OperationStream(key);
    for (const update of saved.updates) {
      const uuid = update.status.uuid?.value;
      if (uuid === undefined) continue;
      const statusKey = uuidKey(uuid);
      if (stream.received.has(statusKey)) continue;
      stream.received.add(statusKey);
      // The forwarded copy carried latest_status; the checkpointed one does not.
      const { latest_status: _latest, ...plain } = update;
      if (saved.acks.has(statusKey)) {
        stream.acknowledged.add(statusKey);
        if (isTerminalOperationState(update.status.state)) stream.terminated = true;
      } else {
        stream.pending.push(plain);
      }
    }
    if (stream.terminated) return { terminated: true, pending: stream.pending.length };
    this.streams.set(key, stream);
    this.sendIfIdle(stream);
    return { terminated: false, pending: stream.pending.length };
  }

  /** Stops forwarding (the agent lost its master). */
  pause(): void {
    if (this.pausedFlag) return;
    this.options.logger.info("Pausing operation status update manager");
    this.pausedFlag = true;
    for (const stream of this.streams.values()) this.cancelTimer(stream);
  }

  /** Forwards again, starting with the head of every stream. */
  resume(): void {
    if (!this.pausedFlag) return;
    this.options.logger.info("Resuming operation status update manager");
    this.pausedFlag = false;
    for (const stream of this.streams.values()) this.sendIfIdle(stream);
  }

  /** True when the operation has a stream that is not over. */
  hasStream(operationUuid: Uint8Array): boolean {
    return this.streams.has(uuidKey(operationUuid));
  }

  /** True when the stream of the operation has seen the update with `statusUuid`. */
  hasUpdate(operationUuid: Uint8Array, statusUuid: Uint8Array): boolean {
    return this.streams.get(uuidKey(operationUuid))?.received.has(uuidKey(statusUuid)) === true;
  }

  /** Updates of an operation not yet acknowledged, oldest first. */
  pendingUpdates(operationUuid: Uint8Array): readonly UpdateOperationStatusMessage[] {
    return this.streams.get(uuidKey(operationUuid))?.pending ?? [];
  }

  private sendIfIdle(stream: OperationStream): void {
    if (this.pausedFlag || stream.timer !== undefined || stream.ackWrites > 0) return;
    if (this.streams.get(stream.key) !== stream) return;
    const headUuid = stream.pending[0]?.status.uuid?.value;
    if (headUuid === undefined || stream.notDurable.has(uuidKey(headUuid))) return;
    this.send(stream, this.retryMin);
  }

  private send(stream: OperationStream, intervalMs: number): void {
    const head = stream.pending[0];
    const latest = stream.latest();
    if (head === undefined || latest === undefined) return;
    this.cancelTimer(stream);
    this.options.forward({ ...head, latest_status: latest });
    stream.timer = this.options.clock.setTimer(intervalMs, () => {
      stream.timer = undefined;
      if (this.pausedFlag || stream.pending[0] !== head) return;
      this.options.logger.warn(
        `Resending operation status update ${describeOperationUpdate(head)}`,
      );
      this.send(stream, Math.min(intervalMs * 2, this.retryMax));
    });
  }

  private cancelTimer(stream: OperationStream): void {
    if (stream.timer !== undefined) {
      this.options.clock.cancelTimer(stream.timer);
      stream.timer = undefined;
    }
  }
}
