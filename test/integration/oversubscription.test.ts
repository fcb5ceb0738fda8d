/**
 * Oversubscription end to end (docs/oversubscription.md): a real agent with
 * the built-in fixed resource estimator and load QoS controller, a real
 * master, and v1 schedulers. Revocable resources reach only frameworks with
 * REVOCABLE_RESOURCES; a QoS correction kills revocable executors with
 * REASON_CONTAINER_PREEMPTED.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { CgroupsHierarchy } from "../../src/agent/containerizer/cgroups/hierarchy.js";
import type { Offer, TaskStatus } from "../../src/common/protocol/generated/mesos-v1.js";
import type { Event } from "../../src/common/protocol/generated/mesos-v1-scheduler.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import {
  type DaemonHandle,
  freePort,
  getJson,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitForAgents,
  waitLong,
} from "../harness/processes.js";
import { isolationSkipReason, removeRootCgroups } from "./containerizer-helpers.js";
import { FakeAgent, type Subscription, subscribe, subscribeCall } from "./master-clients.js";

after(stopAll);

const ESTIMATOR = "org_apache_mesos_FixedResourceEstimator";
const QOS = "org_apache_mesos_LoadQoSController";

function modules(...entries: { name: string; parameters: { key: string; value: string }[] }[]) {
  return JSON.stringify({ libraries: [{ file: "/nonexistent/lib.so", modules: entries }] });
}

type Resource = NonNullable<Offer["resources"]>[number];

function scalar(name: string, value: number, isRevocable: boolean): Resource {
  return {
    name,
    type: "SCALAR",
    scalar: { value },
    ...(isRevocable ? { revocable: {} } : {}),
  } as Resource;
}

async function framework(master: DaemonHandle, capabilities: string[]): Promise<Subscription> {
  const sub = await subscribe(
    master.url,
    subscribeCall(`os-${capabilities.join("-") || "plain"}`, {
      capabilities: capabilities.map((type) => ({ type })),
    }),
  );
  sub.autoAcknowledge = true;
  await sub.nth("SUBSCRIBED");
  return sub;
}

/** Offers answered (accepted or declined) by the test, per stream. */
const answered = new Set<string>();

/**
 * The framework's outstanding offers (neither rescinded nor answered), as
 * one: the agent's regular and revocable resources may come in separate
 * offers (the estimate arrives after the agent registered).
 */
function outstanding(sub: Subscription): { ids: Offer["id"][]; resources: Resource[] } {
  const rescinded = new Set(
    sub.events.filter((x) => x.type === "RESCIND").map((x) => x.rescind?.offer_id.value),
  );
  const out: { ids: Offer["id"][]; resources: Resource[] } = { ids: [], resources: [] };
  for (const e of sub.events) {
    for (const o of e.offers?.offers ?? []) {
      if (rescinded.has(o.id.value) || answered.has(o.id.value)) continue;
      out.ids.push(o.id);
      out.resources.push(...(o.resources ?? []));
    }
  }
  return out;
}

const revocableOf = (resources: Resource[]) => resources.filter((r) => r.revocable !== undefined);
const sum = (resources: Resource[], name: string) =>
  resources.filter((r) => r.name === name).reduce((n, r) => n + (r.scalar?.value ?? 0), 0);

/** Waits until the outstanding offers satisfy `want`. */
function offersWith(
  sub: Subscription,
  want: (resources: Resource[]) => boolean,
  what: string,
): Promise<{ ids: Offer["id"][]; resources: Resource[] }> {
  return waitLong(what, () => {
    const current = outstanding(sub);
    return current.ids.length > 0 && want(current.resources) ? current : undefined;
  });
}

async function launch(
  sub: Subscription,
  offers: { ids: Offer["id"][] },
  agentId: string,
  taskId: string,
  cpus: Resource,
) {
  for (const id of offers.ids) answered.add(id.value);
  const response = await sub.call({
    type: "ACCEPT",
    accept: {
      offer_ids: offers.ids,
      operations: [
        {
          type: "LAUNCH",
          launch: {
            task_infos: [
              {
                name: taskId,
                task_id: { value: taskId },
                agent_id: { value: agentId },
                resources: [cpus, scalar("mem", 32, false)],
                command: { value: "sleep 1000" },
              },
            ],
          },
        },
      ],
      filters: { refuse_seconds: 1 },
    },
  });
  assert.equal(response.status, 202, response.body);
}

