/**
 * A minimal custom executor for benchmarks, written with the executor
 * library and run from a single-file bundle (see `cluster.ts`):
 *
 * - LAUNCH: reports TASK_RUNNING at once (no process is started);
 * - KILL: reports TASK_KILLED; once no task is left and the agent has
 *   acknowledged every update, it exits;
 * - MESSAGE `rate <updates/s> <ms> <phase>`: sends TASK_RUNNING updates
 *   with the message `b <phase> <seq> <epoch ms>`, spread evenly over its
 *   tasks, at that rate for that long (the status update pipeline bench).
 */
import { systemClock } from "../../src/common/time/clock.js";
import { ExecutorClient } from "../../src/executor/library.js";
import { stderrLogger } from "../../src/executor/stderr-logger.js";

const client = ExecutorClient.fromEnvironment(process.env, {
  logger: stderrLogger(systemClock, "bench-executor.ts"),
});
const executorId = { value: client.environment.executorId };
const tasks: string[] = [];
let seq = 0;
let killed = false;

function send(taskId: string, state: "TASK_RUNNING" | "TASK_KILLED", message?: string): void {
  client.update({
    task_id: { value: taskId },
    state,
    source: "SOURCE_EXECUTOR",
    executor_id: executorId,
    ...(message === undefined ? {} : { message }),
  });
}

/** Sends `rate` updates per second for `ms`, in 10 ms ticks, round robin over the tasks. */
function generate(rate: number, ms: number, phase: string): void {
  const start = performance.now();
  let sent = 0;
  const tick = setInterval(() => {
    const elapsed = Math.min(performance.now() - start, ms);
    const due = Math.floor((elapsed * rate) / 1000);
    for (; sent < due && tasks.length > 0; sent++) {
      const taskId = tasks[seq % tasks.length] as string;
      seq++;
      send(
        taskId,
        "TASK_RUNNING",
        `b ${phase} ${seq} ${performance.timeOrigin + performance.now()}`,
      );
    }
    if (elapsed >= ms) clearInterval(tick);
  }, 10);
}

function exitSoon(): void {
  client.stop();
  setTimeout(() => process.exit(0), 50);
}

client.start({
  launch: (task) => {
    tasks.push(task.task_id.value);
    send(task.task_id.value, "TASK_RUNNING");
  },
  kill: (taskId) => {
    const at = tasks.indexOf(taskId.value);
    if (at >= 0) tasks.splice(at, 1);
    send(taskId.value, "TASK_KILLED");
    killed = true;
  },
  acknowledged: () => {
    // Leave once every task is killed and every update is with the agent.
    if (killed && tasks.length === 0 && client.unacknowledgedUpdates().length === 0) exitSoon();
  },
  message: (data) => {
    const [word, rate, ms, phase] = data.toString("utf8").split(" ");
    if (word === "rate") generate(Number(rate), Number(ms), phase ?? "-");
  },
  shutdown: () => {
    for (const taskId of tasks.splice(0)) send(taskId, "TASK_KILLED");
    setTimeout(exitSoon, 200);
  },
});
