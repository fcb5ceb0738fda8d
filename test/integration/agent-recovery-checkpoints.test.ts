/**
 * Agent recovery from damaged checkpoints and changed flags, with real
 * processes: a torn last record of `task.updates` is cut off and recovery
 * goes on; a corrupted record stops a strict agent with a message naming the
 * file, and `--strict=false` recovers the rest; a changed `--resources`
 * stops the agent with the `rm -f <work_dir>/meta/slaves/latest` advice.
 */
import assert from "node:assert/strict";
import {
  appendFileSync,
  existsSync,
  readFileSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { TaskStatus } from "../../src/scheduler/index.js";
import { SchedulerClient } from "../../src/scheduler/index.js";
import { metaFiles, updatesAcknowledged } from "../harness/checkpoints.js";
import {
  type DaemonHandle,
  freePort,
  getJson,
  killProcessGroups,
  type RunResult,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitLong as waitFor,
} from "../harness/processes.js";
import { launchOnce } from "../harness/queued-tasks.js";

let master: DaemonHandle;
let scheduler: SchedulerClient | undefined;

before(async () => {
  master = await startMaster();
});

/** Executors started by the tests: killed at the end even when a test failed midway. */
const executorPids = new Set<number>();

after(async () => {
  killProcessGroups(executorPids);
  if (scheduler?.state === "subscribed") await scheduler.teardown().catch(() => undefined);
  scheduler?.close();
  await stopAll();
});

const RESOURCES = "cpus:2;mem:1024;disk:1024;ports:[31000-32000]";

test("agent recovery: torn, corrupted and incompatible checkpoints", async () => {
  const port = await freePort();
  const workDir = tempDir("agent-recovery-damaged-");
  const flagsWith = (flags: Record<string, string | boolean>) => ({
    work_dir: workDir,
    registration_backoff_factor: "10ms",
    executor_reregistration_timeout: "5secs",
    resources: RESOURCES,
    ...flags,
  });
  const start = (flags: Record<string, string | boolean> = {}) =>
    startAgent({ master: master.address, port, flags: flagsWith(flags) });
  /** Runs an agent expected to refuse to start; resolves with its output. */
  const refused = async (flags: Record<string, string | boolean> = {}): Promise<RunResult> => {
    const all: Record<string, string | boolean | number> = {
      master: master.address,
      ip: "127.0.0.1",
      port,
      ...flagsWith(flags),
    };
    const args = Object.entries(all).map(([k, v]) =>
      v === false ? `--no-${k}` : v === true ? `--${k}` : `--${k}=${v}`,
    );
    const result = await runBinary("mesos-agent", args, { timeoutMs: 30_000 });
    assert.equal(result.code, 1, `the agent must refuse to start:\n${result.stderr}`);
    return result;
  };
  let agent = await start();
  const agentId = await waitFor("registration", async () => {
    const state = await getJson<{ id?: string }>(`${agent.url}/state`);
    return state?.id !== undefined && state.id !== "" ? state.id : undefined;
  });

  // A checkpointing framework with one long task.
  const flag = join(workDir, "finish-now");
  const statuses: TaskStatus[] = [];
  const c = new SchedulerClient({
    master: master.address,
    framework: { user: userInfo().username, name: "damaged", checkpoint: true },
  });
  scheduler = c;
  c.start({
    offers: launchOnce(c, "t", `while [ ! -e ${flag} ]; do sleep 0.1; done`),
    update: (s) => statuses.push(s),
  });
  await waitFor("TASK_RUNNING", () => statuses.some((s) => s.state === "TASK_RUNNING"));
  const pidFile = await waitFor("forked.pid", () => metaFiles(workDir, "pids/forked.pid")[0]);
  executorPids.add(Number(readFileSync(pidFile, "utf8")));
  const updatesFile = metaFiles(workDir, "task.updates")[0];
  assert.ok(updatesFile, "task.updates is checkpointed");
  // Every update acknowledged on disk: an acknowledgement still in flight at
  // the kill would be appended after the restart, changing the good size.
  await updatesAcknowledged(workDir);

  const kill = async () => {
    agent.kill("SIGKILL");
    await agent.exited;
  };

  // 1. A torn last record (the agent died mid-append) is cut off.
  await kill();
  const goodSize = statSync(updatesFile).size;
  const torn = Buffer.alloc(7);
  torn.writeUInt32LE(200, 0);
  appendFileSync(updatesFile, torn);
  agent = await start();
  await waitFor("re-registration after a torn record", async () => {
    const state = await getJson<{ id?: string }>(`${agent.url}/state`);
    return state?.id === agentId;
  });
  assert.equal(statSync(updatesFile).size, goodSize, "the torn tail was truncated");

  // 2. A complete record that does not decode: strict recovery stops and names the file.
  await kill();
  const corrupt = Buffer.from([5, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff]);
  appendFileSync(updatesFile, corrupt);
  const strict = await refused();
  assert.match(strict.stderr, /Failed to perform recovery/);
  assert.ok(strict.stderr.includes(updatesFile), "the message names the corrupted file");
  assert.match(strict.stderr, /--strict=false/);

  // 3. --strict=false skips what cannot be read and keeps the agent id.
  agent = await start({ strict: false });
  await waitFor("re-registration with --strict=false", async () => {
    const state = await getJson<{ id?: string }>(`${agent.url}/state`);
    return state?.id === agentId;
  });
  assert.match(agent.logs(), /Recovery skipped a checkpoint: Failed to read status updates file/);

  // 4. Incompatible --resources: refuse, and tell how to start afresh.
  await kill();
  truncateSync(updatesFile, goodSize);
  const latest = join(workDir, "meta", "slaves", "latest");
  const changed = await refused({ resources: "cpus:3;mem:1024;disk:1024;ports:[31000-32000]" });
  assert.match(changed.stderr, /Incompatible agent info/);
  assert.ok(changed.stderr.includes(`rm -f ${latest}`), "the message names the link to remove");
  assert.ok(existsSync(latest), "nothing was removed");

  // Back with the old flags; end the task so nothing outlives the test.
  agent = await start();
  writeFileSync(flag, "");
  await waitFor("the task to end", () =>
    statuses.some((s) => ["TASK_FINISHED", "TASK_LOST", "TASK_FAILED"].includes(s.state)),
  );
  await c.teardown();
});
