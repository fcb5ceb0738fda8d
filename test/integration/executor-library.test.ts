/**
 * The executor client library in this process, against the fake agent over
 * real HTTP: subscription, events, ordered calls, acknowledgements,
 * recovery with and without checkpointing, shutdown deadline.
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { MesosError } from "../../src/common/errors/mesos-error.js";
import type { ExecutorEnvironment } from "../../src/executor/executor-environment.js";
import {
  ExecutorClient,
  type ExecutorClientOptions,
  type ExecutorHandlers,
} from "../../src/executor/library.js";
import type { ExecutorEvent, TaskInfo } from "../../src/executor/protocol.js";
import { FakeAgent } from "../harness/fake-agent.js";

const task = (id: string): TaskInfo => ({
  name: id,
  task_id: { value: id },
  agent_id: { value: "fake-agent-S0" },
  command: { value: "true" },
});

function environment(agent: FakeAgent, extra: Partial<ExecutorEnvironment> = {}) {
  const [host, port] = agent.endpoint.split(":");
  return {
    frameworkId: agent.frameworkId,
    executorId: "lib-executor",
    agent: { host: host ?? "", port: Number(port), path: "/api/v1/executor" },
    checkpoint: false,
    shutdownGracePeriodMs: 5000,
    local: false,
    ...extra,
  } satisfies ExecutorEnvironment;
}

describe("executor library", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(
    envExtra: Partial<ExecutorEnvironment> = {},
    options: ExecutorClientOptions = {},
    handlers: ExecutorHandlers = {},
  ) {
    const agent = await FakeAgent.start();
    cleanups.push(() => agent.stop());
    const client = new ExecutorClient(environment(agent, envExtra), {
      onShutdownDeadline: null,
      ...options,
    });
    cleanups.push(() => client.stop());
    const seen: ExecutorEvent[] = [];
    client.start({ ...handlers, event: (e) => seen.push(e) });
    await agent.waitForSubscribe();
    await agent.waitFor("SUBSCRIBED at the client", () =>
      seen.some((e) => e.type === "SUBSCRIBED"),
    );
    return { agent, client, seen };
  }

  it("subscribes and delivers events to callbacks and the async iterator alike", async () => {
    const launched: string[] = [];
    const { agent, client } = await setup(
      {},
      {},
      { launch: (t) => launched.push(t.task_id.value) },
    );
    assert.equal(client.state, "subscribed");
    assert.equal(client.subscribedInfo?.agent_info.hostname, "localhost");
    const events = client.events();
    agent.launch(task("a"));
    agent.send({ type: "MESSAGE", message: { data: Buffer.from("hi").toString("base64") } });
    const first = await events.next();
    assert.equal(first.value?.type, "LAUNCH");
    const second = await events.next();
    assert.equal(second.value?.type, "MESSAGE");
    assert.deepEqual(launched, ["a"]);
    client.stop();
    assert.deepEqual(await events.next(), { value: undefined, done: true });
  });

  it("update() sends the status with a fresh uuid and keeps it until ACKNOWLEDGED", async () => {
    const acked: (string | undefined)[] = [];
    const { agent, client } = await setup(
      {},
      {},
      { acknowledged: (_t, _u, update) => acked.push(update?.state) },
    );
    agent.autoAcknowledge = false;
    agent.launch(task("t"));
    await agent.waitFor("the launch", () => client.unacknowledgedTasks().length === 1);
    const uuid = client.update({ task_id: { value: "t" }, state: "TASK_RUNNING" });
    const received = await agent.waitForUpdate("TASK_RUNNING");
    assert.equal(received.uuid, uuid);
    assert.equal(Buffer.from(uuid, "base64").length, 16);
    assert.equal(client.unacknowledgedUpdates().length, 1);
    agent.acknowledge(received);
    await agent.waitFor("the ack", () => acked.length === 1);
    assert.deepEqual(acked, ["TASK_RUNNING"]);
    assert.deepEqual(client.unacknowledgedUpdates(), []);
    assert.deepEqual(client.unacknowledgedTasks(), [], "an acked update acknowledges its task");
  });

  it("calls reach the agent in the order they were made", async () => {
    const { agent, client } = await setup();
    for (let i = 0; i < 30; i++) {
      client.update({ task_id: { value: `t${i}` }, state: "TASK_RUNNING" });
      if (i % 10 === 0) client.message(`m${i}`);
    }
    await agent.waitFor("30 updates", () => agent.updates.length === 30);
    assert.deepEqual(
      agent.updates.map((u) => u.task_id.value),
      Array.from({ length: 30 }, (_, i) => `t${i}`),
    );
    assert.deepEqual(
      agent.messages.map((m) => Buffer.from(m, "base64").toString()),
      ["m0", "m10", "m20"],
    );
  });

  it("with checkpointing, a lost connection is retried and unacknowledged work is re-sent", async () => {
    const disconnects: [string, boolean][] = [];
    const { agent, client } = await setup(
      { checkpoint: true, recoveryTimeoutMs: 5000, subscriptionBackoffMaxMs: 50 },
      {},
      { disconnected: (reason, retry) => disconnects.push([reason, retry]) },
    );
    agent.autoAcknowledge = false;
    agent.launch(task("t"));
    await agent.waitFor("the launch", () => client.unacknowledgedTasks().length === 1);
    const uuid = client.update({ task_id: { value: "t" }, state: "TASK_STARTING" });
    await agent.waitForUpdate("TASK_STARTING");
    agent.dropConnections();
    const again = await agent.waitForSubscribe(2);
    assert.deepEqual(
      again.call.subscribe.unacknowledged_updates?.map((u) => u.status.uuid),
      [uuid],
    );
    assert.deepEqual(
      again.call.subscribe.unacknowledged_tasks?.map((t) => t.task_id.value),
      ["t"],
    );
    assert.equal(disconnects.length, 1);
    assert.equal(disconnects[0]?.[1], true);
    await agent.waitFor("re-subscribed", () => client.state === "subscribed");
  });

  it("without checkpointing, a lost connection becomes a SHUTDOWN event and no retry", async () => {
    const disconnects: boolean[] = [];
    let shutdowns = 0;
    const { agent, client } = await setup(
      {},
      {},
      { disconnected: (_r, retry) => disconnects.push(retry), shutdown: () => shutdowns++ },
    );
    agent.dropConnections();
    await agent.waitFor("the injected SHUTDOWN", () => shutdowns === 1);
    assert.deepEqual(disconnects, [false]);
    assert.equal(client.state, "shutdown");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(agent.subscribes.length, 1, "no re-subscription");
    // Updates made now are kept, not sent.
    client.update({ task_id: { value: "t" }, state: "TASK_KILLED" });
    assert.equal(client.unacknowledgedUpdates().length, 1);
  });

  it("with checkpointing, recovery gives up after MESOS_RECOVERY_TIMEOUT", async () => {
    let shutdowns = 0;
    const { agent, client } = await setup(
      { checkpoint: true, recoveryTimeoutMs: 300, subscriptionBackoffMaxMs: 20 },
      {},
      { shutdown: () => shutdowns++ },
    );
    await agent.stop();
    await agent.waitFor("the injected SHUTDOWN", () => shutdowns === 1, 5000);
    assert.equal(client.state, "shutdown");
  });

  it("a SUBSCRIBE answered 503 is retried; an unexpected status becomes an ERROR event", async () => {
    const agent = await FakeAgent.start();
    cleanups.push(() => agent.stop());
    agent.rejectSubscribes = { count: 2, status: 503 };
    const errors: string[] = [];
    const client = new ExecutorClient(environment(agent), {
      onShutdownDeadline: null,
      subscribeRetryIntervalMs: 20,
    });
    cleanups.push(() => client.stop());
    client.start({ error: (m) => errors.push(m) });
    await agent.waitForSubscribe();
    assert.deepEqual(errors, []);

    const other = await FakeAgent.start();
    cleanups.push(() => other.stop());
    other.rejectSubscribes = { count: 1, status: 401 };
    const client2 = new ExecutorClient(environment(other), {
      onShutdownDeadline: null,
      subscribeRetryIntervalMs: 20,
    });
    cleanups.push(() => client2.stop());
    const errors2: string[] = [];
    client2.start({ error: (m) => errors2.push(m) });
    await other.waitForSubscribe();
    assert.deepEqual(errors2, [
      "Received unexpected '401 Unauthorized' (Agent is recovering) for SUBSCRIBE",
    ]);
  });

  it("a call answered with an unexpected status becomes an ERROR event with the agent's reason", async () => {
    const errors: string[] = [];
    const { agent, client } = await setup({}, {}, { error: (m) => errors.push(m) });
    agent.rejectMessage = { status: 400, reason: "Message too large" };
    client.message("hello");
    await agent.waitFor("the refusal", () => agent.rejectedCalls.length === 1);
    await agent.waitFor("the ERROR event", () => errors.length === 1);
    assert.deepEqual(errors, [
      "Received unexpected '400 Bad Request' (Message too large) for MESSAGE",
    ]);
  });

  it("an UPDATE answered 503 (the agent finishing its recovery) is sent again, in order with later updates", async () => {
    const { agent, client } = await setup();
    agent.rejectUpdates = 2;
    const first = client.update({ task_id: { value: "t" }, state: "TASK_FINISHED" });
    await agent.waitFor("two refusals", () => agent.rejectedCalls.length === 2);
    const second = client.update({ task_id: { value: "u" }, state: "TASK_RUNNING" });
    await agent.waitFor("both updates", () => agent.updates.length === 2);
    assert.deepEqual(
      agent.updates.map((u) => u.uuid),
      [first, second],
    );
    assert.deepEqual(
      agent.rejectedCalls.map((c) => c.status),
      [503, 503],
    );
  });

  it("a SHUTDOWN event arms the shutdown deadline of the grace period", async () => {
    let deadline = 0;
    let shutdowns = 0;
    const { agent } = await setup(
      { shutdownGracePeriodMs: 100 },
      { onShutdownDeadline: () => deadline++ },
      { shutdown: () => shutdowns++ },
    );
    agent.shutdown();
    await agent.waitFor("the deadline", () => deadline === 1, 5000);
    assert.equal(shutdowns, 1);
  });

  it("sends HEARTBEAT calls while subscribed", async () => {
    const { agent } = await setup({}, { heartbeatIntervalMs: 30 });
    await agent.waitFor("two heartbeats", () => agent.heartbeats.length >= 2);
  });

  it("a throwing handler is logged and does not stop event delivery", async () => {
    const errors: string[] = [];
    const launched: string[] = [];
    const { agent } = await setup(
      {},
      {
        logger: {
          info: () => {},
          warn: () => {},
          verbose: () => {},
          error: (m) => errors.push(m),
        },
      },
      {
        launch: (t) => {
          launched.push(t.task_id.value);
          if (t.task_id.value === "boom") throw new Error("handler bug");
        },
      },
    );
    agent.launch(task("boom"));
    agent.launch(task("next"));
    await agent.waitFor("both launches", () => launched.length === 2);
    assert.match(errors[0] ?? "", /handler 'launch' threw: Error: handler bug/);
  });

  it("fromEnvironment reads MESOS_* variables, refuses incomplete ones and hides the token", () => {
    assert.throws(
      () => ExecutorClient.fromEnvironment({ MESOS_EXECUTOR_ID: "e" }),
      (e: unknown) => e instanceof MesosError && /MESOS_FRAMEWORK_ID/.test(e.message),
    );
    process.env.MESOS_EXECUTOR_AUTHENTICATION_TOKEN = "secret";
    const client = ExecutorClient.fromEnvironment({
      MESOS_FRAMEWORK_ID: "f",
      MESOS_EXECUTOR_ID: "e",
      MESOS_AGENT_ENDPOINT: "127.0.0.1:5051",
      MESOS_EXECUTOR_AUTHENTICATION_TOKEN: "secret",
    });
    assert.equal(client.environment.authenticationToken, "secret");
    assert.equal(process.env.MESOS_EXECUTOR_AUTHENTICATION_TOKEN, undefined);
    client.stop();
  });
});
