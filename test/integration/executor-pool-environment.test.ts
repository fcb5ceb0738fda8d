/**
 * `--executor_pool_size`: the idle executor the pool starts after one launch
 * carries nothing of that launch's environment into the next one. Task A
 * (its own PATH) triggers the refill; task B (another PATH) gets the new
 * member: B's task sees B's PATH, and B's executor process (whose
 * environment B's task can read in /proc) holds nothing of A's. And a
 * launch whose environment asks for something only a starting process does
 * (LD_PRELOAD) gets a process of its own instead of the idle member.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { POOL_VARIABLE } from "../../src/executor/command-executor-main.js";
import type { Offer, TaskInfo, TaskStatus } from "../../src/scheduler/index.js";
import {
  findOfferResources,
  parseResourceText,
  SchedulerClient,
} from "../../src/scheduler/index.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, stopAll, waitFor } from "../harness/processes.js";

let master: DaemonHandle;
let agent: DaemonHandle;

before(async () => {
  ({ master, agent } = await startOneAgentCluster({
    resources: "cpus:4;mem:4096;disk:4096",
    executor_pool_size: "1",
    command_executors_per_process: "1",
  }));
});

after(async () => {
  await stopAll();
});

function environ(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/environ`, "latin1").split("\0");
  } catch {
    return [];
  }
}

function idleExecutors(workDir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    const pid = Number(name);
    try {
      if (!environ(pid).includes(`${POOL_VARIABLE}=1`)) continue;
      if (readlinkSync(`/proc/${pid}/cwd`) === join(workDir, "executor-pool")) out.push(pid);
    } catch {
      // gone
    }
  }
  return out;
}

/** The pid the agent recorded for executor `id` (pids/forked.pid in its run's meta directory). */
async function recordedPid(id: string): Promise<number> {
  const state = (await (await fetch(`http://${agent.address}/state`)).json()) as {
    frameworks: { executors: { id: string; directory: string }[] }[];
  };
  const executor = state.frameworks.flatMap((f) => f.executors).find((e) => e.id === id);
  assert.ok(executor !== undefined);
  const file = join(
    agent.workDir,
    "meta",
    executor.directory.slice(agent.workDir.length + 1),
    "pids",
    "forked.pid",
  );
  return await waitFor(`${id}'s pid record`, () => {
    try {
      return Number(readFileSync(file, "utf8")) || undefined;
    } catch {
      return undefined;
    }
  });
}

/** A library every glibc system has and Node does not load by itself. */
const PRELOAD = "libresolv.so.2";

