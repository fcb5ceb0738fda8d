/**
 * `--command_executors_per_process=4` on a real agent: six command tasks run
 * in at most two executor hosts, each a logical executor of its own. Killing
 * one task, killing one executor's recorded pid (its stand-in, as the agent's
 * destroy does), or a task failing, leaves its neighbours running; /monitor
 * statistics measure each task's own processes; SIGKILLing a host ends each
 * of its tasks with a terminal update and leaves the other host's alone; a
 * framework teardown leaves no process behind.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { after, before, test } from "node:test";
import { SchedulerClient } from "../../src/scheduler/index.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { alive } from "../harness/proc-scan.js";
import { type DaemonHandle, getJson, stopAll, waitFor } from "../harness/processes.js";
import { startQueued } from "../harness/queued-tasks.js";
import { executorDirectories, hostOf, processesIn, standInOf } from "./shared-executor-helpers.js";

let master: DaemonHandle;
let agent: DaemonHandle;

before(async () => {
  ({ master, agent } = await startOneAgentCluster({
    resources: "cpus:4;mem:4096;disk:4096",
    command_executors_per_process: "4",
    executor_shutdown_grace_period: "2secs",
  }));
});

after(async () => {
  await stopAll();
});

test("shared executors: six tasks in two hosts, killed, failed and crashed one by one", async () => {
  const c = new SchedulerClient({
    master: master.address,
    framework: { user: userInfo().username, name: "shared-executors" },
  });
  try {
    const tasks = startQueued(c);
    const last = (id: string) => tasks.statuses.get(id)?.at(-1);
    const ids = ["t1", "t2", "t3", "t4", "t5", "t6"];
    for (const id of ids) tasks.push(id, `echo out-${id}; echo err-${id} >&2; sleep 600`);
    await waitFor("six TASK_RUNNING", () => ids.every((id) => last(id)?.state === "TASK_RUNNING"));

    const dirs = await executorDirectories(agent.url);
    const standIns = new Map<string, number>();
    for (const id of ids) {
      const dir = dirs.get(id);
      assert.ok(dir !== undefined, `sandbox of ${id}`);
      standIns.set(id, await standInOf(agent.workDir, dir));
    }
    const hostOfTask = new Map(ids.map((id) => [id, hostOf(standIns.get(id) as number)]));
    const hosts = new Set(hostOfTask.values());
    assert.ok(hosts.size <= 2, `six executors in ${hosts.size} hosts (at most 2 expected)`);
    for (const host of hosts) {
      const count = [...hostOfTask.values()].filter((h) => h === host).length;
      assert.ok(count <= 4, `a host runs ${count} executors (at most 4)`);
    }
    // Each task is a process of its own sandbox, a child of its host, with its output there.
    const taskPids = new Map<string, number[]>();
    for (const id of ids) {
      const dir = dirs.get(id) as string;
      const pids = await waitFor(`${id}'s sleep`, () => {
        const found = processesIn(dir).filter((p) => p.comm === "sleep");
        return found.length > 0 ? found.map((p) => p.pid) : undefined;
      });
      taskPids.set(id, pids);
      await waitFor(`${id}'s output in its sandbox`, () => {
        const out = readFileSync(`${dir}/stdout`, "utf8");
        const err = readFileSync(`${dir}/stderr`, "utf8");
        return out.includes(`out-${id}`) && err.includes(`err-${id}`);
      });
      const err = readFileSync(`${dir}/stderr`, "utf8");
      assert.match(err, /Forked command at \d+/, `${id}'s executor logs into its own sandbox`);
      const out = readFileSync(`${dir}/stdout`, "utf8");
      for (const other of ids) {
        if (other === id) continue;
        assert.ok(!err.includes(`err-${other}`), `no stderr of ${other} in ${id}'s sandbox`);
        assert.ok(!out.includes(`out-${other}`), `no stdout of ${other} in ${id}'s sandbox`);
      }
    }

    // Statistics of a hosted executor measure its task, not its host.
    const stats = await waitFor("statistics of t2", async () => {
      const all = await getJson<
        { executor_id: string; statistics: { processes?: number; mem_rss_bytes?: number } }[]
      >(`${agent.url}/monitor/statistics`);
      return all?.find((e) => e.executor_id === "t2")?.statistics;
    });
    assert.ok((stats.processes ?? 0) >= 2, `t2 counts its stand-in and task (${stats.processes})`);
    assert.ok((stats.mem_rss_bytes ?? 0) < 40 * 1024 * 1024, "t2 is not charged its host's memory");

    // Killing one task leaves its neighbours running.
    await c.kill({ value: "t1" }, tasks.agentId());
    await waitFor("t1 TASK_KILLED", () => last("t1")?.state === "TASK_KILLED");
    await waitFor(
      "t1's processes to end",
      () =>
        (taskPids.get("t1") ?? []).every((p) => !alive(p)) && !alive(standIns.get("t1") as number),
    );
    for (const id of ids.slice(1)) {
      assert.equal(last(id)?.state, "TASK_RUNNING", `${id} keeps running`);
      assert.ok((taskPids.get(id) ?? []).every(alive), `${id}'s process lives`);
    }
    for (const host of hosts) assert.ok(alive(host), "the hosts live on");

    // A task that fails reports its own status.
    tasks.push("t7", "sleep 0.3; exit 3");
    await waitFor("t7 TASK_FAILED", () => last("t7")?.state === "TASK_FAILED");
    assert.equal(last("t7")?.message, "Command exited with status 3");
    for (const id of ids.slice(1)) assert.equal(last(id)?.state, "TASK_RUNNING", `${id} runs`);

    // Killing an executor's recorded pid (its stand-in: what the agent's
    // destroy does) ends that executor and its task only.
    // (A neighbour of t2 when it has one, so its host's other executors are seen to live on.)
    const destroyed =
      ids.slice(2).find((id) => hostOfTask.get(id) === hostOfTask.get("t2")) ?? "t3";
    process.kill(standIns.get(destroyed) as number, "SIGKILL");
    await waitFor(`${destroyed} to end`, () =>
      ["TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_GONE"].includes(
        last(destroyed)?.state ?? "",
      ),
    );
    await waitFor(`${destroyed}'s task process to be killed`, () =>
      (taskPids.get(destroyed) ?? []).every((p) => !alive(p)),
    );
    await waitFor(`${destroyed}'s executor to be dropped by its host`, () =>
      readFileSync(`${dirs.get(destroyed)}/stderr`, "utf8").includes(
        "container is being destroyed; killing the task",
      ),
    );
    const remaining = ids.slice(1).filter((id) => id !== destroyed);
    for (const id of remaining) {
      assert.equal(last(id)?.state, "TASK_RUNNING", `${id} keeps running`);
      assert.ok((taskPids.get(id) ?? []).every(alive), `${id}'s process lives`);
    }
    for (const host of hosts) assert.ok(alive(host), "the hosts live on");

    // SIGKILL one host: each of its executors' tasks ends with a terminal update.
    const victim = hostOfTask.get("t2") as number;
    const victims = remaining.filter((id) => hostOfTask.get(id) === victim);
    const survivors = remaining.filter((id) => hostOfTask.get(id) !== victim);
    process.kill(victim, "SIGKILL");
    await waitFor("a terminal update for each task of the killed host", () =>
      victims.every((id) =>
        ["TASK_FAILED", "TASK_LOST", "TASK_GONE"].includes(last(id)?.state ?? ""),
      ),
    );
    for (const id of victims) {
      await waitFor(`${id}'s processes to be swept`, () =>
        (taskPids.get(id) ?? []).every((p) => !alive(p)),
      );
    }
    for (const id of survivors) {
      assert.equal(last(id)?.state, "TASK_RUNNING", `${id} of the other host keeps running`);
      assert.ok((taskPids.get(id) ?? []).every(alive), `${id}'s process lives`);
    }

    // Teardown: everything ends, nothing is left in any sandbox.
    await c.teardown();
    // (The framework is gone: its updates are not delivered any more.)
    await waitFor("the agent to have no live executor", async () => {
      const state = await getJson<{ frameworks?: unknown[] }>(`${agent.url}/state`);
      return state !== undefined && (state.frameworks ?? []).length === 0;
    });
    await waitFor("no process left in any sandbox", () =>
      ids.every((id) => processesIn(dirs.get(id) as string).length === 0),
    );
    for (const pid of standIns.values()) assert.ok(!alive(pid), `stand-in ${pid} is gone`);
  } finally {
    c.close();
  }
});
