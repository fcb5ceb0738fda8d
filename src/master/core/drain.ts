/**
 * Agent draining on the master (Mesos 1.9 `DRAIN_AGENT`): the operator asks
 * for an agent to be emptied. The master records the agent as DRAINING,
 * deactivates it (no more offers) and sends it a `DrainSlaveMessage`; the
 * agent kills every task. Once the master holds no task of the agent any
 * more (every terminal update was acknowledged by its framework), the agent
 * is DRAINED, or, with `mark_gone`, marked gone. REACTIVATE_AGENT of a
 * DRAINED agent clears the drain state; a DRAINING one cannot be
 * reactivated.
 *
 * The registry has the drain state before the master acts on it or answers
 * (`Registry.Slave.drain_info`, with `deactivated`): DRAIN_AGENT, the move to
 * DRAINED and REACTIVATE_AGENT are written first, and a restarted or newly
 * elected master restores it (`restoreDrains`), so a returning agent is told
 * to drain again. In memory it is kept per master core; it survives the agent
 * becoming unreachable (the message is sent again when it comes back) and is
 * dropped when the agent is removed or marked gone.
 */

import type { Registry } from "../../common/protocol/generated/mesos-internal.js";
import type { DrainConfig, DrainInfo } from "../../common/protocol/generated/mesos-v1.js";
import type { Call_DrainAgent } from "../../common/protocol/generated/mesos-v1-master.js";
import { maintenanceOf } from "../http/maintenance.js";
import {
  agentTransitionInProgress,
  applyDeactivation,
  markAgentGone,
  type OperatorResult,
} from "./agent-health.js";
import type { Master } from "./master.js";
import { tracksOperations } from "./operation-tracking.js";
import type { AgentRecord } from "./records.js";

/** One agent's drain state. */
interface DrainRecord {
  info: DrainInfo;
  /** When the master last told the agent to drain (ms since the epoch), if it did. */
  startedMs: number | undefined;
  /** A mark-gone after draining is being written. */
  markingGone: boolean;
  /** The move to DRAINED is being written. */
  markingDrained: boolean;
}

const draining = new WeakMap<Master, Map<string, DrainRecord>>();

/**
 * Draining agents that came back (re-registered, or re-admitted after a
 * master failover) and take operations themselves: their operations reach
 * the master only in the UpdateSlaveMessage that follows, so until it is
 * handled the master cannot tell whether they are drained (as Mesos waits).
 */
const awaitingOperations = new WeakSet<AgentRecord>();

/** The drain records of `m` (created empty, with its listeners, on first use). */
function recordsOf(m: Master): Map<string, DrainRecord> {
  let records = draining.get(m);
  if (records === undefined) {
    records = new Map();
    draining.set(m, records);
    watch(m, records);
  }
  return records;
}

/** The drain info of an agent (DRAINING or DRAINED), if it was asked to drain. */
export function drainInfoOf(m: Master, agentId: string): DrainInfo | undefined {
  return draining.get(m)?.get(agentId)?.info;
}

/** When draining of an agent was last sent to it (ms since the epoch), if it was. */
export function drainStartOf(m: Master, agentId: string): number | undefined {
  return draining.get(m)?.get(agentId)?.startedMs;
}

/** The drain info as `/master/state` and `/master/slaves` show it (with the start time). */
export function drainJson(m: Master, agentId: string): Record<string, unknown> {
  const record = draining.get(m)?.get(agentId);
  if (record === undefined) return {};
  const config: Record<string, unknown> = { mark_gone: record.info.config.mark_gone === true };
  const grace = record.info.config.max_grace_period;
  if (grace !== undefined) config.max_grace_period = { nanoseconds: grace.nanoseconds };
  const out: Record<string, unknown> = { drain_info: { state: record.info.state, config } };
  if (record.startedMs !== undefined) {
    out.estimated_drain_start_time_seconds = record.startedMs / 1000;
  }
  return out;
}

