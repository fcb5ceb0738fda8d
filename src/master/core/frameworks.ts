/**
 * Frameworks: SUBSCRIBE (new, re-subscribing, or recovered from agents),
 * heartbeats, disconnection and failover timeout, UPDATE_FRAMEWORK,
 * TEARDOWN and removal to the completed list.
 */
import type { FrameworkInfo } from "../../common/protocol/generated/mesos-v1.js";
import type {
  Call_Subscribe,
  Call_UpdateFramework,
} from "../../common/protocol/generated/mesos-v1-scheduler.js";
import type {
  FrameworkInfo as AllocatorFrameworkInfo,
  FrameworkOptions,
} from "../allocator/index.js";
import { OfferConstraintsFilter } from "../allocator/offer-constraints.js";
import {
  validateFrameworkInfo,
  validateFrameworkUpdate,
  validateRoleSubset,
} from "../validation/framework.js";
import { DEFAULT_OFFER_CONSTRAINTS_REGEX_LIMITS } from "./config.js";
import type { SchedulerStream } from "./io.js";
import type { CallResult, Master } from "./master.js";
import { discardOffer, rescindOffer } from "./offers.js";
import { FrameworkRecord, frameworkRoles } from "./records.js";
import { masterStatusUpdate } from "./status-updates.js";
import { removeExecutor, removeTask, updateTask } from "./tasks.js";

/** The FrameworkInfo as the allocator types it (capability types always set). */
function forAllocator(info: FrameworkInfo): AllocatorFrameworkInfo {
  const { capabilities, ...rest } = info;
  return {
    ...(rest as AllocatorFrameworkInfo),
    capabilities: (capabilities ?? []).map((c) => ({ type: c.type ?? "UNKNOWN" })),
  };
}

function describe(info: FrameworkInfo): string {
  const caps = (info.capabilities ?? []).map((c) => c.type ?? "UNKNOWN").join(", ");
  return `with checkpointing ${info.checkpoint === true ? "enabled" : "disabled"} and capabilities [ ${caps} ]`;
}

/** Checks a FrameworkInfo against the master's flags (Mesos' validateFramework, less removal). */
function validateInfo(m: Master, info: FrameworkInfo): string | undefined {
  return validateFrameworkInfo(info, {
    roleWhitelist: m.config.roleWhitelist,
    rootSubmissions: m.config.rootSubmissions,
  });
}

/**
 * The allocator's options for the framework: its suppressed roles and its
 * offer constraints filter. Both name roles of the framework only, and the
 * constraints must be valid (Mesos' createAllocatorFrameworkOptions).
 */
function allocatorOptions(
  m: Master,
  info: FrameworkInfo,
  suppressedRoles: readonly string[],
  call: Call_Subscribe | Call_UpdateFramework,
): { ok: true; options: FrameworkOptions } | { ok: false; error: string } {
  const roles = frameworkRoles(info);
  const constraints = call.offer_constraints ?? {};
  const error =
    validateRoleSubset(roles, suppressedRoles, "suppressed") ??
    validateRoleSubset(roles, Object.keys(constraints.role_constraints ?? {}), "constraints");
  if (error !== undefined) return { ok: false, error };
  const filter = OfferConstraintsFilter.create(
    constraints,
    m.config.offerConstraintsRegexLimits ?? DEFAULT_OFFER_CONSTRAINTS_REGEX_LIMITS,
  );
  if (!filter.ok) return { ok: false, error: `Offer constraints are not valid: ${filter.error}` };
  return { ok: true, options: { suppressedRoles, offerConstraints: filter.filter } };
}

/**
 * Whether a principal may register a framework with the roles of `info`
 * (the `register_frameworks` ACLs): undefined when it may, else the refusal.
 */
export type RegistrationCheck = (info: FrameworkInfo) => string | undefined;

