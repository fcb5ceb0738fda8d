/**
 * Launch throughput on one real agent (issue 4): one v1 framework (the
 * src/scheduler library) accepts N `sleep 600` tasks (`cpus:0.01;mem:32`)
 * in one ACCEPT, waits for every TASK_RUNNING, then kills them all and
 * tears down. Variants, interleaved in one run:
 *
 * - `command-executor`: the full path, one command executor process per
 *   task (`--command_executors_per_process=1`, the Mesos model);
 * - `noop-executor`: a custom ExecutorInfo per task running
 *   bench/lib/bench-executor.ts (bundled), which subscribes and reports
 *   TASK_RUNNING without starting anything: the framework/master/agent/
 *   executor-start-up cost without the task process;
 * - `command-executor-unpaced`: the same on a second master and agent
 *   started with `--executor_launch_concurrency=0` (every executor starts
 *   at once, as in Mesos); the default agent paces them (2 x CPUs at a time);
 * - `command-executor-shared`: the same on an agent with the default
 *   `--command_executors_per_process` (16), or K from `LAUNCH_BENCH_PER_PROCESS`
 *   (32 gave less executor CPU per task than 16 in A/B runs): command
 *   executors share Node processes, K per host; its
 *   executor CPU is the hosts' plus their stand-ins' (src/executor/executor-host.ts);
 *   its agent keeps one idle host (`--executor_pool_size=1`), which the
 *   single-task launches of this variant use;
 * - `raw-spawn`: the same command (`/bin/sh -c "sleep 600"`) spawned N
 *   times at once straight from Node (detached, like executors), the floor.
 *
 * Reported per variant: first ACCEPT -> Nth TASK_RUNNING, ACCEPT ->
 * TASK_RUNNING p50/p99, per-task time divided by the raw baseline's, kill
 * time (first KILL -> Nth TASK_KILLED), the longest event-loop block of the
 * master and of the agent over launch and kill (bench/lib/loop-probe.ts,
 * preloaded into both daemons), CPU of master and agent per task and of
 * each executor until its task ran (user+sys from /proc/<pid>/stat), and
 * the processes of the agent's containers still alive 20 s after teardown
 * (orphans; must be 0). Then single-task ACCEPT -> TASK_RUNNING, repeated.
 * The kill phase also reports master, agent and executor CPU from the first
 * KILL to the last TASK_KILLED, and the median KILL -> TASK_KILLED; next to
 * each daemon's longest event-loop block (wall time, grows with the load)
 * stands the CPU of its costliest stretch (`*_block_cpu_ms`, does not).
 *
 * `npm run bench -- launch-throughput [N=200] [rounds=1] [singles=5]`.
 * `LAUNCH_BENCH_PROFILE=<dir>` writes V8 CPU profiles of master and agent
 * covering each variant's launch and kill there (bench/lib/loop-probe.ts).
 * `LAUNCH_BENCH_DAEMON_NICE=<n>` runs master and agent at niceness n (root).
 * `LAUNCH_BENCH_VARIANTS=command-executor,command-executor-unpaced` runs a subset;
 * `command-executor-pooled` adds single-task launches on a third agent with
 * `--executor_pool_size=1` (a warm pool), interleaved with the others.
 *
 * Targets (Mesos 1.12 on this kind of machine in brackets): 200 tasks
 * running within 10 s [~20 s], stretch 5 s; one task within 100 ms
 * [181 ms]; no orphans [orphans in 1 of 3 runs].
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { agentFlagSchema } from "../src/agent/flags.js";
import { HOSTED_BY_VARIABLE } from "../src/executor/host-protocol.js";
import { COMMAND_EXECUTOR_BUNDLE } from "../src/executor/launch-command.js";
import type { TaskInfo } from "../src/scheduler/index.js";
import { tempDir } from "../test/harness/processes.js";
import {
  type BenchCluster,
  BenchFramework,
  benchExecutorBundle,
  loopMaxCpuMs,
  loopMaxMs,
  procCpuMs,
  processesWith,
  quantile,
  resourcesIn,
  round1,
  round2,
  sleep,
  startBenchCluster,
  toggleProfiles,
  waitForNoProcesses,
} from "./lib/cluster.js";
import { isEntryPoint } from "./lib/entry-point.js";
import { reportCase } from "./lib/report.js";

const BENCH = "launch-throughput";
const FAILED = ["TASK_FAILED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED", "TASK_GONE"];

type Variant =
  | "command-executor"
  | "command-executor-unpaced"
  | "command-executor-shared"
  | "noop-executor";

interface LaunchResult {
  allRunningMs: number;
  runningMs: number[];
  killMs: number;
  masterLoopMs: number;
  agentLoopMs: number;
  /** CPU of the daemon's costliest stretch between two probe ticks (load-independent), launch phase. */
  masterBlockCpuMs: number;
  agentBlockCpuMs: number;
  /** The same in the kill phase. */
  masterKillBlockCpuMs: number;
  agentKillBlockCpuMs: number;
  masterCpuMsPerTask: number;
  agentCpuMsPerTask: number;
  /** The same less the daemon's idle CPU rate over the launch. */
  masterNetCpuMsPerTask: number;
  agentNetCpuMsPerTask: number;
  masterIdleCpuMsPerS: number;
  agentIdleCpuMsPerS: number;
  /** Daemon CPU from the first KILL to the last TASK_KILLED, per task. */
  masterKillCpuMsPerTask: number;
  agentKillCpuMsPerTask: number;
  executorCpuMs: number[];
  /** All executor processes' CPU until the Nth TASK_RUNNING (hosts and stand-ins when shared). */
  executorCpuTotalMs: number;
  /** Executor processes seen (hosts when shared). */
  executorProcesses: number;
  /**
   * CPU from the first KILL to the last TASK_KILLED of each executor still
   * alive then (those that already exited cannot be read: a biased sample,
   * the ones killed last).
   */
  executorKillCpuMs: number[];
  /** First KILL -> each TASK_KILLED. */
  killedMs: number[];
  orphans: number;
}