/** The first update of `taskId` in `state` or a terminal one (which must then be `state`). */
async function statusOf(sub: Subscription, taskId: string, state: string): Promise<TaskStatus> {
  const terminal = ["TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR"];
  const event = await sub.next(
    (e: Event) =>
      e.update?.status.task_id.value === taskId &&
      (e.update.status.state === state || terminal.includes(e.update.status.state)),
    `${state} for ${taskId}`,
    60_000,
  );
  const status = event.update?.status as TaskStatus;
  assert.equal(status.state, state, JSON.stringify(status));
  return status;
}

async function metric(agent: DaemonHandle, name: string): Promise<number | undefined> {
  const m = await getJson<Record<string, number>>(`${agent.url}/metrics/snapshot`);
  return m?.[name];
}

describe("fixed resource estimator", () => {
  let master: DaemonHandle;
  let agent: DaemonHandle;
  before(async () => {
    ({ master, agent } = await startOneAgentCluster({
      resource_estimator: ESTIMATOR,
      modules: modules({ name: ESTIMATOR, parameters: [{ key: "resources", value: "cpus:3" }] }),
      oversubscribed_resources_interval: "1secs",
    }));
  });

  test("only REVOCABLE_RESOURCES frameworks are offered the estimate; tasks on it count as revocable", async () => {
    const [agentId = ""] = await waitForAgents(master, 1);
    const revocableFw = await framework(master, ["REVOCABLE_RESOURCES"]);
    const offers = await offersWith(
      revocableFw,
      (rs) => sum(revocableOf(rs), "cpus") > 0 && sum(rs, "mem") > 0,
      "offers with revocable cpus and regular mem",
    );
    assert.deepEqual(
      revocableOf(offers.resources).map((r) => [r.name, r.scalar?.value]),
      [["cpus", 3]],
    );
    // Regular cpus come too.
    assert.equal(sum(offers.resources, "cpus"), 2 + 3);

    await launch(revocableFw, offers, agentId, "rev-1", scalar("cpus", 0.5, true));
    await statusOf(revocableFw, "rev-1", "TASK_RUNNING");
    // A framework without the capability gets offers, never with revocable resources.
    const plain = await framework(master, []);
    const plainOffers = await offersWith(plain, () => true, "an offer to the plain framework");
    assert.deepEqual(revocableOf(plainOffers.resources), []);
    for (const id of plainOffers.ids) answered.add(id.value);
    await plain.call({
      type: "DECLINE",
      decline: { offer_ids: plainOffers.ids, filters: { refuse_seconds: 3600 } },
    });

    await waitLong("revocable metrics", async () => {
      const total = await metric(agent, "slave/cpus_revocable_total");
      const used = await metric(agent, "slave/cpus_revocable_used");
      return total === 3 && used === 0.5 ? true : undefined;
    });
    assert.equal(await metric(agent, "slave/cpus_revocable_percent"), 0.5 / 3);
    // Regular cpus in use: only the command executor's allowance (0.1, as Mesos: not revocable).
    assert.equal(await metric(agent, "slave/cpus_used"), 0.1);
    // The held revocable cpus are not offered again: the rest of the estimate is.
    const next = await offersWith(
      revocableFw,
      (rs) => sum(revocableOf(rs), "cpus") > 0,
      "a later offer with the rest of the revocable cpus",
    );
    assert.equal(sum(revocableOf(next.resources), "cpus"), 2.5);
    // The executor is in /monitor/statistics with its cpus as its limit.
    const stats = await waitLong("monitor statistics of rev-1", async () => {
      const all = await getJson<{ executor_id: string; statistics: { cpus_limit?: number } }[]>(
        `${agent.url}/monitor/statistics`,
      );
      return all?.find((s) => s.executor_id === "rev-1");
    });
    assert.equal(stats.statistics.cpus_limit, 0.6);
    revocableFw.close();
    plain.close();
  });
});

/**
 * Launches revocable tasks until one is preempted once running. A correction
 * that comes while the container is still being launched ends the task as a
 * failed launch instead (as in Mesos): then another task goes.
 */
const TERMINAL = [
  "TASK_FINISHED",
  "TASK_FAILED",
  "TASK_KILLED",
  "TASK_LOST",
  "TASK_ERROR",
  "TASK_DROPPED",
  "TASK_GONE",
];

