/**
 * Status updates of a task that reached its executor carry the container's
 * status (container id, executor pid, the agent's addresses), as Mesos
 * agents attach it: service discovery reads task IPs from it. Also the
 * agent's `master_hostname`, the other address-derived key of its /state.
 */
import assert from "node:assert/strict";
import { lookupService } from "node:dns/promises";
import { after, before, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import {
  type DaemonHandle,
  freePort,
  getJson,
  runBinary,
  stopAll,
  tempDir,
  waitFor,
} from "../harness/processes.js";

interface Status {
  state: string;
  container_status?: {
    container_id?: { value: string };
    executor_pid?: number;
    network_infos?: { ip_addresses?: { ip_address: string; protocol?: string }[] }[];
  };
}
interface StateTask {
  id: string;
  statuses: Status[];
}
interface MasterState {
  frameworks?: { tasks?: StateTask[]; completed_tasks?: StateTask[] }[];
  completed_frameworks?: { completed_tasks?: StateTask[] }[];
}
interface AgentState {
  completed_frameworks?: {
    completed_executors?: { id: string; container?: string }[];
  }[];
  frameworks?: { completed_executors?: { id: string; container?: string }[] }[];
}

let master: DaemonHandle;
let agent: DaemonHandle;

before(async () => {
  ({ master, agent } = await startOneAgentCluster({ ip6: "::1" }));
});

after(stopAll);

function allTasks(state: MasterState | undefined): StateTask[] {
  const out: StateTask[] = [];
  for (const f of state?.frameworks ?? [])
    out.push(...(f.tasks ?? []), ...(f.completed_tasks ?? []));
  for (const f of state?.completed_frameworks ?? []) out.push(...(f.completed_tasks ?? []));
  return out;
}

test("container status: a finished task's executor updates carry container id, executor pid and the agent's IPv4 and --ip6 addresses", async () => {
  const run = await runBinary(
    "mesos-execute",
    [`--master=${master.address}`, "--name=addr", "--command=sleep 1"],
    { timeoutMs: 60_000 },
  );
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const task = await waitFor("task 'addr' in the master's state", async () =>
    allTasks(await getJson<MasterState>(`${master.url}/master/state`)).find((t) => t.id === "addr"),
  );
  const running = task.statuses.find((s) => s.state === "TASK_RUNNING");
  assert.ok(running?.container_status !== undefined, JSON.stringify(task.statuses));
  const cs = running.container_status;
  assert.deepEqual(cs.network_infos, [
    // JSON renders the protocol's default (IPv4) as Mesos' JSON does.
    {
      ip_addresses: [
        { ip_address: "127.0.0.1", protocol: "IPv4" },
        { ip_address: "::1", protocol: "IPv6" },
      ],
    },
  ]);
  // The legacy JSON has no executor_pid (as Mesos'); the v1 API has it.
  assert.equal(cs.executor_pid, undefined);
  const containerOfExecutor = await waitFor("executor 'addr' in the agent's state", async () => {
    const state = await getJson<AgentState>(`${agent.url}/state`);
    const executors = [
      ...(state?.frameworks ?? []).flatMap((f) => f.completed_executors ?? []),
      ...(state?.completed_frameworks ?? []).flatMap((f) => f.completed_executors ?? []),
    ];
    return executors.find((e) => e.id === "addr")?.container;
  });
  assert.equal(cs.container_id?.value, containerOfExecutor);
  const finished = task.statuses.find((s) => s.state === "TASK_FINISHED");
  assert.equal(finished?.container_status?.container_id?.value, containerOfExecutor);
  // The launcher's pid report may land after a fast executor's first
  // update; by the TASK_FINISHED a second later it is known.
  const v1 = (await (
    await fetch(`${master.url}/api/v1`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ type: "GET_TASKS" }),
    })
  ).json()) as {
    get_tasks: { completed_tasks?: { task_id: { value: string }; statuses: Status[] }[] };
  };
  const v1Task = (v1.get_tasks.completed_tasks ?? []).find((t) => t.task_id.value === "addr");
  const v1Finished = v1Task?.statuses.find((s) => s.state === "TASK_FINISHED");
  assert.equal(typeof v1Finished?.container_status?.executor_pid, "number", JSON.stringify(v1Task));
  assert.equal(v1Finished?.container_status?.container_id?.value, containerOfExecutor);
});

test("container status: --ip6_discovery_command that prints no IPv6 address stops the agent with the reason", async () => {
  const run = await runBinary(
    "mesos-agent",
    [
      `--master=${master.address}`,
      `--work_dir=${tempDir()}`,
      "--ip=127.0.0.1",
      `--port=${await freePort()}`,
      "--ip6_discovery_command=echo not-an-address",
    ],
    { timeoutMs: 30_000 },
  );
  assert.notEqual(run.code, 0);
  assert.match(run.stdout + run.stderr, /Failed to parse IPv6 address 'not-an-address'/);
});

test("agent /state: master_hostname is the reverse lookup of the master's IP (once it is in)", async () => {
  const expected = (await lookupService("127.0.0.1", master.port)).hostname;
  const seen = await waitFor("master_hostname in the agent's /state", async () => {
    const state = await getJson<{ master_hostname?: string }>(`${agent.url}/state`);
    return state?.master_hostname;
  });
  assert.equal(seen, expected);
});
