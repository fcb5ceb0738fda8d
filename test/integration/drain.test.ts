/**
 * Agent draining with a real master, agent and running tasks: DRAIN_AGENT
 * kills the agent's tasks (grace capped by max_grace_period), the agent is
 * DRAINED once the terminal updates were acknowledged and offers nothing;
 * REACTIVATE_AGENT brings it back. With mark_gone the tasks end
 * TASK_GONE_BY_OPERATOR and the agent is marked gone (and shut down).
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import type { Event } from "../../src/common/protocol/generated/mesos-v1-scheduler.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, getJson, stopAll, waitFor } from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";
import {
  acceptStubborn,
  FAST_AGENT_FLAGS,
  FAST_MASTER_FLAGS,
  waitUpdate,
} from "./master-recovery-helpers.js";

const open: Subscription[] = [];
after(async () => {
  for (const s of open) s.close();
  await stopAll();
});

interface OperatorAnswer {
  status: number;
  text: string;
  json: () => unknown;
}

async function operator(master: DaemonHandle, call: unknown): Promise<OperatorAnswer> {
  const response = await fetch(`${master.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(call),
  });
  const text = await response.text();
  return { status: response.status, text, json: () => JSON.parse(text) as unknown };
}

interface AgentView {
  agent_info: { id: { value: string } };
  active: boolean;
  deactivated?: boolean;
  drain_info?: { state: string; config: { mark_gone?: boolean; max_grace_period?: unknown } };
  estimated_drain_start_time?: { nanoseconds: number };
}

async function agents(master: DaemonHandle): Promise<AgentView[]> {
  const answer = await operator(master, { type: "GET_AGENTS" });
  assert.equal(answer.status, 200, answer.text);
  const body = answer.json() as { get_agents: { agents?: AgentView[] } };
  return body.get_agents.agents ?? [];
}

async function framework(url: string, name: string): Promise<Subscription> {
  const s = await subscribe(
    url,
    subscribeCall(name, { capabilities: [{ type: "PARTITION_AWARE" }] }),
  );
  open.push(s);
  s.autoAcknowledge = true;
  await s.nth("SUBSCRIBED");
  return s;
}

/**
 * Launches a task that ignores SIGTERM (so only the kill policy's SIGKILL
 * ends it) with a 60 s grace period of its own.
 */
async function launchStubborn(
  s: Subscription,
  taskId: string,
  agentId: string,
  after = 0,
): Promise<void> {
  const fromAgent = (e: Event): boolean =>
    e.type === "OFFERS" && (e.offers?.offers ?? []).some((o) => o.agent_id.value === agentId);
  const event = await waitFor(
    `an offer from ${agentId}`,
    () => s.events.slice(after).find(fromAgent),
    { timeoutMs: 30_000, intervalMs: 20 },
  );
  const offer = (event.offers?.offers ?? []).find((o) => o.agent_id.value === agentId);
  if (offer === undefined) throw new Error(`no offer from ${agentId}`);
  await acceptStubborn(s, offer, taskId);
}

/** How many OFFERS events include an offer from `agentId`. */
function offersFrom(events: readonly Event[], agentId: string): number {
  return events.filter(
    (e) =>
      e.type === "OFFERS" && (e.offers?.offers ?? []).some((o) => o.agent_id.value === agentId),
  ).length;
}

test("drain: bad DRAIN_AGENT calls answer 400 with a reason", async () => {
  const { master, agentId } = await startOneAgentCluster(FAST_AGENT_FLAGS, {
    masterFlags: FAST_MASTER_FLAGS,
  });
  const missing = await operator(master, { type: "DRAIN_AGENT" });
  assert.equal(missing.status, 400);
  assert.match(missing.text, /Expecting 'drain_agent' to be present/);
  const unknown = await operator(master, {
    type: "DRAIN_AGENT",
    drain_agent: { agent_id: { value: "no-such-agent" } },
  });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.text, "Unknown agent");
  const negative = await operator(master, {
    type: "DRAIN_AGENT",
    drain_agent: { agent_id: { value: agentId }, max_grace_period: { seconds: -1 } },
  });
  assert.equal(negative.status, 400);
  assert.match(negative.text, /must not be negative/);
  const notDeactivated = await operator(master, {
    type: "REACTIVATE_AGENT",
    reactivate_agent: { agent_id: { value: agentId } },
  });
  assert.equal(notDeactivated.status, 400);
  assert.match(notDeactivated.text, /Agent is not deactivated/);
  // Nothing of that left a trace on the agent.
  const [view] = await agents(master);
  assert.equal(view?.drain_info, undefined);
  assert.equal(view?.deactivated, false);
});

