/**
 * Agents: registration and re-registration (through the registrar), health
 * checking by pings, broken connections, and removal (unregistered,
 * replaced, or unreachable), with what that means for their tasks, offers
 * and the allocator.
 */
import type {
  RegisterSlaveMessage,
  ReregisterSlaveMessage,
  SlaveInfo,
} from "../../common/protocol/generated/mesos-internal.js";
import type {
  ExecutorInfo,
  Resource,
  Task,
  TaskState,
  TaskStatus_Reason,
} from "../../common/protocol/generated/mesos-v1.js";
import type { MessageTypeMap } from "../../common/protocol/index.js";
import {
  type Resource as CoreResource,
  Resources,
  upgradeResource,
  validateResource,
} from "../../common/resources/index.js";
import { recoverFramework } from "./frameworks.js";
import type { Master } from "./master.js";
import { rescindOffer } from "./offers.js";
import { AgentRecord, frameworkRoles, isTerminalState } from "./records.js";
import { masterStatusUpdate } from "./status-updates.js";
import { removeExecutor, removeTask, updateTask } from "./tasks.js";

/** Agents older than this cannot register (Mesos' MINIMUM_AGENT_VERSION). */
const MINIMUM_AGENT_VERSION = [1, 0, 0] as const;

function parseVersion(text: string | undefined): number[] | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/.exec(text ?? "");
  return match === null ? undefined : [Number(match[1]), Number(match[2]), Number(match[3])];
}

function versionError(version: string | undefined): string | undefined {
  const parsed = parseVersion(version);
  if (parsed === undefined) return `cannot parse its version '${version ?? ""}'`;
  for (let i = 0; i < 3; i++) {
    const a = parsed[i] as number;
    const b = MINIMUM_AGENT_VERSION[i] as number;
    if (a > b) return undefined;
    if (a < b) {
      return `agent version is ${version}, minimum supported agent version is ${MINIMUM_AGENT_VERSION.join(".")}`;
    }
  }
  return undefined;
}

function upgradeAll(list: Resource[] | undefined): Resource[] {
  return (list ?? []).map((r) => upgradeResource(r as CoreResource) as Resource);
}

function validateAgentInfo(info: SlaveInfo, checkpointed: readonly Resource[]): string | undefined {
  if (info.hostname === "") return "agent hostname is empty";
  for (const r of [...(info.resources ?? []), ...checkpointed]) {
    const error = validateResource(r as CoreResource);
    if (error !== undefined) return error;
  }
  if (checkpointed.length > 0 && info.checkpoint !== true) {
    return "Checkpointed resources provided when checkpointing is not enabled";
  }
  return undefined;
}

function connection(
  m: Master,
): MessageTypeMap["mesos.internal.SlaveRegisteredMessage"]["connection"] {
  return {
    total_ping_timeout_seconds:
      (m.config.agentPingTimeoutMs * m.config.maxAgentPingTimeouts) / 1000,
  };
}

