/**
 * The real default executor process (task groups) against the fake agent:
 * groups run in per-task sandboxes, a failure or a KILL takes the group
 * down, SHUTDOWN kills everything, and the executor exits once its updates
 * are acknowledged.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { TaskInfo } from "../../src/executor/protocol.js";
import { FakeAgent } from "../harness/fake-agent.js";
import {
  type LaunchedExecutor,
  launchExecutor,
  processGroupMembers,
  startExecutor,
} from "../harness/fake-agent-launch.js";
import { fakeAgentTask, gracePeriod, taskStates } from "../harness/fake-agent-tasks.js";

const MAIN = fileURLToPath(new URL("../../src/executor/default-executor-main.js", import.meta.url));
const BIN = fileURLToPath(new URL("../../../bin/mesos-default-executor", import.meta.url));

function taskFile(ex: LaunchedExecutor, taskId: string, name: string): string {
  try {
    return readFileSync(join(ex.sandbox, "tasks", taskId, name), "utf8");
  } catch {
    return "";
  }
}

/** Pids of the tasks, from the executor's "Forked command of task X at PID" lines. */
function taskPids(ex: LaunchedExecutor): number[] {
  return [...ex.stderr().matchAll(/Forked command of task \S+ at (\d+)/g)].map((m) => Number(m[1]));
}

