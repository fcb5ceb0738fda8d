/**
 * The docker executor and TaskInfo.check, with a real master and agent and
 * the fake docker CLI (test/fixtures/fake-docker): as Mesos' docker
 * executor has no general checks, a DOCKER command task with a `check`
 * fails with Mesos' words and no container is run; a task with only a
 * `health_check` still runs (its checks are covered in
 * docker-containerizer.test.ts).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Offer, TaskInfo, TaskStatus } from "../../src/common/protocol/generated/mesos-v1.js";
import { type FakeDocker, installFakeDocker } from "../fixtures/fake-docker/install.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, stopAll, tempDir, waitFor } from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";

let master: DaemonHandle;
let docker: FakeDocker;
let s: Subscription;

before(async () => {
  docker = installFakeDocker(tempDir("fake-docker-checks-"));
  ({ master } = await startOneAgentCluster(
    { containerizers: "mesos,docker", docker: docker.path },
    { masterFlags: { allocation_interval: "50ms" } },
  ));
  s = await subscribe(master.url, subscribeCall("docker-checks", { role: "*" }));
  s.autoAcknowledge = true;
  await s.nth("SUBSCRIBED");
});

after(async () => {
  s?.close();
  docker?.removeAll();
  await stopAll();
});

const usedOffers = new Set<string>();

async function launch(task: Omit<TaskInfo, "agent_id" | "resources">): Promise<void> {
  const offer = await waitFor<Offer>("an offer", () => {
    for (const e of s.events) {
      for (const o of e.offers?.offers ?? []) if (!usedOffers.has(o.id.value)) return o;
    }
    return undefined;
  });
  usedOffers.add(offer.id.value);
  const resources = [
    {
      name: "cpus",
      type: "SCALAR" as const,
      scalar: { value: 0.2 },
      allocation_info: { role: "*" },
    },
    { name: "mem", type: "SCALAR" as const, scalar: { value: 32 }, allocation_info: { role: "*" } },
  ];
  const answer = await s.call({
    type: "ACCEPT",
    accept: {
      offer_ids: [offer.id],
      operations: [
        {
          type: "LAUNCH",
          launch: { task_infos: [{ ...task, agent_id: offer.agent_id, resources }] },
        },
      ],
      filters: { refuse_seconds: 0 },
    },
  });
  assert.equal(answer.status, 202, answer.body);
}

function updates(taskId: string): TaskStatus[] {
  return s.events
    .map((e) => e.update?.status)
    .filter((st): st is TaskStatus => st?.task_id.value === taskId);
}

function terminal(taskId: string): Promise<TaskStatus> {
  return waitFor(
    `${taskId} to end (has ${updates(taskId)
      .map((u) => u.state)
      .join(",")})`,
    () =>
      updates(taskId).find((u) =>
        ["TASK_FAILED", "TASK_FINISHED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR"].includes(
          u.state,
        ),
      ),
    { timeoutMs: 30_000 },
  );
}

function dockerTask(id: string, command: string): Omit<TaskInfo, "agent_id" | "resources"> {
  return {
    name: id,
    task_id: { value: id },
    command: { value: command },
    container: { type: "DOCKER", docker: { image: "busybox" } },
  } as Omit<TaskInfo, "agent_id" | "resources">;
}

/** The `docker run` calls for a task's executor sandbox. */
function runsOf(taskId: string): number {
  return docker
    .callsOf("run")
    .filter((c) => c.argv.some((a) => a.includes(`/executors/${taskId}/runs/`))).length;
}

test("docker executor: a task with a check fails with Mesos' message and no container is run", async () => {
  await launch({
    ...dockerTask("with-check", "sleep 600"),
    check: {
      type: "COMMAND",
      command: { command: { value: "true" } },
      interval_seconds: 0.5,
    },
  } as Omit<TaskInfo, "agent_id" | "resources">);
  const end = await terminal("with-check");
  assert.equal(end.state, "TASK_FAILED", JSON.stringify(end));
  assert.equal(end.message, "Docker executor does not support checks yet");
  assert.equal(end.source, "SOURCE_EXECUTOR");
  assert.ok(!updates("with-check").some((u) => u.state === "TASK_RUNNING"), "never ran");
  assert.equal(runsOf("with-check"), 0, "no docker run for it");
});

test("docker executor: a task with only a health check still runs its container", async () => {
  await launch({
    ...dockerTask("health-only", "true"),
    health_check: {
      type: "COMMAND",
      command: { value: "true" },
      interval_seconds: 0.5,
    },
  } as Omit<TaskInfo, "agent_id" | "resources">);
  const end = await terminal("health-only");
  assert.equal(end.state, "TASK_FINISHED", JSON.stringify(end));
  assert.equal(runsOf("health-only"), 1);
});
