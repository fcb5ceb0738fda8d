/**
 * Isolation across an agent restart: a checkpointing framework's task
 * waits for a file; the agent is killed with SIGKILL and restarted on the
 * same work dir; once the recovered executor has re-subscribed the file
 * appears and the task breaks a limit. The restarted agent's isolators must
 * follow the adopted container again:
 * - `network/ports` (`--enforce_container_ports`): the task listens on a
 *   port it was not given. Reads /proc: Linux only; needs no root.
 * - `cgroups/mem` (linux launcher): the task allocates more than its
 *   memory. Needs root and cgroups; skips otherwise.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CgroupsHierarchy } from "../../src/agent/containerizer/cgroups/hierarchy.js";
import { isTerminalState } from "../../src/common/protocol/task-states.js";
import type { Offer, TaskStatus } from "../../src/scheduler/index.js";
import {
  findOfferResources,
  parseResourceText,
  SchedulerClient,
} from "../../src/scheduler/index.js";
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
import { closeClients } from "../harness/queued-tasks.js";
import { isolationSkipReason, removeRootCgroups } from "./containerizer-helpers.js";

const skipPorts = process.platform !== "linux" ? "reads /proc/net/tcp (Linux only)" : undefined;
const skipMem = isolationSkipReason(["memory", "freezer"]);
const CGROUPS_ROOT = `mesos-test-${process.pid}`;
let master: DaemonHandle | undefined;
const schedulers: SchedulerClient[] = [];
const executorPids = new Set<number>();

before(async () => {
  if (skipPorts !== undefined) return;
  master = await startMaster();
});

after(async () => {
  killProcessGroups(executorPids);
  await closeClients(schedulers);
  await stopAll();
  const cgroups = CgroupsHierarchy.detect("/sys/fs/cgroup", CGROUPS_ROOT);
  if (skipMem === undefined && !("error" in cgroups)) removeRootCgroups(cgroups);
});

/**
 * Starts an agent with `flags`, launches one task (`resources`) running
 * `command` once a file exists, restarts the agent with SIGKILL, creates
 * the file after the executor re-subscribed, and resolves with the task's
 * terminal status and the restarted agent.
 */
async function breakLimitAfterRestart(o: {
  name: string;
  flags: Record<string, string | boolean>;
  resources: string;
  command: string;
}): Promise<{ status: TaskStatus; agent: DaemonHandle }> {
  const m = master as DaemonHandle;
  const port = await freePort();
  const workDir = tempDir("agent-isolation-recovery-");
  const file = join(tempDir("isolation-recovery-flag-"), "go");
  const flags = {
    ...o.flags,
    work_dir: workDir,
    registration_backoff_factor: "10ms",
    // The longest allowed: recovery ends as soon as the executor re-subscribes.
    executor_reregistration_timeout: "15secs",
  };
  let agent = await startAgent({ master: m.address, port, flags });
  const agentId = await waitFor("the agent to be registered", async () => {
    const state = await getJson<{ id?: string }>(`${agent.url}/state`);
    return state?.id !== undefined && state.id !== "" ? state.id : undefined;
  });
  const updates: TaskStatus[] = [];
  const wanted = parseResourceText(o.resources);
  assert.ok(wanted.ok);
  const c = new SchedulerClient({
    master: m.address,
    framework: { user: userInfo().username, name: o.name, checkpoint: true },
  });
  schedulers.push(c);
  let launched = false;
  c.start({
    offers: (offers: Offer[]) => {
      for (const offer of offers) {
        const found =
          launched || offer.agent_id.value !== agentId
            ? undefined
            : findOfferResources(offer, wanted.resources);
        if (found === undefined) {
          void c.decline([offer.id], { refuse_seconds: 3600 });
          continue;
        }
        launched = true;
        const value = `while [ ! -e ${file} ]; do sleep 0.1; done; ${o.command}`;
        void c.launch(
          [offer.id],
          [
            {
              name: o.name,
              task_id: { value: o.name },
              agent_id: offer.agent_id,
              resources: found,
              command: { shell: true, value },
            },
          ],
        );
      }
    },
    update: (status) => updates.push(status),
  });
  await waitFor("TASK_RUNNING", () => updates.some((s) => s.state === "TASK_RUNNING"));
  const pidFile = await waitFor("the executor's checkpointed pid", () => {
    const found = (readdirRecursive(join(workDir, "meta")) ?? []).find(
      (p) => p.endsWith("pids/forked.pid") && !p.split("/").includes("latest"),
    );
    return found === undefined ? undefined : join(workDir, "meta", found);
  });
  executorPids.add(Number(readFileSync(pidFile, "utf8")));

  agent.kill("SIGKILL");
  await agent.exited;
  agent = await startAgent({ master: m.address, port, flags });
  // Recovery finishes once the executor has re-subscribed (or was given up on).
  await waitFor("the restarted agent to finish recovery", () =>
    agent.logs().includes("Finished recovery"),
  );
  assert.match(agent.logs(), /Received Subscribe request for HTTP executor/);
  writeFileSync(file, "");
  const ended = await waitFor("the task to end", () =>
    updates.find((s) => s.task_id.value === o.name && isTerminalState(s.state)),
  );
  await c.teardown();
  return { status: ended, agent };
}

