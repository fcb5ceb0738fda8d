/**
 * The default executor with nested containers: a fake agent API
 * (LAUNCH_CONTAINER, WAIT_NESTED_CONTAINER, KILL_NESTED_CONTAINER) and a
 * manual clock. TASK_RUNNING waits for the launch; the agent's state,
 * reason and message win; kills go to the agent as signals; an agent
 * without nested containers makes the executor run tasks itself.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/common/observability/logger.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { DefaultExecutor, decodeWaitStatus } from "../../src/executor/default-executor.js";
import type {
  CallResult,
  ContainerEnd,
  TaskContainers,
} from "../../src/executor/default-executor-containers.js";
import { operatorApiPath } from "../../src/executor/default-executor-containers.js";
import { taskSandboxPaths } from "../../src/executor/default-executor-sandbox.js";
import type { ExecutorHandlers, TaskStatusInput } from "../../src/executor/library.js";
import type { TaskInfo, TaskStatus } from "../../src/executor/protocol.js";
import type { TaskLauncher } from "../../src/executor/task-process.js";

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}
function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

class FakeContainers implements TaskContainers {
  readonly launches = new Map<string, { child: string; env: Record<string, string> }>();
  readonly launchAnswers = new Map<string, Deferred<CallResult<undefined>>>();
  readonly waits = new Map<string, Deferred<CallResult<ContainerEnd>>>();
  readonly kills: [string, number][] = [];

  launch(parent: string, child: string, task: TaskInfo, env: Record<string, string>) {
    assert.equal(parent, "parent-cid");
    this.launches.set(task.task_id.value, { child, env });
    const d = deferred<CallResult<undefined>>();
    this.launchAnswers.set(task.task_id.value, d);
    return d.promise;
  }
  wait(_parent: string, child: string) {
    const d = deferred<CallResult<ContainerEnd>>();
    this.waits.set(child, d);
    return d.promise;
  }
  async kill(_parent: string, child: string, signal: number): Promise<CallResult<undefined>> {
    this.kills.push([child, signal]);
    return { ok: true, value: undefined };
  }
  childOf(taskId: string): string {
    const l = this.launches.get(taskId);
    assert.ok(l, `task ${taskId} was launched`);
    return l.child;
  }
  started(taskId: string): void {
    this.launchAnswers.get(taskId)?.resolve({ ok: true, value: undefined });
  }
  ended(taskId: string, end: ContainerEnd): void {
    const d = this.waits.get(this.childOf(taskId));
    assert.ok(d, `WAIT for ${taskId}`);
    d.resolve({ ok: true, value: end });
  }
}

const flush = () => new Promise((r) => setImmediate(r));

function task(id: string): TaskInfo {
  return {
    name: id,
    task_id: { value: id },
    agent_id: { value: "a" },
    resources: [],
    command: { value: "sleep 100" },
  };
}

function setup(localLaunches: string[] = []) {
  const containers = new FakeContainers();
  const updates: TaskStatus[] = [];
  let n = 0;
  const launcher: TaskLauncher = {
    launch: (spec) => {
      localLaunches.push(spec.cwd ?? "");
      return { pid: 42, signalTree: () => {} };
    },
  };
  let ids = 0;
  const clock = new ManualClock();
  const executor = new DefaultExecutor({
    channel: {
      update: (status: TaskStatusInput) => {
        const uuid = Buffer.alloc(16, ++n).toString("base64");
        updates.push({ ...status, uuid });
        return uuid;
      },
      canDeliver: () => true,
    },
    launcher,
    sandboxes: {
      create: (taskId) => taskSandboxPaths("/sb", taskId),
      nested: (_taskId, child) => ({
        directory: `/sb/containers/${child}`,
        stdoutPath: `/sb/containers/${child}/stdout`,
        stderrPath: `/sb/containers/${child}/stderr`,
      }),
    },
    clock,
    logger: silentLogger,
    executorId: "ex",
    baseEnv: { PATH: "/bin", MESOS_SANDBOX: "/sb" },
    shutdownGracePeriodMs: 5000,
    exit: () => {},
    containers,
    newContainerId: () => `c${++ids}`,
  });
  const h = executor.handlers() as Required<ExecutorHandlers>;
  h.subscribed({
    executor_info: {},
    framework_info: {},
    agent_info: { hostname: "agent" },
    container_id: { value: "parent-cid" },
  });
  const states = (id: string) => updates.filter((u) => u.task_id.value === id).map((u) => u.state);
  const last = (id: string) => updates.filter((u) => u.task_id.value === id).at(-1);
  return { containers, updates, h, states, last, localLaunches, clock };
}

describe("default executor with nested containers", () => {
  it("asks the agent for one nested container per task; TASK_RUNNING only once it runs; MESOS_SANDBOX is the container's sandbox", async () => {
    const t = setup();
    t.h.launchGroup({ tasks: [task("a"), task("b")] });
    assert.deepEqual(t.states("a"), ["TASK_STARTING"]);
    assert.equal(t.containers.launches.get("a")?.env.MESOS_SANDBOX, "/sb/containers/c1");
    assert.equal(t.containers.launches.get("b")?.child, "c2");
    t.containers.started("a");
    await flush();
    assert.deepEqual(t.states("a"), ["TASK_STARTING", "TASK_RUNNING"]);
    assert.deepEqual(t.states("b"), ["TASK_STARTING"]);
    t.containers.ended("a", { exit_status: 0 });
    await flush();
    assert.deepEqual(t.states("a"), ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]);
    assert.equal(t.last("a")?.message, "Command exited with status 0");
  });

  it("a container ended by its memory limit fails with the agent's reason; the rest of the group is killed through the agent", async () => {
    const t = setup();
    t.h.launchGroup({ tasks: [task("hog"), task("other")] });
    t.containers.started("hog");
    t.containers.started("other");
    await flush();
    t.containers.ended("hog", {
      exit_status: 9, // SIGKILL
      state: "TASK_FAILED",
      reason: "REASON_CONTAINER_LIMITATION_MEMORY",
      message: "Memory limit exceeded: Requested: 64MB Maximum Used: 64MB",
    });
    await flush();
    const hog = t.last("hog");
    assert.equal(hog?.state, "TASK_FAILED");
    assert.equal(hog?.reason, "REASON_CONTAINER_LIMITATION_MEMORY");
    assert.equal(
      hog?.message,
      "Command terminated with signal Killed: Memory limit exceeded: Requested: 64MB Maximum Used: 64MB",
    );
    // SIGTERM to the other task's container.
    assert.deepEqual(t.containers.kills, [["c2", 15]]);
    t.containers.ended("other", { exit_status: 15 });
    await flush();
    assert.equal(t.last("other")?.state, "TASK_KILLED");
  });

  it("a launch the agent refuses fails that task and kills the launched rest of its group", async () => {
    const t = setup();
    t.h.launchGroup({ tasks: [task("ok"), task("bad")] });
    t.containers.started("ok");
    t.containers.launchAnswers.get("bad")?.resolve({
      ok: false,
      status: 500,
      error: "500: Failed to prepare isolator cgroups/mem",
      unsupported: false,
    });
    await flush();
    assert.equal(t.last("bad")?.state, "TASK_FAILED");
    assert.match(t.last("bad")?.message ?? "", /Failed to launch the container of task 'bad'/);
    assert.deepEqual(t.containers.kills, [["c1", 15]]);
  });

  it("a task with its own image goes to the agent with its own variables only (the executor's environment is the host's), also without a command value", async () => {
    const t = setup();
    const image = { type: "MESOS", mesos: { image: { type: "DOCKER", docker: { name: "img" } } } };
    t.h.launchGroup({
      tasks: [
        {
          ...task("img"),
          command: { shell: false, environment: { variables: [{ name: "OWN", value: "1" }] } },
          container: image,
        } as TaskInfo,
      ],
    });
    assert.deepEqual(t.containers.launches.get("img")?.env, { OWN: "1" });
    t.containers.started("img");
    await flush();
    assert.deepEqual(t.states("img"), ["TASK_STARTING", "TASK_RUNNING"]);
  });

  it("a refused launch's answer (e.g. an image that cannot be had) is the task's message, as Mesos", async () => {
    const t = setup();
    t.h.launchGroup({ tasks: [task("bad")] });
    t.containers.launchAnswers.get("bad")?.resolve({
      ok: false,
      status: 400,
      error: "400: Failed to find archive for image 'nosuch'",
      body: "Failed to find archive for image 'nosuch'",
      unsupported: false,
    });
    await flush();
    assert.equal(t.last("bad")?.state, "TASK_FAILED");
    assert.equal(t.last("bad")?.message, "Failed to find archive for image 'nosuch'");
    assert.equal(t.last("bad")?.reason, undefined);
  });

  it("an agent without nested containers (501) makes the executor run its tasks as child processes", async () => {
    const local: string[] = [];
    const t = setup(local);
    t.h.launchGroup({ tasks: [task("a")] });
    t.containers.launchAnswers.get("a")?.resolve({
      ok: false,
      status: 501,
      error: "501: not implemented",
      unsupported: true,
    });
    await flush();
    assert.deepEqual(local, ["/sb/tasks/a"]);
    assert.deepEqual(t.states("a"), ["TASK_STARTING", "TASK_RUNNING"]);
    // Later groups go straight to child processes.
    t.h.launchGroup({ tasks: [task("b")] });
    assert.deepEqual(local, ["/sb/tasks/a", "/sb/tasks/b"]);
    assert.equal(t.containers.launches.has("b"), false);
  });

  it("a KILL sends SIGTERM, then SIGKILL after the grace period, to the task's container", async () => {
    const t = setup();
    t.h.launchGroup({ tasks: [task("a")] });
    t.containers.started("a");
    await flush();
    t.h.kill({ value: "a" }, { grace_period: { nanoseconds: 2e9 } });
    assert.deepEqual(t.containers.kills, [["c1", 15]]);
    t.clock.advance(2000);
    assert.deepEqual(t.containers.kills, [
      ["c1", 15],
      ["c1", 9],
    ]);
    t.containers.ended("a", { exit_status: 9 });
    await flush();
    assert.equal(t.last("a")?.state, "TASK_KILLED");
  });
});

describe("default executor with nested containers: an agent restarting", () => {
  it("a WAIT the agent cannot answer yet (network failure, empty 404) is asked again; a 404 for the container ends the task", async () => {
    const t = setup();
    t.h.launchGroup({ tasks: [task("a")] });
    t.containers.started("a");
    await flush();
    const first = t.containers.waits.get("c1");
    first?.resolve({
      ok: false,
      status: 0,
      error: "ECONNREFUSED",
      unsupported: false,
      retryable: true,
    });
    await flush();
    assert.deepEqual(t.states("a"), ["TASK_STARTING", "TASK_RUNNING"]);
    t.clock.advance(1000);
    const second = t.containers.waits.get("c1");
    assert.notEqual(second, first, "asked again");
    second?.resolve({ ok: false, status: 404, error: "404: ", unsupported: true, retryable: true });
    await flush();
    assert.deepEqual(t.states("a"), ["TASK_STARTING", "TASK_RUNNING"]);
    t.clock.advance(1000);
    t.containers.waits.get("c1")?.resolve({
      ok: false,
      status: 404,
      error: "404: Container 'parent-cid.c1' not found",
      unsupported: false,
      retryable: false,
    });
    await flush();
    assert.equal(t.last("a")?.state, "TASK_FAILED");
    assert.equal(t.last("a")?.message, "Unable to retrieve command's termination information");
  });
});

describe("default executor containers: helpers", () => {
  it("wait statuses decode to exit codes and signal names", () => {
    assert.deepEqual(decodeWaitStatus(3 << 8), { code: 3, signal: null });
    assert.deepEqual(decodeWaitStatus(9), { code: null, signal: "SIGKILL" });
    assert.deepEqual(decodeWaitStatus(15), { code: null, signal: "SIGTERM" });
  });

  it("the operator API sits next to the executor API", () => {
    assert.equal(operatorApiPath("/slave(1)/api/v1/executor"), "/slave(1)/api/v1");
    assert.equal(operatorApiPath("/api/v1/executor"), "/api/v1");
  });
});
