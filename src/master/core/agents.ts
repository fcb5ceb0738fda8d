/**
 * Agents joining: registration and re-registration through the registrar,
 * for new agents, reconnecting ones and ones this master does not know. Their
 * health and departure are in agent-health.ts.
 */
import type {
  RegisterSlaveMessage,
  ReregisterSlaveMessage,
  SlaveInfo,
} from "../../common/protocol/generated/mesos-internal.js";
import type { ExecutorInfo, Resource, Task } from "../../common/protocol/generated/mesos-v1.js";
import type { MessageTypeMap } from "../../common/protocol/index.js";
import { isTerminalState } from "../../common/protocol/task-states.js";
import {
  type Resource as CoreResource,
  Resources,
  upgradeResource,
  validateResource,
} from "../../common/resources/index.js";
import { formatDomain } from "../fault-domain.js";
import { agentTransitionInProgress, ping, removeAgent } from "./agent-health.js";
import { addCompletedTask, recoverFramework } from "./frameworks.js";
import type { Master } from "./master.js";
import type { AgentJoin } from "./observer.js";
import { agentReregistered } from "./operation-tracking.js";
import { AgentRecord, frameworkRoles } from "./records.js";
import { masterStatusUpdate } from "./status-updates.js";
import { removeExecutor } from "./tasks.js";

/**
 * Why an agent's (re-)registration is ignored for its domain, if it is: an
 * agent with a domain when this master has none (the master cannot tell
 * whether it is remote), or one without a domain under
 * `--require_agent_domain`. Mesos ignores the attempt without shutting the
 * agent down, so its tasks keep running and it keeps retrying.
 */