/** Handles SUBSCRIBE on a fresh event stream (authorized by `authorize` when given). */
export function subscribe(
  m: Master,
  stream: SchedulerStream,
  call: Call_Subscribe,
  authorize?: RegistrationCheck,
): void {
  const info = call.framework_info;
  const suppressed = call.suppressed_roles ?? [];
  m.logger.info(`Received subscription request for HTTP framework '${info.name}'`);
  const refuse = (reason: string): void => {
    m.logger.info(`Refusing subscription of framework '${info.name}': ${reason}`);
    stream.send({ type: "ERROR", error: { message: reason } });
    stream.close();
  };
  const id = info.id?.value ?? "";
  // Same order as Mesos: the info, removal, suppressed roles and constraints, authorization.
  const options = allocatorOptions(m, info, suppressed, call);
  const invalid =
    validateInfo(m, info) ??
    (id !== "" && m.isCompletedFramework(id) ? "Framework has been removed" : undefined) ??
    (options.ok ? undefined : options.error) ??
    authorize?.(info);
  if (invalid !== undefined || !options.ok) {
    refuse(invalid ?? "");
    return;
  }
  m.logger.info(`Subscribing framework '${info.name}' ${describe(info)}`);

  if (id === "") {
    const newId = m.ids.nextFrameworkId();
    const framework = new FrameworkRecord(
      newId,
      { ...info, id: { value: newId } },
      "connected",
      m.clock.now(),
    );
    framework.suppressedRoles = new Set(suppressed);
    framework.offerConstraints = call.offer_constraints ?? {};
    framework.stream = stream;
    framework.active = true;
    m.frameworks.set(newId, framework);
    m.logger.info(
      `Adding framework ${newId} (${info.name}) with roles { ${frameworkRoles(framework.info).join(", ")} }`,
    );
    m.allocator.addFramework(newId, forAllocator(framework.info), new Map(), true, options.options);
    sendSubscribed(m, framework);
    m.events.frameworkAdded(framework);
    return;
  }

  let framework = m.frameworks.get(id);
  if (framework === undefined) {
    // Unknown to us (a master restart): start over from what the scheduler says.
    framework = new FrameworkRecord(id, info, "recovered", m.clock.now());
    m.frameworks.set(id, framework);
    m.allocator.addFramework(id, forAllocator(info), new Map(), false, {});
    m.events.frameworkAdded(framework);
  }
  const merged: FrameworkInfo = {
    ...info,
    user: framework.info.user,
    checkpoint: framework.info.checkpoint ?? false,
  };
  if (info.user !== framework.info.user || (info.checkpoint ?? false) !== merged.checkpoint) {
    m.logger.warn(`Framework ${id} may not change 'user' or 'checkpoint'; keeping the old values`);
  }
  const updateError = validateFrameworkUpdate(framework.info, merged);
  if (updateError !== undefined) {
    refuse(updateError);
    return;
  }

  applyFrameworkUpdate(m, framework, merged, options.options, call);
  const wasRecovered = framework.connection === "recovered";
  framework.reregisteredTime = m.clock.now();
  if (wasRecovered) framework.registeredTime = framework.reregisteredTime;
  failover(m, framework, stream);
  sendFrameworkUpdate(m, framework);
}

/** Attaches a new stream to a known framework, replacing (and ending) the old one. */
function failover(m: Master, framework: FrameworkRecord, stream: SchedulerStream): void {
  const old = framework.stream;
  if (old !== undefined && framework.connected) {
    m.logger.info(`Framework ${framework.id} failed over`);
    framework.stream = undefined;
    old.send({ type: "ERROR", error: { message: "Framework failed over" } });
    old.close();
  }
  stopFrameworkTimers(m, framework);
  // Offers made to the old connection may have been answered into the void.
  for (const offer of [...framework.offers.values()]) discardOffer(m, offer);
  framework.stream = stream;
  framework.connection = "connected";
  if (!framework.active) {
    framework.active = true;
    m.allocator.activateFramework(framework.id);
  }
  sendSubscribed(m, framework);
}

function sendSubscribed(m: Master, framework: FrameworkRecord): void {
  m.sendEvent(framework, {
    type: "SUBSCRIBED",
    subscribed: {
      framework_id: { value: framework.id },
      heartbeat_interval_seconds: m.config.heartbeatIntervalMs / 1000,
      master_info: m.config.info,
    },
  });
  heartbeat(m, framework);
}

/** Sends a HEARTBEAT now and schedules the next one. */
function heartbeat(m: Master, framework: FrameworkRecord): void {
  framework.heartbeatTimer = undefined;
  if (!framework.connected || framework.stream === undefined) return;
  m.logger.verbose(2, `Sending heartbeat to framework ${framework.id}`);
  m.sendEvent(framework, { type: "HEARTBEAT" });
  framework.heartbeatTimer = m.clock.setTimer(m.config.heartbeatIntervalMs, () =>
    heartbeat(m, framework),
  );
}

