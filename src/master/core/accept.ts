/**
 * ACCEPT: validates the offers, then each operation, launches what is
 * valid (RunTaskMessage / RunTaskGroupMessage to the agent) and gives the
 * rest of the offered resources back with the call's filters. Invalid
 * launches are answered with status updates, as Mesos does:
 * - offers that cannot be used: TASK_DROPPED (TASK_LOST if the framework is
 *   not partition-aware), REASON_INVALID_OFFERS;
 * - an invalid task or group: TASK_ERROR, REASON_TASK_INVALID /
 *   REASON_TASK_GROUP_INVALID, with the reason as the message.
 * RESERVE, UNRESERVE, CREATE and DESTROY are applied in order to the offered
 * resources (see operations.ts), so a later LAUNCH of the same call can use
 * what they produce. Other operation types are dropped with a log line and,
 * when they carry an id, an OPERATION_ERROR update.
 * An operation with an `id` asks for feedback: LAUNCH and LAUNCH_GROUP
 * cannot have one (TASK_ERROR), and on an agent that takes operations
 * itself (see operation-tracking.ts) the agent needs the RESOURCE_PROVIDER
 * and AGENT_OPERATION_FEEDBACK capabilities (OPERATION_ERROR otherwise), as
 * in Mesos. For other agents the master answers the feedback itself.
 */
import type {
  ExecutorInfo,
  Offer_Operation,
  Resource,
  TaskInfo,
  TaskStatus_Reason,
} from "../../common/protocol/generated/mesos-v1.js";
import type { Call_Accept } from "../../common/protocol/generated/mesos-v1-scheduler.js";
import {
  type Resource as CoreResource,
  Resources,
  upgradeResource,
  validateResource,
} from "../../common/resources/index.js";
import type { ResourceConversion } from "../allocator/index.js";
import { validateOfferIds } from "../validation/offers.js";
import type { LaunchContext } from "../validation/task.js";
import { validateLaunchTask } from "../validation/task.js";
import { validateTaskGroup } from "../validation/task-group.js";
import type { Master } from "./master.js";
import { discardOffer, removeOffer } from "./offers.js";
import { countDroppedOperation, tracksOperations } from "./operation-tracking.js";
import { applyOfferOperation } from "./operations.js";
import type { AgentRecord, FrameworkRecord } from "./records.js";
import { forFramework, masterStatusUpdate } from "./status-updates.js";
import { addExecutor, addTask } from "./tasks.js";

function tasksOf(operation: Offer_Operation): TaskInfo[] {
  if (operation.type === "LAUNCH") return operation.launch?.task_infos ?? [];
  if (operation.type === "LAUNCH_GROUP") return operation.launch_group?.task_group.tasks ?? [];
  return [];
}

function isLaunch(operation: Offer_Operation): boolean {
  return operation.type === "LAUNCH" || operation.type === "LAUNCH_GROUP";
}

/** Sends a master-made update for a task of a rejected launch. */
function rejectTask(
  m: Master,
  framework: FrameworkRecord,
  task: TaskInfo,
  state: "TASK_ERROR" | "TASK_DROPPED" | "TASK_LOST",
  reason: TaskStatus_Reason,
  message: string,
): void {
  const update = masterStatusUpdate({
    frameworkId: framework.id,
    agentId: task.agent_id?.value,
    taskId: task.task_id.value,
    state,
    message,
    reason,
    timestamp: m.nowSecs(),
  });
  m.events.taskRejected(update.status);
  m.forward(framework, update, false);
}

/** Drops a non-launch operation, with OPERATION_ERROR feedback when it has an id. */
export function dropOperation(
  m: Master,
  framework: FrameworkRecord,
  operation: Offer_Operation,
  message: string,
): void {
  m.logger.warn(
    `Dropping ${operation.type ?? "UNKNOWN"} operation from framework ${framework.id}: ${message}`,
  );
  countDroppedOperation(m, operation);
  if (operation.id === undefined) return;
  m.sendEvent(framework, {
    type: "UPDATE_OPERATION_STATUS",
    update_operation_status: {
      status: { operation_id: operation.id, state: "OPERATION_ERROR", message },
    },
  });
}

