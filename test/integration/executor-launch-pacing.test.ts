/**
 * `--executor_launch_concurrency` on a real agent: with a limit of 1, three
 * command tasks accepted at once all reach TASK_RUNNING (each executor
 * signals its start on the ready pipe, freeing the slot for the next); the
 * pipe is gone from the executor and never reaches the task, whose
 * environment carries no trace of it.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { READY_FD_VARIABLE } from "../../src/executor/command-executor-main.js";
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
    executor_launch_concurrency: "1",
    // Pacing applies to executors that run one per process.
    command_executors_per_process: "1",
  }));
});

after(async () => {
  await stopAll();
});

/** NUL-separated environment of a process. */
function environ(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, "latin1").split("\0");
}

/** Pids whose parent is `pid`. */
function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter((x) => x !== "")
      .map(Number);
  } catch {
    return [];
  }
}

/** Inodes of the Unix domain sockets on this host (the ready pipe is one). */
function unixSocketInodes(): Set<string> {
  const lines = readFileSync("/proc/net/unix", "latin1").trim().split("\n").slice(1);
  return new Set(lines.map((l) => l.trim().split(/\s+/)[6] ?? ""));
}

/** The Unix sockets `pid` holds (Node opens none of its own: TCP, pipes and eventfds only). */
function unixSockets(pid: number): string[] {
  const unix = unixSocketInodes();
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
      if (inode !== undefined && unix.has(inode)) out.push(`${fd}->${link}`);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

test("pacing: three tasks with a limit of 1 all run; the ready pipe stays out of the task", async () => {
  const statuses = new Map<string, TaskStatus>();
  const ids = ["p0", "p1", "p2"];
  let launched = false;
  const c = new SchedulerClient({
    master: master.address,
    framework: { user: userInfo().username, name: "pacing" },
  });
  try {
    c.start({
      offers: (offers: Offer[]) => {
        for (const offer of offers) {
          if (launched) {
            void c.decline([offer.id]);
            continue;
          }
          launched = true;
          const parsed = parseResourceText("cpus:0.1;mem:32");
          assert.ok(parsed.ok);
          const tasks: TaskInfo[] = ids.map((id) => ({
            name: id,
            task_id: { value: id },
            agent_id: offer.agent_id,
            resources: findOfferResources(offer, parsed.resources) ?? [],
            command: { shell: true, value: "env > task.env; exec sleep 60" },
          }));
          void c.launch([offer.id], tasks);
        }
      },
      update: (status) => {
        statuses.set(status.task_id.value, status);
      },
    });
    await waitFor(
      "three tasks running",
      () => {
        const states = ids.map((id) => statuses.get(id)?.state);
        const bad = states.find(
          (s) => s !== undefined && s !== "TASK_STARTING" && s !== "TASK_RUNNING",
        );
        if (bad !== undefined)
          throw new Error(`a task ended ${bad}: ${JSON.stringify([...statuses.values()])}`);
        return states.every((s) => s === "TASK_RUNNING");
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    const state = (await (await fetch(`http://${agent.address}/state`)).json()) as {
      frameworks: { executors: { id: string; directory: string }[] }[];
    };
    const executors = state.frameworks.flatMap((f) => f.executors);
    assert.equal(executors.length, 3);
    for (const e of executors) {
      const taskEnv = await waitFor(
        `${e.id}'s task environment`,
        () => {
          try {
            const text = readFileSync(join(e.directory, "task.env"), "utf8");
            return text.includes("MESOS_SANDBOX=") ? text : undefined;
          } catch {
            return undefined;
          }
        },
        { timeoutMs: 10_000, intervalMs: 20 },
      );
      assert.doesNotMatch(taskEnv, new RegExp(READY_FD_VARIABLE));
      assert.match(taskEnv, new RegExp(`^MESOS_EXECUTOR_ID=${e.id}$`, "m"));
    }
    // The executors were paced (their own start-up environment names the pipe),
    // and by now neither they nor their tasks hold it.
    const running = executorPids(agent.workDir);
    assert.equal(running.length, 3, "three command executors");
    for (const pid of running) {
      assert.ok(environ(pid).includes(`${READY_FD_VARIABLE}=3`), `executor ${pid} was paced`);
      assert.deepEqual(unixSockets(pid), [], `executor ${pid} closed its ready pipe`);
      const tasks = children(pid);
      assert.equal(tasks.length, 1, "one task process");
      for (const task of tasks) assert.deepEqual(unixSockets(task), [], "the task has no pipe");
    }
  } finally {
    if (c.state === "subscribed") await c.teardown();
    c.close();
  }
});

/** Pids of command executors whose sandbox is under `workDir`. */
function executorPids(workDir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    const pid = Number(name);
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "latin1");
      if (!cmd.includes("command-executor")) continue;
      if (environ(pid).some((v) => v.startsWith("MESOS_SANDBOX=") && v.includes(workDir))) {
        out.push(pid);
      }
    } catch {
      // gone
    }
  }
  return out;
}
