/**
 * A real network partition: the master and the agent each on a host of their
 * own (a network namespace with its own IP); the agent's host is cut off the
 * bridge. After the ping timeouts a PARTITION_AWARE framework gets
 * TASK_UNREACHABLE; once the link is back the agent re-registers and the task
 * is RUNNING again, also through reconciliation. Its executor kept running
 * all along. Needs root and `ip netns`; skips otherwise.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { netnsUnavailable, VirtualNetwork } from "../harness/netns.js";
import { fetchJson, startOn, stopHostDaemons } from "../harness/netns-daemons.js";
import { waitFor } from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "../integration/master-clients.js";
import {
  FAST_AGENT_FLAGS,
  FAST_MASTER_FLAGS,
  launchSleep,
  reconcileUntil,
  waitUpdate,
} from "../integration/master-recovery-helpers.js";

const skip = netnsUnavailable() ?? false;
let net: VirtualNetwork | undefined;
const open: Subscription[] = [];

before(() => {
  if (skip !== false) return;
  net = VirtualNetwork.create(["m", "a"]);
});

after(async () => {
  for (const s of open) s.close();
  await stopHostDaemons();
  net?.cleanup();
});

test("partition/netns: a cut-off agent's task becomes TASK_UNREACHABLE, then RUNNING again when the link heals", {
  skip,
  timeout: 120_000,
}, async () => {
  assert.ok(net !== undefined);
  const master = await startOn(net.host("m"), "mesos-master", 5050, {
    registry: "in_memory",
    hostname_lookup: "false",
    ...FAST_MASTER_FLAGS,
  });
  const agentHost = net.host("a");
  await startOn(agentHost, "mesos-agent", 5051, {
    master: `${net.host("m").ip}:5050`,
    resources: "cpus:1;mem:256;disk:256",
    hostname_lookup: "false",
    ...FAST_AGENT_FLAGS,
  });
  const agentId = await waitFor("the agent registered", async () => {
    const s = await fetchJson<{ slaves: { id: string }[] }>(`${master.url}/master/slaves`);
    return s?.slaves[0]?.id;
  });

  const framework = await subscribe(
    master.url,
    subscribeCall("partition-netns", {
      checkpoint: true,
      failover_timeout: 3600,
      capabilities: [{ type: "PARTITION_AWARE" }],
    }),
  );
  open.push(framework);
  framework.autoAcknowledge = true;
  await framework.nth("SUBSCRIBED");
  await launchSleep(framework, "netns-task", agentId);
  await waitUpdate(framework, "netns-task", "TASK_RUNNING");

  const before = framework.events.length;
  agentHost.partition();
  const unreachable = await waitUpdate(framework, "netns-task", "TASK_UNREACHABLE", {
    after: before,
  });
  assert.equal(unreachable.update?.status.reason, "REASON_AGENT_REMOVED");

  agentHost.heal();
  await waitUpdate(framework, "netns-task", "TASK_RUNNING", {
    after: before,
    reason: "REASON_AGENT_REREGISTERED",
    timeoutMs: 60_000,
  });
  await reconcileUntil(framework, { taskId: "netns-task", agentId }, "TASK_RUNNING");
});
