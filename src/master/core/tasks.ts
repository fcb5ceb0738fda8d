/**
 * Tasks and executors: bookkeeping of launched tasks, status updates from
 * agents (forwarded as UPDATE events, terminal ones freeing resources at
 * once), ACKNOWLEDGE, KILL, RECONCILE, executor exits and the messages
 * between schedulers and executors.
 */

import { LogSite } from "../../common/observability/logger.js";
import type {
  ExecutorToFrameworkMessage,
  ExitedExecutorMessage,
  StatusUpdate,
  StatusUpdateMessage,
} from "../../common/protocol/generated/mesos-internal.js";
import type {
  ExecutorInfo,
  Resource,
  Task,
  TaskInfo,
  TaskState,
} from "../../common/protocol/generated/mesos-v1.js";
import type {
  Call_Acknowledge,
  Call_Kill,
  Call_Message,
  Call_Shutdown,
} from "../../common/protocol/generated/mesos-v1-scheduler.js";
import { isTerminalState } from "../../common/protocol/task-states.js";
import { type Resource as CoreResource, Resources } from "../../common/resources/index.js";
import { addCompletedTask } from "./frameworks.js";
import type { Master } from "./master.js";
import { reconcileTasks } from "./reconciliation.js";
import type { AgentRecord, FrameworkRecord } from "./records.js";

const SITE_UPDATING = new LogSite();
const SITE_STATUS = new LogSite();
const SITE_ACK = new LogSite();

function resourcesOf(list: readonly Resource[] | undefined): Resources {
  return Resources.from((list ?? []) as CoreResource[]);
}

function nested<V>(map: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let inner = map.get(key);
  if (inner === undefined) {
    inner = new Map();
    map.set(key, inner);
  }
  return inner;
}

/** Starts tracking a launched task in TASK_STAGING. */
export function addTask(
  m: Master,
  info: TaskInfo,
  framework: FrameworkRecord,
  agent: AgentRecord,
): Task {
  const task: Task = {
    name: info.name,
    task_id: info.task_id,
    framework_id: { value: framework.id },
    agent_id: { value: agent.id },
    state: "TASK_STAGING",
    resources: info.resources ?? [],
    statuses: [],
  };
  if (info.executor !== undefined) task.executor_id = info.executor.executor_id;
  if (info.labels !== undefined) task.labels = info.labels;
  if (info.discovery !== undefined) task.discovery = info.discovery;
  if (info.container !== undefined) task.container = info.container;
  if (info.health_check !== undefined) task.health_check = info.health_check;
  if (info.kill_policy !== undefined) task.kill_policy = info.kill_policy;
  if (info.limits !== undefined && Object.keys(info.limits).length > 0) task.limits = info.limits;
  const user = info.command?.user ?? info.executor?.command?.user;
  if (user !== undefined) task.user = user;
  framework.tasks.set(info.task_id.value, task);
  nested(agent.tasks, framework.id).set(info.task_id.value, task);
  m.events.taskAdded(task);
  return task;
}

/** Starts tracking an executor the master asked an agent to launch. */
export function addExecutor(
  m: Master,
  executor: ExecutorInfo,
  framework: FrameworkRecord,
  agent: AgentRecord,
): void {
  m.logger.verbose(1, `Adding executor ${executor.executor_id.value} of framework ${framework.id}`);
  nested(agent.executors, framework.id).set(executor.executor_id.value, executor);
  nested(framework.executors, agent.id).set(executor.executor_id.value, executor);
}

/** Stops tracking an executor; its resources go back to the allocator. */
export function removeExecutor(
  m: Master,
  agent: AgentRecord,
  frameworkId: string,
  executorId: string,
): void {
  const executor = agent.executors.get(frameworkId)?.get(executorId);
  if (executor === undefined) return;
  m.logger.info(
    `Removing executor '${executorId}' of framework ${frameworkId} on agent ${agent.id}`,
  );
  m.allocator.recoverResources(
    frameworkId,
    agent.id,
    resourcesOf(executor.resources),
    undefined,
    true,
  );
  agent.executors.get(frameworkId)?.delete(executorId);
  if (agent.executors.get(frameworkId)?.size === 0) agent.executors.delete(frameworkId);
  const framework = m.frameworks.get(frameworkId);
  framework?.executors.get(agent.id)?.delete(executorId);
  if (framework?.executors.get(agent.id)?.size === 0) framework.executors.delete(agent.id);
}

