/**
 * A custom executor written with the executor library, run as its own
 * process against the fake agent. The same file is the executor: with
 * MESOS_TEST_RUN_CUSTOM_EXECUTOR=1 it runs the executor instead of tests.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ExecutorClient } from "../../src/executor/library.js";
import type { IdValue, TaskStatus } from "../../src/executor/protocol.js";
import { FakeAgent } from "../harness/fake-agent.js";
import { launchExecutor } from "../harness/fake-agent-launch.js";

/** The example from docs/executor-library.md: every task says hello and finishes. */
async function helloExecutor(): Promise<void> {
  const client = ExecutorClient.fromEnvironment();
  const finished = new Set<string>();
  const done = (status: TaskStatus | undefined) =>
    status?.state === "TASK_FINISHED" && finished.add(status.task_id.value);
  const send = (taskId: IdValue, state: TaskStatus["state"]) =>
    client.update({ task_id: taskId, state, source: "SOURCE_EXECUTOR" });

  client.start({
    launch: (task) => {
      send(task.task_id, "TASK_RUNNING");
      client.message(`hello from ${task.task_id.value}`);
      send(task.task_id, "TASK_FINISHED");
    },
    acknowledged: (_taskId, _uuid, update) => {
      done(update);
      // Leave once everything we said has been acknowledged.
      if (finished.size > 0 && client.unacknowledgedUpdates().length === 0) client.stop();
    },
    shutdown: () => client.stop(),
  });
  for await (const event of client.events()) {
    process.stderr.write(`event ${event.type}\n`);
  }
}

if (process.env.MESOS_TEST_RUN_CUSTOM_EXECUTOR === "1") {
  await helloExecutor();
} else {
  const { describe, it } = await import("node:test");
  describe("custom executor on the executor library", () => {
    it("subscribes, runs a task, messages the scheduler, and exits when all is acknowledged", async () => {
      const agent = await FakeAgent.start();
      const ex = launchExecutor(agent, {
        entry: fileURLToPath(import.meta.url),
        env: { MESOS_TEST_RUN_CUSTOM_EXECUTOR: "1" },
      });
      try {
        await agent.waitForSubscribe();
        agent.launch({ name: "hi", task_id: { value: "hi" }, agent_id: { value: "S0" } });
        await agent.waitForUpdate("TASK_FINISHED", "hi");
        assert.deepEqual(
          agent.updates.map((u) => u.state),
          ["TASK_RUNNING", "TASK_FINISHED"],
        );
        assert.deepEqual(
          agent.messages.map((m) => Buffer.from(m, "base64").toString()),
          ["hello from hi"],
        );
        assert.deepEqual(await ex.exited, { code: 0, signal: null });
        assert.match(ex.stderr(), /event SUBSCRIBED\nevent LAUNCH\n/);
      } finally {
        await ex.cleanup();
        await agent.stop();
      }
    });
  });
}
