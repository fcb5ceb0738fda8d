/**
 * The agent's operator surface as a Mesos operator sees it, with real
 * processes: `/state` and `/api/v1` answer 503 while the agent recovers (held
 * deterministically: the executor it waits for is stopped with SIGSTOP), the
 * fetcher and garbage collection metrics, and `/containerizer/debug`.
 */
import assert from "node:assert/strict";
import { appendFileSync, readdirSync, readFileSync, statfsSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { isTerminalState } from "../../src/common/protocol/task-states.js";
import type { Offer, TaskInfo, TaskStatus } from "../../src/scheduler/index.js";
import {
  findOfferResources,
  parseResourceText,
  SchedulerClient,
} from "../../src/scheduler/index.js";
import {
  type DaemonHandle,
  freePort,
  getJson,
  killProcessGroups,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
  waitLong,
} from "../harness/processes.js";
import { closeClients } from "../harness/queued-tasks.js";

const RECOVERING = "Agent has not finished recovery";
const GC_DELAY_SECS = 86_400;
const GC_HEADROOM = 0.5;
const CACHE_BYTES = 10 * 1024 * 1024;

let master: DaemonHandle;
let agent: DaemonHandle;
let agentPort: number;
const workDir = tempDir("agent-recovery-endpoints-");
const executorPids = new Set<number>();
const clients: SchedulerClient[] = [];

function agentFlags(): Record<string, string> {
  return {
    work_dir: workDir,
    registration_backoff_factor: "10ms",
    // The longest Mesos allows: only the executor's re-subscription ends recovery sooner.
    executor_reregistration_timeout: "15secs",
    // One process per executor: the pid a test stops is the executor itself,
    // not a placeholder of a shared executor host that would re-register.
    command_executors_per_process: "1",
    gc_delay: "1days",
    gc_disk_headroom: String(GC_HEADROOM),
    fetcher_cache_dir: join(workDir, "fetch"),
    fetcher_cache_size: "10MB",
  };
}

before(async () => {
  master = await startMaster();
  agentPort = await freePort();
  agent = await startAgent({ master: master.address, port: agentPort, flags: agentFlags() });
});

after(async () => {
  for (const pid of executorPids) {
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      // Already gone.
    }
  }
  killProcessGroups(executorPids);
  await closeClients(clients);
  await stopAll();
});

async function metrics(): Promise<Record<string, number>> {
  const snapshot = await getJson<Record<string, number>>(`${agent.url}/metrics/snapshot`);
  assert.ok(snapshot, "/metrics/snapshot answers 200");
  return snapshot;
}

