/**
 * Agents' health and departure: pings and pongs, broken connections,
 * unregistration, removal and being marked unreachable, with what that means
 * for their tasks, offers and the allocator.
 */
import type {
  Task,
  TaskState,
  TaskStatus_Reason,
} from "../../common/protocol/generated/mesos-v1.js";
import { addCompletedTask } from "./frameworks.js";
import type { Master } from "./master.js";
import type { AgentRemovalReason } from "./observer.js";
import { rescindOffer } from "./offers.js";
import { removeAgentOperations } from "./operation-tracking.js";
import type { AgentRecord } from "./records.js";
import { masterStatusUpdate } from "./status-updates.js";
import { removeExecutor, removeTask, updateTask } from "./tasks.js";

/** Registry transitions in flight per master core: agent id -> what is being written. */
const transitions = new WeakMap<Master, Map<string, "gone" | "removal">>();

function transitionsOf(m: Master): Map<string, "gone" | "removal"> {
  let map = transitions.get(m);
  if (map === undefined) {
    map = new Map();
    transitions.set(m, map);
  }
  return map;
}

/**
 * The registry transition in flight for an agent, if any: `gone` while
 * MARK_AGENT_GONE is being written, `removal` while a removed agent is.
 * Re-registration, draining and other transitions wait for it (the agent or
 * operator retries), as in Mesos.
 */
export function agentTransitionInProgress(
  m: Master,
  agentId: string,
): "gone" | "removal" | undefined {
  return transitions.get(m)?.get(agentId);
}

/** Sends a ping; after `--max_agent_ping_timeouts` unanswered ones the agent is unreachable. */
export function ping(m: Master, agent: AgentRecord): void {
  agent.pingTimer = undefined;
  if (m.agents.get(agent.id) !== agent || m.stopped) return;
  if (agent.awaitingPong) {
    agent.missedPings++;
    if (agent.missedPings >= m.config.maxAgentPingTimeouts && !agent.removalScheduled) {
      const limiter = m.removalLimiter;
      if (limiter === undefined) {
        m.events.agentUnreachableStep("scheduled");
        m.events.agentUnreachableStep("completed");
        markUnreachable(m, agent, "health check timed out");
        return;
      }
      // Keep pinging while waiting for a permit: a pong meanwhile cancels the removal.
      m.logger.info(
        `Scheduling removal of agent ${agent.id} (${agent.info.hostname}): health check timed out`,
      );
      agent.removalScheduled = true;
      m.events.agentUnreachableStep("scheduled");
      const generation = ++agent.removalGeneration;
      limiter.acquire(() => {
        const current = agent.removalScheduled && agent.removalGeneration === generation;
        if (!current || m.agents.get(agent.id) !== agent) {
          m.logger.info(`Canceled removal of agent ${agent.id}: it answered a ping meanwhile`);
          // An agent removed meanwhile counts nothing more, as in Mesos.
          if (m.agents.get(agent.id) === agent) m.events.agentUnreachableStep("canceled");
          return;
        }
        m.events.agentUnreachableStep("completed");
        agent.removalScheduled = false;
        markUnreachable(m, agent, "health check timed out");
      });
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
  agent.removalScheduled = false;
}

/** Cancels an agent's ping and re-registration timers. */
export function stopAgentTimers(m: Master, agent: AgentRecord): void {
  if (agent.pingTimer !== undefined) m.clock.cancelTimer(agent.pingTimer);
  if (agent.reregistrationTimer !== undefined) m.clock.cancelTimer(agent.reregistrationTimer);
  agent.pingTimer = undefined;
  agent.reregistrationTimer = undefined;
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
  void removeAgent(m, agent, "the agent unregistered", "unregistered");
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
  m.events.agentChanged(agent);
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
    reregisterTimeout(m, agent.id, timeoutMs);
  });
}

