/**
 * Agent recovery of finished executor runs and frameworks, as Mesos'
 * `recoverFramework` / `recoverExecutor` do it: a run the agent had
 * finished with (`executor.sentinel`) comes back as a completed executor of
 * its framework (bounded by `--max_completed_executors_per_framework`), a
 * framework with nothing live comes back completed, and the replayed
 * terminal states count once in the metrics, however the updates are
 * re-sent and acknowledged afterwards.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Agent, type ContainerLaunch } from "../../src/agent/agent.js";
import type {
  AgentCheckpoint,
  ExecutorCheckpoint,
  TaskCheckpoint,
} from "../../src/agent/checkpoint/state.js";
import type { ExecutorConnection } from "../../src/agent/executor.js";
import { registerAgentMetrics } from "../../src/agent/http/agent-metrics.js";
import { sandboxPath } from "../../src/agent/paths.js";
import { uuidKey } from "../../src/agent/status-updates/stream.js";
import { silentLogger } from "../../src/common/observability/logger.js";
import { MetricsRegistry } from "../../src/common/observability/metrics.js";
import type { StatusUpdate } from "../../src/common/protocol/generated/mesos-internal.js";
import type { TaskState } from "../../src/common/protocol/generated/mesos-v1.js";
import { ManualClock } from "../../src/common/time/clock.js";
import { seededRandom } from "../../src/common/time/random.js";
import { testAgentConfig } from "../harness/agent-config.js";

const MASTER = "master@127.0.0.1:5050";
const AGENT_ID = "A-S0";
const WORK_DIR = "/work";

function agentWith(maxCompletedExecutorsPerFramework = 150) {
  const clock = new ManualClock();
  const sent: { type: string; message: unknown }[] = [];
  const launches: ContainerLaunch[] = [];
  const agent = new Agent({
    config: testAgentConfig({ workDir: WORK_DIR, maxCompletedExecutorsPerFramework }),
    clock,
    random: seededRandom(5),
    logger: silentLogger,
    transport: { send: (_to, type, message) => sent.push({ type, message }), link: () => {} },
    containerizer: { launch: (l) => launches.push(l), destroy: () => {} },
  });
  const registry = new MetricsRegistry(clock);
  registerAgentMetrics(registry, agent, clock);
  const metric = (name: string) => registry.snapshotNow()[name];
  return { agent, clock, sent, launches, metric };
}

let uuidSeed = 0;
const nextUuid = () => new Uint8Array(16).fill(++uuidSeed);

/** A checkpointed task: `states` received in order, the first `acked` of them acknowledged. */
function task(frameworkId: string, id: string, states: TaskState[], acked: number): TaskCheckpoint {
  const updates: StatusUpdate[] = states.map((state) => {
    const uuid = nextUuid();
    return {
      framework_id: { value: frameworkId },
      status: { task_id: { value: id }, state, uuid },
      timestamp: 1,
      uuid,
    };
  });
  return {
    id,
    info: {
      name: id,
      task_id: { value: id },
      framework_id: { value: frameworkId },
      agent_id: { value: AGENT_ID },
      state: "TASK_STAGING",
      resources: [],
      statuses: [],
    },
    updates,
    acks: new Set(updates.slice(0, acked).map((u) => uuidKey(u.uuid ?? new Uint8Array()))),
  };
}

function executor(id: string, completed: boolean, tasks: TaskCheckpoint[]): ExecutorCheckpoint {
  const containerId = `c-${id}`;
  return {
    id,
    info: { executor_id: { value: id }, command: { value: "run" }, resources: [] },
    generatedForCommandTask: true,
    latest: containerId,
    runs: new Map([
      [
        containerId,
        {
          containerId,
          completed,
          http: true,
          ...(completed ? {} : { forkedPid: 4242 }),
          tasks: new Map(tasks.map((t) => [t.id, t])),
        },
      ],
    ]),
  };
}

function checkpoint(
  frameworks: { id: string; executors: ExecutorCheckpoint[] }[],
): AgentCheckpoint {
  return {
    id: AGENT_ID,
    info: { hostname: "h", port: 5051, checkpoint: true, resources: [] },
    frameworks: new Map(
      frameworks.map((f) => [
        f.id,
        {
          id: f.id,
          info: { user: "u", name: f.id, id: { value: f.id }, checkpoint: true },
          executors: new Map(f.executors.map((e) => [e.id, e])),
        },
      ]),
    ),
  };
}

class Connection implements ExecutorConnection {
  send(): void {}
  close(): void {}
}

