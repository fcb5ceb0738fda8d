/**
 * Mesos' monitoring doc (docs/monitoring.md) against a real master and
 * agent: every metric it lists that we build is in /metrics/snapshot under
 * its name, with its type (counter or gauge, as /metrics/prometheus says),
 * and the counters move when their event happens: tasks that finish and
 * fail, a Docker image pull, an agent that stops answering pings and comes
 * back. What we do not build (replicated log, XFS project ids, volume gid
 * manager, resource providers) is absent; docs/master.md and docs/agent.md
 * say so.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { installFakeDocker } from "../fixtures/fake-docker/install.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { mesosExecute } from "../harness/mesos-execute.js";
import {
  type DaemonHandle,
  getJson,
  runBinary,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitForAgents,
  waitLong,
} from "../harness/processes.js";

let master: DaemonHandle;
let agent: DaemonHandle;

/** Master metrics from the doc's tables (names without placeholders) and their types. */
const MASTER_DOC: Record<string, "counter" | "gauge"> = {
  "master/elected": "gauge",
  "master/uptime_secs": "gauge",
  "master/slave_registrations": "counter",
  "master/slave_removals": "counter",
  "master/slave_reregistrations": "counter",
  "master/slave_unreachable_scheduled": "counter",
  "master/slave_unreachable_canceled": "counter",
  "master/slave_unreachable_completed": "counter",
  "master/slaves_active": "gauge",
  "master/slaves_connected": "gauge",
  "master/slaves_disconnected": "gauge",
  "master/slaves_inactive": "gauge",
  "master/slaves_unreachable": "gauge",
  "master/frameworks_active": "gauge",
  "master/frameworks_connected": "gauge",
  "master/frameworks_disconnected": "gauge",
  "master/frameworks_inactive": "gauge",
  "master/outstanding_offers": "gauge",
  "master/tasks_error": "counter",
  "master/tasks_failed": "counter",
  "master/tasks_finished": "counter",
  "master/tasks_killed": "counter",
  "master/tasks_killing": "gauge",
  "master/tasks_lost": "counter",
  "master/tasks_running": "gauge",
  "master/tasks_staging": "gauge",
  "master/tasks_starting": "gauge",
  "master/tasks_unreachable": "gauge",
  "master/operations/total": "gauge",
  "master/operations/pending": "gauge",
  "master/operations/finished": "counter",
  "master/operations/reserve/total": "gauge",
  "master/operations/reserve/finished": "counter",
  "master/invalid_executor_to_framework_messages": "counter",
  "master/invalid_framework_to_executor_messages": "counter",
  "master/invalid_operation_status_update_acknowledgements": "counter",
  "master/invalid_status_update_acknowledgements": "counter",
  "master/invalid_status_updates": "counter",
  "master/dropped_messages": "counter",
  "master/messages_authenticate": "counter",
  "master/messages_deactivate_framework": "counter",
  "master/messages_decline_offers": "counter",
  "master/messages_executor_to_framework": "counter",
  "master/messages_exited_executor": "counter",
  "master/messages_framework_to_executor": "counter",
  "master/messages_kill_task": "counter",
  "master/messages_launch_tasks": "counter",
  "master/messages_operation_status_update_acknowledgement": "counter",
  "master/messages_reconcile_operations": "counter",
  "master/messages_reconcile_tasks": "counter",
  "master/messages_register_framework": "counter",
  "master/messages_register_slave": "counter",
  "master/messages_reregister_framework": "counter",
  "master/messages_reregister_slave": "counter",
  "master/messages_resource_request": "counter",
  "master/messages_revive_offers": "counter",
  "master/messages_status_update": "counter",
  "master/messages_status_update_acknowledgement": "counter",
  "master/messages_unregister_framework": "counter",
  "master/messages_unregister_slave": "counter",
  "master/messages_update_slave": "counter",
  "master/recovery_slave_removals": "counter",
  "master/slave_removals/reason_registered": "counter",
  "master/slave_removals/reason_unhealthy": "counter",
  "master/slave_removals/reason_unregistered": "counter",
  "master/valid_framework_to_executor_messages": "counter",
  "master/valid_operation_status_update_acknowledgements": "counter",
  "master/valid_status_update_acknowledgements": "counter",
  "master/valid_status_updates": "counter",
  "master/valid_executor_to_framework_messages": "counter",
  "master/event_queue_dispatches": "gauge",
  "master/event_queue_http_requests": "gauge",
  "master/event_queue_messages": "gauge",
  "master/operator_event_stream_subscribers": "gauge",
  "allocator/mesos/allocation_runs": "counter",
  "allocator/mesos/event_queue_dispatches": "gauge",
  "allocator/mesos/resources/cpus/offered_or_allocated": "gauge",
  "allocator/mesos/resources/cpus/total": "gauge",
  "allocator/mesos/resources/disk/offered_or_allocated": "gauge",
  "allocator/mesos/resources/disk/total": "gauge",
  "allocator/mesos/resources/mem/offered_or_allocated": "gauge",
  "allocator/mesos/resources/mem/total": "gauge",
};

