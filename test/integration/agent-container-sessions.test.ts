/**
 * Container sessions on a real agent: LAUNCH_NESTED_CONTAINER_SESSION under a
 * task's executor container (a bin/mesos-execute "sleeper"), its output as
 * RecordIO ProcessIO records, WAIT for its exit status, ATTACH_CONTAINER_INPUT
 * and ATTACH_CONTAINER_OUTPUT, heartbeats, a disconnect killing the session,
 * and refusals.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdirSync } from "node:fs";
import { after, before, test } from "node:test";
import { CgroupsHierarchy } from "../../src/agent/containerizer/cgroups/hierarchy.js";
import type { ContainerID } from "../../src/common/protocol/generated/mesos-v1.js";
import type { Call, ProcessIO } from "../../src/common/protocol/generated/mesos-v1-agent.js";
import { codecFor } from "../../src/common/protocol/index.js";
import { encodeRecord, readRecords } from "../../src/common/recordio/index.js";
import { ManualClock, repeatEvery } from "../../src/common/time/clock.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { binPath, type DaemonHandle, stopAll, tempDir, waitLong } from "../harness/processes.js";
import { isolationSkipReason, removeRootCgroups } from "./containerizer-helpers.js";

/** The cgroups root of the linux-launcher agent (its own, removed afterwards). */
const CGROUPS_ROOT = `mesos-sessions-test-${process.pid}`;

const processIoCodec = codecFor<ProcessIO>("mesos.v1.agent.ProcessIO");
const callCodec = codecFor<Call>("mesos.v1.agent.Call");

/** A master, an agent and a "sleeper" task whose executor container hosts the sessions. */
interface Cluster {
  readonly master: DaemonHandle;
  readonly agent: DaemonHandle;
  readonly sleeper: ChildProcess;
  /** The sleeper task's executor container. */
  readonly parent: ContainerID;
}

const clusters: Cluster[] = [];
/** The cluster the helpers below talk to. */
let current: Cluster;

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("MESOS_") && !k.startsWith("LIBPROCESS_")) env[k] = v;
  }
  return { ...env, HOME: tempDir("sessions-home-") };
}

async function startCluster(agentFlags: Record<string, string> = {}): Promise<Cluster> {
  const { master, agent } = await startOneAgentCluster({
    registration_backoff_factor: "100ms",
    ...agentFlags,
  });
  const sleeper = spawn(
    process.execPath,
    [
      binPath("mesos-execute"),
      `--master=${master.address}`,
      "--name=session-sleeper",
      "--command=echo marker > here.txt; sleep 120",
    ],
    { env: cleanEnv(), stdio: "ignore" },
  );
  const partial = { master, agent, sleeper, parent: { value: "" } };
  clusters.push(partial);
  current = partial;
  const parent = await waitLong("the sleeper's executor container", async () => {
    const r = await call({ type: "GET_CONTAINERS", get_containers: {} });
    const body = (await r.json()) as {
      get_containers?: { containers?: { container_id: ContainerID }[] };
    };
    return body.get_containers?.containers?.[0]?.container_id;
  });
  // The task has run its first command once its sandbox has the marker file.
  await waitLong("the sleeper's marker file", () =>
    readdirSync(agent.workDir, { recursive: true, encoding: "utf8" }).some((f) =>
      f.endsWith("/runs/latest/here.txt"),
    ),
  );
  partial.parent = parent;
  return partial;
}

let main: Cluster;

/** The main agent's `--http_heartbeat_interval`, short so idle sessions show heartbeats. */
const HEARTBEAT_NS = 100_000_000;

before(async () => {
  main = await startCluster({ http_heartbeat_interval: "100ms" });
});

after(async () => {
  for (const { sleeper } of clusters) {
    if (sleeper.exitCode !== null) continue;
    const exited = new Promise((resolve) => sleeper.once("exit", resolve));
    sleeper.kill("SIGINT");
    await exited;
  }
  await stopAll();
});

