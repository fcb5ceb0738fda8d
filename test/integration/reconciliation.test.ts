/**
 * Task reconciliation against a real master and agent, checked against what
 * Mesos' reconciliation guide, HA framework guide and master code say:
 * - every answer is a master update (SOURCE_MASTER, REASON_RECONCILIATION,
 *   no uuid so nothing to acknowledge, no data or labels);
 * - implicit reconciliation reports every task the master tracks, with the
 *   state of the update awaiting acknowledgement first; acknowledged
 *   terminal tasks and tasks on unreachable agents are not reported;
 * - explicit reconciliation of a task the master does not track answers by
 *   what it knows of the agent: TASK_GONE (registered), TASK_UNREACHABLE
 *   (with the unreachable time), TASK_GONE_BY_OPERATOR (marked gone),
 *   TASK_UNKNOWN (no agent id or an unknown one); a framework without
 *   PARTITION_AWARE gets TASK_LOST for all four;
 * - KILL of an unknown task is answered as its reconciliation;
 * - after a master failover nothing is answered for tasks on agents that
 *   have not reregistered yet (nor, without an agent id, for any unknown
 *   task while some agent is missing), until the agent comes back.
 * Answers for one framework arrive in call order on its stream, so "no
 * answer" is proven by a later marker task whose answer arrives first.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import type { Offer, TaskInfo, TaskStatus } from "../../src/common/protocol/generated/mesos-v1.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import {
  type DaemonHandle,
  freePort,
  getJson,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
  waitForAgents,
  waitLong,
} from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";
import {
  FAST_AGENT_FLAGS,
  FAST_MASTER_FLAGS,
  masterState,
  quiet,
  resubscribe,
  waitUpdate,
} from "./master-recovery-helpers.js";

const open: Subscription[] = [];
const stoppedAgents: DaemonHandle[] = [];
after(async () => {
  for (const agent of stoppedAgents) agent.kill("SIGCONT");
  for (const s of open) s.close();
  await stopAll();
});

const AWARE_INFO = {
  checkpoint: true,
  failover_timeout: 3600,
  capabilities: [{ type: "PARTITION_AWARE" }],
};
const LEGACY_INFO = { checkpoint: true, failover_timeout: 3600 };

/** An agent id no master has given out: reconciling with it is always answered. */
const STRANGER_AGENT = "00000000-0000-0000-0000-000000000000-S999";

async function framework(
  url: string,
  name: string,
  info: Record<string, unknown>,
): Promise<Subscription> {
  const s = await subscribe(url, subscribeCall(name, info));
  open.push(s);
  await s.nth("SUBSCRIBED");
  return s;
}

let markers = 0;

/**
 * Sends RECONCILE for `tasks` (none: implicit) and returns the answers it
 * produced (the updates with REASON_RECONCILIATION). A marker task on an
 * unknown agent follows in a second call; its answer arrives after every
 * answer of the first, so what came before it is all the master said.
 */
async function reconcileAnswers(
  s: Subscription,
  tasks: { taskId: string; agentId?: string }[],
): Promise<TaskStatus[]> {
  const before = s.events.length;
  const toCall = (list: { taskId: string; agentId?: string }[]) =>
    s.call({
      type: "RECONCILE",
      reconcile: {
        tasks: list.map((t) => ({
          task_id: { value: t.taskId },
          ...(t.agentId === undefined ? {} : { agent_id: { value: t.agentId } }),
        })),
      },
    });
  const first = await toCall(tasks);
  assert.equal(first.status, 202, first.body);
  const marker = `marker-${++markers}`;
  const second = await toCall([{ taskId: marker, agentId: STRANGER_AGENT }]);
  assert.equal(second.status, 202, second.body);
  const index = await waitFor(
    `the answer for ${marker}`,
    () => {
      const i = s.events.findIndex(
        (e, n) => n >= before && e.update?.status.task_id.value === marker,
      );
      return i >= 0 ? i : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 10 },
  );
  // Other updates may interleave (an agent re-sending an unacknowledged one).
  return s.events
    .slice(before, index)
    .map((e) => e.update?.status)
    .filter((status): status is TaskStatus => status?.reason === "REASON_RECONCILIATION");
}