let frameworks = 0;
let profiling = false;

function taskFor(
  variant: Variant,
  id: string,
  agentId: TaskInfo["agent_id"],
  resources: TaskInfo["resources"],
  executorResources: TaskInfo["resources"],
  frameworkId: string,
): TaskInfo {
  const task: TaskInfo = { name: id, task_id: { value: id }, agent_id: agentId, resources };
  if (variant !== "noop-executor") {
    task.command = { shell: true, value: "sleep 600" };
  } else {
    task.executor = {
      executor_id: { value: id },
      framework_id: { value: frameworkId },
      command: {
        shell: false,
        value: process.execPath,
        arguments: [process.execPath, benchExecutorBundle()],
      },
      resources: executorResources ?? [],
    };
  }
  return task;
}

/** One framework launches `n` tasks in one ACCEPT, then kills them and tears down. */
async function launchAll(
  cluster: BenchCluster,
  variant: Variant,
  n: number,
): Promise<LaunchResult> {
  const { master, agent } = cluster;
  const fw = new BenchFramework(master.address, `${BENCH} ${variant} ${++frameworks}`);
  const failures: string[] = [];
  fw.onUpdate = (status) => {
    if (FAILED.includes(status.state)) {
      failures.push(`${status.task_id.value}: ${status.state} ${status.message ?? ""}`);
    }
  };
  try {
    const offer = await fw.nextOffer();
    const resources = resourcesIn(offer, "cpus:0.01;mem:32");
    const executorResources = resourcesIn(offer, "cpus:0.01;mem:32");
    const frameworkId = fw.client.frameworkId?.value ?? "";
    const ids = Array.from({ length: n }, (_, i) => `${variant}-${frameworks}-${i}`);
    const tasks = ids.map((id) =>
      taskFor(variant, id, offer.agent_id, resources, executorResources, frameworkId),
    );
    const masterPid = master.child.pid ?? 0;
    const agentPid = agent.child.pid ?? 0;
    // What the daemons burn idle (heartbeats, allocation cycles, the loop
    // probe's timer) over the launch is not a cost of the tasks: measured
    // for 2 s first, subtracted in the *_net figures.
    const idle0 = [procCpuMs(masterPid), procCpuMs(agentPid), performance.now()] as const;
    await sleep(2000);
    const idleSpan = performance.now() - idle0[2];
    const masterIdlePerMs = (procCpuMs(masterPid) - idle0[0]) / idleSpan;
    const agentIdlePerMs = (procCpuMs(agentPid) - idle0[1]) / idleSpan;
    const masterCpu0 = procCpuMs(masterPid);
    const agentCpu0 = procCpuMs(agentPid);
    if (profiling) toggleProfiles(cluster);
    const epoch0 = Date.now();
    const t0 = performance.now();
    const accepted = fw.client.launch([offer.id], tasks);
    await fw.until(
      `${n} tasks running`,
      () => {
        if (failures.length > 0)
          throw new Error(`tasks failed: ${failures.slice(0, 3).join("; ")}`);
        return fw.reached("TASK_RUNNING") >= n;
      },
      180_000,
    );
    const answer = await accepted;
    if (!answer.ok) throw new Error(`ACCEPT failed: ${answer.error}`);
    const runningAt = ids.map((id) => (fw.firstAt.get(`TASK_RUNNING ${id}`) as number) - t0);
    const allRunningMs = Math.max(...runningAt);
    const masterCpu = procCpuMs(masterPid) - masterCpu0;
    const agentCpu = procCpuMs(agentPid) - agentCpu0;
    const launchSpan = performance.now() - t0;
    const script = variant === "noop-executor" ? benchExecutorBundle() : COMMAND_EXECUTOR_BUNDLE;
    const executorPids =
      variant === "command-executor-shared"
        ? executorHostsOf(agent.workDir)
        : processesWith(cluster.sandboxMarker)
            .filter((p) => p.argv.includes(script))
            .map((p) => p.pid);
    const executorCpuMs = executorPids.map((pid) => procCpuMs(pid));
    const standInCpuMs =
      variant === "command-executor-shared"
        ? processesWith(`${HOSTED_BY_VARIABLE}=`).reduce(
            (sum, p) => sum + (procCpuMs(p.pid) || 0),
            0,
          )
        : 0;
    const executorCpuTotalMs =
      executorCpuMs.reduce((sum, ms) => sum + (Number.isFinite(ms) ? ms : 0), 0) + standInCpuMs;

    const epochKill = Date.now();
    const masterKill0 = procCpuMs(masterPid);
    const agentKill0 = procCpuMs(agentPid);
    const k0 = performance.now();
    await Promise.all(ids.map((id) => fw.client.kill({ value: id }, offer.agent_id)));
    await fw.until(`${n} tasks killed`, () => fw.reached("TASK_KILLED") >= n, 120_000);
    const killedMs = ids.map((id) => (fw.firstAt.get(`TASK_KILLED ${id}`) as number) - k0);
    const killMs = Math.max(...killedMs);
    const masterKillCpu = procCpuMs(masterPid) - masterKill0;
    const agentKillCpu = procCpuMs(agentPid) - agentKill0;
    // An executor that already exited reads NaN: left out.
    const executorKillCpuMs = executorPids
      .map((pid, i) => procCpuMs(pid) - (executorCpuMs[i] as number))
      .filter((ms) => Number.isFinite(ms));
    const epoch1 = Date.now();
    if (profiling) toggleProfiles(cluster);
    await fw.close();
    const orphans = await waitForNoProcesses(cluster.sandboxMarker, 20_000);
    return {
      allRunningMs,
      runningMs: runningAt,
      killMs,
      masterLoopMs: loopMaxMs(cluster.probeDir, masterPid, epoch0, epoch1),
      agentLoopMs: loopMaxMs(cluster.probeDir, agentPid, epoch0, epoch1),
      masterBlockCpuMs: loopMaxCpuMs(cluster.probeDir, masterPid, epoch0, epochKill),
      agentBlockCpuMs: loopMaxCpuMs(cluster.probeDir, agentPid, epoch0, epochKill),
      masterKillBlockCpuMs: loopMaxCpuMs(cluster.probeDir, masterPid, epochKill, epoch1),
      agentKillBlockCpuMs: loopMaxCpuMs(cluster.probeDir, agentPid, epochKill, epoch1),
      masterCpuMsPerTask: masterCpu / n,
      agentCpuMsPerTask: agentCpu / n,
      masterNetCpuMsPerTask: (masterCpu - masterIdlePerMs * launchSpan) / n,
      agentNetCpuMsPerTask: (agentCpu - agentIdlePerMs * launchSpan) / n,
      masterIdleCpuMsPerS: masterIdlePerMs * 1000,
      agentIdleCpuMsPerS: agentIdlePerMs * 1000,
      masterKillCpuMsPerTask: masterKillCpu / n,
      agentKillCpuMsPerTask: agentKillCpu / n,
      executorCpuMs: variant === "command-executor-shared" ? [] : executorCpuMs,
      executorCpuTotalMs,
      executorProcesses: executorPids.length,
      executorKillCpuMs,
      killedMs,
      orphans,
    };
  } finally {
    if (fw.client.state !== "closed") await fw.close().catch(() => {});
  }
}

