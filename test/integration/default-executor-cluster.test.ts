/**
 * The default executor end to end: `bin/mesos-execute --task_group=...`
 * against a real master and agent, which starts `mesos-default-executor`
 * from its launcher dir (bin/).
 */
import assert from "node:assert/strict";
import { readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { mesosExecute } from "../harness/mesos-execute.js";
import { type DaemonHandle, getJson, stopAll, waitFor } from "../harness/processes.js";

let master: DaemonHandle;
let agent: DaemonHandle;

before(async () => {
  ({ master, agent } = await startOneAgentCluster());
});

after(stopAll);

const resources = [
  { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
  { name: "mem", type: "SCALAR", scalar: { value: 32 } },
];

function group(...tasks: { id: string; command: string; extra?: object }[]): string {
  return JSON.stringify({
    tasks: tasks.map((t) => ({
      name: t.id,
      task_id: { value: t.id },
      resources,
      command: { value: t.command },
      ...t.extra,
    })),
  });
}

function execute(...args: string[]) {
  return mesosExecute(master, args);
}

/** The sandbox of the executor (mesos-execute names it `default-executor`) of framework `frameworkId`. */
async function executorSandbox(frameworkId: string): Promise<string> {
  return waitFor(
    `the default executor's sandbox of ${frameworkId} in the agent's /state`,
    async () => {
      const state = await getJson<AgentState>(`${agent.url}/state`);
      for (const f of [...(state?.frameworks ?? []), ...(state?.completed_frameworks ?? [])]) {
        if (f.id !== frameworkId) continue;
        for (const e of [...(f.executors ?? []), ...(f.completed_executors ?? [])]) {
          if (e.id === "default-executor" && e.directory !== undefined) return e.directory;
        }
      }
      return undefined;
    },
  );
}

interface AgentState {
  frameworks?: AgentFramework[];
  completed_frameworks?: AgentFramework[];
}
interface AgentFramework {
  id: string;
  executors?: { id: string; directory?: string }[];
  completed_executors?: { id: string; directory?: string }[];
}

function frameworkIdOf(stdout: string): string {
  const m = /^Subscribed with ID (\S+)$/m.exec(stdout);
  assert.ok(m?.[1] !== undefined, stdout);
  return m[1];
}

test("mesos-execute --task_group: two tasks both finish; outputs in <sandbox>/tasks/<id>/stdout", async () => {
  const run = await execute(
    `--task_group=${group(
      { id: "hello", command: "echo hello from $MESOS_SANDBOX" },
      { id: "world", command: "sleep 0.2; echo world" },
    )}`,
  );
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /^Submitted task group with tasks \[ hello, world \] to agent '\S+'$/m);
  for (const id of ["hello", "world"]) {
    assert.ok(run.stdout.includes(`Received status update TASK_RUNNING for task '${id}'`));
    assert.ok(run.stdout.includes(`Received status update TASK_FINISHED for task '${id}'`));
  }
  const sandbox = await executorSandbox(frameworkIdOf(run.stdout));
  // tasks/<id> links to the task's nested container sandbox, containers/<container id>.
  const helloDir = realpathSync(join(sandbox, "tasks", "hello"));
  assert.match(helloDir, /\/containers\/[0-9a-f-]{36}$/);
  assert.equal(readFileSync(join(helloDir, "stdout"), "utf8"), `hello from ${helloDir}\n`);
  assert.equal(readFileSync(join(sandbox, "tasks", "world", "stdout"), "utf8"), "world\n");
  // The executor's own log is the executor sandbox's stderr.
  assert.match(readFileSync(join(sandbox, "stderr"), "utf8"), /Launching task group/);
});

test("mesos-execute --task_group: a failing task fails and the rest of the group is killed; exit code non-zero", async () => {
  const run = await execute(
    `--task_group=${group(
      { id: "fails", command: "sleep 0.3; exit 4" },
      { id: "waits", command: "sleep 100" },
    )}`,
  );
  assert.notEqual(run.code, 0);
  assert.ok(run.stdout.includes("Received status update TASK_FAILED for task 'fails'"), run.stdout);
  assert.match(run.stdout, / {2}message: 'Command exited with status 4'/);
  assert.ok(run.stdout.includes("Received status update TASK_KILLED for task 'waits'"), run.stdout);
});

test("mesos-execute --task_group --kill_after: both tasks end TASK_KILLED", async () => {
  const run = await execute(
    "--kill_after=1secs",
    `--task_group=${group(
      { id: "k-one", command: "sleep 100" },
      { id: "k-two", command: "sleep 100" },
    )}`,
  );
  assert.notEqual(run.code, 0);
  for (const id of ["k-one", "k-two"]) {
    assert.ok(
      run.stdout.includes(`Received status update TASK_KILLED for task '${id}'`),
      run.stdout,
    );
  }
});
