/**
 * A hosted command executor (`--command_executors_per_process`) of a
 * checkpointing framework whose pid record cannot be written: the launch
 * fails (as Mesos fails a launch whose pid it cannot checkpoint) and the
 * agent kills what it started. What it started is a logical executor inside
 * a host shared with other executors, represented by its stand-in process:
 * only that executor may go, while the host and the executors it runs for
 * other tasks keep running.
 *
 * The record is made to fail by occupying `pids/forked.identity` with a
 * directory in the run's meta directory, inside the window that
 * `MESOS_TS_TESTING_PID_RECORD_DELAY_MS` (pid-record.ts) holds every record
 * back (the run's directory is named after its container id, unknown before).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { SchedulerClient } from "../../src/scheduler/index.js";
import { alive, environ } from "../harness/proc-scan.js";
import {
  type DaemonHandle,
  getJson,
  startAgent,
  startMaster,
  stopAll,
  waitForAgents,
  waitLong,
} from "../harness/processes.js";
import { startQueued } from "../harness/queued-tasks.js";

let master: DaemonHandle;
let agent: DaemonHandle;

before(async () => {
  master = await startMaster();
  agent = await startAgent({
    master: master.address,
    flags: {
      resources: "cpus:4;mem:4096;disk:4096",
      command_executors_per_process: "4",
    },
    env: { MESOS_TS_TESTING_PID_RECORD_DELAY_MS: "3000" },
  });
  await waitForAgents(master, 1);
});

after(async () => {
  await stopAll();
});

/** Processes whose environment holds `variable` (exactly `NAME=value`). */
function carriers(variable: string): number[] {
  return readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((pid) => environ(pid).includes(variable));
}

/** What the agent's executor hosts logged. */
function hostLogs(): string {
  const dir = join(agent.workDir, "executor-hosts");
  try {
    return readdirSync(dir)
      .filter((n) => n.endsWith(".log"))
      .map((n) => readFileSync(join(dir, n), "utf8"))
      .join("");
  } catch {
    return "";
  }
}

type AgentState = {
  frameworks?: {
    id: string;
    executors?: { id: string; directory: string }[];
  }[];
};

async function sandboxOf(id: string): Promise<string | undefined> {
  const state = await getJson<AgentState>(`${agent.url}/state`);
  return (state?.frameworks ?? []).flatMap((f) => f.executors ?? []).find((e) => e.id === id)
    ?.directory;
}

test("a hosted executor whose pid record fails is killed alone: its host and neighbours keep running", async () => {
  const c = new SchedulerClient({
    master: master.address,
    framework: { user: userInfo().username, name: "hosted-pid-record", checkpoint: true },
  });
  try {
    const tasks = startQueued(c);
    const last = (id: string) => tasks.statuses.get(id)?.at(-1);
    tasks.push("keep1", "exec sleep 600");
    tasks.push("keep2", "exec sleep 600");
    await waitLong("keep1 and keep2 running", () =>
      ["keep1", "keep2"].every((id) => last(id)?.state === "TASK_RUNNING"),
    );
    // Each task's stand-in names the host running its executor.
    const neighbours: { sandbox: string; standIn: number; task: number }[] = [];
    let host: number | undefined;
    for (const id of ["keep1", "keep2"]) {
      const sandbox = await sandboxOf(id);
      assert.ok(sandbox !== undefined);
      const marked = carriers(`MESOS_DIRECTORY=${sandbox}`);
      const standIn = marked.find((pid) =>
        environ(pid).some((v) => v.startsWith("MESOS_TS_HOSTED_BY=")),
      );
      const task = marked.find((pid) => pid !== standIn);
      assert.ok(standIn !== undefined && task !== undefined, `${id}: stand-in and task`);
      const hostedBy = Number(
        environ(standIn)
          .find((v) => v.startsWith("MESOS_TS_HOSTED_BY="))
          ?.split("=")[1],
      );
      host ??= hostedBy;
      assert.equal(hostedBy, host, "both run in one host");
      neighbours.push({ sandbox, standIn, task });
    }
    assert.ok(host !== undefined && alive(host));

    tasks.push("victim", "exec sleep 600");
    // Its sandbox exists before its executor starts; its pid record waits 3 s.
    const sandbox = await waitLong("the victim's sandbox", () => sandboxOf("victim"));
    const record = join(agent.workDir, "meta", sandbox.slice(agent.workDir.length + 1), "pids");
    mkdirSync(join(record, "forked.identity", "occupied"), { recursive: true });
    const failed = await waitLong("the victim's launch failed", () => {
      const s = last("victim");
      return s !== undefined && s.state !== "TASK_STAGING" && s.state !== "TASK_STARTING"
        ? s
        : undefined;
    });
    assert.equal(failed.state, "TASK_FAILED", `victim: ${failed.state} ${failed.message}`);
    assert.equal(failed.reason, "REASON_CONTAINER_LAUNCH_FAILED", String(failed.message));
    assert.match(String(failed.message), /checkpoint the executor's pid/);
    assert.ok(!existsSync(join(record, "forked.pid")));
    // Nothing of the victim is left: its stand-in is gone, and the host ended its executor.
    await waitLong("the victim's processes gone", () =>
      carriers(`MESOS_DIRECTORY=${sandbox}`).length === 0 ? true : undefined,
    );
    // The same host as its neighbours' (it had room for four).
    const ended = new RegExp(
      `executor host ${host}: the stand-in \\d+ of executor 'victim' ended \\(SIGKILL\\): ending the executor`,
    );
    await waitLong("the host ended the victim's executor", () =>
      ended.test(hostLogs()) ? true : undefined,
    );

    // The host and the neighbours run on, and still answer.
    assert.ok(alive(host), "the host runs");
    for (const n of neighbours) {
      assert.ok(alive(n.standIn), `stand-in ${n.standIn} runs`);
      assert.ok(alive(n.task), `task ${n.task} runs`);
    }
    assert.equal(last("keep1")?.state, "TASK_RUNNING");
    assert.equal(last("keep2")?.state, "TASK_RUNNING");
    await c.kill({ value: "keep1" }, tasks.agentId());
    await waitLong("keep1 killed", () => last("keep1")?.state === "TASK_KILLED");
    assert.ok(alive(host), "the host runs after keep1's executor ended");
    assert.equal(last("keep2")?.state, "TASK_RUNNING");
    assert.ok(alive((neighbours[1] as { task: number }).task), "keep2's task runs");
  } finally {
    if (c.state === "subscribed") await c.teardown();
    c.close();
  }
});
