/**
 * A custom executor written the way a user of the npm package
 * `mesos-framework` (0.5.3) writes one: its `Executor` class speaks the v1
 * executor API (JSON, RecordIO) to the agent named by MESOS_AGENT_ENDPOINT.
 * test/integration/third-party-js-executor.test.ts launches it as
 * `node dist/test/third-party/js/node-executor.js`.
 *
 * What it does, so the test can see every event arrive:
 * - LAUNCH: answers TASK_RUNNING and messages the scheduler `running <task>`;
 * - MESSAGE `finish <task>` from the scheduler: answers TASK_FINISHED;
 * - KILL: answers TASK_KILLED;
 * - SHUTDOWN: writes `shutdown` to stderr and exits once its updates are sent.
 * Everything it receives is logged to stderr (the sandbox's `stderr` file).
 *
 * Every handler is given: the library's built-in executor handlers are
 * unusable (lib/executor.js calls an undefined `schedulerHandlers`, so an
 * event without a custom handler only yields an `error`).
 *
 * The library's SUBSCRIBE call has no `subscribe` field, which every Mesos
 * agent since 0.26 refuses (400 "Expecting 'subscribe' to be present"). As
 * is, this executor therefore never subscribes. With
 * NODE_EXECUTOR_ADD_SUBSCRIBE=1 it adds the empty field to that one request
 * body before the library sends it, so the rest of the library can be used.
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import { Executor, type Value } from "mesos-framework";

const running = new Map<string, Value>();
let unsent = 0;
let shuttingDown = false;

/** `body` with an empty `subscribe` added when it is a SUBSCRIBE call without one. */
function withSubscribe(body: string): string {
  const call = JSON.parse(body) as Record<string, unknown>;
  return call.type === "SUBSCRIBE" && call.subscribe === undefined
    ? JSON.stringify({ ...call, subscribe: {} })
    : body;
}

if (process.env.NODE_EXECUTOR_ADD_SUBSCRIBE === "1") {
  const write = http.ClientRequest.prototype.write;
  http.ClientRequest.prototype.write = function (
    this: http.ClientRequest,
    chunk: unknown,
    ...rest: unknown[]
  ): boolean {
    const body =
      typeof chunk === "string" && this.path === "/api/v1/executor" ? withSubscribe(chunk) : chunk;
    return Reflect.apply(write, this, [body, ...rest]) as boolean;
  } as typeof write;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** The 16 bytes of a fresh UUID in base64: the agent wants `uuid` on every update, as Mesos does. */
function uuidBytes(): string {
  return Buffer.from(randomUUID().replaceAll("-", ""), "hex").toString("base64");
}

function send(executor: Executor, taskId: Value, state: string, message: string): void {
  unsent++;
  executor.update({
    task_id: taskId,
    state,
    message,
    source: "SOURCE_EXECUTOR",
    uuid: uuidBytes(),
  });
  if (state !== "TASK_RUNNING") running.delete(taskId.value);
}

function exitWhenSent(): void {
  if (shuttingDown && unsent === 0) {
    log("exiting");
    process.exit(0);
  }
}

const executor = new Executor({
  handlers: {
    SUBSCRIBED(subscribed) {
      log(`subscribed ${JSON.stringify(subscribed)}`);
    },
    LAUNCH(launch) {
      const taskId = launch.task.task_id;
      log(`launch ${taskId.value}`);
      running.set(taskId.value, taskId);
      send(this, taskId, "TASK_RUNNING", "started by node-executor");
      this.message(`running ${taskId.value}`);
    },
    KILL(kill) {
      log(`kill ${kill.task_id.value}`);
      send(this, kill.task_id, "TASK_KILLED", "killed by node-executor");
    },
    ACKNOWLEDGED(acknowledged) {
      log(`acknowledged ${acknowledged.task_id.value} ${acknowledged.uuid}`);
    },
    MESSAGE(message) {
      const text = Buffer.from(message.data, "base64").toString();
      log(`message ${text}`);
      const [verb, id = ""] = text.split(" ");
      const taskId = running.get(id);
      if (verb === "finish" && taskId !== undefined) {
        send(this, taskId, "TASK_FINISHED", "finished by node-executor");
      }
    },
    // The library registers a handler only if it declares exactly one parameter.
    SHUTDOWN(_shutdown) {
      log("shutdown");
      shuttingDown = true;
      for (const taskId of [...running.values()]) {
        send(this, taskId, "TASK_KILLED", "shut down");
      }
      exitWhenSent();
    },
    ERROR(error) {
      log(`error event ${error.message}`);
    },
  },
});

executor.on("sent_update", () => {
  unsent--;
  exitWhenSent();
});
executor.on("error", (error: unknown) => {
  const text = typeof error === "string" ? error : JSON.stringify(error);
  // The library does not reconnect: without its agent the executor is done.
  if (text.includes("Long-running connection was closed!")) {
    log("agent closed the connection");
    shuttingDown = true;
    exitWhenSent();
    return;
  }
  log(`library error ${text}`);
});
executor.subscribe();
