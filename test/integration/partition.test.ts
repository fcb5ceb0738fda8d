/**
 * A partitioned agent (its process stopped with SIGSTOP, so its connection
 * stays open but nothing answers): after the ping timeouts the master marks
 * it unreachable, a PARTITION_AWARE framework gets TASK_UNREACHABLE and
 * another one TASK_LOST. After SIGCONT the agent re-registers and the tasks
 * are RUNNING again for both (as in Mesos 1.5 and later), also through
 * reconciliation. MARK_AGENT_GONE then refuses the agent for good.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { stopAll, waitFor, waitForAgents } from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";
import {
  FAST_AGENT_FLAGS,
  FAST_MASTER_FLAGS,
  launchSleep,
  masterState,
  quiet,
  reconcileUntil,
  waitUpdate,
} from "./master-recovery-helpers.js";

const open: Subscription[] = [];
let stopped: { kill(signal: NodeJS.Signals): void } | undefined;
after(async () => {
  stopped?.kill("SIGCONT");
  for (const s of open) s.close();
  await stopAll();
});

async function framework(
  url: string,
  name: string,
  partitionAware: boolean,
): Promise<Subscription> {
  const s = await subscribe(
    url,
    subscribeCall(name, {
      checkpoint: true,
      failover_timeout: 3600,
      capabilities: partitionAware ? [{ type: "PARTITION_AWARE" }] : [],
    }),
  );
  open.push(s);
  s.autoAcknowledge = true;
  await s.nth("SUBSCRIBED");
  return s;
}

test("partition: SIGSTOP makes the agent unreachable (TASK_UNREACHABLE / TASK_LOST); SIGCONT heals it; MARK_AGENT_GONE refuses it", async () => {
  const { master, agent, agentId } = await startOneAgentCluster(FAST_AGENT_FLAGS, {
    masterFlags: FAST_MASTER_FLAGS,
  });
  const aware = await framework(master.url, "partition-aware", true);
  await launchSleep(aware, "aware-task", agentId);
  await waitUpdate(aware, "aware-task", "TASK_RUNNING");
  await quiet(aware);
  const plain = await framework(master.url, "not-partition-aware", false);
  await launchSleep(plain, "plain-task", agentId);
  await waitUpdate(plain, "plain-task", "TASK_RUNNING");

  const beforeAware = aware.events.length;
  const beforePlain = plain.events.length;
  agent.kill("SIGSTOP");
  stopped = agent;
  const unreachable = await waitUpdate(aware, "aware-task", "TASK_UNREACHABLE", {
    after: beforeAware,
  });
  assert.equal(unreachable.update?.status.reason, "REASON_AGENT_REMOVED");
  assert.ok((unreachable.update?.status.unreachable_time?.nanoseconds ?? 0) > 0);
  await waitUpdate(plain, "plain-task", "TASK_LOST", { after: beforePlain });
  await aware.next(
    (e) => e.type === "FAILURE" && e.failure?.agent_id?.value === agentId,
    "FAILURE (agent lost)",
  );
  const during = await masterState(master.url);
  assert.equal(
    during?.slaves.some((s) => s.id === agentId),
    false,
  );
  await reconcileUntil(aware, { taskId: "aware-task", agentId }, "TASK_UNREACHABLE");

  // Heal: the agent notices the master stopped pinging and re-registers.
  agent.kill("SIGCONT");
  stopped = undefined;
  await waitUpdate(aware, "aware-task", "TASK_RUNNING", {
    after: beforeAware,
    reason: "REASON_AGENT_REREGISTERED",
  });
  await waitUpdate(plain, "plain-task", "TASK_RUNNING", {
    after: beforePlain,
    reason: "REASON_AGENT_REREGISTERED",
  });
  await reconcileUntil(aware, { taskId: "aware-task", agentId }, "TASK_RUNNING");
  await reconcileUntil(plain, { taskId: "plain-task", agentId }, "TASK_RUNNING");
  await waitForAgents(master, 1);

  // An operator marks the agent gone: its tasks are gone and it is told to shut down.
  const gone = await fetch(`${master.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      type: "MARK_AGENT_GONE",
      mark_agent_gone: { agent_id: { value: agentId } },
    }),
  });
  assert.equal(gone.status, 200);
  await waitUpdate(aware, "aware-task", "TASK_GONE_BY_OPERATOR");
  await waitUpdate(plain, "plain-task", "TASK_LOST", { after: beforePlain + 1 });
  await waitFor(
    "the gone agent to shut down",
    async () => agent.child.exitCode !== null || agent.child.signalCode !== null,
    {
      timeoutMs: 30_000,
    },
  );
  await reconcileUntil(aware, { taskId: "aware-task", agentId }, "TASK_GONE_BY_OPERATOR");
});