/** RegisterSlaveMessage: a new agent (or a retry of one already registered). */
export function registerAgent(m: Master, from: string, message: RegisterSlaveMessage): void {
  const checkpointed = message.checkpointed_resources ?? [];
  const invalid = validateAgentInfo(message.slave, checkpointed);
  if (invalid !== undefined) {
    m.logger.warn(
      `Dropping registration of agent at ${from} because it sent an invalid registration: ${invalid}`,
    );
    return;
  }
  if (m.registering.has(from)) {
    m.logger.info(
      `Ignoring register agent message from ${from} as registration is already in progress`,
    );
    return;
  }
  const tooOld = versionError(message.version);
  if (tooOld !== undefined) {
    m.logger.warn(`Ignoring registration attempt from agent at ${from}: ${tooOld}`);
    return;
  }
  m.logger.info(`Received register agent message from ${from} (${message.slave.hostname})`);
  const existing = m.agentByPid(from);
  if (existing?.connected === true) {
    m.logger.info(`Agent ${existing.id} already registered, resending acknowledgement`);
    m.io.sendToAgent(from, "mesos.internal.SlaveRegisteredMessage", {
      slave_id: { value: existing.id },
      connection: connection(m),
    });
    return;
  }
  if (existing !== undefined) {
    m.logger.info(
      `Removing old disconnected agent ${existing.id} because a registration attempt occurred`,
    );
    removeAgent(m, existing, "a new agent registered at the same address");
  }
  const id = m.ids.nextAgentId();
  const info: SlaveInfo = {
    ...message.slave,
    id: { value: id },
    resources: upgradeAll(message.slave.resources),
  };
  m.logger.info(`Registering agent at ${from} (${info.hostname}) with id ${id}`);
  m.registering.add(from);
  m.registrar.apply({ kind: "admit-agent", info }).then(
    (admitted) => {
      m.registering.delete(from);
      if (m.stopped) return;
      if (!admitted) {
        m.logger.warn(
          `Agent ${id} at ${from} was assigned an id already in the registry; ignoring`,
        );
        return;
      }
      const agent = new AgentRecord(
        id,
        info,
        from,
        message.version ?? "",
        message.agent_capabilities ?? [],
        m.clock.now(),
      );
      addAgent(m, agent, new Map());
      m.io.sendToAgent(from, "mesos.internal.SlaveRegisteredMessage", {
        slave_id: { value: id },
        connection: connection(m),
      });
      m.logger.info(
        `Registered agent ${id} at ${from} (${info.hostname}) with ${agent.totalResources.toString()}`,
      );
    },
    (error: unknown) => {
      m.registering.delete(from);
      m.logger.error(`Failed to admit agent ${id} at ${from}: ${String(error)}`);
    },
  );
}

/** Adds a registered agent: watch it, ping it, and give its resources to the allocator. */
function addAgent(m: Master, agent: AgentRecord, used: Map<string, Resources>): void {
  m.agents.set(agent.id, agent);
  m.unreachableAgents.delete(agent.id);
  m.io.linkAgent(agent.pid);
  m.allocator.addAgent(
    agent.id,
    {
      id: { value: agent.id },
      hostname: agent.info.hostname,
      attributes: agent.info.attributes ?? [],
      ...(agent.info.domain === undefined ? {} : { domain: agent.info.domain as never }),
    },
    agent.capabilities.map((c) => ({ type: c.type ?? "UNKNOWN" })),
    undefined,
    agent.totalResources,
    used,
  );
  ping(m, agent);
}

/** Sends a ping; after `--max_agent_ping_timeouts` unanswered ones the agent is unreachable. */
function ping(m: Master, agent: AgentRecord): void {
  agent.pingTimer = undefined;
  if (m.agents.get(agent.id) !== agent || m.stopped) return;
  if (agent.awaitingPong) {
    agent.missedPings++;
    if (agent.missedPings >= m.config.maxAgentPingTimeouts) {
      markUnreachable(m, agent, "health check timed out");
      return;
    }
  }
  agent.awaitingPong = true;
  m.io.sendToAgent(agent.pid, "mesos.internal.PingSlaveMessage", { connected: agent.connected });
  agent.pingTimer = m.clock.setTimer(m.config.agentPingTimeoutMs, () => ping(m, agent));
}

/** PongSlaveMessage from an agent. */
export function pong(m: Master, from: string): void {
  const agent = m.agentByPid(from);
  if (agent === undefined) return;
  agent.missedPings = 0;
  agent.awaitingPong = false;
}

/** Cancels an agent's ping and re-registration timers. */
export function stopAgentTimers(m: Master, agent: AgentRecord): void {
  if (agent.pingTimer !== undefined) m.clock.cancelTimer(agent.pingTimer);
  if (agent.reregistrationTimer !== undefined) m.clock.cancelTimer(agent.reregistrationTimer);
  agent.pingTimer = undefined;
  agent.reregistrationTimer = undefined;
}