function maps(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/maps`, "latin1");
  } catch {
    return "";
  }
}

const PATHS: Record<string, string> = {
  a: "/nonexistent/pool-path-a:/usr/local/bin:/usr/bin:/bin",
  b: "/nonexistent/pool-path-b:/usr/local/bin:/usr/bin:/bin",
};

test("pool: a member refilled after one launch carries nothing of its environment into the next", async () => {
  const statuses = new Map<string, TaskStatus[]>();
  const queue: string[] = [];
  const c = new SchedulerClient({
    master: master.address,
    framework: { user: userInfo().username, name: "pool-environment" },
  });
  const state = (id: string) => statuses.get(id)?.at(-1)?.state;
  try {
    c.start({
      offers: (offers: Offer[]) => {
        for (const offer of offers) {
          const id = queue.shift();
          if (id === undefined) {
            void c.decline([offer.id], { refuse_seconds: 0.1 });
            continue;
          }
          const parsed = parseResourceText("cpus:0.1;mem:32");
          assert.ok(parsed.ok);
          const task: TaskInfo = {
            name: id,
            task_id: { value: id },
            agent_id: offer.agent_id,
            resources: findOfferResources(offer, parsed.resources) ?? [],
            command: {
              shell: true,
              value: "env > task.env; exec sleep 60",
              environment: { variables: [{ name: "PATH", value: PATHS[id] as string }] },
            },
          };
          void c.launch([offer.id], [task]);
        }
      },
      update: (status) => {
        const list = statuses.get(status.task_id.value) ?? [];
        list.push(status);
        statuses.set(status.task_id.value, list);
      },
    });
    // The first pooled launch finds the pool empty: spawned, and it starts the refill.
    queue.push("a");
    await waitFor("a running", () => state("a") === "TASK_RUNNING", { timeoutMs: 30_000 });
    const idle = await waitFor(
      "an idle pooled executor",
      () => {
        const pids = idleExecutors(agent.workDir);
        return pids.length === 1 ? pids : undefined;
      },
      { timeoutMs: 20_000 },
    );
    const pooledPid = idle[0] as number;
    queue.push("b");
    await waitFor("b running", () => state("b") === "TASK_RUNNING", { timeoutMs: 30_000 });
    const agentState = (await (await fetch(`http://${agent.address}/state`)).json()) as {
      frameworks: { executors: { id: string; directory: string }[] }[];
    };
    const b = agentState.frameworks.flatMap((f) => f.executors).find((e) => e.id === "b");
    assert.ok(b !== undefined);
    // b runs in the member started after a's launch.
    assert.equal(readlinkSync(`/proc/${pooledPid}/cwd`), b.directory);
    const taskEnv = await waitFor(
      "b's task environment",
      () => {
        try {
          const text = readFileSync(join(b.directory, "task.env"), "utf8");
          return text.includes("MESOS_SANDBOX=") ? text : undefined;
        } catch {
          return undefined;
        }
      },
      { timeoutMs: 10_000 },
    );
    assert.match(taskEnv, new RegExp(`^PATH=${PATHS.b}$`, "m"));
    assert.doesNotMatch(taskEnv, /pool-path-a/);
    const executorEnv = environ(pooledPid);
    assert.ok(executorEnv.length > 0, "b's executor is running");
    assert.equal(
      executorEnv.find((v) => v.includes("pool-path-a")),
      undefined,
      "b's executor process holds a's PATH",
    );
  } finally {
    if (c.state === "subscribed") await c.teardown();
    c.close();
  }
});

test("pool: a launch with LD_PRELOAD gets its own process, which preloads it, not the idle member", async (t) => {
  const idle = await waitFor(
    "an idle pooled executor",
    () => {
      const pids = idleExecutors(agent.workDir);
      return pids.length === 1 ? pids : undefined;
    },
    { timeoutMs: 20_000 },
  );
  const member = idle[0] as number;
  const statuses = new Map<string, TaskStatus[]>();
  const queue: { id: string; env: Record<string, string> }[] = [];
  const c = new SchedulerClient({
    master: master.address,
    framework: { user: userInfo().username, name: "pool-preload" },
  });
  const state = (id: string) => statuses.get(id)?.at(-1)?.state;
  try {
    c.start({
      offers: (offers: Offer[]) => {
        for (const offer of offers) {
          const next = queue.shift();
          if (next === undefined) {
            void c.decline([offer.id], { refuse_seconds: 0.1 });
            continue;
          }
          const parsed = parseResourceText("cpus:0.1;mem:32");
          assert.ok(parsed.ok);
          const task: TaskInfo = {
            name: next.id,
            task_id: { value: next.id },
            agent_id: offer.agent_id,
            resources: findOfferResources(offer, parsed.resources) ?? [],
            command: {
              shell: true,
              value: "exec sleep 60",
              environment: {
                variables: Object.entries(next.env).map(([name, value]) => ({ name, value })),
              },
            },
          };
          void c.launch([offer.id], [task]);
        }
      },
      update: (status) => {
        const list = statuses.get(status.task_id.value) ?? [];
        list.push(status);
        statuses.set(status.task_id.value, list);
      },
    });
    queue.push({ id: "preload", env: { LD_PRELOAD: PRELOAD } });
    await waitFor("preload running", () => state("preload") === "TASK_RUNNING", {
      timeoutMs: 30_000,
    });
    const executor = await recordedPid("preload");
    const mapped = maps(executor);
    assert.ok(mapped !== "", "the executor runs");
    if (executor !== member && !mapped.includes(PRELOAD)) {
      t.skip(`${PRELOAD} cannot be preloaded here`);
      return;
    }
    assert.notEqual(executor, member, "the launch was handed to the idle member");
    assert.match(mapped, new RegExp(PRELOAD.replaceAll(".", "\\.")));
    assert.deepEqual(idleExecutors(agent.workDir), [member], "the member still waits");
  } finally {
    if (c.state === "subscribed") await c.teardown();
    c.close();
  }
});