/** Agent metrics from the doc's tables that we build, and their types. */
const AGENT_DOC: Record<string, "counter" | "gauge"> = {
  "containerizer/fetcher/cache_size_total_bytes": "gauge",
  "containerizer/fetcher/cache_size_used_bytes": "gauge",
  "gc/path_removals_failed": "counter",
  "gc/path_removals_pending": "gauge",
  "gc/path_removals_succeeded": "counter",
  "slave/registered": "gauge",
  "slave/uptime_secs": "gauge",
  "containerizer/mesos/container_destroy_errors": "counter",
  "containerizer/fetcher/task_fetches_succeeded": "counter",
  "containerizer/fetcher/task_fetches_failed": "counter",
  "slave/container_launch_errors": "counter",
  "slave/executors_preempted": "counter",
  "slave/frameworks_active": "gauge",
  "slave/executor_directory_max_allowed_age_secs": "gauge",
  "slave/executors_registering": "gauge",
  "slave/executors_running": "gauge",
  "slave/executors_terminated": "counter",
  "slave/executors_terminating": "gauge",
  "slave/recovery_errors": "gauge",
  "slave/recovery_time_secs": "gauge",
  "slave/tasks_failed": "counter",
  "slave/tasks_finished": "counter",
  "slave/tasks_killed": "counter",
  "slave/tasks_lost": "counter",
  "slave/tasks_running": "gauge",
  "slave/tasks_staging": "gauge",
  "slave/tasks_starting": "gauge",
  "slave/invalid_framework_messages": "counter",
  "slave/invalid_status_updates": "counter",
  "slave/valid_framework_messages": "counter",
  "slave/valid_status_updates": "counter",
};

const SYSTEM = [
  "system/cpus_total",
  "system/load_15min",
  "system/load_5min",
  "system/load_1min",
  "system/mem_free_bytes",
  "system/mem_total_bytes",
];

for (const r of ["cpus", "disk", "gpus", "mem"]) {
  for (const s of [
    "percent",
    "used",
    "total",
    "revocable_percent",
    "revocable_total",
    "revocable_used",
  ]) {
    MASTER_DOC[`master/${r}_${s}`] = "gauge";
    AGENT_DOC[`slave/${r}_${s}`] = "gauge";
  }
}

/**
 * Mesos' documented metrics we do not build: absent, not faked. The
 * volume_gid_manager ones exist only with --volume_gid_range, as in Mesos
 * (volume-gid-range.test.ts): absent from a default agent.
 */
const NOT_BUILT = [
  "registrar/log/recovered",
  "registrar/log/ensemble_size",
  "volume_gid_manager/volume_gids_total",
  "volume_gid_manager/volume_gids_free",
  "containerizer/mesos/disk/project_ids_free",
  "containerizer/mesos/disk/project_ids_total",
];

