/**
 * The real default executor process against the fake agent (no nested
 * containers, so tasks run as the executor's child processes): a task's
 * persistent volume, which the agent puts in the executor's sandbox at its
 * `container_path`, is at the same path in the task's own sandbox
 * (`$MESOS_SANDBOX/<container_path>`, a symlink), as in a nested container;
 * a volume path that leaves the sandbox fails the task.
 */
import assert from "node:assert/strict";
import { lstatSync, mkdirSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { TaskInfo } from "../../src/executor/protocol.js";
import { FakeAgent } from "../harness/fake-agent.js";
import { type LaunchedExecutor, startExecutor } from "../harness/fake-agent-launch.js";

const MAIN = fileURLToPath(new URL("../../src/executor/default-executor-main.js", import.meta.url));

function task(id: string, command: string, containerPath?: string): TaskInfo {
  const resources: Record<string, unknown>[] = [
    { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
  ];
  if (containerPath !== undefined) {
    resources.push({
      name: "disk",
      type: "SCALAR",
      scalar: { value: 8 },
      role: "volumes",
      reservations: [{ type: "DYNAMIC", role: "volumes" }],
      disk: {
        persistence: { id: `pv-${id}` },
        volume: { mode: "RW", container_path: containerPath },
      },
    });
  }
  return {
    name: id,
    task_id: { value: id },
    agent_id: { value: "fake-agent-S0" },
    resources,
    command: { value: command },
  } as unknown as TaskInfo;
}

describe("default executor: persistent volumes of tasks run as child processes", () => {
  let agent: FakeAgent;
  const launched: LaunchedExecutor[] = [];
  let n = 0;

  const start = async () => {
    const executorId = `volumes-${++n}`;
    const ex = await startExecutor(agent, launched, executorId, {
      entry: MAIN,
      args: ["--launcher_dir=/nonexistent"],
    });
    return { ex, executorId };
  };

  const launchGroup = (executorId: string, tasks: TaskInfo[]) =>
    agent.send({ type: "LAUNCH_GROUP", launch_group: { task_group: { tasks } } }, executorId);

  before(async () => {
    agent = await FakeAgent.start();
  });
  after(async () => {
    for (const ex of launched) await ex.cleanup();
    await agent.stop();
  });

  it("a task writes $MESOS_SANDBOX/<container_path>: it lands in the executor's volume, where its sibling reads it at the same path", async () => {
    const { ex, executorId } = await start();
    // Where the agent puts the volume of a task group's executor.
    mkdirSync(join(ex.sandbox, "data", "pv"), { recursive: true });
    launchGroup(executorId, [
      task("writer", 'echo kept > "$MESOS_SANDBOX/data/pv/file"', "data/pv"),
      task(
        "reader",
        "while [ ! -s data/pv/file ]; do sleep 0.1; done; cat data/pv/file",
        "data/pv",
      ),
    ]);
    await agent.waitForUpdate("TASK_FINISHED", "writer");
    await agent.waitForUpdate("TASK_FINISHED", "reader");
    assert.equal(readFileSync(join(ex.sandbox, "data", "pv", "file"), "utf8"), "kept\n");
    assert.equal(readFileSync(join(ex.sandbox, "tasks", "reader", "stdout"), "utf8"), "kept\n");
    const link = join(ex.sandbox, "tasks", "writer", "data", "pv");
    assert.ok(lstatSync(link).isSymbolicLink(), "the task's volume path is a link");
    assert.equal(realpathSync(link), realpathSync(join(ex.sandbox, "data", "pv")));
  });

  it("a volume whose container_path leaves the sandbox fails its task (and its group) before it runs", async () => {
    const { executorId } = await start();
    launchGroup(executorId, [
      task("escaping", "echo ran", "../outside"),
      task("escaping-sibling", "sleep 100"),
    ]);
    const failed = await agent.waitForUpdate("TASK_FAILED", "escaping");
    assert.equal(
      failed.message,
      "Failed to map the persistent volume '../outside' into the sandbox of task 'escaping': '../outside' is not a relative path inside the sandbox",
    );
    await agent.waitForUpdate("TASK_KILLED", "escaping-sibling");
    assert.ok(
      !agent.updates.some((u) => u.task_id.value === "escaping" && u.state === "TASK_RUNNING"),
      "the task never ran",
    );
  });
});