function terminalOrUnreachable(state: TaskState): boolean {
  return isTerminalState(state) || state === "TASK_UNREACHABLE";
}

/**
 * Applies an update to a task: its state, its status history, and, on the
 * transition to a terminal (or unreachable) state, its resources go back to
 * the allocator right away.
 */
export function updateTask(m: Master, task: Task, update: StatusUpdate): void {
  const status = update.status;
  const newState = update.latest_state ?? status.state;
  const freed = !terminalOrUnreachable(task.state) && terminalOrUnreachable(newState);
  const previous = task.state;
  if (!isTerminalState(task.state)) task.state = newState;
  const statuses = task.statuses ?? [];
  const last = statuses[statuses.length - 1];
  // Operators hear of every new status state, and of every check result (as Mesos).
  let notify =
    status.reason === "REASON_TASK_CHECK_STATUS_UPDATED" ||
    status.reason === "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED";
  if (last !== undefined && last.state === status.state) statuses.pop();
  else notify = true;
  const kept = Object.assign({}, status);
  // Schedulers may stuff anything into `data`; the master does not keep it.
  delete kept.data;
  statuses.push(kept);
  task.statuses = statuses;
  m.events.taskUpdated(task, kept, previous, notify);
  m.logger.info(
    `Updating the state of task ${task.task_id.value} of framework ${task.framework_id.value} ` +
      `(latest state: ${task.state}, status update state: ${status.state})`,
    SITE_UPDATING,
  );
  if (freed) {
    m.allocator.recoverResources(
      task.framework_id.value,
      task.agent_id.value,
      resourcesOf(task.resources),
      undefined,
      true,
    );
  }
}

/**
 * Stops tracking a task: into the framework's completed tasks, or its
 * unreachable tasks when the agent was marked unreachable.
 */
export function removeTask(m: Master, task: Task, unreachable: boolean): void {
  const frameworkId = task.framework_id.value;
  const agentId = task.agent_id.value;
  const taskId = task.task_id.value;
  if (!terminalOrUnreachable(task.state)) {
    m.logger.warn(
      `Removing task ${taskId} of framework ${frameworkId} in non-terminal state ${task.state}`,
    );
    m.allocator.recoverResources(
      frameworkId,
      agentId,
      resourcesOf(task.resources),
      undefined,
      true,
    );
  } else {
    m.logger.info(`Removing task ${taskId} of framework ${frameworkId} on agent ${agentId}`);
  }
  const agent = m.agents.get(agentId);
  if (agent !== undefined) {
    agent.tasks.get(frameworkId)?.delete(taskId);
    if (agent.tasks.get(frameworkId)?.size === 0) agent.tasks.delete(frameworkId);
    agent.killedTasks.delete(`${frameworkId}/${taskId}`);
  }
  const framework = m.frameworks.get(frameworkId);
  if (framework === undefined) return;
  framework.tasks.delete(taskId);
  if (unreachable) {
    framework.unreachableTasks.set(taskId, task);
    while (framework.unreachableTasks.size > m.config.maxUnreachableTasksPerFramework) {
      const oldest = framework.unreachableTasks.keys().next().value as string;
      framework.unreachableTasks.delete(oldest);
    }
  } else {
    addCompletedTask(m, framework, task);
  }
}

