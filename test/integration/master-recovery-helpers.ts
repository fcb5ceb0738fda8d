/**
 * Shared steps of the fault-tolerance tests (master restart, partitions,
 * scheduler failover): launching a long `sleep` task from an offer, waiting
 * for task states, reading the master's state.
 */
import assert from "node:assert/strict";
import type { CommandInfo, Offer, TaskInfo } from "../../src/common/protocol/generated/mesos-v1.js";
import type { Event } from "../../src/common/protocol/generated/mesos-v1-scheduler.js";
import { type DaemonHandle, getJson, waitFor } from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";

/** Flags that make agents notice a lost master and retry quickly. */
export const FAST_AGENT_FLAGS = { registration_backoff_factor: "100ms" } as const;

/** Master flags for short health checks (a partition is noticed in ~2-3 s). */
export const FAST_MASTER_FLAGS = {
  allocation_interval: "100ms",
  agent_ping_timeout: "1secs",
  max_agent_ping_timeouts: 2,
} as const;

/** Lets the master take --agent_reregister_timeout below Mesos' 10mins minimum. */
export const SHORT_TIMEOUTS_ENV = { MESOS_TS_TESTING_SHORT_TIMEOUTS: "1" } as const;

/**
 * Waits for an offer (from `agentId` when given) and launches a `sleep`
 * task on it with 0.1 cpus and 32 MB; returns the agent id.
 */
export async function launchSleep(
  s: Subscription,
  taskId: string,
  agentId?: string,
  timeoutMs = 30_000,
): Promise<string> {
  const seen = new Set<string>();
  const event = await s.next(
    (e) =>
      e.type === "OFFERS" &&
      (e.offers?.offers ?? []).some(
        (o) => !seen.has(o.id.value) && (agentId === undefined || o.agent_id.value === agentId),
      ),
    `an offer${agentId === undefined ? "" : ` from agent ${agentId}`}`,
    timeoutMs,
  );
  const offer = (event.offers?.offers ?? []).find(
    (o) => agentId === undefined || o.agent_id.value === agentId,
  );
  if (offer === undefined) throw new Error("no offer");
  seen.add(offer.id.value);
  await acceptSmallTask(s, offer, taskId, { value: "sleep 1000" });
  return offer.agent_id.value;
}

/** Waits for an UPDATE of `taskId` in `state` arriving after the first `after` events. */
export function waitUpdate(
  s: Subscription,
  taskId: string,
  state: string,
  options: { after?: number; timeoutMs?: number; reason?: string } = {},
): Promise<Event> {
  const after = options.after ?? 0;
  return waitFor(
    `${state} for task ${taskId}`,
    () =>
      s.events
        .slice(after)
        .find(
          (e) =>
            e.type === "UPDATE" &&
            e.update?.status.task_id.value === taskId &&
            e.update.status.state === state &&
            (options.reason === undefined || e.update.status.reason === options.reason),
        ),
    { timeoutMs: options.timeoutMs ?? 30_000, intervalMs: 20 },
  );
}

/** Asks for the state of tasks (explicit) or of all known tasks (no tasks: implicit). */
export async function reconcile(
  s: Subscription,
  tasks: { taskId: string; agentId?: string }[] = [],
): Promise<void> {
  const result = await s.call({
    type: "RECONCILE",
    reconcile: {
      tasks: tasks.map((t) => ({
        task_id: { value: t.taskId },
        ...(t.agentId === undefined ? {} : { agent_id: { value: t.agentId } }),
      })),
    },
  });
  if (result.status !== 202) throw new Error(`RECONCILE answered ${result.status}`);
}

/**
 * Reconciles until the master reports `state` for the task (the master may
 * not answer while the agent is expected back, so the call is repeated).
 */
export async function reconcileUntil(
  s: Subscription,
  task: { taskId: string; agentId?: string },
  state: string,
  timeoutMs = 30_000,
): Promise<Event> {
  return waitFor(
    `reconciliation reporting ${state} for ${task.taskId}`,
    async () => {
      const before = s.events.length;
      await reconcile(s, [task]);
      await new Promise((r) => setTimeout(r, 200));
      return s.events
        .slice(before)
        .find(
          (e) =>
            e.update?.status.task_id.value === task.taskId &&
            e.update.status.reason === "REASON_RECONCILIATION" &&
            e.update.status.state === state,
        );
    },
    { timeoutMs, intervalMs: 300 },
  );
}