/**
 * Why an agent that takes operations cannot give feedback on one (Mesos'
 * wording); all our operations are on the agent's default resources.
 */
function feedbackError(agent: AgentRecord): string | undefined {
  if (!agent.hasCapability("RESOURCE_PROVIDER")) {
    return `Operation requested feedback, but agent ${agent.id} does not have the required RESOURCE_PROVIDER capability`;
  }
  if (!agent.hasCapability("AGENT_OPERATION_FEEDBACK")) {
    return (
      `Operation on agent default resources requested feedback, but agent ${agent.id} ` +
      "does not have the required AGENT_OPERATION_FEEDBACK and RESOURCE_PROVIDER capabilities"
    );
  }
  return undefined;
}

/** A one-element list whose writes go back to `holder[key]`. */
function singleton<K extends string>(holder: Record<K, Resource>, key: K): Resource[] {
  const list = [holder[key]];
  return new Proxy(list, {
    set(target, prop, value: Resource) {
      if (prop === "0") holder[key] = value;
      return Reflect.set(target, prop, value);
    },
  });
}

/** Every resource list an operation names, for validation and normalisation. */
function resourceLists(operation: Offer_Operation): Resource[][] {
  const lists: Resource[][] = [];
  const add = (list: Resource[] | undefined): void => {
    if (list !== undefined) lists.push(list);
  };
  for (const task of tasksOf(operation)) {
    add(task.resources);
    add(task.executor?.resources);
  }
  add(operation.launch_group?.executor.resources);
  add(operation.reserve?.resources);
  add(operation.reserve?.source);
  add(operation.unreserve?.resources);
  add(operation.create?.volumes);
  add(operation.destroy?.volumes);
  // Single resources live in one-element lists written back below.
  const grow = operation.grow_volume;
  if (grow !== undefined) lists.push(singleton(grow, "volume"), singleton(grow, "addition"));
  const shrink = operation.shrink_volume;
  if (shrink !== undefined) lists.push(singleton(shrink, "volume"));
  return lists;
}

/** Mesos' validateAndUpgradeResources: each resource valid, then in the post-refinement format. */
function validateAndUpgrade(operation: Offer_Operation): string | undefined {
  const field = operation.type === undefined ? undefined : operation.type.toLowerCase();
  if (field !== undefined && field !== "unknown" && !(field in operation)) {
    const article = /^[AEIOU]/.test(operation.type ?? "") ? "An" : "A";
    return `${article} ${operation.type} offer operation must have the Offer.Operation.${field} field set.`;
  }
  for (const list of resourceLists(operation)) {
    for (let i = 0; i < list.length; i++) {
      const error = validateResource(list[i] as CoreResource);
      if (error !== undefined) return error;
      list[i] = upgradeResource(list[i] as CoreResource) as Resource;
    }
  }
  return undefined;
}

/** Fills what schedulers may leave out: allocation roles, executor framework ids, health check types. */
function normalise(operation: Offer_Operation, role: string, frameworkId: string): void {
  for (const list of resourceLists(operation)) {
    for (let i = 0; i < list.length; i++) {
      const r = list[i] as Resource;
      if (r.allocation_info === undefined) list[i] = { ...r, allocation_info: { role } };
    }
  }
  for (const task of operation.launch?.task_infos ?? []) {
    if (task.executor !== undefined && task.executor.framework_id === undefined) {
      task.executor.framework_id = { value: frameworkId };
    }
    const check = task.health_check;
    if (check !== undefined && check.type === undefined) {
      if (check.command !== undefined && check.http === undefined) check.type = "COMMAND";
      else if (check.http !== undefined && check.command === undefined) check.type = "HTTP";
    }
  }
  const group = operation.launch_group;
  if (group !== undefined) {
    for (const task of group.task_group.tasks ?? []) task.executor ??= group.executor;
  }
}