/** A StatusUpdateMessage from an agent. */
export function statusUpdate(m: Master, message: StatusUpdateMessage): void {
  const update = message.update;
  const agentId = update.slave_id?.value ?? "";
  const taskId = update.status.task_id.value;
  const agent = m.agents.get(agentId);
  if (agent === undefined) {
    m.logger.warn(`Ignoring status update for task ${taskId} from unknown agent ${agentId}`);
    m.events.statusUpdateReceived(false, "unknown-agent");
    return;
  }
  if (update.uuid === undefined || update.uuid.length !== 16) {
    m.logger.warn(`Ignoring status update for task ${taskId} from agent ${agentId}: invalid uuid`);
    m.events.statusUpdateReceived(false, "bad-uuid");
    return;
  }
  m.logger.info(
    `Status update ${update.status.state} for task ${taskId} of framework ` +
      `${update.framework_id.value} from agent ${agentId}`,
    SITE_STATUS,
  );
  const framework = m.frameworks.get(update.framework_id.value);
  if (framework?.connected === true) {
    m.forward(framework, update, true);
  } else {
    m.logger.warn(
      `Received status update for task ${taskId} for ` +
        `${framework === undefined ? "an unknown" : "a disconnected"} framework ` +
        `${update.framework_id.value}`,
    );
  }
  const task = agent.getTask(update.framework_id.value, taskId);
  if (task === undefined) {
    m.logger.warn(`Could not lookup task ${taskId} for status update from agent ${agentId}`);
    m.events.statusUpdateReceived(false, "unknown-task");
    return;
  }
  m.events.statusUpdateReceived(true);
  updateTask(m, task, update);
}

/** ACKNOWLEDGE: forwarded to the agent; a terminal task is done once its last update is acked. */
export function acknowledge(m: Master, framework: FrameworkRecord, call: Call_Acknowledge): void {
  const agentId = call.agent_id.value;
  const taskId = call.task_id.value;
  const agent = m.agents.get(agentId);
  if (agent === undefined || !agent.connected) {
    m.logger.warn(
      `Cannot send status update acknowledgement for task ${taskId} of framework ` +
        `${framework.id} to agent ${agentId} because agent is ` +
        `${agent === undefined ? "not registered" : "disconnected"}`,
    );
    m.events.acknowledgementReceived(false);
    return;
  }
  m.events.acknowledgementReceived(true);
  m.logger.info(
    `Processing ACKNOWLEDGE call for task ${taskId} of framework ${framework.id} on agent ${agentId}`,
    SITE_ACK,
  );
  const task = agent.getTask(framework.id, taskId);
  if (
    task !== undefined &&
    isTerminalState(task.status_update_state) &&
    task.status_update_uuid !== undefined &&
    Buffer.from(task.status_update_uuid).equals(Buffer.from(call.uuid))
  ) {
    removeTask(m, task, false);
  }
  m.io.sendToAgent(agent.pid, "mesos.internal.StatusUpdateAcknowledgementMessage", {
    slave_id: { value: agentId },
    framework_id: { value: framework.id },
    task_id: { value: taskId },
    uuid: call.uuid,
  });
}

/** KILL: forwarded to the agent; an unknown task is answered by reconciliation. */
export function kill(m: Master, framework: FrameworkRecord, call: Call_Kill): void {
  const taskId = call.task_id.value;
  m.logger.info(`Processing KILL call for task '${taskId}' of framework ${framework.id}`);
  const task = framework.tasks.get(taskId);
  if (task === undefined) {
    m.logger.warn(
      `Cannot kill task ${taskId} of framework ${framework.id} because it is unknown; ` +
        "performing reconciliation",
    );
    reconcileTasks(m, framework, [
      call.agent_id === undefined
        ? { task_id: call.task_id }
        : { task_id: call.task_id, agent_id: call.agent_id },
    ]);
    return;
  }
  if (call.agent_id !== undefined && call.agent_id.value !== task.agent_id.value) {
    m.logger.warn(
      `Cannot kill task ${taskId} of agent ${call.agent_id.value} of framework ${framework.id} ` +
        `because it belongs to different agent ${task.agent_id.value}`,
    );
    return;
  }
  const agent = m.agents.get(task.agent_id.value);
  if (agent === undefined) return;
  agent.killedTasks.add(`${framework.id}/${taskId}`);
  if (!agent.connected) {
    m.logger.warn(
      `Cannot kill task ${taskId} of framework ${framework.id} because the agent ${agent.id} is ` +
        "disconnected. Kill will be retried if the agent reregisters",
    );
    return;
  }
  m.logger.info(`Telling agent ${agent.id} to kill task ${taskId} of framework ${framework.id}`);
  m.io.sendToAgent(agent.pid, "mesos.internal.KillTaskMessage", {
    framework_id: { value: framework.id },
    task_id: call.task_id,
    ...(call.kill_policy === undefined ? {} : { kill_policy: call.kill_policy }),
  });
}

