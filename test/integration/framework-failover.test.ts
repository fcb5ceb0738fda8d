/**
 * Scheduler failover against a real master and agent: a scheduler process
 * killed with SIGKILL is replaced by one subscribing with the same framework
 * id, which gets the running task back through reconciliation; a second
 * subscriber with that id takes over and the first gets ERROR "Framework
 * failed over"; a framework whose scheduler does not come back within its
 * failover_timeout is removed and its task killed.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { after, test } from "node:test";
import { pathToFileURL } from "node:url";
import { startOneAgentCluster } from "../harness/cluster.js";
import { repoRoot, stopAll, waitFor } from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";
import {
  FAST_AGENT_FLAGS,
  FAST_MASTER_FLAGS,
  launchSleep,
  masterState,
  quiet,
  reconcile,
  resubscribe,
  waitUpdate,
} from "./master-recovery-helpers.js";

const open: Subscription[] = [];
const children: { kill(signal: NodeJS.Signals): boolean }[] = [];
after(async () => {
  for (const c of children) c.kill("SIGKILL");
  for (const s of open) s.close();
  await stopAll();
});

const INFO = { checkpoint: true, failover_timeout: 3600 };

/**
 * A scheduler in a process of its own: subscribes, launches `task` and
 * prints the framework id once the task runs. Resolves with the id and the
 * child (to be killed).
 */
async function schedulerProcess(
  masterUrl: string,
  task: string,
): Promise<{ frameworkId: string; child: ReturnType<typeof spawn> }> {
  const dir = join(repoRoot, "dist", "test", "integration");
  const clients = pathToFileURL(join(dir, "master-clients.js")).href;
  const helpers = pathToFileURL(join(dir, "master-recovery-helpers.js")).href;
  const script = `
    const { subscribe, subscribeCall } = await import(${JSON.stringify(clients)});
    const { launchSleep, waitUpdate } = await import(${JSON.stringify(helpers)});
    const s = await subscribe(${JSON.stringify(masterUrl)}, subscribeCall("failover-test", ${JSON.stringify(INFO)}));
    s.autoAcknowledge = true;
    await s.nth("SUBSCRIBED");
    await launchSleep(s, ${JSON.stringify(task)});
    await waitUpdate(s, ${JSON.stringify(task)}, "TASK_RUNNING");
    process.stdout.write(JSON.stringify({ frameworkId: s.frameworkId }) + "\\n");
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  let out = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  const line = await waitFor(
    "the scheduler process to report its running task",
    () => (out.includes("\n") ? out.slice(0, out.indexOf("\n")) : undefined),
    { timeoutMs: 40_000 },
  );
  return { frameworkId: (JSON.parse(line) as { frameworkId: string }).frameworkId, child };
}

test("framework failover: a restarted scheduler gets its task back; a second subscriber takes over; failover_timeout removes a framework", async () => {
  const { master } = await startOneAgentCluster(FAST_AGENT_FLAGS, {
    masterFlags: FAST_MASTER_FLAGS,
  });

  const { frameworkId, child } = await schedulerProcess(master.url, "long");
  child.kill("SIGKILL");
  await waitFor("the master to see the scheduler gone", async () => {
    const state = (await masterState(master.url)) as unknown as {
      frameworks: { id: string; connected: boolean }[];
    };
    return state.frameworks.some((f) => f.id === frameworkId && !f.connected);
  });
  // The task keeps running while the framework is disconnected.
  const during = await masterState(master.url);
  const fw = during?.frameworks.find((f) => f.id === frameworkId);
  assert.equal(fw?.tasks.find((t) => t.id === "long")?.state, "TASK_RUNNING");

  const again = await resubscribe(master.url, "failover-test", frameworkId, INFO);
  open.push(again);
  again.autoAcknowledge = true;
  assert.equal((await again.nth("SUBSCRIBED")).subscribed?.framework_id.value, frameworkId);
  await reconcile(again);
  const running = await waitUpdate(again, "long", "TASK_RUNNING");
  assert.equal(running.update?.status.reason, "REASON_RECONCILIATION");

  // Takeover: the newest subscriber wins, the previous one is told why.
  const takeover = await resubscribe(master.url, "failover-test", frameworkId, INFO);
  open.push(takeover);
  await takeover.nth("SUBSCRIBED");
  const error = await again.nth("ERROR");
  assert.equal(error.error?.message, "Framework failed over");
  await waitFor("the old stream to end", () => again.ended);
  await quiet(takeover);

  // A framework whose scheduler never returns: removed after failover_timeout.
  const short = await subscribe(
    master.url,
    subscribeCall("short-failover", { checkpoint: true, failover_timeout: 1 }),
  );
  open.push(short);
  short.autoAcknowledge = true;
  await short.nth("SUBSCRIBED");
  const shortId = short.frameworkId;
  await launchSleep(short, "doomed");
  await waitUpdate(short, "doomed", "TASK_RUNNING");
  short.close();
  const completed = await waitFor(
    "the framework removed after its failover timeout",
    async () => (await masterState(master.url))?.completed_frameworks.find((f) => f.id === shortId),
    { timeoutMs: 30_000 },
  );
  assert.equal(completed.completed_tasks.find((t) => t.id === "doomed")?.state, "TASK_KILLED");
  // The long-lived framework is untouched.
  const after = await masterState(master.url);
  assert.equal(
    after?.frameworks.find((f) => f.id === frameworkId)?.tasks.find((t) => t.id === "long")?.state,
    "TASK_RUNNING",
  );
  // A removed framework cannot come back.
  const refused = await resubscribe(master.url, "short-failover", shortId, {
    checkpoint: true,
    failover_timeout: 1,
  });
  open.push(refused);
  const refusal = await refused.nth("ERROR");
  assert.match(refusal.error?.message ?? "", /removed/);
});