async function preempt(
  sub: Subscription,
  agentId: string,
  prefix: string,
  state: string,
  group = false,
): Promise<TaskStatus[]> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    const taskId = `${prefix}-${attempt}`;
    const offers = await offersWith(
      sub,
      (rs) => sum(revocableOf(rs), "cpus") >= 1 && sum(rs, "mem") >= 64,
      `an offer with revocable cpus for ${taskId}`,
    );
    const ids = group ? [`${taskId}-a`, `${taskId}-b`] : [taskId];
    if (group) await launchGroup(sub, offers, agentId, taskId, ids);
    else await launch(sub, offers, agentId, taskId, scalar("cpus", 0.5, true));
    const statuses: TaskStatus[] = [];
    for (const id of ids) {
      const event = await sub.next(
        (e: Event) =>
          e.update?.status.task_id.value === id && TERMINAL.includes(e.update.status.state),
        `${state} for ${id}`,
        60_000,
      );
      statuses.push(event.update?.status as TaskStatus);
    }
    if (statuses.every((s) => s.state === state)) return statuses;
    for (const status of statuses) {
      if (status.state !== state) {
        assert.equal(status.reason, "REASON_CONTAINER_LAUNCH_FAILED", JSON.stringify(status));
      }
    }
  }
  assert.fail(`no revocable executor of ${prefix} was preempted once running`);
}

/** LAUNCH_GROUP of `ids` (sleeping tasks) with the default executor, all on revocable cpus. */
async function launchGroup(
  sub: Subscription,
  offers: { ids: Offer["id"][] },
  agentId: string,
  executorId: string,
  ids: string[],
) {
  for (const id of offers.ids) answered.add(id.value);
  const response = await sub.call({
    type: "ACCEPT",
    accept: {
      offer_ids: offers.ids,
      operations: [
        {
          type: "LAUNCH_GROUP",
          launch_group: {
            executor: {
              type: "DEFAULT",
              executor_id: { value: executorId },
              framework_id: { value: sub.frameworkId },
              resources: [
                scalar("cpus", 0.1, true),
                scalar("mem", 32, false),
                scalar("disk", 10, false),
              ],
            },
            task_group: {
              tasks: ids.map((id) => ({
                name: id,
                task_id: { value: id },
                agent_id: { value: agentId },
                resources: [scalar("cpus", 0.2, true), scalar("mem", 16, false)],
                command: { value: "sleep 1000" },
              })),
            },
          },
        },
      ],
      filters: { refuse_seconds: 1 },
    },
  });
  assert.equal(response.status, 202, response.body);
}

describe("load QoS controller", () => {
  let master: DaemonHandle;
  let agent: DaemonHandle;
  before(async () => {
    ({ master, agent } = await startOneAgentCluster({
      resource_estimator: ESTIMATOR,
      qos_controller: QOS,
      // A threshold below any load average: the agent is always overloaded.
      modules: modules(
        { name: ESTIMATOR, parameters: [{ key: "resources", value: "cpus:2" }] },
        { name: QOS, parameters: [{ key: "load_threshold_5min", value: "-1" }] },
      ),
      oversubscribed_resources_interval: "1secs",
      qos_correction_interval_min: "2secs",
    }));
  });

  test("revocable executors are preempted (TASK_LOST / TASK_GONE, REASON_CONTAINER_PREEMPTED); regular ones stay", async () => {
    const [agentId = ""] = await waitForAgents(master, 1);
    const fw = await framework(master, ["REVOCABLE_RESOURCES"]);
    const regular = (rs: Resource[]) => sum(rs, "cpus") - sum(revocableOf(rs), "cpus");
    // One regular task first: the controller leaves it alone.
    const first = await offersWith(
      fw,
      (rs) => regular(rs) > 0 && sum(rs, "mem") > 0,
      "an offer with regular cpus",
    );
    await launch(fw, first, agentId, "regular", scalar("cpus", 0.1, false));
    await statusOf(fw, "regular", "TASK_RUNNING");
    const [lost] = (await preempt(fw, agentId, "preempted", "TASK_LOST")) as [TaskStatus];
    assert.equal(lost.reason, "REASON_CONTAINER_PREEMPTED");
    assert.equal(lost.source, "SOURCE_AGENT");
    assert.equal(lost.message, "Container preempted by QoS correction");
    assert.ok(((await metric(agent, "slave/executors_preempted")) ?? 0) >= 1);

    // PARTITION_AWARE frameworks hear TASK_GONE instead (the first framework
    // keeps its regular task and steps aside).
    fw.autoDecline = true;
    const held = outstanding(fw).ids;
    if (held.length > 0) {
      await fw.call({
        type: "DECLINE",
        decline: { offer_ids: held, filters: { refuse_seconds: 3600 } },
      });
    }
    const aware = await framework(master, ["REVOCABLE_RESOURCES", "PARTITION_AWARE"]);
    const [gone] = (await preempt(aware, agentId, "gone", "TASK_GONE")) as [TaskStatus];
    assert.equal(gone.reason, "REASON_CONTAINER_PREEMPTED");
    // A task group's default executor is preempted whole: every task ends so.
    const group = await preempt(aware, agentId, "group", "TASK_GONE", true);
    for (const status of group) {
      assert.equal(status.reason, "REASON_CONTAINER_PREEMPTED", JSON.stringify(status));
      assert.equal(status.source, "SOURCE_AGENT");
    }

    const tasks = await getJson<{ tasks: { id: string; state: string }[] }>(
      `${master.url}/master/tasks`,
    );
    assert.equal(tasks?.tasks.find((t) => t.id === "regular")?.state, "TASK_RUNNING");
    aware.close();
    fw.close();
  });
});