/** ReregisterSlaveMessage: a known agent reconnecting, or one this master does not know. */
export function reregisterAgent(m: Master, from: string, message: ReregisterSlaveMessage): void {
  const id = message.slave.id?.value ?? "";
  if (id === "") {
    m.logger.warn(`Dropping re-registration of agent at ${from}: no agent id`);
    return;
  }
  if (m.reregistering.has(id)) {
    m.logger.info(
      `Ignoring reregister agent message from agent ${id} at ${from} as re-registration is already in progress`,
    );
    return;
  }
  const invalid = validateAgentInfo(message.slave, message.checkpointed_resources ?? []);
  if (invalid !== undefined) {
    m.logger.warn(
      `Dropping re-registration of agent at ${from} because it sent an invalid re-registration: ${invalid}`,
    );
    return;
  }
  const tooOld = versionError(message.version);
  if (tooOld !== undefined) {
    m.logger.warn(`Ignoring re-registration attempt from agent at ${from}: ${tooOld}`);
    return;
  }
  m.logger.info(
    `Received reregister agent message from agent ${id} at ${from} (${message.slave.hostname})`,
  );
  const info: SlaveInfo = { ...message.slave, resources: upgradeAll(message.slave.resources) };
  const known = m.agents.get(id);
  if (known !== undefined) {
    const newIp = from.slice(from.indexOf("@") + 1).replace(/:\d+$/, "");
    if (
      known.address().ip !== newIp.replace(/^\[|\]$/g, "") ||
      known.info.hostname !== info.hostname
    ) {
      m.logger.warn(
        `Agent ${id} at ${from} attempted to reregister with different IP / hostname; shutting it down`,
      );
      m.io.sendToAgent(from, "mesos.internal.ShutdownMessage", {
        message: "Agent attempted to reregister with different IP / hostname",
      });
      return;
    }
    reregisterKnownAgent(m, known, from, info, message);
    return;
  }
  m.reregistering.add(id);
  m.registrar.apply({ kind: "mark-agent-reachable", info }).then(
    () => {
      m.reregistering.delete(id);
      if (!m.stopped) readmitAgent(m, from, info, message);
    },
    (error: unknown) => {
      m.reregistering.delete(id);
      m.logger.error(`Failed to re-admit agent ${id} at ${from}: ${String(error)}`);
    },
  );
}

function reregisterKnownAgent(
  m: Master,
  agent: AgentRecord,
  from: string,
  info: SlaveInfo,
  message: ReregisterSlaveMessage,
): void {
  agent.pid = from;
  agent.info = { ...info, id: { value: agent.id } };
  agent.version = message.version ?? agent.version;
  agent.capabilities = message.agent_capabilities ?? agent.capabilities;
  agent.reregisteredTime = m.clock.now();
  agent.totalResources = Resources.from(agent.info.resources as CoreResource[]);
  m.io.linkAgent(from);
  // Tasks the master launched but the agent does not report: the agent settles them.
  const reported = new Set(
    (message.tasks ?? []).map((t) => `${t.framework_id.value}/${t.task_id.value}`),
  );
  const reconciliations: MessageTypeMap["mesos.internal.ReconcileTasksMessage"][] = [];
  for (const [frameworkId, tasks] of agent.tasks) {
    const statuses = [...tasks.values()]
      .filter((t) => !reported.has(`${frameworkId}/${t.task_id.value}`))
      .map((t) => ({
        task_id: t.task_id,
        agent_id: { value: agent.id },
        state: t.status_update_state ?? t.state,
        source: "SOURCE_MASTER" as const,
        message: "Reconciliation request",
        reason: "REASON_RECONCILIATION" as const,
        timestamp: m.nowSecs(),
      }));
    const framework = m.frameworks.get(frameworkId);
    if (statuses.length > 0 && framework !== undefined) {
      reconciliations.push({
        framework_id: { value: frameworkId },
        statuses,
        framework: framework.info,
      });
    }
  }
  m.io.sendToAgent(from, "mesos.internal.SlaveReregisteredMessage", {
    slave_id: { value: agent.id },
    connection: connection(m),
    ...(reconciliations.length > 0 ? { reconciliations } : {}),
  });
  const executorKeys = new Set(
    (message.executor_infos ?? []).map(
      (e) => `${e.framework_id?.value ?? ""}/${e.executor_id.value}`,
    ),
  );
  for (const [frameworkId, executors] of [...agent.executors]) {
    for (const executorId of [...executors.keys()]) {
      if (!executorKeys.has(`${frameworkId}/${executorId}`)) {
        removeExecutor(m, agent, frameworkId, executorId);
      }
    }
  }
  for (const task of message.tasks ?? []) {
    const key = `${task.framework_id.value}/${task.task_id.value}`;
    if (!isTerminalState(task.state) && agent.killedTasks.has(key)) {
      m.io.sendToAgent(from, "mesos.internal.KillTaskMessage", {
        framework_id: task.framework_id,
        task_id: task.task_id,
      });
    }
  }
  shutdownCompletedFrameworks(m, from, message);
  if (!agent.connected) {
    if (agent.reregistrationTimer !== undefined) m.clock.cancelTimer(agent.reregistrationTimer);
    agent.reregistrationTimer = undefined;
    agent.connected = true;
    agent.active = true;
    m.logger.info(`Reactivating re-registered agent ${agent.id}`);
    m.allocator.activateAgent(agent.id);
  }
  m.logger.info(`Agent ${agent.id} at ${from} (${agent.info.hostname}) re-registered`);
}

