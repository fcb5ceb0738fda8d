/**
 * A real agent whose default executors run tasks as child processes
 * (`MESOS_DEFAULT_EXECUTOR_CHILD_PROCESSES=1` through
 * `--executor_environment_variables`): a task-group task writes its
 * persistent volume at `$MESOS_SANDBOX/<container_path>` (a symlink to the
 * volume the agent put in the executor's sandbox), and the write lands in
 * the volume on the host, as with nested containers.
 */
import assert from "node:assert/strict";
import { lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Offer, Resource } from "../../src/common/protocol/generated/mesos-v1.js";
import type { Event } from "../../src/common/protocol/generated/mesos-v1-scheduler.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, stopAll, waitFor, waitLong } from "../harness/processes.js";
import { type Subscription, subscribe, subscribeCall } from "./master-clients.js";

const ROLE = "db";
const RESERVATION = { type: "DYNAMIC" as const, role: ROLE, principal: "ops" };

let master: DaemonHandle;
let agent: DaemonHandle;
const open: Subscription[] = [];

before(async () => {
  ({ master, agent } = await startOneAgentCluster(
    {
      registration_backoff_factor: "10ms",
      executor_environment_variables: JSON.stringify({
        MESOS_DEFAULT_EXECUTOR_CHILD_PROCESSES: "1",
        PATH: process.env.PATH ?? "/usr/bin:/bin",
      }),
    },
    { masterFlags: { allocation_interval: "100ms" } },
  ));
});

after(async () => {
  for (const s of open) s.close();
  await stopAll();
});

function scalar(name: string, value: number): Resource {
  return { name, type: "SCALAR", scalar: { value } };
}

function reserved(name: string, value: number, extra: Partial<Resource> = {}): Resource {
  return { ...scalar(name, value), reservations: [RESERVATION], ...extra };
}

async function reachEnd(
  s: Subscription,
  taskId: string,
): Promise<NonNullable<Event["update"]>["status"]> {
  return waitLong(`${taskId} to end`, () => {
    const last = s.events.filter((e) => e.update?.status.task_id.value === taskId).at(-1)
      ?.update?.status;
    return last !== undefined && /FINISHED|FAILED|KILLED|LOST|ERROR|DROPPED/.test(last.state)
      ? last
      : undefined;
  });
}

async function executorSandbox(executorId: string): Promise<string> {
  type Executors = {
    executors?: { id: string; directory: string }[];
    completed_executors?: { id: string; directory: string }[];
  };
  return waitFor(`executor ${executorId} in the agent's state`, async () => {
    const state = (await (await fetch(`${agent.url}/state`)).json()) as {
      frameworks?: Executors[];
      completed_frameworks?: Executors[];
    };
    return [...(state.frameworks ?? []), ...(state.completed_frameworks ?? [])]
      .flatMap((f) => [...(f.executors ?? []), ...(f.completed_executors ?? [])])
      .find((e) => e.id === executorId)?.directory;
  });
}

test("a task run as the default executor's child process writes its persistent volume at $MESOS_SANDBOX/<container_path>", async () => {
  const s = await subscribe(
    master.url,
    subscribeCall("child-volumes", {
      roles: [ROLE],
      principal: "ops",
      checkpoint: true,
      capabilities: [{ type: "MULTI_ROLE" }],
    }),
  );
  s.autoAcknowledge = true;
  open.push(s);
  const offers = await waitFor(
    "an offer with unreserved disk",
    () => {
      const all = s.events.flatMap((e) => e.offers?.offers ?? []) as Offer[];
      return all.length > 0 ? all : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 20 },
  );
  const pv = reserved("disk", 8, {
    disk: {
      persistence: { id: "child-pv", principal: "ops" },
      volume: { mode: "RW", container_path: "data/pv" },
    },
  });
  const reply = await s.call({
    type: "ACCEPT",
    accept: {
      offer_ids: offers.map((o) => o.id),
      operations: [
        { type: "RESERVE", reserve: { resources: [reserved("disk", 8)] } },
        { type: "CREATE", create: { volumes: [pv] } },
        {
          type: "LAUNCH_GROUP",
          launch_group: {
            executor: {
              type: "DEFAULT",
              executor_id: { value: "child-volume-executor" },
              framework_id: { value: s.frameworkId },
              resources: [scalar("cpus", 0.1), scalar("mem", 32), scalar("disk", 8)],
            },
            task_group: {
              tasks: [
                {
                  name: "writer",
                  task_id: { value: "writer" },
                  agent_id: { value: offers[0]?.agent_id.value ?? "" },
                  resources: [scalar("cpus", 0.1), scalar("mem", 32), pv],
                  command: { value: 'echo data > "$MESOS_SANDBOX/data/pv/f"' },
                },
              ],
            },
          },
        },
      ],
      filters: { refuse_seconds: 0 },
    },
  });
  assert.equal(reply.status, 202, reply.body);
  const ended = await reachEnd(s, "writer");
  assert.equal(ended.state, "TASK_FINISHED", ended.message);
  const hostDir = join(agent.workDir, "volumes", "roles", ROLE, "child-pv");
  assert.equal(readFileSync(join(hostDir, "f"), "utf8"), "data\n");
  const sandbox = await executorSandbox("child-volume-executor");
  // It ran as a child process: its sandbox is tasks/<id> itself, not a nested container's.
  assert.ok(lstatSync(join(sandbox, "tasks", "writer")).isDirectory());
  assert.ok(lstatSync(join(sandbox, "tasks", "writer", "data", "pv")).isSymbolicLink());
});