/** Whether the agent runs on a machine of the maintenance schedule (hostname and IP match). */
function scheduledMachine(m: Master, agent: AgentRecord): string | undefined {
  const ip = agent.address().ip;
  for (const window of maintenanceOf(m).schedule.windows ?? []) {
    for (const id of window.machine_ids ?? []) {
      if (id.hostname !== undefined && id.hostname !== agent.info.hostname) continue;
      if (id.ip !== undefined && id.ip !== ip) continue;
      return `${id.hostname ?? ""}${id.ip === undefined ? "" : ` (${id.ip})`}`;
    }
  }
  return undefined;
}

/** The `DrainConfig` of a call (google.protobuf.Duration to DurationInfo), or why it is invalid. */
function drainConfigOf(call: Call_DrainAgent): DrainConfig | string {
  const config: DrainConfig = { mark_gone: call.mark_gone === true };
  const grace = call.max_grace_period;
  if (grace !== undefined) {
    const ns = (grace.seconds ?? 0) * 1e9 + (grace.nanos ?? 0);
    if (!Number.isFinite(ns) || ns < 0) return "'max_grace_period' must not be negative";
    config.max_grace_period = { nanoseconds: ns };
  }
  return config;
}

/**
 * Why DRAIN_AGENT is a bad request before any ACL is asked, as Mesos
 * checks it: an invalid grace period, or a registered agent that is in the
 * maintenance schedule or cannot drain. (An unknown agent is refused only
 * after authorization, as in Mesos.)
 */
export function drainRefusal(m: Master, call: Call_DrainAgent): string | undefined {
  const config = drainConfigOf(call);
  if (typeof config === "string") return config;
  const agentId = call.agent_id.value;
  const agent = m.agents.get(agentId);
  if (agent === undefined) return undefined;
  const machine = scheduledMachine(m, agent);
  if (machine !== undefined) {
    return `Agent ${agentId} is part of a maintenance schedule under Machine ${machine}`;
  }
  if (!agent.hasCapability("AGENT_DRAINING")) return `Agent ${agentId} is not capable of draining`;
  return undefined;
}

/**
 * DRAIN_AGENT. 400 for an agent the master does not know (registered,
 * unreachable or recovered), one in the maintenance schedule, or one
 * without the AGENT_DRAINING capability; 409 while the agent is being
 * marked gone. The drain (DRAINING, deactivated) is written to the registry
 * first: a failed write answers 503 and changes nothing. Draining again
 * replaces the config (and a DRAINED agent drains again), as in Mesos.
 */
export async function drainAgent(m: Master, call: Call_DrainAgent): Promise<OperatorResult> {
  const agentId = call.agent_id.value;
  const config = drainConfigOf(call);
  if (typeof config === "string") return { status: 400, message: config };
  const refused = drainRefusal(m, call);
  if (refused !== undefined) return { status: 400, message: refused };
  if (
    !m.agents.has(agentId) &&
    !m.unreachableAgents.has(agentId) &&
    !m.recoveredAgents.has(agentId)
  ) {
    return { status: 400, message: `Unknown agent '${agentId}'` };
  }
  const records = recordsOf(m);
  const markingGone = (): boolean =>
    agentTransitionInProgress(m, agentId) === "gone" || records.get(agentId)?.markingGone === true;
  if (markingGone()) return { status: 409, message: "Agent is currently being marked gone" };
  const info: DrainInfo = { state: "DRAINING", config };
  try {
    await m.registrar.apply({ kind: "drain-agent", agentId, drainInfo: info });
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ");
    m.logger.error(`Failed to store the drain of agent ${agentId} in the registry: ${reason}`);
    return {
      status: 503,
      message: `Failed to store the drain of agent '${agentId}' in the registry: ${reason}`,
    };
  }
  if (m.stopped) return { status: 503, message: "The master is stopping" };
  if (m.goneAgents.has(agentId)) return { status: 200, message: "" }; // marked gone meanwhile
  records.set(agentId, { info, startedMs: undefined, markingGone: false, markingDrained: false });
  applyDeactivation(m, agentId);
  // The agent may have gone unreachable or been removed while the write was in flight.
  const registered = m.agents.get(agentId);
  if (registered === undefined) {
    m.logger.info(`Agent ${agentId} will be drained once it re-registers`);
    return { status: 200, message: "" };
  }
  const tasks = [...registered.tasks.values()].reduce((n, byId) => n + byId.size, 0);
  m.logger.info(`Transitioning agent ${agentId} to the DRAINING state; it has ${tasks} task(s)`);
  sendDrain(m, registered);
  checkDrained(m, registered);
  return { status: 200, message: "" };
}