test("master: a changed estimate replaces the agent's revocable resources and rescinds only offers holding them", async () => {
  const master = await startMaster();
  const agent = await FakeAgent.start(master.address);
  try {
    const agentId = await agent.register([scalar("cpus", 2, false), scalar("mem", 256, false)]);
    const update = (cpus: number) =>
      agent.send("mesos.internal.UpdateSlaveMessage", {
        slave_id: { value: agentId },
        update_oversubscribed_resources: true,
        oversubscribed_resources: cpus === 0 ? [] : [scalar("cpus", cpus, true)],
      });
    update(3);
    // Two frameworks: one holds the regular offer, the other the revocable one.
    const plain = await framework(master, []);
    const plainOffer = await offersWith(plain, (rs) => sum(rs, "cpus") === 2, "the regular offer");
    const fw = await framework(master, ["REVOCABLE_RESOURCES"]);
    const revocableOffer = await offersWith(
      fw,
      (rs) => sum(revocableOf(rs), "cpus") === 3,
      "the revocable offer",
    );
    update(1);
    await fw.next(
      (e: Event) => e.rescind?.offer_id.value === revocableOffer.ids[0]?.value,
      "the revocable offer rescinded",
    );
    await offersWith(
      fw,
      (rs) => sum(revocableOf(rs), "cpus") === 1,
      "an offer with the new estimate",
    );
    const state = await getJson<{ slaves: { resources: Record<string, unknown> }[] }>(
      `${master.url}/master/state`,
    );
    assert.equal(state?.slaves[0]?.resources.cpus_revocable, 1);
    assert.equal(state?.slaves[0]?.resources.cpus, 2);
    // Regular and revocable resources have gauges of their own, as Mesos.
    const metrics = await getJson<Record<string, number>>(`${master.url}/metrics/snapshot`);
    assert.equal(metrics?.["master/cpus_total"], 2);
    assert.equal(metrics?.["master/cpus_revocable_total"], 1);
    // The regular offer was left alone.
    assert.ok(
      !plain.events.some((e) => e.rescind?.offer_id.value === plainOffer.ids[0]?.value),
      "the offer without revocable resources was rescinded",
    );
    // An estimate of nothing leaves no revocable resources.
    update(0);
    await waitLong("no revocable cpus on the master", async () => {
      const doc = await getJson<{ slaves: { resources: Record<string, unknown> }[] }>(
        `${master.url}/master/state`,
      );
      return doc?.slaves[0]?.resources.cpus_revocable === undefined ? true : undefined;
    });
    plain.close();
    fw.close();
  } finally {
    await agent.stop();
  }
});

