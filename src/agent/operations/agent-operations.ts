/**
 * Operations on the agent's own resources, as a Mesos agent with
 * AGENT_OPERATION_FEEDBACK runs them (`Slave::applyOperation`,
 * `operationStatusAcknowledgement`, `reconcileOperations`,
 * `_recoverOperations`):
 *
 * - ApplyOperationMessage: the operation is applied to the checkpointed
 *   resources (the same write as a CheckpointResourcesMessage: the
 *   resources, the volume directories, and the operations not yet
 *   acknowledged), then OPERATION_FINISHED goes to the master through the
 *   operation status update manager, with a status uuid to acknowledge.
 *   An operation for another resource version (the agent restarted since
 *   the master's view) is OPERATION_DROPPED; one that cannot be applied is
 *   OPERATION_FAILED with the reason.
 * - AcknowledgeOperationStatusMessage: the acknowledged terminal operation
 *   is forgotten (and its stream directory removed).
 * - ReconcileOperationsMessage: from the master, an operation the agent
 *   does not know is answered OPERATION_DROPPED (best effort, no uuid);
 *   from a framework, a known one with its latest status.
 * - After (re)registration, an UpdateSlaveMessage lists the operations
 *   still pending or unacknowledged, with the resource version.
 *
 * State and decisions only; the agent hands it the ports to its
 * checkpointed resources, the master and the disk.
 */
import { newOperationUuid } from "../../common/ids/index.js";
import { uuidBytesToText } from "../../common/ids/uuid.js";
import type { Logger } from "../../common/observability/logger.js";
import type {
  AcknowledgeOperationStatusMessage,
  ApplyOperationMessage,
  ReconcileOperationsMessage,
  UpdateOperationStatusMessage,
  UpdateSlaveMessage,
} from "../../common/protocol/generated/mesos-internal.js";
import type {
  Operation,
  OperationState,
  OperationStatus,
  Resource,
} from "../../common/protocol/generated/mesos-v1.js";
import type { Clock } from "../../common/time/clock.js";
import type { RandomSource } from "../../common/time/random.js";
import { uuidKey } from "../status-updates/stream.js";
import type { SavedOperationStreams } from "./checkpoint.js";
import {
  applyOperationToCheckpointed,
  isTerminalOperationState,
  SPECULATIVE_OPERATIONS,
} from "./conversions.js";
import {
  OperationStatusUpdateManager,
  type OperationStreamRecord,
} from "./status-update-manager.js";

/** What the operations need from the agent. */
export interface AgentOperationsPorts {
  clock: Clock;
  random: RandomSource;
  logger: Logger;
  /** This agent start's resource version (Mesos' `resourceVersion`). */
  resourceVersion: Uint8Array;
  agentId: () => string | undefined;
  /** Sends to the master when registered; drops (with a log line) otherwise. */
  sendToMaster: (
    type: "mesos.internal.UpdateOperationStatusMessage",
    m: UpdateOperationStatusMessage,
  ) => void;
  /** The `--resources` of the agent (without what was checkpointed). */
  staticResources: () => readonly Resource[];
  checkpointedResources: () => readonly Resource[];
  /**
   * Replaces the checkpointed resources (when `resources` is given) and
   * queues the checkpoint write with the operations to keep; resolves true
   * once it is on disk, false if it failed (the agent then exits).
   */
  commit: (resources: Resource[] | undefined) => Promise<boolean>;
  /** An operation was forgotten (acknowledged, or done at recovery). */
  removed: () => void;
  /** The stream files (absent in tests: records are "durable" at once). */
  files: () =>
    | {
        append(agentId: string, record: OperationStreamRecord): Promise<void>;
        remove(agentId: string, operationUuid: Uint8Array): Promise<void>;
      }
    | undefined;
}

const text = (uuid: Uint8Array): string => uuidBytesToText(uuid) ?? uuidKey(uuid);

function describe(operation: Operation): string {
  const id = operation.info.id === undefined ? "with no ID" : `'${operation.info.id.value}'`;
  const owner =
    operation.framework_id === undefined
      ? "an operator API call"
      : `framework ${operation.framework_id.value}`;
  return `operation ${id} (uuid: ${text(operation.uuid.value)}) of ${owner}`;
}

/** The agent's operations (one per agent). */
export class AgentOperations {
  /** By hex of the operation uuid. */
  private readonly operations = new Map<string, Operation>();
  /** `<framework id>\0<operation id>` to the hex of the operation uuid. */
  private readonly operationIds = new Map<string, string>();
  readonly updates: OperationStatusUpdateManager;

