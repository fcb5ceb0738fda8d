/**
 * Frameworks written with the scheduler library against a real master, a
 * real agent and real command executors on loopback.
 */
import assert from "node:assert/strict";
import { userInfo } from "node:os";
import { after, before, test } from "node:test";
import { Resources } from "../../src/common/resources/index.js";
import type { Resource as CommonResource } from "../../src/common/resources/types.js";
import type { Offer, TaskInfo, TaskStatus } from "../../src/scheduler/index.js";
import {
  type ContentType,
  offerResources,
  SchedulerClient,
  type SchedulerClientOptions,
} from "../../src/scheduler/index.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, getJson, stopAll, waitFor } from "../harness/processes.js";
import { commandTaskFitting } from "../harness/queued-tasks.js";

let master: DaemonHandle;
const clients: SchedulerClient[] = [];

before(async () => {
  ({ master } = await startOneAgentCluster({
    resources: "cpus:8;mem:8192;disk:4096;ports:[31000-32000]",
  }));
});

after(async () => {
  await Promise.all(
    clients.map(async (c) => {
      if (c.state === "subscribed") await c.teardown();
      c.close();
    }),
  );
  await stopAll();
});

function client(name: string, options: Partial<SchedulerClientOptions> = {}): SchedulerClient {
  const c = new SchedulerClient({
    master: master.address,
    framework: { user: userInfo().username, name },
    ...options,
  });
  clients.push(c);
  return c;
}

/** Status updates by task, with waits on them. */
class Updates {
  readonly byTask = new Map<string, TaskStatus[]>();
  private wake: (() => void)[] = [];

  record = (status: TaskStatus): void => {
    const list = this.byTask.get(status.task_id.value) ?? [];
    list.push(status);
    this.byTask.set(status.task_id.value, list);
    for (const w of this.wake.splice(0)) w();
  };

  states(taskId: string): string[] {
    return (this.byTask.get(taskId) ?? []).map((s) => s.state);
  }

  async until(what: string, predicate: () => boolean, timeoutMs = 60_000): Promise<void> {
    await waitFor(what, () => predicate(), { timeoutMs, intervalMs: 20 });
  }
}

test("cluster: 200 tasks through one framework all finish", async () => {
  const total = 200;
  const updates = new Updates();
  const c = client("two hundred");
  let next = 0;
  const finished = new Set<string>();
  const failures: string[] = [];
  c.start({
    offers: (offers) => {
      for (const offer of offers) {
        // Launch in waves of at most 25: executor start-up is CPU-bound on small machines.
        const tasks: TaskInfo[] = [];
        let remaining: Offer = offer;
        while (next < total && tasks.length < 25) {
          const task = commandTaskFitting(remaining, `t${next}`, "true", "cpus:0.01;mem:16");
          if (task === undefined) break;
          tasks.push(task);
          next++;
          remaining = { ...remaining, resources: subtract(remaining, task) };
        }
        void (tasks.length > 0 ? c.launch([offer.id], tasks) : c.decline([offer.id]));
      }
    },
    update: (status) => {
      updates.record(status);
      if (status.state === "TASK_FINISHED") finished.add(status.task_id.value);
      else if (["TASK_FAILED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED"].includes(status.state)) {
        failures.push(`task ${status.task_id.value} ended ${status.state}: ${status.message}`);
      }
    },
  });
  await updates.until(
    `${total} tasks to end`,
    () => finished.size + failures.length === total,
    240_000,
  );
  assert.deepEqual(failures, []);
  assert.equal(finished.size, total);
  await c.teardown();
});

/** What is left of `offer` once `task` took its resources. */
function subtract(offer: Offer, task: TaskInfo): Offer["resources"] {
  const used = Resources.from((task.resources ?? []) as CommonResource[]);
  return offerResources(offer).minus(used).toArray() as Offer["resources"];
}

test("cluster: two frameworks run tasks side by side on one agent", async () => {
  const a = new Updates();
  const b = new Updates();
  const launchOne = (c: SchedulerClient, id: string) => {
    let launched = false;
    return (offers: Offer[]) => {
      for (const offer of offers) {
        const task = launched
          ? undefined
          : commandTaskFitting(offer, id, "sleep 60", "cpus:0.5;mem:64");
        if (task === undefined) {
          void c.decline([offer.id], { refuse_seconds: 1 });
          continue;
        }
        launched = true;
        void c.launch([offer.id], [task]);
      }
    };
  };
  const ca = client("framework A");
  const cb = client("framework B");
  ca.start({ offers: launchOne(ca, "a-task"), update: a.record });
  cb.start({ offers: launchOne(cb, "b-task"), update: b.record });
  await a.until("a-task running", () => a.states("a-task").includes("TASK_RUNNING"));
  await b.until("b-task running", () => b.states("b-task").includes("TASK_RUNNING"));
  const agentOf = (u: Updates, id: string) => u.byTask.get(id)?.at(-1)?.agent_id?.value;
  assert.equal(agentOf(a, "a-task"), agentOf(b, "b-task"));
  assert.notEqual(ca.frameworkId?.value, cb.frameworkId?.value);

  interface State {
    frameworks?: { id: string; tasks?: { id: string; state: string; slave_id: string }[] }[];
  }
  const state = await getJson<State>(`${master.url}/master/state`);
  const running = (state?.frameworks ?? []).flatMap((f) =>
    (f.tasks ?? []).filter((t) => t.state === "TASK_RUNNING").map((t) => `${f.id}/${t.id}`),
  );
  assert.ok(running.includes(`${ca.frameworkId?.value}/a-task`), JSON.stringify(running));
  assert.ok(running.includes(`${cb.frameworkId?.value}/b-task`), JSON.stringify(running));

  // Tearing a framework down kills its tasks.
  await ca.teardown();
  await cb.kill({ value: "b-task" });
  await b.until("b-task killed", () => b.states("b-task").includes("TASK_KILLED"));
  await cb.teardown();
});