/**
 * Restores drain states a restarted or newly elected master finds in the
 * registry (admitted and unreachable agents). The agents' deactivation is
 * restored with the rest of the registry; a returning agent is told to
 * drain again (a DRAINING one has its remaining tasks killed).
 */
export function restoreDrains(m: Master, registry: Registry): void {
  const found: [string, DrainInfo][] = [];
  for (const slave of registry.slaves?.slaves ?? []) {
    const id = slave.info.id?.value;
    if (id !== undefined && id !== "" && slave.drain_info !== undefined) {
      found.push([id, slave.drain_info]);
    }
  }
  for (const slave of registry.unreachable?.slaves ?? []) {
    if (slave.drain_info !== undefined) found.push([slave.id.value, slave.drain_info]);
  }
  if (found.length === 0) return;
  const records = recordsOf(m);
  for (const [id, info] of found) {
    records.set(id, { info, startedMs: undefined, markingGone: false, markingDrained: false });
    m.logger.info(`Recovered agent ${id} in the ${info.state} state`);
  }
}

/** Tells the agent to drain (again) with its recorded config. */
function sendDrain(m: Master, agent: AgentRecord): void {
  const record = draining.get(m)?.get(agent.id);
  if (record === undefined) return;
  record.startedMs = m.clock.now();
  record.info = { ...record.info }; // a new identity: cached state views render it again
  m.io.sendToAgent(agent.pid, "mesos.internal.DrainSlaveMessage", { config: record.info.config });
  m.events.agentChanged(agent);
}

/**
 * REACTIVATE_AGENT's drain rule: a DRAINING agent cannot be reactivated
 * (400); otherwise the drain state is cleared by `clearDrain` once the
 * reactivation went through.
 */
export function reactivationRefused(m: Master, agentId: string): OperatorResult | undefined {
  if (draining.get(m)?.get(agentId)?.info.state === "DRAINING") {
    return { status: 400, message: "Agent is still in the DRAINING state" };
  }
  return undefined;
}

/** Forgets an agent's drain state (reactivated). */
export function clearDrain(m: Master, agentId: string): void {
  if (draining.get(m)?.delete(agentId) !== true) return;
  const agent = m.agents.get(agentId);
  if (agent !== undefined) m.events.agentChanged(agent);
}

/**
 * A DRAINING agent with no task and no operation left in the master (all
 * terminal updates acknowledged) becomes DRAINED, or is marked gone when its config says
 * so.
 */
