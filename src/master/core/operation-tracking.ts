/**
 * Operations the master tracks, as Mesos' master does for agents that take
 * operations themselves (ours gate this on the agent sending a
 * `resource_version_uuid` when it registers):
 *
 * - An applied RESERVE/UNRESERVE/CREATE/DESTROY/GROW_VOLUME/SHRINK_VOLUME
 *   becomes an Operation record (OPERATION_PENDING) on its agent, and the
 *   agent is sent an ApplyOperationMessage. These operations are
 *   speculative: the master has already changed its view of the agent and
 *   the allocator's, and a terminal status changes neither (as in Mesos).
 * - The agent reports progress in UpdateOperationStatusMessages. A status of
 *   an operation with an `id` goes to its framework, which acknowledges it
 *   (ACKNOWLEDGE_OPERATION_STATUS, passed on to the agent); any other the
 *   master acknowledges itself. A terminal operation is forgotten once its
 *   terminal status is acknowledged.
 * - RECONCILE_OPERATIONS and the operator's GET_OPERATIONS read the records;
 *   an agent's UpdateSlaveMessage reconciles them with the agent's own list.
 * - When the agent is marked unreachable or gone, frameworks hear
 *   OPERATION_UNREACHABLE / OPERATION_GONE_BY_OPERATOR once and the records
 *   go with the agent.
 *
 * Records live on the agent (`AgentRecord.operations`); a framework's
 * operations are those whose `framework_id` is its id.
 */
import type {
  AcknowledgeOperationStatusMessage,
  ReconcileOperationsMessage,
  UpdateOperationStatusMessage,
  UpdateSlaveMessage,
} from "../../common/protocol/generated/mesos-internal.js";
import type {
  AgentID,
  Offer_Operation,
  Operation,
  OperationState,
  OperationStatus,
  Resource,
} from "../../common/protocol/generated/mesos-v1.js";
import type {
  Call_AcknowledgeOperationStatus,
  Call_ReconcileOperations_Operation,
} from "../../common/protocol/generated/mesos-v1-scheduler.js";
import {
  type Resource as CoreResource,
  Resources,
  validateResource,
} from "../../common/resources/index.js";
import type { Master } from "./master.js";
import type { AgentRemovalReason } from "./observer.js";
import { rescindOffer } from "./offers.js";
import type { AgentRecord, FrameworkRecord } from "./records.js";

/** Mesos' terminal operation states. */
const TERMINAL: ReadonlySet<OperationState> = new Set([
  "OPERATION_FINISHED",
  "OPERATION_FAILED",
  "OPERATION_ERROR",
  "OPERATION_DROPPED",
  "OPERATION_GONE_BY_OPERATOR",
]);

export function isTerminalOperationState(state: OperationState | undefined): boolean {
  return state !== undefined && TERMINAL.has(state);
}

/** A uuid's bytes as lower-case hex (the key of the records). */
export function uuidKey(uuid: Uint8Array | undefined): string {
  return Buffer.from(uuid ?? new Uint8Array()).toString("hex");
}