/** Cancels the heartbeat and failover timers of a framework. */
export function stopFrameworkTimers(m: Master, framework: FrameworkRecord): void {
  if (framework.heartbeatTimer !== undefined) m.clock.cancelTimer(framework.heartbeatTimer);
  if (framework.failoverTimer !== undefined) m.clock.cancelTimer(framework.failoverTimer);
  framework.heartbeatTimer = undefined;
  framework.failoverTimer = undefined;
}

/** Stores a new FrameworkInfo and tells the allocator; offers for dropped roles are rescinded. */
function applyFrameworkUpdate(
  m: Master,
  framework: FrameworkRecord,
  info: FrameworkInfo,
  options: FrameworkOptions,
  call: Call_Subscribe | Call_UpdateFramework,
): void {
  const withId: FrameworkInfo = { ...info, id: { value: framework.id } };
  m.allocator.updateFramework(framework.id, forAllocator(withId), options);
  const roles = new Set(frameworkRoles(withId));
  for (const offer of [...framework.offers.values()]) {
    if (!roles.has(offer.role)) rescindOffer(m, offer);
  }
  framework.info = withId;
  framework.suppressedRoles = new Set(options.suppressedRoles);
  framework.offerConstraints = call.offer_constraints ?? {};
}

/** Tells operators and every agent the framework's current FrameworkInfo. */
function sendFrameworkUpdate(m: Master, framework: FrameworkRecord): void {
  m.events.frameworkUpdated(framework);
  for (const agent of m.agents.values()) {
    m.io.sendToAgent(agent.pid, "mesos.internal.UpdateFrameworkMessage", {
      framework_id: { value: framework.id },
      framework_info: framework.info,
    });
  }
}

/** UPDATE_FRAMEWORK: 200 on success, 400 with the reason otherwise, 403 when not authorized. */
export function updateFrameworkCall(
  m: Master,
  framework: FrameworkRecord,
  call: Call_UpdateFramework,
  authorize?: RegistrationCheck,
): CallResult {
  m.logger.info(`Processing UPDATE_FRAMEWORK call for framework ${framework.id}`);
  const info = call.framework_info;
  const suppressed = call.suppressed_roles ?? [];
  const invalid =
    validateInfo(m, info) ??
    (m.isCompletedFramework(info.id?.value ?? "") ? "Framework has been removed" : undefined);
  if (invalid !== undefined) {
    return { status: 400, message: `Supplied FrameworkInfo is not valid: ${invalid}` };
  }
  const updateError = validateFrameworkUpdate(framework.info, info);
  if (updateError !== undefined) {
    return { status: 400, message: `FrameworkInfo update is not valid: ${updateError}` };
  }
  const options = allocatorOptions(m, info, suppressed, call);
  if (!options.ok) {
    return { status: 400, message: `'UpdateFramework' call is not valid: ${options.error}` };
  }
  const denied = authorize?.(info);
  if (denied !== undefined) return { status: 403, message: denied };
  applyFrameworkUpdate(m, framework, info, options.options, call);
  sendFrameworkUpdate(m, framework);
  return { status: 200, message: "" };
}

/** The scheduler's event stream ended (client went away, or we closed it). */
export function schedulerStreamClosed(m: Master, stream: SchedulerStream): void {
  for (const framework of m.frameworks.values()) {
    if (framework.stream !== stream) continue;
    m.logger.info(`Framework ${framework.id} (${framework.info.name}) disconnected`);
    disconnect(m, framework);
    const timeoutSecs = framework.info.failover_timeout ?? 0;
    m.logger.info(`Giving framework ${framework.id} ${timeoutSecs}secs to failover`);
    const reregisteredAt = framework.reregisteredTime;
    framework.failoverTimer = m.clock.setTimer(timeoutSecs * 1000, () => {
      framework.failoverTimer = undefined;
      if (m.frameworks.get(framework.id) !== framework || framework.connected) return;
      if (framework.reregisteredTime !== reregisteredAt) return;
      m.logger.info(`Framework failover timeout, removing framework ${framework.id}`);
      removeFramework(m, framework);
    });
    return;
  }
}