  constructor(private readonly ports: AgentOperationsPorts) {
    this.updates = new OperationStatusUpdateManager({
      clock: ports.clock,
      logger: ports.logger,
      forward: (update) => this.forward(update),
      checkpoint: (record) => {
        const files = ports.files();
        const agentId = ports.agentId();
        if (files === undefined || agentId === undefined) return Promise.resolve();
        try {
          return files.append(agentId, record);
        } catch (e) {
          return Promise.reject(e);
        }
      },
    });
  }

  /** Pending and unacknowledged operations (GET_OPERATIONS, UpdateSlaveMessage). */
  list(): Operation[] {
    return [...this.operations.values()];
  }

  /**
   * What goes to disk with the checkpointed resources: the operations
   * whose latest status has a uuid (terminal, not yet acknowledged), as
   * Mesos keeps them.
   */
  toCheckpoint(): Operation[] {
    return this.list().filter((o) => o.latest_status.uuid !== undefined);
  }

  /** The UpdateSlaveMessage sent after (re)registering. */
  updateSlaveMessage(agentId: string): UpdateSlaveMessage {
    return {
      slave_id: { value: agentId },
      update_oversubscribed_resources: false,
      operations: { operations: this.list() },
      resource_version_uuid: { value: this.ports.resourceVersion },
      // Present and empty: the agent has no resource providers.
      resource_providers: {},
    };
  }

  // ---- ApplyOperationMessage ---------------------------------------------------

  apply(message: ApplyOperationMessage): void {
    const { logger } = this.ports;
    const agentId = this.ports.agentId();
    const operationUuid = message.operation_uuid.value;
    if (agentId === undefined) {
      logger.warn(`Ignoring operation (uuid: ${text(operationUuid)}): the agent has no id yet`);
      return;
    }
    if (operationUuid.length !== 16) {
      logger.error(
        `Ignoring operation with an operation_uuid of ${operationUuid.length} bytes (expected 16)`,
      );
      return;
    }
    const key = uuidKey(operationUuid);
    const known = this.operations.get(key);
    if (known !== undefined) {
      logger.warn(`Ignoring ${describe(known)}: it was applied already`);
      return;
    }
    const info = message.operation_info;
    const operation: Operation = {
      info,
      latest_status: this.status("OPERATION_PENDING", message, agentId, false),
      statuses: [],
      uuid: message.operation_uuid,
      agent_id: { value: agentId },
    };
    if (message.framework_id !== undefined) operation.framework_id = message.framework_id;
    this.add(operation);
    logger.info(`Applying ${describe(operation)}: ${info.type}`);

    let state: OperationState;
    let reason: string | undefined;
    let resources: Resource[] | undefined;
    const version = message.resource_version_uuid;
    if (version.resource_provider_id !== undefined || usesResourceProvider(message)) {
      state = "OPERATION_DROPPED";
      reason = "The agent has no resource providers";
    } else if (uuidKey(version.uuid.value) !== uuidKey(this.ports.resourceVersion)) {
      state = "OPERATION_DROPPED";
      reason = `Mismatched resource version ${text(version.uuid.value)} (expected: ${text(this.ports.resourceVersion)})`;
    } else if (!SPECULATIVE_OPERATIONS.has(info.type ?? "UNKNOWN")) {
      state = "OPERATION_FAILED";
      reason = `${info.type ?? "UNKNOWN"} is not supported on the agent's own resources`;
    } else {
      const applied = applyOperationToCheckpointed(
        this.ports.staticResources(),
        this.ports.checkpointedResources(),
        info,
      );
      if (applied.ok) {
        state = "OPERATION_FINISHED";
        resources = applied.value;
      } else {
        state = "OPERATION_FAILED";
        reason = `Failed to apply ${info.type}: ${applied.error}`;
      }
    }
    if (reason !== undefined) logger.warn(`${describe(operation)}: ${state}: ${reason}`);
    const status = this.status(state, message, agentId, true, reason);
    this.setStatus(operation, status);
    const update: UpdateOperationStatusMessage = {
      slave_id: { value: agentId },
      status,
      operation_uuid: message.operation_uuid,
    };
    if (message.framework_id !== undefined) update.framework_id = message.framework_id;
    // The result is on disk (resources, volumes and the operation) before
    // it is reported, so a restarted agent never contradicts what it said.
    void this.ports
      .commit(resources)
      .then((written) => {
        if (!written) return;
        const outcome = this.updates.update(update);
        if (!outcome.ok) logger.error(`Cannot report ${describe(operation)}: ${outcome.error}`);
      })
      .catch((e: unknown) =>
        logger.error(`Cannot report ${describe(operation)}: ${(e as Error).message}`),
      );
  }

  private status(
    state: OperationState,
    message: ApplyOperationMessage,
    agentId: string,
    withUuid: boolean,
    reason?: string,
  ): OperationStatus {
    const status: OperationStatus = { state, agent_id: { value: agentId } };
    if (message.operation_info.id !== undefined) status.operation_id = message.operation_info.id;
    if (reason !== undefined) status.message = reason;
    if (withUuid) status.uuid = { value: newOperationUuid(this.ports.random) };
    return status;
  }