/**
 * A disconnected agent did not come back within `--agent_reregister_timeout`
 * (its socket broke but it may still answer pings, e.g. hung in recovery):
 * it is marked unreachable, paced by `--agent_removal_rate_limit` like
 * health check failures, as Mesos' agentReregisterTimeout does. Only an
 * agent removed or reconnected before its permit cancels the transition.
 */
function reregisterTimeout(m: Master, agentId: string, timeoutMs: number): void {
  const agent = m.agents.get(agentId);
  if (agent === undefined || agent.connected || m.stopped) return;
  const cause = `agent did not reregister within ${timeoutMs / 1000}secs after disconnecting`;
  const remove = (): void => {
    const current = m.agents.get(agentId);
    if (m.stopped) return;
    if (current === undefined || current.connected) {
      m.logger.info(`Canceled removal of agent ${agentId}: it reregistered or left meanwhile`);
      m.events.agentUnreachableStep("canceled");
      return;
    }
    m.events.agentUnreachableStep("completed");
    markUnreachable(m, current, cause);
  };
  m.events.agentUnreachableStep("scheduled");
  if (m.removalLimiter === undefined) {
    remove();
    return;
  }
  m.logger.info(`Scheduling removal of agent ${agentId} (${agent.info.hostname}); ${cause}`);
  m.removalLimiter.acquire(remove);
}

function deactivateAgent(m: Master, agent: AgentRecord): void {
  m.logger.info(`Deactivating agent ${agent.id}`);
  agent.active = false;
  m.allocator.deactivateAgent(agent.id);
  for (const offer of [...agent.offers]) rescindOffer(m, offer);
}

/**
 * Ends a task because its agent went away, telling the framework if it
 * listens: now, or by pushing the notification to `later` (sent once the
 * registry has the change).
 */
function loseTask(
  m: Master,
  task: Task,
  state: TaskState,
  reason: TaskStatus_Reason,
  message: string,
  unreachable: boolean,
  unreachableNs?: number,
  later?: (() => void)[],
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
  const notify = (): void => {
    const framework = m.frameworks.get(task.framework_id.value);
    if (framework?.connected === true) m.forward(framework, update, false);
  };
  if (later === undefined) notify();
  else later.push(notify);
}

/**
 * Removes an agent that left (unregistered, replaced, or its machine went
 * DOWN): its tasks are TASK_LOST, or TASK_GONE_BY_OPERATOR for
 * partition-aware frameworks. As in Mesos, the master's own view changes at
 * once (no offers, no tasks, the agent is gone from the lists), while
 * frameworks and operator subscribers hear of it (TASK_LOST, FAILURE,
 * AGENT_REMOVED) only once the registry has the removal. Resolves then.
 */
export function removeAgent(
  m: Master,
  agent: AgentRecord,
  cause: string,
  reason: AgentRemovalReason,
  options?: { taskMessage: string },
): Promise<void> {
  m.logger.info(`Removing agent ${agent.id} (${agent.info.hostname}): ${cause}`);
  forgetAgent(m, agent);
  // Gone from the registry too: a later agent with this id starts afresh (as in Mesos).
  m.deactivatedAgents.delete(agent.id);
  const later: (() => void)[] = [];
  const message = options?.taskMessage ?? `Agent ${agent.info.hostname} removed: ${cause}`;
  for (const tasks of [...agent.tasks.values()]) {
    for (const task of [...tasks.values()]) {
      // A removal that is not a partition (unregistered, replaced, machine
      // DOWN) is TASK_GONE_BY_OPERATOR to partition-aware frameworks, as in
      // Mesos' __removeSlave without an unreachable time.
      const gone = m.frameworks.get(task.framework_id.value)?.partitionAware === true;
      loseTask(
        m,
        task,
        gone ? "TASK_GONE_BY_OPERATOR" : "TASK_LOST",
        gone ? "REASON_AGENT_REMOVED_BY_OPERATOR" : "REASON_AGENT_REMOVED",
        message,
        false,
        undefined,
        later,
      );
    }
  }
  finishRemoval(m, agent, reason, later);
  const inFlight = transitionsOf(m);
  inFlight.set(agent.id, "removal");
  const done = (): void => {
    if (inFlight.get(agent.id) === "removal") inFlight.delete(agent.id);
    if (m.stopped) return;
    for (const notify of later) notify();
  };
  return m.registrar
    .apply({ kind: "remove-agent", info: agent.info })
    .then(done, (error: unknown) => {
      m.logger.error(`Failed to remove agent ${agent.id} from the registry: ${String(error)}`);
      done();
    });
}