/** Asserts the fields every reconciliation answer has (and the ones it never has). */
function assertMasterAnswer(status: TaskStatus | undefined, message: string): TaskStatus {
  assert.ok(status !== undefined, `no answer where "${message}" was expected`);
  assert.equal(status.source, "SOURCE_MASTER");
  assert.equal(status.reason, "REASON_RECONCILIATION");
  assert.equal(status.message, message);
  assert.equal(status.uuid, undefined, "a reconciliation answer needs no acknowledgement");
  assert.equal(status.data, undefined);
  assert.equal(status.labels, undefined);
  assert.ok((status.timestamp ?? 0) > 0);
  return status;
}

function only(answers: TaskStatus[], taskId: string): TaskStatus | undefined {
  const found = answers.filter((a) => a.task_id.value === taskId);
  assert.ok(found.length <= 1, `${found.length} answers for ${taskId}`);
  return found[0];
}

async function acknowledge(s: Subscription, status: TaskStatus | undefined): Promise<void> {
  assert.ok(status?.uuid !== undefined && status.agent_id !== undefined);
  const result = await s.call({
    type: "ACKNOWLEDGE",
    acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid },
  });
  assert.equal(result.status, 202, result.body);
}

/** Accepts the first offer with one 0.1 cpus / 32 MB command task per entry of `commands`. */
async function launch(s: Subscription, commands: Record<string, string>): Promise<Offer> {
  const event = await s.next((e) => e.type === "OFFERS", "an offer", 30_000);
  const offer = event.offers?.offers?.[0] as Offer;
  const cpus = offer.resources?.find((r) => r.name === "cpus");
  const mem = offer.resources?.find((r) => r.name === "mem");
  assert.ok(cpus !== undefined && mem !== undefined);
  const tasks: TaskInfo[] = Object.entries(commands).map(([taskId, value]) => ({
    name: taskId,
    task_id: { value: taskId },
    agent_id: offer.agent_id,
    resources: [
      { ...cpus, scalar: { value: 0.1 } },
      { ...mem, scalar: { value: 32 } },
    ],
    command: { value },
  }));
  const accepted = await s.call({
    type: "ACCEPT",
    accept: {
      offer_ids: [offer.id],
      operations: [{ type: "LAUNCH", launch: { task_infos: tasks } }],
      filters: { refuse_seconds: 3600 },
    },
  });
  assert.equal(accepted.status, 202, accepted.body);
  return offer;
}

/** `master/messages_kill_task` and `master/messages_reconcile_tasks`. */
async function messageCounters(url: string): Promise<{ kill: number; reconcile: number }> {
  const snapshot = await getJson<Record<string, number>>(`${url}/metrics/snapshot`);
  assert.ok(snapshot !== undefined);
  return {
    kill: snapshot["master/messages_kill_task"] ?? Number.NaN,
    reconcile: snapshot["master/messages_reconcile_tasks"] ?? Number.NaN,
  };
}

function updatesOf(s: Subscription, taskId: string): TaskStatus[] {
  return s.events
    .filter((e) => e.type === "UPDATE" && e.update?.status.task_id.value === taskId)
    .map((e) => e.update?.status as TaskStatus);
}

interface TaskStates {
  frameworks: {
    id: string;
    tasks: { id: string; state: string }[];
    completed_tasks: { id: string; state: string }[];
  }[];
}

