/**
 * The command executor's state machine with a fake process launcher and a
 * manual clock: kill escalation timing, the grace period rules, exits.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/common/observability/logger.js";
import { ManualClock } from "../../src/common/time/clock.js";
import {
  CommandExecutor,
  type CommandExecutorOptions,
} from "../../src/executor/command-executor.js";
import type { LaunchSpec } from "../../src/executor/launch-spec.js";
import type { ExecutorHandlers, TaskStatusInput } from "../../src/executor/library.js";
import type { KillPolicy, TaskInfo, TaskStatus } from "../../src/executor/protocol.js";
import type { LaunchCallbacks, TaskLauncher } from "../../src/executor/task-process.js";

class FakeLauncher implements TaskLauncher {
  specs: LaunchSpec[] = [];
  signals: string[] = [];
  callbacks: LaunchCallbacks | undefined;
  failWith: string | undefined;

  launch(spec: LaunchSpec, callbacks: LaunchCallbacks) {
    this.specs.push(spec);
    this.callbacks = callbacks;
    if (this.failWith !== undefined) {
      const message = this.failWith;
      queueMicrotask(() => callbacks.failed(message));
      return undefined;
    }
    return { pid: 4242, signalTree: (signal: NodeJS.Signals) => this.signals.push(signal) };
  }

  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    this.callbacks?.exited(code, signal);
  }
}

function setup(overrides: Partial<CommandExecutorOptions> = {}) {
  const clock = new ManualClock();
  const launcher = new FakeLauncher();
  const updates: TaskStatus[] = [];
  const exits: number[] = [];
  let connected = true;
  let n = 0;
  const executor = new CommandExecutor({
    channel: {
      update: (status: TaskStatusInput) => {
        const uuid = String(++n);
        updates.push({ ...status, uuid });
        return uuid;
      },
      canDeliver: () => connected,
    },
    launcher,
    clock,
    logger: silentLogger,
    executorId: "ex",
    baseEnv: { PATH: "/bin" },
    shutdownGracePeriodMs: 5000,
    exit: (code) => exits.push(code),
    ...overrides,
  });
  const h = executor.handlers() as Required<ExecutorHandlers>;
  const subscribe = (capabilities: string[] = []) =>
    h.subscribed({
      executor_info: {},
      framework_info: { capabilities: capabilities.map((type) => ({ type })) },
      agent_info: { hostname: "agent" },
    });
  const states = () => updates.map((u) => u.state);
  const ack = (state: string) => {
    const u = updates.find((x) => x.state === state);
    assert.ok(u, `an update ${state} was sent`);
    h.acknowledged(u.task_id, u.uuid ?? "", u);
  };
  return {
    clock,
    launcher,
    updates,
    exits,
    h,
    executor,
    subscribe,
    states,
    ack,
    disconnect: () => {
      connected = false;
    },
  };
}

const task = (extra: Partial<TaskInfo> = {}): TaskInfo => ({
  name: "t",
  task_id: { value: "t" },
  agent_id: { value: "a" },
  command: { value: "sleep 100" },
  ...extra,
});
const grace = (ms: number): KillPolicy => ({ grace_period: { nanoseconds: ms * 1e6 } });

describe("command executor logic", () => {
  it("launch sends TASK_STARTING then TASK_RUNNING; exit 0 is TASK_FINISHED; its ack ends the executor", () => {
    const s = setup();
    s.subscribe();
    s.h.launch(task());
    assert.deepEqual(s.states(), ["TASK_STARTING", "TASK_RUNNING"]);
    const running = s.updates[1];
    assert.equal(running?.source, "SOURCE_EXECUTOR");
    assert.deepEqual(running?.executor_id, { value: "ex" });
    assert.equal(running?.timestamp, s.clock.now() / 1000);
    s.launcher.exit(0);
    assert.deepEqual(s.states(), ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]);
    assert.deepEqual(s.launcher.signals, ["SIGKILL"], "leftovers in the group are killed");
    assert.deepEqual(s.exits, []);
    s.ack("TASK_RUNNING");
    assert.deepEqual(s.exits, [], "a non-terminal ack does not end it");
    s.ack("TASK_FINISHED");
    assert.deepEqual(s.exits, [0]);
  });

  it("a non-zero exit is TASK_FAILED with Mesos' message; a signal death names the signal", () => {
    const s = setup();
    s.subscribe();
    s.h.launch(task());
    s.launcher.exit(null, "SIGSEGV");
    const failed = s.updates.at(-1);
    assert.equal(failed?.state, "TASK_FAILED");
    assert.equal(failed?.message, "Command terminated with signal Segmentation fault");
  });

  it("KILL: SIGTERM, then SIGKILL exactly when the task's grace period ends", () => {
    const s = setup();
    s.subscribe();
    s.h.launch(task({ kill_policy: grace(2000) }));
    s.h.kill({ value: "t" }, undefined);
    assert.deepEqual(s.launcher.signals, ["SIGTERM"]);
    assert.ok(!s.states().includes("TASK_KILLING"), "no TASK_KILLING without the capability");
    s.clock.advance(1999);
    assert.deepEqual(s.launcher.signals, ["SIGTERM"]);
    s.clock.advance(1);
    assert.deepEqual(s.launcher.signals, ["SIGTERM", "SIGKILL"]);
    s.launcher.exit(null, "SIGKILL");
    const killed = s.updates.at(-1);
    assert.equal(killed?.state, "TASK_KILLED");
    assert.equal(killed?.message, "Command terminated with signal Killed");
  });

  it("the default kill grace period is 3 s; the KILL event's policy overrides the task's", () => {
    const a = setup();
    a.subscribe();
    a.h.launch(task());
    a.h.kill({ value: "t" }, undefined);
    a.clock.advance(2999);
    assert.deepEqual(a.launcher.signals, ["SIGTERM"]);
    a.clock.advance(1);
    assert.deepEqual(a.launcher.signals, ["SIGTERM", "SIGKILL"]);

    const b = setup();
    b.subscribe();
    b.h.launch(task({ kill_policy: grace(10_000) }));
    b.h.kill({ value: "t" }, grace(500));
    b.clock.advance(500);
    assert.deepEqual(b.launcher.signals, ["SIGTERM", "SIGKILL"]);
  });

  it("TASK_KILLING is sent only to frameworks with TASK_KILLING_STATE", () => {
    const s = setup();
    s.subscribe(["TASK_KILLING_STATE"]);
    s.h.launch(task());
    s.h.kill({ value: "t" }, undefined);
    assert.deepEqual(s.states(), ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"]);
  });

  it("a repeated KILL never lengthens the grace period, and a shorter one brings SIGKILL forward", () => {
    const s = setup();
    s.subscribe(["TASK_KILLING_STATE"]);
    s.h.launch(task());
    s.h.kill({ value: "t" }, grace(10_000));
    s.clock.advance(1000);
    s.h.kill({ value: "t" }, grace(60_000));
    s.h.kill({ value: "t" }, grace(10_000));
    assert.equal(s.states().filter((x) => x === "TASK_KILLING").length, 1);
    s.h.kill({ value: "t" }, grace(4000));
    s.clock.advance(2999);
    assert.deepEqual(s.launcher.signals, ["SIGTERM"]);
    s.clock.advance(1);
    assert.deepEqual(
      s.launcher.signals,
      ["SIGTERM", "SIGKILL"],
      "SIGKILL at 4 s after the first KILL",
    );

    const late = setup();
    late.subscribe();
    late.h.launch(task());
    late.h.kill({ value: "t" }, grace(10_000));
    late.clock.advance(5000);
    late.h.kill({ value: "t" }, grace(1000));
    late.clock.advance(0);
    assert.deepEqual(late.launcher.signals, ["SIGTERM", "SIGKILL"], "overdue: SIGKILL at once");
  });

  it("SHUTDOWN kills with the shutdown grace period minus 2 s", () => {
    const s = setup({ shutdownGracePeriodMs: 5000 });
    s.subscribe();
    s.h.launch(task({ kill_policy: grace(60_000) }));
    s.h.shutdown();
    s.clock.advance(2999);
    assert.deepEqual(s.launcher.signals, ["SIGTERM"]);
    s.clock.advance(1);
    assert.deepEqual(s.launcher.signals, ["SIGTERM", "SIGKILL"]);
    s.launcher.exit(null, "SIGKILL");
    assert.equal(s.updates.at(-1)?.state, "TASK_KILLED");
  });

  it("SHUTDOWN before a launch ends the executor at once", () => {
    const s = setup();
    s.subscribe();
    s.h.shutdown();
    assert.deepEqual(s.exits, [0]);
  });

  it("max_completion_time kills without grace and fails the task with its reason", () => {
    const s = setup();
    s.subscribe(["TASK_KILLING_STATE"]);
    s.h.launch(task({ max_completion_time: { nanoseconds: 5e9 } }));
    s.clock.advance(5000);
    assert.deepEqual(s.launcher.signals, ["SIGTERM", "SIGKILL"]);
    assert.ok(!s.states().includes("TASK_KILLING"));
    s.launcher.exit(null, "SIGTERM");
    const failed = s.updates.at(-1);
    assert.equal(failed?.state, "TASK_FAILED");
    assert.equal(failed?.reason, "REASON_MAX_COMPLETION_TIME_REACHED");
  });

  it("a KILL before max_completion_time cancels it", () => {
    const s = setup();
    s.subscribe();
    s.h.launch(task({ max_completion_time: { nanoseconds: 5e9 } }));
    s.h.kill({ value: "t" }, grace(100_000));
    s.clock.advance(6000);
    assert.deepEqual(s.launcher.signals, ["SIGTERM"]);
  });

  it("without an acknowledgement of the terminal update it exits 1 after 60 s", () => {
    const s = setup();
    s.subscribe();
    s.h.launch(task());
    s.launcher.exit(0);
    s.clock.advance(59_999);
    assert.deepEqual(s.exits, []);
    s.clock.advance(1);
    assert.deepEqual(s.exits, [1]);
  });

  it("when the agent is gone for good, it exits right after the task ends", () => {
    const s = setup();
    s.subscribe();
    s.h.launch(task());
    s.disconnect();
    s.h.shutdown();
    s.launcher.exit(null, "SIGTERM");
    assert.deepEqual(s.exits, [0]);
  });

  it("a second task is refused and its acknowledged TASK_FAILED does not end the executor", () => {
    const s = setup();
    s.subscribe();
    s.h.launch(task());
    s.h.launch(task({ task_id: { value: "other" } }));
    const refused = s.updates.at(-1);
    assert.equal(refused?.state, "TASK_FAILED");
    assert.equal(refused?.task_id.value, "other");
    s.ack("TASK_FAILED");
    assert.deepEqual(s.exits, []);
    assert.equal(s.launcher.specs.length, 1);
  });

  it("KILL before any LAUNCH ends the executor with status 1; KILL of another task is ignored", () => {
    const s = setup();
    s.subscribe();
    s.h.kill({ value: "t" }, undefined);
    assert.deepEqual(s.exits, [1]);

    const t = setup();
    t.subscribe();
    t.h.launch(task());
    t.h.kill({ value: "someone-else" }, undefined);
    assert.deepEqual(t.launcher.signals, []);
  });

  it("a launch failure or an invalid command fails the task after TASK_STARTING", async () => {
    const s = setup();
    s.launcher.failWith = "Failed to launch the command: spawn nope ENOENT";
    s.subscribe();
    s.h.launch(task());
    await new Promise((r) => queueMicrotask(() => r(undefined)));
    assert.deepEqual(s.states(), ["TASK_STARTING", "TASK_FAILED"]);
    assert.equal(s.updates.at(-1)?.message, "Failed to launch the command: spawn nope ENOENT");

    const t = setup();
    t.subscribe();
    t.h.launch(task({ command: { shell: false } }));
    assert.deepEqual(t.states(), ["TASK_STARTING", "TASK_FAILED"]);
    assert.match(t.updates.at(-1)?.message ?? "", /executable is not specified/);

    const u = setup();
    u.subscribe();
    const { command: _, ...noCommand } = task();
    u.h.launch(noCommand);
    assert.match(u.updates.at(-1)?.message ?? "", /to have a command/);
  });

  it("a launch refusal from unsupported flags fails the task with that message", () => {
    const s = setup({ launchRefusal: "The command executor does not support --rootfs yet" });
    s.subscribe();
    s.h.launch(task());
    assert.equal(s.updates.at(-1)?.message, "The command executor does not support --rootfs yet");
    assert.equal(s.launcher.specs.length, 0);
  });

  it("a task with a check carries an empty check_status of that type in every update", () => {
    const s = setup();
    s.subscribe();
    s.h.launch(task({ check: { type: "HTTP" } }));
    for (const u of s.updates) assert.deepEqual(u.check_status, { type: "HTTP", http: {} });
  });

  it("forceExit SIGKILLs a running task and exits 1", () => {
    const s = setup();
    s.subscribe();
    s.h.launch(task());
    s.executor.forceExit();
    assert.deepEqual(s.launcher.signals, ["SIGKILL"]);
    assert.deepEqual(s.exits, [1]);
  });
});