function launchContext(framework: FrameworkRecord, agent: AgentRecord): LaunchContext {
  return {
    frameworkId: framework.id,
    agentId: agent.id,
    taskIdInUse: (taskId) =>
      framework.tasks.has(taskId)
        ? "active"
        : framework.unreachableTasks.has(taskId)
          ? "unreachable"
          : undefined,
    existingExecutor: (executorId) => agent.executors.get(framework.id)?.get(executorId),
    agentSupportsLimits: agent.hasCapability("TASK_RESOURCE_LIMITS"),
    // Unreachable tasks count too (as in Mesos): they may still run under that executor.
    executorTaskContainers: (executorId) =>
      [...framework.tasks.values(), ...framework.unreachableTasks.values()]
        .filter((t) => t.agent_id.value === agent.id && t.executor_id?.value === executorId)
        .map((t) => t.container),
  };
}

function resourcesOf(list: readonly Resource[] | undefined): Resources {
  return Resources.from((list ?? []) as CoreResource[]);
}

/** Handles an ACCEPT call of a subscribed framework. */
export function accept(m: Master, framework: FrameworkRecord, call: Call_Accept): void {
  const offerIds = (call.offer_ids ?? []).map((o) => o.value);
  const operations = call.operations ?? [];
  const offerError = validateOfferIds(offerIds, framework.id, (id) => m.offers.get(id));
  if (offerError !== undefined) {
    rejectOffers(m, framework, offerIds, operations, offerError);
    return;
  }
  const first = m.offers.get(offerIds[0] as string);
  const agent = first === undefined ? undefined : m.agents.get(first.agentId);
  if (first === undefined || agent === undefined || !agent.connected) {
    const reason = agent === undefined ? "REASON_AGENT_REMOVED" : "REASON_AGENT_DISCONNECTED";
    const message = agent === undefined ? "Agent removed" : "Agent disconnected";
    const state = forFramework("TASK_DROPPED", framework.partitionAware) as "TASK_DROPPED";
    for (const operation of operations.filter(isLaunch)) {
      for (const task of tasksOf(operation)) rejectTask(m, framework, task, state, reason, message);
    }
    for (const id of offerIds) {
      const offer = m.offers.get(id);
      if (offer !== undefined) discardOffer(m, offer);
    }
    return;
  }
  const valid: Offer_Operation[] = [];
  for (const operation of operations) {
    const error = validateAndUpgrade(operation);
    if (error === undefined && operation.id !== undefined && isLaunch(operation)) {
      const reason =
        operation.type === "LAUNCH" ? "REASON_TASK_INVALID" : "REASON_TASK_GROUP_INVALID";
      for (const task of tasksOf(operation)) {
        rejectTask(
          m,
          framework,
          task,
          "TASK_ERROR",
          reason,
          `The \`id\` field cannot be set on ${operation.type} operations`,
        );
      }
      continue;
    }
    const known = operation.type !== undefined && operation.type !== "UNKNOWN";
    if (error === undefined && known && operation.id !== undefined && tracksOperations(agent)) {
      const refused = feedbackError(agent);
      if (refused !== undefined) {
        dropOperation(m, framework, operation, refused);
        continue;
      }
    }
    if (error === undefined) {
      normalise(operation, first.role, framework.id);
      valid.push(operation);
    } else if (operation.type === "LAUNCH" || operation.type === "LAUNCH_GROUP") {
      const reason =
        operation.type === "LAUNCH" ? "REASON_TASK_INVALID" : "REASON_TASK_GROUP_INVALID";
      for (const task of tasksOf(operation))
        rejectTask(m, framework, task, "TASK_ERROR", reason, error);
    } else if (operation.type !== undefined && operation.type !== "UNKNOWN") {
      dropOperation(
        m,
        framework,
        operation,
        `Operation attempted with invalid resources: ${error}`,
      );
    }
  }
  m.logger.info(
    `Processing ACCEPT call for offers: [ ${offerIds.join(", ")} ] on agent ${agent.id} for framework ${framework.id}`,
  );
  const offered = Resources.empty();
  for (const id of offerIds) {
    const offer = m.offers.get(id);
    if (offer === undefined) continue;
    offered.add(offer.resources);
    removeOffer(m, offer);
  }
  const remaining = offered.clone();
  // Shared volumes as offered (after the call's CREATE/DESTROY): a task may
  // use one even when an earlier task of the call took the offered copy, as
  // in Mesos; each extra copy is then added to the allocation.
  let remainingShared = remaining.shared();
  const resized = Resources.empty();
  const launched = Resources.empty();
  const ctx = launchContext(framework, agent);
  const conversions: ResourceConversion[] = [];
  for (const operation of valid) {
    switch (operation.type) {
      case "RESERVE":
      case "UNRESERVE":
      case "CREATE":
      case "DESTROY":
      case "GROW_VOLUME":
      case "SHRINK_VOLUME": {
        const applied = applyOfferOperation(m, framework, agent, operation, remaining);
        if (applied !== undefined) {
          conversions.push(...applied);
          if (operation.type === "GROW_VOLUME" || operation.type === "SHRINK_VOLUME") {
            // As Mesos: a resized volume is not usable by the rest of the call.
            for (const c of applied) {
              remaining.subtract(c.converted);
              resized.add(c.converted);
            }
          }
        }
        remainingShared = remaining.shared();
        break;
      }
      case "LAUNCH":
        for (const task of operation.launch?.task_infos ?? []) {
          const available = remaining.nonShared().add(remainingShared);
          const used = launchTask(m, framework, agent, task, ctx, available);
          if (used === undefined) continue;
          const additional = used.shared().subtract(remaining.shared());
          if (!additional.isEmpty()) {
            m.logger.info(
              `Allocating additional resources ${additional.toString()} for task ${task.task_id.value} ` +
                `of framework ${framework.id} on agent ${agent.id}`,
            );
            conversions.push({ consumed: Resources.empty(), converted: additional });
          }
          remaining.subtract(used);
          launched.add(used);
        }
        break;
      case "LAUNCH_GROUP": {
        const used = launchGroup(m, framework, agent, operation, ctx, remaining);
        if (used === undefined) break;
        remaining.subtract(used);
        launched.add(used);
        break;
      }
      case "UNKNOWN":
      case undefined:
        m.logger.warn("Ignoring unknown operation");
        break;
      default:
        dropOperation(m, framework, operation, `${operation.type} is not supported yet`);
    }
  }
  if (conversions.length > 0) {
    const updated = m.allocator.updateAllocation(framework.id, agent.id, offered, conversions);
    if (!updated.ok) m.logger.error(`Allocator refused the operations: ${updated.error}`);
  }
  // What the operations made (reservations, volumes, resized volumes) and no
  // task used comes back without a filter, so it is offered again at once, as
  // in Mesos; the rest of the offer is declined with the call's filters (5 s
  // by default), so other frameworks get it at the next event-driven cycle.
  const made = remaining.plus(resized).subtract(offered);
  const declined = remaining.minus(made);
  if (!made.isEmpty()) m.allocator.recoverResources(framework.id, agent.id, made);
  if (!declined.isEmpty()) {
    m.allocator.recoverResources(framework.id, agent.id, declined, call.filters ?? {});
  }
  if (!launched.isEmpty()) m.allocator.transitionOfferedToAllocated(agent.id, launched);
}