function v1(url: string, type: string): Promise<Response> {
  return fetch(`${url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ type }),
  });
}

/** A checkpointing framework that launches queued tasks on the agent's offers. */
class Launcher {
  readonly client: SchedulerClient;
  readonly statuses: TaskStatus[] = [];
  private readonly queue: Omit<TaskInfo, "agent_id" | "resources">[] = [];

  constructor(name: string) {
    this.client = new SchedulerClient({
      master: master.address,
      framework: { user: userInfo().username, name, checkpoint: true },
    });
    clients.push(this.client);
    this.client.start({
      offers: (offers) => this.offers(offers),
      update: (status) => {
        this.statuses.push(status);
      },
    });
  }

  private offers(offers: Offer[]): void {
    for (const offer of offers) {
      const wanted = parseResourceText("cpus:0.1;mem:32");
      assert.ok(wanted.ok);
      const resources = findOfferResources(offer, wanted.resources);
      const next = this.queue[0];
      if (next === undefined || resources === undefined) {
        void this.client.decline([offer.id], { refuse_seconds: 3600 });
        continue;
      }
      this.queue.shift();
      void this.client.launch([offer.id], [{ ...next, agent_id: offer.agent_id, resources }]);
    }
  }

  launch(task: Omit<TaskInfo, "agent_id" | "resources">): void {
    this.queue.push(task);
    void this.client.revive();
  }

  /** The task's terminal state, once it has one (RUNNING may come first). */
  terminalState(taskId: string): Promise<string> {
    return waitLong(`a terminal state of ${taskId}`, () => {
      const last = this.statuses.filter((s) => s.task_id.value === taskId).at(-1)?.state;
      return isTerminalState(last) ? last : undefined;
    });
  }

  state(taskId: string): Promise<string> {
    return waitLong(`a terminal or running state of ${taskId}`, () => {
      const last = this.statuses.filter((s) => s.task_id.value === taskId).at(-1)?.state;
      return last === undefined || last === "TASK_STAGING" || last === "TASK_STARTING"
        ? undefined
        : last;
    });
  }
}

let shared: Launcher | undefined;
/** The tests' framework, started by the first test that needs it. */
function framework(): Launcher {
  shared ??= new Launcher("recovery-endpoints");
  return shared;
}

test("agent metrics: executor_directory_max_allowed_age_secs follows --gc_delay, --gc_disk_headroom and disk usage; fetch counters and cache sizes move with fetches", async () => {
  const before = await metrics();
  const fs = statfsSync(workDir);
  const usage = (fs.blocks - fs.bfree) / fs.blocks;
  const expected = GC_DELAY_SECS * Math.max(0, 1 - GC_HEADROOM - usage);
  const age = before["slave/executor_directory_max_allowed_age_secs"];
  assert.ok(age !== undefined, "slave/executor_directory_max_allowed_age_secs is listed");
  assert.ok(Math.abs(age - expected) <= GC_DELAY_SECS * 0.01, `${age} close to ${expected}`);
  assert.equal(before["containerizer/fetcher/task_fetches_succeeded"], 0);
  assert.equal(before["containerizer/fetcher/task_fetches_failed"], 0);
  assert.equal(before["containerizer/fetcher/cache_size_total_bytes"], CACHE_BYTES);
  assert.equal(before["containerizer/fetcher/cache_size_used_bytes"], 0);

  const payload = join(tempDir("fetch-src-"), "payload.txt");
  writeFileSync(payload, "x".repeat(1234));
  const launcher = framework();
  launcher.launch({
    name: "fetch-ok",
    task_id: { value: "fetch-ok" },
    command: {
      shell: true,
      value: "test -f payload.txt",
      uris: [{ value: payload, cache: true }],
    },
  });
  assert.equal(await launcher.terminalState("fetch-ok"), "TASK_FINISHED");
  const ok = await metrics();
  assert.equal(ok["containerizer/fetcher/task_fetches_succeeded"], 1);
  assert.equal(ok["containerizer/fetcher/task_fetches_failed"], 0);
  assert.equal(ok["containerizer/fetcher/cache_size_used_bytes"], 1234);

  launcher.launch({
    name: "fetch-bad",
    task_id: { value: "fetch-bad" },
    command: { shell: true, value: "true", uris: [{ value: join(workDir, "no-such-file") }] },
  });
  assert.equal(await launcher.terminalState("fetch-bad"), "TASK_FAILED");
  const bad = await metrics();
  assert.equal(bad["containerizer/fetcher/task_fetches_succeeded"], 1);
  assert.equal(bad["containerizer/fetcher/task_fetches_failed"], 1);
});

test("agent: /containerizer/debug answers {pending: [...]} (jsonp too) and is listed in /help", async () => {
  const response = await fetch(`${agent.url}/containerizer/debug`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /application\/json/);
  const body = (await response.json()) as { pending?: unknown };
  assert.deepEqual(Object.keys(body), ["pending"]);
  assert.ok(Array.isArray(body.pending));
  for (const p of body.pending as { operation?: unknown; args?: unknown }[]) {
    assert.equal(typeof p.operation, "string");
    assert.equal(typeof p.args, "object");
  }
  const delegated = await fetch(`${agent.url}/slave(1)/containerizer/debug?jsonp=cb`);
  assert.equal(delegated.status, 200);
  assert.match(await delegated.text(), /^cb\(\{"pending":\[.*\]\}\)$/);
  const help = await (await fetch(`${agent.url}/help/slave(1)`)).text();
  assert.match(help, /containerizer\/debug/);
});

test("agent recovery: /state, /slave(1)/state, /state.json and /api/v1 answer 503 until recovery ends; /health, /flags, /metrics do not; slave/recovery_errors counts skipped checkpoints", async () => {
  const launcher = framework();
  launcher.launch({
    name: "long",
    task_id: { value: "long" },
    command: { shell: true, value: "sleep 600" },
  });
  assert.equal(await launcher.state("long"), "TASK_RUNNING");
  const meta = join(workDir, "meta");
  const pidFile = await waitLong("forked.pid of the long task's executor", () =>
    (readdirSync(meta, { recursive: true }) as string[])
      .filter((p) => p.endsWith("pids/forked.pid") && !p.split("/").includes("latest"))
      .find((p) => p.includes("/executors/long/")),
  );
  const pid = Number(readFileSync(join(meta, pidFile), "utf8"));
  executorPids.add(pid);
  await waitFor("the agent to show the long task running", async () => {
    const state = await getJson<{ frameworks?: { executors?: { id: string }[] }[] }>(
      `${agent.url}/state`,
    );
    return (state?.frameworks ?? []).some((f) => (f.executors ?? []).some((e) => e.id === "long"));
  });

  // The stopped executor cannot re-subscribe, so the restarted agent stays in recovery.
  process.kill(pid, "SIGSTOP");
  agent.kill("SIGKILL");
  await agent.exited;
  // A record that does not decode in a finished task's updates: one recovery error with --no-strict.
  const finished = (readdirSync(meta, { recursive: true }) as string[]).find(
    (p) => p.endsWith("task.updates") && p.includes("/tasks/fetch-ok/"),
  );
  assert.ok(finished, "fetch-ok's task.updates is checkpointed");
  appendFileSync(join(meta, finished), Buffer.from([5, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff]));
  agent = await startAgent({
    master: master.address,
    port: agentPort,
    flags: { ...agentFlags(), strict: "false" },
  });

  for (const path of ["/state", "/slave(1)/state", "/state.json", "/slave(1)/state.json"]) {
    const r = await fetch(`${agent.url}${path}`);
    assert.equal(r.status, 503, `${path} while recovering`);
    assert.match(await r.text(), new RegExp(RECOVERING));
  }
  const call = await v1(agent.url, "GET_STATE");
  assert.equal(call.status, 503);
  assert.match(await call.text(), new RegExp(RECOVERING));
  assert.equal((await fetch(`${agent.url}/health`)).status, 200);
  assert.equal((await fetch(`${agent.url}/flags`)).status, 200);
  const during = await metrics();
  assert.equal(during["slave/recovery_time_secs"], undefined, "no recovery time yet");
  assert.equal(during["slave/recovery_errors"], 1, "the undecodable record is counted");

  process.kill(pid, "SIGCONT");
  await waitLong("/state to answer 200 once recovery ended", async () => {
    const r = await fetch(`${agent.url}/state`);
    await r.arrayBuffer();
    return r.status === 200;
  });
  assert.equal((await v1(agent.url, "GET_STATE")).status, 200);
  assert.ok((await metrics())["slave/recovery_time_secs"] !== undefined);
});

test("agent: recovered but without a master (nothing listens there) /state and GET_STATE answer 200", async () => {
  const nowhere = await freePort();
  const lonely = await startAgent({
    master: `127.0.0.1:${nowhere}`,
    flags: { work_dir: tempDir("agent-no-master-"), registration_backoff_factor: "10ms" },
  });
  await waitFor("/state to answer 200", async () => {
    const r = await fetch(`${lonely.url}/state`);
    await r.arrayBuffer();
    return r.status === 200;
  });
  assert.equal((await v1(lonely.url, "GET_STATE")).status, 200);
  const snapshot = await getJson<Record<string, number>>(`${lonely.url}/metrics/snapshot`);
  assert.equal(snapshot?.["slave/registered"], 0, "the agent is not registered");
  await lonely.stop();
});