export function agentDomainRefusal(
  m: Master,
  from: string,
  slave: SlaveInfo,
  attempt: "registration" | "re-registration",
): string | undefined {
  const verb = attempt === "registration" ? "register" : "re-register";
  if (slave.domain !== undefined && m.config.info.domain === undefined) {
    return (
      `Agent at ${from} is configured with domain ${formatDomain(slave.domain)} but the master ` +
      `has no configured domain. Ignoring agent ${attempt} attempt`
    );
  }
  if (m.config.requireAgentDomain === true && slave.domain === undefined) {
    return (
      `Agent at ${from} attempted to ${verb} without a domain, but --require_agent_domain ` +
      `is set. Ignoring agent ${attempt} attempt`
    );
  }
  return undefined;
}

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
  const domainRefusal = agentDomainRefusal(m, from, message.slave, "registration");
  if (domainRefusal !== undefined) {
    m.logger.warn(domainRefusal);
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
    void removeAgent(m, existing, "a new agent registered at the same address", "replaced");
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
      agent.resourceVersion = message.resource_version_uuid?.value;
      addAgent(m, agent, new Map(), "registered");
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

/** The agent as the allocator knows it. */
function allocatorInfo(agent: AgentRecord) {
  return {
    id: { value: agent.id },
    hostname: agent.info.hostname,
    attributes: agent.info.attributes ?? [],
    ...(agent.info.domain === undefined ? {} : { domain: agent.info.domain as never }),
  };
}

function allocatorCapabilities(agent: AgentRecord) {
  return agent.capabilities.map((c) => ({ type: c.type ?? "UNKNOWN" }));
}

/** Adds a registered agent: watch it, ping it, and give its resources to the allocator. */
function addAgent(
  m: Master,
  agent: AgentRecord,
  used: Map<string, Resources>,
  how: AgentJoin,
): void {
  m.agents.set(agent.id, agent);
  m.unreachableAgents.delete(agent.id);
  m.io.linkAgent(agent.pid);
  m.allocator.addAgent(
    agent.id,
    allocatorInfo(agent),
    allocatorCapabilities(agent),
    undefined,
    agent.totalResources,
    used,
  );
  // Deactivated by an operator (or draining) before a master restart or while unreachable.
  if (m.deactivatedAgents.has(agent.id)) {
    agent.active = false;
    m.allocator.deactivateAgent(agent.id);
  }
  ping(m, agent);
  m.events.agentAdded(agent, how);
}

/** ReregisterSlaveMessage: a known agent reconnecting, or one this master does not know. */
export function reregisterAgent(m: Master, from: string, message: ReregisterSlaveMessage): void {
  const id = message.slave.id?.value ?? "";
  if (id === "") {
    m.logger.warn(`Dropping re-registration of agent at ${from}: no agent id`);
    return;
  }
  if (m.goneAgents.has(id)) {
    m.logger.warn(`Agent ${id} at ${from} was marked gone; shutting it down`);
    m.io.sendToAgent(from, "mesos.internal.ShutdownMessage", {
      message: "Agent has been marked gone",
    });
    return;
  }
  const domainRefusal = agentDomainRefusal(m, from, message.slave, "re-registration");
  if (domainRefusal !== undefined) {
    m.logger.warn(domainRefusal);
    return;
  }
  if (m.reregistering.has(id)) {
    m.logger.info(
      `Ignoring reregister agent message from agent ${id} at ${from} as re-registration is already in progress`,
    );
    return;
  }
  if (m.markingUnreachable.has(id)) {
    m.logger.info(
      `Ignoring reregister agent message from agent ${id} at ${from} as a mark unreachable operation is already in progress`,
    );
    return;
  }
  const transition = agentTransitionInProgress(m, id);
  if (transition !== undefined) {
    m.logger.info(
      `Ignoring reregister agent message from agent ${id} at ${from} as a ${transition === "gone" ? "gone" : "remove"} operation is already in progress`,
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
  const recovered = m.recoveredAgents.get(id);
  // An agent the registry admitted needs no write unless its info changed;
  // any other (unreachable, or pruned from the registry) is re-admitted.
  const write: Promise<boolean> =
    recovered === undefined
      ? m.registrar.apply({ kind: "mark-agent-reachable", info })
      : sameAgentInfo(recovered, info)
        ? Promise.resolve(true)
        : m.registrar.apply({ kind: "update-agent", info });
  m.reregistering.add(id);
  write.then(
    () => {
      m.reregistering.delete(id);
      if (m.stopped) return;
      if (m.goneAgents.has(id)) {
        m.logger.warn(`Refusing re-registration of agent ${id} at ${from}: it was marked gone`);
        m.io.sendToAgent(from, "mesos.internal.ShutdownMessage", {
          message: "Agent has been marked gone",
        });
        return;
      }
      readmitAgent(m, from, info, message, recovered !== undefined);
    },
    (error: unknown) => {
      m.reregistering.delete(id);
      m.fatal(`Failed to update the registry for agent ${id} at ${from}: ${String(error)}`);
    },
  );
}

/** Whether two agent infos are the same (JSON of the decoded messages). */
function sameAgentInfo(a: SlaveInfo, b: SlaveInfo): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
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
  const hadFeedback = agent.hasCapability("AGENT_OPERATION_FEEDBACK");
  agent.capabilities = message.agent_capabilities ?? agent.capabilities;
  agentReregistered(m, agent, hadFeedback, message.resource_version_uuid?.value);
  agent.reregisteredTime = m.clock.now();
  agent.totalResources = Resources.from(agent.info.resources as CoreResource[]);
  // What the agent reports wins in the allocator too, as Mesos' updateSlave
  // after a re-registration: an operation the master applied speculatively
  // but the agent never took (it restarted meanwhile) leaves neither view.
  m.allocator.updateAgent(
    agent.id,
    allocatorInfo(agent),
    agent.totalResources,
    allocatorCapabilities(agent),
  );
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
    // An agent an operator deactivated stays so until reactivated.
    if (!m.deactivatedAgents.has(agent.id)) {
      agent.active = true;
      m.logger.info(`Reactivating re-registered agent ${agent.id}`);
      m.allocator.activateAgent(agent.id);
    }
  }
  m.events.agentReregistered(agent);
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

/**
 * Adds an agent this master has no record of: one recovered from the
 * registry after a master restart (`recovered`), or one that was unreachable
 * (a healed partition) or unknown. Its tasks are re-added for every framework
 * that is not completed; tasks of completed frameworks are shut down. For a
 * healed partition, frameworks hear each task's state again at once
 * (REASON_AGENT_REREGISTERED); after a failover they reconcile.
 */
function readmitAgent(
  m: Master,
  from: string,
  info: SlaveInfo,
  message: ReregisterSlaveMessage,
  recovered: boolean,
): void {
  const id = info.id?.value as string;
  const wasUnreachable = m.unreachableAgents.has(id);
  m.recoveredAgents.delete(id);
  const agent = new AgentRecord(
    id,
    info,
    from,
    message.version ?? "",
    message.agent_capabilities ?? [],
    m.clock.now(),
  );
  agent.reregisteredTime = agent.registeredTime;
  // Its operations come in the UpdateSlaveMessage that follows.
  agent.resourceVersion = message.resource_version_uuid?.value;
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
    m.events.taskAdded(task);
    if (!isTerminalState(task.state)) charge(fid, task.resources);
    if (recovered) continue;
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
  // Tasks the agent no longer reports are not unreachable any more either.
  for (const framework of wasUnreachable ? m.frameworks.values() : []) {
    for (const [taskId, task] of framework.unreachableTasks) {
      if (task.agent_id.value === id) framework.unreachableTasks.delete(taskId);
    }
  }
  addAgent(m, agent, used, "readmitted");
  readdCompletedTasks(m, id, message);
  m.io.sendToAgent(from, "mesos.internal.SlaveReregisteredMessage", {
    slave_id: { value: id },
    connection: connection(m),
  });
  shutdownCompletedFrameworks(m, from, message);
  m.logger.info(`Re-admitted agent ${id} at ${from} (${info.hostname})`);
}

/**
 * The finished tasks of frameworks that left a readmitted agent (its
 * `completed_frameworks`) become completed tasks of their framework again,
 * so that they outlive a master failover as in Mesos' addSlave. Only a
 * framework this master knows takes them (subscribed again, or recovered
 * from an agent running its tasks); for any other the tasks are dropped, as
 * Mesos does, since the master keeps no framework it has not heard of. A
 * task already listed (the same task on the same agent, e.g. after a healed
 * partition) is not listed twice.
 */
function readdCompletedTasks(m: Master, agentId: string, message: ReregisterSlaveMessage): void {
  for (const completed of message.completed_frameworks ?? []) {
    const frameworkId = completed.framework_info.id?.value ?? "";
    const framework = m.frameworks.get(frameworkId);
    for (const task of completed.tasks ?? []) {
      if (framework === undefined) {
        m.logger.warn(
          `Possibly orphaned completed task ${task.task_id.value} of framework ${frameworkId} that ran on agent ${agentId}`,
        );
        continue;
      }
      const listed = framework.completedTasks.some(
        (t) => t.task_id.value === task.task_id.value && t.agent_id.value === task.agent_id.value,
      );
      if (listed) continue;
      m.logger.verbose(
        2,
        `Re-adding completed task ${task.task_id.value} of framework ${frameworkId} that ran on agent ${agentId}`,
      );
      addCompletedTask(m, framework, task);
    }
  }
}

function inner<V>(map: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let found = map.get(key);
  if (found === undefined) {
    found = new Map();
    map.set(key, found);
  }
  return found;
}
