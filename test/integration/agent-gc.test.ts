/**
 * Sandbox garbage collection on a real master and agent: a finished
 * command task's sandbox is removed after --gc_delay (and pruned by the
 * disk watch), the completed executor stays in /state, the sandbox leaves
 * /files; after an agent restart, finished runs found on disk are removed
 * by their age.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { metricsSnapshot } from "../harness/metrics.js";
import {
  binPath,
  type DaemonHandle,
  freePort,
  getJson,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
  waitForAgents,
} from "../harness/processes.js";

const schedulers: ChildProcess[] = [];

after(async () => {
  for (const scheduler of schedulers) {
    if (scheduler.exitCode !== null || scheduler.signalCode !== null) continue;
    const exited = new Promise((resolve) => scheduler.once("exit", resolve));
    scheduler.kill("SIGINT");
    await exited;
  }
  await stopAll();
});

interface ExecutorJson {
  id: string;
  directory: string;
}
interface FrameworkJson {
  id: string;
  completed_executors?: ExecutorJson[];
}
interface StateJson {
  id?: string;
  frameworks?: FrameworkJson[];
  completed_frameworks?: FrameworkJson[];
}

/** The completed executor `executorId` as the agent's /state shows it. */
async function completedExecutor(
  agent: DaemonHandle,
  executorId: string,
): Promise<ExecutorJson | undefined> {
  const state = await getJson<StateJson>(`${agent.url}/state`);
  for (const f of [...(state?.frameworks ?? []), ...(state?.completed_frameworks ?? [])]) {
    const e = (f.completed_executors ?? []).find((x) => x.id === executorId);
    if (e !== undefined) return e;
  }
  return undefined;
}

async function runTask(master: DaemonHandle, name: string, extra: string[] = []): Promise<void> {
  const run = await runBinary(
    "mesos-execute",
    [`--master=${master.address}`, `--name=${name}`, "--command=echo gc-me > data", ...extra],
    { timeoutMs: 45_000 },
  );
  assert.equal(run.code, 0, run.stdout + run.stderr);
}

/** Sets the mtime (and atime) of `dir` and every directory below it to `seconds`. */
function ageTree(dir: string, seconds: number): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) ageTree(join(dir, entry.name), seconds);
  }
  utimesSync(dir, seconds, seconds);
}

