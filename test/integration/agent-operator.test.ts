/**
 * The agent's operator surface against a real master and agent, with a
 * `sleep` task run by bin/mesos-execute: /files on the task's sandbox and
 * the agent log, /metrics/snapshot, /monitor/statistics, /containers, the
 * v1 agent operator API in JSON and protobuf, jsonp, /state.json, /help.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import type { Call, Response } from "../../src/common/protocol/generated/mesos-v1-agent.js";
import { codecFor } from "../../src/common/protocol/index.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type TypedAnswer, typedOperatorCall } from "../harness/operator.js";
import {
  binPath,
  type DaemonHandle,
  getJson,
  runBinary,
  stopAll,
  tempDir,
  waitFor,
} from "../harness/processes.js";

const callCodec = codecFor<Call>("mesos.v1.agent.Call");
const responseCodec = codecFor<Response>("mesos.v1.agent.Response");

type Json = Record<string, unknown>;

let master: DaemonHandle;
let agent: DaemonHandle;
let task: ChildProcess | undefined;
let stubborn: ChildProcess | undefined;
let frameworkId = "";
let executorId = "";
let sandbox = "";

function v1(call: Call, format: "json" | "protobuf" = "json"): Promise<TypedAnswer<Response>> {
  return typedOperatorCall(agent, { call: callCodec, response: responseCodec }, call, format);
}

async function json(path: string): Promise<unknown> {
  const res = await fetch(`${agent.url}${path}`);
  assert.equal(res.status, 200, `${path}: ${res.status} ${await res.clone().text()}`);
  return res.json();
}

function latest(): string {
  return `/frameworks/${frameworkId}/executors/${executorId}/runs/latest`;
}

before(async () => {
  ({ master, agent } = await startOneAgentCluster({ log_dir: tempDir("agent-log-") }));
  // A task that finishes (its executor and framework complete) ...
  const done = await runBinary(
    "mesos-execute",
    [`--master=${master.address}`, "--name=done", "--command=echo finished-task-output"],
    { timeoutMs: 60_000 },
  );
  assert.equal(done.code, 0, done.stdout + done.stderr);
  // ... and a `sleep` task that keeps running.
  task = spawn(
    process.execPath,
    [
      binPath("mesos-execute"),
      `--master=${master.address}`,
      "--name=sleeper",
      "--command=echo agent-operator-output; sleep 300",
    ],
    { stdio: "ignore" },
  );
  await waitFor(
    "the sleep task running on the agent",
    async () => {
      const state = await getJson<Json>(`${agent.url}/state`);
      for (const fw of (state?.frameworks ?? []) as Json[]) {
        for (const ex of (fw.executors ?? []) as Json[]) {
          const tasks = (ex.tasks ?? []) as Json[];
          if (tasks.some((t) => t.state === "TASK_RUNNING")) {
            frameworkId = String(fw.id);
            executorId = String(ex.id);
            sandbox = String(ex.directory);
            return true;
          }
        }
      }
      return false;
    },
    { timeoutMs: 60_000 },
  );
});

after(async () => {
  task?.kill("SIGKILL");
  stubborn?.kill("SIGKILL");
  await stopAll();
});

describe("agent /files", () => {
  test("agent files: the sandbox is browsable at its virtual latest path and its real path", async () => {
    const listed = (await json(`/files/browse?path=${encodeURIComponent(latest())}`)) as Json[];
    const names = listed.map((e) => String(e.path));
    assert.ok(names.includes(`${latest()}/stdout`), names.join(","));
    assert.ok(names.includes(`${latest()}/stderr`), names.join(","));
    const real = (await json(`/files/browse?path=${encodeURIComponent(sandbox)}`)) as Json[];
    assert.ok(real.some((e) => String(e.path) === `${sandbox}/stdout`));
    const debug = (await json("/files/debug")) as Json;
    assert.ok(latest() in debug, Object.keys(debug).join(","));
  });

  test("agent files: /files/read returns the task's stdout", async () => {
    const path = encodeURIComponent(`${latest()}/stdout`);
    const got = await waitFor("stdout to hold the task output", async () => {
      const r = (await json(`/files/read?path=${path}&offset=0`)) as { data: string };
      return r.data.includes("agent-operator-output") ? r : undefined;
    });
    assert.ok(got.data.includes("agent-operator-output"));
    const size = (await json(`/files/read?path=${path}&offset=-1`)) as { offset: number };
    assert.ok(size.offset > 0);
  });

  test("agent files: a completed executor's sandbox stays browsable", async () => {
    const state = (await json("/state")) as Json;
    const fw = ((state.completed_frameworks ?? []) as Json[])[0];
    assert.ok(fw !== undefined, "no completed framework");
    const ex = ((fw.completed_executors ?? []) as Json[])[0];
    assert.ok(ex !== undefined, "no completed executor");
    const path = `/frameworks/${String(fw.id)}/executors/${String(ex.id)}/runs/latest/stdout`;
    const r = (await json(`/files/read?path=${encodeURIComponent(path)}&offset=0`)) as {
      data: string;
    };
    assert.match(r.data, /finished-task-output/);
    const metrics = (await json("/metrics/snapshot")) as Record<string, number>;
    assert.ok((metrics["slave/tasks_finished"] ?? 0) >= 1);
  });

  test("agent files: '..' and paths outside attachments are refused", async () => {
    const escaping = encodeURIComponent(`${latest()}/../../../../../../../../etc/passwd`);
    const res = await fetch(`${agent.url}/files/read?path=${escaping}&offset=0`);
    assert.ok([403, 404].includes(res.status), `got ${res.status}`);
    const outside = await fetch(`${agent.url}/files/read?path=%2Fetc%2Fpasswd&offset=0`);
    assert.equal(outside.status, 404);
    const v1res = await v1({ type: "READ_FILE", read_file: { path: "/etc/passwd", offset: 0 } });
    assert.equal(v1res.status, 404);
  });

  test("agent files: the agent log is served at /slave/log with --log_dir", async () => {
    const got = await waitFor("the agent log attached", async () => {
      const res = await fetch(`${agent.url}/files/read?path=%2Fslave%2Flog&offset=0`);
      return res.status === 200 ? ((await res.json()) as { data: string }) : undefined;
    });
    assert.match(got.data, /Agent resources/);
  });
});

describe("agent read endpoints and methods", () => {
  test("agent: /state, /health, /version and (without --acls) /flags, /monitor/statistics, /containers, /containerizer/debug answer any method and HEAD, as Mesos' agent", async () => {
    const post = await fetch(`${agent.url}/state`, { method: "POST" });
    assert.equal(post.status, 200);
    assert.equal(typeof ((await post.json()) as Json).id, "string");
    for (const path of ["/health", "/version", "/slave(1)/state"]) {
      assert.equal((await fetch(`${agent.url}${path}`, { method: "POST" })).status, 200, path);
    }
    for (const path of ["/state", "/health", "/flags", "/metrics/snapshot"]) {
      assert.equal((await fetch(`${agent.url}${path}`, { method: "HEAD" })).status, 200, path);
    }
    // Mesos refuses non-GET on these only when an authorizer is configured (auth-agent.test.ts).
    for (const path of [
      "/flags",
      "/monitor/statistics",
      "/slave(1)/monitor/statistics",
      "/containers",
      "/containerizer/debug",
    ]) {
      const r = await fetch(`${agent.url}${path}`, { method: "POST" });
      assert.equal(r.status, 200, path);
      assert.equal(r.headers.get("content-type"), "application/json", path);
      await r.arrayBuffer();
    }
  });
});

describe("agent metrics and monitor", () => {
  test("agent metrics: /metrics/snapshot has the Mesos agent names with live values", async () => {
    const snap = (await json("/metrics/snapshot")) as Record<string, number>;
    for (const name of [
      "slave/uptime_secs",
      "slave/registered",
      "slave/tasks_staging",
      "slave/tasks_running",
      "slave/tasks_finished",
      "slave/tasks_failed",
      "slave/tasks_killed",
      "slave/tasks_lost",
      "slave/executors_running",
      "slave/executors_registering",
      "slave/executors_terminated",
      "slave/frameworks_active",
      "slave/cpus_total",
      "slave/cpus_used",
      "slave/cpus_percent",
      "slave/mem_total",
      "slave/mem_used",
      "slave/disk_total",
      "slave/gpus_total",
      "slave/valid_status_updates",
      "slave/invalid_status_updates",
      "slave/container_launch_errors",
      "system/cpus_total",
      "system/load_1min",
      "system/mem_total_bytes",
    ]) {
      assert.equal(typeof snap[name], "number", `missing ${name}`);
    }
    assert.equal(snap["slave/registered"], 1);
    assert.equal(snap["slave/tasks_running"], 1);
    assert.equal(snap["slave/executors_running"], 1);
    assert.equal(snap["slave/cpus_total"], 2);
    assert.ok((snap["slave/cpus_used"] ?? 0) > 0);
    assert.ok((snap["slave/valid_status_updates"] ?? 0) >= 1);
  });

  test("agent metrics: jsonp wraps the snapshot; /metrics/prometheus has the same names", async () => {
    const res = await fetch(`${agent.url}/metrics/snapshot?jsonp=cb`);
    assert.equal(res.status, 200);
    const body = await res.text();
    assert.match(body, /^cb\(\{.*"slave\/registered":1.*\}\)$/s);
    const prom = await (await fetch(`${agent.url}/metrics/prometheus`)).text();
    assert.match(prom, /mesos_slave_tasks_running 1/);
  });

  test("agent monitor: /monitor/statistics shows the executor with its process tree's memory", async () => {
    const entry = await waitFor("statistics with rss", async () => {
      const list = (await json("/monitor/statistics")) as Json[];
      const e = list.find((x) => x.executor_id === executorId);
      const stats = e?.statistics as Json | undefined;
      return stats !== undefined && Number(stats.mem_rss_bytes) > 0 ? e : undefined;
    });
    assert.equal(entry?.framework_id, frameworkId);
    assert.match(String(entry?.executor_name), /Command Executor/);
    assert.equal(typeof entry?.source, "string");
    const stats = entry?.statistics as Json;
    assert.ok(Number(stats.timestamp) > 0);
    assert.ok(Number(stats.processes) >= 2, `processes ${String(stats.processes)}`);
    assert.ok(Number(stats.threads) >= 2);
    assert.equal(typeof stats.cpus_user_time_secs, "number");
    assert.equal(typeof stats.cpus_system_time_secs, "number");
    assert.ok(Math.abs(Number(stats.cpus_limit) - 0.1 - 1) < 1e-6 || Number(stats.cpus_limit) > 0);
    assert.ok(Number(stats.mem_limit_bytes) > 32 * 1024 * 1024);
    const wrapped = await (await fetch(`${agent.url}/monitor/statistics?jsonp=f`)).text();
    assert.match(wrapped, /^f\(\[.*\]\)$/s);
    // The agent process serves them too, as Mesos' /slave(1)/monitor/statistics.
    for (const path of ["/slave(1)/monitor/statistics", "/slave(1)/monitor/statistics.json"]) {
      const list = (await json(path)) as Json[];
      assert.ok(
        list.some((x) => x.executor_id === executorId && x.framework_id === frameworkId),
        `${path} lists the executor`,
      );
    }
  });

  test("agent monitor: /containers lists the container with status and statistics", async () => {
    const list = (await json("/containers")) as Json[];
    const c = list.find((x) => x.executor_id === executorId);
    assert.ok(c !== undefined, JSON.stringify(list));
    assert.equal(typeof c.container_id, "string");
    assert.equal(c.framework_id, frameworkId);
    const status = c.status as Json;
    assert.deepEqual(status.container_id, { value: c.container_id });
    assert.ok(Number(status.executor_pid) > 1);
    assert.ok(Number((c.statistics as Json).mem_limit_bytes) > 0);
  });
});

describe("agent v1 operator API", () => {
  for (const format of ["json", "protobuf"] as const) {
    test(`agent v1 (${format}): health, flags, version, metrics, logging level, agent`, async () => {
      const health = await v1({ type: "GET_HEALTH" }, format);
      assert.equal(health.response?.get_health?.healthy, true);
      const flags = await v1({ type: "GET_FLAGS" }, format);
      assert.ok(flags.response?.get_flags?.flags?.some((f) => f.name === "work_dir"));
      const version = await v1({ type: "GET_VERSION" }, format);
      assert.equal(version.response?.get_version?.version_info.version, "1.12.0");
      const metrics = await v1({ type: "GET_METRICS", get_metrics: {} }, format);
      assert.ok(metrics.response?.get_metrics?.metrics?.some((m) => m.name === "slave/registered"));
      const level = await v1({ type: "GET_LOGGING_LEVEL" }, format);
      assert.equal(typeof level.response?.get_logging_level?.level, "number");
      const agentInfo = await v1({ type: "GET_AGENT" }, format);
      assert.ok((agentInfo.response?.get_agent?.agent_info?.id?.value ?? "").length > 0);
    });

    test(`agent v1 (${format}): state, frameworks, executors, tasks and containers`, async () => {
      const tasks = await v1({ type: "GET_TASKS" }, format);
      const launched = tasks.response?.get_tasks?.launched_tasks ?? [];
      assert.equal(launched.length, 1);
      assert.equal(launched[0]?.state, "TASK_RUNNING");
      const frameworks = await v1({ type: "GET_FRAMEWORKS" }, format);
      assert.equal(
        frameworks.response?.get_frameworks?.frameworks?.[0]?.framework_info.id?.value,
        frameworkId,
      );
      const executors = await v1({ type: "GET_EXECUTORS" }, format);
      assert.equal(
        executors.response?.get_executors?.executors?.[0]?.executor_info.executor_id.value,
        executorId,
      );
      const state = await v1({ type: "GET_STATE" }, format);
      const got = state.response?.get_state;
      assert.equal(got?.get_tasks?.launched_tasks?.length, 1);
      assert.equal(got?.get_frameworks?.frameworks?.length, 1);
      assert.equal(got?.get_executors?.executors?.length, 1);
      const containers = await v1({ type: "GET_CONTAINERS", get_containers: {} }, format);
      const c = containers.response?.get_containers?.containers?.[0];
      assert.equal(c?.executor_id?.value, executorId);
      assert.ok((c?.resource_statistics?.mem_limit_bytes ?? 0) > 0);
      assert.ok((c?.container_status?.executor_pid ?? 0) > 1);
    });

    test(`agent v1 (${format}): LIST_FILES and READ_FILE of the sandbox`, async () => {
      const listed = await v1({ type: "LIST_FILES", list_files: { path: latest() } }, format);
      assert.equal(listed.status, 200, listed.text);
      const paths = (listed.response?.list_files?.file_infos ?? []).map((f) => f.path);
      assert.ok(paths.includes(`${latest()}/stdout`), paths.join(","));
      const read = await v1(
        { type: "READ_FILE", read_file: { path: `${latest()}/stdout`, offset: 0 } },
        format,
      );
      assert.equal(read.status, 200, read.text);
      const data = Buffer.from(read.response?.read_file?.data ?? new Uint8Array()).toString();
      assert.match(data, /agent-operator-output/);
    });
  }

  test("agent v1: SET_LOGGING_LEVEL changes the level GET_LOGGING_LEVEL reports", async () => {
    const set = await v1({
      type: "SET_LOGGING_LEVEL",
      set_logging_level: { level: 2, duration: { nanoseconds: 60e9 } },
    });
    assert.equal(set.status, 200, set.text);
    const level = await v1({ type: "GET_LOGGING_LEVEL" });
    assert.equal(level.response?.get_logging_level?.level, 2);
  });

  test("agent v1: unsupported calls answer 501 with the reason; bad input 400/415", async () => {
    const gone = await v1({
      type: "MARK_RESOURCE_PROVIDER_GONE",
      mark_resource_provider_gone: { resource_provider_id: { value: "x" } },
    });
    assert.equal(gone.status, 501);
    assert.match(gone.text, /MARK_RESOURCE_PROVIDER_GONE/);
    const missing = await v1({ type: "READ_FILE" });
    assert.equal(missing.status, 400);
    const badType = await fetch(`${agent.url}/api/v1`, {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: "{}",
    });
    assert.equal(badType.status, 415);
    const slave = await fetch(`${agent.url}/slave(1)/api/v1`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ type: "GET_HEALTH" }),
    });
    assert.equal(slave.status, 200);
  });
});

describe("agent other endpoints", () => {
  test("agent: /state statuses' container_status has Mesos' legacy keys (no executor_pid)", async () => {
    const state = (await json("/state")) as Json;
    const statuses: Json[] = [];
    for (const fw of (state.frameworks ?? []) as Json[]) {
      for (const ex of (fw.executors ?? []) as Json[]) {
        for (const t of (ex.tasks ?? []) as Json[])
          statuses.push(...((t.statuses ?? []) as Json[]));
      }
    }
    const running = statuses.find((st) => st.state === "TASK_RUNNING");
    const cs = running?.container_status as Json | undefined;
    assert.ok(cs !== undefined, JSON.stringify(statuses));
    const allowed = ["container_id", "network_infos", "cgroup_info"];
    for (const k of Object.keys(cs)) assert.ok(allowed.includes(k), `unexpected key '${k}'`);
    assert.equal(typeof (cs.container_id as Json).value, "string");
  });

  test("agent: /state.json is /state; /logging/toggle and /help answer", async () => {
    const state = (await json("/state.json")) as Json;
    assert.equal(typeof state.id, "string");
    assert.ok(Array.isArray(state.frameworks));
    const toggle = await fetch(`${agent.url}/logging/toggle?level=1&duration=1mins`);
    assert.equal(toggle.status, 200, await toggle.clone().text());
    const help = await fetch(`${agent.url}/help`);
    assert.equal(help.status, 200);
    assert.match(await help.text(), /monitor/);
    const slave = await fetch(`${agent.url}/help/slave(1)`);
    assert.equal(slave.status, 200);
    const text = await slave.text();
    assert.match(text, /api\/v1/);
    assert.match(text, /containers/);
  });
});

describe("agent draining", () => {
  test("agent: /state shows drain_config and estimated_drain_start_time_seconds in whole seconds while draining", async () => {
    // Ignores SIGTERM (and so does its sleep), so the drain lasts its grace period.
    stubborn = spawn(
      process.execPath,
      [
        binPath("mesos-execute"),
        `--master=${master.address}`,
        "--name=stubborn",
        "--command=trap '' TERM; sleep 300",
      ],
      { stdio: "ignore" },
    );
    const agentId = await waitFor(
      "the stubborn task running on the agent",
      async () => {
        const state = await getJson<Json>(`${agent.url}/state`);
        for (const fw of (state?.frameworks ?? []) as Json[]) {
          for (const ex of (fw.executors ?? []) as Json[]) {
            const tasks = (ex.tasks ?? []) as Json[];
            if (tasks.some((t) => t.id === "stubborn" && t.state === "TASK_RUNNING")) {
              return String(state?.id);
            }
          }
        }
        return undefined;
      },
      { timeoutMs: 60_000 },
    );
    const drain = await fetch(`${master.url}/api/v1`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        type: "DRAIN_AGENT",
        drain_agent: { agent_id: { value: agentId }, max_grace_period: { seconds: 10 } },
      }),
    });
    assert.equal(drain.status, 200, await drain.text());
    const state = await waitFor("the agent's /state to show its drain", async () => {
      const s = await getJson<Json>(`${agent.url}/state`);
      return s?.drain_config === undefined ? undefined : s;
    });
    assert.deepEqual(state.drain_config, {
      mark_gone: false,
      max_grace_period: { nanoseconds: 10e9 },
    });
    const start = state.estimated_drain_start_time_seconds;
    assert.ok(Number.isInteger(start) && Number(start) > 0, `not whole seconds: ${String(start)}`);
  });
});
