/**
 * The agent's operator surface against a real master and agent, checked
 * against what a Mesos agent answers (src/slave/http.cpp and validation.cpp
 * of Mesos 1.12, read for facts): the order and wording of refused
 * `/api/v1` calls, the calls answered with empty lists, GET_CONTAINERS'
 * `show_nested`, and the keys and query parameters of the legacy endpoints.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Call } from "../../src/common/protocol/generated/mesos-v1-agent.js";
import { codecFor } from "../../src/common/protocol/index.js";
import { encodeRecord } from "../../src/common/recordio/encoder.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import {
  binPath,
  type DaemonHandle,
  freePort,
  getJson,
  killProcessGroups,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
  waitForAgents,
} from "../harness/processes.js";

const callCodec = codecFor<Call>("mesos.v1.agent.Call");

let master: DaemonHandle;
let agent: DaemonHandle;
let scheduler: ChildProcess | undefined;

interface Answer {
  readonly status: number;
  readonly text: string;
  readonly headers: Headers;
}

async function post(body: string | Uint8Array, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(`${agent.url}/api/v1`, { method: "POST", headers, body });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

function call(c: Call, accept = "application/json"): Promise<Answer> {
  return post(callCodec.encodeJson(c), { "Content-Type": "application/json", Accept: accept });
}

const JSON_HEADERS = { "Content-Type": "application/json", Accept: "application/json" };
const VALIDATION = "Failed to validate agent::Call: ";

before(async () => {
  ({ master, agent } = await startOneAgentCluster());
  // A task group: its executor's container, and the task's container nested in it.
  const group = {
    tasks: [
      {
        name: "nested-sleeper",
        task_id: { value: "nested-sleeper" },
        agent_id: { value: "" },
        resources: [
          { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
          { name: "mem", type: "SCALAR", scalar: { value: 32 } },
        ],
        command: { value: "sleep 300" },
      },
    ],
  };
  scheduler = spawn(
    process.execPath,
    [
      binPath("mesos-execute"),
      `--master=${master.address}`,
      `--task_group=${JSON.stringify(group)}`,
    ],
    { stdio: "ignore" },
  );
});

after(async () => {
  scheduler?.kill("SIGKILL");
  await stopAll();
});

describe("agent operator API conformance", () => {
  test("agent API: a Content-Type it does not know is 415 naming JSON, protobuf and RecordIO", async () => {
    const r = await post("{}", { "Content-Type": "text/plain" });
    assert.equal(r.status, 415);
    assert.equal(
      r.text,
      "Expecting 'Content-Type' of application/json or application/x-protobuf or application/recordio",
    );
  });

  test("agent API: the Accept header is checked before the body is read (406 even for a malformed body)", async () => {
    const r = await post("{not json", { "Content-Type": "application/json", Accept: "text/html" });
    assert.equal(r.status, 406);
    assert.equal(
      r.text,
      "Expecting 'Accept' to allow application/json or application/x-protobuf or application/recordio",
    );
  });

  test("agent API: Message-Content-Type on a non-streaming request is 415, Message-Accept on a non-streaming answer 406", async () => {
    const c = callCodec.encodeJson({ type: "GET_HEALTH" });
    const a = await post(c, { ...JSON_HEADERS, "Message-Content-Type": "application/json" });
    assert.equal(a.status, 415);
    assert.equal(
      a.text,
      "Expecting 'Message-Content-Type' to be not set for non-streaming requests",
    );
    const b = await post(c, { ...JSON_HEADERS, "Message-Accept": "application/json" });
    assert.equal(b.status, 406);
    assert.equal(b.text, "Expecting 'Message-Accept' to be not set for non-streaming responses");
  });

  test("agent API: a RecordIO request needs Message-Content-Type and is refused for calls that do not stream", async () => {
    const record = encodeRecord(callCodec.encodeJson({ type: "GET_HEALTH" }));
    const a = await post(record, { "Content-Type": "application/recordio" });
    assert.equal(a.status, 400);
    assert.equal(a.text, "Expecting 'Message-Content-Type' to be set for streaming requests");
    const b = await post(record, {
      "Content-Type": "application/recordio",
      "Message-Content-Type": "application/json",
    });
    assert.equal(b.status, 415);
    assert.equal(
      b.text,
      "Streaming 'Content-Type' application/recordio is not supported for GET_HEALTH call",
    );
  });

  test("agent API: a streaming Accept is refused for calls that answer once", async () => {
    const r = await call({ type: "GET_STATE" }, "application/recordio");
    assert.equal(r.status, 406);
    assert.equal(r.text, "Streaming response is not supported for GET_STATE call");
  });

  test("agent API: a call without a type is 400, an UNKNOWN call 501", async () => {
    const a = await post("{}", JSON_HEADERS);
    assert.equal(a.status, 400);
    assert.equal(a.text, `${VALIDATION}Expecting 'type' to be present`);
    const b = await call({ type: "UNKNOWN" });
    assert.equal(b.status, 501);
  });

  test("agent API: each call missing its sub-message answers 400 with Mesos' validation message", async () => {
    const calls: [NonNullable<Call["type"]>, string][] = [
      ["GET_METRICS", "get_metrics"],
      ["SET_LOGGING_LEVEL", "set_logging_level"],
      ["LIST_FILES", "list_files"],
      ["READ_FILE", "read_file"],
      ["LAUNCH_NESTED_CONTAINER", "launch_nested_container"],
      ["WAIT_NESTED_CONTAINER", "wait_nested_container"],
      ["KILL_NESTED_CONTAINER", "kill_nested_container"],
      ["REMOVE_NESTED_CONTAINER", "remove_nested_container"],
      ["LAUNCH_CONTAINER", "launch_container"],
      ["WAIT_CONTAINER", "wait_container"],
      ["KILL_CONTAINER", "kill_container"],
      ["REMOVE_CONTAINER", "remove_container"],
      ["ADD_RESOURCE_PROVIDER_CONFIG", "add_resource_provider_config"],
      ["MARK_RESOURCE_PROVIDER_GONE", "mark_resource_provider_gone"],
    ];
    for (const [type, field] of calls) {
      const r = await call({ type });
      assert.equal(r.status, 400, `${type}: ${r.text}`);
      assert.equal(r.text, `${VALIDATION}Expecting '${field}' to be present`, type);
    }
  });

  test("agent API: a *_NESTED_CONTAINER call whose container id has no parent is 400", async () => {
    const r = await call({
      type: "WAIT_NESTED_CONTAINER",
      wait_nested_container: { container_id: { value: "c1" } },
    });
    assert.equal(r.status, 400);
    assert.equal(
      r.text,
      `${VALIDATION}Expecting 'wait_nested_container.container_id.parent' to be present`,
    );
  });

  test("agent API: GET_OPERATIONS is empty on an agent without operations; GET_RESOURCE_PROVIDERS is empty (no resource providers)", async () => {
    const ops = await call({ type: "GET_OPERATIONS" });
    assert.equal(ops.status, 200, ops.text);
    assert.deepEqual(JSON.parse(ops.text), { type: "GET_OPERATIONS", get_operations: {} });
    const rps = await call({ type: "GET_RESOURCE_PROVIDERS" });
    assert.equal(rps.status, 200, rps.text);
    assert.deepEqual(JSON.parse(rps.text), {
      type: "GET_RESOURCE_PROVIDERS",
      get_resource_providers: {},
    });
  });
});

interface ContainerEntry {
  readonly framework_id?: { value: string };
  readonly executor_id?: { value: string };
  readonly container_id: { value: string; parent?: { value: string } };
}

async function containers(getContainers: Call["get_containers"]): Promise<ContainerEntry[]> {
  const r = await call({ type: "GET_CONTAINERS", get_containers: getContainers });
  assert.equal(r.status, 200, r.text);
  const body = JSON.parse(r.text) as { get_containers?: { containers?: ContainerEntry[] } };
  return body.get_containers?.containers ?? [];
}

describe("agent metrics", () => {
  test("metrics: slave/recovery_time_secs is reported once the agent has recovered", async () => {
    const snapshot = await getJson<Record<string, number>>(`${agent.url}/metrics/snapshot`);
    const secs = snapshot?.["slave/recovery_time_secs"];
    assert.equal(typeof secs, "number", Object.keys(snapshot ?? {}).join(","));
    assert.ok((secs ?? -1) >= 0);
  });
});

describe("agent containers", () => {
  let executorContainer: ContainerEntry;

  before(async () => {
    executorContainer = await waitFor(
      "the task group's nested container",
      async () => {
        const all = await containers({ show_nested: true });
        const child = all.find((c) => c.container_id.parent !== undefined);
        return child === undefined
          ? undefined
          : all.find((c) => c.container_id.value === child.container_id.parent?.value);
      },
      { timeoutMs: 45_000 },
    );
  });

  test("GET_CONTAINERS: nested containers are listed only with show_nested", async () => {
    const plain = await containers(undefined);
    assert.ok(plain.some((c) => c.container_id.value === executorContainer.container_id.value));
    assert.deepEqual(
      plain.filter((c) => c.container_id.parent !== undefined),
      [],
      "no nested container without show_nested",
    );
    const off = await containers({ show_nested: false });
    assert.equal(off.filter((c) => c.container_id.parent !== undefined).length, 0);
  });

  test("/containers: container_id, framework_id and framework_id+executor_id select entries", async () => {
    const cid = executorContainer.container_id.value;
    const fid = executorContainer.framework_id?.value ?? "";
    const eid = executorContainer.executor_id?.value ?? "";
    type Entry = { container_id: string; framework_id: string; executor_id: string };
    const one = await getJson<Entry[]>(`${agent.url}/containers?container_id=${cid}`);
    assert.deepEqual(
      one?.map((e) => e.container_id),
      [cid],
    );
    const byFramework = await getJson<Entry[]>(`${agent.url}/containers?framework_id=${fid}`);
    assert.ok((byFramework ?? []).length >= 1);
    assert.ok((byFramework ?? []).every((e) => e.framework_id === fid));
    const none = await getJson<Entry[]>(
      `${agent.url}/containers?framework_id=${fid}&executor_id=not-${eid}`,
    );
    assert.deepEqual(none, []);
    const exact = await getJson<Entry[]>(
      `${agent.url}/containers?framework_id=${fid}&executor_id=${eid}`,
    );
    assert.ok((exact ?? []).some((e) => e.container_id === cid));
    assert.deepEqual(await getJson<Entry[]>(`${agent.url}/containers?container_id=nope`), []);
  });

  test("/containers: executor_id without framework_id, or container_id with another filter, is 400", async () => {
    const reason =
      "Supported query parameters are container_id only, framework_id only, or executor_id and framework_id only";
    for (const query of [
      "executor_id=e",
      "container_id=c&framework_id=f",
      "container_id=c&executor_id=e",
    ]) {
      const res = await fetch(`${agent.url}/containers?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(await res.text(), reason, query);
    }
  });
});

describe("agent recovery", () => {
  const pids = new Set<number>();
  let recovering: ChildProcess | undefined;

  after(() => {
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGCONT");
      } catch {
        // already gone
      }
    }
    killProcessGroups(pids);
    recovering?.kill("SIGKILL");
  });

  test("agent API: calls and /state.json answer 503 until the agent has recovered its executors", async () => {
    const ownMaster = await startMaster();
    const port = await freePort();
    const workDir = tempDir("agent-api-recovery-");
    const flags = {
      work_dir: workDir,
      executor_reregistration_timeout: "10secs",
      // One process per executor: the pid stopped below is the executor itself,
      // not a placeholder of a shared executor host that would re-register.
      command_executors_per_process: "1",
    };
    const first = await startAgent({ master: ownMaster.address, port, flags });
    await waitForAgents(ownMaster, 1);
    recovering = spawn(
      process.execPath,
      [
        binPath("mesos-execute"),
        `--master=${ownMaster.address}`,
        "--name=recovered",
        "--command=sleep 300",
        "--checkpoint",
      ],
      { stdio: "ignore" },
    );
    const pid = await waitFor(
      "the checkpointed executor's pid",
      async () => {
        const list =
          (await getJson<{ status?: { executor_pid?: number } }[]>(`${first.url}/containers`)) ??
          [];
        return list[0]?.status?.executor_pid;
      },
      { timeoutMs: 30_000 },
    );
    pids.add(pid);
    // Recovery only waits for executors whose pid is checkpointed: the
    // agent may report the pid before it has written it.
    const meta = join(workDir, "meta");
    await waitFor("the executor's pid checkpointed", async () =>
      (readdirSync(meta, { recursive: true }) as string[]).some(
        (p) => p.endsWith("pids/forked.pid") && Number(readFileSync(join(meta, p), "utf8")) === pid,
      ),
    );
    first.kill("SIGKILL");
    await first.exited;
    // A stopped executor cannot re-register: the agent stays in recovery until the timeout.
    process.kill(pid, "SIGSTOP");
    const second = await startAgent({ master: ownMaster.address, port, flags });
    const during = await fetch(`${second.url}/api/v1`, {
      method: "POST",
      headers: JSON_HEADERS,
      body: JSON.stringify({ type: "GET_STATE" }),
    });
    assert.equal(during.status, 503);
    assert.equal(await during.text(), "Agent has not finished recovery");
    const legacy = await fetch(`${second.url}/state.json`);
    assert.equal(legacy.status, 503);
    process.kill(pid, "SIGCONT");
    await waitFor(
      "the agent to finish recovery",
      async () => {
        const r = await fetch(`${second.url}/api/v1`, {
          method: "POST",
          headers: JSON_HEADERS,
          body: JSON.stringify({ type: "GET_HEALTH" }),
        });
        return r.status === 200;
      },
      { timeoutMs: 20_000 },
    );
  });
});

describe("agent authorization", () => {
  let sleeper: ChildProcess | undefined;

  after(() => {
    sleeper?.kill("SIGKILL");
  });

  test("agent API: with ACLs, GET_FLAGS and SET_LOGGING_LEVEL are 403 and the frameworks, executors, tasks and containers a caller may not view are left out", async () => {
    const acls = {
      view_flags: [{ principals: { type: "ANY" }, flags: { type: "NONE" } }],
      set_log_level: [{ principals: { type: "ANY" }, level: { type: "NONE" } }],
      view_frameworks: [{ principals: { type: "ANY" }, users: { type: "NONE" } }],
      view_containers: [{ principals: { type: "ANY" }, users: { type: "NONE" } }],
    };
    const { master: ownMaster, agent: guarded } = await startOneAgentCluster({
      acls: JSON.stringify(acls),
    });
    sleeper = spawn(
      process.execPath,
      [
        binPath("mesos-execute"),
        `--master=${ownMaster.address}`,
        "--name=hidden",
        "--command=sleep 300",
      ],
      { stdio: "ignore" },
    );
    await waitFor(
      "the task running",
      async () => {
        const state = await getJson<{ frameworks?: { tasks?: { state?: string }[] }[] }>(
          `${ownMaster.url}/master/state`,
        );
        return (state?.frameworks ?? []).some((f) =>
          (f.tasks ?? []).some((t) => t.state === "TASK_RUNNING"),
        );
      },
      { timeoutMs: 30_000 },
    );
    const ask = async (c: Call): Promise<Answer> => {
      const res = await fetch(`${guarded.url}/api/v1`, {
        method: "POST",
        headers: JSON_HEADERS,
        body: callCodec.encodeJson(c),
      });
      return { status: res.status, text: await res.text(), headers: res.headers };
    };
    const flags = await ask({ type: "GET_FLAGS" });
    assert.equal(flags.status, 403);
    assert.equal(flags.text, "Anonymous is not authorized to view the flags");
    const level = await ask({
      type: "SET_LOGGING_LEVEL",
      set_logging_level: { level: 1, duration: { nanoseconds: 1e9 } },
    });
    assert.equal(level.status, 403);
    assert.equal(level.text, "Anonymous is not authorized to set the log level");
    const state = await ask({ type: "GET_STATE" });
    assert.equal(state.status, 200, state.text);
    const got = JSON.parse(state.text) as {
      get_state: {
        get_frameworks?: { frameworks?: unknown[] };
        get_executors?: { executors?: unknown[] };
        get_tasks?: { launched_tasks?: unknown[] };
      };
    };
    assert.deepEqual(got.get_state.get_frameworks?.frameworks ?? [], []);
    assert.deepEqual(got.get_state.get_executors?.executors ?? [], []);
    assert.deepEqual(got.get_state.get_tasks?.launched_tasks ?? [], []);
    const listed = await ask({ type: "GET_CONTAINERS", get_containers: { show_nested: true } });
    assert.equal(listed.status, 200, listed.text);
    assert.deepEqual(
      (JSON.parse(listed.text) as { get_containers?: { containers?: unknown[] } }).get_containers
        ?.containers ?? [],
      [],
    );
    assert.deepEqual(await getJson(`${guarded.url}/containers`), []);
    // The same agent still shows them without a view restriction on its metrics.
    const metrics = await getJson<Record<string, number>>(`${guarded.url}/metrics/snapshot`);
    assert.equal(metrics?.["slave/tasks_running"], 1);
  });
});