/** A uuid in its canonical text form, for logs. */
export function uuidText(uuid: Uint8Array | undefined): string {
  const hex = uuidKey(uuid);
  if (hex.length !== 32) return hex;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A new random (version 4) uuid's bytes. */
function newUuid(m: Master): Uint8Array {
  return Uint8Array.from(Buffer.from(m.random.uuid().replace(/-/g, ""), "hex"));
}

/** Whether operations applied on the agent go to it as ApplyOperationMessages. */
export function tracksOperations(agent: AgentRecord): boolean {
  return agent.resourceVersion !== undefined;
}

function operationType(operation: Operation): NonNullable<Offer_Operation["type"]> {
  return operation.info.type ?? "UNKNOWN";
}

/** `'<id>' (uuid: <uuid>)` of an operation, for logs. */
function describe(operation: Operation): string {
  return `'${operation.info.id?.value ?? ""}' (uuid: ${uuidText(operation.uuid.value)})`;
}

function owner(frameworkId: string | undefined): string {
  return frameworkId === undefined ? "an operator API call" : `framework ${frameworkId}`;
}

/**
 * The records of framework operations with an id, by `<framework id>\0<operation id>`
 * (the latest one given that id, as Mesos' per-framework map), so that
 * explicit reconciliation does not visit every agent for each operation.
 */
const byFrameworkId = new WeakMap<
  Master,
  Map<string, { agent: AgentRecord; operation: Operation }>
>();

function idIndex(m: Master): Map<string, { agent: AgentRecord; operation: Operation }> {
  let index = byFrameworkId.get(m);
  if (index === undefined) {
    index = new Map();
    byFrameworkId.set(m, index);
  }
  return index;
}

function idKey(frameworkId: string | undefined, operationId: string | undefined) {
  return frameworkId === undefined || operationId === undefined
    ? undefined
    : `${frameworkId}\0${operationId}`;
}

/** Adds a record to its agent and counts it in its state. */
function addOperation(m: Master, agent: AgentRecord, operation: Operation): void {
  agent.operations.set(uuidKey(operation.uuid.value), operation);
  const key = idKey(operation.framework_id?.value, operation.info.id?.value);
  if (key !== undefined) idIndex(m).set(key, { agent, operation });
  m.events.operationStateCounted(operationType(operation), operation.latest_status.state, 1);
}

/**
 * Forgets a record. The terminal counts are lifetime totals; a record that
 * goes before it ends (its agent went away) leaves its current state's count.
 */
function removeOperation(m: Master, agent: AgentRecord, operation: Operation): void {
  agent.operations.delete(uuidKey(operation.uuid.value));
  const key = idKey(operation.framework_id?.value, operation.info.id?.value);
  const index = idIndex(m);
  if (key !== undefined && index.get(key)?.operation === operation) index.delete(key);
  const state = operation.latest_status.state;
  if (!isTerminalOperationState(state)) {
    m.events.operationStateCounted(operationType(operation), state, -1);
  }
}

/** The operations of a framework on registered agents. */
export function frameworkOperations(m: Master, frameworkId: string): Operation[] {
  const out: Operation[] = [];
  for (const agent of m.agents.values()) {
    for (const operation of agent.operations.values()) {
      if (operation.framework_id?.value === frameworkId) out.push(operation);
    }
  }
  return out;
}

/** Every tracked operation (GET_OPERATIONS). */
export function allOperations(m: Master): Operation[] {
  const out: Operation[] = [];
  for (const agent of m.agents.values()) out.push(...agent.operations.values());
  return out;
}

/**
 * A framework's operation by its id: on `agentId`'s agent (an
 * acknowledgement names it), else the latest one given that id on any
 * registered agent. Neither visits every agent.
 */
function findFrameworkOperation(
  m: Master,
  frameworkId: string,
  operationId: string,
  agentId?: string,
): { agent: AgentRecord; operation: Operation } | undefined {
  if (agentId === undefined) return idIndex(m).get(idKey(frameworkId, operationId) ?? "");
  const agent = m.agents.get(agentId);
  if (agent !== undefined) {
    for (const operation of agent.operations.values()) {
      if (
        operation.framework_id?.value === frameworkId &&
        operation.info.id?.value === operationId
      ) {
        return { agent, operation };
      }
    }
  }
  return undefined;
}

/**
 * Records an operation applied on `agent` and sends it there. The caller
 * has already applied its conversions to the master's view of the agent.
 */
export function sendOperationToAgent(
  m: Master,
  agent: AgentRecord,
  framework: FrameworkRecord | undefined,
  info: Offer_Operation,
): Operation {
  const agentId: AgentID = { value: agent.id };
  const operation: Operation = {
    ...(framework === undefined ? {} : { framework_id: { value: framework.id } }),
    agent_id: agentId,
    info,
    latest_status: {
      ...(info.id === undefined ? {} : { operation_id: info.id }),
      state: "OPERATION_PENDING",
      agent_id: agentId,
    },
    statuses: [],
    uuid: { value: newUuid(m) },
  };
  addOperation(m, agent, operation);
  m.logger.info(`Sending operation ${describe(operation)} to agent ${agent.id}`);
  m.io.sendToAgent(agent.pid, "mesos.internal.ApplyOperationMessage", {
    ...(framework === undefined ? {} : { framework_id: { value: framework.id } }),
    operation_info: info,
    operation_uuid: operation.uuid,
    resource_version_uuid: { uuid: { value: agent.resourceVersion ?? new Uint8Array() } },
  });
  return operation;
}

/** JSON of a status with bytes as hex, to tell repeated statuses apart. */
function statusJson(status: OperationStatus): string {
  return JSON.stringify(status, (_key, value: unknown) =>
    value instanceof Uint8Array ? uuidKey(value) : value,
  );
}

/**
 * A new status of a tracked operation. The latest status stays terminal once
 * it is; a status equal to the last one received is not kept twice. Our
 * operations are all speculative: the master applied them when it sent them,
 * so their end changes no resources (as in Mesos, a failed one included).
 */
function updateOperation(m: Master, operation: Operation, status: OperationStatus): void {
  const previous = operation.latest_status.state;
  m.logger.info(
    `Updating the state of operation ${describe(operation)} for ` +
      `${owner(operation.framework_id?.value)} (latest state: ${previous}, ` +
      `status update state: ${status.state})`,
  );
  if (!isTerminalOperationState(previous)) {
    if (previous !== status.state) {
      const type = operationType(operation);
      m.events.operationStateCounted(type, previous, -1);
      m.events.operationStateCounted(type, status.state, 1);
    }
    operation.latest_status = status;
  }
  const statuses = operation.statuses ?? [];
  operation.statuses = statuses;
  const last = statuses[statuses.length - 1];
  if (last === undefined || statusJson(last) !== statusJson(status)) statuses.push(status);
}

/** An UPDATE_OPERATION_STATUS event for a framework. */
function sendStatus(m: Master, framework: FrameworkRecord, status: OperationStatus): void {
  m.sendEvent(framework, {
    type: "UPDATE_OPERATION_STATUS",
    update_operation_status: { status },
  });
}

/** Passes a status on to a connected framework, or says why not. */
function forwardToFramework(
  m: Master,
  frameworkId: string,
  message: UpdateOperationStatusMessage,
): void {
  const framework = m.frameworks.get(frameworkId);
  const what = `operation status update ${message.status.state} for operation '${message.status.operation_id?.value ?? ""}'`;
  if (framework === undefined || !framework.connected) {
    m.logger.warn(
      `Received ${what}, but the framework is ${framework === undefined ? "unknown" : "disconnected"}`,
    );
    return;
  }
  m.logger.info(`Forwarding ${what} to framework ${frameworkId}`);
  sendStatus(m, framework, message.status);
}

/** UpdateOperationStatusMessage from an agent. */
export function operationStatusUpdate(m: Master, message: UpdateOperationStatusMessage): void {
  let frameworkId = message.framework_id?.value;
  const agentId = message.slave_id?.value;
  if (message.operation_uuid === undefined) {
    // The answer to a reconciliation the master passed on: nothing to record.
    if (frameworkId !== undefined) forwardToFramework(m, frameworkId, message);
    return;
  }
  const uuid = message.operation_uuid.value;
  const agent = agentId === undefined ? undefined : m.agents.get(agentId);
  if (agent === undefined) {
    m.logger.warn(
      `Ignoring status update for operation '${message.status.operation_id?.value ?? ""}' ` +
        `(uuid: ${uuidText(uuid)}) for ${owner(frameworkId)}: Agent ${agentId ?? ""} is not registered`,
    );
    m.events.operationStatusUpdateReceived(false);
    return;
  }
  const operation = agent.operations.get(uuidKey(uuid));
  if (operation === undefined) {
    // Without a framework this repeats a terminal update already handled;
    // with one, it answers a reconciliation that raced the operation's removal.
    if (frameworkId === undefined) return;
    forwardToFramework(m, frameworkId, message);
    m.events.operationStatusUpdateReceived(false);
    return;
  }
  m.events.operationStatusUpdateReceived(true);
  const id = operation.info.id;
  if (id !== undefined) {
    // Agents may leave these out (an operation they dropped on reconciliation).
    frameworkId = operation.framework_id?.value;
    message.status.operation_id = id;
  }
  const received = message.latest_status ?? message.status;
  const status: OperationStatus = {
    ...received,
    ...(id === undefined ? {} : { operation_id: id }),
    agent_id: received.agent_id ?? { value: agent.id },
  };
  if (message.status.agent_id === undefined) message.status.agent_id = { value: agent.id };
  updateOperation(m, operation, status);
  const statuses = operation.statuses ?? [];
  const latest = statuses[statuses.length - 1] ?? status;
  const terminal = isTerminalOperationState(latest.state);
  const frameworkAcknowledges =
    id !== undefined && frameworkId !== undefined && !m.isCompletedFramework(frameworkId);
  if (frameworkAcknowledges && frameworkId !== undefined) {
    forwardToFramework(m, frameworkId, message);
    // A terminal status without a uuid will not be acknowledged.
    if (terminal && latest.uuid === undefined) removeOperation(m, agent, operation);
    return;
  }
  if (latest.uuid !== undefined) {
    sendAcknowledgement(m, agent, operation, latest.uuid.value);
  }
  if (terminal) removeOperation(m, agent, operation);
}

function sendAcknowledgement(
  m: Master,
  agent: AgentRecord,
  operation: Operation,
  statusUuid: Uint8Array,
): void {
  const ack: AcknowledgeOperationStatusMessage = {
    status_uuid: { value: statusUuid },
    operation_uuid: operation.uuid,
  };
  m.io.sendToAgent(agent.pid, "mesos.internal.AcknowledgeOperationStatusMessage", ack);
}

/** Why an acknowledgement cannot go to the agent (Mesos' reasons, in its order). */
function ackRefusal(
  agent: AgentRecord | undefined,
  onProvider: boolean,
  known: boolean,
): string | undefined {
  if (agent === undefined) return "agent is not registered";
  if (!agent.connected) return "agent is disconnected";
  if (onProvider && !agent.hasCapability("RESOURCE_PROVIDER")) {
    return "the agent does not have the RESOURCE_PROVIDER capability";
  }
  if (!onProvider && !agent.hasCapability("AGENT_OPERATION_FEEDBACK")) {
    return "the agent does not support operation feedback on agent default resources";
  }
  return known ? undefined : "the operation is unknown";
}

/** ACKNOWLEDGE_OPERATION_STATUS of a subscribed framework (validated by the HTTP edge). */
export function acknowledgeOperationStatus(
  m: Master,
  framework: FrameworkRecord,
  call: Call_AcknowledgeOperationStatus,
): void {
  const operationId = call.operation_id.value;
  const statusUuid = call.uuid;
  const agentId = call.agent_id?.value ?? "";
  const agent = m.agents.get(agentId);
  const found =
    agent === undefined ? undefined : findFrameworkOperation(m, framework.id, operationId, agentId);
  const why = ackRefusal(agent, call.resource_provider_id !== undefined, found !== undefined);
  if (why !== undefined || agent === undefined || found === undefined) {
    m.logger.warn(
      `Cannot send operation status update acknowledgement for status ${uuidText(statusUuid)} ` +
        `of operation '${operationId}' of framework ${framework.id} to agent ${agentId} ` +
        `because ${why ?? "the operation is unknown"}`,
    );
    m.events.operationAcknowledgementReceived(false);
    return;
  }
  const { operation } = found;
  const key = uuidKey(statusUuid);
  const acknowledged = (operation.statuses ?? []).find(
    (s) => s.uuid !== undefined && uuidKey(s.uuid.value) === key,
  );
  if (acknowledged === undefined) {
    m.logger.warn(
      `Ignoring operation status acknowledgement for status ${uuidText(statusUuid)} of ` +
        `operation ${describe(operation)} of framework ${framework.id} because the operation ` +
        "status is unknown",
    );
    m.events.operationAcknowledgementReceived(false);
    return;
  }
  m.logger.info(
    `Processing ACKNOWLEDGE_OPERATION_STATUS call for status ${uuidText(statusUuid)} of ` +
      `operation ${describe(operation)} of framework ${framework.id} on agent ${agent.id}`,
  );
  if (isTerminalOperationState(acknowledged.state)) removeOperation(m, agent, operation);
  m.io.sendToAgent(agent.pid, "mesos.internal.AcknowledgeOperationStatusMessage", {
    status_uuid: { value: statusUuid },
    operation_uuid: operation.uuid,
    ...(call.resource_provider_id === undefined
      ? {}
      : { resource_provider_id: call.resource_provider_id }),
  });
  m.events.operationAcknowledgementReceived(true);
}

/** What reconciliation says of a known operation: the latest status sent, without its uuid. */
function reconciledStatus(operation: Operation): OperationStatus {
  const statuses = operation.statuses ?? [];
  const { uuid: _uuid, ...status } = statuses[statuses.length - 1] ?? operation.latest_status;
  return {
    ...status,
    ...(operation.info.id === undefined ? {} : { operation_id: operation.info.id }),
  };
}

/**
 * RECONCILE_OPERATIONS. Implicit (no operations listed): the latest status
 * of each of the framework's operations. Explicit: for each one listed, the
 * latest status if the master knows it; otherwise from its agent's state:
 * recovered but not back (OPERATION_RECOVERING), registered
 * (OPERATION_UNKNOWN; or, for an operation on a resource provider of an
 * agent that takes operations, the question goes to the agent, which
 * answers), unreachable (OPERATION_UNREACHABLE), marked gone
 * (OPERATION_GONE_BY_OPERATOR), unknown or not given (OPERATION_UNKNOWN).
 * None of these answers needs an acknowledgement.
 */
export function reconcileOperations(
  m: Master,
  framework: FrameworkRecord,
  operations: readonly Call_ReconcileOperations_Operation[],
): void {
  if (operations.length === 0) {
    m.logger.info(
      `Performing implicit operation state reconciliation for framework ${framework.id}`,
    );
    for (const operation of frameworkOperations(m, framework.id)) {
      sendStatus(m, framework, reconciledStatus(operation));
    }
    return;
  }
  m.logger.info(
    `Performing explicit operation state reconciliation for ${operations.length} operations ` +
      `of framework ${framework.id}`,
  );
  const forwarded = new Map<string, ReconcileOperationsMessage>();
  for (const op of operations) {
    const agentId = op.agent_id?.value;
    const known = findFrameworkOperation(m, framework.id, op.operation_id.value);
    if (known !== undefined) {
      sendStatus(m, framework, reconciledStatus(known.operation));
      continue;
    }
    const agent = agentId === undefined ? undefined : m.agents.get(agentId);
    if (
      agent !== undefined &&
      !m.recoveredAgents.has(agent.id) &&
      op.resource_provider_id !== undefined &&
      tracksOperations(agent) &&
      agent.hasCapability("AGENT_OPERATION_FEEDBACK")
    ) {
      // No resource provider is known here: the agent says whether it knows this one.
      let message = forwarded.get(agent.id);
      if (message === undefined) {
        message = { framework_id: { value: framework.id }, operations: [] };
        forwarded.set(agent.id, message);
      }
      message.operations?.push({
        operation_id: op.operation_id,
        resource_provider_id: op.resource_provider_id,
      });
      continue;
    }
    const [state, message] = unknownOperationAnswer(m, agentId);
    sendStatus(m, framework, {
      operation_id: op.operation_id,
      state,
      message,
      ...(op.agent_id === undefined ? {} : { agent_id: op.agent_id }),
      ...(op.resource_provider_id === undefined
        ? {}
        : { resource_provider_id: op.resource_provider_id }),
    });
  }
  for (const [agentId, message] of forwarded) {
    const agent = m.agents.get(agentId);
    if (agent !== undefined) {
      m.io.sendToAgent(agent.pid, "mesos.internal.ReconcileOperationsMessage", message);
    }
  }
}

function unknownOperationAnswer(m: Master, agentId: string | undefined): [OperationState, string] {
  if (agentId === undefined) {
    return [
      "OPERATION_UNKNOWN",
      "Reconciliation: Operation is unknown and no 'agent_id' was provided",
    ];
  }
  if (m.recoveredAgents.has(agentId)) {
    return ["OPERATION_RECOVERING", "Reconciliation: Agent is recovered but has not re-registered"];
  }
  if (m.agents.has(agentId)) return ["OPERATION_UNKNOWN", "Reconciliation: Operation is unknown"];
  if (m.unreachableAgents.has(agentId)) {
    return ["OPERATION_UNREACHABLE", "Reconciliation: Agent is unreachable"];
  }
  if (m.goneAgents.has(agentId)) {
    return ["OPERATION_GONE_BY_OPERATOR", "Reconciliation: Agent marked gone by operator"];
  }
  return ["OPERATION_UNKNOWN", "Reconciliation: Both operation and agent are unknown"];
}

/**
 * The agent leaves the registered agents. Marked unreachable or gone:
 * frameworks hear OPERATION_UNREACHABLE / OPERATION_GONE_BY_OPERATOR for
 * each of their operations with an id (once, not reliably: reconciliation
 * answers later), which count in that state. Any reason: the records go
 * (an agent that comes back reports its operations again).
 */
export function removeAgentOperations(
  m: Master,
  agent: AgentRecord,
  reason: AgentRemovalReason,
): void {
  const ending: [OperationState, string] | undefined =
    reason === "unreachable"
      ? ["OPERATION_UNREACHABLE", "Agent was marked unreachable"]
      : reason === "gone"
        ? ["OPERATION_GONE_BY_OPERATOR", "Agent has been marked gone"]
        : undefined;
  for (const operation of [...agent.operations.values()]) {
    if (ending !== undefined) {
      const [state, message] = ending;
      const framework = m.framework(operation.framework_id?.value);
      if (operation.info.id !== undefined && framework !== undefined) {
        sendStatus(m, framework, {
          operation_id: operation.info.id,
          state,
          message,
          agent_id: { value: agent.id },
        });
      }
      m.events.operationStateCounted(operationType(operation), state, 1);
    }
    removeOperation(m, agent, operation);
  }
}

/**
 * A known agent re-registers. One that no longer has AGENT_OPERATION_FEEDBACK
 * will not acknowledge anything: its terminal operations with an id go.
 * Its resource version is the one it sends now.
 */
export function agentReregistered(
  m: Master,
  agent: AgentRecord,
  hadFeedback: boolean,
  resourceVersion: Uint8Array | undefined,
): void {
  if (hadFeedback && !agent.hasCapability("AGENT_OPERATION_FEEDBACK")) {
    for (const operation of [...agent.operations.values()]) {
      if (
        operation.info.id !== undefined &&
        operation.latest_status.resource_provider_id === undefined &&
        isTerminalOperationState(operation.latest_status.state)
      ) {
        removeOperation(m, agent, operation);
      }
    }
  }
  agent.resourceVersion = resourceVersion;
}

/**
 * UpdateSlaveMessage: the agent's resource version and its operations. The
 * master asks the agent (ReconcileOperationsMessage) about operations it
 * has that the agent did not list (the agent answers, OPERATION_DROPPED for
 * one it never got), and adopts operations the agent lists that it lacks
 * (e.g. after a master failover). With `update_oversubscribed_resources`
 * (or without the field, as from agents before Mesos 1.5) the agent's
 * revocable resources become `oversubscribed_resources` (its valid revocable
 * ones only), and offers holding revocable resources of the agent are
 * rescinded. A message that does not come from the agent's pid is ignored.
 * Resource providers are not supported and ignored.
 */
export function updateAgent(m: Master, from: string, message: UpdateSlaveMessage): void {
  const agentId = message.slave_id.value;
  const agent = m.agents.get(agentId);
  if (agent === undefined) {
    m.logger.warn(`Ignoring update on removed agent ${agentId}`);
    return;
  }
  // Only the agent itself may change what the master thinks it has: another
  // agent (or anything else that speaks the protocol) naming its id would
  // otherwise replace its revocable resources and rescind its offers.
  if (agent.pid !== from) {
    m.logger.warn(
      `Ignoring update on agent ${agentId} from ${from} because it is not the agent ${agent.pid}`,
    );
    return;
  }
  const reported = message.operations?.operations ?? [];
  const reportedKeys = new Set(reported.map((o) => uuidKey(o.uuid.value)));
  const versionChanged =
    message.resource_version_uuid !== undefined &&
    uuidKey(message.resource_version_uuid.value) !== uuidKey(agent.resourceVersion);
  const unknown = reported.filter((o) => !agent.operations.has(uuidKey(o.uuid.value)));
  const missing = [...agent.operations.entries()].filter(
    ([key]) => message.operations === undefined || !reportedKeys.has(key),
  );
  const hasOversubscribed = message.update_oversubscribed_resources !== false;
  let newTotal: Resources | undefined;
  if (hasOversubscribed) {
    const oversubscribed = oversubscribedOf(m, agent.id, message.oversubscribed_resources ?? []);
    m.logger.info(
      `Received update of agent ${agent.id} with total oversubscribed resources ${oversubscribed.toString()}`,
    );
    const total = agent.totalResources.nonRevocable().plus(oversubscribed);
    if (!total.equals(agent.totalResources)) newTotal = total;
  }
  if (newTotal === undefined && !versionChanged && unknown.length === 0 && missing.length === 0) {
    m.logger.info(`Ignoring update on agent ${agent.id} as it reports no changes`);
    m.events.agentUpdated(agent);
    return;
  }
  if (message.resource_version_uuid !== undefined) {
    agent.resourceVersion = message.resource_version_uuid.value;
  }
  const reconcile: ReconcileOperationsMessage = { operations: [] };
  for (const [, operation] of missing) {
    m.logger.warn(
      `Performing explicit reconciliation with agent ${agent.id} for known operation ` +
        `${uuidText(operation.uuid.value)} since it was not present in original reconciliation ` +
        "message from agent",
    );
    reconcile.operations?.push({ operation_uuid: operation.uuid });
  }
  for (const operation of unknown) {
    const adopted: Operation = { ...operation, agent_id: { value: agent.id } };
    m.logger.info(
      `Adding operation ${describe(adopted)} of ${owner(adopted.framework_id?.value)} ` +
        `reported by agent ${agent.id} in state ${adopted.latest_status.state}`,
    );
    addOperation(m, agent, adopted);
  }
  if ((reconcile.operations ?? []).length > 0) {
    m.io.sendToAgent(agent.pid, "mesos.internal.ReconcileOperationsMessage", reconcile);
  }
  if (newTotal !== undefined) {
    // The allocator first: offers rescinded below must not go out again with
    // the old revocable resources.
    agent.totalResources = newTotal;
    m.allocator.updateAgent(
      agent.id,
      {
        id: { value: agent.id },
        hostname: agent.info.hostname,
        attributes: agent.info.attributes ?? [],
        ...(agent.info.domain === undefined ? {} : { domain: agent.info.domain as never }),
      },
      newTotal,
    );
  }
  if (hasOversubscribed) {
    // Estimates come at regular intervals: only offers with revocable resources go back.
    for (const offer of [...agent.offers]) {
      if (offer.resources.revocable().isEmpty()) continue;
      m.logger.info(
        `Rescinding offer ${offer.id} with revocable resources ${offer.resources.toString()} on agent ${agent.id}`,
      );
      rescindOffer(m, offer);
    }
  }
  m.events.agentUpdated(agent);
}

/**
 * The resources of an estimate the master takes: valid revocable ones as
 * the agent holds them (no allocation, no resource provider). Anything else
 * would stay in the agent's regular total for good (an estimate only ever
 * replaces the revocable part), so it is dropped with a warning; so are
 * invalid resources (negative or NaN amounts, a value of the wrong type).
 */
function oversubscribedOf(m: Master, agentId: string, resources: readonly Resource[]): Resources {
  const kept: CoreResource[] = [];
  for (const r of resources) {
    const resource = r as CoreResource;
    const why =
      validateResource(resource) ??
      (r.revocable === undefined
        ? "it is not revocable"
        : r.allocation_info !== undefined
          ? "it is allocated to a role"
          : r.provider_id !== undefined
            ? "it belongs to a resource provider"
            : undefined);
    if (why === undefined) {
      kept.push(resource);
      continue;
    }
    m.logger.warn(
      `Ignoring '${typeof r?.name === "string" ? r.name : "?"}' in the oversubscribed resources of agent ${agentId}: ${why}`,
    );
  }
  return Resources.from(kept);
}

/**
 * An operation refused by validation (Mesos' drop): counted as
 * OPERATION_ERROR for its type, as Mesos does, whatever the agent.
 */
export function countDroppedOperation(m: Master, operation: Offer_Operation): void {
  m.events.operationStateCounted(operation.type ?? "UNKNOWN", "OPERATION_ERROR", 1);
}