test("drain: DRAIN_AGENT kills the task within max_grace_period (TASK_KILLED, REASON_AGENT_DRAINING); the agent is DRAINED and offers nothing until REACTIVATE_AGENT", async () => {
  const { master, agent, agentId } = await startOneAgentCluster(FAST_AGENT_FLAGS, {
    masterFlags: FAST_MASTER_FLAGS,
  });
  const s = await framework(master.url, "drain-me");
  await launchStubborn(s, "stubborn", agentId);
  await waitUpdate(s, "stubborn", "TASK_RUNNING");

  const drained = await operator(master, {
    type: "DRAIN_AGENT",
    drain_agent: { agent_id: { value: agentId }, max_grace_period: { seconds: 4 } },
  });
  assert.equal(drained.status, 200, drained.text);
  // The task ignores SIGTERM: the agent stays DRAINING until the (capped) grace period ends.
  const [draining] = await agents(master);
  assert.equal(draining?.drain_info?.state, "DRAINING");
  assert.equal(draining?.deactivated, true);
  assert.equal(draining?.active, false);
  assert.deepEqual(draining?.drain_info?.config, {
    mark_gone: false,
    max_grace_period: { nanoseconds: 4e9 },
  });
  assert.ok((draining?.estimated_drain_start_time?.nanoseconds ?? 0) > 0);
  const early = await operator(master, {
    type: "REACTIVATE_AGENT",
    reactivate_agent: { agent_id: { value: agentId } },
  });
  assert.equal(early.status, 400);
  assert.match(early.text, /still in the DRAINING state/);
  const agentDrain = await waitFor("the agent's /state to show its drain", async () => {
    const state = await getJson<{ drain_config?: { mark_gone?: boolean } }>(
      `${agent.url}/slave(1)/state`,
    );
    return state?.drain_config;
  });
  assert.equal(agentDrain.mark_gone, false);

  // The task's own 60 s grace period would outlast this wait: the drain's 4 s applies.
  const killed = await waitUpdate(s, "stubborn", "TASK_KILLED", { timeoutMs: 20_000 });
  assert.equal(killed.update?.status.reason, "REASON_AGENT_DRAINING");
  await waitFor(
    "the agent DRAINED",
    async () => (await agents(master))[0]?.drain_info?.state === "DRAINED",
    { timeoutMs: 15_000 },
  );
  const state = await getJson<{
    slaves: { id: string; deactivated: boolean; drain_info?: { state: string } }[];
  }>(`${master.url}/master/state`);
  assert.equal(state?.slaves[0]?.drain_info?.state, "DRAINED");
  assert.equal(state?.slaves[0]?.deactivated, true);
  const slaves = await getJson<{ slaves: { drain_info?: { state: string } }[] }>(
    `${master.url}/master/slaves`,
  );
  assert.equal(slaves?.slaves[0]?.drain_info?.state, "DRAINED");

  // No offers from a drained agent, even after REVIVE.
  const before = offersFrom(s.events, agentId);
  assert.equal((await s.call({ type: "REVIVE" })).status, 202);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.equal(offersFrom(s.events, agentId), before, "a drained agent was offered");

  const beforeReactivation = s.events.length;
  const reactivated = await operator(master, {
    type: "REACTIVATE_AGENT",
    reactivate_agent: { agent_id: { value: agentId } },
  });
  assert.equal(reactivated.status, 200, reactivated.text);
  const [back] = await agents(master);
  assert.equal(back?.drain_info, undefined);
  assert.equal(back?.deactivated, false);
  // It is offered and runs tasks again: the agent's drain ended with its last task.
  await launchStubborn(s, "after-drain", agentId, beforeReactivation);
  await waitUpdate(s, "after-drain", "TASK_RUNNING");
});

test("drain: with mark_gone the task ends TASK_GONE_BY_OPERATOR and the drained agent is marked gone and shut down", async () => {
  const { master, agent, agentId } = await startOneAgentCluster(FAST_AGENT_FLAGS, {
    masterFlags: FAST_MASTER_FLAGS,
  });
  const s = await framework(master.url, "drain-gone");
  await launchStubborn(s, "doomed", agentId);
  await waitUpdate(s, "doomed", "TASK_RUNNING");

  const drained = await operator(master, {
    type: "DRAIN_AGENT",
    drain_agent: {
      agent_id: { value: agentId },
      max_grace_period: { seconds: 0 },
      mark_gone: true,
    },
  });
  assert.equal(drained.status, 200, drained.text);
  const gone = await waitUpdate(s, "doomed", "TASK_GONE_BY_OPERATOR", { timeoutMs: 20_000 });
  assert.equal(gone.update?.status.reason, "REASON_AGENT_DRAINING");
  await waitFor("the agent to leave the master", async () => (await agents(master)).length === 0, {
    timeoutMs: 15_000,
  });
  // Marked gone: it was told to shut down, and may not drain (or come back) again.
  await waitFor("the agent process to exit", () => agent.child.exitCode !== null || undefined, {
    timeoutMs: 15_000,
  });
  const again = await operator(master, {
    type: "DRAIN_AGENT",
    drain_agent: { agent_id: { value: agentId } },
  });
  assert.equal(again.status, 400);
  assert.match(again.text, /Unknown agent/);
});