/**
 * Marks an agent unreachable (health check or re-registration timeout). The
 * registry is written first; only then are its tasks TASK_UNREACHABLE
 * (partition-aware frameworks) or TASK_LOST, and the agent removed.
 * Re-registration attempts meanwhile are ignored (the agent retries).
 */
export function markUnreachable(m: Master, agent: AgentRecord, cause: string): void {
  if (m.agents.get(agent.id) !== agent || m.markingUnreachable.has(agent.id)) return;
  if (agentTransitionInProgress(m, agent.id) !== undefined) {
    m.logger.info(
      `Skipping transition of agent ${agent.id} to unreachable: it is being marked gone`,
    );
    return;
  }
  if (m.reregistering.has(agent.id)) {
    m.logger.info(`Skipping transition of agent ${agent.id} to unreachable: it is reregistering`);
    return;
  }
  m.logger.info(`Marking agent ${agent.id} (${agent.info.hostname}) unreachable: ${cause}`);
  const ns = Math.round(m.clock.now() * 1e6);
  stopAgentTimers(m, agent);
  m.markingUnreachable.add(agent.id);
  m.registrar.apply({ kind: "mark-agent-unreachable", info: agent.info, timeNs: ns }).then(
    () => {
      m.markingUnreachable.delete(agent.id);
      if (m.stopped || m.agents.get(agent.id) !== agent) return;
      removeUnreachable(m, agent, cause, ns);
    },
    (error: unknown) => {
      m.markingUnreachable.delete(agent.id);
      m.fatal(`Failed to mark agent ${agent.id} unreachable in the registry: ${String(error)}`);
    },
  );
}

/** The registry has the agent as unreachable: its tasks and the agent go. */
function removeUnreachable(m: Master, agent: AgentRecord, cause: string, ns: number): void {
  m.logger.info(`Marked agent ${agent.id} (${agent.info.hostname}) unreachable: ${cause}`);
  m.events.agentMarkedUnreachable(agent.id, false);
  forgetAgent(m, agent);
  m.unreachableAgents.set(agent.id, ns);
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
  finishRemoval(m, agent, "unreachable");
}

/** Takes an agent out of the allocator and stops watching it (tasks still tracked). */
function forgetAgent(m: Master, agent: AgentRecord): void {
  stopAgentTimers(m, agent);
  m.allocator.removeAgent(agent.id);
}

/**
 * After its tasks are dealt with: executors, offers, the agent itself, then
 * AGENT_REMOVED and FAILURE to frameworks (now, or pushed to `later`).
 */
function finishRemoval(
  m: Master,
  agent: AgentRecord,
  reason: AgentRemovalReason,
  later?: (() => void)[],
): void {
  for (const [frameworkId, executors] of [...agent.executors]) {
    for (const executorId of [...executors.keys()])
      removeExecutor(m, agent, frameworkId, executorId);
  }
  for (const offer of [...agent.offers]) rescindOffer(m, offer);
  removeAgentOperations(m, agent, reason);
  m.agents.delete(agent.id);
  const notify = (): void => {
    m.events.agentRemoved(agent, reason);
    for (const framework of m.frameworks.values()) {
      if (!framework.connected) continue;
      m.logger.info(
        `Notifying framework ${framework.id} of lost agent ${agent.id} (${agent.info.hostname})`,
      );
      m.sendEvent(framework, { type: "FAILURE", failure: { agent_id: { value: agent.id } } });
    }
  };
  if (later === undefined) notify();
  else later.push(notify);
}

/** The outcome of an operator action on an agent: an HTTP status and a reason. */
export interface OperatorResult {
  readonly status: number;
  readonly message: string;
}

