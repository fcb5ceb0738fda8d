/**
 * Reasons of master-generated updates, as Mesos' task state reasons guide
 * lists them: a LAUNCH refused by the run_tasks ACL is TASK_ERROR with
 * REASON_TASK_UNAUTHORIZED; every task of a refused LAUNCH_GROUP is
 * TASK_ERROR with REASON_TASK_GROUP_UNAUTHORIZED; both come from the master
 * (SOURCE_MASTER, no uuid) and are counted under their reason.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { TaskInfo } from "../../src/common/protocol/generated/mesos-v1.js";
import { getJson, startMaster, stopAll, tempDir, waitFor } from "../harness/processes.js";
import { FakeAgent, type Subscription, subscribe, subscribeCall } from "./master-clients.js";

const me = userInfo().username;
const open: Subscription[] = [];
const agents: FakeAgent[] = [];
after(async () => {
  for (const s of open) s.close();
  for (const a of agents) await a.stop();
  await stopAll();
});

test("task state reasons: run_tasks refusals are REASON_TASK_UNAUTHORIZED for a task and REASON_TASK_GROUP_UNAUTHORIZED for each task of a group", async () => {
  const dir = tempDir("task-reasons-");
  const acls = join(dir, "acls.json");
  writeFileSync(
    acls,
    JSON.stringify({
      permissive: false,
      register_agents: [{ principals: { type: "ANY" }, agents: { type: "ANY" } }],
      register_frameworks: [{ principals: { type: "ANY" }, roles: { type: "ANY" } }],
      run_tasks: [{ principals: { type: "ANY" }, users: { values: [me] } }],
      get_endpoints: [{ principals: { type: "ANY" }, paths: { type: "ANY" } }],
    }),
  );
  const master = await startMaster({
    flags: { acls: `file://${acls}`, allocation_interval: "50ms" },
  });
  const agent = await FakeAgent.start(master.address);
  agents.push(agent);
  await agent.register([
    { name: "cpus", type: "SCALAR", scalar: { value: 4 } },
    { name: "mem", type: "SCALAR", scalar: { value: 1024 } },
  ]);
  const s = await subscribe(master.url, subscribeCall("reasons"));
  open.push(s);
  await s.nth("SUBSCRIBED");
  const offer = (await s.nth("OFFERS")).offers?.offers?.[0];
  assert.ok(offer !== undefined);
  const task = (id: string, user: string): TaskInfo => ({
    name: id,
    task_id: { value: id },
    agent_id: offer.agent_id,
    resources: [{ name: "cpus", type: "SCALAR", scalar: { value: 0.1 } }],
    command: { value: "true", user },
  });
  const accepted = await s.call({
    type: "ACCEPT",
    accept: {
      offer_ids: [offer.id],
      operations: [
        { type: "LAUNCH", launch: { task_infos: [task("single", "not-allowed")] } },
        {
          type: "LAUNCH_GROUP",
          launch_group: {
            executor: {
              type: "DEFAULT",
              executor_id: { value: "group-executor" },
              resources: [{ name: "cpus", type: "SCALAR", scalar: { value: 0.1 } }],
            },
            task_group: { tasks: [task("member-ok", me), task("member-bad", "not-allowed")] },
          },
        },
      ],
    },
  });
  assert.equal(accepted.status, 202, accepted.body);

  const expected: Record<string, string> = {
    single: "REASON_TASK_UNAUTHORIZED",
    "member-ok": "REASON_TASK_GROUP_UNAUTHORIZED",
    "member-bad": "REASON_TASK_GROUP_UNAUTHORIZED",
  };
  for (const [taskId, reason] of Object.entries(expected)) {
    const update = await s.next(
      (e) => e.update?.status.task_id.value === taskId,
      `the update for ${taskId}`,
    );
    const status = update.update?.status;
    assert.equal(status?.state, "TASK_ERROR", taskId);
    assert.equal(status?.reason, reason, taskId);
    assert.equal(status?.source, "SOURCE_MASTER", taskId);
    assert.equal(status?.uuid, undefined, taskId);
  }
  // Nothing refused reached the agent.
  assert.equal(agent.ofType("mesos.internal.RunTaskGroupMessage").length, 0);
  assert.equal(agent.ofType("mesos.internal.RunTaskMessage").length, 0);

  const metrics = await waitFor("the refusals counted by reason", async () => {
    const snapshot = await getJson<Record<string, number>>(`${master.url}/metrics/snapshot`);
    return snapshot?.["master/task_error/source_master/reason_task_group_unauthorized"] === 2
      ? snapshot
      : undefined;
  });
  assert.equal(metrics["master/task_error/source_master/reason_task_unauthorized"], 1);
  assert.equal(metrics["master/tasks_error"], 3);
});