/** POSTs a JSON agent call; `headers` replace the defaults. */
function call(
  body: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<Response> {
  return fetch(`${current.agent.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...headers },
    body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
    ...(signal === undefined ? {} : { signal }),
  });
}

function child(): ContainerID {
  return { value: randomUUID(), parent: current.parent };
}

/** Starts a session; resolves with the streaming response (headers read). */
function launchSession(
  containerId: ContainerID,
  command: Record<string, unknown>,
  messageAccept = "application/json",
  signal?: AbortSignal,
): Promise<Response> {
  return call(
    {
      type: "LAUNCH_NESTED_CONTAINER_SESSION",
      launch_nested_container_session: { container_id: containerId, command },
    },
    { Accept: "application/recordio", "Message-Accept": messageAccept },
    signal,
  );
}

/** The output of a session stream, by stream, once the agent ends it. */
async function collect(
  r: Response,
  format: "json" | "protobuf" = "json",
): Promise<{ stdout: string; stderr: string }> {
  const out = { stdout: "", stderr: "" };
  assert.ok(r.body !== null);
  for await (const record of readRecords(r.body as AsyncIterable<Uint8Array>)) {
    const decoded =
      format === "json" ? processIoCodec.decodeJson(record) : processIoCodec.decodeProtobuf(record);
    assert.ok(decoded.ok);
    const data = decoded.value.data;
    if (decoded.value.type !== "DATA" || data === undefined) continue;
    const text = Buffer.from(data.data ?? new Uint8Array()).toString("utf8");
    if (data.type === "STDOUT") out.stdout += text;
    if (data.type === "STDERR") out.stderr += text;
  }
  return out;
}

async function waitStatus(containerId: ContainerID): Promise<number | undefined> {
  const r = await call({
    type: "WAIT_NESTED_CONTAINER",
    wait_nested_container: { container_id: containerId },
  });
  assert.equal(r.status, 200, await r.clone().text());
  const body = (await r.json()) as { wait_nested_container?: { exit_status?: number } };
  return body.wait_nested_container?.exit_status;
}

/** ATTACH_CONTAINER_INPUT with the given ProcessIO records after the container id. */
function attachInput(containerId: ContainerID, records: unknown[]): Promise<Response> {
  const calls = [
    {
      type: "ATTACH_CONTAINER_INPUT",
      attach_container_input: { type: "CONTAINER_ID", container_id: containerId },
    },
    ...records.map((process_io) => ({
      type: "ATTACH_CONTAINER_INPUT",
      attach_container_input: { type: "PROCESS_IO", process_io },
    })),
  ];
  return call(Buffer.concat(calls.map((c) => encodeRecord(JSON.stringify(c)))), {
    "Content-Type": "application/recordio",
    "Message-Content-Type": "application/json",
  });
}

function stdin(text: string): unknown {
  return { type: "DATA", data: { type: "STDIN", data: Buffer.from(text).toString("base64") } };
}

test("session: output comes back as ProcessIO STDOUT/STDERR records, WAIT gives the exit status", async () => {
  const id = child();
  const r = await launchSession(id, {
    value: "cat here.txt; echo oops >&2; exit 3",
    shell: true,
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-type"), "application/recordio");
  assert.equal(r.headers.get("message-content-type"), "application/json");
  // It works in the task's sandbox, as Mesos' debug containers.
  assert.deepEqual(await collect(r), { stdout: "marker\n", stderr: "oops\n" });
  assert.equal(await waitStatus(id), 3 << 8);
});

test("session: records are protobuf when Message-Accept asks for it", async () => {
  const id = child();
  const r = await launchSession(
    id,
    { value: "echo", arguments: ["echo", "-n", "in protobuf"], shell: false },
    "application/x-protobuf",
  );
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("message-content-type"), "application/x-protobuf");
  assert.deepEqual(await collect(r, "protobuf"), { stdout: "in protobuf", stderr: "" });
  assert.equal(await waitStatus(id), 0);
});

test("session: ATTACH_CONTAINER_INPUT reaches cat, an empty chunk is EOF; a second reader sees the output too", async () => {
  const id = child();
  const session = await launchSession(id, { value: "cat", arguments: ["cat"], shell: false });
  assert.equal(session.status, 200);
  const output = collect(session);
  const follower = await call(
    { type: "ATTACH_CONTAINER_OUTPUT", attach_container_output: { container_id: id } },
    { Accept: "application/recordio", "Message-Accept": "application/json" },
  );
  assert.equal(follower.status, 200);
  const followed = collect(follower);
  const input = await attachInput(id, [
    {
      type: "CONTROL",
      control: { type: "HEARTBEAT", heartbeat: { interval: { nanoseconds: 1 } } },
    },
    stdin("hello "),
    stdin("session\n"),
    stdin(""),
  ]);
  assert.equal(input.status, 200, await input.text());
  assert.deepEqual(await output, { stdout: "hello session\n", stderr: "" });
  assert.deepEqual(await followed, { stdout: "hello session\n", stderr: "" });
  assert.equal(await waitStatus(id), 0);
});

test("session: ATTACH_CONTAINER_INPUT in protobuf records", async () => {
  const id = child();
  const session = await launchSession(id, { value: "cat", arguments: ["cat"], shell: false });
  assert.equal(session.status, 200);
  const output = collect(session);
  const records = [
    {
      type: "ATTACH_CONTAINER_INPUT",
      attach_container_input: { type: "CONTAINER_ID", container_id: id },
    },
    ...["bytes\n", ""].map((text) => ({
      type: "ATTACH_CONTAINER_INPUT",
      attach_container_input: {
        type: "PROCESS_IO",
        process_io: { type: "DATA", data: { type: "STDIN", data: Buffer.from(text) } },
      },
    })),
  ] as Call[];
  const input = await call(
    Buffer.concat(records.map((c) => encodeRecord(callCodec.encodeProtobuf(c)))),
    {
      "Content-Type": "application/recordio",
      "Message-Content-Type": "application/x-protobuf",
    },
  );
  assert.equal(input.status, 200, await input.text());
  assert.deepEqual(await output, { stdout: "bytes\n", stderr: "" });
  assert.equal(await waitStatus(id), 0);
});

for (const format of ["json", "protobuf"] as const) {
  // Without heartbeats the stream stays silent (cat waits for input): the timeout fails it.
  test(`session: an idle session's output stream carries CONTROL HEARTBEAT records (${format})`, {
    timeout: 20_000,
  }, async () => {
    const id = child();
    const accept = format === "json" ? "application/json" : "application/x-protobuf";
    const r = await launchSession(id, { value: "cat", arguments: ["cat"], shell: false }, accept);
    assert.equal(r.status, 200);
    assert.ok(r.body !== null);
    const records = readRecords(r.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    const next = async (): Promise<ProcessIO | undefined> => {
      const item = await records.next();
      if (item.done === true) return undefined;
      const decoded =
        format === "json"
          ? processIoCodec.decodeJson(item.value)
          : processIoCodec.decodeProtobuf(item.value);
      assert.ok(decoded.ok);
      return decoded.value;
    };
    // cat waits for its input, so the first record can only be a heartbeat.
    const first = await next();
    assert.deepEqual(first, {
      type: "CONTROL",
      control: { type: "HEARTBEAT", heartbeat: { interval: { nanoseconds: HEARTBEAT_NS } } },
    });
    const input = await attachInput(id, [stdin("done\n"), stdin("")]);
    assert.equal(input.status, 200, await input.text());
    let stdout = "";
    for (let io = await next(); io !== undefined; io = await next()) {
      if (io.data?.type === "STDOUT") stdout += Buffer.from(io.data.data ?? []).toString("utf8");
    }
    assert.equal(stdout, "done\n");
    assert.equal(await waitStatus(id), 0);
  });
}

test("session heartbeats: one per interval on the agent's clock, no timer left once stopped", () => {
  const clock = new ManualClock();
  let beats = 0;
  const stop = repeatEvery(clock, 100, () => {
    beats += 1;
  });
  clock.advance(350);
  assert.equal(beats, 3);
  stop();
  assert.equal(clock.pendingTimers, 0);
  clock.advance(1000);
  assert.equal(beats, 3);
  // A zero interval schedules nothing.
  repeatEvery(clock, 0, () => assert.fail("no heartbeat expected"));
  assert.equal(clock.pendingTimers, 0);
});

test("session: a client that disconnects kills the session container", async () => {
  const id = child();
  const abort = new AbortController();
  const r = await launchSession(id, { value: "sleep 100", shell: true }, undefined, abort.signal);
  assert.equal(r.status, 200);
  abort.abort();
  // SIGKILL: wait status 9.
  assert.equal(await waitStatus(id), 9);
});

test("session calls refuse bad requests with Mesos' statuses", async () => {
  const unknownParent = await launchSession(
    { value: randomUUID(), parent: { value: "no-such-container" } },
    { value: "true" },
  );
  // Mesos' containerizer fails the launch, which its agent answers 400.
  assert.equal(unknownParent.status, 400);
  assert.equal(await unknownParent.text(), "Parent container no-such-container does not exist");

  const noParent = await launchSession({ value: randomUUID() }, { value: "true" });
  assert.equal(noParent.status, 400);
  assert.match(await noParent.text(), /container_id\.parent' to be present/);

  const tty = await call(
    {
      type: "LAUNCH_NESTED_CONTAINER_SESSION",
      launch_nested_container_session: {
        container_id: child(),
        command: { value: "true" },
        container: { type: "MESOS", tty_info: {} },
      },
    },
    { Accept: "application/recordio", "Message-Accept": "application/json" },
  );
  assert.equal(tty.status, 501);
  assert.match(await tty.text(), /TTY/);

  const noContainerId = await call(
    encodeRecord(
      JSON.stringify({
        type: "ATTACH_CONTAINER_INPUT",
        attach_container_input: { type: "CONTAINER_ID" },
      }),
    ),
    { "Content-Type": "application/recordio", "Message-Content-Type": "application/json" },
  );
  assert.equal(noContainerId.status, 400);
  assert.match(await noContainerId.text(), /container_id' is invalid/);

  const unknown = await call(
    {
      type: "ATTACH_CONTAINER_OUTPUT",
      attach_container_output: {
        container_id: { value: "x", parent: { value: "no-such-container" } },
      },
    },
    { Accept: "application/recordio", "Message-Accept": "application/json" },
  );
  assert.equal(unknown.status, 404);

  const notSession = await attachInput({ value: "not-a-session", parent: current.parent }, [
    stdin(""),
  ]);
  assert.equal(notSession.status, 500);
  assert.match(await notSession.text(), /only attaches to running container sessions/);
});

const cgroupsSkip = isolationSkipReason(["cpu", "memory", "freezer"]);

test("session under the linux launcher with cgroups and a pid namespace: output, exit status, kill on disconnect", {
  skip: cgroupsSkip,
}, async () => {
  const linux = await startCluster({
    isolation: "cgroups/cpu,cgroups/mem,namespaces/pid,filesystem/linux",
    launcher: "linux",
    cgroups_root: CGROUPS_ROOT,
  });
  try {
    const id = child();
    const r = await launchSession(id, { value: "cat here.txt; exit 5", shell: true });
    assert.equal(r.status, 200);
    assert.deepEqual(await collect(r), { stdout: "marker\n", stderr: "" });
    assert.equal(await waitStatus(id), 5 << 8);

    const killed = child();
    const abort = new AbortController();
    const sleeping = await launchSession(
      killed,
      { value: "sleep 100", shell: true },
      undefined,
      abort.signal,
    );
    assert.equal(sleeping.status, 200);
    abort.abort();
    assert.equal(await waitStatus(killed), 9);
  } finally {
    current = main;
    const exited = new Promise((resolve) => linux.sleeper.once("exit", resolve));
    linux.sleeper.kill("SIGINT");
    await exited;
    await linux.agent.stop();
    const found = CgroupsHierarchy.detect("/sys/fs/cgroup", CGROUPS_ROOT);
    if (!("error" in found)) removeRootCgroups(found);
  }
});