describe("agent recovery of finished runs and frameworks", () => {
  it("a finished run is a completed executor of its live framework, with its tasks' states; it counts once in the metrics", () => {
    const { agent, metric } = agentWith();
    agent.recover(
      checkpoint([
        {
          id: "F",
          executors: [
            executor("live", false, [task("F", "l", ["TASK_RUNNING"], 1)]),
            executor("done", true, [
              task("F", "ok", ["TASK_RUNNING", "TASK_FINISHED"], 2),
              // Its terminal update never reached the checkpoint.
              task("F", "cut", ["TASK_RUNNING"], 1),
            ]),
          ],
        },
      ]),
    );
    const framework = agent.frameworks.get("F");
    assert.ok(framework, "the framework with a live executor is live");
    assert.deepEqual([...framework.executors.keys()], ["live"]);
    assert.deepEqual(
      framework.completedExecutors.map((e) => e.id),
      ["done"],
    );
    const done = framework.completedExecutors[0];
    assert.ok(done);
    assert.equal(done.state, "TERMINATED");
    assert.equal(
      done.directory,
      sandboxPath(WORK_DIR, {
        agentId: AGENT_ID,
        frameworkId: "F",
        executorId: "done",
        containerId: "c-done",
      }),
    );
    assert.deepEqual(
      done.completedTasks.map((t) => [t.task_id.value, t.state]),
      [["ok", "TASK_FINISHED"]],
    );
    assert.equal(done.launchedTasks.size, 0, "nothing of a finished run is live");
    assert.deepEqual(
      [...done.terminatedTasks.values()].map((t) => [t.task_id.value, t.state]),
      [["cut", "TASK_RUNNING"]],
    );
    assert.deepEqual(
      agent.recoveredCompletedRuns.map((r) => r.directory),
      [done.directory],
    );
    assert.equal(agent.completedFrameworks.length, 0);
    assert.equal(metric("slave/tasks_finished"), 1);
    assert.equal(metric("slave/tasks_running"), 1, "only the live executor's task");
    assert.equal(metric("slave/executors_terminated"), 1);
  });

  it("a framework whose runs all finished is completed, with them; --max_completed_executors_per_framework bounds them", () => {
    const { agent, metric } = agentWith(2);
    agent.recover(
      checkpoint([
        {
          id: "G",
          executors: ["e1", "e2", "e3"].map((id) =>
            executor(id, true, [task("G", `t-${id}`, ["TASK_RUNNING", "TASK_FAILED"], 2)]),
          ),
        },
      ]),
    );
    assert.equal(agent.frameworks.size, 0);
    assert.deepEqual(
      agent.completedFrameworks.map((f) => f.id),
      ["G"],
    );
    assert.deepEqual(
      agent.completedFrameworks[0]?.completedExecutors.map((e) => e.id),
      ["e2", "e3"],
      "the oldest one is dropped",
    );
    // Bounding what is listed does not change what was counted.
    assert.equal(metric("slave/tasks_failed"), 3);
    assert.equal(metric("slave/executors_terminated"), 3);
    assert.equal(metric("slave/frameworks_active"), 0);
  });

  it("a completed framework that gets a task again takes its completed executors back and leaves completed_frameworks", () => {
    const { agent } = agentWith();
    agent.recover(
      checkpoint([
        {
          id: "G",
          executors: [
            executor("old", true, [task("G", "t0", ["TASK_RUNNING", "TASK_FINISHED"], 2)]),
          ],
        },
      ]),
    );
    assert.equal(agent.completedFrameworks.length, 1);
    agent.start(MASTER);
    agent.reregistered(MASTER, { slave_id: { value: AGENT_ID } });
    agent.runTask(MASTER, {
      framework: { user: "u", name: "G", id: { value: "G" }, checkpoint: true },
      framework_id: { value: "G" },
      task: {
        name: "t1",
        task_id: { value: "t1" },
        agent_id: { value: AGENT_ID },
        resources: [],
        command: { value: "sleep 100" },
      },
    });
    const framework = agent.frameworks.get("G");
    assert.ok(framework);
    assert.deepEqual(
      framework.completedExecutors.map((e) => e.id),
      ["old"],
    );
    assert.equal(agent.completedFrameworks.length, 0, "listed once, as live");
  });

  it("a replayed terminal update that the executor re-sends and the framework acknowledges counts once; the recovered executor that then exits counts once", () => {
    const { agent, sent, metric } = agentWith();
    const [recovered] = agent.recover(
      checkpoint([
        {
          id: "F",
          executors: [
            executor("e", false, [
              // Terminal, not acknowledged yet: re-sent after re-registration.
              task("F", "t", ["TASK_RUNNING", "TASK_FINISHED"], 1),
            ]),
          ],
        },
      ]),
    );
    assert.ok(recovered);
    assert.equal(metric("slave/tasks_finished"), 1);
    const executorState = agent.frameworks.get("F")?.executors.get("e");
    const finished = executorState?.terminatedTasks.get("t");
    assert.ok(finished, "recovered terminated, waiting for its acknowledgement");
    const uuid = finished.statuses?.at(-1)?.uuid;
    assert.ok(uuid);
    // The executor re-subscribes and re-sends its unacknowledged terminal update.
    agent.subscribe(
      "F",
      "e",
      {
        unacknowledged_updates: [
          {
            status: {
              ...finished.statuses?.at(-1),
              task_id: { value: "t" },
              state: "TASK_FINISHED",
              uuid,
            },
          },
        ],
      },
      new Connection(),
    );
    agent.start(MASTER);
    agent.reregistered(MASTER, { slave_id: { value: AGENT_ID } });
    assert.ok(
      sent.some((s) => s.type === "mesos.internal.StatusUpdateMessage"),
      "the unacknowledged update is sent again",
    );
    agent.statusUpdateAcknowledgement(MASTER, {
      slave_id: { value: AGENT_ID },
      framework_id: { value: "F" },
      task_id: { value: "t" },
      uuid,
    });
    assert.deepEqual(
      executorState?.completedTasks.map((t) => t.task_id.value),
      ["t"],
      "acknowledged: completed",
    );
    assert.equal(metric("slave/tasks_finished"), 1);
    assert.equal(metric("slave/executors_terminated"), 0, "a live run does not count at recovery");
    agent.containerTerminated(recovered.ids.containerId, { status: 0 });
    assert.equal(metric("slave/executors_terminated"), 1);
    assert.equal(metric("slave/tasks_finished"), 1);
    assert.deepEqual(
      agent.completedFrameworks.map((f) => [f.id, f.completedExecutors.map((e) => e.id)]),
      [["F", ["e"]]],
    );
  });
});
