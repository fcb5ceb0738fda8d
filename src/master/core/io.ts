/**
 * The master core's only ways to reach the outside world. The process edge
 * (master-process.ts) implements them over the message transport and HTTP
 * streams; unit tests implement them with arrays.
 */

import type { Event } from "../../common/protocol/generated/mesos-v1-scheduler.js";
import type { MessageTypeMap, MessageTypeName } from "../../common/protocol/index.js";

/** One scheduler subscription: the event stream of a SUBSCRIBE response. */
export interface SchedulerStream {
  /** The `Mesos-Stream-Id` handed to the scheduler. */
  readonly streamId: string;
  /** Writes one event (dropped once the stream is closed). */
  send(event: Event): void;
  /** Ends the stream from our side. */
  close(): void;
  readonly closed: boolean;
}

/** Messages to agents and watching their connections. */
export interface MasterIo {
  /** Sends a `mesos.internal.*` message to the process `pid` (`slave(1)@ip:port`). */
  sendToAgent<K extends MessageTypeName>(pid: string, type: K, message: MessageTypeMap[K]): void;
  /** Watches the connection to `pid`; the edge calls `Master.agentExited(pid)` when it breaks. */
  linkAgent(pid: string): void;
}