test("master: an estimate from another process, or with resources that are not the agent's revocable ones, changes nothing", async () => {
  const master = await startMaster();
  const agent = await FakeAgent.start(master.address);
  const other = await FakeAgent.start(master.address);
  try {
    const agentId = await agent.register([scalar("cpus", 2, false), scalar("mem", 256, false)]);
    const metrics = () => getJson<Record<string, number>>(`${master.url}/metrics/snapshot`);
    const handled = (n: number) =>
      waitLong(`${n} UpdateSlaveMessage(s) handled`, async () =>
        (await metrics())?.["master/messages_update_slave"] === n ? true : undefined,
      );
    const slave = async () => {
      const doc = await getJson<{ slaves: { resources: Record<string, unknown> }[] }>(
        `${master.url}/master/state`,
      );
      return doc?.slaves[0]?.resources ?? {};
    };
    // Another process naming the agent's id.
    other.send("mesos.internal.UpdateSlaveMessage", {
      slave_id: { value: agentId },
      update_oversubscribed_resources: true,
      oversubscribed_resources: [scalar("cpus", 50, true)],
    });
    await handled(1);
    assert.equal((await slave()).cpus_revocable, undefined);
    // The agent itself, with a regular resource, an allocated one and invalid
    // amounts among its revocable ones: only the valid revocable cpus count.
    agent.send("mesos.internal.UpdateSlaveMessage", {
      slave_id: { value: agentId },
      update_oversubscribed_resources: true,
      oversubscribed_resources: [
        scalar("cpus", 1.5, true),
        scalar("cpus", 100, false),
        { ...scalar("mem", 64, true), allocation_info: { role: "*" } } as Resource,
        scalar("mem", -64, true),
        scalar("disk", Number.NaN, true),
      ],
    });
    await handled(2);
    const resources = await slave();
    assert.equal(resources.cpus, 2);
    assert.equal(resources.cpus_revocable, 1.5);
    assert.equal(resources.mem_revocable, undefined);
    assert.equal(resources.disk_revocable, undefined);
    const m = await metrics();
    assert.equal(m?.["master/cpus_total"], 2);
    assert.equal(m?.["master/cpus_revocable_total"], 1.5);
    assert.equal(m?.["master/mem_revocable_total"], 0);
    // A later estimate replaces the revocable cpus; the regular ones stay as registered.
    agent.send("mesos.internal.UpdateSlaveMessage", {
      slave_id: { value: agentId },
      update_oversubscribed_resources: true,
      oversubscribed_resources: [scalar("cpus", 1, true)],
    });
    await handled(3);
    assert.deepEqual([(await slave()).cpus, (await slave()).cpus_revocable], [2, 1]);
  } finally {
    await other.stop();
    await agent.stop();
  }
});

test("master metrics: master/<r>_used counts regular resources only, the allocator's totals count revocable ones too (as Mesos)", async () => {
  const master = await startMaster();
  const agent = await FakeAgent.start(master.address);
  try {
    const ports = {
      name: "ports",
      type: "RANGES",
      ranges: { range: [{ begin: 31000, end: 31009 }] },
    } as Resource;
    const agentId = await agent.register([
      scalar("cpus", 2, false),
      scalar("mem", 256, false),
      ports,
    ]);
    agent.send("mesos.internal.UpdateSlaveMessage", {
      slave_id: { value: agentId },
      update_oversubscribed_resources: true,
      oversubscribed_resources: [scalar("cpus", 3, true)],
    });
    const fw = await framework(master, ["REVOCABLE_RESOURCES"]);
    const offers = await offersWith(
      fw,
      (rs) => sum(revocableOf(rs), "cpus") === 3 && sum(rs, "cpus") === 5,
      "the agent's regular and revocable cpus offered",
    );
    const held = await getJson<Record<string, number>>(`${master.url}/metrics/snapshot`);
    assert.equal(held?.["allocator/mesos/resources/cpus/total"], 5);
    assert.equal(held?.["allocator/mesos/resources/cpus/offered_or_allocated"], 5);
    // A task on revocable cpus with a port (its resources are not all scalars).
    for (const id of offers.ids) answered.add(id.value);
    const response = await fw.call({
      type: "ACCEPT",
      accept: {
        offer_ids: offers.ids,
        operations: [
          {
            type: "LAUNCH",
            launch: {
              task_infos: [
                {
                  name: "with-port",
                  task_id: { value: "with-port" },
                  agent_id: { value: agentId },
                  resources: [
                    scalar("cpus", 1, true),
                    scalar("mem", 32, false),
                    { ...ports, ranges: { range: [{ begin: 31000, end: 31000 }] } },
                  ],
                  command: { value: "sleep 1000" },
                },
              ],
            },
          },
        ],
        filters: { refuse_seconds: 3600 },
      },
    });
    assert.equal(response.status, 202, response.body);
    await waitLong("the task sent to the agent", () =>
      agent.received.some((r) => r.type === "mesos.internal.RunTaskMessage") ? true : undefined,
    );
    // The rest of the offer is declined for an hour: only the task holds cpus.
    const m = await waitLong("the task's resources in use", async () => {
      const snap = await getJson<Record<string, number>>(`${master.url}/metrics/snapshot`);
      return snap?.["master/mem_used"] === 32 &&
        snap["allocator/mesos/resources/cpus/offered_or_allocated"] === 1
        ? snap
        : undefined;
    });
    assert.equal(m["master/cpus_used"], 0);
    assert.equal(m["master/cpus_revocable_used"], 1);
    assert.equal(m["allocator/mesos/resources/cpus/total"], 5);
    fw.close();
  } finally {
    await agent.stop();
  }
});

