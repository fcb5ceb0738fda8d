/**
 * What the master core tells the rest of the master about changes it
 * makes: the operator event stream (TASK_ADDED, AGENT_REMOVED, ...), the
 * metrics counters and the state caches listen here. Listeners run
 * synchronously inside the core's event, must be cheap and must not change
 * master state.
 */
import type {
  Offer_Operation_Type,
  OperationState,
  Task,
  TaskState,
  TaskStatus,
} from "../../common/protocol/generated/mesos-v1.js";
import type { AgentRecord, FrameworkRecord } from "./records.js";

/** Why an agent left the registered agents (`maintenance`: its machine went DOWN). */
export type AgentRemovalReason =
  | "unregistered"
  | "replaced"
  | "unreachable"
  | "gone"
  | "maintenance";

/**
 * A step of an agent's way to unreachable, as Mesos counts them: the
 * transition is scheduled (health check or re-registration timeout), then
 * goes ahead or is canceled (the agent answered or came back meanwhile).
 */
export type UnreachableStep = "scheduled" | "canceled" | "completed";

/** How an agent joined. */
export type AgentJoin = "registered" | "reregistered" | "readmitted";

/** Why a status update was not accepted. */
export type InvalidUpdate = "unknown-agent" | "bad-uuid" | "unknown-task";

/** Callbacks of one listener; every one is optional. */
export interface MasterListener {
  taskAdded?(task: Task): void;
  /** A task's state or status changed; `previous` is the state before. */
  taskUpdated?(task: Task, status: TaskStatus, previous: TaskState, notify: boolean): void;
  /**
   * A launch was refused before its task existed (invalid offers or task,
   * unauthorized, ...): the framework got this terminal status.
   */
  taskRejected?(status: TaskStatus): void;
  /** A task changed without a new status (its cached views are stale). */
  taskChanged?(task: Task): void;
  agentAdded?(agent: AgentRecord, how: AgentJoin): void;
  agentRemoved?(agent: AgentRecord, reason: AgentRemovalReason): void;
  /** A known agent re-registered (it was not removed meanwhile). */
  agentReregistered?(agent: AgentRecord): void;
  /** The master handled the agent's UpdateSlaveMessage: it knows the agent's operations. */
  agentUpdated?(agent: AgentRecord): void;
  /** The agent's connection or activation changed. */
  agentChanged?(agent: AgentRecord): void;
  frameworkAdded?(framework: FrameworkRecord): void;
  frameworkUpdated?(framework: FrameworkRecord): void;
  frameworkRemoved?(framework: FrameworkRecord): void;
  statusUpdateReceived?(valid: boolean, why?: InvalidUpdate): void;
  acknowledgementReceived?(valid: boolean): void;
  executorMessageReceived?(valid: boolean): void;
  /** A MESSAGE call: relayed to the agent (valid), or not (its agent unknown or disconnected). */
  frameworkMessageReceived?(valid: boolean): void;
  agentUnreachableStep?(step: UnreachableStep): void;
  /**
   * The registry now has the agent as unreachable; `recovered`: an agent
   * recovered from the registry after a failover that never reregistered.
   */
  agentMarkedUnreachable?(agentId: string, recovered: boolean): void;
  /** One operation of `type` entered (`delta` 1) or left (-1) `state` (Mesos' operation counts). */
  operationStateCounted?(type: Offer_Operation_Type, state: OperationState, delta: 1 | -1): void;
  operationStatusUpdateReceived?(valid: boolean): void;
  operationAcknowledgementReceived?(valid: boolean): void;
}

/** The listeners of one master core. */
export class MasterEvents {
  private readonly listeners: MasterListener[] = [];

  /** Adds a listener; returns a function removing it. */
  listen(listener: MasterListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  taskAdded(task: Task): void {
    for (const l of this.listeners) l.taskAdded?.(task);
  }

  taskUpdated(task: Task, status: TaskStatus, previous: TaskState, notify: boolean): void {
    for (const l of this.listeners) l.taskUpdated?.(task, status, previous, notify);
  }

  taskRejected(status: TaskStatus): void {
    for (const l of this.listeners) l.taskRejected?.(status);
  }

  taskChanged(task: Task): void {
    for (const l of this.listeners) l.taskChanged?.(task);
  }

  agentAdded(agent: AgentRecord, how: AgentJoin): void {
    for (const l of this.listeners) l.agentAdded?.(agent, how);
  }

  agentRemoved(agent: AgentRecord, reason: AgentRemovalReason): void {
    for (const l of this.listeners) l.agentRemoved?.(agent, reason);
  }

  agentReregistered(agent: AgentRecord): void {
    for (const l of this.listeners) l.agentReregistered?.(agent);
  }

  agentChanged(agent: AgentRecord): void {
    for (const l of this.listeners) l.agentChanged?.(agent);
  }

  agentUpdated(agent: AgentRecord): void {
    for (const l of this.listeners) l.agentUpdated?.(agent);
  }

  frameworkAdded(framework: FrameworkRecord): void {
    for (const l of this.listeners) l.frameworkAdded?.(framework);
  }

  frameworkUpdated(framework: FrameworkRecord): void {
    for (const l of this.listeners) l.frameworkUpdated?.(framework);
  }

  frameworkRemoved(framework: FrameworkRecord): void {
    for (const l of this.listeners) l.frameworkRemoved?.(framework);
  }

  statusUpdateReceived(valid: boolean, why?: InvalidUpdate): void {
    for (const l of this.listeners) l.statusUpdateReceived?.(valid, why);
  }

  acknowledgementReceived(valid: boolean): void {
    for (const l of this.listeners) l.acknowledgementReceived?.(valid);
  }

  executorMessageReceived(valid: boolean): void {
    for (const l of this.listeners) l.executorMessageReceived?.(valid);
  }

  frameworkMessageReceived(valid: boolean): void {
    for (const l of this.listeners) l.frameworkMessageReceived?.(valid);
  }

  agentUnreachableStep(step: UnreachableStep): void {
    for (const l of this.listeners) l.agentUnreachableStep?.(step);
  }

  agentMarkedUnreachable(agentId: string, recovered: boolean): void {
    for (const l of this.listeners) l.agentMarkedUnreachable?.(agentId, recovered);
  }

  operationStateCounted(type: Offer_Operation_Type, state: OperationState, delta: 1 | -1): void {
    for (const l of this.listeners) l.operationStateCounted?.(type, state, delta);
  }

  operationStatusUpdateReceived(valid: boolean): void {
    for (const l of this.listeners) l.operationStatusUpdateReceived?.(valid);
  }

  operationAcknowledgementReceived(valid: boolean): void {
    for (const l of this.listeners) l.operationAcknowledgementReceived?.(valid);
  }
}
