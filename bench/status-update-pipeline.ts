/**
 * Status update pipeline, end to end (issue 4): executor -> agent (status
 * update manager) -> master -> scheduler -> ACKNOWLEDGE -> master -> agent.
 * One custom executor (bench/lib/bench-executor.ts, bundled) runs T tasks
 * on a real agent; on a MESSAGE from the scheduler it sends TASK_RUNNING
 * updates carrying their send time, round robin over its tasks, at an
 * offered rate. The scheduler (src/scheduler, JSON... protobuf by default,
 * explicit acknowledgements) acknowledges each update as it arrives.
 *
 * Per offered rate (100, 500, 1000/s; repeated `rounds` times,
 * interleaved): achieved rate (updates acknowledged / time from the phase's
 * start to its last acknowledgement) and the latency from the executor
 * sending an update to the master accepting its ACKNOWLEDGE (202), p50/p99.
 * Several tasks because Mesos keeps one update per task in flight between
 * agent and master (each task's stream waits for its acknowledgement).
 *
 * Target: at least 1,000 updates/s with p99 under 1 s on 2 cores.
 * `npm run bench -- status-update-pipeline [seconds=5] [rounds=1] [tasks=20]`.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
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
  waitForNoProcesses,
} from "./lib/cluster.js";
import { reportCase } from "./lib/report.js";

const BENCH = "status-update-pipeline";
const RATES = [100, 500, 1000];

interface Phase {
  rate: number;
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
): Promise<void> {
  const { fw, cluster, durationMs, phases, agentId } = ctx;
  const expected = Math.floor((durationMs * rate) / 1000 / executors.length) * executors.length;
  const p: Phase = { rate, startedAt: now(), latencies: [], lastAckAt: 0, errors: 0 };
  phases.set(name, p);
  const masterPid = cluster.master.child.pid ?? 0;
  const agentPid = cluster.agent.child.pid ?? 0;
  const cpu0 = { master: procCpuMs(masterPid), agent: procCpuMs(agentPid) };
  const each = rate / executors.length;
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
  const elapsed = (p.lastAckAt - p.startedAt) / 1000;
  const tasks = executors.length * ctx.tasksPerExecutor;
  reportCase(
    BENCH,
    `offered ${rate}/s for ${durationMs / 1000}s, ${executors.length} executor(s) x ${ctx.tasksPerExecutor} tasks`,
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
}

const now = () => performance.timeOrigin + performance.now();

/** Runs the benchmark: `[seconds=5] [rounds=1] [executors=10] [tasks per executor=4]`. */
export async function run(args: string[]): Promise<void> {
  const seconds = Number(args[0] ?? 5);
  const rounds = Number(args[1] ?? 1);
  const executorCount = Number(args[2] ?? 10);
  const tasksPerExecutor = Number(args[3] ?? 4);
  const cluster = await startBenchCluster();
  const fw = new BenchFramework(cluster.master.address, BENCH, { autoAcknowledge: false });
  const phases = new Map<string, Phase>();
  fw.onUpdate = (status: TaskStatus) => {
    const words = (status.message ?? "").split(" ");
    const p = words[0] === "b" ? phases.get(words[1] ?? "") : undefined;
    const sentAt = Number(words[3]);
    void fw.client.acknowledge(status).then((r) => {
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
    };
    for (let round = 0; round < rounds; round++) {
      for (const rate of RATES) await phase(ctx, `${rate}/${round}`, rate, executors);
      // One executor alone: its library sends one call at a time.
      await phase(ctx, `single/${round}`, RATES[RATES.length - 1] ?? 1000, executors.slice(0, 1));
    }
    await Promise.all(tasks.map((t) => fw.client.kill(t.task_id, offer.agent_id)));
    await fw.until("tasks killed", () => fw.reached("TASK_KILLED") >= tasks.length, 120_000);
    await fw.close();
    const orphans = await waitForNoProcesses(cluster.sandboxMarker, 20_000);
    if (orphans > 0) process.stderr.write(`${BENCH}: ${orphans} process(es) left behind\n`);
  } finally {
    await fw.close().catch(() => {});
    await cluster.stop();
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  try {
    return script !== undefined && realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) await run(process.argv.slice(2));
