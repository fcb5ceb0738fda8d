/**
 * The real bin/mesos-agent against the real bin/mesos-master on loopback,
 * with real command executors, driven by a minimal v1 scheduler written
 * here (so the test sees every event and decides when to acknowledge).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { RecordIoDecoder } from "../../src/common/recordio/index.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import {
  type DaemonHandle,
  getJson,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
  waitForAgents,
} from "../harness/processes.js";

type Json = Record<string, unknown>;

interface Id {
  value: string;
}

interface StatusJson {
  task_id: Id;
  state: string;
  uuid?: string;
  agent_id?: Id;
  reason?: string;
  message?: string;
}

/** The parts of scheduler events these tests read. */
interface EventJson {
  type: string;
  subscribed?: { framework_id: Id };
  offers?: { offers: { id: Id; agent_id: Id }[] };
  update?: { status: StatusJson };
}

interface ExecutorJson {
  id: string;
  directory: string;
}

interface FrameworkJson {
  executors: ExecutorJson[];
  completed_executors: ExecutorJson[];
}

/** The parts of the agent's /state these tests read. */
interface AgentStateJson {
  id?: string;
  pid?: string;
  resources?: unknown;
  frameworks?: FrameworkJson[];
  completed_frameworks?: FrameworkJson[];
}

/** The status carried by an UPDATE event. */
function statusOf(e: EventJson): StatusJson {
  if (e.update === undefined) throw new Error(`not an UPDATE event: ${e.type}`);
  return e.update.status;
}

/** A v1 scheduler speaking JSON, keeping every event. */
class TestScheduler {
  readonly events: EventJson[] = [];
  frameworkId = "";
  private streamId = "";
  private readonly abort = new AbortController();

  private constructor(private readonly masterUrl: string) {}

  static async subscribe(masterUrl: string, framework: Json = {}): Promise<TestScheduler> {
    const s = new TestScheduler(masterUrl);
    const response = await fetch(`${masterUrl}/api/v1/scheduler`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({
        type: "SUBSCRIBE",
        subscribe: { framework_info: { user: "root", name: "agent-test", ...framework } },
      }),
      signal: s.abort.signal,
    });
    if (response.status !== 200) {
      assert.fail(`SUBSCRIBE answered ${response.status}: ${await response.text()}`);
    }
    s.streamId = response.headers.get("mesos-stream-id") ?? "";
    void s.read(response);
    const subscribed = await s.next((e) => e.type === "SUBSCRIBED");
    s.frameworkId = subscribed.subscribed?.framework_id.value ?? "";
    return s;
  }

  private async read(response: Response): Promise<void> {
    const decoder = new RecordIoDecoder();
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        for (const record of decoder.decode(chunk))
          this.events.push(JSON.parse(record.toString()) as EventJson);
      }
    } catch {
      // Stream closed.
    }
  }

  /** The first event (from `from` on) matching `pred`. */
  async next(pred: (e: EventJson) => boolean, timeoutMs = 30_000, from = 0): Promise<EventJson> {
    return waitFor("a scheduler event", () => this.events.slice(from).find(pred), {
      timeoutMs,
      intervalMs: 20,
    });
  }

  async call(body: Json): Promise<number> {
    const response = await fetch(`${this.masterUrl}/api/v1/scheduler`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Mesos-Stream-Id": this.streamId },
      body: JSON.stringify({ framework_id: { value: this.frameworkId }, ...body }),
    });
    await response.text();
    return response.status;
  }

  /** Launches one task on the first offer; returns the agent id. */
  async launch(task: Json): Promise<string> {
    const offers = await this.next((e) => e.type === "OFFERS");
    const offer = offers.offers?.offers[0];
    if (offer === undefined) throw new Error("an OFFERS event without offers");
    const status = await this.call({
      type: "ACCEPT",
      accept: {
        offer_ids: [offer.id],
        operations: [
          {
            type: "LAUNCH",
            launch: {
              task_infos: [
                {
                  agent_id: offer.agent_id,
                  resources: [
                    { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
                    { name: "mem", type: "SCALAR", scalar: { value: 32 } },
                  ],
                  ...task,
                },
              ],
            },
          },
        ],
      },
    });
    assert.equal(status, 202);
    return offer.agent_id.value;
  }

  /** The first UPDATE for `taskId` in one of `states`. */
  update(taskId: string, states: string[], timeoutMs = 30_000): Promise<EventJson> {
    return this.next(
      (e) =>
        e.type === "UPDATE" &&
        statusOf(e).task_id.value === taskId &&
        states.includes(statusOf(e).state),
      timeoutMs,
    );
  }

  async acknowledge(update: EventJson): Promise<void> {
    const status = statusOf(update);
    if (status.uuid === undefined) return;
    await this.call({
      type: "ACKNOWLEDGE",
      acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid },
    });
  }

  /** Acknowledges every update as it arrives, until stopped. */
  autoAcknowledge(): () => void {
    let seen = 0;
    const timer = setInterval(() => {
      const fresh = this.events.slice(seen);
      seen = this.events.length;
      for (const e of fresh) if (e.type === "UPDATE") void this.acknowledge(e);
    }, 20);
    return () => clearInterval(timer);
  }

  /** TEARDOWN (frees its offers and tasks for the next test), then closes the stream. */
  async teardown(): Promise<void> {
    await this.call({ type: "TEARDOWN" }).catch(() => undefined);
    this.close();
  }

  close(): void {
    this.abort.abort();
  }
}

