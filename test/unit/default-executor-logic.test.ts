/**
 * The default executor's state machine with fake processes, fake sandboxes
 * and a manual clock: group semantics, grace periods, shutdown, exits.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/common/observability/logger.js";
import { ManualClock } from "../../src/common/time/clock.js";
import {
  DefaultExecutor,
  type DefaultExecutorOptions,
  type TaskSandbox,
} from "../../src/executor/default-executor.js";
import { parseDefaultExecutorFlags } from "../../src/executor/default-executor-flags.js";
import {
  taskIdPathProblem,
  taskSandboxesIn,
  taskSandboxPaths,
} from "../../src/executor/default-executor-sandbox.js";
import type { LaunchSpec } from "../../src/executor/launch-spec.js";
import type { ExecutorHandlers, TaskStatusInput } from "../../src/executor/library.js";
import type { KillPolicy, TaskInfo, TaskStatus } from "../../src/executor/protocol.js";
import type { LaunchCallbacks, TaskLauncher } from "../../src/executor/task-process.js";

/** One fake task process per launch, keyed by the task's sandbox directory name. */
class FakeLauncher implements TaskLauncher {
  readonly specs = new Map<string, LaunchSpec>();
  readonly signals = new Map<string, string[]>();
  private readonly callbacks = new Map<string, LaunchCallbacks>();
  /** Task ids whose spawn fails asynchronously (as ENOENT does). */
  readonly failing = new Set<string>();
  private pid = 100;

  launch(spec: LaunchSpec, callbacks: LaunchCallbacks) {
    const id = (spec.cwd ?? "").split("/").at(-1) ?? "";
    this.specs.set(id, spec);
    this.callbacks.set(id, callbacks);
    if (this.failing.has(id)) {
      queueMicrotask(() => callbacks.failed("Failed to launch the command: spawn x ENOENT"));
      return undefined;
    }
    const signals: string[] = [];
    this.signals.set(id, signals);
    return { pid: ++this.pid, signalTree: (signal: NodeJS.Signals) => signals.push(signal) };
  }

  exit(id: string, code: number | null, signal: NodeJS.Signals | null = null): void {
    const cb = this.callbacks.get(id);
    assert.ok(cb, `task ${id} was launched`);
    cb.exited(code, signal);
  }

  signalsOf(id: string): string[] {
    return this.signals.get(id) ?? [];
  }
}

