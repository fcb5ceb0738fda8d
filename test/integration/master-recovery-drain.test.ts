/**
 * Deactivation and drain state survive a master SIGKILL: a real master with
 * a durable registry (--registry=replicated_log, --work_dir), three agents
 * (one deactivated, one DRAINED, one DRAINING because its task ignores
 * SIGTERM), the master killed and restarted on the same port and work dir.
 * After the agents re-register the restarted master shows each as it was,
 * refuses to reactivate the DRAINING one, and finishes its drain.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { type AgentView, agentViews, operatorCall } from "../harness/operator.js";
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
} from "../harness/processes.js";
import type { Subscription } from "./master-clients.js";
import {
  acceptStubborn,
  agentIdOf,
  FAST_AGENT_FLAGS,
  FAST_MASTER_FLAGS,
  masterState,
  resubscribe,
  SHORT_TIMEOUTS_ENV,
  SURVIVING_FRAMEWORK_INFO,
  subscribeSurviving,
  waitUpdate,
} from "./master-recovery-helpers.js";

const open: Subscription[] = [];
after(async () => {
  for (const s of open) s.close();
  await stopAll();
});

const operator = operatorCall;

async function agents(master: DaemonHandle): Promise<Map<string, AgentView>> {
  const views = await agentViews(master);
  assert.ok(views !== undefined, "GET_AGENTS answered 200");
  return views;
}

/** Launches, on `agentId`, a task that ignores SIGTERM and asks for a 60 s grace period. */
async function launchStubborn(s: Subscription, taskId: string, agentId: string): Promise<void> {
  const event = await s.next(
    (e) =>
      e.type === "OFFERS" && (e.offers?.offers ?? []).some((o) => o.agent_id.value === agentId),
    `an offer from ${agentId}`,
    30_000,
  );
  const offer = (event.offers?.offers ?? []).find((o) => o.agent_id.value === agentId);
  if (offer === undefined) throw new Error(`no offer from ${agentId}`);
  await acceptStubborn(s, offer, taskId);
}

test("master restart: deactivated, DRAINED and DRAINING agents stay so after a SIGKILL and restart", async () => {
  const port = await freePort();
  const masterOptions = {
    port,
    env: SHORT_TIMEOUTS_ENV,
    flags: {
      ...FAST_MASTER_FLAGS,
      registry: "replicated_log",
      work_dir: tempDir("master-recovery-drain-"),
    },
  };
  const master = await startMaster(masterOptions);
  const handles = [];
  for (let i = 0; i < 3; i++) {
    handles.push(await startAgent({ master: master.address, flags: FAST_AGENT_FLAGS }));
  }
  await waitForAgents(master, 3);
  const state = await masterState(master.url);
  const [deactivated, drained, draining] = handles.map((h) => agentIdOf(state, h)) as [
    string,
    string,
    string,
  ];

  const first = await subscribeSurviving(master.url, "drain-restart");
  open.push(first);
  const frameworkId = first.frameworkId;
  await launchStubborn(first, "stubborn", draining);
  await waitUpdate(first, "stubborn", "TASK_RUNNING");

  const agentCall = (type: string, id: string, extra: Record<string, unknown> = {}) => ({
    type,
    [type.toLowerCase()]: { agent_id: { value: id }, ...extra },
  });
  assert.equal((await operator(master, agentCall("DEACTIVATE_AGENT", deactivated))).status, 200);
  assert.equal((await operator(master, agentCall("DRAIN_AGENT", drained))).status, 200);
  assert.equal((await operator(master, agentCall("DRAIN_AGENT", draining))).status, 200);
  await waitFor("the empty agent DRAINED", async () => {
    return (await agents(master)).get(drained)?.drain_info?.state === "DRAINED";
  });
  assert.equal((await agents(master)).get(draining)?.drain_info?.state, "DRAINING");

  master.kill("SIGKILL");
  await master.exited;
  first.close();

  const restarted = await startMaster(masterOptions);
  const seen = await waitFor(
    "the three agents re-registered",
    async () => {
      const all = await agents(restarted);
      return all.size === 3 ? all : undefined;
    },
    { timeoutMs: 30_000 },
  );
  const view = (id: string) => seen.get(id) as AgentView;
  assert.equal(view(deactivated).active, false);
  assert.equal(view(deactivated).deactivated, true);
  assert.equal(view(deactivated).drain_info, undefined);
  assert.equal(view(drained).active, false);
  assert.equal(view(drained).drain_info?.state, "DRAINED");
  assert.equal(view(draining).active, false);
  assert.equal(view(draining).drain_info?.state, "DRAINING");
  const legacy = (await getJson(`${restarted.url}/master/state`)) as {
    slaves: { id: string; active: boolean; drain_info?: { state: string } }[];
  };
  const legacyOf = (id: string) => legacy.slaves.find((a) => a.id === id);
  assert.equal(legacyOf(draining)?.drain_info?.state, "DRAINING");
  assert.equal(legacyOf(drained)?.drain_info?.state, "DRAINED");
  assert.equal(legacyOf(deactivated)?.active, false);
  assert.match(restarted.logs(), new RegExp(`Recovered agent ${draining} in the DRAINING state`));

  // The DRAINING agent cannot be reactivated; the others can.
  const refused = await operator(restarted, agentCall("REACTIVATE_AGENT", draining));
  assert.equal(refused.status, 400);
  assert.match(refused.text, /DRAINING/);
  assert.equal((await operator(restarted, agentCall("REACTIVATE_AGENT", deactivated))).status, 200);
  assert.equal((await operator(restarted, agentCall("REACTIVATE_AGENT", drained))).status, 200);
  const back = await agents(restarted);
  assert.equal(back.get(deactivated)?.active, true);
  assert.equal(back.get(drained)?.active, true);
  assert.equal(back.get(drained)?.drain_info, undefined);

  // The framework comes back; draining again with a short grace finishes the drain.
  const again = await resubscribe(
    restarted.url,
    "drain-restart",
    frameworkId,
    SURVIVING_FRAMEWORK_INFO,
  );
  open.push(again);
  again.autoAcknowledge = true;
  await again.nth("SUBSCRIBED");
  const redrain = agentCall("DRAIN_AGENT", draining, { max_grace_period: { seconds: 1 } });
  assert.equal((await operator(restarted, redrain)).status, 200);
  await waitUpdate(again, "stubborn", "TASK_KILLED");
  await waitFor(
    "the draining agent DRAINED",
    async () => (await agents(restarted)).get(draining)?.drain_info?.state === "DRAINED",
    { timeoutMs: 20_000 },
  );
});
