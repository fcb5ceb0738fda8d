/**
 * Status update pipeline, end to end (issue 4): executor -> agent (status
 * update manager) -> master -> scheduler -> ACKNOWLEDGE -> master -> agent.
 * E custom executors (bench/lib/bench-executor.ts, bundled) run T tasks
 * each on a real agent; on a MESSAGE from the scheduler each sends
 * TASK_RUNNING updates carrying their send time, round robin over its
 * tasks, at its share of an offered rate. The scheduler (src/scheduler,
 * protobuf, explicit acknowledgements) acknowledges each update as it
 * arrives.
 *
 * Per offered rate (100, 500, 1000/s, then 1000/s from one executor alone,
 * whose executor library sends one call at a time; repeated `rounds`
 * times): achieved rate (updates acknowledged / time from the phase's
 * start to its last acknowledgement) and the latency from the executor
 * sending an update to the master accepting its ACKNOWLEDGE (202), p50/p99.
 * Several tasks because Mesos keeps one update per task in flight between
 * agent and master (each task's stream waits for its acknowledgement).
 *
 * Target: at least 1,000 updates/s with p99 under 1 s on 2 cores.
 * `npm run bench -- status-update-pipeline [seconds=5] [rounds=1] [executors=10] [tasks=4]`
 * (tasks per executor). `PIPELINE_BENCH_PROFILE=<dir>` writes V8 CPU
 * profiles of master and agent for each phase there.
 */
import { Agent, request } from "node:http";
import type { AgentID, TaskInfo, TaskStatus } from "../src/scheduler/index.js";
import {
  type BenchCluster,
  BenchFramework,
  benchExecutorBundle,
  loopMaxMs,
  procCpuMs,
  quantile,
  resourcesIn,
  round1,
  round2,
  startBenchCluster,
  toggleProfiles,
  waitForNoProcesses,
} from "./lib/cluster.js";
import { isEntryPoint } from "./lib/entry-point.js";
import { reportCase } from "./lib/report.js";

const BENCH = "status-update-pipeline";
const RATES = [100, 500, 1000];

type AckMode = "pool" | "library";

interface Phase {
  rate: number;
  acks: AckMode;
  startedAt: number;
  latencies: number[];
  lastAckAt: number;
  errors: number;
}

/** One phase: `rate` updates/s offered in total, split evenly over `executors`. */
async function phase(
  ctx: Context,
  name: string,
  rate: number,
  executors: ExecutorInfo[],
  acks: AckMode,
): Promise<void> {
  const { fw, cluster, durationMs, phases, agentId } = ctx;
  const expected = Math.floor((durationMs * rate) / 1000 / executors.length) * executors.length;
  const p: Phase = { rate, acks, startedAt: now(), latencies: [], lastAckAt: 0, errors: 0 };
  phases.set(name, p);
  const masterPid = cluster.master.child.pid ?? 0;
  const agentPid = cluster.agent.child.pid ?? 0;
  const cpu0 = { master: procCpuMs(masterPid), agent: procCpuMs(agentPid) };
  const each = rate / executors.length;
  if (ctx.profiling) toggleProfiles(cluster);
  await Promise.all(
    executors.map((e) =>
      fw.client.message(agentId, e.executor_id, `rate ${each} ${durationMs} ${name}`),
    ),
  );
  await fw.until(
    `${expected} acknowledgements at ${rate}/s`,
    () => p.latencies.length + p.errors >= expected,
    durationMs + 90_000,
  );
  const end = now();
  if (ctx.profiling) toggleProfiles(cluster);
  const elapsed = (p.lastAckAt - p.startedAt) / 1000;
  const tasks = executors.length * ctx.tasksPerExecutor;
  if (ctx.report === false) return;
  reportCase(
    BENCH,
    `offered ${rate}/s for ${durationMs / 1000}s, ${executors.length} executor(s) x ${ctx.tasksPerExecutor} tasks, ${acks === "pool" ? "acks on 8 connections" : "acks through the library"}`,
    {
      updates: p.latencies.length,
      errors: p.errors,
      achieved_per_s: round1(p.latencies.length / elapsed),
      ack_latency_ms_p50: quantile(p.latencies, 0.5),
      ack_latency_ms_p99: quantile(p.latencies, 0.99),
      ack_latency_ms_max: quantile(p.latencies, 1),
      tasks,
      master_cpu_ms_per_update: round2((procCpuMs(masterPid) - cpu0.master) / p.latencies.length),
      agent_cpu_ms_per_update: round2((procCpuMs(agentPid) - cpu0.agent) / p.latencies.length),
      master_loop_max_ms: loopMaxMs(cluster.probeDir, masterPid, p.startedAt, end),
      agent_loop_max_ms: loopMaxMs(cluster.probeDir, agentPid, p.startedAt, end),
      target_per_s: 1000,
      target_p99_ms: 1000,
    },
  );
}

type ExecutorInfo = NonNullable<TaskInfo["executor"]>;

interface Context {
  fw: BenchFramework;
  cluster: BenchCluster;
  durationMs: number;
  phases: Map<string, Phase>;
  agentId: AgentID;
  tasksPerExecutor: number;
  profiling: boolean;
  /** False for the warm-up phase. */
  report?: boolean;
}

const now = () => performance.timeOrigin + performance.now();