function setup(overrides: Partial<DefaultExecutorOptions> = {}) {
  const clock = new ManualClock();
  const launcher = new FakeLauncher();
  const updates: TaskStatus[] = [];
  const exits: number[] = [];
  const sandboxErrors = new Map<string, string>();
  let connected = true;
  let n = 0;
  const executor = new DefaultExecutor({
    channel: {
      update: (status: TaskStatusInput) => {
        // 16-byte uuids, as the library makes them.
        const uuid = Buffer.alloc(16, ++n).toString("base64");
        updates.push({ ...status, uuid });
        return uuid;
      },
      canDeliver: () => connected,
    },
    launcher,
    sandboxes: {
      create: (taskId): TaskSandbox | { error: string } => {
        const error = sandboxErrors.get(taskId);
        return error !== undefined ? { error } : taskSandboxPaths("/sb", taskId);
      },
    },
    clock,
    logger: silentLogger,
    executorId: "ex",
    baseEnv: { PATH: "/bin", MESOS_SANDBOX: "/sb", MESOS_EXECUTOR_ID: "ex" },
    shutdownGracePeriodMs: 5000,
    containerIp: "10.0.0.7",
    user: "alice",
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
  const launchGroup = (...tasks: TaskInfo[]) => h.launchGroup({ tasks });
  const states = (id: string) => updates.filter((u) => u.task_id.value === id).map((u) => u.state);
  const last = (id: string) => updates.filter((u) => u.task_id.value === id).at(-1);
  const ackAll = () => {
    for (const u of updates) h.acknowledged(u.task_id, u.uuid ?? "", u);
  };
  return {
    clock,
    launcher,
    updates,
    exits,
    sandboxErrors,
    executor,
    h,
    subscribe,
    launchGroup,
    states,
    last,
    ackAll,
    disconnect: () => {
      connected = false;
    },
  };
}

const task = (id: string, extra: Partial<TaskInfo> = {}): TaskInfo => ({
  name: id,
  task_id: { value: id },
  agent_id: { value: "a" },
  resources: [{ name: "cpus", allocation_info: { role: "web" } }],
  command: { value: "sleep 100" },
  ...extra,
});
const grace = (ms: number): KillPolicy => ({ grace_period: { nanoseconds: ms * 1e6 } });
const tick = () => new Promise<void>((resolve) => queueMicrotask(resolve));

describe("default executor logic", () => {
  it("LAUNCH_GROUP: every TASK_STARTING first, then TASK_RUNNING per task; both finish; the last ack ends it", () => {
    const s = setup();
    s.subscribe();
    s.launchGroup(task("a"), task("b"));
    assert.deepEqual(
      s.updates.map((u) => `${u.task_id.value}:${u.state}`),
      ["a:TASK_STARTING", "b:TASK_STARTING", "a:TASK_RUNNING", "b:TASK_RUNNING"],
    );
    const running = s.last("a");
    assert.equal(running?.source, "SOURCE_EXECUTOR");
    assert.deepEqual(running?.executor_id, { value: "ex" });
    assert.equal(running?.timestamp, s.clock.now() / 1000);
    assert.deepEqual(s.executor.activeTasks(), ["a", "b"]);

    s.launcher.exit("a", 0);
    assert.deepEqual(s.states("a"), ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]);
    assert.equal(s.last("a")?.message, "Command exited with status 0");
    assert.deepEqual(s.launcher.signalsOf("a"), ["SIGKILL"], "leftovers of a are killed");
    assert.deepEqual(s.launcher.signalsOf("b"), [], "a finishing does not touch b");
    s.launcher.exit("b", 0);
    assert.equal(s.last("b")?.state, "TASK_FINISHED");
    assert.deepEqual(s.exits, [], "updates not acknowledged yet");
    s.ackAll();
    assert.deepEqual(s.exits, [0]);
  });

  it("a task runs in its own sandbox: cwd, stdout/stderr files, MESOS_SANDBOX, container IP, role, inherited env", () => {
    const s = setup();
    s.subscribe();
    s.launchGroup(
      task("a", {
        command: {
          value: "echo",
          environment: { variables: [{ name: "GREETING", value: "hi" }] },
        },
      }),
    );
    const spec = s.launcher.specs.get("a");
    assert.ok(spec);
    assert.equal(spec.cwd, "/sb/tasks/a");
    assert.equal(spec.stdoutPath, "/sb/tasks/a/stdout");
    assert.equal(spec.stderrPath, "/sb/tasks/a/stderr");
    assert.equal(spec.file, "/bin/sh");
    assert.deepEqual(spec.args, ["-c", "echo"]);
    assert.equal(spec.env.MESOS_SANDBOX, "/sb/tasks/a");
    assert.equal(spec.env.MESOS_CONTAINER_IP, "10.0.0.7");
    assert.equal(spec.env.MESOS_ALLOCATION_ROLE, "web");
    assert.equal(spec.env.MESOS_EXECUTOR_ID, "ex");
    assert.equal(spec.env.GREETING, "hi");
    assert.equal(spec.env.PATH, "/bin");
  });

  it("a failing task is TASK_FAILED and the rest of its group is killed with each task's own grace period", () => {
    const s = setup();
    s.subscribe();
    s.launchGroup(
      task("fails"),
      task("slow", { kill_policy: grace(10_000) }),
      task("default-grace"),
    );
    s.launcher.exit("fails", 3);
    assert.equal(s.last("fails")?.state, "TASK_FAILED");
    assert.equal(s.last("fails")?.message, "Command exited with status 3");
    assert.deepEqual(s.launcher.signalsOf("slow"), ["SIGTERM"]);
    assert.deepEqual(s.launcher.signalsOf("default-grace"), ["SIGTERM"]);
    s.clock.advance(2999);
    assert.deepEqual(s.launcher.signalsOf("default-grace"), ["SIGTERM"]);
    s.clock.advance(1);
    assert.deepEqual(s.launcher.signalsOf("default-grace"), ["SIGTERM", "SIGKILL"], "3 s default");
    assert.deepEqual(s.launcher.signalsOf("slow"), ["SIGTERM"]);
    s.clock.advance(7000);
    assert.deepEqual(s.launcher.signalsOf("slow"), ["SIGTERM", "SIGKILL"], "its kill policy");
    s.launcher.exit("slow", null, "SIGKILL");
    s.launcher.exit("default-grace", null, "SIGTERM");
    assert.equal(s.last("slow")?.state, "TASK_KILLED");
    assert.equal(s.last("slow")?.message, "Command terminated with signal Killed");
    assert.equal(s.last("default-grace")?.state, "TASK_KILLED");
    s.ackAll();
    assert.deepEqual(s.exits, [0]);
  });

  it("KILL of one task: its KILL policy wins over the task's; the rest of the group follows; TASK_KILLING when capable", () => {
    const s = setup();
    s.subscribe(["TASK_KILLING_STATE"]);
    s.launchGroup(task("k1", { kill_policy: grace(30_000) }), task("k2"));
    s.h.kill({ value: "k1" }, grace(500));
    assert.deepEqual(s.states("k1"), ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"]);
    assert.deepEqual(s.launcher.signalsOf("k2"), [], "the group is killed once k1 has ended");
    s.clock.advance(500);
    assert.deepEqual(s.launcher.signalsOf("k1"), ["SIGTERM", "SIGKILL"]);
    s.launcher.exit("k1", null, "SIGKILL");
    assert.equal(s.last("k1")?.state, "TASK_KILLED");
    assert.deepEqual(s.states("k2"), ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"]);
    assert.deepEqual(s.launcher.signalsOf("k2"), ["SIGTERM"]);
    s.launcher.exit("k2", null, "SIGTERM");
    assert.equal(s.last("k2")?.state, "TASK_KILLED");
  });

  it("a later KILL may only bring the SIGKILL closer; KILL of an unknown task is ignored", () => {
    const s = setup();
    s.subscribe();
    s.launchGroup(task("t"));
    s.h.kill({ value: "nope" }, undefined);
    assert.deepEqual(s.launcher.signalsOf("t"), []);
    s.h.kill({ value: "t" }, grace(5000));
    s.clock.advance(1000);
    s.h.kill({ value: "t" }, grace(10_000));
    s.clock.advance(3999);
    assert.deepEqual(s.launcher.signalsOf("t"), ["SIGTERM"]);
    s.h.kill({ value: "t" }, grace(2000));
    s.clock.advance(0);
    assert.deepEqual(s.launcher.signalsOf("t"), ["SIGTERM", "SIGKILL"], "2 s after the first KILL");
    assert.deepEqual(s.exits, []);
  });

  it("two groups: a failure in one kills only that group; the executor waits for the other", () => {
    const s = setup();
    s.subscribe();
    s.launchGroup(task("g1"));
    s.launchGroup(task("g2-a"), task("g2-b"));
    s.launcher.exit("g2-a", 1);
    assert.deepEqual(s.launcher.signalsOf("g2-b"), ["SIGTERM"]);
    assert.deepEqual(s.launcher.signalsOf("g1"), []);
    s.launcher.exit("g2-b", null, "SIGTERM");
    s.ackAll();
    assert.deepEqual(s.exits, [], "g1 still runs");
    assert.deepEqual(s.executor.activeTasks(), ["g1"]);
    s.launcher.exit("g1", 0);
    s.ackAll();
    assert.deepEqual(s.exits, [0]);
  });

  it("exits 1 when the acknowledgements do not come within 60 s; a new group in between cancels that", () => {
    const s = setup();
    s.subscribe();
    s.launchGroup(task("a"));
    s.launcher.exit("a", 0);
    s.clock.advance(30_000);
    s.launchGroup(task("b"));
    s.clock.advance(60_000);
    assert.deepEqual(s.exits, [], "b is running");
    s.launcher.exit("b", 0);
    s.clock.advance(59_999);
    assert.deepEqual(s.exits, []);
    s.clock.advance(1);
    assert.deepEqual(s.exits, [1]);
  });

  it("max_completion_time: killed without grace, TASK_FAILED with REASON_MAX_COMPLETION_TIME_REACHED, no TASK_KILLING; the group follows", () => {
    const s = setup();
    s.subscribe(["TASK_KILLING_STATE"]);
    s.launchGroup(task("bounded", { max_completion_time: { nanoseconds: 2e9 } }), task("other"));
    s.clock.advance(1999);
    assert.deepEqual(s.launcher.signalsOf("bounded"), []);
    s.clock.advance(1);
    assert.deepEqual(s.launcher.signalsOf("bounded"), ["SIGTERM", "SIGKILL"]);
    s.launcher.exit("bounded", null, "SIGKILL");
    const failed = s.last("bounded");
    assert.equal(failed?.state, "TASK_FAILED");
    assert.equal(failed?.reason, "REASON_MAX_COMPLETION_TIME_REACHED");
    assert.ok(!s.states("bounded").includes("TASK_KILLING"));
    assert.deepEqual(s.states("other"), ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"]);
  });

  it("tasks that cannot start are TASK_FAILED with a reason after the group's TASK_RUNNINGs, and kill the group", () => {
    const s = setup();
    s.subscribe();
    s.sandboxErrors.set("no-sandbox", "EACCES: permission denied");
    s.launchGroup(
      task("runs"),
      task("image", { container: { type: "MESOS", mesos: { image: { type: "DOCKER" } } } }),
      task("other-user", { command: { value: "true", user: "bob" } }),
      task("no-command", { command: undefined }),
      task("no-sandbox"),
    );
    const message = (id: string) => s.last(id)?.message ?? "";
    assert.match(message("image"), /container image; this agent has no nested containers/);
    assert.match(message("other-user"), /run as user 'bob'.*not supported yet/);
    assert.match(message("no-command"), /Expecting task 'no-command' to have a command/);
    assert.match(message("no-sandbox"), /Failed to create the sandbox.*EACCES/);
    for (const id of ["image", "other-user", "no-command", "no-sandbox"]) {
      assert.deepEqual(s.states(id), ["TASK_STARTING", "TASK_FAILED"], id);
    }
    assert.deepEqual(s.states("runs"), ["TASK_STARTING", "TASK_RUNNING"]);
    assert.deepEqual(s.launcher.signalsOf("runs"), ["SIGTERM"], "the group is killed");
  });

  it("an asynchronous spawn failure is TASK_FAILED without TASK_RUNNING", async () => {
    const s = setup();
    s.subscribe();
    s.launcher.failing.add("missing");
    s.launchGroup(task("missing"), task("ok"));
    assert.deepEqual(s.states("missing"), ["TASK_STARTING"]);
    await tick();
    assert.deepEqual(s.states("missing"), ["TASK_STARTING", "TASK_FAILED"]);
    assert.match(s.last("missing")?.message ?? "", /ENOENT/);
    assert.deepEqual(s.launcher.signalsOf("ok"), ["SIGTERM"]);
  });

  it("a task id already running is not launched twice", () => {
    const s = setup();
    s.subscribe();
    s.launchGroup(task("dup"));
    s.launchGroup(task("dup"), task("fresh"));
    assert.deepEqual(s.states("dup"), ["TASK_STARTING", "TASK_RUNNING"]);
    assert.deepEqual(s.states("fresh"), ["TASK_STARTING", "TASK_RUNNING"]);
    assert.equal(s.launcher.specs.size, 2);
  });

  it("SHUTDOWN kills every task within the shutdown grace period minus 2 s; KILLs are then ignored; exit after the acks", () => {
    const s = setup({ shutdownGracePeriodMs: 4000 });
    s.subscribe();
    s.launchGroup(
      task("long", { kill_policy: grace(60_000) }),
      task("short", { kill_policy: grace(1000) }),
    );
    s.h.shutdown();
    assert.deepEqual(s.launcher.signalsOf("long"), ["SIGTERM"]);
    s.h.kill({ value: "long" }, grace(0));
    assert.deepEqual(s.launcher.signalsOf("long"), ["SIGTERM"], "KILL ignored while shutting down");
    s.clock.advance(1000);
    assert.deepEqual(s.launcher.signalsOf("short"), ["SIGTERM", "SIGKILL"], "its own 1 s");
    assert.deepEqual(s.launcher.signalsOf("long"), ["SIGTERM"]);
    s.clock.advance(1000);
    assert.deepEqual(s.launcher.signalsOf("long"), ["SIGTERM", "SIGKILL"], "capped at 4 s - 2 s");
    s.launcher.exit("long", null, "SIGKILL");
    s.launcher.exit("short", null, "SIGKILL");
    assert.equal(s.last("long")?.state, "TASK_KILLED");
    assert.equal(s.last("short")?.state, "TASK_KILLED");
    s.ackAll();
    assert.deepEqual(s.exits, [0]);
  });

  it("SHUTDOWN without tasks exits at once; a LAUNCH_GROUP during shutdown fails its tasks", () => {
    const idle = setup();
    idle.subscribe();
    idle.h.shutdown();
    assert.deepEqual(idle.exits, [0]);

    const s = setup();
    s.subscribe();
    s.launchGroup(task("running"));
    s.h.shutdown();
    s.launchGroup(task("late"));
    assert.deepEqual(s.states("late"), ["TASK_STARTING", "TASK_FAILED"]);
    assert.equal(s.last("late")?.message, "The executor is shutting down");
    assert.equal(s.launcher.specs.has("late"), false);
  });

  it("a LAUNCH event (single task) shuts the executor down", () => {
    const s = setup();
    s.subscribe();
    s.launchGroup(task("g"));
    s.h.launch(task("single"));
    assert.deepEqual(s.states("single"), []);
    assert.deepEqual(s.launcher.signalsOf("g"), ["SIGTERM"]);
  });

  it("lost agent: the tasks are killed and the executor exits once they end, without waiting for acks", () => {
    const s = setup();
    s.subscribe();
    s.launchGroup(task("a"));
    s.disconnect();
    s.h.shutdown();
    assert.deepEqual(s.launcher.signalsOf("a"), ["SIGTERM"]);
    s.launcher.exit("a", null, "SIGTERM");
    assert.deepEqual(s.exits, [0]);
  });

  it("forceExit (shutdown deadline) SIGKILLs what is left and exits 1", () => {
    const s = setup();
    s.subscribe();
    s.launchGroup(task("a"), task("b"));
    s.launcher.exit("b", 0);
    s.h.shutdown();
    s.executor.forceExit();
    assert.deepEqual(s.launcher.signalsOf("a"), ["SIGTERM", "SIGKILL"]);
    assert.deepEqual(s.exits, [1]);
    s.clock.advance(100_000);
    assert.deepEqual(s.exits, [1], "no second exit from leftover timers");
  });

  it("tasks with a check carry an empty check_status in every update", () => {
    const s = setup();
    s.subscribe();
    s.launchGroup(task("checked", { check: { type: "TCP" } }));
    for (const u of s.updates) assert.deepEqual(u.check_status, { type: "TCP", tcp: {} });
  });
});

describe("default executor sandboxes and flags", () => {
  it("task sandboxes are tasks/<id> under the executor sandbox; ids that are not file names are refused", () => {
    const root = mkdtempSync(join(tmpdir(), "mesos-ts-default-"));
    try {
      const sandboxes = taskSandboxesIn(root);
      const made = sandboxes.create("web-1");
      assert.ok(!("error" in made));
      assert.equal(made.directory, join(root, "tasks", "web-1"));
      assert.equal(made.stdoutPath, join(root, "tasks", "web-1", "stdout"));
      assert.ok(statSync(made.directory).isDirectory());
      for (const bad of ["", ".", "..", "a/b", "x\0y"]) {
        assert.ok("error" in sandboxes.create(bad), JSON.stringify(bad));
        assert.ok(taskIdPathProblem(bad) !== undefined);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("flags: --launcher_dir and the logging flags are accepted; --help prints usage; unknown flags fail", () => {
    const ok = parseDefaultExecutorFlags(["--launcher_dir=/opt/bin", "--logging_level=WARNING"]);
    assert.ok(!("exit" in ok));
    assert.equal(ok.loggingLevel, "WARNING");
    const help = parseDefaultExecutorFlags(["--help"]);
    assert.ok("exit" in help && help.exit === 0 && help.output.includes("--launcher_dir"));
    const bad = parseDefaultExecutorFlags(["--no_such_flag=1"]);
    assert.ok("exit" in bad && bad.exit === 1);
    assert.match(bad.output, /no_such_flag/);
  });
});
