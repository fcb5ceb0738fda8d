/**
 * Agent recovery with real processes: a checkpointing framework's task
 * keeps running while its agent is killed with SIGKILL and restarted; the
 * restarted agent re-attaches to the same executor, re-registers with the
 * same id and replays the status updates the framework did not acknowledge.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { readUpdatesFile } from "../../src/agent/checkpoint/state.js";
import type { Offer, TaskStatus } from "../../src/scheduler/index.js";
import { SchedulerClient, type SchedulerClientOptions } from "../../src/scheduler/index.js";
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
import { closeClients, commandTaskFitting } from "../harness/queued-tasks.js";

let master: DaemonHandle;
const clients: SchedulerClient[] = [];

before(async () => {
  master = await startMaster();
});

/** Executors started by the tests: killed at the end even when a test failed midway. */
const executorPids = new Set<number>();

after(async () => {
  killProcessGroups(executorPids);
  await closeClients(clients);
  await stopAll();
});

/** An agent on a fixed port and work dir, so that it can be restarted as itself. */
class RestartableAgent {
  daemon: DaemonHandle | undefined;
  readonly workDir = tempDir("agent-recovery-");
  constructor(readonly port: number) {}

  async start(): Promise<DaemonHandle> {
    this.daemon = await startAgent({
      master: master.address,
      port: this.port,
      flags: {
        work_dir: this.workDir,
        registration_backoff_factor: "10ms",
        executor_reregistration_timeout: "5secs",
      },
    });
    return this.daemon;
  }

  async kill(): Promise<void> {
    const d = this.daemon;
    if (d === undefined) return;
    d.kill("SIGKILL");
    await d.exited;
  }

  /** The agent's id as its /state reports it, once registered. */
  async registeredId(): Promise<string> {
    return waitFor("the agent to be registered", async () => {
      const state = await getJson<{ id?: string }>(`${this.daemon?.url}/state`);
      return state?.id !== undefined && state.id !== "" ? state.id : undefined;
    });
  }

  /** Files under meta/ whose path ends with `suffix`. */
  metaFiles(suffix: string): string[] {
    const root = join(this.workDir, "meta");
    if (!existsSync(root)) return [];
    return (readdirSync(root, { recursive: true }) as string[])
      .filter((p) => p.endsWith(suffix) && !p.split("/").includes("latest"))
      .map((p) => join(root, p));
  }
}

/** Status updates by task. */
class Updates {
  readonly all: TaskStatus[] = [];
  record = (status: TaskStatus): void => {
    this.all.push(status);
  };
  states(taskId: string): string[] {
    return this.all.filter((s) => s.task_id.value === taskId).map((s) => s.state);
  }
  count(taskId: string, state: string): number {
    return this.states(taskId).filter((s) => s === state).length;
  }
}

function client(name: string, options: Partial<SchedulerClientOptions> = {}): SchedulerClient {
  const c = new SchedulerClient({
    master: master.address,
    framework: { user: userInfo().username, name, checkpoint: true },
    ...options,
  });
  clients.push(c);
  return c;
}

/** Launches one task on the first offer of `agentId` that fits; declines the rest. */
function launchOnce(c: SchedulerClient, agentId: string, id: string, command: string) {
  let launched = false;
  return (offers: Offer[]) => {
    for (const offer of offers) {
      const task =
        launched || offer.agent_id.value !== agentId
          ? undefined
          : commandTaskFitting(offer, id, command);
      if (task === undefined) {
        void c.decline([offer.id], { refuse_seconds: 3600 });
        continue;
      }
      launched = true;
      void c.launch([offer.id], [task]);
    }
  };
}

