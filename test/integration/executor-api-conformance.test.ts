/**
 * The v1 executor API as a third-party executor sees it, against a real
 * agent and master: the test itself plays the executor. The framework
 * launches a task with a custom executor whose command only sleeps (it never
 * subscribes); the test then speaks `POST /api/v1/executor` on its behalf
 * and checks statuses, messages and events against what Mesos answers.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { RecordIoDecoder } from "../../src/common/recordio/index.js";
import {
  findOfferResources,
  parseResourceText,
  SchedulerClient,
  type TaskStatus,
} from "../../src/scheduler/index.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import {
  type DaemonHandle,
  freePort,
  getJson,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
  waitForAgents,
} from "../harness/processes.js";

type Json = Record<string, unknown>;
const EXECUTOR = "puppet";

/** 16 random bytes of a version-4 UUID, base64 (as JSON carries bytes). */
function uuidBase64(): string {
  return Buffer.from(randomUUID().replace(/-/g, ""), "hex").toString("base64");
}

/** An executor event stream read as JSON. */
class Events {
  readonly events: Json[] = [];
  constructor(readonly response: Response) {
    void this.read();
  }
  private async read(): Promise<void> {
    const decoder = new RecordIoDecoder();
    try {
      for await (const chunk of this.response.body as unknown as AsyncIterable<Uint8Array>) {
        for (const record of decoder.decode(chunk)) {
          this.events.push(JSON.parse(record.toString()) as Json);
        }
      }
    } catch {
      // The stream was closed.
    }
  }
  next(type: string, from = 0): Promise<Json> {
    return waitFor(`executor event ${type}`, () =>
      this.events.slice(from).find((e) => e.type === type),
    );
  }
}

/**
 * Kills the puppet executor processes of the agent with work dir `workDir`:
 * the agent's graceful stop leaves checkpointed executors running.
 */