/** Tells an agent to shut down frameworks the master already removed. */
function shutdownCompletedFrameworks(
  m: Master,
  from: string,
  message: ReregisterSlaveMessage,
): void {
  const ids = new Set<string>();
  for (const f of message.frameworks ?? []) ids.add(f.id?.value ?? "");
  for (const t of message.tasks ?? []) ids.add(t.framework_id.value);
  for (const id of ids) {
    if (id !== "" && m.isCompletedFramework(id)) {
      m.logger.info(`Telling agent at ${from} to shut down completed framework ${id}`);
      m.io.sendToAgent(from, "mesos.internal.ShutdownFrameworkMessage", {
        framework_id: { value: id },
      });
    }
  }
}

/** Adds an agent this master did not know (after a master restart, or once unreachable). */
function readmitAgent(
  m: Master,
  from: string,
  info: SlaveInfo,
  message: ReregisterSlaveMessage,
): void {
  const id = info.id?.value as string;
  const wasUnreachable = m.unreachableAgents.has(id);
  const agent = new AgentRecord(
    id,
    info,
    from,
    message.version ?? "",
    message.agent_capabilities ?? [],
    m.clock.now(),
  );
  agent.reregisteredTime = agent.registeredTime;
  const frameworkInfos = new Map((message.frameworks ?? []).map((f) => [f.id?.value ?? "", f]));
  for (const [fid, finfo] of frameworkInfos) {
    if (fid !== "" && !m.isCompletedFramework(fid)) recoverFramework(m, finfo);
  }
  const used = new Map<string, Resources>();
  const charge = (frameworkId: string, list: Resource[] | undefined): void => {
    let total = used.get(frameworkId);
    if (total === undefined) {
      total = Resources.empty();
      used.set(frameworkId, total);
    }
    total.add(Resources.from((list ?? []) as CoreResource[]));
  };
  const withRole = (frameworkId: string, list: Resource[] | undefined): Resource[] => {
    const finfo = frameworkInfos.get(frameworkId);
    const roles = finfo === undefined ? [] : frameworkRoles(finfo);
    return upgradeAll(list).map((r) =>
      r.allocation_info === undefined && roles.length === 1
        ? { ...r, allocation_info: { role: roles[0] as string } }
        : r,
    );
  };
  for (const executor of message.executor_infos ?? []) {
    const fid = executor.framework_id?.value ?? "";
    if (!m.frameworks.has(fid)) continue;
    const readded: ExecutorInfo = { ...executor, resources: withRole(fid, executor.resources) };
    inner(agent.executors, fid).set(executor.executor_id.value, readded);
    inner(m.frameworks.get(fid)?.executors ?? new Map(), id).set(
      executor.executor_id.value,
      readded,
    );
    charge(fid, readded.resources);
  }
  for (const reported of message.tasks ?? []) {
    const fid = reported.framework_id.value;
    const framework = m.frameworks.get(fid);
    if (framework === undefined) continue;
    const task: Task = { ...reported, resources: withRole(fid, reported.resources) };
    framework.unreachableTasks.delete(task.task_id.value);
    const index = framework.completedTasks.findIndex((t) => t.task_id.value === task.task_id.value);
    if (index >= 0) framework.completedTasks.splice(index, 1);
    framework.tasks.set(task.task_id.value, task);
    inner(agent.tasks, fid).set(task.task_id.value, task);
    if (!isTerminalState(task.state)) charge(fid, task.resources);
    const update = masterStatusUpdate({
      frameworkId: fid,
      agentId: id,
      taskId: task.task_id.value,
      state: task.state,
      message: wasUnreachable ? "Unreachable agent re-reregistered" : "Unknown agent reregistered",
      reason: "REASON_AGENT_REREGISTERED",
      executorId: task.executor_id?.value,
      timestamp: m.nowSecs(),
    });
    if (framework.connected) m.forward(framework, update, false);
  }
  addAgent(m, agent, used);
  m.io.sendToAgent(from, "mesos.internal.SlaveReregisteredMessage", {
    slave_id: { value: id },
    connection: connection(m),
  });
  shutdownCompletedFrameworks(m, from, message);
  m.logger.info(`Re-admitted agent ${id} at ${from} (${info.hostname})`);
}