const ackAgent = new Agent({ keepAlive: true, maxSockets: 8 });

/**
 * ACKNOWLEDGE over a pool of 8 keep-alive connections (JSON), as a
 * framework that acknowledges in parallel would: the scheduler library
 * sends its calls one at a time on one connection.
 */
function pooledAck(port: number, fw: BenchFramework, status: TaskStatus): Promise<{ ok: boolean }> {
  const streamId = fw.client.streamId;
  const frameworkId = fw.client.frameworkId;
  if (streamId === undefined || frameworkId === undefined || status.uuid === undefined) {
    return Promise.resolve({ ok: false });
  }
  const body = JSON.stringify({
    framework_id: frameworkId,
    type: "ACKNOWLEDGE",
    acknowledge: {
      agent_id: status.agent_id,
      task_id: status.task_id,
      uuid: Buffer.from(status.uuid).toString("base64"),
    },
  });
  return new Promise((resolve) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/api/v1/scheduler",
        method: "POST",
        agent: ackAgent,
        headers: {
          "Content-Type": "application/json",
          "Content-Length": Buffer.byteLength(body),
          "Mesos-Stream-Id": streamId,
        },
      },
      (res) => {
        res.resume();
        res.once("end", () => resolve({ ok: res.statusCode === 202 }));
      },
    );
    req.once("error", () => resolve({ ok: false }));
    req.end(body);
  });
}

/** Runs the benchmark: `[seconds=5] [rounds=1] [executors=10] [tasks per executor=4]`. */
export async function run(args: string[]): Promise<void> {
  const seconds = Number(args[0] ?? 5);
  const rounds = Number(args[1] ?? 1);
  const executorCount = Number(args[2] ?? 10);
  const tasksPerExecutor = Number(args[3] ?? 4);
  const profileDir = process.env.PIPELINE_BENCH_PROFILE;
  const cluster = await startBenchCluster(profileDir === undefined ? {} : { profileDir });
  const fw = new BenchFramework(cluster.master.address, BENCH, { autoAcknowledge: false });
  const phases = new Map<string, Phase>();
  fw.onUpdate = (status: TaskStatus) => {
    const words = (status.message ?? "").split(" ");
    const p = words[0] === "b" ? phases.get(words[1] ?? "") : undefined;
    const sentAt = Number(words[3]);
    const acked =
      p?.acks === "pool"
        ? pooledAck(cluster.master.port, fw, status)
        : fw.client.acknowledge(status);
    void acked.then((r) => {
      if (p === undefined) return;
      if (!r.ok) {
        p.errors++;
        return;
      }
      const at = now();
      p.latencies.push(at - sentAt);
      p.lastAckAt = Math.max(p.lastAckAt, at);
    });
  };
  try {
    const offer = await fw.nextOffer();
    const executors: ExecutorInfo[] = Array.from({ length: executorCount }, (_, i) => ({
      executor_id: { value: `pipeline-executor-${i}` },
      framework_id: { value: fw.client.frameworkId?.value ?? "" },
      command: {
        shell: false,
        value: process.execPath,
        arguments: [process.execPath, benchExecutorBundle()],
      },
      resources: resourcesIn(offer, "cpus:0.1;mem:64"),
    }));
    const resources = resourcesIn(offer, "cpus:0.01;mem:1");
    const tasks: TaskInfo[] = executors.flatMap((executor, e) =>
      Array.from({ length: tasksPerExecutor }, (_, i) => ({
        name: `u${e}-${i}`,
        task_id: { value: `u${e}-${i}` },
        agent_id: offer.agent_id,
        resources,
        executor,
      })),
    );
    await fw.client.launch([offer.id], tasks);
    await fw.until(
      `${tasks.length} tasks running`,
      () => fw.reached("TASK_RUNNING") >= tasks.length,
      60_000,
    );
    const ctx: Context = {
      fw,
      cluster,
      durationMs: seconds * 1000,
      phases,
      agentId: offer.agent_id,
      tasksPerExecutor,
      profiling: profileDir !== undefined,
    };
    // Warm-up (JIT, connections), not reported.
    await phase({ ...ctx, durationMs: 1000, report: false }, "warm-up", 100, executors, "pool");
    for (let round = 0; round < rounds; round++) {
      for (const rate of RATES) await phase(ctx, `${rate}/${round}`, rate, executors, "pool");
      // The libraries' own lanes: the scheduler library sends one call at a
      // time (so do the acknowledgements), and so does one executor.
      await phase(ctx, `library/${round}`, 100, executors, "library");
      await phase(ctx, `single/${round}`, 500, executors.slice(0, 1), "pool");
    }
    await Promise.all(tasks.map((t) => fw.client.kill(t.task_id, offer.agent_id)));
    await fw.until("tasks killed", () => fw.reached("TASK_KILLED") >= tasks.length, 120_000);
    await fw.close();
    const orphans = await waitForNoProcesses(cluster.sandboxMarker, 20_000);
    if (orphans > 0) process.stderr.write(`${BENCH}: ${orphans} process(es) left behind\n`);
  } finally {
    await fw.close().catch(() => {});
    ackAgent.destroy();
    await cluster.stop();
  }
}

if (isEntryPoint(import.meta.url)) await run(process.argv.slice(2));
