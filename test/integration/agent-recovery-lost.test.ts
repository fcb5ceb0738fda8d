/**
 * Agent recovery, the tasks that do not survive: an executor that dies while
 * its agent is down, the tasks of a framework that does not checkpoint, and
 * `--recover=cleanup`. Real master, agents and command executors.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Offer, TaskStatus } from "../../src/scheduler/index.js";
import {
  findOfferResources,
  parseResourceText,
  SchedulerClient,
} from "../../src/scheduler/index.js";
import { alive } from "../harness/proc-scan.js";
import {
  type DaemonHandle,
  freePort,
  getJson,
  killProcessGroups,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitLong as waitFor,
} from "../harness/processes.js";
import { closeClients } from "../harness/queued-tasks.js";

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

const flagsFor = (workDir: string) => ({
  work_dir: workDir,
  registration_backoff_factor: "10ms",
  executor_reregistration_timeout: "5secs",
  // One process per executor: a test SIGSTOPs the executor's own process.
  command_executors_per_process: "1",
});

/** Starts an agent and a framework with one endless task on it; resolves once it runs. */
async function runningTask(name: string, checkpoint: boolean) {
  const port = await freePort();
  const workDir = tempDir(`agent-recovery-${name}-`);
  const agent = await startAgent({ master: master.address, port, flags: flagsFor(workDir) });
  const agentId = await waitFor("registration", async () => {
    const state = await getJson<{ id?: string }>(`${agent.url}/state`);
    return state?.id !== undefined && state.id !== "" ? state.id : undefined;
  });
  const statuses: TaskStatus[] = [];
  const c = new SchedulerClient({
    master: master.address,
    framework: { user: userInfo().username, name, checkpoint },
  });
  clients.push(c);
  let launched = false;
  c.start({
    offers: (offers: Offer[]) => {
      for (const offer of offers) {
        const wanted = parseResourceText("cpus:0.1;mem:32");
        assert.ok(wanted.ok);
        const found =
          launched || offer.agent_id.value !== agentId
            ? undefined
            : findOfferResources(offer, wanted.resources);
        if (found === undefined) {
          void c.decline([offer.id], { refuse_seconds: 3600 });
          continue;
        }
        launched = true;
        void c.launch(
          [offer.id],
          [
            {
              name,
              task_id: { value: name },
              agent_id: offer.agent_id,
              resources: found,
              command: { shell: true, value: "sleep 600" },
            },
          ],
        );
      }
    },
    update: (s) => statuses.push(s),
  });
  await waitFor(`${name} RUNNING`, () => statuses.some((s) => s.state === "TASK_RUNNING"));
  const pid = await waitFor("forked.pid", () => executorPid(workDir));
  executorPids.add(pid);
  return { port, workDir, agent, agentId, statuses, client: c, pid };
}

function executorPid(workDir: string): number | undefined {
  const root = join(workDir, "meta");
  const file = (readdirSync(root, { recursive: true }) as string[]).find(
    (p) => p.endsWith("pids/forked.pid") && !p.split("/").includes("latest"),
  );
  if (file === undefined) return undefined;
  const pid = Number(readFileSync(join(root, file), "utf8"));
  return pid > 0 ? pid : undefined;
}

async function killAgent(agent: DaemonHandle): Promise<void> {
  agent.kill("SIGKILL");
  await agent.exited;
}

test("agent recovery: an executor that died while the agent was down ends its task TASK_FAILED", async () => {
  const t = await runningTask("died", true);
  await killAgent(t.agent);
  process.kill(-t.pid, "SIGKILL");
  await waitFor("the executor to be gone", () => !alive(t.pid));
  await startAgent({ master: master.address, port: t.port, flags: flagsFor(t.workDir) });
  const failed = await waitFor("TASK_FAILED", () =>
    t.statuses.find((s) => s.state === "TASK_FAILED"),
  );
  assert.equal(failed.reason, "REASON_EXECUTOR_TERMINATED");
  assert.equal(failed.agent_id?.value, t.agentId);
});

test("agent recovery: a live executor that does not re-subscribe in time is killed and its task lost", async () => {
  const t = await runningTask("hung", true);
  await killAgent(t.agent);
  process.kill(t.pid, "SIGSTOP");
  try {
    const restarted = await startAgent({
      master: master.address,
      port: t.port,
      flags: flagsFor(t.workDir),
    });
    const lost = await waitFor("TASK_LOST", () =>
      t.statuses.find((s) => s.state === "TASK_LOST"),
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${restarted.logs()}`);
    });
    assert.equal(lost.reason, "REASON_EXECUTOR_REREGISTRATION_TIMEOUT");
    await waitFor("the executor to be killed", () => !alive(t.pid));
  } finally {
    if (alive(t.pid)) process.kill(-t.pid, "SIGKILL");
  }
});

test("agent recovery: a framework that does not checkpoint loses its task and its executor", async () => {
  const t = await runningTask("nocheckpoint", false);
  assert.equal(
    existsSync(
      join(
        t.workDir,
        "meta",
        "slaves",
        t.agentId,
        "frameworks",
        t.client.frameworkId?.value ?? "",
        "framework.info",
      ),
    ),
    false,
    "nothing of the framework is checkpointed",
  );
  await killAgent(t.agent);
  await startAgent({ master: master.address, port: t.port, flags: flagsFor(t.workDir) });
  const lost = await waitFor("TASK_LOST", () => t.statuses.find((s) => s.state === "TASK_LOST"));
  assert.equal(lost.task_id.value, "nocheckpoint");
  await waitFor("the executor to be gone", () => !alive(t.pid));
});

test("agent recovery: --recover=cleanup kills the old executors and exits", async () => {
  const t = await runningTask("cleanup", true);
  await killAgent(t.agent);
  assert.ok(alive(t.pid));
  const args = Object.entries({
    ...flagsFor(t.workDir),
    master: master.address,
    ip: "127.0.0.1",
    port: t.port,
    resources: "cpus:2;mem:1024;disk:1024;ports:[31000-32000]",
    recover: "cleanup",
  }).map(([k, v]) => `--${k}=${v}`);
  const result = await runBinary("mesos-agent", args, { timeoutMs: 30_000 });
  assert.equal(result.code, 0, result.stderr);
  await waitFor("the executor to be gone", () => !alive(t.pid));
});