  /** Mesos' `updateOperation` for the agent's own resources: a terminal latest status stays. */
  private setStatus(operation: Operation, status: OperationStatus): void {
    if (!isTerminalOperationState(operation.latest_status.state)) operation.latest_status = status;
    const statuses = operation.statuses ?? [];
    const uuid = status.uuid?.value;
    const retry =
      uuid !== undefined &&
      statuses.some((s) => s.uuid !== undefined && uuidKey(s.uuid.value) === uuidKey(uuid));
    if (!retry) statuses.push(status);
    operation.statuses = statuses;
  }

  // ---- AcknowledgeOperationStatusMessage -----------------------------------------

  acknowledge(message: AcknowledgeOperationStatusMessage): void {
    const { logger } = this.ports;
    const operationUuid = message.operation_uuid.value;
    const operation = this.operations.get(uuidKey(operationUuid));
    if (operation === undefined) {
      logger.warn(
        `Dropping operation update acknowledgement with status_uuid ${text(message.status_uuid.value)} and operation_uuid ${text(operationUuid)} because the operation was not found`,
      );
      return;
    }
    const outcome = this.updates.acknowledgement(operationUuid, message.status_uuid.value);
    if (!outcome.ok) {
      logger.error(
        `Failed to acknowledge status update for operation (uuid: ${text(operationUuid)}): ${outcome.error}`,
      );
      return;
    }
    if (!outcome.streamTerminated) return;
    logger.info(`${describe(operation)} is acknowledged and done`);
    this.remove(operation);
    const agentId = this.ports.agentId();
    // The ACK record first, then the state without the operation, then the
    // stream: a crash in between leaves what recovery cleans up.
    void outcome.durable
      .catch(() => {})
      .then(() => this.ports.commit(undefined))
      .then((written) => {
        const files = this.ports.files();
        if (!written || files === undefined || agentId === undefined) return;
        return files.remove(agentId, operationUuid);
      })
      .catch((e: unknown) =>
        logger.error(
          `Failed to remove the status update stream of operation (uuid: ${text(operationUuid)}): ${(e as Error).message}`,
        ),
      );
  }

  // ---- ReconcileOperationsMessage ---------------------------------------------

  reconcile(message: ReconcileOperationsMessage): void {
    const agentId = this.ports.agentId();
    if (agentId === undefined) return;
    const frameworkId = message.framework_id;
    for (const wanted of message.operations ?? []) {
      if (frameworkId === undefined) {
        // The master's own reconciliation: it missed the operation in our
        // UpdateSlaveMessage. Unknown here means it never arrived.
        const uuid = wanted.operation_uuid;
        if (wanted.resource_provider_id !== undefined) {
          this.unknownProvider(agentId, wanted, undefined);
          continue;
        }
        if (uuid === undefined) continue;
        if (this.operations.has(uuidKey(uuid.value))) continue;
        this.ports.logger.info(
          `Reconciling unknown operation (uuid: ${text(uuid.value)}) as OPERATION_DROPPED`,
        );
        this.forward({
          slave_id: { value: agentId },
          status: { state: "OPERATION_DROPPED", agent_id: { value: agentId } },
          operation_uuid: uuid,
        });
        continue;
      }
      // A framework's: answer with what we know (no uuid: not sent reliably).
      let key =
        wanted.operation_uuid === undefined ? undefined : uuidKey(wanted.operation_uuid.value);
      if (key === undefined && wanted.operation_id !== undefined) {
        key = this.operationIds.get(`${frameworkId.value}\0${wanted.operation_id.value}`);
      }
      const operation = key === undefined ? undefined : this.operations.get(key);
      if (operation === undefined) {
        // Unknown on the agent's own resources: the master answers the
        // framework itself. On a resource provider: the agent has none.
        if (wanted.resource_provider_id !== undefined) {
          this.unknownProvider(agentId, wanted, frameworkId);
        }
        continue;
      }
      const { uuid: _uuid, ...status } = operation.latest_status;
      this.forward({
        framework_id: frameworkId,
        slave_id: { value: agentId },
        status,
        operation_uuid: operation.uuid,
      });
    }
  }