function inner<V>(map: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let found = map.get(key);
  if (found === undefined) {
    found = new Map();
    map.set(key, found);
  }
  return found;
}

/** UnregisterSlaveMessage: the agent is shutting down for good. */
export function unregisterAgent(m: Master, from: string, agentId: string): void {
  const agent = m.agents.get(agentId);
  if (agent === undefined) {
    m.logger.warn(`Ignoring unregister agent message from ${from} for unknown agent`);
    return;
  }
  if (agent.pid !== from) {
    m.logger.warn(
      `Ignoring unregister agent message from ${from} because it is not the agent ${agent.pid}`,
    );
    return;
  }
  removeAgent(m, agent, "the agent unregistered");
}

/** The connection to an agent broke: stop offering it, and wait for it to re-register. */
export function agentExited(m: Master, pid: string): void {
  const agent = m.agentByPid(pid);
  if (agent === undefined) return;
  if (!agent.connected) {
    m.logger.warn(`Ignoring duplicate exited() notification for agent ${agent.id}`);
    return;
  }
  m.logger.info(`Agent ${agent.id} at ${pid} (${agent.info.hostname}) disconnected`);
  agent.connected = false;
  deactivateAgent(m, agent);
  for (const frameworkId of new Set([...agent.tasks.keys(), ...agent.executors.keys()])) {
    const framework = m.frameworks.get(frameworkId);
    if (framework === undefined || framework.info.checkpoint === true) continue;
    m.logger.info(
      `Removing framework ${frameworkId} from disconnected agent ${agent.id} because the framework is not checkpointing`,
    );
    for (const task of [...(agent.tasks.get(frameworkId)?.values() ?? [])]) {
      loseTask(
        m,
        task,
        "TASK_LOST",
        "REASON_AGENT_DISCONNECTED",
        `Agent ${agent.info.hostname} disconnected`,
        false,
      );
    }
    for (const executorId of [...(agent.executors.get(frameworkId)?.keys() ?? [])]) {
      removeExecutor(m, agent, frameworkId, executorId);
    }
  }
  const timeoutMs = m.config.agentReregisterTimeoutMs;
  agent.reregistrationTimer = m.clock.setTimer(timeoutMs, () => {
    agent.reregistrationTimer = undefined;
    if (m.agents.get(agent.id) !== agent || agent.connected) return;
    markUnreachable(
      m,
      agent,
      `agent did not reregister within ${timeoutMs / 1000}secs after disconnecting`,
    );
  });
}

function deactivateAgent(m: Master, agent: AgentRecord): void {
  m.logger.info(`Deactivating agent ${agent.id}`);
  agent.active = false;
  m.allocator.deactivateAgent(agent.id);
  for (const offer of [...agent.offers]) rescindOffer(m, offer);
}