/** The sandbox of a task's executor, from the agent's /state. */
async function sandboxOf(agent: DaemonHandle, taskId: string): Promise<string> {
  return waitFor(`the sandbox of ${taskId}`, async () => {
    const state = await getJson<AgentStateJson>(`${agent.url}/state`);
    for (const f of state?.frameworks ?? []) {
      for (const e of [...f.executors, ...f.completed_executors]) {
        if (e.id === taskId) return e.directory;
      }
    }
    for (const f of state?.completed_frameworks ?? []) {
      for (const e of f.completed_executors) if (e.id === taskId) return e.directory;
    }
    return undefined;
  });
}

/** Pids of processes whose environment says they belong to `sandbox`. */
function processesOfSandbox(sandbox: string): number[] {
  const marker = `MESOS_DIRECTORY=${sandbox}\0`;
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`, "latin1");
      if (`${env}\0`.includes(marker)) found.push(Number(name));
    } catch {
      // gone or not readable
    }
  }
  return found;
}

describe("mesos-agent with a real master", { timeout: 120_000 }, () => {
  let master: DaemonHandle;
  let agent: DaemonHandle;
  let fileServer: Server;
  let fileServerUrl = "";
  let cachedDownloads = 0;
  const schedulers: TestScheduler[] = [];

  before(async () => {
    ({ master, agent } = await startOneAgentCluster({
      fetcher_cache_dir: tempDir("agent-test-fetch-cache-"),
    }));
    const files = tempDir("agent-test-files-");
    execFileSync("sh", [
      "-c",
      `mkdir -p "${files}/pkg" && echo "hello from the archive" > "${files}/pkg/hello.txt" && tar -czf "${files}/pkg.tar.gz" -C "${files}" pkg`,
    ]);
    fileServer = createServer((req, res) => {
      // Downloads only: the fetcher cache asks for the size with HEAD first.
      if (req.url === "/cached.tar.gz" && req.method === "GET") cachedDownloads++;
      if (req.url === "/pkg.tar.gz" || req.url === "/cached.tar.gz") {
        const body = readFileSync(join(files, "pkg.tar.gz"));
        res.writeHead(200, { "Content-Type": "application/gzip", "Content-Length": body.length });
        res.end(req.method === "HEAD" ? undefined : body);
      } else {
        res.writeHead(404);
        res.end("not here");
      }
    });
    await new Promise<void>((r) => fileServer.listen(0, "127.0.0.1", r));
    fileServerUrl = `http://127.0.0.1:${(fileServer.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    for (const s of schedulers.splice(0)) await s.teardown();
  });

  after(async () => {
    fileServer?.close();
    await stopAll();
  });

  async function scheduler(framework: Json = {}): Promise<TestScheduler> {
    const s = await TestScheduler.subscribe(master.url, framework);
    schedulers.push(s);
    return s;
  }

  it("registers with the master and gets an agent id", async () => {
    const [id] = await waitForAgents(master, 1);
    const state = await getJson<AgentStateJson>(`${agent.url}/state`);
    assert.equal(state?.id, id);
    assert.match(String(id), /-S\d+$/);
    assert.equal(state?.pid, `slave(1)@${agent.address}`);
    assert.deepEqual(state?.resources, {
      cpus: 2,
      disk: 1024,
      gpus: 0,
      mem: 1024,
      ports: "[31000-32000]",
    });
    const version = await getJson<{ version?: string }>(`${agent.url}/version`);
    assert.equal(version?.version, "1.12.0");
    const flags = await getJson<{ flags: Record<string, string> }>(`${agent.url}/slave(1)/flags`);
    assert.equal(flags?.flags.master, master.address);
    assert.equal((await fetch(`${agent.url}/health`)).status, 200);
  });

  it("runs `echo hello` to TASK_FINISHED with hello in the sandbox stdout", async () => {
    const s = await scheduler();
    const stop = s.autoAcknowledge();
    await s.launch({
      name: "echo",
      task_id: { value: "echo-1" },
      command: { value: "echo hello" },
    });
    const finished = await s.update("echo-1", ["TASK_FINISHED", "TASK_FAILED"]);
    stop();
    assert.equal(statusOf(finished).state, "TASK_FINISHED");
    const sandbox = await sandboxOf(agent, "echo-1");
    assert.ok(sandbox.startsWith(join(agent.workDir, "slaves")));
    assert.equal(readFileSync(join(sandbox, "stdout"), "utf8").trim(), "hello");
    assert.ok(readdirSync(join(sandbox, "..")).includes("latest"));
  });

  it("re-sends a status update until the framework acknowledges it", {
    timeout: 60_000,
  }, async () => {
    const s = await scheduler();
    await s.launch({
      name: "quiet",
      task_id: { value: "unacked-1" },
      command: { value: "sleep 30" },
    });
    const first = await s.update("unacked-1", ["TASK_STARTING", "TASK_RUNNING"]);
    const index = s.events.indexOf(first);
    // Withhold the acknowledgement: the agent re-sends the same update (10 s later).
    const again = await s.next(
      (e) => e.type === "UPDATE" && statusOf(e).uuid === statusOf(first).uuid,
      25_000,
      index + 1,
    );
    assert.equal(statusOf(again).state, statusOf(first).state);
    await s.acknowledge(again);
    await s.call({ type: "KILL", kill: { task_id: { value: "unacked-1" } } });
    const stop = s.autoAcknowledge();
    await s.update("unacked-1", ["TASK_KILLED"]);
    stop();
  });

  it("kills `sleep 100` to TASK_KILLED and leaves no process behind", async () => {
    const s = await scheduler();
    const stop = s.autoAcknowledge();
    await s.launch({
      name: "sleeper",
      task_id: { value: "sleep-1" },
      command: { value: "sleep 100" },
    });
    await s.update("sleep-1", ["TASK_RUNNING"]);
    const sandbox = await sandboxOf(agent, "sleep-1");
    assert.ok(processesOfSandbox(sandbox).length >= 2, "executor and task are running");
    assert.equal(await s.call({ type: "KILL", kill: { task_id: { value: "sleep-1" } } }), 202);
    const killed = await s.update("sleep-1", ["TASK_KILLED", "TASK_FAILED"]);
    stop();
    assert.equal(statusOf(killed).state, "TASK_KILLED");
    await waitFor(
      "the container's processes to be gone",
      () => processesOfSandbox(sandbox).length === 0,
    );
  });

  it("fetches a tar.gz over HTTP and extracts it into the sandbox", async () => {
    const s = await scheduler();
    const stop = s.autoAcknowledge();
    await s.launch({
      name: "fetch",
      task_id: { value: "fetch-1" },
      command: { value: "cat pkg/hello.txt", uris: [{ value: `${fileServerUrl}/pkg.tar.gz` }] },
    });
    const done = await s.update("fetch-1", ["TASK_FINISHED", "TASK_FAILED"]);
    stop();
    assert.equal(statusOf(done).state, "TASK_FINISHED", statusOf(done).message);
    const sandbox = await sandboxOf(agent, "fetch-1");
    assert.equal(readFileSync(join(sandbox, "stdout"), "utf8").trim(), "hello from the archive");
    assert.equal(
      readFileSync(join(sandbox, "pkg", "hello.txt"), "utf8"),
      "hello from the archive\n",
    );
  });

  it("downloads a URI with cache: true once for two tasks", async () => {
    for (const id of ["cached-1", "cached-2"]) {
      // One framework per task, as in the other tests here: each launch takes a fresh offer.
      const s = await scheduler();
      const stop = s.autoAcknowledge();
      await s.launch({
        name: "cached",
        task_id: { value: id },
        command: {
          value: "cat pkg/hello.txt",
          uris: [{ value: `${fileServerUrl}/cached.tar.gz`, cache: true }],
        },
      });
      const done = await s.update(id, ["TASK_FINISHED", "TASK_FAILED"]);
      stop();
      await s.teardown();
      assert.equal(statusOf(done).state, "TASK_FINISHED", statusOf(done).message);
      const sandbox = await sandboxOf(agent, id);
      assert.equal(readFileSync(join(sandbox, "stdout"), "utf8").trim(), "hello from the archive");
    }
    assert.equal(cachedDownloads, 1);
  });

  it("fails the task readably when a URI answers 404", async () => {
    const s = await scheduler();
    const stop = s.autoAcknowledge();
    await s.launch({
      name: "missing",
      task_id: { value: "fetch-404" },
      command: { value: "true", uris: [{ value: `${fileServerUrl}/missing.tar.gz` }] },
    });
    const failed = await s.update("fetch-404", ["TASK_FAILED", "TASK_FINISHED"]);
    stop();
    const status = statusOf(failed);
    assert.equal(status.state, "TASK_FAILED");
    assert.equal(status.reason, "REASON_CONTAINER_LAUNCH_FAILED");
    assert.match(status.message ?? "", /missing\.tar\.gz.*HTTP return code 404/);
    const sandbox = await sandboxOf(agent, "fetch-404");
    assert.match(
      readFileSync(join(sandbox, "stderr"), "utf8"),
      /Failed to fetch '.*missing\.tar\.gz': Error downloading resource, received HTTP return code 404/,
    );
  });

  it("runs the executor and task as the framework's user when the agent runs as root", {
    skip: process.getuid?.() !== 0 ? "needs root" : false,
  }, async () => {
    const s = await scheduler({ user: "nobody" });
    const stop = s.autoAcknowledge();
    await s.launch({ name: "who", task_id: { value: "whoami-1" }, command: { value: "id -un" } });
    const done = await s.update("whoami-1", ["TASK_FINISHED", "TASK_FAILED"]);
    stop();
    assert.equal(statusOf(done).state, "TASK_FINISHED", statusOf(done).message);
    const sandbox = await sandboxOf(agent, "whoami-1");
    assert.equal(readFileSync(join(sandbox, "stdout"), "utf8").trim(), "nobody");
  });

  it("fails the task clearly when the framework's user does not exist", {
    skip: process.getuid?.() !== 0 ? "needs root" : false,
  }, async () => {
    const s = await scheduler({ user: "no-such-user-x" });
    const stop = s.autoAcknowledge();
    await s.launch({ name: "ghost", task_id: { value: "ghost-1" }, command: { value: "true" } });
    const failed = await s.update("ghost-1", ["TASK_FAILED", "TASK_FINISHED"]);
    stop();
    assert.equal(statusOf(failed).reason, "REASON_CONTAINER_LAUNCH_FAILED");
    assert.match(statusOf(failed).message ?? "", /user 'no-such-user-x' does not exist/);
  });

  it("answers the executor API's bad requests as Mesos does", async () => {
    const url = `${agent.url}/api/v1/executor`;
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...headers },
        body,
      });
    const ids = { framework_id: { value: "F" }, executor_id: { value: "E" } };
    assert.equal((await post(JSON.stringify({ ...ids, type: "SUBSCRIBE" }))).status, 400);
    const badUuid = await post(
      JSON.stringify({
        ...ids,
        type: "UPDATE",
        update: {
          status: {
            task_id: { value: "t" },
            state: "TASK_RUNNING",
            source: "SOURCE_EXECUTOR",
            uuid: Buffer.from("not-a-uuid").toString("base64"),
          },
        },
      }),
    );
    assert.equal(badUuid.status, 400);
    assert.match(await badUuid.text(), /Not a valid UUID/);
    assert.equal((await post("{")).status, 400);
    assert.equal((await post("{}", { "Content-Type": "text/plain" })).status, 415);
    assert.equal((await fetch(url)).status, 405);
    const unknown = await post(JSON.stringify({ ...ids, type: "SUBSCRIBE", subscribe: {} }));
    assert.equal(unknown.status, 400);
    assert.equal(await unknown.text(), "Framework cannot be found");
    const heartbeat = await post(JSON.stringify({ ...ids, type: "HEARTBEAT" }));
    assert.equal(heartbeat.status, 202);
  });
});