test("agent gc: a finished task's sandbox is removed after --gc_delay; /state keeps the executor, /files forgets the sandbox", async () => {
  const { master, agent } = await startOneAgentCluster({
    gc_delay: "2secs",
    disk_watch_interval: "1secs",
    registration_backoff_factor: "10ms",
  });
  await runTask(master, "gc-task");
  const executor = await waitFor("the completed executor in /state", () =>
    completedExecutor(agent, "gc-task"),
  );
  const runDir = executor.directory;
  const frameworkDir = runDir.split("/executors/")[0] ?? "";
  assert.match(frameworkDir, /\/frameworks\/[^/]+$/);

  await waitFor(
    "the sandbox removed and counted",
    async () => {
      const m = await metricsSnapshot(agent);
      return !existsSync(runDir) && (m["gc/path_removals_succeeded"] ?? 0) >= 1 ? m : undefined;
    },
    { timeoutMs: 30_000 },
  );
  // The framework went away with its task: its directory follows.
  await waitFor("the framework directory removed", () => !existsSync(frameworkDir), {
    timeoutMs: 15_000,
  });
  const m = await metricsSnapshot(agent);
  assert.equal(m["gc/path_removals_failed"], 0);
  assert.equal(typeof m["gc/path_removals_pending"], "number");

  assert.ok(await completedExecutor(agent, "gc-task"), "the completed executor is still in /state");
  const browse = await fetch(`${agent.url}/files/browse?path=${encodeURIComponent(runDir)}`);
  await browse.body?.cancel();
  assert.equal(browse.status, 404);
  const read = await fetch(
    `${agent.url}/files/read?path=${encodeURIComponent(`${runDir}/stdout`)}&offset=0`,
  );
  await read.body?.cancel();
  assert.equal(read.status, 404);
  assert.match(agent.logs(), /Deleted '.*\/runs\//);
});

test("agent gc: after a restart, finished runs older than --gc_delay are removed at once; the framework directory gets the whole delay", async () => {
  const master = await startMaster();
  const port = await freePort();
  const workDir = tempDir("agent-gc-restart-");
  const flags = {
    work_dir: workDir,
    gc_delay: "1days",
    disk_watch_interval: "1mins",
    registration_backoff_factor: "10ms",
  };
  let agent = await startAgent({ master: master.address, port, flags });
  await waitForAgents(master, 1);
  await runTask(master, "gc-restart", ["--checkpoint"]);
  const executor = await waitFor("the completed executor in /state", () =>
    completedExecutor(agent, "gc-restart"),
  );
  const runDir = executor.directory;
  const frameworkDir = runDir.split("/executors/")[0] ?? "";
  const metaRunDir = runDir.replace(`${workDir}/slaves/`, `${workDir}/meta/slaves/`);
  assert.ok(existsSync(metaRunDir), `the run's checkpoint directory exists: ${metaRunDir}`);
  await agent.stop();

  // Two days old: past the one-day delay.
  const twoDaysAgo = Date.now() / 1000 - 2 * 24 * 3600;
  ageTree(join(workDir, "slaves"), twoDaysAgo);
  ageTree(join(workDir, "meta", "slaves"), twoDaysAgo);

  agent = await startAgent({ master: master.address, port, flags });
  await waitFor(
    "the old run's sandbox and checkpoint removed after recovery",
    () => !existsSync(runDir) && !existsSync(metaRunDir),
    { timeoutMs: 20_000 },
  );
  const m = await waitFor("gc metrics", async () => {
    const s = await metricsSnapshot(agent);
    return (s["gc/path_removals_succeeded"] ?? 0) >= 2 ? s : undefined;
  });
  assert.ok(existsSync(frameworkDir), "the framework directory is kept for the whole delay");
  assert.ok(statSync(frameworkDir).mtimeMs > twoDaysAgo * 1000, "and was touched when scheduled");
  assert.ok((m["gc/path_removals_pending"] ?? 0) >= 1, JSON.stringify(m));
  assert.equal(m["gc/path_removals_failed"], 0);
});

interface ContainerId {
  value: string;
  parent?: ContainerId;
}

async function agentCall(agent: DaemonHandle, body: unknown): Promise<Response> {
  return fetch(`${agent.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
}

test("agent gc: with --gc_non_executor_container_sandboxes an ended nested container's sandbox is removed, its parent's stays", async () => {
  const { master, agent } = await startOneAgentCluster({
    gc_delay: "2secs",
    disk_watch_interval: "1secs",
    gc_non_executor_container_sandboxes: true,
    registration_backoff_factor: "10ms",
  });
  const scheduler = spawn(
    process.execPath,
    [
      binPath("mesos-execute"),
      `--master=${master.address}`,
      "--name=gc-parent",
      "--command=sleep 120",
    ],
    { stdio: "ignore" },
  );
  schedulers.push(scheduler);
  const parent = await waitFor(
    "the parent executor container",
    async () => {
      const r = await agentCall(agent, { type: "GET_CONTAINERS", get_containers: {} });
      const body = (await r.json()) as {
        get_containers?: { containers?: { container_id: ContainerId }[] };
      };
      return body.get_containers?.containers?.[0]?.container_id;
    },
    { timeoutMs: 45_000 },
  );
  const childId = { value: randomUUID(), parent };
  const launch = await agentCall(agent, {
    type: "LAUNCH_NESTED_CONTAINER",
    launch_nested_container: { container_id: childId, command: { value: "echo nested > out" } },
  });
  assert.equal(launch.status, 200, await launch.text());
  const wait = await agentCall(agent, {
    type: "WAIT_NESTED_CONTAINER",
    wait_nested_container: { container_id: childId },
  });
  assert.equal(wait.status, 200, await wait.clone().text());
  const state = await getJson<StateJson & { frameworks?: { executors?: ExecutorJson[] }[] }>(
    `${agent.url}/state`,
  );
  const parentDir = state?.frameworks?.[0]?.executors?.[0]?.directory ?? "";
  assert.ok(existsSync(parentDir), `the parent's sandbox exists: ${parentDir}`);
  const childDir = join(parentDir, "containers", childId.value);
  await waitFor("the nested sandbox removed", () => !existsSync(childDir), { timeoutMs: 20_000 });
  assert.ok(existsSync(parentDir), "the running executor's sandbox is kept");
  // The collector logs after the removal: the line may land a moment after the directory is gone.
  await waitFor("the collector's log line for the nested sandbox", () =>
    agent.logs().includes(`Deleted '${childDir}'`),
  );
  const m = await metricsSnapshot(agent);
  assert.ok((m["gc/path_removals_succeeded"] ?? 0) >= 1, JSON.stringify(m));
});