/** Executor hosts of the agent whose work directory is `workDir` (their cwd is its executor-hosts). */
function executorHostsOf(workDir: string): number[] {
  const dir = `${workDir}/executor-hosts`;
  return processesWith("MESOS_TS_EXECUTOR_HOST=1")
    .map((p) => p.pid)
    .filter((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/cwd`) === dir;
      } catch {
        return false;
      }
    });
}

interface RawResult {
  allRunningMs: number;
  runningMs: number[];
  killMs: number;
}

/** The floor: `n` detached `/bin/sh -c "sleep 600"` spawned at once from this process. */
async function rawSpawn(n: number, cwd: string): Promise<RawResult> {
  const children: ChildProcess[] = [];
  const spawned: Promise<number>[] = [];
  const exited: Promise<number>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const child = spawn("/bin/sh", ["-c", "sleep 600"], { cwd, detached: true, stdio: "ignore" });
    children.push(child);
    spawned.push(new Promise((r) => child.once("spawn", () => r(performance.now() - t0))));
    exited.push(new Promise((r) => child.once("exit", () => r(performance.now()))));
  }
  const runningMs = await Promise.all(spawned);
  const k0 = performance.now();
  for (const child of children) {
    try {
      process.kill(-(child.pid ?? 0), "SIGTERM");
    } catch {
      // already gone
    }
  }
  const killMs = Math.max(...(await Promise.all(exited))) - k0;
  return { allRunningMs: Math.max(...runningMs), runningMs, killMs };
}

/** ACCEPT -> TASK_RUNNING of one task at a time, `count` times; the task is killed after each. */
async function singles(cluster: BenchCluster, variant: Variant, count: number): Promise<number[]> {
  const fw = new BenchFramework(cluster.master.address, `${BENCH} single ${variant}`);
  const out: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const offer = await fw.nextOffer();
      const id = `single-${variant}-${i}`;
      const task = taskFor(
        variant,
        id,
        offer.agent_id,
        resourcesIn(offer, "cpus:0.01;mem:32"),
        resourcesIn(offer, "cpus:0.01;mem:32"),
        fw.client.frameworkId?.value ?? "",
      );
      const t0 = performance.now();
      void fw.client.launch([offer.id], [task]);
      await fw.until(`${id} running`, () => fw.firstAt.has(`TASK_RUNNING ${id}`), 60_000);
      out.push((fw.firstAt.get(`TASK_RUNNING ${id}`) as number) - t0);
      await fw.client.kill({ value: id }, offer.agent_id);
      await fw.until(`${id} killed`, () => fw.firstAt.has(`TASK_KILLED ${id}`), 60_000);
      // An idle agent between launches (a warm pool refills meanwhile).
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await fw.close().catch(() => {});
  }
  return out;
}

/** Runs the benchmark: `[N=200] [rounds=1] [singles=5]`. */
export async function run(args: string[]): Promise<void> {
  const n = Number(args[0] ?? 200);
  const rounds = Number(args[1] ?? 1);
  const singleCount = Number(args[2] ?? 5);
  const profileDir = process.env.LAUNCH_BENCH_PROFILE;
  profiling = profileDir !== undefined;
  // Pool size and executors per process are explicit: the one-process
  // variants must not change with the agent's defaults.
  const noPool = { executor_pool_size: "0", command_executors_per_process: "1" };
  const cluster = await startBenchCluster(
    profileDir === undefined ? { agentFlags: noPool } : { agentFlags: noPool, profileDir },
  );
  const only = process.env.LAUNCH_BENCH_VARIANTS?.split(",");
  const wanted = (name: string) => only === undefined || only.includes(name);
  // Variants with another agent flag run on a cluster of their own, interleaved.
  const unpaced = wanted("command-executor-unpaced")
    ? await startBenchCluster({ agentFlags: { ...noPool, executor_launch_concurrency: "0" } })
    : undefined;
  // Command executors sharing Node processes (`--command_executors_per_process`).
  const perProcess = process.env.LAUNCH_BENCH_PER_PROCESS;
  const sharedPerProcess = Number(
    perProcess ?? agentFlagSchema.flags.command_executors_per_process.defaultValue?.(),
  );
  const shared = wanted("command-executor-shared")
    ? await startBenchCluster({
        // Pool size 1: a host left idle is kept for the next launch (the
        // single-task figure); a storm's launches never use the pool.
        agentFlags: {
          executor_pool_size: "1",
          ...(perProcess === undefined ? {} : { command_executors_per_process: perProcess }),
        },
      })
    : undefined;
  // Single tasks also on an agent with a warm pool (`--executor_pool_size=1`).
  const pooled = wanted("command-executor-pooled")
    ? await startBenchCluster({
        agentFlags: { executor_pool_size: "1", command_executors_per_process: "1" },
      })
    : undefined;
  // Experiment knob: run master and agent at another niceness (root only).
  const nice = process.env.LAUNCH_BENCH_DAEMON_NICE;
  if (nice !== undefined) {
    for (const d of [cluster.master, cluster.agent]) setPriority(d.child.pid ?? 0, Number(nice));
  }
  const scratch = tempDir("bench-raw-");
  const results = new Map<string, (LaunchResult | RawResult)[]>();
  const add = (name: string, r: LaunchResult | RawResult) =>
    results.set(name, [...(results.get(name) ?? []), r]);
  try {
    benchExecutorBundle();
    for (let round = 0; round < rounds; round++) {
      if (wanted("command-executor")) {
        add("command-executor", await launchAll(cluster, "command-executor", n));
      }
      if (unpaced !== undefined) {
        add("command-executor-unpaced", await launchAll(unpaced, "command-executor-unpaced", n));
      }
      if (shared !== undefined) {
        add("command-executor-shared", await launchAll(shared, "command-executor-shared", n));
      }
      if (wanted("noop-executor"))
        add("noop-executor", await launchAll(cluster, "noop-executor", n));
      add("raw-spawn", await rawSpawn(n, scratch));
    }
    const single = {
      "command-executor": [] as number[],
      "command-executor-pooled": [] as number[],
      "command-executor-shared": [] as number[],
      "noop-executor": [] as number[],
    };
    for (let i = 0; i < singleCount; i++) {
      single["command-executor"].push(...(await singles(cluster, "command-executor", 1)));
      if (pooled !== undefined) {
        single["command-executor-pooled"].push(...(await singles(pooled, "command-executor", 1)));
      }
      if (shared !== undefined) {
        single["command-executor-shared"].push(...(await singles(shared, "command-executor", 1)));
      }
      if (wanted("noop-executor")) {
        single["noop-executor"].push(...(await singles(cluster, "noop-executor", 1)));
      }
    }

    const raw = results.get("raw-spawn") as RawResult[];
    const rawAll = quantile(
      raw.map((r) => r.allRunningMs),
      0.5,
    );
    for (const [name, list] of results) {
      const all = quantile(
        list.map((r) => r.allRunningMs),
        0.5,
      );
      const each = list.flatMap((r) => r.runningMs);
      const row: Record<string, number | string> = {
        accept_to_all_running_ms: all,
        tasks_per_s: round1((n * 1000) / all),
        accept_to_running_ms_p50: quantile(each, 0.5),
        accept_to_running_ms_p99: quantile(each, 0.99),
        per_task_ms: round2(all / n),
        per_task_vs_raw: round1(all / rawAll),
        kill_ms: quantile(
          list.map((r) => r.killMs),
          0.5,
        ),
      };
      if ("orphans" in (list[0] ?? {})) {
        const l = list as LaunchResult[];
        const executorCpu = l.flatMap((r) => r.executorCpuMs);
        const median = (f: (r: LaunchResult) => number) => round1(quantile(l.map(f), 0.5));
        Object.assign(row, {
          kill_ms_p50: quantile(
            l.flatMap((r) => r.killedMs),
            0.5,
          ),
          master_loop_max_ms: Math.max(...l.map((r) => r.masterLoopMs)),
          agent_loop_max_ms: Math.max(...l.map((r) => r.agentLoopMs)),
          master_block_cpu_ms: Math.max(...l.map((r) => r.masterBlockCpuMs)),
          agent_block_cpu_ms: Math.max(...l.map((r) => r.agentBlockCpuMs)),
          master_kill_block_cpu_ms: Math.max(...l.map((r) => r.masterKillBlockCpuMs)),
          agent_kill_block_cpu_ms: Math.max(...l.map((r) => r.agentKillBlockCpuMs)),
          master_cpu_ms_per_task: round1(
            quantile(
              l.map((r) => r.masterCpuMsPerTask),
              0.5,
            ),
          ),
          agent_cpu_ms_per_task: round1(
            quantile(
              l.map((r) => r.agentCpuMsPerTask),
              0.5,
            ),
          ),
          master_net_cpu_ms_per_task: median((r) => r.masterNetCpuMsPerTask),
          agent_net_cpu_ms_per_task: median((r) => r.agentNetCpuMsPerTask),
          master_idle_cpu_ms_per_s: median((r) => r.masterIdleCpuMsPerS),
          agent_idle_cpu_ms_per_s: median((r) => r.agentIdleCpuMsPerS),
          master_kill_cpu_ms_per_task: median((r) => r.masterKillCpuMsPerTask),
          agent_kill_cpu_ms_per_task: median((r) => r.agentKillCpuMsPerTask),
          executor_startup_cpu_ms_p50: quantile(executorCpu, 0.5),
          executor_cpu_ms_per_task: median((r) => r.executorCpuTotalMs / n),
          executor_processes: median((r) => r.executorProcesses),
          executor_kill_cpu_ms_p50_alive: quantile(
            l.flatMap((r) => r.executorKillCpuMs),
            0.5,
          ),
          executors_alive_after_kill: l.reduce((n, r) => n + r.executorKillCpuMs.length, 0),
          executors_seen: executorCpu.length,
          ...(name === "command-executor-shared"
            ? { executors_per_process: sharedPerProcess }
            : {}),
          orphans: Math.max(...l.map((r) => r.orphans)),
          target_all_running_ms: 10_000,
          mesos_all_running_ms: 20_000,
        });
      }
      reportCase(BENCH, `${name} n=${n} rounds=${rounds}`, row);
    }
    for (const [name, ms] of Object.entries(single)) {
      if (ms.length === 0) continue;
      reportCase(BENCH, `single task, ${name} x${singleCount}`, {
        accept_to_running_ms_p50: quantile(ms, 0.5),
        accept_to_running_ms_min: quantile(ms, 0),
        accept_to_running_ms_max: quantile(ms, 1),
        target_ms: 100,
        mesos_ms: 181,
      });
    }
  } finally {
    await cluster.stop();
    await unpaced?.stop();
    await shared?.stop();
    await pooled?.stop();
  }
}

if (isEntryPoint(import.meta.url)) await run(process.argv.slice(2));