  /**
   * An operation on a resource provider the agent does not have (it has
   * none): OPERATION_UNKNOWN without a status uuid, as Mesos' resource
   * provider manager answers for a provider it never knew.
   */
  private unknownProvider(
    agentId: string,
    wanted: NonNullable<ReconcileOperationsMessage["operations"]>[number],
    frameworkId: ReconcileOperationsMessage["framework_id"],
  ): void {
    const status: OperationStatus = { state: "OPERATION_UNKNOWN", agent_id: { value: agentId } };
    if (wanted.operation_id !== undefined) status.operation_id = wanted.operation_id;
    if (wanted.resource_provider_id !== undefined) {
      status.resource_provider_id = wanted.resource_provider_id;
    }
    const update: UpdateOperationStatusMessage = { slave_id: { value: agentId }, status };
    if (frameworkId !== undefined) update.framework_id = frameworkId;
    if (wanted.operation_uuid !== undefined) update.operation_uuid = wanted.operation_uuid;
    this.forward(update);
  }

  // ---- registration and recovery ------------------------------------------------

  /** The agent (re)registered: unacknowledged updates go out again. */
  connected(): void {
    this.updates.resume();
  }

  /** The agent lost its master. */
  disconnected(): void {
    this.updates.pause();
  }

  /**
   * Restores the operations checkpointed with the resources and their
   * streams (Mesos' `_recoverOperations`): a stream whose terminal update
   * was acknowledged is done (operation and directory removed), a stream
   * of no known operation is garbage, and an operation whose latest status
   * never reached its stream gets it now. Updates go out once registered.
   */
  recover(operations: readonly Operation[], saved: SavedOperationStreams): void {
    const { logger } = this.ports;
    const agentId = this.ports.agentId();
    const files = this.ports.files();
    if (agentId === undefined) {
      if (operations.length > 0) {
        logger.warn(`Forgetting ${operations.length} checkpointed operation(s): no agent id`);
      }
      return;
    }
    for (const operation of operations) this.add(operation);
    for (const stray of saved.strays) {
      logger.warn(
        `Ignoring '${stray}' among the operation status update streams: not an operation uuid`,
      );
    }
    let changed = false;
    for (const stream of saved.streams) {
      const key = uuidKey(stream.operationUuid);
      const operation = this.operations.get(key);
      if (stream.error !== undefined) {
        logger.warn(
          `Operation status update stream ${text(stream.operationUuid)}: ${stream.error}; using the records before it`,
        );
      }
      if (operation === undefined) {
        logger.warn(
          `Garbage collecting status update stream for unknown operation (uuid: ${text(stream.operationUuid)})`,
        );
        void files?.remove(agentId, stream.operationUuid).catch(() => {});
        continue;
      }
      const recovered = this.updates.recover(stream.operationUuid, stream);
      if (recovered.terminated) {
        this.remove(operation);
        changed = true;
        void files?.remove(agentId, stream.operationUuid).catch(() => {});
      } else if (recovered.pending > 0) {
        logger.info(
          `Recovered ${recovered.pending} unacknowledged status update(s) of ${describe(operation)}`,
        );
      }
    }
    for (const operation of this.operations.values()) {
      const status = operation.latest_status;
      if (status.uuid === undefined) continue;
      if (this.updates.hasUpdate(operation.uuid.value, status.uuid.value)) continue;
      // Checkpointed with the resources, but the agent stopped before the
      // update reached its stream.
      const update: UpdateOperationStatusMessage = {
        slave_id: { value: agentId },
        status,
        operation_uuid: operation.uuid,
      };
      if (operation.framework_id !== undefined) update.framework_id = operation.framework_id;
      this.updates.update(update);
    }
    if (changed) void this.ports.commit(undefined);
  }

  private forward(update: UpdateOperationStatusMessage): void {
    this.ports.sendToMaster("mesos.internal.UpdateOperationStatusMessage", update);
  }

  private add(operation: Operation): void {
    const key = uuidKey(operation.uuid.value);
    this.operations.set(key, operation);
    if (operation.framework_id !== undefined && operation.info.id !== undefined) {
      this.operationIds.set(`${operation.framework_id.value}\0${operation.info.id.value}`, key);
    }
  }

  private remove(operation: Operation): void {
    const key = uuidKey(operation.uuid.value);
    this.operations.delete(key);
    if (operation.framework_id !== undefined && operation.info.id !== undefined) {
      this.operationIds.delete(`${operation.framework_id.value}\0${operation.info.id.value}`);
    }
    this.ports.removed();
  }
}

/** True when a resource of the operation belongs to a resource provider. */
function usesResourceProvider(message: ApplyOperationMessage): boolean {
  const info = message.operation_info;
  const lists: (readonly Resource[] | undefined)[] = [
    info.reserve?.resources,
    info.reserve?.source,
    info.unreserve?.resources,
    info.create?.volumes,
    info.destroy?.volumes,
    info.grow_volume === undefined
      ? undefined
      : [info.grow_volume.volume, info.grow_volume.addition],
    info.shrink_volume === undefined ? undefined : [info.shrink_volume.volume],
  ];
  return lists.some((l) => (l ?? []).some((r) => r.provider_id !== undefined));
}
