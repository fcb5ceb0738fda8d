/**
 * The custom executor of the test framework (test-framework.ts), written
 * with mesos-ts' executor library: for every task it is given it reports
 * TASK_RUNNING, "does the work", and reports TASK_FINISHED. The agent starts
 * it with the MESOS_* environment the library reads.
 */
import { ExecutorClient } from "../src/executor/library.js";

const client = ExecutorClient.fromEnvironment();

client.start({
  subscribed: (info) => {
    console.log(`Registered executor on ${info.agent_info.hostname}`);
  },
  launch: (task) => {
    console.log(`Starting task ${task.task_id.value}`);
    client.update({ task_id: task.task_id, state: "TASK_RUNNING" });
    // This is where one would perform the requested task.
    console.log(`Finishing task ${task.task_id.value}`);
    client.update({ task_id: task.task_id, state: "TASK_FINISHED" });
  },
  kill: (taskId) => {
    client.update({ task_id: taskId, state: "TASK_KILLED" });
  },
  shutdown: () => {
    client.stop();
    process.exit(0);
  },
});