/**
 * MARK_AGENT_GONE: the agent (registered, recovered or unreachable) will
 * never come back. The registry records it first; only then (and then the
 * answer) its tasks become TASK_GONE_BY_OPERATOR (TASK_LOST for frameworks
 * that are not partition-aware), a registered agent is told to shut down,
 * and later re-registrations are refused. Marking it again is a no-op; a
 * call while another registry transition of the agent is in flight, or a
 * failed write, answers 503 and changes nothing.
 */
export async function markAgentGone(m: Master, agentId: string): Promise<OperatorResult> {
  if (m.goneAgents.has(agentId)) {
    m.logger.warn(`Not marking agent '${agentId}' as gone: it is already gone`);
    return { status: 200, message: "" };
  }
  const inFlight = agentTransitionInProgress(m, agentId);
  if (inFlight !== undefined) {
    const what = inFlight === "gone" ? "gone" : "removed";
    return { status: 503, message: `Agent '${agentId}' is already being transitioned to ${what}` };
  }
  if (m.markingUnreachable.has(agentId)) {
    return { status: 503, message: `Agent '${agentId}' is being transitioned to unreachable` };
  }
  if (
    !m.agents.has(agentId) &&
    !m.unreachableAgents.has(agentId) &&
    !m.recoveredAgents.has(agentId)
  ) {
    return { status: 404, message: `Agent '${agentId}' not found` };
  }
  m.logger.info(`Marking agent '${agentId}' as gone`);
  const ns = Math.round(m.clock.now() * 1e6);
  const transitioning = transitionsOf(m);
  transitioning.set(agentId, "gone");
  try {
    await m.registrar.apply({ kind: "mark-agent-gone", agentId, timeNs: ns });
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ");
    m.logger.error(`Failed to mark agent ${agentId} gone in the registry: ${reason}`);
    return {
      status: 503,
      message: `Failed to mark agent '${agentId}' gone in the registry: ${reason}`,
    };
  } finally {
    transitioning.delete(agentId);
  }
  if (m.stopped) return { status: 503, message: "The master is stopping" };
  markGone(m, agentId, ns);
  return { status: 200, message: "" };
}

/** The registry has the agent as gone: forget it, end its tasks, shut it down. */
function markGone(m: Master, agentId: string, ns: number): void {
  m.goneAgents.set(agentId, ns);
  m.deactivatedAgents.delete(agentId);
  const agent = m.agents.get(agentId);
  const recovered = m.recoveredAgents.has(agentId);
  if (recovered && agent === undefined) {
    // Recovered from the registry and not back yet: the master knows none of its tasks.
    m.recoveredAgents.delete(agentId);
    return;
  }
  const message = "Agent has been marked gone";
  const fate = (frameworkId: string): [TaskState, TaskStatus_Reason] =>
    m.frameworks.get(frameworkId)?.partitionAware === true
      ? ["TASK_GONE_BY_OPERATOR", "REASON_AGENT_REMOVED_BY_OPERATOR"]
      : ["TASK_LOST", "REASON_AGENT_REMOVED"];
  if (agent !== undefined) {
    forgetAgent(m, agent);
    m.io.sendToAgent(agent.pid, "mesos.internal.ShutdownMessage", { message });
    for (const [frameworkId, tasks] of [...agent.tasks]) {
      const [state, reason] = fate(frameworkId);
      for (const task of [...tasks.values()]) loseTask(m, task, state, reason, message, false);
    }
    finishRemoval(m, agent, "gone");
    return;
  }
  m.unreachableAgents.delete(agentId);
  for (const framework of m.frameworks.values()) {
    const [state, reason] = fate(framework.id);
    for (const task of [...framework.unreachableTasks.values()]) {
      if (task.agent_id.value !== agentId) continue;
      const update = masterStatusUpdate({
        frameworkId: framework.id,
        agentId,
        taskId: task.task_id.value,
        state,
        message,
        reason,
        executorId: task.executor_id?.value,
        timestamp: m.nowSecs(),
      });
      updateTask(m, task, update);
      framework.unreachableTasks.delete(task.task_id.value);
      addCompletedTask(m, framework, task);
      if (framework.connected) m.forward(framework, update, false);
    }
  }
}