test("network/ports: a recovered executor is still watched; listening outside its ports after the restart fails the task", {
  skip: skipPorts,
}, async () => {
  const given = await freePort();
  let other: number;
  do other = await freePort();
  while (other === given);
  const listen = `require("node:net").createServer().listen(${other}, "127.0.0.1")`;
  const { status: failed, agent } = await breakLimitAfterRestart({
    name: "ports",
    flags: {
      isolation: "network/ports",
      container_ports_watch_interval: "1secs",
      enforce_container_ports: true,
      resources: `cpus:2;mem:1024;disk:1024;ports:[${given}-${given},${other}-${other}]`,
    },
    resources: `cpus:0.1;mem:32;ports:[${given}-${given}]`,
    command: `exec ${JSON.stringify(process.execPath)} -e '${listen}'`,
  });
  assert.equal(failed.state, "TASK_FAILED", JSON.stringify(failed));
  assert.equal(failed.reason, "REASON_CONTAINER_LIMITATION", JSON.stringify(failed));
  assert.equal(failed.source, "SOURCE_AGENT");
  assert.match(
    failed.message ?? "",
    new RegExp(`listening on unallocated port\\(s\\): \\[${other}-${other}\\]`),
  );
  assert.deepEqual(failed.limitation?.resources, [
    { name: "ports", type: "RANGES", ranges: { range: [{ begin: other, end: other }] } },
  ]);
  await agent.stop();
});

test("cgroups/mem: a recovered container that reaches its memory limit fails its task with the memory reason", {
  skip: skipMem,
}, async () => {
  const cgroups = CgroupsHierarchy.detect("/sys/fs/cgroup", CGROUPS_ROOT) as CgroupsHierarchy;
  // Filled from user space: see containerizer-cgroups.test.ts.
  const hog = `${process.execPath} -e "Buffer.alloc(200 * 1024 * 1024, 1); setTimeout(() => {}, 60000)"`;
  const { status: failed, agent } = await breakLimitAfterRestart({
    name: "hog",
    flags: {
      isolation: "cgroups/mem",
      launcher: "linux",
      cgroups_root: CGROUPS_ROOT,
      executor_shutdown_grace_period: "1secs",
    },
    resources: "cpus:0.1;mem:64",
    command: hog,
  });
  assert.equal(failed.state, "TASK_FAILED", JSON.stringify(failed));
  assert.equal(failed.reason, "REASON_CONTAINER_LIMITATION_MEMORY", JSON.stringify(failed));
  assert.match(failed.message ?? "", /Memory limit exceeded/);
  // RecoveredCgroups removes them once they are empty.
  await waitFor(
    "the container's cgroups to be removed",
    async () =>
      (await cgroups.containers("memory")).length === 0 &&
      (await cgroups.containers("freezer")).length === 0,
  );
  await agent.stop();
});

function readdirRecursive(dir: string): string[] | undefined {
  try {
    return readdirSync(dir, { recursive: true }) as string[];
  } catch {
    return undefined;
  }
}