test("master: an estimate below what revocable tasks hold offers no revocable resources until they end, then only the estimate", async () => {
  const master = await startMaster();
  const agent = await FakeAgent.start(master.address);
  try {
    const agentId = await agent.register([scalar("cpus", 2, false), scalar("mem", 256, false)]);
    let updates = 0;
    const update = async (cpus: number) => {
      agent.send("mesos.internal.UpdateSlaveMessage", {
        slave_id: { value: agentId },
        update_oversubscribed_resources: true,
        oversubscribed_resources: [scalar("cpus", cpus, true)],
      });
      updates++;
      await waitLong(`estimate ${cpus} handled`, async () => {
        const m = await getJson<Record<string, number>>(`${master.url}/metrics/snapshot`);
        return m?.["master/messages_update_slave"] === updates ? true : undefined;
      });
    };
    await update(3);
    const fw = await framework(master, ["REVOCABLE_RESOURCES"]);
    const first = await offersWith(
      fw,
      (rs) => sum(revocableOf(rs), "cpus") === 3 && sum(rs, "mem") > 0,
      "the estimate offered",
    );
    await launch(fw, first, agentId, "big", scalar("cpus", 2.5, true));
    await waitLong("the task sent to the agent", () =>
      agent.received.some((r) => r.type === "mesos.internal.RunTaskMessage") ? true : undefined,
    );
    // Offers made from now on: declined at once so that the next one shows
    // everything the allocator has free on the agent.
    const offersFrom = (start: number) =>
      fw.events.slice(start).flatMap((e) => e.offers?.offers ?? []);
    const declineAll = async () => {
      const { ids } = outstanding(fw);
      for (const id of ids) answered.add(id.value);
      if (ids.length > 0) {
        await fw.call({
          type: "DECLINE",
          decline: { offer_ids: ids, filters: { refuse_seconds: 0 } },
        });
      }
    };
    await update(1);
    await declineAll();
    let start = fw.events.length;
    const shrunk = await waitLong("an offer after the estimate shrank", async () => {
      const offers = offersFrom(start);
      if (offers.length === 0) return undefined;
      return offers.flatMap((o) => o.resources ?? []);
    });
    assert.equal(sum(revocableOf(shrunk), "cpus"), 0, JSON.stringify(shrunk));
    const metrics = await getJson<Record<string, number>>(`${master.url}/metrics/snapshot`);
    assert.equal(metrics?.["master/cpus_revocable_total"], 1);
    assert.equal(metrics?.["master/cpus_revocable_used"], 2.5);
    // The task ends: what is free is the estimate, not the estimate plus what the task held.
    const uuid = new Uint8Array(16).fill(7);
    await declineAll();
    start = fw.events.length;
    agent.send("mesos.internal.StatusUpdateMessage", {
      update: {
        framework_id: { value: fw.frameworkId },
        slave_id: { value: agentId },
        status: {
          task_id: { value: "big" },
          state: "TASK_FINISHED",
          source: "SOURCE_EXECUTOR",
          uuid,
        },
        timestamp: Date.now() / 1000,
        uuid,
        latest_state: "TASK_FINISHED",
      },
      pid: agent.pid,
    });
    const freed = await waitLong("revocable cpus offered after the task ended", async () => {
      const resources = offersFrom(start).flatMap((o) => o.resources ?? []);
      return sum(revocableOf(resources), "cpus") > 0 ? resources : undefined;
    });
    assert.equal(sum(revocableOf(freed), "cpus"), 1);
    const after = await getJson<Record<string, number>>(`${master.url}/metrics/snapshot`);
    assert.equal(after?.["master/cpus_revocable_used"], 0);
    assert.equal(after?.["allocator/mesos/resources/cpus/total"], 3);
    fw.close();
  } finally {
    await agent.stop();
  }
});

