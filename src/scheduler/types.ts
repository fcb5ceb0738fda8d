/**
 * Public types of the scheduler library: the wire messages it speaks (the
 * generated `mesos.v1` and `mesos.v1.scheduler` types, re-exported under
 * their Mesos names), the events it delivers, and the callbacks it calls.
 */
import type {
  AgentID,
  ExecutorID,
  InverseOffer,
  Offer,
  OfferID,
  OperationStatus,
  TaskStatus,
} from "../common/protocol/generated/mesos-v1.js";
import type {
  Event,
  Event_Failure,
  Event_Subscribed,
  Response,
} from "../common/protocol/generated/mesos-v1-scheduler.js";

export type {
  AgentID,
  CommandInfo,
  ExecutorID,
  ExecutorInfo,
  Filters,
  FrameworkID,
  FrameworkInfo,
  FrameworkInfo_Capability_Type,
  InverseOffer,
  KillPolicy,
  Offer,
  Offer_Operation,
  OfferID,
  OperationID,
  OperationStatus,
  Request,
  Resource,
  TaskGroupInfo,
  TaskID,
  TaskInfo,
  TaskState,
  TaskStatus,
  TaskStatus_Reason,
  TaskStatus_Source,
} from "../common/protocol/generated/mesos-v1.js";
export type {
  Call,
  Call_Reconcile_Task,
  Call_Type,
  Event,
  Event_Failure,
  Event_Subscribed,
  Event_Type,
  Response,
} from "../common/protocol/generated/mesos-v1-scheduler.js";

/**
 * Injected by the library (not sent by the master) when the event stream
 * breaks: the old driver's `disconnected`. `willReconnect` is false when the
 * client is closing for good.
 */
export interface DisconnectedEvent {
  readonly type: "DISCONNECTED";
  readonly disconnected: { readonly reason: string; readonly willReconnect: boolean };
}

/** What the event iterator yields: a master event, or a disconnection notice. */
export type SchedulerEvent = Event | DisconnectedEvent;

/** Where a client is in its life. */
export type SchedulerClientState =
  /** Created, `start()` not called yet. */
  | "idle"
  /** A SUBSCRIBE request is in flight. */
  | "subscribing"
  /** The event stream is open; calls may be sent. */
  | "subscribed"
  /** The stream broke; a re-subscription is scheduled. */
  | "disconnected"
  /** Closed for good (`close()`, `teardown()`, an ERROR event, or a refused SUBSCRIBE). */
  | "closed";

/**
 * The outcome of a call. Calls never reject: a failure (not subscribed,
 * network error, non-2xx answer) is `ok: false` with a one-line `error`.
 */
export type CallResult =
  | { readonly ok: true; readonly status: number; readonly response?: Response }
  | { readonly ok: false; readonly status?: number; readonly error: string };

/**
 * Event callbacks; all optional. `event` sees every event (including
 * DISCONNECTED) before the specific callback. Callbacks run synchronously
 * in arrival order; a returned promise is not awaited.
 *
 * The old `SchedulerDriver` callbacks map onto these (see docs/scheduler-library.md):
 * registered/reregistered -> `subscribed`, resourceOffers -> `offers`,
 * offerRescinded -> `rescind`, statusUpdate -> `update`, frameworkMessage ->
 * `message`, slaveLost/executorLost -> `failure`, error -> `error`,
 * disconnected -> `disconnected`.
 */
export interface SchedulerHandlers {
  /** Every event, in arrival order. */
  event?(event: SchedulerEvent): void;
  /**
   * SUBSCRIBED: the framework is registered. `resubscribed` is false the first
   * time (driver `registered`) and true after a reconnection (`reregistered`).
   */
  subscribed?(info: Event_Subscribed, resubscribed: boolean): void;
  /** OFFERS (driver `resourceOffers`). */
  offers?(offers: Offer[]): void;
  /** INVERSE_OFFERS: maintenance asks for resources back. */
  inverseOffers?(offers: InverseOffer[]): void;
  /** RESCIND: an offer is no longer valid (driver `offerRescinded`). */
  rescind?(offerId: OfferID): void;
  /** RESCIND_INVERSE_OFFER. */
  rescindInverseOffer?(offerId: OfferID): void;
  /** UPDATE: a task status update (driver `statusUpdate`). */
  update?(status: TaskStatus): void;
  /** UPDATE_OPERATION_STATUS: an offer operation's status. */
  updateOperationStatus?(status: OperationStatus): void;
  /** MESSAGE from an executor (driver `frameworkMessage`). */
  message?(agentId: AgentID, executorId: ExecutorID, data: Uint8Array): void;
  /**
   * FAILURE: an agent was lost (no `executor_id`: driver `slaveLost`) or an
   * executor exited (`executor_id` and `status` set: driver `executorLost`).
   */
  failure?(failure: Event_Failure): void;
  /** ERROR from the master (driver `error`); the client closes afterwards. */
  error?(message: string): void;
  /** HEARTBEAT. */
  heartbeat?(): void;
  /** The event stream broke (driver `disconnected`). */
  disconnected?(reason: string, willReconnect: boolean): void;
  /** The client closed for good; no more events. */
  closed?(reason: string): void;
}

/** A task status's identifying parts, enough to acknowledge it. */
export interface AcknowledgeTarget {
  readonly agent_id?: AgentID;
  readonly task_id: { readonly value: string };
  readonly uuid?: Uint8Array;
}