for (const contentType of ["json", "protobuf"] as ContentType[]) {
  test(`cluster: a ${contentType} subscription runs a task to TASK_FINISHED`, async () => {
    const updates = new Updates();
    const c = client(`${contentType} framework`, { contentType });
    let launched = false;
    c.start({
      offers: (offers) => {
        for (const offer of offers) {
          const task = launched
            ? undefined
            : commandTaskFitting(offer, "t", "true", "cpus:0.1;mem:32");
          if (task === undefined) void c.decline([offer.id]);
          else {
            launched = true;
            void c.launch([offer.id], [task]);
          }
        }
      },
      update: updates.record,
    });
    await updates.until("TASK_FINISHED", () => updates.states("t").includes("TASK_FINISHED"));
    assert.equal(c.contentType, contentType);
    await c.teardown();
  });
}

test("cluster: a status update is re-sent until it is acknowledged, and the next waits for it", async () => {
  const updates = new Updates();
  const c = client("withholding acknowledgements", { autoAcknowledge: false });
  let launched = false;
  c.start({
    offers: (offers) => {
      for (const offer of offers) {
        const task = launched
          ? undefined
          : commandTaskFitting(offer, "slow-ack", "true", "cpus:0.1;mem:32");
        if (task === undefined) void c.decline([offer.id]);
        else {
          launched = true;
          void c.launch([offer.id], [task]);
        }
      }
    },
    update: updates.record,
  });
  await updates.until("a first update", () => updates.states("slow-ack").length >= 1);
  // The agent retries after 10 s (Mesos' STATUS_UPDATE_RETRY_INTERVAL_MIN).
  await updates.until(
    "the same update again",
    () => updates.states("slow-ack").length >= 2,
    40_000,
  );
  const [first, second] = updates.byTask.get("slow-ack") ?? [];
  assert.equal(second?.state, first?.state, "no later update overtakes an unacknowledged one");
  assert.deepEqual(Buffer.from(second?.uuid ?? []), Buffer.from(first?.uuid ?? []));
  // Acknowledge everything from now on: the stream moves on to the end.
  const acked = new Set<string>();
  await updates.until(
    "TASK_FINISHED once acknowledged",
    () => {
      for (const s of updates.byTask.get("slow-ack") ?? []) {
        const key = Buffer.from(s.uuid ?? []).toString("hex");
        if (!acked.has(key)) {
          acked.add(key);
          void c.acknowledge(s);
        }
      }
      return updates.states("slow-ack").includes("TASK_FINISHED");
    },
    40_000,
  );
  await c.teardown();
});

test("cluster: a new client takes over a framework by its id (failover) and reconciles its task", async () => {
  const updates = new Updates();
  const first = client("failing over", {
    framework: { user: userInfo().username, name: "failing over", failover_timeout: 60 },
  });
  let launched = false;
  first.start({
    offers: (offers) => {
      for (const offer of offers) {
        const task = launched
          ? undefined
          : commandTaskFitting(offer, "survivor", "sleep 60", "cpus:0.1;mem:32");
        if (task === undefined) void first.decline([offer.id]);
        else {
          launched = true;
          void first.launch([offer.id], [task]);
        }
      }
    },
    update: updates.record,
  });
  await updates.until("survivor running", () =>
    updates.states("survivor").includes("TASK_RUNNING"),
  );
  const frameworkId = first.frameworkId;
  assert.ok(frameworkId !== undefined);
  first.close("simulated scheduler crash");

  const reconciled = new Updates();
  const second = client("failing over", {
    framework: {
      user: userInfo().username,
      name: "failing over",
      failover_timeout: 60,
      id: frameworkId,
    },
  });
  second.start({
    subscribed: () => void second.reconcile([{ task_id: { value: "survivor" } }]),
    update: reconciled.record,
  });
  await reconciled.until("reconciliation answer", () =>
    reconciled.states("survivor").includes("TASK_RUNNING"),
  );
  assert.equal(second.frameworkId?.value, frameworkId.value);
  const answer = reconciled.byTask.get("survivor")?.find((s) => s.state === "TASK_RUNNING");
  assert.equal(answer?.reason, "REASON_RECONCILIATION");
  await second.kill({ value: "survivor" });
  await reconciled.until("survivor killed", () =>
    reconciled.states("survivor").includes("TASK_KILLED"),
  );
  await second.teardown();
});