type Snapshot = Record<string, number>;

async function snapshot(d: DaemonHandle): Promise<Snapshot> {
  const snap = await getJson<Snapshot>(`${d.url}/metrics/snapshot`);
  assert.ok(snap !== undefined, `${d.name} answers /metrics/snapshot`);
  return snap;
}

/** Metric name -> Prometheus type, from /metrics/prometheus. */
async function promTypes(d: DaemonHandle): Promise<Map<string, string>> {
  const text = await (await fetch(`${d.url}/metrics/prometheus`)).text();
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] ?? "", m[2] ?? ""]));
}

const promName = (name: string): string => `mesos_${name.replace(/[^A-Za-z0-9_]/g, "_")}`;

/** Waits until every `name >= value` holds in `d`'s snapshot; returns that snapshot. */
function reach(d: DaemonHandle, wanted: Record<string, number>): Promise<Snapshot> {
  return waitLong(`${d.name} metrics ${JSON.stringify(wanted)}`, async () => {
    const snap = await snapshot(d);
    return Object.entries(wanted).every(([k, v]) => (snap[k] ?? -1) >= v) ? snap : undefined;
  });
}

const docker = installFakeDocker(tempDir("metrics-walk-docker-"));

before(async () => {
  // Pings every 2 s, three missed: an agent stopped for long enough is unreachable.
  ({ master, agent } = await startOneAgentCluster(
    { containerizers: "mesos,docker", docker: docker.path },
    {
      masterFlags: {
        agent_ping_timeout: "2secs",
        max_agent_ping_timeouts: 3,
        allocation_interval: "100ms",
      },
    },
  ));
});

after(async () => {
  docker.removeAll();
  await stopAll();
});

function execute(...args: string[]) {
  return mesosExecute(master, args, 90_000);
}

test("metrics walk: every documented name we build is served with its type; what we do not build is absent", async () => {
  for (const [d, doc] of [
    [master, MASTER_DOC],
    [agent, AGENT_DOC],
  ] as const) {
    const snap = await snapshot(d);
    const types = await promTypes(d);
    for (const [name, type] of Object.entries(doc)) {
      assert.equal(typeof snap[name], "number", `${d.name}: ${name}`);
      assert.equal(types.get(promName(name)), type, `${d.name}: ${name} is a ${type}`);
    }
    for (const name of SYSTEM) assert.equal(typeof snap[name], "number", `${d.name}: ${name}`);
    for (const name of NOT_BUILT) assert.equal(snap[name], undefined, `${d.name}: ${name}`);
    // A flat object of numbers.
    for (const [name, value] of Object.entries(snap)) {
      assert.equal(typeof value, "number", `${d.name}: ${name}`);
    }
  }
  const snap = await snapshot(master);
  assert.equal(snap["master/elected"], 1);
  assert.equal(snap["master/mem_total"], 1024, "MB");
  assert.equal((await snapshot(agent))["slave/mem_total"], 1024, "MB");
  // The registrar timers: state_fetch has no window statistics, as Mesos.
  assert.equal(typeof snap["registrar/state_fetch_ms"], "number");
  assert.equal(snap["registrar/state_fetch_ms/count"], undefined);
  // A bad timeout is refused in Mesos' words.
  const bad = await fetch(`${master.url}/metrics/snapshot?timeout=soon`);
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /^Invalid timeout 'soon': /);
});