/** Ends a task because its agent went away, telling the framework if it listens. */
function loseTask(
  m: Master,
  task: Task,
  state: TaskState,
  reason: TaskStatus_Reason,
  message: string,
  unreachable: boolean,
  unreachableNs?: number,
): void {
  const update = masterStatusUpdate({
    frameworkId: task.framework_id.value,
    agentId: task.agent_id.value,
    taskId: task.task_id.value,
    state,
    message,
    reason,
    executorId: task.executor_id?.value,
    unreachableTime: unreachableNs === undefined ? undefined : { nanoseconds: unreachableNs },
    timestamp: m.nowSecs(),
  });
  updateTask(m, task, update);
  removeTask(m, task, unreachable);
  const framework = m.frameworks.get(task.framework_id.value);
  if (framework?.connected === true) m.forward(framework, update, false);
}

/** Removes an agent that left (unregistered or replaced): its tasks are lost. */
export function removeAgent(m: Master, agent: AgentRecord, cause: string): void {
  m.logger.info(`Removing agent ${agent.id} (${agent.info.hostname}): ${cause}`);
  forgetAgent(m, agent);
  m.registrar.apply({ kind: "remove-agent", info: agent.info }).catch((error: unknown) => {
    m.logger.error(`Failed to remove agent ${agent.id} from the registry: ${String(error)}`);
  });
  const message = `Agent ${agent.info.hostname} removed: ${cause}`;
  for (const tasks of [...agent.tasks.values()]) {
    for (const task of [...tasks.values()]) {
      loseTask(m, task, "TASK_LOST", "REASON_AGENT_REMOVED", message, false);
    }
  }
  finishRemoval(m, agent);
}

/** Marks an agent unreachable (health check or re-registration timeout). */
export function markUnreachable(m: Master, agent: AgentRecord, cause: string): void {
  if (m.agents.get(agent.id) !== agent) return;
  m.logger.info(`Marking agent ${agent.id} (${agent.info.hostname}) unreachable: ${cause}`);
  const ns = Math.round(m.clock.now() * 1e6);
  forgetAgent(m, agent);
  m.unreachableAgents.set(agent.id, ns);
  m.registrar
    .apply({ kind: "mark-agent-unreachable", info: agent.info, timeNs: ns })
    .catch((error: unknown) => {
      m.logger.error(
        `Failed to mark agent ${agent.id} unreachable in the registry: ${String(error)}`,
      );
    });
  for (const [frameworkId, tasks] of [...agent.tasks]) {
    const framework = m.frameworks.get(frameworkId);
    const partitionAware = framework?.partitionAware ?? false;
    for (const task of [...tasks.values()]) {
      loseTask(
        m,
        task,
        partitionAware ? "TASK_UNREACHABLE" : "TASK_LOST",
        "REASON_AGENT_REMOVED",
        cause,
        true,
        ns,
      );
    }
  }
  finishRemoval(m, agent);
}

/** Takes an agent out of the allocator and stops watching it (tasks still tracked). */
function forgetAgent(m: Master, agent: AgentRecord): void {
  stopAgentTimers(m, agent);
  m.allocator.removeAgent(agent.id);
}

/** After its tasks are dealt with: executors, offers, the agent itself, FAILURE to frameworks. */
function finishRemoval(m: Master, agent: AgentRecord): void {
  for (const [frameworkId, executors] of [...agent.executors]) {
    for (const executorId of [...executors.keys()])
      removeExecutor(m, agent, frameworkId, executorId);
  }
  for (const offer of [...agent.offers]) rescindOffer(m, offer);
  m.agents.delete(agent.id);
  for (const framework of m.frameworks.values()) {
    if (!framework.connected) continue;
    m.logger.info(
      `Notifying framework ${framework.id} of lost agent ${agent.id} (${agent.info.hostname})`,
    );
    m.sendEvent(framework, { type: "FAILURE", failure: { agent_id: { value: agent.id } } });
  }
}
