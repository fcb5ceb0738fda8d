/**
 * Hosted command executors (`--command_executors_per_process=4`) of a
 * checkpointing framework survive an agent SIGKILL: the restarted agent
 * recovers them (their stand-ins are the recorded pids), each logical
 * executor re-subscribes on its own, the tasks stay RUNNING in the same
 * host, and a kill afterwards ends one task and leaves the others. When the
 * old host then dies, the restarted agent ends the tasks it still ran.
 */
import assert from "node:assert/strict";
import { userInfo } from "node:os";
import { after, before, test } from "node:test";
import { SchedulerClient } from "../../src/scheduler/index.js";
import { updatesAcknowledged } from "../harness/checkpoints.js";
import { alive } from "../harness/proc-scan.js";
import {
  type DaemonHandle,
  freePort,
  getJson,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
} from "../harness/processes.js";
import { closeClients, startQueued } from "../harness/queued-tasks.js";
import { executorDirectories, hostOf, processesIn, standInOf } from "./shared-executor-helpers.js";

let master: DaemonHandle;

before(async () => {
  master = await startMaster({
    flags: { agent_ping_timeout: "1secs", max_agent_ping_timeouts: 5 },
  });
});

after(async () => {
  await stopAll();
});

test("shared executors: tasks of a checkpointing framework survive an agent SIGKILL and restart", async () => {
  const port = await freePort();
  const workDir = tempDir("shared-recovery-");
  let agent: DaemonHandle | undefined;
  const start = async () => {
    agent = await startAgent({
      master: master.address,
      port,
      flags: {
        work_dir: workDir,
        resources: "cpus:4;mem:4096;disk:4096",
        registration_backoff_factor: "10ms",
        executor_reregistration_timeout: "5secs",
        command_executors_per_process: "4",
      },
    });
  };
  await start();
  const c = new SchedulerClient({
    master: master.address,
    framework: { user: userInfo().username, name: "shared-recovery", checkpoint: true },
  });
  try {
    const tasks = startQueued(c);
    const last = (id: string) => tasks.statuses.get(id)?.at(-1)?.state;
    const count = (id: string, state: string) =>
      (tasks.statuses.get(id) ?? []).filter((s) => s.state === state).length;
    const ids = ["r1", "r2", "r3"];
    for (const id of ids) tasks.push(id, "sleep 600");
    await waitFor("three TASK_RUNNING", () => ids.every((id) => last(id) === "TASK_RUNNING"));
    const url = agent?.url as string;
    const dirs = await executorDirectories(url);
    const standIns = new Map<string, number>();
    for (const id of ids) standIns.set(id, await standInOf(workDir, dirs.get(id) as string));
    const hosts = new Set([...standIns.values()].map(hostOf));
    assert.equal(hosts.size, 1, "three executors share one host (4 per process)");
    const host = [...hosts][0] as number;
    const sleeps = new Map(
      ids.map((id) => [
        id,
        processesIn(dirs.get(id) as string)
          .filter((p) => p.comm === "sleep")
          .map((p) => p.pid),
      ]),
    );
    await updatesAcknowledged(workDir);

    agent?.kill("SIGKILL");
    await agent?.exited;
    assert.ok(alive(host), "the host survives the agent's SIGKILL");
    for (const id of ids) assert.ok(alive(standIns.get(id) as number), `${id}'s stand-in lives`);
    await start();
    await waitFor("the restarted agent to show its executors re-subscribed", async () => {
      const state = await getJson<{
        frameworks?: { executors?: { id: string; tasks?: { state: string }[] }[] }[];
      }>(`${agent?.url}/state`);
      const executors = (state?.frameworks ?? []).flatMap((f) => f.executors ?? []);
      return (
        ids.every((id) =>
          executors.some((e) => e.id === id && e.tasks?.some((t) => t.state === "TASK_RUNNING")),
        ) && agent?.logs().includes("Finished recovery")
      );
    });
    const log = agent?.logs() ?? "";
    assert.ok(!/Killing un-reregistered executor/.test(log), "every executor re-subscribed");
    for (const id of ids) {
      assert.equal(last(id), "TASK_RUNNING", `${id} stays RUNNING`);
      assert.ok((sleeps.get(id) ?? []).every(alive), `${id}'s task process lives`);
    }
    assert.ok(alive(host), "the same host still runs them");

    await c.kill({ value: "r1" }, tasks.agentId());
    await waitFor("r1 TASK_KILLED", () => last("r1") === "TASK_KILLED");
    await waitFor("r1's stand-in to end", () => !alive(standIns.get("r1") as number));
    for (const id of ["r2", "r3"]) {
      assert.equal(last(id), "TASK_RUNNING", `${id} keeps running`);
      assert.ok((sleeps.get(id) ?? []).every(alive), `${id}'s task process lives`);
    }
    assert.equal(count("r1", "TASK_KILLED"), 1);

    // The old host dies after the restart: the restarted agent (which never
    // talked to it) sees its stand-ins end and fails the tasks it still ran.
    process.kill(host, "SIGKILL");
    await waitFor("r2 and r3 to end", () =>
      ["r2", "r3"].every((id) =>
        ["TASK_FAILED", "TASK_LOST", "TASK_GONE"].includes(last(id) ?? ""),
      ),
    );
    for (const id of ids) {
      await waitFor(
        `nothing left of ${id}`,
        () => processesIn(dirs.get(id) as string).length === 0,
      );
      assert.ok(!alive(standIns.get(id) as number), `${id}'s stand-in is gone`);
    }
    assert.equal(count("r1", "TASK_LOST") + count("r1", "TASK_FAILED"), 0, "r1 was not lost");
  } finally {
    await closeClients([c]);
  }
});