test("metrics walk: finished and failed tasks and a Docker pull move the counters on both sides", async () => {
  const before = await snapshot(master);
  const ok = await execute("--name=walk-ok", "--command=true");
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const bad = await execute("--name=walk-bad", "--command=exit 3");
  assert.notEqual(bad.code, 0);
  const pulled = await execute(
    "--name=walk-docker",
    "--command=true",
    "--containerizer=docker",
    "--docker_image=busybox",
  );
  assert.equal(pulled.code, 0, pulled.stdout + pulled.stderr);
  const m = await reach(master, {
    "master/tasks_finished": (before["master/tasks_finished"] ?? 0) + 2,
    "master/tasks_failed": (before["master/tasks_failed"] ?? 0) + 1,
  });
  assert.ok((m["master/messages_launch_tasks"] ?? 0) >= 3);
  assert.ok((m["master/valid_status_updates"] ?? 0) >= 6);
  assert.ok((m["master/valid_status_update_acknowledgements"] ?? 0) >= 6);
  assert.ok((m["master/messages_register_framework"] ?? 0) >= 3);
  const a = await reach(agent, {
    "slave/tasks_finished": 2,
    "slave/tasks_failed": 1,
    "slave/executors_terminated": 3,
    "slave/valid_status_updates": 6,
    "containerizer/fetcher/task_fetches_succeeded": 3,
  });
  assert.equal(a["slave/tasks_running"], 0);
  assert.equal(a["slave/executors_running"], 0);
  assert.equal(typeof a["containerizer/docker/image_pull_ms"], "number");
});

test("metrics walk: an agent that stops answering is removed as unhealthy; back, it re-registers", async () => {
  const before = await snapshot(master);
  const pid = agent.child.pid;
  assert.ok(pid !== undefined);
  process.kill(pid, "SIGSTOP");
  try {
    const m = await reach(master, {
      "master/slave_unreachable_scheduled": 1,
      "master/slave_unreachable_completed": 1,
      "master/slave_removals": 1,
      "master/slave_removals/reason_unhealthy": 1,
      "master/slaves_unreachable": 1,
    });
    assert.equal(m["master/slave_reregistrations"], before["master/slave_reregistrations"]);
    assert.equal(m["master/slave_removals/reason_unregistered"], 0);
  } finally {
    process.kill(pid, "SIGCONT");
  }
  const m = await reach(master, { "master/slave_reregistrations": 1, "master/slaves_active": 1 });
  assert.equal(m["master/slaves_unreachable"], 0);
  assert.equal(m["master/recovery_slave_removals"], 0);
  assert.ok((m["master/messages_reregister_slave"] ?? 0) >= 1);
  await waitForAgents(master, 1);
  assert.equal((await snapshot(agent))["slave/registered"], 1);
});

test("metrics walk: an agent's CRAM-MD5 authentication counts in master/messages_authenticate", async () => {
  const dir = tempDir("metrics-walk-auth-");
  const credentials = join(dir, "credentials.json");
  writeFileSync(
    credentials,
    JSON.stringify({ credentials: [{ principal: "agent", secret: "agent-secret" }] }),
  );
  const credential = join(dir, "agent-credential.json");
  writeFileSync(credential, JSON.stringify({ principal: "agent", secret: "agent-secret" }));
  const secured = await startMaster({ flags: { credentials, authenticate_agents: true } });
  assert.equal((await snapshot(secured))["master/messages_authenticate"], 0);
  await startAgent({
    master: secured.address,
    flags: { credential: `file://${credential}`, registration_backoff_factor: "100ms" },
  });
  await waitForAgents(secured, 1);
  const m = await reach(secured, { "master/messages_authenticate": 1 });
  assert.equal(m["master/slave_registrations"], 1);
});

test("metrics walk: a task run_tasks refuses counts in master/tasks_error and its source/reason", async () => {
  const acls = JSON.stringify({
    run_tasks: [{ principals: { type: "ANY" }, users: { type: "NONE" } }],
  });
  const { master: guarded } = await startOneAgentCluster({}, { masterFlags: { acls } });
  const run = await runBinary(
    "mesos-execute",
    [`--master=${guarded.address}`, "--name=denied", "--command=true"],
    { timeoutMs: 90_000 },
  );
  assert.match(run.stdout, /REASON_TASK_UNAUTHORIZED/, run.stdout + run.stderr);
  const m = await reach(guarded, {
    "master/tasks_error": 1,
    "master/task_error/source_master/reason_task_unauthorized": 1,
  });
  assert.equal(m["master/tasks_running"], 0);
});