function checkDrained(m: Master, agent: AgentRecord): void {
  const records = draining.get(m);
  const record = records?.get(agent.id);
  if (records === undefined || record === undefined) return;
  if (record.info.state !== "DRAINING" || record.markingGone || record.markingDrained) return;
  for (const tasks of agent.tasks.values()) if (tasks.size > 0) return;
  // Pending operations, or terminal ones not yet acknowledged, hold it too (as Mesos).
  if (agent.operations.size > 0 || awaitingOperations.has(agent)) return;
  if (agentTransitionInProgress(m, agent.id) === "gone") {
    m.logger.info(`Not marking agent ${agent.id} DRAINED: it is being marked gone`);
    return;
  }
  if (record.info.config.mark_gone === true) {
    m.logger.info(`Marking agent ${agent.id} in the DRAINED state as gone`);
    record.markingGone = true;
    void markAgentGone(m, agent.id).then((result) => {
      record.markingGone = false;
      if (result.status !== 200) {
        m.logger.error(`Failed to mark drained agent ${agent.id} gone: ${result.message}`);
      }
    });
    return;
  }
  // Stored first, so a restarted master knows the agent is DRAINED (not to be drained again).
  m.logger.info(`Transitioning agent ${agent.id} to the DRAINED state`);
  record.markingDrained = true;
  m.registrar.apply({ kind: "mark-agent-drained", agentId: agent.id }).then(
    () => {
      record.markingDrained = false;
      if (m.stopped) return;
      if (records.get(agent.id) !== record) {
        m.logger.info(`Agent ${agent.id} was removed or drained again while marked DRAINED`);
        return;
      }
      record.info = { ...record.info, state: "DRAINED" };
      m.logger.info(`Agent ${agent.id} successfully marked as DRAINED`);
      const current = m.agents.get(agent.id);
      if (current !== undefined) m.events.agentChanged(current);
    },
    (error: unknown) => {
      record.markingDrained = false;
      m.fatal(`Failed to mark agent ${agent.id} DRAINED in the registry: ${String(error)}`);
    },
  );
}

/** Checks every draining agent (after acknowledgements and removed frameworks). */
function checkAll(m: Master, records: Map<string, DrainRecord>): void {
  if (m.stopped) return;
  for (const [agentId, record] of records) {
    if (m.goneAgents.has(agentId)) {
      records.delete(agentId); // marked gone while unreachable: nothing left to drain
      continue;
    }
    if (record.info.state !== "DRAINING") continue;
    const agent = m.agents.get(agentId);
    if (agent !== undefined) checkDrained(m, agent);
  }
}

/**
 * Follows the master's events. Listeners may not change master state
 * inside the event, so the follow-ups (checking for DRAINED, draining a
 * returning agent after its registration answer went out) run in a
 * microtask right after it.
 */
function watch(m: Master, records: Map<string, DrainRecord>): void {
  const later = (work: () => void): void => {
    queueMicrotask(() => {
      if (!m.stopped) work();
    });
  };
  const returned = (agent: AgentRecord): void => {
    if (!records.has(agent.id)) return;
    if (tracksOperations(agent)) awaitingOperations.add(agent);
    later(() => {
      if (m.agents.get(agent.id) !== agent || !records.has(agent.id)) return;
      // Drain (again) whether DRAINING or DRAINED, as Mesos does: the agent may have restarted.
      applyDeactivation(m, agent.id);
      sendDrain(m, agent);
      checkDrained(m, agent);
    });
  };
  m.events.listen({
    acknowledgementReceived: (valid) => {
      if (valid && records.size > 0) later(() => checkAll(m, records));
    },
    operationAcknowledgementReceived: (valid) => {
      if (valid && records.size > 0) later(() => checkAll(m, records));
    },
    // The master acknowledges some operation updates itself and forgets the operation.
    operationStatusUpdateReceived: (valid) => {
      if (valid && records.size > 0) later(() => checkAll(m, records));
    },
    frameworkRemoved: () => {
      if (records.size > 0) later(() => checkAll(m, records));
    },
    agentAdded: (agent) => returned(agent),
    agentReregistered: (agent) => returned(agent),
    agentUpdated: (agent) => {
      if (!awaitingOperations.delete(agent) && !records.has(agent.id)) return;
      later(() => {
        if (m.agents.get(agent.id) === agent) checkDrained(m, agent);
      });
    },
    agentRemoved: (agent, reason) => {
      // An unreachable agent keeps its drain state; one that left for good does not.
      if (reason !== "unreachable") records.delete(agent.id);
    },
  });
}
