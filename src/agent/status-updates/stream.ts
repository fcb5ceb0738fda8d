/**
 * One task's status update stream: the updates the agent received for the
 * task, in order, and which of them the framework acknowledged. Only the
 * oldest unacknowledged update is ever in flight; the next one goes out when
 * it is acknowledged. Once a terminal update is acknowledged the stream is
 * over.
 */
import type { StatusUpdate } from "../../common/protocol/generated/mesos-internal.js";
import { isTerminalState } from "../../common/protocol/task-states.js";
import type { TimerHandle } from "../../common/time/clock.js";

/** Hex text of a uuid, the key the stream uses to recognise updates. */
export function uuidKey(uuid: Uint8Array): string {
  return Buffer.from(uuid.buffer, uuid.byteOffset, uuid.byteLength).toString("hex");
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The outcome of offering an update to a stream. */
export type StreamUpdateOutcome = "accepted" | "duplicate" | "already-acknowledged";

/** The outcome of an acknowledgement. */
export type StreamAckOutcome =
  | { kind: "acknowledged"; update: StatusUpdate }
  | { kind: "duplicate" }
  | { kind: "unexpected"; expected: StatusUpdate | undefined };

/** The per-task stream. State only; timers are set by the manager. */
export class TaskStatusUpdateStream {
  /** Updates not yet acknowledged, oldest first; the first is the one in flight. */
  readonly pending: StatusUpdate[] = [];
  private readonly received = new Set<string>();
  private readonly acknowledged = new Set<string>();
  /** True once a terminal update was acknowledged. */
  terminated = false;
  /** The retry timer of the update in flight. */
  timer: TimerHandle | undefined;
  /** The current retry interval of the update in flight. */
  retryMs = 0;
  /** Acknowledgements being written: nothing more is sent until they are on disk. */
  ackWrites = 0;
  /** Updates accepted but not yet on disk (checkpointing frameworks): not sent before they are. */
  private readonly notDurable = new Set<string>();

  constructor(
    readonly frameworkId: string,
    readonly taskId: string,
  ) {}

  /** Adds `update` (which must carry a uuid) unless it was seen before. */
  update(update: StatusUpdate & { uuid: Uint8Array }): StreamUpdateOutcome {
    const key = uuidKey(update.uuid);
    if (this.acknowledged.has(key)) return "already-acknowledged";
    if (this.received.has(key)) return "duplicate";
    this.received.add(key);
    this.pending.push(update);
    return "accepted";
  }

  /** The update in flight, if any (the oldest pending one, once it is durable). */
  next(): StatusUpdate | undefined {
    const head = this.pending[0];
    if (
      this.notDurable.size > 0 &&
      head?.uuid !== undefined &&
      this.notDurable.has(uuidKey(head.uuid))
    ) {
      return undefined;
    }
    return head;
  }

  /** Marks an accepted update as still being checkpointed. */
  awaitDurable(uuid: Uint8Array): void {
    this.notDurable.add(uuidKey(uuid));
  }

  /** The update is on disk: it may be sent. */
  durable(uuid: Uint8Array): void {
    this.notDurable.delete(uuidKey(uuid));
  }

  /**
   * Restores the stream from its checkpoint: `updates` in the order they
   * were received and the hex uuids of those acknowledged.
   */
  recover(updates: readonly StatusUpdate[], acks: ReadonlySet<string>): void {
    for (const update of updates) {
      if (update.uuid === undefined) continue;
      const key = uuidKey(update.uuid);
      if (this.received.has(key)) continue;
      this.received.add(key);
      if (acks.has(key)) {
        this.acknowledged.add(key);
        if (isTerminalState(update.status.state)) this.terminated = true;
      } else {
        this.pending.push(update);
      }
    }
  }

  /** Records the acknowledgement of `uuid`, which must be the update in flight. */
  acknowledge(uuid: Uint8Array): StreamAckOutcome {
    const key = uuidKey(uuid);
    if (this.acknowledged.has(key)) return { kind: "duplicate" };
    const head = this.pending[0];
    if (head?.uuid === undefined || !sameBytes(head.uuid, uuid)) {
      return { kind: "unexpected", expected: head };
    }
    this.pending.shift();
    this.acknowledged.add(key);
    if (isTerminalState(head.status.state)) this.terminated = true;
    return { kind: "acknowledged", update: head };
  }
}