function killPuppets(workDir: string): void {
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`, "latin1").split("\0");
      const dir = env.find((v) => v.startsWith("MESOS_DIRECTORY="));
      if (env.includes(`MESOS_EXECUTOR_ID=${EXECUTOR}`) && dir?.includes(`=${workDir}/`)) {
        process.kill(Number(name), "SIGKILL");
      }
    } catch {
      // Gone already, or not ours to read.
    }
  }
}

/** What one test needs: a framework that launched task `task` under the puppet executor. */
interface Setup {
  client: SchedulerClient;
  frameworkId: string;
  statuses: TaskStatus[];
  messages: string[];
  agentId: { value: string };
}

async function launchPuppet(master: DaemonHandle, task: string, checkpoint = true): Promise<Setup> {
  const statuses: TaskStatus[] = [];
  const messages: string[] = [];
  let agentId = { value: "" };
  let launched = false;
  const client = new SchedulerClient({
    master: master.address,
    framework: { user: userInfo().username, name: "executor-api", checkpoint },
  });
  client.start({
    offers: (offers) => {
      for (const offer of offers) {
        if (launched) {
          void client.decline([offer.id]);
          continue;
        }
        launched = true;
        agentId = offer.agent_id;
        const wanted = parseResourceText("cpus:0.1;mem:32");
        assert.ok(wanted.ok);
        const resources = findOfferResources(offer, wanted.resources) ?? [];
        void client.launch(
          [offer.id],
          [
            {
              name: task,
              task_id: { value: task },
              agent_id: offer.agent_id,
              resources,
              executor: {
                executor_id: { value: EXECUTOR },
                command: { shell: true, value: "sleep 300" },
                resources: findOfferResources(offer, wanted.resources) ?? [],
              },
            },
          ],
        );
      }
    },
    update: (status) => statuses.push(status),
    message: (_agent, _executor, data) => messages.push(Buffer.from(data).toString()),
  });
  const frameworkId = await waitFor("the framework id", () => client.frameworkId?.value);
  await waitFor("the task to be launched", () => launched && agentId.value !== "");
  return { client, frameworkId, statuses, messages, agentId };
}

/** POSTs a JSON executor call (or raw body) to the agent. */
function post(agent: DaemonHandle, body: Json | Uint8Array, headers: Record<string, string> = {}) {
  const raw = body instanceof Uint8Array;
  return fetch(`${agent.url}/api/v1/executor`, {
    method: "POST",
    headers: raw ? headers : { "Content-Type": "application/json", ...headers },
    body: raw ? body : JSON.stringify(body),
  });
}

async function answer(response: Promise<Response>): Promise<[number, string]> {
  const r = await response;
  return [r.status, await r.text()];
}

function update(frameworkId: string, task: string, status: Json): Json {
  return {
    framework_id: { value: frameworkId },
    executor_id: { value: EXECUTOR },
    type: "UPDATE",
    update: {
      status: {
        task_id: { value: task },
        state: "TASK_RUNNING",
        source: "SOURCE_EXECUTOR",
        uuid: uuidBase64(),
        ...status,
      },
    },
  };
}

/**
 * A framework whose task `task` waits for the puppet executor, on an agent
 * that was SIGKILLed and restarted: the recovered executor has not
 * re-subscribed yet, so the agent is still recovering.
 */
async function recoveredPuppet(task: string) {
  const master = await startMaster();
  const port = await freePort();
  const workDir = tempDir("executor-api-recovery-");
  const flags = {
    work_dir: workDir,
    registration_backoff_factor: "10ms",
    executor_reregistration_timeout: "15secs",
    executor_shutdown_grace_period: "1secs",
  };
  const first = await startAgent({ master: master.address, port, flags });
  await waitForAgents(master, 1);
  const s = await launchPuppet(master, task);
  const ids = { framework_id: { value: s.frameworkId }, executor_id: { value: EXECUTOR } };
  // Checkpoints are written in the background: kill only once they are on disk.
  await waitFor("the framework, executor, task and pid checkpoints", () => {
    const meta = join(workDir, "meta");
    const files = existsSync(meta) ? readdirSync(meta, { recursive: true }).map(String) : [];
    return ["framework.info", "executor.info", "task.info", "forked.identity"].every((name) =>
      files.some((f) => f.endsWith(`/${name}`)),
    );
  });
  first.kill("SIGKILL");
  await first.exited;
  const agent = await startAgent({ master: master.address, port, flags });
  return { agent, s, ids, workDir };
}

describe("executor API conformance (the test plays a custom executor)", {
  timeout: 120_000,
}, () => {
  after(stopAll);

  it("answers calls, streams events and validates updates as Mesos does", async () => {
    // A master per test, so that a framework only ever sees the agent of its test.
    const { master, agent } = await startOneAgentCluster({
      registration_backoff_factor: "10ms",
      executor_shutdown_grace_period: "1secs",
    });
    const s = await launchPuppet(master, "t1");
    const ids = { framework_id: { value: s.frameworkId }, executor_id: { value: EXECUTOR } };
    const container = await waitFor("the executor in /state", async () => {
      const state = await getJson<{ frameworks?: { executors: Json[] }[] }>(`${agent.url}/state`);
      const executor = state?.frameworks
        ?.flatMap((f) => f.executors)
        .find((e) => e.id === EXECUTOR);
      return executor?.container as string | undefined;
    });
    try {
      // Before SUBSCRIBE.
      assert.deepEqual(await answer(post(agent, update(s.frameworkId, "t1", {}))), [
        403,
        "Executor is not subscribed",
      ]);
      assert.deepEqual(
        await answer(
          post(agent, {
            ...ids,
            executor_id: { value: "nope" },
            type: "MESSAGE",
            message: { data: "" },
          }),
        ),
        [400, "Executor cannot be found"],
      );
      assert.deepEqual(
        await answer(post(agent, { executor_id: { value: EXECUTOR }, type: "HEARTBEAT" })),
        [400, "Failed to convert JSON into Call protobuf: Missing required fields: framework_id"],
      );
      assert.deepEqual(
        await answer(
          post(agent, new Uint8Array([0x0a, 0x05, 0x01]), {
            "Content-Type": "application/x-protobuf",
          }),
        ),
        [400, "Failed to parse body into Call protobuf"],
      );
      assert.deepEqual(await answer(post(agent, new Uint8Array([0x7b, 0x7d]))), [
        400,
        "Expecting 'Content-Type' to be present",
      ]);
      assert.deepEqual(
        await answer(
          post(agent, { ...ids, type: "SUBSCRIBE", subscribe: {} }, { Accept: "text/html" }),
        ),
        [406, "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'"],
      );

      // SUBSCRIBE: a JSON RecordIO stream, SUBSCRIBED first, then the queued task.
      const response = await post(agent, { ...ids, type: "SUBSCRIBE", subscribe: {} });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "application/json");
      const events = new Events(response);
      const subscribed = (await events.next("SUBSCRIBED")).subscribed as Json;
      assert.equal(
        (subscribed.executor_info as Json & { executor_id: Json }).executor_id.value,
        EXECUTOR,
      );
      assert.equal(((subscribed.framework_info as Json).id as Json).value, s.frameworkId);
      assert.equal(((subscribed.agent_info as Json).id as Json).value, s.agentId.value);
      assert.deepEqual(subscribed.container_id, { value: container });
      const launch = (await events.next("LAUNCH")).launch as { task: { task_id: Json } };
      assert.deepEqual(launch.task.task_id, { value: "t1" });

      // UPDATE validation (Mesos' executor call rules), before anything is accepted.
      const invalid = async (status: Json, why: string) =>
        assert.deepEqual(await answer(post(agent, update(s.frameworkId, "t1", status))), [
          400,
          `Failed to validate Executor::Call: ${why}`,
        ]);
      await invalid({ uuid: undefined }, "Expecting 'uuid' to be present");
      await invalid({ uuid: Buffer.from("short").toString("base64") }, "Not a valid UUID");
      await invalid(
        { executor_id: { value: "other" } },
        `ExecutorID in Call: ${EXECUTOR} does not match ExecutorID in TaskStatus: other`,
      );
      await invalid(
        { source: "SOURCE_MASTER" },
        `Received Call from executor ${EXECUTOR} of framework ${s.frameworkId} with invalid source, expecting 'SOURCE_EXECUTOR'`,
      );
      await invalid(
        { state: "TASK_STAGING" },
        `Received TASK_STAGING from executor ${EXECUTOR} of framework ${s.frameworkId} which is not allowed`,
      );
      await invalid({ check_status: {} }, "CheckStatusInfo must specify 'type'");
      await invalid(
        { check_status: { type: "COMMAND" } },
        "Expecting 'command' to be set for COMMAND check's status",
      );
      await invalid(
        { check_status: { type: "TCP", http: {} } },
        "Expecting 'tcp' to be set for TCP check's status",
      );
      await invalid(
        { check_status: { type: "UNKNOWN" } },
        "'UNKNOWN' is not a valid check's status type",
      );
      // A status naming another agent is accepted but dropped, as Mesos does.
      const metrics = () => getJson<Record<string, number>>(`${agent.url}/metrics/snapshot`);
      const dropped = (await metrics())?.["slave/invalid_status_updates"] ?? 0;
      assert.deepEqual(
        await answer(
          post(agent, update(s.frameworkId, "t1", { agent_id: { value: "elsewhere" } })),
        ),
        [202, ""],
      );
      await waitFor("the dropped update in the metrics", async () => {
        const now = (await metrics())?.["slave/invalid_status_updates"];
        return now === dropped + 1;
      });
      assert.equal(s.statuses.length, 0, "no invalid update reached the framework");

      // UPDATE -> 202, the framework's acknowledgement -> ACKNOWLEDGED with the same uuid.
      const running = update(s.frameworkId, "t1", {
        check_status: { type: "COMMAND", command: {} },
      });
      assert.deepEqual(await answer(post(agent, running)), [202, ""]);
      const acked = (await events.next("ACKNOWLEDGED")).acknowledged as Json;
      assert.deepEqual(acked.task_id, { value: "t1" });
      assert.equal(acked.uuid, ((running.update as Json).status as Json).uuid);
      assert.equal(s.statuses[0]?.state, "TASK_RUNNING");

      // MESSAGE and HEARTBEAT -> 202; the message reaches the framework.
      const data = Buffer.from("hello framework").toString("base64");
      assert.deepEqual(await answer(post(agent, { ...ids, type: "MESSAGE", message: { data } })), [
        202,
        "",
      ]);
      await waitFor("the framework message", () => s.messages.includes("hello framework"));
      assert.deepEqual(await answer(post(agent, { ...ids, type: "HEARTBEAT" })), [202, ""]);
      assert.deepEqual(await answer(post(agent, { ...ids, type: "UNKNOWN" })), [501, ""]);

      // Framework -> executor: MESSAGE, KILL, SHUTDOWN events.
      await s.client.message(s.agentId, { value: EXECUTOR }, Buffer.from("hello executor"));
      const message = (await events.next("MESSAGE")).message as { data: string };
      assert.equal(Buffer.from(message.data, "base64").toString(), "hello executor");
      await s.client.kill({ value: "t1" }, s.agentId);
      assert.deepEqual(((await events.next("KILL")).kill as Json).task_id, { value: "t1" });
      await s.client.shutdown({ value: EXECUTOR }, s.agentId);
      await events.next("SHUTDOWN");
    } finally {
      s.client.close();
      killPuppets(agent.workDir);
    }
  });

  it("re-subscribing gets SUBSCRIBED before the ACKNOWLEDGED of re-sent updates; late updates of a completed task go to the framework", async () => {
    // No checkpointing: the agent acknowledges an update as soon as it has it.
    const { master, agent } = await startOneAgentCluster({
      registration_backoff_factor: "10ms",
      executor_shutdown_grace_period: "1secs",
    });
    const s = await launchPuppet(master, "d1", false);
    const ids = { framework_id: { value: s.frameworkId }, executor_id: { value: EXECUTOR } };
    // The framework's launch is on its way: the agent knows the executor only once it arrives.
    await waitFor("the executor in /state", async () => {
      const state = await getJson<{ frameworks?: { executors: Json[] }[] }>(`${agent.url}/state`);
      return state?.frameworks?.some((f) => f.executors.length > 0);
    });
    try {
      const drop = new AbortController();
      const first = await fetch(`${agent.url}/api/v1/executor`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ ...ids, type: "SUBSCRIBE", subscribe: {} }),
        signal: drop.signal,
      });
      assert.equal(first.status, 200);
      const launch = (await new Events(first).next("LAUNCH")).launch as { task: Json };
      // The connection drops before the executor heard back about its update.
      drop.abort();
      const pending = update(s.frameworkId, "d1", {});
      const again = await post(agent, {
        ...ids,
        type: "SUBSCRIBE",
        subscribe: {
          unacknowledged_tasks: [launch.task],
          unacknowledged_updates: [pending.update as Json],
        },
      });
      assert.equal(again.status, 200, again.status === 200 ? "" : await again.text());
      const events = new Events(again);
      const acked = (await events.next("ACKNOWLEDGED")).acknowledged as Json;
      assert.equal(acked.uuid, ((pending.update as Json).status as Json).uuid);
      assert.equal(events.events[0]?.type, "SUBSCRIBED", "SUBSCRIBED is the first event");
      await waitFor("the re-sent TASK_RUNNING at the framework", () =>
        s.statuses.some((u) => u.task_id.value === "d1" && u.state === "TASK_RUNNING"),
      );

      // Once its TASK_FINISHED is acknowledged the task is completed and no
      // longer the executor's: a late update for it goes to the framework as
      // one from an unknown executor would (Mesos does the same). Until the
      // framework's acknowledgement lands, such an update is refused quietly,
      // hence the retries.
      assert.deepEqual(
        await answer(post(agent, update(s.frameworkId, "d1", { state: "TASK_FINISHED" }))),
        [202, ""],
      );
      await waitFor(
        "a late TASK_RUNNING after TASK_FINISHED at the framework",
        async () => {
          const finished = s.statuses.findIndex((u) => u.state === "TASK_FINISHED");
          if (finished < 0) return false;
          if (s.statuses.slice(finished).some((u) => u.state === "TASK_RUNNING")) return true;
          await answer(post(agent, update(s.frameworkId, "d1", {})));
          return false;
        },
        { intervalMs: 200 },
      );
    } finally {
      s.client.close();
      killPuppets(agent.workDir);
    }
  });

  it("refuses UPDATE with 503 while recovering, takes re-subscriptions with unacknowledged work", async () => {
    const { agent, s, ids, workDir } = await recoveredPuppet("r1");
    try {
      // The recovered executor has not re-subscribed: the agent is still recovering.
      assert.deepEqual(await answer(post(agent, update(s.frameworkId, "r1", {}))), [
        503,
        "Agent has not finished recovery",
      ]);
      assert.deepEqual(await answer(post(agent, { ...ids, type: "HEARTBEAT" })), [202, ""]);

      // Re-subscribe, re-sending the task and an update the agent never saw.
      const pending = update(s.frameworkId, "r1", {});
      const response = await post(agent, {
        ...ids,
        type: "SUBSCRIBE",
        subscribe: {
          unacknowledged_tasks: [
            {
              name: "r1",
              task_id: { value: "r1" },
              agent_id: s.agentId,
              resources: [],
            },
          ],
          unacknowledged_updates: [pending.update as Json],
        },
      });
      assert.equal(response.status, 200);
      const events = new Events(response);
      await events.next("SUBSCRIBED");
      await waitFor("the re-sent TASK_RUNNING at the framework", () =>
        s.statuses.some((u) => u.task_id.value === "r1" && u.state === "TASK_RUNNING"),
      );
      const acked = (await events.next("ACKNOWLEDGED")).acknowledged as Json;
      assert.equal(acked.uuid, ((pending.update as Json).status as Json).uuid);
      // Recovery is over once the only executor is back: calls are served again.
      await waitFor("UPDATE to be accepted after recovery", async () => {
        const [status] = await answer(
          post(agent, update(s.frameworkId, "r1", { state: "TASK_FINISHED" })),
        );
        assert.notEqual(status, 403);
        return status === 202;
      });
      await waitFor("TASK_FINISHED at the framework", () =>
        s.statuses.some((u) => u.task_id.value === "r1" && u.state === "TASK_FINISHED"),
      );
      assert.ok(
        !s.statuses.some((u) => u.state === "TASK_LOST"),
        "a task the executor re-sent is not lost",
      );
    } finally {
      s.client.close();
      killPuppets(workDir);
    }
  });

  it("a STAGING task the re-subscribing executor does not know ends TASK_LOST", async () => {
    const { agent, s, ids, workDir } = await recoveredPuppet("r2");
    try {
      const response = await post(
        agent,
        { ...ids, type: "SUBSCRIBE", subscribe: {} },
        { Accept: "application/x-protobuf" },
      );
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "application/x-protobuf");
      void response.body?.cancel();
      const lost = await waitFor("TASK_LOST at the framework", () =>
        s.statuses.find((u) => u.task_id.value === "r2" && u.state === "TASK_LOST"),
      );
      assert.equal(lost.reason, "REASON_AGENT_RESTARTED");
      assert.equal(lost.message, "Task launched during agent restart");
      assert.equal(lost.source, "SOURCE_AGENT");
    } finally {
      s.client.close();
      killPuppets(workDir);
    }
  });
});