test("master failover: the re-registered agent's revocable task and estimate are back on the new master", async () => {
  const port = await freePort();
  const masterOptions = {
    port,
    env: { MESOS_TS_TESTING_SHORT_TIMEOUTS: "1" },
    flags: {
      registry: "replicated_log",
      work_dir: tempDir("os-master-"),
      allocation_interval: "100ms",
    },
  };
  let master = await startMaster(masterOptions);
  const agent = await startAgent({
    master: master.address,
    flags: {
      registration_backoff_factor: "100ms",
      resource_estimator: ESTIMATOR,
      modules: modules({ name: ESTIMATOR, parameters: [{ key: "resources", value: "cpus:3" }] }),
      oversubscribed_resources_interval: "1secs",
    },
  });
  const [agentId = ""] = await waitForAgents(master, 1);
  const fw = await framework(master, ["REVOCABLE_RESOURCES"]);
  const offers = await offersWith(
    fw,
    (rs) => sum(revocableOf(rs), "cpus") > 0 && sum(rs, "mem") > 0,
    "offers with revocable cpus",
  );
  await launch(fw, offers, agentId, "survivor", scalar("cpus", 0.5, true));
  await statusOf(fw, "survivor", "TASK_RUNNING");
  // The framework stays subscribed (closing would tear it down with its
  // task); its stream ends with the master.
  await master.stop();
  fw.close();
  master = await startMaster(masterOptions);
  const metrics = await waitLong("the agent's revocable resources on the new master", async () => {
    const m = await getJson<Record<string, number>>(`${master.url}/metrics/snapshot`);
    return m?.["master/cpus_revocable_total"] === 3 ? m : undefined;
  });
  assert.equal(metrics["master/cpus_revocable_used"], 0.5);
  assert.equal(metrics["master/cpus_total"], 2);
  const tasks = await getJson<{ tasks: { id: string; state: string }[] }>(
    `${master.url}/master/tasks`,
  );
  assert.equal(tasks?.tasks.find((t) => t.id === "survivor")?.state, "TASK_RUNNING");
  // What is left of the estimate is offered again.
  const again = await framework(master, ["REVOCABLE_RESOURCES"]);
  const rest = await offersWith(
    again,
    (rs) => sum(revocableOf(rs), "cpus") > 0,
    "the rest of the estimate offered by the new master",
  );
  assert.equal(sum(revocableOf(rest.resources), "cpus"), 2.5);
  assert.equal((await metric(agent, "slave/cpus_revocable_used")) ?? 0, 0.5);
  again.close();
});

test("agent restart: the recovered revocable task keeps its part of the estimate; the master gets the same total again", async () => {
  const master = await startMaster();
  const port = await freePort();
  const flags = {
    work_dir: tempDir("os-agent-restart-"),
    registration_backoff_factor: "100ms",
    resource_estimator: ESTIMATOR,
    modules: modules({ name: ESTIMATOR, parameters: [{ key: "resources", value: "cpus:3" }] }),
    oversubscribed_resources_interval: "1secs",
  };
  const first = await startAgent({ master: master.address, port, flags });
  const [agentId = ""] = await waitForAgents(master, 1);
  const sub = await subscribe(
    master.url,
    subscribeCall("os-restart", {
      capabilities: [{ type: "REVOCABLE_RESOURCES" }],
      checkpoint: true,
    }),
  );
  sub.autoAcknowledge = true;
  await sub.nth("SUBSCRIBED");
  const offers = await offersWith(
    sub,
    (rs) => sum(revocableOf(rs), "cpus") > 0 && sum(rs, "mem") > 0,
    "offers with revocable cpus",
  );
  await launch(sub, offers, agentId, "recovered", scalar("cpus", 0.5, true));
  await statusOf(sub, "recovered", "TASK_RUNNING");
  first.kill("SIGKILL");
  await first.exited;
  const agent = await startAgent({ master: master.address, port, flags });
  await waitLong("the recovered task's revocable cpus on the restarted agent", async () =>
    (await metric(agent, "slave/cpus_revocable_used")) === 0.5 &&
    (await metric(agent, "slave/cpus_revocable_total")) === 3
      ? true
      : undefined,
  );
  // The re-registration leaves the agent's regular resources only; its
  // estimate comes right after.
  const m = await waitLong("the agent's estimate on the master after the restart", async () => {
    const doc = await getJson<{ slaves: { reregistered_time?: number }[] }>(
      `${master.url}/master/slaves`,
    );
    if (doc?.slaves[0]?.reregistered_time === undefined) return undefined;
    const snap = await getJson<Record<string, number>>(`${master.url}/metrics/snapshot`);
    return snap?.["master/cpus_revocable_total"] === 3 ? snap : undefined;
  });
  assert.equal(m["master/cpus_revocable_used"], 0.5);
  assert.equal(m["master/cpus_total"], 2);
  const tasks = await getJson<{ tasks: { id: string; state: string }[] }>(
    `${master.url}/master/tasks`,
  );
  assert.equal(tasks?.tasks.find((t) => t.id === "recovered")?.state, "TASK_RUNNING");
  // The rest of the estimate is offered, never the part the task holds.
  const rest = await offersWith(
    sub,
    (rs) => sum(revocableOf(rs), "cpus") > 0,
    "the rest of the estimate offered after the restart",
  );
  assert.equal(sum(revocableOf(rest.resources), "cpus"), 2.5);
  sub.close();
});

