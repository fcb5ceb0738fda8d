/**
 * The custom executor of the test framework (test-framework.ts), written
 * with mesos-ts' executor library: for every task it is given it reports
 * TASK_RUNNING, "does the work", and reports TASK_FINISHED. The agent starts
 * it with the MESOS_* environment the library reads.
 */
import { systemClock } from "../src/common/time/clock.js";
import { ExecutorClient } from "../src/executor/library.js";
import { stderrLogger } from "../src/executor/stderr-logger.js";

// Log lines go to the sandbox's stderr file.
const client = ExecutorClient.fromEnvironment(process.env, {
  logger: stderrLogger(systemClock, "test-executor.ts"),
});
const executorId = { value: client.environment.executorId };

client.start({
  subscribed: (info) => {
    console.log(`Registered executor on ${info.agent_info.hostname}`);
  },
  launch: (task) => {
    console.log(`Starting task ${task.task_id.value}`);
    // The agent takes updates only from their executor, marked as such.
    client.update({
      task_id: task.task_id,
      state: "TASK_RUNNING",
      source: "SOURCE_EXECUTOR",
      executor_id: executorId,
    });
    // This is where one would perform the requested task.
    console.log(`Finishing task ${task.task_id.value}`);
    client.update({
      task_id: task.task_id,
      state: "TASK_FINISHED",
      source: "SOURCE_EXECUTOR",
      executor_id: executorId,
    });
  },
  kill: (taskId) => {
    client.update({
      task_id: taskId,
      state: "TASK_KILLED",
      source: "SOURCE_EXECUTOR",
      executor_id: executorId,
    });
  },
  shutdown: () => {
    client.stop();
    process.exit(0);
  },
});
