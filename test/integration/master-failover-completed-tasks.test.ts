/**
 * Finished tasks across a master failover, on a real master and agent: the
 * agent reports the frameworks that left it (with their finished tasks)
 * when it re-registers, and the restarted master lists those tasks again as
 * completed tasks of the framework when it knows the framework by then (it
 * subscribed again first). When the agent is back before the framework, the
 * master drops them, as Mesos does.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  freePort,
  getJson,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitForAgents,
  waitLong,
} from "../harness/processes.js";
import type { Subscription } from "./master-clients.js";
import {
  agentIdOf,
  FAST_AGENT_FLAGS,
  FAST_MASTER_FLAGS,
  type MasterStateSummary,
  masterState,
  resubscribe,
  SURVIVING_FRAMEWORK_INFO,
  subscribeSurviving,
  waitUpdate,
} from "./master-recovery-helpers.js";

const open: Subscription[] = [];
after(async () => {
  for (const s of open) s.close();
  await stopAll();
});

/** Accepts the first offer from `agentId` with one task running `true`. */
async function launchShort(s: Subscription, taskId: string, agentId: string): Promise<void> {
  const event = await s.next(
    (e) =>
      e.type === "OFFERS" && (e.offers?.offers ?? []).some((o) => o.agent_id.value === agentId),
    `an offer from agent ${agentId}`,
  );
  const offer = (event.offers?.offers ?? []).find((o) => o.agent_id.value === agentId);
  assert.ok(offer !== undefined);
  const cpus = offer.resources?.find((r) => r.name === "cpus");
  const mem = offer.resources?.find((r) => r.name === "mem");
  assert.ok(cpus !== undefined && mem !== undefined, "the offer has cpus and mem");
  const accepted = await s.call({
    type: "ACCEPT",
    accept: {
      offer_ids: [offer.id],
      operations: [
        {
          type: "LAUNCH",
          launch: {
            task_infos: [
              {
                name: taskId,
                task_id: { value: taskId },
                agent_id: offer.agent_id,
                resources: [
                  { ...cpus, scalar: { value: 0.1 } },
                  { ...mem, scalar: { value: 32 } },
                ],
                command: { value: "true" },
              },
            ],
          },
        },
      ],
      filters: { refuse_seconds: 3600 },
    },
  });
  assert.equal(accepted.status, 202, accepted.body);
}

function completedOf(state: MasterStateSummary | undefined, frameworkId: string): string[] {
  const framework = state?.frameworks.find((f) => f.id === frameworkId);
  return (framework?.completed_tasks ?? []).map((t) => `${t.id}:${t.state}`);
}

test("master failover: the agent's completed frameworks give a re-subscribed framework its finished tasks back", async () => {
  const masterPort = await freePort();
  const masterOptions = {
    port: masterPort,
    flags: { ...FAST_MASTER_FLAGS, registry: "replicated_log", work_dir: tempDir("mf-done-m-") },
  };
  const agentPort = await freePort();
  const agentWorkDir = tempDir("mf-done-a-");
  let master = await startMaster(masterOptions);
  const startTheAgent = () =>
    startAgent({
      master: master.address,
      port: agentPort,
      flags: { ...FAST_AGENT_FLAGS, work_dir: agentWorkDir },
    });
  let agent = await startTheAgent();
  await waitForAgents(master, 1);
  const agentId = agentIdOf(await masterState(master.url), agent);

  const first = await subscribeSurviving(master.url, "completed-across-failover");
  open.push(first);
  const frameworkId = first.frameworkId;
  await launchShort(first, "short", agentId);
  await waitUpdate(first, "short", "TASK_FINISHED");
  // The framework has nothing left on the agent: the agent lists it as completed.
  await waitLong("the agent to list the framework as completed", async () => {
    const state = await getJson<{ completed_frameworks?: { id: string }[] }>(`${agent.url}/state`);
    return state?.completed_frameworks?.some((f) => f.id === frameworkId);
  });
  // The acknowledgement makes it a completed task at the master too.
  await waitLong("the master to list the finished task as completed", async () => {
    const done = completedOf(await masterState(master.url), frameworkId);
    return done.includes("short:TASK_FINISHED");
  });

  // The sentinel marking the run finished is written in the background: the
  // restarted agent would otherwise see a live run, not a completed framework.
  const metaRoot = join(agentWorkDir, "meta");
  await waitLong("the finished run to be marked complete on disk", () =>
    existsSync(metaRoot)
      ? readdirSync(metaRoot, { recursive: true, encoding: "utf8" }).some(
          (p) => p.endsWith("executor.sentinel") && !p.split("/").includes("latest"),
        )
      : false,
  );

  // Master and agent die; the framework is back on the new master before the agent.
  master.kill("SIGKILL");
  agent.kill("SIGKILL");
  await master.exited;
  await agent.exited;
  first.close();
  master = await startMaster(masterOptions);
  const again = await resubscribe(
    master.url,
    "completed-across-failover",
    frameworkId,
    SURVIVING_FRAMEWORK_INFO,
  );
  open.push(again);
  await again.nth("SUBSCRIBED");
  assert.deepEqual(completedOf(await masterState(master.url), frameworkId), []);

  agent = await startTheAgent();
  const listed = await waitLong(
    "the finished task listed again once the agent is back",
    async () => {
      const state = await masterState(master.url);
      return state?.slaves.some((a) => a.id === agentId) &&
        completedOf(state, frameworkId).length > 0
        ? state
        : undefined;
    },
  );
  assert.deepEqual(completedOf(listed, frameworkId), ["short:TASK_FINISHED"]);
  assert.deepEqual(
    listed.completed_frameworks.map((f) => f.id),
    [],
    "the framework is live at the master, not completed",
  );

  // This time the agent is back before the framework: the master, which
  // does not know the framework yet, drops its finished tasks (as Mesos).
  master.kill("SIGKILL");
  await master.exited;
  again.close();
  master = await startMaster(masterOptions);
  await waitLong("the agent to re-register with the second new master", async () => {
    const state = await masterState(master.url);
    return state?.slaves.some((a) => a.id === agentId);
  });
  const late = await resubscribe(
    master.url,
    "completed-across-failover",
    frameworkId,
    SURVIVING_FRAMEWORK_INFO,
  );
  open.push(late);
  await late.nth("SUBSCRIBED");
  const afterLate = await masterState(master.url);
  assert.ok(afterLate?.frameworks.some((f) => f.id === frameworkId));
  assert.deepEqual(completedOf(afterLate, frameworkId), []);
  assert.match(master.logs(), /Possibly orphaned completed task short of framework/);
});