const cgroupSkip = isolationSkipReason(["cpu"]);

describe("revocable cpus at low priority (cgroups/cpu)", { skip: cgroupSkip }, () => {
  const root = `mesos-test-os-${process.pid}`;
  let master: DaemonHandle;
  let agent: DaemonHandle;
  let cgroups: CgroupsHierarchy;
  before(async () => {
    cgroups = CgroupsHierarchy.detect("/sys/fs/cgroup", root) as CgroupsHierarchy;
    ({ master, agent } = await startOneAgentCluster({
      isolation: "cgroups/cpu",
      cgroups_root: root,
      resource_estimator: ESTIMATOR,
      modules: modules({ name: ESTIMATOR, parameters: [{ key: "resources", value: "cpus:2" }] }),
      oversubscribed_resources_interval: "1secs",
    }));
  });
  after(async () => {
    await stopAll();
    removeRootCgroups(cgroups);
  });

  test("a container with revocable cpus gets 10 shares per cpu, a regular one 1024", async () => {
    const [agentId = ""] = await waitForAgents(master, 1);
    const fw = await framework(master, ["REVOCABLE_RESOURCES"]);
    const regularCpus = (rs: Resource[]) => sum(rs, "cpus") - sum(revocableOf(rs), "cpus");
    const first = await offersWith(
      fw,
      (rs) => regularCpus(rs) > 0 && sum(revocableOf(rs), "cpus") > 0 && sum(rs, "mem") >= 64,
      "offers with regular and revocable cpus",
    );
    await launch(fw, first, agentId, "low", scalar("cpus", 0.5, true));
    await statusOf(fw, "low", "TASK_RUNNING");
    const second = await offersWith(
      fw,
      (rs) => regularCpus(rs) > 0 && sum(rs, "mem") > 0,
      "an offer with regular cpus",
    );
    await launch(fw, second, agentId, "normal", scalar("cpus", 0.5, false));
    await statusOf(fw, "normal", "TASK_RUNNING");
    const executors = await waitLong("both executors in the agent's /state", async () => {
      const doc = await getJson<{
        frameworks?: { executors?: { id: string; container: string }[] }[];
      }>(`${agent.url}/state`);
      const all = (doc?.frameworks ?? []).flatMap((f) => f.executors ?? []);
      return all.length >= 2 ? all : undefined;
    });
    const control = (id: string, file: string) => {
      const container = executors.find((e) => e.id === id)?.container ?? "";
      return readFileSync(`${cgroups.path("cpu", container)}/${file}`, "utf8").trim();
    };
    // The command executor's regular 0.1 cpus count too (0.6 cpus), as in Mesos.
    if (cgroups.version === 1) {
      assert.equal(control("low", "cpu.shares"), "6");
      assert.equal(control("normal", "cpu.shares"), String(Math.floor(1024 * 0.6)));
    } else {
      assert.equal(control("low", "cpu.weight"), "1");
      assert.notEqual(control("normal", "cpu.weight"), "1");
    }
    fw.close();
  });
});

test("an estimator or controller the agent cannot create stops the agent at start", async () => {
  const master = await startMaster();
  const cases: [Record<string, string>, RegExp][] = [
    [
      { resource_estimator: ESTIMATOR },
      /Failed to create resource estimator: module 'org_apache_mesos_FixedResourceEstimator' is not listed in --modules or --modules_dir/,
    ],
    [
      { resource_estimator: "com_example_Estimator", modules: modules() },
      /--resource_estimator='com_example_Estimator' names a module mesos-ts does not have/,
    ],
    [
      { qos_controller: QOS, modules: modules({ name: QOS, parameters: [] }) },
      /Failed to create QoS controller: module org_apache_mesos_LoadQoSController needs load_threshold_5min or load_threshold_15min/,
    ],
    [
      {
        resource_estimator: ESTIMATOR,
        modules: modules({ name: ESTIMATOR, parameters: [{ key: "resources", value: "cpus:x" }] }),
      },
      /Failed to create resource estimator: bad 'resources' parameter 'cpus:x'/,
    ],
  ];
  for (const [flags, error] of cases) {
    const agent = await startAgent({ master: master.address, flags, waitReady: false });
    const code = await agent.exited;
    assert.equal(code, 1, agent.logs());
    assert.match(agent.logs(), error);
  }
});
