/**
 * The real bin/mesos-master with the real bin/mesos-agent: registration,
 * offers, a command task run to completion, and offers rescinded when the
 * agent dies.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { stopAll, waitFor } from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";

const open: Subscription[] = [];

after(async () => {
  for (const s of open) s.close();
  await stopAll();
});

test("master with a real agent: offers name the agent; a command task finishes; a dead agent's offers are rescinded", async () => {
  const { master, agent, agentId } = await startOneAgentCluster(
    {},
    { masterFlags: { allocation_interval: "100ms" } },
  );
  const s = await subscribe(master.url, subscribeCall("real-agent", { role: "*" }));
  open.push(s);
  s.autoAcknowledge = true;
  await s.nth("SUBSCRIBED");
  const offer = (await s.nth("OFFERS")).offers?.offers?.[0];
  assert.ok(offer !== undefined);
  assert.equal(offer.agent_id.value, agentId);
  assert.equal(offer.url?.address.port, agent.port);
  assert.equal(offer.url?.path, "/slave(1)");
  assert.ok(offer.hostname.length > 0);
  for (const r of offer.resources ?? []) assert.equal(r.allocation_info?.role, "*");

  const resources = (offer.resources ?? []).filter((r) => r.name === "cpus" || r.name === "mem");
  const cpus = resources.find((r) => r.name === "cpus");
  const mem = resources.find((r) => r.name === "mem");
  assert.ok(cpus !== undefined && mem !== undefined);
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
                name: "true",
                task_id: { value: "done" },
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
    },
  });
  assert.equal(accepted.status, 202);
  const finished = await s.next(
    (e) => e.update?.status.state === "TASK_FINISHED",
    "TASK_FINISHED",
    30_000,
  );
  assert.equal(finished.update?.status.uuid?.length, 16);
  assert.equal(finished.update?.status.source, "SOURCE_EXECUTOR");
  await waitFor("the task among the completed tasks", async () => {
    const state = (await (await fetch(`${master.url}/master/state`)).json()) as {
      frameworks: { id: string; completed_tasks: { id: string; state: string }[] }[];
    };
    const fw = state.frameworks.find((f) => f.id === s.frameworkId);
    return fw?.completed_tasks.some((t) => t.id === "done" && t.state === "TASK_FINISHED");
  });

  const outstanding = await s.nth("OFFERS", 2, 30_000);
  const pending = outstanding.offers?.offers?.[0]?.id.value;
  agent.kill("SIGKILL");
  const rescind = await s.next(
    (e) => e.type === "RESCIND" && e.rescind?.offer_id.value === pending,
    "RESCIND of the dead agent's offer",
    30_000,
  );
  assert.ok(rescind !== undefined);
});