async function taskState(
  url: string,
  frameworkId: string,
  taskId: string,
): Promise<{ list: "tasks" | "completed_tasks"; state: string } | undefined> {
  const state = await getJson<TaskStates>(`${url}/master/state`);
  const fw = state?.frameworks.find((f) => f.id === frameworkId);
  const active = fw?.tasks.find((t) => t.id === taskId);
  if (active !== undefined) return { list: "tasks", state: active.state };
  const done = fw?.completed_tasks.find((t) => t.id === taskId);
  return done === undefined ? undefined : { list: "completed_tasks", state: done.state };
}

test("reconciliation: implicit and explicit answers, states awaiting acknowledgement, unknown tasks and agents, KILL of an unknown task, unreachable and gone agents", async () => {
  const { master, agent, agentId } = await startOneAgentCluster(FAST_AGENT_FLAGS, {
    masterFlags: FAST_MASTER_FLAGS,
  });

  const aware = await framework(master.url, "reconcile-aware", AWARE_INFO);
  const legacy = await framework(master.url, "reconcile-legacy", LEGACY_INFO);
  legacy.autoAcknowledge = true;
  await quiet(legacy);

  // Nothing launched yet: implicit reconciliation has nothing to say.
  assert.deepEqual(await reconcileAnswers(aware, []), []);

  await launch(aware, { run: "sleep 1000", quick: "true" });
  await quiet(aware);
  // The command executor says TASK_STARTING first; the next update waits for its acknowledgement.
  for (const taskId of ["run", "quick"]) {
    await acknowledge(
      aware,
      await waitLong(`${taskId} to be STARTING`, () =>
        updatesOf(aware, taskId).find((u) => u.state === "TASK_STARTING"),
      ),
    );
  }
  const running = await waitLong("run to be RUNNING", () =>
    updatesOf(aware, "run").find((u) => u.state === "TASK_RUNNING"),
  );
  await acknowledge(aware, running);
  const quickRunning = await waitLong("quick to be RUNNING", () =>
    updatesOf(aware, "quick").find((u) => u.state === "TASK_RUNNING"),
  );

  // quick has finished on the agent, but its RUNNING update is not
  // acknowledged: the master reports the state awaiting acknowledgement.
  await waitLong("the master to learn quick's latest state (FINISHED)", async () => {
    const s = await taskState(master.url, aware.frameworkId, "quick");
    return s?.state === "TASK_FINISHED";
  });
  let answers = await reconcileAnswers(aware, []);
  assert.deepEqual(answers.map((a) => a.task_id.value).sort(), ["quick", "run"]);
  const runAnswer = assertMasterAnswer(only(answers, "run"), "Reconciliation: Latest task state");
  assert.equal(runAnswer.state, "TASK_RUNNING");
  assert.equal(runAnswer.agent_id?.value, agentId);
  // A command task has no ExecutorInfo, so Mesos' answer names no executor.
  assert.equal(runAnswer.executor_id, undefined);
  assert.deepEqual(runAnswer.container_status, running?.container_status);
  const quickAnswer = only(answers, "quick");
  assertMasterAnswer(quickAnswer, "Reconciliation: Latest task state");
  assert.equal(quickAnswer?.state, "TASK_RUNNING");
  answers = await reconcileAnswers(aware, [{ taskId: "quick" }]);
  assert.equal(only(answers, "quick")?.state, "TASK_RUNNING");

  // Acknowledged: FINISHED comes; unacknowledged, it is what reconciliation says.
  await acknowledge(aware, quickRunning);
  const finished = await waitLong("quick to be FINISHED", () =>
    updatesOf(aware, "quick").find((u) => u.state === "TASK_FINISHED"),
  );
  answers = await reconcileAnswers(aware, [{ taskId: "quick", agentId }]);
  assert.equal(
    assertMasterAnswer(only(answers, "quick"), "Reconciliation: Latest task state").state,
    "TASK_FINISHED",
  );

  // Once acknowledged the task is completed: implicit leaves it out and an
  // explicit question is answered by what the master knows of the agent.
  await acknowledge(aware, finished);
  await waitFor("quick to be a completed task", async () => {
    const s = await taskState(master.url, aware.frameworkId, "quick");
    return s?.list === "completed_tasks";
  });
  answers = await reconcileAnswers(aware, []);
  assert.deepEqual(
    answers.map((a) => `${a.task_id.value} ${a.state}`),
    ["run TASK_RUNNING"],
  );
  answers = await reconcileAnswers(aware, [
    { taskId: "quick", agentId },
    { taskId: "quick" },
    { taskId: "never", agentId },
    { taskId: "never" },
    { taskId: "elsewhere", agentId: STRANGER_AGENT },
    { taskId: "run", agentId },
  ]);
  assert.deepEqual(
    answers.map((a) => `${a.task_id.value} ${a.state} ${a.agent_id?.value ?? "-"}`),
    [
      `quick TASK_GONE ${agentId}`,
      "quick TASK_UNKNOWN -",
      `never TASK_GONE ${agentId}`,
      "never TASK_UNKNOWN -",
      `elsewhere TASK_UNKNOWN ${STRANGER_AGENT}`,
      `run TASK_RUNNING ${agentId}`,
    ],
  );
  assertMasterAnswer(answers[0], "Reconciliation: Task is unknown to the agent");
  assertMasterAnswer(answers[1], "Reconciliation: Task is unknown");
  assertMasterAnswer(answers[4], "Reconciliation: Task is unknown");

  // Without PARTITION_AWARE the same questions get TASK_LOST, with the same
  // messages; another framework's task is unknown to this one.
  answers = await reconcileAnswers(legacy, [
    { taskId: "run", agentId },
    { taskId: "never" },
    { taskId: "elsewhere", agentId: STRANGER_AGENT },
  ]);
  assert.deepEqual(
    answers.map((a) => `${a.task_id.value} ${a.state}`),
    ["run TASK_LOST", "never TASK_LOST", "elsewhere TASK_LOST"],
  );
  assertMasterAnswer(answers[0], "Reconciliation: Task is unknown to the agent");
  assertMasterAnswer(answers[1], "Reconciliation: Task is unknown");

  // KILL of a task the master does not know is answered by reconciling it
  // (and counted as a reconciliation too, as in Mesos).
  const counters = await messageCounters(master.url);
  const before = aware.events.length;
  const kill = await aware.call({
    type: "KILL",
    kill: { task_id: { value: "never" }, agent_id: { value: agentId } },
  });
  assert.equal(kill.status, 202, kill.body);
  const killed = await aware.next(
    (e) => aware.events.indexOf(e) >= before && e.update?.status.task_id.value === "never",
    "the answer to KILL of an unknown task",
  );
  assertMasterAnswer(killed.update?.status, "Reconciliation: Task is unknown to the agent");
  assert.equal(killed.update?.status.state, "TASK_GONE");
  assert.deepEqual(await messageCounters(master.url), {
    kill: counters.kill + 1,
    reconcile: counters.reconcile + 1,
  });

  // RECONCILE needs its 'reconcile' field, as in Mesos.
  const malformed = await aware.call({ type: "RECONCILE" });
  assert.equal(malformed.status, 400);
  assert.equal(
    malformed.body,
    "Failed to validate scheduler::Call: Expecting 'reconcile' to be present",
  );

  // The agent is partitioned: its task moves to the unreachable tasks, which
  // implicit reconciliation leaves out; asked with the agent id it is
  // TASK_UNREACHABLE since the time the agent was marked unreachable.
  const beforePartition = aware.events.length;
  agent.kill("SIGSTOP");
  stoppedAgents.push(agent);
  const unreachable = await waitUpdate(aware, "run", "TASK_UNREACHABLE", {
    after: beforePartition,
  });
  const since = unreachable.update?.status.unreachable_time;
  assert.ok(since !== undefined);
  assert.deepEqual(await reconcileAnswers(aware, []), []);
  answers = await reconcileAnswers(aware, [{ taskId: "run", agentId }, { taskId: "run" }]);
  assert.deepEqual(
    answers.map((a) => `${a.task_id.value} ${a.state}`),
    ["run TASK_UNREACHABLE", "run TASK_UNKNOWN"],
  );
  assertMasterAnswer(answers[0], "Reconciliation: Task is unreachable");
  assert.deepEqual(answers[0]?.unreachable_time, since);
  answers = await reconcileAnswers(legacy, [{ taskId: "gone-with-it", agentId }]);
  assertMasterAnswer(answers[0], "Reconciliation: Task is unreachable");
  assert.equal(answers[0]?.state, "TASK_LOST");
  assert.deepEqual(answers[0]?.unreachable_time, since);

  // Healed: the task is tracked again and implicit reconciliation reports it.
  agent.kill("SIGCONT");
  stoppedAgents.pop();
  await waitUpdate(aware, "run", "TASK_RUNNING", {
    after: beforePartition,
    reason: "REASON_AGENT_REREGISTERED",
  });
  answers = await reconcileAnswers(aware, []);
  assert.deepEqual(
    answers.map((a) => `${a.task_id.value} ${a.state}`),
    ["run TASK_RUNNING"],
  );

  // Marked gone by the operator: TASK_GONE_BY_OPERATOR (TASK_LOST without PARTITION_AWARE).
  await waitForAgents(master, 1);
  const gone = await fetch(`${master.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      type: "MARK_AGENT_GONE",
      mark_agent_gone: { agent_id: { value: agentId } },
    }),
  });
  assert.equal(gone.status, 200);
  await waitUpdate(aware, "run", "TASK_GONE_BY_OPERATOR");
  answers = await reconcileAnswers(aware, [{ taskId: "run", agentId }]);
  assert.equal(
    assertMasterAnswer(answers[0], "Reconciliation: Task is gone").state,
    "TASK_GONE_BY_OPERATOR",
  );
  answers = await reconcileAnswers(legacy, [{ taskId: "run", agentId }]);
  assert.equal(assertMasterAnswer(answers[0], "Reconciliation: Task is gone").state, "TASK_LOST");
  assert.deepEqual(await reconcileAnswers(aware, []), []);
});

test("reconciliation during master failover: no answer for tasks on agents that have not reregistered, until they do; then the states awaiting acknowledgement", async () => {
  const workDir = tempDir("reconcile-failover-");
  const options = {
    flags: { ...FAST_MASTER_FLAGS, registry: "replicated_log", work_dir: workDir },
  };
  const master = await startMaster(options);
  const agent = await startAgent({ master: master.address, flags: FAST_AGENT_FLAGS });
  const [agentId] = await waitForAgents(master, 1);
  assert.ok(agentId !== undefined);
  const first = await framework(master.url, "reconcile-failover", AWARE_INFO);
  const frameworkId = first.frameworkId;
  await launch(first, { kept: "sleep 1000", ended: "true" });
  // kept: everything acknowledged; ended: finishes with its RUNNING unacknowledged.
  for (const [taskId, state] of [
    ["kept", "TASK_STARTING"],
    ["kept", "TASK_RUNNING"],
    ["ended", "TASK_STARTING"],
  ] as const) {
    await acknowledge(
      first,
      await waitLong(`${taskId} ${state}`, () =>
        updatesOf(first, taskId).find((u) => u.state === state),
      ),
    );
  }
  await waitLong("ended to be RUNNING", () =>
    updatesOf(first, "ended").find((u) => u.state === "TASK_RUNNING"),
  );

  // The agent cannot answer while the master restarts on the same port.
  agent.kill("SIGSTOP");
  stoppedAgents.push(agent);
  master.kill("SIGKILL");
  await master.exited;
  first.close();
  const restarted = await startMaster({ ...options, port: master.port });
  const again = await resubscribe(restarted.url, "reconcile-failover", frameworkId, AWARE_INFO);
  open.push(again);
  await again.nth("SUBSCRIBED");

  // The master knows the agent from its registry but not its tasks: it
  // keeps quiet about them, and about any task asked without an agent id.
  assert.deepEqual(await reconcileAnswers(again, []), []);
  assert.deepEqual(
    await reconcileAnswers(again, [
      { taskId: "kept", agentId },
      { taskId: "kept" },
      { taskId: "ended", agentId },
      { taskId: "never" },
    ]),
    [],
  );
  assert.match(
    restarted.logs(),
    new RegExp(`Dropping reconciliation of task kept .*agent ${agentId} has not yet reregistered`),
  );

  agent.kill("SIGCONT");
  stoppedAgents.pop();
  await waitFor(
    "the agent to reregister with the restarted master",
    async () => (await masterState(restarted.url))?.slaves.some((a) => a.id === agentId),
    { timeoutMs: 30_000 },
  );
  // Back: the agent's tasks are known again, ended still with the state
  // awaiting acknowledgement (the agent re-sends that RUNNING update).
  const answers = await reconcileAnswers(again, [
    { taskId: "kept", agentId },
    { taskId: "ended", agentId },
    { taskId: "never" },
  ]);
  assert.deepEqual(
    answers.map((a) => `${a.task_id.value} ${a.state}`),
    ["kept TASK_RUNNING", "ended TASK_RUNNING", "never TASK_UNKNOWN"],
  );
  assertMasterAnswer(answers[0], "Reconciliation: Latest task state");
  assertMasterAnswer(answers[1], "Reconciliation: Latest task state");
  const implicit = await reconcileAnswers(again, []);
  assert.deepEqual(implicit.map((a) => `${a.task_id.value} ${a.state}`).sort(), [
    "ended TASK_RUNNING",
    "kept TASK_RUNNING",
  ]);
  // Acknowledging the re-sent RUNNING lets FINISHED through.
  await acknowledge(
    again,
    await waitLong("ended's RUNNING re-sent", () =>
      updatesOf(again, "ended").find((u) => u.state === "TASK_RUNNING" && u.uuid !== undefined),
    ),
  );
  const finished = await waitLong("ended to be FINISHED", () =>
    updatesOf(again, "ended").find((u) => u.state === "TASK_FINISHED"),
  );
  await acknowledge(again, finished);
});

test("framework failover: offers are dropped and made again for the new subscription, tasks are kept and reported by reconciliation", async () => {
  const { master } = await startOneAgentCluster(FAST_AGENT_FLAGS, {
    masterFlags: FAST_MASTER_FLAGS,
  });
  const first = await framework(master.url, "reconcile-offers", AWARE_INFO);
  first.autoAcknowledge = true;
  const frameworkId = first.frameworkId;
  await launch(first, { kept: "sleep 1000" });
  await waitUpdate(first, "kept", "TASK_RUNNING", { timeoutMs: 60_000 });
  // An offer held (neither accepted nor declined) when the scheduler fails over.
  const revive = await first.call({ type: "REVIVE", revive: {} });
  assert.equal(revive.status, 202, revive.body);
  const held = await first.next(
    (e) => e.type === "OFFERS" && first.events.filter((x) => x.type === "OFFERS").indexOf(e) >= 1,
    "a second offer",
    30_000,
  );
  const heldId = held.offers?.offers?.[0]?.id.value;
  assert.ok(heldId !== undefined);

  const second = await resubscribe(master.url, "reconcile-offers", frameworkId, AWARE_INFO);
  open.push(second);
  second.autoAcknowledge = true;
  await second.nth("SUBSCRIBED");
  assert.equal((await first.nth("ERROR")).error?.message, "Framework failed over");
  // The held offer is withdrawn without a RESCIND; the resources come back in a new offer.
  const fresh = await second.nth("OFFERS", 1, 30_000);
  const freshIds = (fresh.offers?.offers ?? []).map((o) => o.id.value);
  assert.ok(!freshIds.includes(heldId), "an offer of the previous subscription was re-sent");
  assert.equal(
    second.events.some((e) => e.type === "RESCIND"),
    false,
  );
  const stale = await second.call({
    type: "ACCEPT",
    accept: {
      offer_ids: [{ value: heldId }],
      operations: [
        {
          type: "LAUNCH",
          launch: {
            task_infos: [
              {
                name: "late",
                task_id: { value: "late" },
                agent_id: held.offers?.offers?.[0]?.agent_id ?? { value: "" },
                resources: [{ name: "cpus", type: "SCALAR", scalar: { value: 0.1 } }],
                command: { value: "true" },
              },
            ],
          },
        },
      ],
    },
  });
  assert.equal(stale.status, 202, stale.body);
  const dropped = await waitUpdate(second, "late", "TASK_DROPPED");
  assert.equal(dropped.update?.status.reason, "REASON_INVALID_OFFERS");
  assert.equal(dropped.update?.status.source, "SOURCE_MASTER");

  // The task survived the failover; implicit reconciliation reports it.
  const answers = await reconcileAnswers(second, []);
  assert.deepEqual(
    answers.map((a) => `${a.task_id.value} ${a.state}`),
    ["kept TASK_RUNNING"],
  );
});

test("agent restart: a framework that does not checkpoint loses its task at once (TASK_LOST, not acknowledged); a checkpointing one keeps it", async () => {
  const master = await startMaster({ flags: FAST_MASTER_FLAGS });
  const agentOptions = {
    master: master.address,
    port: await freePort(),
    flags: { ...FAST_AGENT_FLAGS, work_dir: tempDir("reconcile-agent-") },
  };
  const agent = await startAgent(agentOptions);
  const [agentId] = await waitForAgents(master, 1);
  assert.ok(agentId !== undefined);
  const keeps = await framework(master.url, "reconcile-checkpointing", AWARE_INFO);
  keeps.autoAcknowledge = true;
  await launch(keeps, { durable: "sleep 1000" });
  await waitUpdate(keeps, "durable", "TASK_RUNNING", { timeoutMs: 60_000 });
  await quiet(keeps);
  const loses = await framework(master.url, "reconcile-volatile", {
    checkpoint: false,
    capabilities: [{ type: "PARTITION_AWARE" }],
  });
  loses.autoAcknowledge = true;
  await launch(loses, { volatile: "sleep 1000" });
  await waitUpdate(loses, "volatile", "TASK_RUNNING", { timeoutMs: 60_000 });

  const before = loses.events.length;
  agent.kill("SIGKILL");
  await agent.exited;
  const lost = await waitUpdate(loses, "volatile", "TASK_LOST", { after: before });
  const status = lost.update?.status;
  assert.equal(status?.reason, "REASON_AGENT_DISCONNECTED");
  assert.equal(status?.source, "SOURCE_MASTER");
  assert.match(status?.message ?? "", /^Agent .+ disconnected$/);
  assert.equal(status?.uuid, undefined);
  // The agent is still registered (disconnected): the task is unknown to it.
  let answers = await reconcileAnswers(loses, [{ taskId: "volatile", agentId }]);
  assert.equal(
    assertMasterAnswer(answers[0], "Reconciliation: Task is unknown to the agent").state,
    "TASK_GONE",
  );
  assert.deepEqual(await reconcileAnswers(loses, []), []);

  // Restarted on the same work dir, the agent recovers its id and the
  // checkpointing framework's task.
  await startAgent(agentOptions);
  await waitFor(
    "the restarted agent to reregister",
    async () => (await masterState(master.url))?.slaves.some((a) => a.id === agentId && a.active),
    { timeoutMs: 60_000 },
  );
  answers = await reconcileAnswers(keeps, []);
  assert.deepEqual(
    answers.map((a) => `${a.task_id.value} ${a.state} ${a.agent_id?.value}`),
    [`durable TASK_RUNNING ${agentId}`],
  );
});