test("agent recovery: SIGKILL and restart keep the task running on the same executor; TASK_FINISHED arrives once", async () => {
  const agent = new RestartableAgent(await freePort());
  await agent.start();
  const agentId = await agent.registeredId();
  const flag = join(agent.workDir, "finish-now");
  const updates = new Updates();
  const c = client("recovery-a");
  c.start({
    offers: launchOnce(c, agentId, "long", `while [ ! -e ${flag} ]; do sleep 0.1; done`),
    update: updates.record,
  });
  await waitFor("TASK_RUNNING", () => updates.count("long", "TASK_RUNNING") > 0);
  const pidFile = await waitFor("forked.pid", () => agent.metaFiles("pids/forked.pid")[0]);
  const pid = Number(readFileSync(pidFile, "utf8"));
  executorPids.add(pid);
  assert.equal(agent.metaFiles("task.info").length, 1, "task.info is checkpointed");
  // Kill once the acknowledgements are on disk: one still in flight would
  // (rightly) make the restarted agent send TASK_RUNNING again.
  await waitFor("the acknowledgements to be checkpointed", () => {
    const file = agent.metaFiles("task.updates")[0];
    if (file === undefined) return false;
    const read = readUpdatesFile(file, false);
    return read.updates.length >= 2 && read.acks.size === read.updates.length;
  });

  await agent.kill();
  assert.ok(alive(pid), "the executor survives the agent's SIGKILL");

  await agent.start();
  assert.equal(await agent.registeredId(), agentId, "the restarted agent keeps its id");
  assert.ok(alive(pid), "the same executor process still runs");
  await waitFor("the agent to show the recovered task RUNNING", async () => {
    const state = await getJson<{
      frameworks?: { executors?: { tasks?: { id: string; state: string }[] }[] }[];
    }>(`${agent.daemon?.url}/state`);
    const tasks = (state?.frameworks ?? []).flatMap((f) =>
      (f.executors ?? []).flatMap((e) => e.tasks ?? []),
    );
    return tasks.some((t) => t.id === "long" && t.state === "TASK_RUNNING");
  });
  await waitFor("the master to see the agent active again", async () => {
    const state = await getJson<{ slaves?: { id: string; active?: boolean }[] }>(
      `${master.url}/master/state`,
    );
    return (state?.slaves ?? []).some((s) => s.id === agentId && s.active !== false);
  });

  writeFileSync(flag, "");
  await waitFor("TASK_FINISHED", () => updates.count("long", "TASK_FINISHED") > 0);
  // Once the acknowledgement is on disk the agent can never send the update again.
  const updatesFile = agent.metaFiles("task.updates")[0];
  assert.ok(updatesFile);
  await waitFor("the acknowledgement of TASK_FINISHED to be checkpointed", () => {
    const file = readUpdatesFile(updatesFile, false);
    const finished = file.updates.find((u) => u.status.state === "TASK_FINISHED");
    return finished?.uuid !== undefined && file.acks.size === file.updates.length;
  });
  await waitFor("the executor to exit", () => !alive(pid));
  assert.equal(updates.count("long", "TASK_FINISHED"), 1);
  assert.equal(updates.count("long", "TASK_RUNNING"), 1);
  assert.deepEqual(
    updates.states("long").filter((s) => s === "TASK_LOST" || s === "TASK_FAILED"),
    [],
  );
  await c.teardown();
});

test("agent recovery: an update not acknowledged before the restart is delivered after it", async () => {
  const agent = new RestartableAgent(await freePort());
  await agent.start();
  const agentId = await agent.registeredId();
  const updates = new Updates();
  const c = client("recovery-b", { autoAcknowledge: false });
  let ackFinished = false;
  c.start({
    offers: launchOnce(c, agentId, "short", "true"),
    update: (status) => {
      updates.record(status);
      if (status.state !== "TASK_FINISHED" || ackFinished) {
        void c.acknowledge(status);
      }
    },
  });
  await waitFor(
    "TASK_FINISHED (left unacknowledged)",
    () => updates.count("short", "TASK_FINISHED") > 0,
  );
  const firstRun = agent.daemon;
  await agent.kill();
  ackFinished = true;
  const before = updates.count("short", "TASK_FINISHED");
  await agent.start();
  await waitFor(
    "TASK_FINISHED to be delivered again by the restarted agent",
    () => updates.count("short", "TASK_FINISHED") > before,
  );
  const log = agent.daemon?.logs() ?? "";
  assert.match(
    log,
    /Recovered 1 unacknowledged status update\(s\) of task short/,
    `${agent.metaFiles("").join("\n")}\n---- first run:\n${firstRun?.logs()}`,
  );
  await c.teardown();
});

test("agent recovery: after a graceful stop (SIGTERM, as for an upgrade) the restarted agent keeps the task", async () => {
  const agent = new RestartableAgent(await freePort());
  await agent.start();
  const agentId = await agent.registeredId();
  const flag = join(agent.workDir, "finish-now");
  const updates = new Updates();
  const c = client("recovery-c");
  c.start({
    offers: launchOnce(c, agentId, "upgrade", `while [ ! -e ${flag} ]; do sleep 0.1; done`),
    update: updates.record,
  });
  await waitFor("TASK_RUNNING", () => updates.count("upgrade", "TASK_RUNNING") > 0);
  const pidFile = await waitFor("forked.pid", () => agent.metaFiles("pids/forked.pid")[0]);
  const pid = Number(readFileSync(pidFile, "utf8"));
  executorPids.add(pid);
  await agent.daemon?.stop(30_000);
  assert.ok(alive(pid), "the executor of a checkpointing framework outlives a graceful stop");
  await agent.start();
  assert.equal(await agent.registeredId(), agentId);
  writeFileSync(flag, "");
  await waitFor("TASK_FINISHED", () => updates.count("upgrade", "TASK_FINISHED") > 0);
  assert.equal(updates.count("upgrade", "TASK_FINISHED"), 1);
  await c.teardown();
});