/** Whether the master knows the agent: registered, recovered from the registry, or unreachable. */
function knownAgent(m: Master, agentId: string): boolean {
  return (
    m.agents.has(agentId) || m.recoveredAgents.has(agentId) || m.unreachableAgents.has(agentId)
  );
}

/** The one-line reason of a failed registry write. */
function writeFailure(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ");
}

/**
 * Marks an agent deactivated in memory: no offers from it (a registered one
 * is deactivated in the allocator and its offers rescinded now; one that is
 * not registered is deactivated when it comes back). The registry write, if
 * any, is the caller's.
 */
export function applyDeactivation(m: Master, agentId: string): void {
  m.deactivatedAgents.add(agentId);
  const agent = m.agents.get(agentId);
  if (agent === undefined) return;
  if (agent.active) deactivateAgent(m, agent);
  m.events.agentChanged(agent);
}

/**
 * DEACTIVATE_AGENT: no more offers from the agent until it is reactivated.
 * Accepted for a registered, recovered or unreachable agent (400 for
 * others). The registry records it first (`Registry.Slave.deactivated`), so
 * a restarted master keeps the agent deactivated; a failed write answers
 * 503 and changes nothing.
 */
export async function operatorDeactivateAgent(m: Master, agentId: string): Promise<OperatorResult> {
  if (!knownAgent(m, agentId)) return { status: 400, message: `Unknown agent '${agentId}'` };
  try {
    await m.registrar.apply({ kind: "deactivate-agent", agentId });
  } catch (error) {
    const reason = writeFailure(error);
    m.logger.error(`Failed to deactivate agent ${agentId} in the registry: ${reason}`);
    return {
      status: 503,
      message: `Failed to deactivate agent '${agentId}' in the registry: ${reason}`,
    };
  }
  if (m.stopped) return { status: 503, message: "The master is stopping" };
  applyDeactivation(m, agentId);
  return { status: 200, message: "" };
}

/**
 * REACTIVATE_AGENT: undoes DEACTIVATE_AGENT (and a finished drain). 400 for
 * an agent that is not deactivated or still DRAINING. The registry write
 * comes first (503 and no change if it fails); `onStored` runs right after
 * it, before the in-memory reactivation (the drain state is cleared there).
 * 409 if the agent is not registered (it is reactivated when it comes back).
 */
export async function operatorReactivateAgent(
  m: Master,
  agentId: string,
  refused?: () => OperatorResult | undefined,
  onStored?: () => void,
): Promise<OperatorResult> {
  if (!m.deactivatedAgents.has(agentId)) {
    return { status: 400, message: "Agent is not deactivated" };
  }
  const refusal = refused?.();
  if (refusal !== undefined) return refusal;
  try {
    await m.registrar.apply({ kind: "reactivate-agent", agentId });
  } catch (error) {
    const reason = writeFailure(error);
    m.logger.error(`Failed to reactivate agent ${agentId} in the registry: ${reason}`);
    return {
      status: 503,
      message: `Failed to reactivate agent '${agentId}' in the registry: ${reason}`,
    };
  }
  if (m.stopped) return { status: 503, message: "The master is stopping" };
  m.deactivatedAgents.delete(agentId);
  onStored?.();
  const agent = m.agents.get(agentId);
  if (agent === undefined)
    return { status: 409, message: "Agent removed while processing the call" };
  if (agent.connected) {
    if (!agent.active) {
      m.logger.info(`Reactivating agent ${agentId}`);
      agent.active = true;
      m.allocator.activateAgent(agentId);
    }
  } else {
    m.logger.info(`Disconnected agent ${agentId} will be reactivated upon reregistration`);
  }
  m.events.agentChanged(agent);
  return { status: 200, message: "" };
}