/** Offers failed validation: they go back and every task is dropped (or lost). */
function rejectOffers(
  m: Master,
  framework: FrameworkRecord,
  offerIds: readonly string[],
  operations: readonly Offer_Operation[],
  error: string,
): void {
  for (const id of offerIds) {
    const offer = m.offers.get(id);
    // Unlike Mesos we leave other frameworks' offers alone.
    if (offer !== undefined && offer.frameworkId === framework.id) discardOffer(m, offer);
    else if (offer === undefined)
      m.logger.warn(`Ignoring accept of offer ${id} since it is no longer valid`);
  }
  m.logger.warn(`ACCEPT call used invalid offers '[ ${offerIds.join(", ")} ]': ${error}`);
  const state = forFramework("TASK_DROPPED", framework.partitionAware) as "TASK_DROPPED";
  for (const operation of operations) {
    if (!isLaunch(operation)) {
      dropOperation(m, framework, operation, `Operation attempted with invalid offers: ${error}`);
      continue;
    }
    for (const task of tasksOf(operation)) {
      rejectTask(
        m,
        framework,
        task,
        state,
        "REASON_INVALID_OFFERS",
        `Task launched with invalid offers: ${error}`,
      );
    }
  }
}

/** Validates and launches one task; returns the resources it took. */
function launchTask(
  m: Master,
  framework: FrameworkRecord,
  agent: AgentRecord,
  task: TaskInfo,
  ctx: LaunchContext,
  available: Resources,
): Resources | undefined {
  const error = validateLaunchTask(task, ctx, available);
  if (error !== undefined) {
    rejectTask(m, framework, task, "TASK_ERROR", "REASON_TASK_INVALID", error);
    return undefined;
  }
  const used = resourcesOf(task.resources);
  let launchExecutor = true;
  const executor = task.executor;
  if (executor !== undefined) {
    launchExecutor = !agent.hasExecutor(framework.id, executor.executor_id.value);
    if (launchExecutor) {
      addExecutor(m, executor, framework, agent);
      used.add(resourcesOf(executor.resources));
    }
  }
  addTask(m, task, framework, agent);
  m.logger.info(
    `Launching task ${task.task_id.value} of framework ${framework.id} with resources ` +
      `${resourcesOf(task.resources).toString()} on agent ${agent.id} on ` +
      `${launchExecutor ? "new" : "existing"} executor`,
  );
  m.io.sendToAgent(agent.pid, "mesos.internal.RunTaskMessage", {
    framework: framework.info,
    task,
    launch_executor: launchExecutor,
    ...resourceVersions(agent),
  });
  return used;
}