async function noOrphans(ex: LaunchedExecutor): Promise<void> {
  const pids = taskPids(ex);
  assert.ok(pids.length > 0, "the executor logged the task pids");
  const left = () => pids.flatMap((pid) => processGroupMembers(pid));
  // SIGKILLed processes may take a moment to be reaped by init.
  for (let i = 0; i < 50 && left().length > 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.deepEqual(left(), [], "no process left in the tasks' process groups");
}

describe("default executor", () => {
  let agent: FakeAgent;
  const launched: LaunchedExecutor[] = [];
  let n = 0;

  const start = async (options: Parameters<typeof launchExecutor>[1] = {}) => {
    const executorId = `default-${++n}`;
    const ex = await startExecutor(agent, launched, executorId, {
      entry: MAIN,
      args: ["--launcher_dir=/nonexistent"],
      ...options,
    });
    return { ex, executorId };
  };

  const launchGroup = (executorId: string, ...tasks: TaskInfo[]) =>
    agent.send({ type: "LAUNCH_GROUP", launch_group: { task_group: { tasks } } }, executorId);

  before(async () => {
    agent = await FakeAgent.start();
  });
  after(async () => {
    for (const ex of launched) await ex.cleanup();
    await agent.stop();
  });

  it("two tasks both finish: STARTING, RUNNING, FINISHED each; output in tasks/<id>/stdout; exit 0", async () => {
    const { ex, executorId } = await start();
    launchGroup(
      executorId,
      fakeAgentTask("a", {
        value: 'echo "a in $PWD"; echo "sandbox $MESOS_SANDBOX"; echo oops >&2',
      }),
      fakeAgentTask("b", {
        shell: false,
        value: "/bin/sh",
        arguments: ["sh", "-c", 'echo "b $GREETING $MESOS_ALLOCATION_ROLE $MESOS_CONTAINER_IP"'],
        environment: { variables: [{ name: "GREETING", value: "hi" }] },
      }),
    );
    await agent.waitForUpdate("TASK_FINISHED", "a");
    await agent.waitForUpdate("TASK_FINISHED", "b");
    assert.deepEqual(taskStates(agent, "a"), ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]);
    assert.deepEqual(taskStates(agent, "b"), ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]);
    // Every TASK_STARTING goes out before any TASK_RUNNING, as in Mesos.
    const order = agent.updates.map((u) => u.state);
    assert.ok(order.lastIndexOf("TASK_STARTING") < order.indexOf("TASK_RUNNING"), `${order}`);
    const finished = agent.updates.find((u) => u.state === "TASK_FINISHED");
    assert.equal(finished?.message, "Command exited with status 0");
    assert.equal(finished?.source, "SOURCE_EXECUTOR");
    assert.deepEqual(finished?.executor_id, { value: executorId });
    assert.deepEqual(await ex.exited, { code: 0, signal: null });

    const dirA = realpathSync(join(ex.sandbox, "tasks", "a"));
    assert.equal(
      taskFile(ex, "a", "stdout"),
      `a in ${dirA}\nsandbox ${join(ex.sandbox, "tasks", "a")}\n`,
    );
    assert.equal(taskFile(ex, "a", "stderr"), "oops\n");
    assert.equal(taskFile(ex, "b", "stdout"), "b hi web 127.0.0.1\n");
    assert.equal(ex.stdout(), "", "tasks do not write to the executor's stdout");
  });

  it("one task fails: TASK_FAILED with the exit status, the other is killed (TASK_KILLED), no orphans", async () => {
    const { ex, executorId } = await start();
    launchGroup(
      executorId,
      fakeAgentTask("sleeper", { value: "sleep 100" }),
      fakeAgentTask("failing", { value: "sleep 0.2; exit 3" }),
    );
    const failed = await agent.waitForUpdate("TASK_FAILED", "failing");
    assert.equal(failed.message, "Command exited with status 3");
    const killed = await agent.waitForUpdate("TASK_KILLED", "sleeper");
    assert.equal(killed.message, "Command terminated with signal Terminated");
    assert.deepEqual(taskStates(agent, "sleeper"), [
      "TASK_STARTING",
      "TASK_RUNNING",
      "TASK_KILLED",
    ]);
    assert.deepEqual(await ex.exited, { code: 0, signal: null });
    await noOrphans(ex);
  });

  it("KILL of one task kills the whole group; TASK_KILLING first for capable frameworks", async () => {
    agent.frameworkCapabilities = ["TASK_KILLING_STATE"];
    try {
      const { ex, executorId } = await start();
      launchGroup(
        executorId,
        fakeAgentTask("k1", { value: "sleep 100" }),
        fakeAgentTask("k2", { value: "sleep 100" }),
      );
      await agent.waitForUpdate("TASK_RUNNING", "k2");
      agent.kill("k1", undefined, executorId);
      await agent.waitForUpdate("TASK_KILLED", "k1");
      await agent.waitForUpdate("TASK_KILLED", "k2");
      for (const id of ["k1", "k2"]) {
        assert.deepEqual(taskStates(agent, id), [
          "TASK_STARTING",
          "TASK_RUNNING",
          "TASK_KILLING",
          "TASK_KILLED",
        ]);
      }
      assert.deepEqual(await ex.exited, { code: 0, signal: null });
      await noOrphans(ex);
    } finally {
      agent.frameworkCapabilities = [];
    }
  });

  it("a task ignoring SIGTERM (and its children) is SIGKILLed after the KILL's grace period", async () => {
    const { ex, executorId } = await start();
    const stubborn = 'trap "" TERM; sleep 100 & sleep 100 & echo ready; wait';
    launchGroup(
      executorId,
      fakeAgentTask("stubborn", { value: stubborn }, { kill_policy: gracePeriod(30) }),
    );
    await agent.waitForUpdate("TASK_RUNNING", "stubborn");
    await agent.waitFor("the task to be ready", () =>
      taskFile(ex, "stubborn", "stdout").includes("ready"),
    );
    agent.kill("stubborn", { grace_period: { nanoseconds: 300e6 } }, executorId);
    const killed = await agent.waitForUpdate("TASK_KILLED", "stubborn");
    assert.equal(killed.message, "Command terminated with signal Killed");
    assert.match(ex.stderr(), /did not terminate after 300ms, sending SIGKILL/);
    await ex.exited;
    await noOrphans(ex);
  });

  it("two LAUNCH_GROUPs: a failure in one group leaves the other running; exit after the last task", async () => {
    const { ex, executorId } = await start();
    launchGroup(executorId, fakeAgentTask("g1-long", { value: "sleep 100" }));
    await agent.waitForUpdate("TASK_RUNNING", "g1-long");
    launchGroup(
      executorId,
      fakeAgentTask("g2-fail", { value: "exit 1" }),
      fakeAgentTask("g2-long", { value: "sleep 100" }),
    );
    await agent.waitForUpdate("TASK_FAILED", "g2-fail");
    await agent.waitForUpdate("TASK_KILLED", "g2-long");
    // The first group is untouched and the executor keeps running.
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(taskStates(agent, "g1-long"), ["TASK_STARTING", "TASK_RUNNING"]);
    assert.equal(ex.child.exitCode, null);
    agent.kill("g1-long", gracePeriod(1), executorId);
    await agent.waitForUpdate("TASK_KILLED", "g1-long");
    assert.deepEqual(await ex.exited, { code: 0, signal: null });
  });

  it("SHUTDOWN kills every task (TASK_KILLED) and the executor exits", async () => {
    const { ex, executorId } = await start();
    launchGroup(
      executorId,
      fakeAgentTask("s1", { value: "sleep 100" }),
      fakeAgentTask("s2", { value: "sleep 100" }),
    );
    await agent.waitForUpdate("TASK_RUNNING", "s2");
    agent.shutdown(executorId);
    await agent.waitForUpdate("TASK_KILLED", "s1");
    await agent.waitForUpdate("TASK_KILLED", "s2");
    assert.deepEqual(await ex.exited, { code: 0, signal: null });
    await noOrphans(ex);
  });

  it("waits for the acknowledgements of its updates before exiting", async () => {
    agent.autoAcknowledge = false;
    let ex: LaunchedExecutor | undefined;
    try {
      const started = await start();
      ex = started.ex;
      launchGroup(started.executorId, fakeAgentTask("acked", { value: "true" }));
      await agent.waitForUpdate("TASK_FINISHED", "acked");
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(ex.child.exitCode, null, "still waiting for acknowledgements");
      for (const u of agent.updates.filter((s) => s.task_id.value === "acked")) {
        agent.acknowledge(u, started.executorId);
      }
      assert.deepEqual(await ex.exited, { code: 0, signal: null });
    } finally {
      agent.autoAcknowledge = true;
    }
  });

  it("a task that cannot start fails (with the reason) and takes its group down", async () => {
    const { ex, executorId } = await start();
    launchGroup(
      executorId,
      fakeAgentTask("runs", { value: "sleep 100" }),
      fakeAgentTask("missing", { shell: false, value: "/nonexistent/program" }),
      fakeAgentTask("no-command", undefined),
    );
    const missing = await agent.waitForUpdate("TASK_FAILED", "missing");
    assert.match(missing.message ?? "", /Failed to launch the command.*ENOENT/);
    const noCommand = await agent.waitForUpdate("TASK_FAILED", "no-command");
    assert.match(noCommand.message ?? "", /Expecting task 'no-command' to have a command/);
    await agent.waitForUpdate("TASK_KILLED", "runs");
    assert.deepEqual(taskStates(agent, "missing"), ["TASK_STARTING", "TASK_FAILED"]);
    assert.deepEqual(await ex.exited, { code: 0, signal: null });
  });

  it("with checkpointing, a dropped agent connection leaves the tasks running; the executor re-subscribes and carries on", async () => {
    const { ex, executorId } = await start({
      checkpoint: { recoveryTimeout: "15secs", backoffMax: "100ms" },
    });
    // `survivor` finishes only once the test creates `go` in its sandbox.
    const waitForGo = "while [ ! -e go ]; do sleep 0.05; done; echo done";
    launchGroup(
      executorId,
      fakeAgentTask("survivor", { value: waitForGo }),
      fakeAgentTask("steady", { value: "sleep 100" }),
    );
    await agent.waitForUpdate("TASK_RUNNING", "steady");
    const subscribed = agent.subscribes.length;
    agent.dropConnections();
    const again = await agent.waitFor(
      "a re-subscription",
      () => agent.subscribes[subscribed],
      20_000,
    );
    // As a real agent does: updates re-sent with SUBSCRIBE are acknowledged.
    for (const u of again.call.subscribe.unacknowledged_updates ?? []) {
      agent.acknowledge(u.status, executorId);
    }
    writeFileSync(join(ex.sandbox, "tasks", "survivor", "go"), "");
    await agent.waitForUpdate("TASK_FINISHED", "survivor", 20_000);
    assert.deepEqual(taskStates(agent, "steady"), ["TASK_STARTING", "TASK_RUNNING"]);
    assert.equal(taskFile(ex, "survivor", "stdout"), "done\n");
    agent.kill("steady", gracePeriod(1), executorId);
    await agent.waitForUpdate("TASK_KILLED", "steady", 20_000);
    assert.deepEqual(await ex.exited, { code: 0, signal: null });
  });

  it("a LAUNCH event (a single task) is refused: the executor shuts down", async () => {
    const { ex, executorId } = await start();
    agent.launch(fakeAgentTask("single", { value: "true" }), executorId);
    assert.deepEqual(await ex.exited, { code: 0, signal: null });
    assert.match(ex.stderr(), /LAUNCH event is not supported by the default executor/);
    assert.deepEqual(taskStates(agent, "single"), []);
  });

  it("bin/mesos-default-executor runs a group (the program the agent starts)", async () => {
    const { ex, executorId } = await start({ entry: BIN });
    launchGroup(executorId, fakeAgentTask("via-bin", { value: "echo from bin" }));
    await agent.waitForUpdate("TASK_FINISHED", "via-bin");
    assert.deepEqual(await ex.exited, { code: 0, signal: null });
    assert.equal(taskFile(ex, "via-bin", "stdout"), "from bin\n");
  });

  it("without MESOS_SANDBOX it refuses to start with a one-line error, exit 1", async () => {
    const ex = launchExecutor(agent, {
      executorId: "no-sandbox",
      entry: MAIN,
      env: { MESOS_SANDBOX: "" },
    });
    launched.push(ex);
    assert.deepEqual(await ex.exited, { code: 1, signal: null });
    assert.match(ex.stderr(), /expecting 'MESOS_SANDBOX' to be set/);
    assert.equal(existsSync(join(ex.sandbox, "tasks")), false);
  });
});
