/**
 * The real default executor process against the fake agent (no nested
 * containers, so tasks run as the executor's child processes): a task's
 * SECRET variables reach its environment, resolved as the agent's
 * environment_secret isolator would, and a secret that cannot be resolved
 * fails the task with a message instead of starting it without the variable.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { TaskInfo } from "../../src/executor/protocol.js";
import { FakeAgent } from "../harness/fake-agent.js";
import { type LaunchedExecutor, startExecutor } from "../harness/fake-agent-launch.js";

const MAIN = fileURLToPath(new URL("../../src/executor/default-executor-main.js", import.meta.url));
const base64 = (text: string) => Buffer.from(text).toString("base64");

function task(id: string, command: TaskInfo["command"]): TaskInfo {
  return {
    name: id,
    task_id: { value: id },
    agent_id: { value: "fake-agent-S0" },
    resources: [{ name: "cpus" }],
    ...(command !== undefined ? { command } : {}),
  };
}

describe("default executor: SECRET variables of tasks run as child processes", () => {
  let agent: FakeAgent;
  const launched: LaunchedExecutor[] = [];
  let n = 0;

  const start = async () => {
    const executorId = `secrets-${++n}`;
    const ex = await startExecutor(agent, launched, executorId, {
      entry: MAIN,
      args: ["--launcher_dir=/nonexistent"],
    });
    return { ex, executorId };
  };

  before(async () => {
    agent = await FakeAgent.start();
  });
  after(async () => {
    for (const ex of launched) await ex.cleanup();
    await agent.stop();
  });

  it("a VALUE secret is in the task's environment; the command's plain variable of the same name wins", async () => {
    const { ex, executorId } = await start();
    agent.send(
      {
        type: "LAUNCH_GROUP",
        launch_group: {
          task_group: {
            tasks: [
              task("with-secret", {
                value: 'echo "token=$TOKEN shadow=$SHADOW"',
                environment: {
                  variables: [
                    {
                      name: "TOKEN",
                      type: "SECRET",
                      secret: { type: "VALUE", value: { data: base64("s3cr3t value") } },
                    },
                    {
                      name: "SHADOW",
                      type: "SECRET",
                      secret: { type: "VALUE", value: { data: base64("hidden") } },
                    },
                    { name: "SHADOW", value: "plain" },
                  ],
                },
              }),
            ],
          },
        },
      },
      executorId,
    );
    await agent.waitForUpdate("TASK_FINISHED", "with-secret");
    const stdout = readFileSync(join(ex.sandbox, "tasks", "with-secret", "stdout"), "utf8");
    assert.equal(stdout, "token=s3cr3t value shadow=plain\n");
  });

  it("a REFERENCE secret fails its task (and so its group) with the resolver's reason", async () => {
    const { executorId } = await start();
    agent.send(
      {
        type: "LAUNCH_GROUP",
        launch_group: {
          task_group: {
            tasks: [
              task("ref-secret", {
                value: "echo started > started",
                environment: {
                  variables: [
                    {
                      name: "TOKEN",
                      type: "SECRET",
                      secret: { type: "REFERENCE", reference: { name: "/vault/token" } },
                    },
                  ],
                },
              }),
              task("ref-sibling", { value: "sleep 100" }),
            ],
          },
        },
      },
      executorId,
    );
    const failed = await agent.waitForUpdate("TASK_FAILED", "ref-secret");
    assert.equal(
      failed.message,
      "Failed to launch task 'ref-secret': Failed to resolve the secret of environment variable 'TOKEN': Default secret resolver cannot resolve references",
    );
    await agent.waitForUpdate("TASK_KILLED", "ref-sibling");
    assert.ok(
      !agent.updates.some((u) => u.task_id.value === "ref-secret" && u.state === "TASK_RUNNING"),
      "the task never ran",
    );
  });
});
