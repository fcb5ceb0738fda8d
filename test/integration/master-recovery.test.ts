/**
 * A real mesos-master killed with SIGKILL and restarted on the same port and
 * --work_dir (durable registry): the agent that stays up re-registers with
 * its id and its running task, the framework re-subscribes with its id and
 * reconciles; an agent that never comes back is marked unreachable after
 * --agent_reregister_timeout. A damaged registry file stops the master with
 * a message naming the file.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  freePort,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
  waitForAgents,
} from "../harness/processes.js";
import type { Subscription } from "./master-clients.js";
import {
  agentIdOf,
  FAST_AGENT_FLAGS,
  FAST_MASTER_FLAGS,
  launchSleep,
  masterState,
  reconcile,
  reconcileUntil,
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

test("master restart: agents re-register with their ids, tasks survive, frameworks reconcile; a missing agent becomes unreachable", async () => {
  const port = await freePort();
  const workDir = tempDir("master-recovery-");
  const masterOptions = {
    port,
    env: SHORT_TIMEOUTS_ENV,
    flags: {
      ...FAST_MASTER_FLAGS,
      registry: "replicated_log",
      work_dir: workDir,
      agent_reregister_timeout: "8secs",
    },
  };
  const master = await startMaster(masterOptions);
  const stays = await startAgent({ master: master.address, flags: FAST_AGENT_FLAGS });
  const leaves = await startAgent({ master: master.address, flags: FAST_AGENT_FLAGS });
  await waitForAgents(master, 2);
  const state = await masterState(master.url);
  const stayingId = agentIdOf(state, stays);
  const leavingId = agentIdOf(state, leaves);

  const first = await subscribeSurviving(master.url, "restart-test");
  open.push(first);
  const frameworkId = first.frameworkId;
  await launchSleep(first, "survivor", stayingId);
  await waitUpdate(first, "survivor", "TASK_RUNNING");

  // The master dies, and so does one agent for good.
  master.kill("SIGKILL");
  leaves.kill("SIGKILL");
  await master.exited;
  await leaves.exited;
  first.close();

  const restarted = await startMaster(masterOptions);
  const back = await waitFor(
    "the staying agent re-registered with its id",
    async () => {
      const s = await masterState(restarted.url);
      return s?.slaves.find((a) => a.id === stayingId);
    },
    { timeoutMs: 30_000 },
  );
  assert.equal(back.id, stayingId);
  await waitFor("the survivor task known again", async () => {
    const s = await masterState(restarted.url);
    return s?.frameworks
      .find((f) => f.id === frameworkId)
      ?.tasks.some((t) => t.id === "survivor" && t.state === "TASK_RUNNING");
  });

  const again = await resubscribe(
    restarted.url,
    "restart-test",
    frameworkId,
    SURVIVING_FRAMEWORK_INFO,
  );
  open.push(again);
  again.autoAcknowledge = true;
  const subscribed = await again.nth("SUBSCRIBED");
  assert.equal(subscribed.subscribed?.framework_id.value, frameworkId);
  await reconcile(again);
  const implicit = await waitUpdate(again, "survivor", "TASK_RUNNING");
  assert.equal(implicit.update?.status.reason, "REASON_RECONCILIATION");
  assert.equal(implicit.update?.status.agent_id?.value, stayingId);

  // The agent that never came back: unreachable after the timeout; the
  // framework learns it by reconciling a task it believes is there.
  const unreachable = await reconcileUntil(
    again,
    { taskId: "ghost", agentId: leavingId },
    "TASK_UNREACHABLE",
    30_000,
  );
  assert.ok((unreachable.update?.status.unreachable_time?.nanoseconds ?? 0) > 0);
  const failure = await again.next(
    (e) => e.type === "FAILURE" && e.failure?.agent_id?.value === leavingId,
    "FAILURE for the missing agent",
  );
  assert.ok(failure !== undefined);
  assert.match(restarted.logs(), /did not reregister within 8secs after master failover/);

  // A second restart still knows the agent is unreachable (the registry has it).
  restarted.kill("SIGKILL");
  await restarted.exited;
  const third = await startMaster(masterOptions);
  const later = await resubscribe(third.url, "restart-test", frameworkId, SURVIVING_FRAMEWORK_INFO);
  open.push(later);
  await later.nth("SUBSCRIBED");
  const remembered = await reconcileUntil(
    later,
    { taskId: "ghost", agentId: leavingId },
    "TASK_UNREACHABLE",
  );
  assert.equal(remembered.update?.status.agent_id?.value, leavingId);
});

test("master restart: a damaged registry file stops the master with the file named", async () => {
  const workDir = tempDir("master-bad-registry-");
  const file = join(workDir, "registry.db");
  writeFileSync(file, "definitely not an sqlite database ".repeat(100));
  const result = await runBinary(
    "mesos-master",
    [`--work_dir=${workDir}`, "--ip=127.0.0.1", `--port=${await freePort()}`],
    { timeoutMs: 30_000 },
  );
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`Cannot use the registry at ${file}`));
  assert.match(result.stderr, /move it away/);
});