export interface MasterStateSummary {
  slaves: { id: string; active: boolean; pid: string }[];
  unreachable_slaves?: number;
  frameworks: {
    id: string;
    tasks: { id: string; state: string }[];
    completed_tasks: { id: string; state: string }[];
    unreachable_tasks?: { id: string; state: string }[];
  }[];
  completed_frameworks: { id: string; completed_tasks: { id: string; state: string }[] }[];
}

export function masterState(url: string): Promise<MasterStateSummary | undefined> {
  return getJson<MasterStateSummary>(`${url}/master/state`);
}

/** The id `state` gives the agent `agent` (found by its port in the agent's pid). */
export function agentIdOf(state: MasterStateSummary | undefined, agent: DaemonHandle): string {
  const found = state?.slaves.find((a) => a.pid.endsWith(`:${agent.port}`));
  assert.ok(found !== undefined, `agent on port ${agent.port} is not in the master's state`);
  return found.id;
}

/** A checkpointing, partition-aware framework that outlives an hour of failover. */
export const SURVIVING_FRAMEWORK_INFO = {
  checkpoint: true,
  failover_timeout: 3600,
  capabilities: [{ type: "PARTITION_AWARE" }],
} as const;

/** SUBSCRIBEs `SURVIVING_FRAMEWORK_INFO` as `name`, acknowledging updates; resolves once SUBSCRIBED. */
export async function subscribeSurviving(url: string, name: string): Promise<Subscription> {
  const s = await subscribe(url, subscribeCall(name, SURVIVING_FRAMEWORK_INFO));
  s.autoAcknowledge = true;
  await s.nth("SUBSCRIBED");
  return s;
}

/** SUBSCRIBE again as an existing framework (its id in the call and in the FrameworkInfo). */
export function resubscribe(
  url: string,
  name: string,
  frameworkId: string,
  info: Record<string, unknown>,
): Promise<Subscription> {
  return subscribe(url, {
    ...subscribeCall(name, { ...info, id: { value: frameworkId } }),
    framework_id: { value: frameworkId },
  });
}

/**
 * Stops offers to a framework and gives back those it holds (so another
 * framework gets them), including one already on its way when SUPPRESS lands.
 */
export async function quiet(s: Subscription): Promise<void> {
  s.autoDecline = true;
  await s.call({ type: "SUPPRESS", suppress: {} });
  const offerIds = s.events.flatMap((e) => (e.offers?.offers ?? []).map((o) => o.id));
  if (offerIds.length > 0) {
    await s.call({
      type: "DECLINE",
      decline: { offer_ids: offerIds, filters: { refuse_seconds: 3600 } },
    });
  }
}

/**
 * Accepts `offer` with one task that ignores SIGTERM (so only the kill
 * policy's SIGKILL ends it) and has a 60 s grace period.
 */
export function acceptStubborn(s: Subscription, offer: Offer, taskId: string): Promise<void> {
  return acceptSmallTask(
    s,
    offer,
    taskId,
    { value: "trap '' TERM; sleep 1000" },
    {
      kill_policy: { grace_period: { nanoseconds: 60e9 } },
    },
  );
}

/** Accepts `offer` with one task of 0.1 cpus and 32 MB running `command`; asserts 202. */
async function acceptSmallTask(
  s: Subscription,
  offer: Offer,
  taskId: string,
  command: CommandInfo,
  extra: Partial<TaskInfo> = {},
): Promise<void> {
  const cpus = offer.resources?.find((r) => r.name === "cpus");
  const mem = offer.resources?.find((r) => r.name === "mem");
  if (cpus === undefined || mem === undefined) throw new Error("the offer has no cpus or mem");
  const task: TaskInfo = {
    name: taskId,
    task_id: { value: taskId },
    agent_id: offer.agent_id,
    resources: [
      { ...cpus, scalar: { value: 0.1 } },
      { ...mem, scalar: { value: 32 } },
    ],
    command,
    ...extra,
  };
  const accepted = await s.call({
    type: "ACCEPT",
    accept: {
      offer_ids: [offer.id],
      operations: [{ type: "LAUNCH", launch: { task_infos: [task] } }],
      filters: { refuse_seconds: 0.1 },
    },
  });
  assert.equal(accepted.status, 202, accepted.body);
}
