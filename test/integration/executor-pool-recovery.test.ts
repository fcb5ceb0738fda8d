/**
 * A command executor taken from the warm pool (`--executor_pool_size`) is
 * checkpointed and recovered like a spawned one: its task keeps running
 * while the agent is SIGKILLed and restarted, the restarted agent
 * re-attaches to the same process, and TASK_FINISHED arrives once.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { SchedulerClient } from "../../src/scheduler/index.js";
import { alive } from "../harness/proc-scan.js";
import {
  type DaemonHandle,
  freePort,
  getJson,
  killProcessGroups,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitLong as waitFor,
} from "../harness/processes.js";
import { closeClients, startQueued } from "../harness/queued-tasks.js";

let master: DaemonHandle;
const pids = new Set<number>();

before(async () => {
  master = await startMaster();
});

after(async () => {
  killProcessGroups(pids);
  await stopAll();
});

test("pool recovery: a pooled executor's task survives an agent SIGKILL and restart", async () => {
  const port = await freePort();
  const workDir = tempDir("pool-recovery-");
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
        executor_pool_size: "1",
        // The pool serves executors that run one per process.
        command_executors_per_process: "1",
      },
    });
  };
  await start();
  const flag = join(workDir, "finish-now");
  const c = new SchedulerClient({
    master: master.address,
    framework: { user: userInfo().username, name: "pool-recovery", checkpoint: true },
  });
  try {
    const tasks = startQueued(c);
    // The first launch finds the pool empty and fills it.
    tasks.push("first", "exit 0");
    await waitFor("first finished", () => tasks.count("first", "TASK_FINISHED") > 0);
    await new Promise((r) => setTimeout(r, 500));
    tasks.push("long", `while [ ! -e ${flag} ]; do sleep 0.1; done`);
    await waitFor("long running", () => tasks.count("long", "TASK_RUNNING") > 0);
    const sandbox = await waitFor("long's sandbox", async () => {
      const state = await getJson<{
        frameworks?: { executors?: { id: string; directory: string }[] }[];
      }>(`${agent?.url}/state`);
      return (state?.frameworks ?? [])
        .flatMap((f) => f.executors ?? [])
        .find((e) => e.id === "long")?.directory;
    });
    const pidFile = join(workDir, "meta", sandbox.slice(workDir.length + 1), "pids", "forked.pid");
    const pid = await waitFor("forked.pid", () => {
      try {
        return Number(readFileSync(pidFile, "utf8"));
      } catch {
        return undefined;
      }
    });
    pids.add(pid);
    // It was handed over, not spawned: it started before its sandbox's launch.
    const environ = readFileSync(`/proc/${pid}/environ`, "latin1");
    assert.match(environ, /MESOS_TS_POOLED=1/, "the executor came from the pool");
    await new Promise((r) => setTimeout(r, 500));

    agent?.kill("SIGKILL");
    await agent?.exited;
    assert.ok(alive(pid), "the pooled executor survives the agent's SIGKILL");
    await start();
    await waitFor("the agent to show the recovered task RUNNING", async () => {
      const state = await getJson<{
        frameworks?: { executors?: { tasks?: { id: string; state: string }[] }[] }[];
      }>(`${agent?.url}/state`);
      return (state?.frameworks ?? [])
        .flatMap((f) => (f.executors ?? []).flatMap((e) => e.tasks ?? []))
        .some((t) => t.id === "long" && t.state === "TASK_RUNNING");
    });
    assert.ok(alive(pid), "the same executor process still runs");
    writeFileSync(flag, "");
    await waitFor("TASK_FINISHED", () => tasks.count("long", "TASK_FINISHED") > 0);
    await waitFor("the executor to exit", () => !alive(pid));
    assert.equal(tasks.count("long", "TASK_FINISHED"), 1);
    assert.equal(tasks.count("long", "TASK_LOST") + tasks.count("long", "TASK_FAILED"), 0);
  } finally {
    await closeClients([c]);
  }
});