/**
 * The agent's resource version as the master knows it, for a launch (as
 * Mesos): an agent that restarted since (a new version) drops the tasks
 * instead of running them on resources it may not have, e.g. a reservation
 * from an operation it never got.
 */
function resourceVersions(agent: AgentRecord) {
  const version = agent.resourceVersion;
  return version === undefined ? {} : { resource_version_uuids: [{ uuid: { value: version } }] };
}

/** Validates and launches a task group; returns the resources it took. */
function launchGroup(
  m: Master,
  framework: FrameworkRecord,
  agent: AgentRecord,
  operation: Offer_Operation,
  ctx: LaunchContext,
  available: Resources,
): Resources | undefined {
  const group = operation.launch_group;
  if (group === undefined) return undefined;
  const executor: ExecutorInfo = group.executor;
  const tasks = group.task_group.tasks ?? [];
  const error = validateTaskGroup(group.task_group, executor, ctx, available);
  if (error !== undefined) {
    for (const task of tasks) {
      rejectTask(m, framework, task, "TASK_ERROR", "REASON_TASK_GROUP_INVALID", error);
    }
    return undefined;
  }
  const used = Resources.empty();
  const launchExecutor = !agent.hasExecutor(framework.id, executor.executor_id.value);
  if (launchExecutor) {
    addExecutor(m, executor, framework, agent);
    used.add(resourcesOf(executor.resources));
  }
  for (const task of tasks) {
    addTask(m, task, framework, agent);
    used.add(resourcesOf(task.resources));
  }
  m.logger.info(
    `Launching task group { ${tasks.map((t) => t.task_id.value).join(", ")} } of framework ` +
      `${framework.id} on agent ${agent.id} on ${launchExecutor ? "new" : "existing"} executor`,
  );
  m.io.sendToAgent(agent.pid, "mesos.internal.RunTaskGroupMessage", {
    framework: framework.info,
    executor,
    task_group: group.task_group,
    launch_executor: launchExecutor,
    ...resourceVersions(agent),
  });
  return used;
}