/** Marks a framework disconnected: no offers, no heartbeats, its offers rescinded. */
function disconnect(m: Master, framework: FrameworkRecord): void {
  if (framework.active) deactivate(m, framework, true);
  stopFrameworkTimers(m, framework);
  const stream = framework.stream;
  framework.stream = undefined;
  framework.connection = "disconnected";
  if (stream !== undefined && !stream.closed) stream.close();
}

/** Stops offers to a framework and takes back its outstanding offers. */
export function deactivate(m: Master, framework: FrameworkRecord, rescind: boolean): void {
  m.logger.info(`Deactivating framework ${framework.id}`);
  framework.active = false;
  m.allocator.deactivateFramework(framework.id);
  for (const offer of [...framework.offers.values()]) {
    if (rescind) rescindOffer(m, offer);
    else discardOffer(m, offer);
  }
}

/**
 * Removes a framework (TEARDOWN or failover timeout): agents shut it down,
 * its tasks become TASK_KILLED with REASON_FRAMEWORK_REMOVED, and it moves
 * to the completed frameworks.
 */
export function removeFramework(m: Master, framework: FrameworkRecord): void {
  m.logger.info(`Removing framework ${framework.id} (${framework.info.name})`);
  if (framework.active) deactivate(m, framework, false);
  for (const agent of m.agents.values()) {
    m.io.sendToAgent(agent.pid, "mesos.internal.ShutdownFrameworkMessage", {
      framework_id: { value: framework.id },
    });
  }
  const message = `Framework ${framework.id} removed`;
  for (const task of [...framework.tasks.values()]) {
    const update = masterStatusUpdate({
      frameworkId: framework.id,
      agentId: task.agent_id.value,
      taskId: task.task_id.value,
      state: "TASK_KILLED",
      message,
      reason: "REASON_FRAMEWORK_REMOVED",
      executorId: task.executor_id?.value,
      timestamp: m.nowSecs(),
    });
    updateTask(m, task, update);
    removeTask(m, task, false);
  }
  for (const task of [...framework.unreachableTasks.values()]) {
    task.state = "TASK_KILLED";
    m.events.taskChanged(task);
    framework.unreachableTasks.delete(task.task_id.value);
    addCompletedTask(m, framework, task);
  }
  for (const [agentId, executors] of [...framework.executors]) {
    const agent = m.agents.get(agentId);
    for (const executorId of [...executors.keys()]) {
      if (agent !== undefined) removeExecutor(m, agent, framework.id, executorId);
    }
  }
  stopFrameworkTimers(m, framework);
  const stream = framework.stream;
  framework.stream = undefined;
  framework.connection = "disconnected";
  framework.unregisteredTime = m.clock.now();
  stream?.close();
  m.frameworks.delete(framework.id);
  m.allocator.removeFramework(framework.id);
  m.completedFrameworks.push(framework);
  while (m.completedFrameworks.length > m.config.maxCompletedFrameworks) {
    m.completedFrameworks.shift();
  }
  m.events.frameworkRemoved(framework);
}

/** Keeps a finished task, dropping the oldest beyond `--max_completed_tasks_per_framework`. */
export function addCompletedTask(
  m: Master,
  framework: FrameworkRecord,
  task: FrameworkRecord["completedTasks"][number],
): void {
  framework.completedTasks.push(task);
  while (framework.completedTasks.length > m.config.maxCompletedTasksPerFramework) {
    framework.completedTasks.shift();
  }
}

/**
 * A framework an agent reports but that has not subscribed to this master
 * (after a master restart): known, not connected, not active.
 */
export function recoverFramework(m: Master, info: FrameworkInfo): FrameworkRecord {
  const id = info.id?.value ?? "";
  const existing = m.frameworks.get(id);
  if (existing !== undefined) return existing;
  const framework = new FrameworkRecord(id, info, "recovered", m.clock.now());
  m.frameworks.set(id, framework);
  m.logger.info(`Recovered framework ${id} (${info.name}) from an agent`);
  m.allocator.addFramework(id, forAllocator(info), new Map(), false, {});
  m.events.frameworkAdded(framework);
  return framework;
}