/** An executor exited on an agent: forget it and tell its framework (FAILURE). */
export function exitedExecutor(m: Master, from: string, message: ExitedExecutorMessage): void {
  const agentId = message.slave_id.value;
  const frameworkId = message.framework_id.value;
  const executorId = message.executor_id.value;
  const agent = m.agents.get(agentId);
  if (agent === undefined) {
    m.logger.warn(
      `Ignoring exited executor '${executorId}' from unknown agent ${agentId} at ${from}`,
    );
    return;
  }
  if (!agent.hasExecutor(frameworkId, executorId)) {
    m.logger.warn(
      `Ignoring unknown exited executor '${executorId}' of framework ${frameworkId} on agent ${agentId}`,
    );
    return;
  }
  m.logger.info(
    `Executor '${executorId}' of framework ${frameworkId} on agent ${agentId} exited with status ${message.status}`,
  );
  removeExecutor(m, agent, frameworkId, executorId);
  const framework = m.frameworks.get(frameworkId);
  if (framework === undefined || !framework.connected) return;
  m.sendEvent(framework, {
    type: "FAILURE",
    failure: {
      agent_id: { value: agentId },
      executor_id: { value: executorId },
      status: message.status,
    },
  });
}

/** ExecutorToFrameworkMessage: relayed as a MESSAGE event. */
export function executorToFramework(
  m: Master,
  from: string,
  message: ExecutorToFrameworkMessage,
): void {
  const agentId = message.slave_id.value;
  const frameworkId = message.framework_id.value;
  if (!m.agents.has(agentId)) {
    m.logger.warn(`Ignoring executor message from unknown agent ${agentId} at ${from}`);
    m.events.executorMessageReceived(false);
    return;
  }
  const framework = m.frameworks.get(frameworkId);
  m.events.executorMessageReceived(framework?.connected === true);
  if (framework === undefined || !framework.connected) {
    m.logger.warn(
      `Not forwarding executor message for framework ${frameworkId} because the framework is ` +
        `${framework === undefined ? "unknown" : "disconnected"}`,
    );
    return;
  }
  m.sendEvent(framework, {
    type: "MESSAGE",
    message: { agent_id: message.slave_id, executor_id: message.executor_id, data: message.data },
  });
}

function connectedAgent(
  m: Master,
  framework: FrameworkRecord,
  agentId: string,
  what: string,
): AgentRecord | undefined {
  const agent = m.agents.get(agentId);
  if (agent === undefined || !agent.connected) {
    m.logger.warn(
      `Cannot send ${what} for framework ${framework.id} to agent ${agentId} because agent is ` +
        `${agent === undefined ? "not registered" : "disconnected"}`,
    );
    return undefined;
  }
  return agent;
}

/** MESSAGE: relayed to the executor through its agent. */
export function frameworkMessage(m: Master, framework: FrameworkRecord, call: Call_Message): void {
  const agent = connectedAgent(m, framework, call.agent_id.value, "framework message");
  m.events.frameworkMessageReceived(agent !== undefined);
  if (agent === undefined) return;
  m.io.sendToAgent(agent.pid, "mesos.internal.FrameworkToExecutorMessage", {
    slave_id: call.agent_id,
    framework_id: { value: framework.id },
    executor_id: call.executor_id,
    data: call.data,
  });
}

/** SHUTDOWN: asks the agent to shut an executor down. */
export function shutdownExecutor(m: Master, framework: FrameworkRecord, call: Call_Shutdown): void {
  const agent = m.agents.get(call.agent_id.value);
  if (agent === undefined || !agent.connected) {
    // Mesos' wording (it only checks that the agent is registered; a message to a
    // disconnected agent would be lost anyway).
    m.logger.warn(
      `Unable to shutdown executor '${call.executor_id.value}' of framework ${framework.id} ` +
        `of ${agent === undefined ? "unknown" : "disconnected"} agent ${call.agent_id.value}`,
    );
    return;
  }
  m.logger.info(
    `Processing SHUTDOWN call for executor '${call.executor_id.value}' of framework ${framework.id} on agent ${agent.id}`,
  );
  m.io.sendToAgent(agent.pid, "mesos.internal.ShutdownExecutorMessage", {
    executor_id: call.executor_id,
    framework_id: { value: framework.id },
  });
}
