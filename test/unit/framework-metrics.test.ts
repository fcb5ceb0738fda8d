import assert from "node:assert/strict";
import { test } from "node:test";
import { MetricsRegistry } from "../../src/common/observability/metrics.js";
import type { TaskInfo } from "../../src/common/protocol/generated/mesos-v1.js";
import { MasterMetrics } from "../../src/master/metrics.js";
import {
  agentUpdate,
  type Fixture,
  frameworkInfo,
  makeMaster,
  registerAgent,
  resources,
  subscribe,
} from "./master-fixture.js";

function taskInfo(id: string, agentId: string): TaskInfo {
  return {
    name: `task ${id}`,
    task_id: { value: id },
    agent_id: { value: agentId },
    resources: resources("cpus:0.1;mem:8"),
    command: { value: "true" },
  };
}

async function setup(perFramework = true) {
  const f: Fixture = makeMaster();
  const registry = new MetricsRegistry(f.clock);
  const metrics = new MasterMetrics({
    registry,
    master: f.master,
    allocator: f.master.allocator,
    startTime: f.clock.now(),
    perFramework,
    subscribers: () => 0,
    registrySize: () => 0,
  });
  const agentId = await registerAgent(f);
  const { stream, frameworkId } = subscribe(f, frameworkInfo({ name: "my fw/1" }));
  const prefix = `master/frameworks/my%20fw%2F1/${frameworkId}/`;
  return { f, registry, metrics, agentId, stream, frameworkId, prefix };
}

test("framework metrics: every per-framework metric exists from the start, with Mesos' names", async () => {
  const { registry, prefix } = await setup();
  const snap = await registry.snapshot();
  const expected = [
    "subscribed",
    "calls",
    "calls/accept",
    "calls/decline",
    "calls/update_framework",
    "events",
    "events/offers",
    "events/heartbeat",
    "operations",
    "operations/launch",
    "operations/launch_group",
    "operations/reserve",
    "operations/destroy_disk",
    "offers/sent",
    "offers/accepted",
    "offers/declined",
    "offers/rescinded",
    "tasks/active/task_staging",
    "tasks/active/task_running",
    "tasks/active/task_unreachable",
    "tasks/terminal/task_finished",
    "tasks/terminal/task_gone_by_operator",
    "roles/*/suppressed",
  ];
  for (const name of expected)
    assert.equal(snap[`${prefix}${name}`], name === "subscribed" ? 1 : 0, name);
  assert.equal(snap[`${prefix}calls/unknown`], undefined, "UNKNOWN has no counter");
  assert.equal(snap[`${prefix}tasks/active/task_finished`], undefined);
});

test("framework metrics: offers accepted and declined count offers; launches count per task; task states follow", async () => {
  const { f, registry, metrics, agentId, stream, frameworkId, prefix } = await setup();
  const framework = f.master.frameworks.get(frameworkId);
  assert.ok(framework !== undefined);
  f.allocate();
  const first = stream.last("OFFERS")?.offers?.offers?.[0];
  assert.ok(first !== undefined);
  metrics.schedulerCall("ACCEPT", frameworkId, false);
  f.master.accept(framework, {
    offer_ids: [first.id],
    operations: [
      { type: "LAUNCH", launch: { task_infos: [taskInfo("a", agentId), taskInfo("b", agentId)] } },
    ],
  });
  f.master.statusUpdate(agentUpdate(frameworkId, agentId, "a", "TASK_RUNNING", 1));
  f.master.statusUpdate(agentUpdate(frameworkId, agentId, "b", "TASK_FINISHED", 2));
  // An ACCEPT of an offer that is gone counts no offer.
  f.master.accept(framework, { offer_ids: [first.id], operations: [] });
  f.clock.advance(60_000);
  f.allocate();
  const second = stream.last("OFFERS")?.offers?.offers?.[0];
  assert.ok(second !== undefined && second.id.value !== first.id.value);
  metrics.schedulerCall("DECLINE", frameworkId, false);
  f.master.decline(framework, { offer_ids: [second.id, { value: "no-such-offer" }] });

  const snap = await registry.snapshot();
  assert.equal(snap[`${prefix}offers/accepted`], 1);
  assert.equal(snap[`${prefix}offers/declined`], 1, "only the known offer");
  assert.equal(snap[`${prefix}operations/launch`], 2, "LAUNCH counts each task launched");
  assert.equal(snap[`${prefix}operations`], 2);
  assert.equal(snap[`${prefix}calls/accept`], 1);
  assert.equal(snap[`${prefix}calls/decline`], 1);
  assert.equal(snap[`${prefix}calls`], 2);
  assert.equal(snap[`${prefix}tasks/active/task_running`], 1);
  assert.equal(snap[`${prefix}tasks/terminal/task_finished`], 1);
});

test("framework metrics: events count per type; removal drops the framework's metrics", async () => {
  const { f, registry, metrics, frameworkId, prefix } = await setup();
  metrics.schedulerEvent(frameworkId, "OFFERS", 3);
  metrics.schedulerEvent(frameworkId, "RESCIND");
  metrics.schedulerEvent(frameworkId, "HEARTBEAT");
  let snap = await registry.snapshot();
  assert.equal(snap[`${prefix}events`], 3);
  assert.equal(snap[`${prefix}events/offers`], 1);
  assert.equal(snap[`${prefix}offers/sent`], 3);
  assert.equal(snap[`${prefix}offers/rescinded`], 1);
  const framework = f.master.frameworks.get(frameworkId);
  assert.ok(framework !== undefined);
  f.master.teardown(framework);
  snap = await registry.snapshot();
  assert.equal(snap[`${prefix}calls`], undefined);
});

test("framework metrics: none with --publish_per_framework_metrics=false", async () => {
  const { registry, prefix } = await setup(false);
  const snap = await registry.snapshot();
  assert.ok(!Object.keys(snap).some((k) => k.startsWith(prefix)));
  assert.ok(!Object.keys(snap).some((k) => k.startsWith("master/frameworks/")));
});