describe("mesos-agent executors and agent failure", { timeout: 120_000 }, () => {
  after(stopAll);

  it("re-registers with the same id when the master restarts", async () => {
    const {
      master,
      agent,
      agentId: id,
    } = await startOneAgentCluster({ registration_backoff_factor: "100ms" });
    await waitFor("the agent to know its id", async () => {
      const state = await getJson<AgentStateJson>(`${agent.url}/state`);
      return state?.id === id;
    });
    master.kill("SIGKILL");
    await master.exited;
    const restarted = await startMaster({ port: master.port });
    const [again] = await waitForAgents(restarted, 1);
    assert.equal(again, id, agent.logs());
  });

  it("keeps executors running when the agent is SIGKILLed", async () => {
    const { master, agent } = await startOneAgentCluster();
    const s = await TestScheduler.subscribe(master.url, { checkpoint: true });
    const stop = s.autoAcknowledge();
    try {
      await s.launch({
        name: "survivor",
        task_id: { value: "survivor-1" },
        command: { value: "sleep 60" },
      });
      await s.update("survivor-1", ["TASK_RUNNING"]);
      const sandbox = await sandboxOf(agent, "survivor-1");
      const before = processesOfSandbox(sandbox);
      assert.ok(before.length >= 2, "executor and task run");
      agent.kill("SIGKILL");
      await agent.exited;
      // Give a dying executor time to notice; it must not.
      await new Promise((r) => setTimeout(r, 1500));
      const survivors = processesOfSandbox(sandbox);
      assert.deepEqual(survivors.sort(), before.sort());
      for (const pid of survivors) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    } finally {
      stop();
      s.close();
    }
  });
});
