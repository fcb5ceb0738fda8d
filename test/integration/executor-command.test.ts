/**
 * The real command executor process against the fake agent: tasks run,
 * report, get killed, and leave nothing behind.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  COMMAND_EXECUTOR_BUNDLE,
  COMMAND_EXECUTOR_MAIN,
  ensureCommandExecutorBundle,
} from "../../src/executor/launch-command.js";
import type { TaskStatus } from "../../src/executor/protocol.js";
import { FakeAgent } from "../harness/fake-agent.js";
import {
  type LaunchedExecutor,
  launchExecutor,
  processGroupMembers,
  startExecutor,
} from "../harness/fake-agent-launch.js";
import { fakeAgentTask, gracePeriod, taskStates } from "../harness/fake-agent-tasks.js";

const BIN = fileURLToPath(new URL("../../../bin/mesos-executor", import.meta.url));

async function noOrphans(ex: LaunchedExecutor): Promise<void> {
  const pid = ex.taskPid();
  assert.ok(pid !== undefined, "the executor logged the task pid");
  // SIGKILLed processes may take a moment to be reaped by init.
  for (let i = 0; i < 50 && processGroupMembers(pid).length > 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.deepEqual(processGroupMembers(pid), [], "no process left in the task's process group");
}

// What the agent runs: the single-file bundle (see launch-command.ts).
describe("command executor", () => {
  let agent: FakeAgent;
  const launched: LaunchedExecutor[] = [];
  let n = 0;

  const start = async (options: Parameters<typeof launchExecutor>[1] = {}) => {
    const executorId = `executor-${++n}`;
    const ex = await startExecutor(agent, launched, executorId, {
      entry: COMMAND_EXECUTOR_BUNDLE,
      ...options,
    });
    return { ex, executorId };
  };

  before(async () => {
    const bundled = ensureCommandExecutorBundle();
    assert.equal(bundled.error, undefined);
    assert.equal(bundled.entry, COMMAND_EXECUTOR_BUNDLE);
    agent = await FakeAgent.start();
  });
  after(async () => {
    for (const ex of launched) await ex.cleanup();
    await agent.stop();
  });

  it("echo hello: TASK_STARTING, TASK_RUNNING, TASK_FINISHED, output in the sandbox stdout, exit 0", async () => {
    const { ex, executorId } = await start();
    agent.launch(fakeAgentTask("echo", { value: "echo hello" }), executorId);
    const finished = await agent.waitForUpdate("TASK_FINISHED", "echo");
    assert.deepEqual(taskStates(agent, "echo"), ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]);
    assert.equal(finished.message, "Command exited with status 0");
    assert.equal(finished.source, "SOURCE_EXECUTOR");
    assert.deepEqual(finished.executor_id, { value: executorId });
    assert.equal(typeof finished.timestamp, "number");
    assert.equal(Buffer.from(finished.uuid ?? "", "base64").length, 16);
    const uuids = agent.updates.filter((u) => u.task_id.value === "echo").map((u) => u.uuid);
    assert.equal(new Set(uuids).size, 3, "every update has its own uuid");
    assert.deepEqual(await ex.exited, { code: 0, signal: null });
    assert.equal(ex.stdout(), "hello\n");
  });

  it("exit 3: TASK_FAILED with the exit status in the message", async () => {
    const { ex, executorId } = await start();
    agent.launch(fakeAgentTask("exit3", { value: "exit 3" }), executorId);
    const failed = await agent.waitForUpdate("TASK_FAILED", "exit3");
    assert.equal(failed.message, "Command exited with status 3");
    assert.deepEqual(await ex.exited, { code: 0, signal: null });
  });

  it("shell: false runs value with arguments as argv; CommandInfo environment and MESOS_ALLOCATION_ROLE reach the task", async () => {
    const { ex, executorId } = await start();
    agent.launch(
      fakeAgentTask("argv", {
        shell: false,
        value: "/bin/sh",
        arguments: ["sh", "-c", 'echo "$1|$GREETING|$MESOS_ALLOCATION_ROLE|$0"', "zero", "a b"],
        environment: { variables: [{ name: "GREETING", type: "VALUE", value: "hi there" }] },
      }),
      executorId,
    );
    await agent.waitForUpdate("TASK_FINISHED", "argv");
    await ex.exited;
    assert.equal(ex.stdout(), "a b|hi there|web|zero\n");
  });

  it("a SECRET environment variable is left to the agent (which resolves it into the executor's environment)", async () => {
    const { executorId } = await start();
    agent.launch(
      fakeAgentTask("secret", {
        value: 'test -z "$TOKEN"',
        environment: {
          variables: [{ name: "TOKEN", type: "SECRET", secret: { type: "REFERENCE" } }],
        },
      }),
      executorId,
    );
    await agent.waitForUpdate("TASK_FINISHED", "secret");
    assert.deepEqual(taskStates(agent, "secret"), [
      "TASK_STARTING",
      "TASK_RUNNING",
      "TASK_FINISHED",
    ]);
  });

  it("a program that does not exist fails the task", async () => {
    const { executorId } = await start();
    agent.launch(
      fakeAgentTask("missing", { shell: false, value: "/nonexistent/program" }),
      executorId,
    );
    const failed = await agent.waitForUpdate("TASK_FAILED", "missing");
    assert.match(failed.message ?? "", /Failed to launch the command.*ENOENT/);
  });

  it("a second LAUNCH is refused with TASK_FAILED and the first task keeps running", async () => {
    const { executorId } = await start();
    agent.launch(fakeAgentTask("first", { value: "sleep 100" }), executorId);
    await agent.waitForUpdate("TASK_RUNNING", "first");
    agent.launch(fakeAgentTask("second", { value: "true" }), executorId);
    const refused = await agent.waitForUpdate("TASK_FAILED", "second");
    assert.match(refused.message ?? "", /multiple tasks/);
    agent.kill("first", gracePeriod(1), executorId);
    await agent.waitForUpdate("TASK_KILLED", "first");
  });

  it("KILL of sleep 100: TASK_KILLING (framework capable), TASK_KILLED, no process left", async () => {
    agent.frameworkCapabilities = ["TASK_KILLING_STATE"];
    try {
      const { ex, executorId } = await start();
      agent.launch(
        fakeAgentTask("sleeper", { value: "sleep 100" }, { kill_policy: gracePeriod(5) }),
        executorId,
      );
      await agent.waitForUpdate("TASK_RUNNING", "sleeper");
      agent.kill("sleeper", undefined, executorId);
      const killed = await agent.waitForUpdate("TASK_KILLED", "sleeper");
      assert.equal(killed.message, "Command terminated with signal Terminated");
      assert.deepEqual(taskStates(agent, "sleeper"), [
        "TASK_STARTING",
        "TASK_RUNNING",
        "TASK_KILLING",
        "TASK_KILLED",
      ]);
      assert.deepEqual(await ex.exited, { code: 0, signal: null });
      await noOrphans(ex);
      assert.doesNotMatch(ex.stderr(), /SIGKILL to process tree/, "SIGTERM was enough");
    } finally {
      agent.frameworkCapabilities = [];
    }
  });

  it("without TASK_KILLING_STATE the framework gets no TASK_KILLING", async () => {
    const { ex, executorId } = await start();
    agent.launch(fakeAgentTask("plain-kill", { value: "sleep 100" }), executorId);
    await agent.waitForUpdate("TASK_RUNNING", "plain-kill");
    agent.kill("plain-kill", gracePeriod(2), executorId);
    await agent.waitForUpdate("TASK_KILLED", "plain-kill");
    assert.deepEqual(taskStates(agent, "plain-kill"), [
      "TASK_STARTING",
      "TASK_RUNNING",
      "TASK_KILLED",
    ]);
    await ex.exited;
  });

  it("a task ignoring SIGTERM (and its children) is SIGKILLed after the grace period", async () => {
    const { ex, executorId } = await start();
    const stubborn = 'trap "" TERM; sleep 100 & sleep 100 & echo ready; wait';
    agent.launch(
      fakeAgentTask("stubborn", { value: stubborn }, { kill_policy: gracePeriod(30) }),
      executorId,
    );
    await agent.waitForUpdate("TASK_RUNNING", "stubborn");
    await agent.waitFor("the task to be ready", () => ex.stdout().includes("ready"));
    // The KILL event's policy overrides the task's 30 s.
    agent.kill("stubborn", { grace_period: { nanoseconds: 300e6 } }, executorId);
    const killed = await agent.waitForUpdate("TASK_KILLED", "stubborn");
    assert.equal(killed.message, "Command terminated with signal Killed");
    assert.match(ex.stderr(), /did not terminate after 300ms, sending SIGKILL/);
    await ex.exited;
    await noOrphans(ex);
  });

  it("a later KILL with a shorter grace period brings the SIGKILL forward", async () => {
    const { ex, executorId } = await start();
    agent.launch(
      fakeAgentTask("rekill", { value: 'trap "" TERM; echo ready; sleep 100' }),
      executorId,
    );
    await agent.waitForUpdate("TASK_RUNNING", "rekill");
    // SIGTERM before the trap is set would simply end the shell.
    await agent.waitFor("the trap to be set", () => ex.stdout().includes("ready"));
    agent.kill("rekill", gracePeriod(60), executorId);
    await agent.waitFor("the first kill", () => ex.stderr().includes("SIGKILL in 1mins"));
    agent.kill("rekill", { grace_period: { nanoseconds: 0 } }, executorId);
    await agent.waitForUpdate("TASK_KILLED", "rekill");
    assert.match(ex.stderr(), /Rescheduling escalation to SIGKILL/);
    await ex.exited;
    await noOrphans(ex);
  });

  it("SHUTDOWN kills the running task (TASK_KILLED) and the executor exits", async () => {
    const { ex, executorId } = await start({ shutdownGracePeriod: "3secs" });
    agent.launch(fakeAgentTask("shut", { value: "sleep 100" }), executorId);
    await agent.waitForUpdate("TASK_RUNNING", "shut");
    agent.shutdown(executorId);
    await agent.waitForUpdate("TASK_KILLED", "shut");
    assert.deepEqual(await ex.exited, { code: 0, signal: null });
    await noOrphans(ex);
  });

  it("SHUTDOWN before any task: the executor exits at once", async () => {
    const { ex, executorId } = await start();
    agent.shutdown(executorId);
    assert.deepEqual(await ex.exited, { code: 0, signal: null });
  });

  it("bad events are logged and ignored; the executor keeps working", async () => {
    const { ex, executorId } = await start();
    agent.sendRaw("this is not json", executorId);
    agent.sendRaw("[1,2,3]", executorId);
    agent.send({ type: "SOMETHING_NEW" }, executorId);
    agent.send({ type: "LAUNCH" }, executorId);
    agent.send({ type: "LAUNCH", launch: { task: { name: "no id" } } }, executorId);
    agent.send({ type: "KILL", kill: {} }, executorId);
    agent.send(
      { type: "ACKNOWLEDGED", acknowledged: { task_id: { value: "x" }, uuid: "bad" } },
      executorId,
    );
    agent.send({ type: "MESSAGE", message: { data: "aGk=" } }, executorId);
    agent.send({ type: 9 }, executorId);
    agent.launch(fakeAgentTask("after-garbage", { value: "sleep 100" }), executorId);
    await agent.waitForUpdate("TASK_RUNNING", "after-garbage");
    agent.kill("someone-else", gracePeriod(0), executorId);
    agent.kill("after-garbage", gracePeriod(1), executorId);
    await agent.waitForUpdate("TASK_KILLED", "after-garbage");
    assert.deepEqual(await ex.exited, { code: 0, signal: null });
    const log = ex.stderr();
    assert.match(log, /Failed to de-serialize event: not valid JSON/);
    assert.match(log, /Ignoring event: unknown event type "SOMETHING_NEW"/);
    assert.match(log, /LAUNCH event without 'launch.task.task_id'/);
    assert.match(log, /Ignoring KILL for unknown task someone-else/);
  });

  it("a subscription refused with 503 is retried", async () => {
    agent.rejectSubscribes = { count: 1, status: 503 };
    const { ex, executorId } = await start();
    assert.equal(agent.rejectSubscribes.count, 0);
    assert.match(
      ex.stderr(),
      /Received '503 Service Unavailable' \(Agent is recovering\) for SUBSCRIBE; retrying/,
    );
    agent.shutdown(executorId);
    await ex.exited;
  });

  it("with checkpointing, unacknowledged updates and the task are re-sent on re-subscription", async () => {
    agent.autoAcknowledge = false;
    try {
      const { ex, executorId } = await start({
        checkpoint: { recoveryTimeout: "10secs", backoffMax: "100ms" },
        env: { GLOG_v: "1" },
      });
      agent.launch(fakeAgentTask("durable", { value: "sleep 100" }), executorId);
      await agent.waitForUpdate("TASK_RUNNING", "durable");
      const sent = agent.updates.filter((u) => u.task_id.value === "durable");
      const count = agent.subscribes.length;
      agent.dropConnections();
      const again = await agent.waitForSubscribe(count + 1);
      const resent = again.call.subscribe.unacknowledged_updates?.map((u) => u.status) ?? [];
      assert.deepEqual(
        resent.map((s: TaskStatus) => [s.state, s.uuid]),
        sent.map((s) => [s.state, s.uuid]),
      );
      assert.deepEqual(
        again.call.subscribe.unacknowledged_tasks?.map((t) => t.task_id.value),
        ["durable"],
      );
      // Acknowledge what was re-sent; the next re-subscription carries nothing.
      for (const s of resent) agent.acknowledge(s, executorId);
      await agent.waitFor("the acknowledgements to arrive", () => {
        const acks = ex.stderr().match(/Received ACKNOWLEDGED event/g) ?? [];
        return acks.length >= resent.length;
      });
      agent.dropConnections();
      const third = await agent.waitForSubscribe(count + 2);
      assert.deepEqual(third.call.subscribe, {});
      agent.autoAcknowledge = true;
      agent.kill("durable", gracePeriod(1), executorId);
      await agent.waitForUpdate("TASK_KILLED", "durable");
      assert.deepEqual(await ex.exited, { code: 0, signal: null });
      await noOrphans(ex);
    } finally {
      agent.autoAcknowledge = true;
    }
  });

  it("without checkpointing, losing the agent kills the task and the executor exits", async () => {
    const { ex, executorId } = await start({ shutdownGracePeriod: "3secs" });
    agent.launch(fakeAgentTask("orphan-candidate", { value: "sleep 100" }), executorId);
    await agent.waitForUpdate("TASK_RUNNING", "orphan-candidate");
    agent.dropConnections();
    const exit = await ex.exited;
    assert.equal(exit.signal, null);
    assert.match(ex.stderr(), /Disconnected from the agent.*shutting down/);
    await noOrphans(ex);
  });

  it("an agent that cannot be reached at start-up makes the executor exit", async () => {
    const gone = await FakeAgent.start();
    const endpoint = gone.endpoint;
    await gone.stop();
    const ex = launchExecutor(agent, {
      entry: COMMAND_EXECUTOR_BUNDLE,
      env: { MESOS_AGENT_ENDPOINT: endpoint, MESOS_SLAVE_PID: `slave(1)@${endpoint}` },
    });
    launched.push(ex);
    assert.deepEqual(await ex.exited, { code: 0, signal: null });
    assert.match(ex.stderr(), /ECONNREFUSED/);
  });

  it("a missing MESOS_FRAMEWORK_ID stops the executor with a one-line error and exit code 1", async () => {
    const ex = launchExecutor(agent, {
      entry: COMMAND_EXECUTOR_BUNDLE,
      env: { MESOS_FRAMEWORK_ID: "" },
    });
    launched.push(ex);
    assert.deepEqual(await ex.exited, { code: 1, signal: null });
    assert.match(ex.stderr(), /expecting 'MESOS_FRAMEWORK_ID' to be set/);
  });

  it("an unknown flag stops the executor with exit code 1; --help prints the flags", async () => {
    const bad = launchExecutor(agent, {
      entry: COMMAND_EXECUTOR_BUNDLE,
      args: ["--no_such_flag=1"],
    });
    launched.push(bad);
    assert.deepEqual(await bad.exited, { code: 1, signal: null });
    assert.match(bad.stderr(), /no_such_flag/);
    const help = launchExecutor(agent, { entry: COMMAND_EXECUTOR_BUNDLE, args: ["--help"] });
    launched.push(help);
    assert.deepEqual(await help.exited, { code: 0, signal: null });
    assert.match(help.stdout(), /--task_command/);
  });

  it("--task_command replaces the task's command; --launcher_dir is accepted; --logging_level filters", async () => {
    const { ex, executorId } = await start({
      args: [
        "--launcher_dir=/usr/libexec/mesos",
        '--task_command={"value":"echo overridden"}',
        "--logging_level=WARNING",
      ],
    });
    agent.launch(fakeAgentTask("override", { value: "echo original" }), executorId);
    await agent.waitForUpdate("TASK_FINISHED", "override");
    await ex.exited;
    assert.equal(ex.stdout(), "overridden\n");
    assert.doesNotMatch(ex.stderr(), /^I/m, "no INFO lines");
  });
});

// The same program from the module tree, directly and through bin/.
describe("command executor, unbundled entries", () => {
  for (const [name, entry] of [
    ["command-executor-main.js", COMMAND_EXECUTOR_MAIN],
    ["bin/mesos-executor", BIN],
  ] as const) {
    it(`${name}: echo hello finishes and exits 0`, async () => {
      const agent = await FakeAgent.start();
      const ex = launchExecutor(agent, { entry });
      try {
        await agent.waitForSubscribe();
        agent.launch(fakeAgentTask("echo", { value: "echo hello" }));
        await agent.waitForUpdate("TASK_FINISHED", "echo");
        assert.deepEqual(await ex.exited, { code: 0, signal: null });
        assert.equal(ex.stdout(), "hello\n");
      } finally {
        await ex.cleanup();
        await agent.stop();
      }
    });
  }
});
