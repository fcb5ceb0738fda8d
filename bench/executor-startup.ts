/**
 * Command executor start-up and memory: launches the real `mesos-executor`
 * N times per variant (variants interleaved) against the fake agent, the way
 * the agent launches it, and measures
 *   - spawn -> SUBSCRIBE received by the agent ("registered"),
 *   - spawn -> TASK_RUNNING of a `sleep` task,
 *   - RSS, PSS and private memory of the executor process (smaps_rollup)
 *     while its task runs, alone (only this process shares the node binary
 *     with it, as the agent would) and with 10 executors side by side,
 *   - KILL -> executor exit.
 * Prints one JSON line. Usage: node dist/bench/executor-startup.js [N]
 *
 * Targets (issue 4; real Mesos 1.12 on this kind of machine in brackets):
 * registered within 100 ms [133 ms], at most 65 MiB RSS [65] and
 * 18 MiB PSS [18].
 */
import { readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { FakeAgent } from "../test/harness/fake-agent.js";
import { type LaunchedExecutor, launchExecutor } from "../test/harness/fake-agent-launch.js";

interface Variant {
  name: string;
  nodeFlags: string[];
  entry?: string;
  env?: Record<string, string>;
}

/** The flags docs/architecture/command-executor.md tells the agent to use. */
export const RECOMMENDED_FLAGS = ["--max-old-space-size=32", "--max-semi-space-size=1"];

const BIN = fileURLToPath(new URL("../../bin/mesos-executor", import.meta.url));

const ALL_VARIANTS: Variant[] = [
  { name: "plain", nodeFlags: [] },
  { name: "recommended", nodeFlags: RECOMMENDED_FLAGS },
  { name: "recommended+lite", nodeFlags: [...RECOMMENDED_FLAGS, "--lite-mode"] },
  { name: "recommended+single-threaded", nodeFlags: [...RECOMMENDED_FLAGS, "--single-threaded"] },
  { name: "via-bin", nodeFlags: RECOMMENDED_FLAGS, entry: BIN },
  {
    // What happens if the agent let its own environment through.
    name: "recommended+NODE_EXTRA_CA_CERTS",
    nodeFlags: RECOMMENDED_FLAGS,
    env: { NODE_EXTRA_CA_CERTS: "/etc/ssl/certs/ca-certificates.crt" },
  },
];

/**
 * `EXECUTOR_BENCH_VARIANTS=plain,recommended` runs a subset;
 * `EXECUTOR_BENCH_FLAGS="semi2=--max-semi-space-size=2|lazy=--max-lazy"` adds
 * ad-hoc flag sets (for tuning).
 */
const only = process.env.EXECUTOR_BENCH_VARIANTS?.split(",");
const adHoc: Variant[] = (process.env.EXECUTOR_BENCH_FLAGS ?? "")
  .split("|")
  .filter((x) => x.includes("="))
  .map((x) => {
    const at = x.indexOf("=");
    return {
      name: x.slice(0, at),
      nodeFlags: x
        .slice(at + 1)
        .split(" ")
        .filter(Boolean),
    };
  });
const VARIANTS = [
  ...ALL_VARIANTS.filter((v) => only === undefined || only.includes(v.name)),
  ...adHoc,
];

interface Memory {
  rss: number;
  pss: number;
  priv: number;
}

/**
 * CPU time (ms) the process has used so far, all threads, from
 * /proc/<pid>/task/<tid>/schedstat (nanosecond resolution). Unlike wall
 * time it hardly changes when other work shares the machine.
 */
function cpuMsOf(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // thread ended
    }
  }
  return ns / 1e6;
}

function memoryOf(pid: number): Memory {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (key: string): number =>
    Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0);
  const mib = (k: number): number => Math.round((k / 1024) * 10) / 10;
  return {
    rss: mib(kb("Rss")),
    pss: mib(kb("Pss")),
    priv: mib(kb("Private_Clean") + kb("Private_Dirty")),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const v = s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  return Math.round(v * 10) / 10;
}

let taskCounter = 0;

async function startOne(agent: FakeAgent, variant: Variant) {
  const before = agent.subscribes.length;
  const executorId = `bench-${++taskCounter}`;
  const t0 = performance.now();
  const ex = launchExecutor(agent, {
    nodeFlags: variant.entry === undefined ? variant.nodeFlags : [...variant.nodeFlags],
    ...(variant.entry !== undefined ? { entry: variant.entry } : {}),
    ...(variant.env !== undefined ? { env: variant.env } : {}),
    executorId,
  });
  const sub = await agent.waitForSubscribe(before + 1, 20_000);
  const cpuMs = cpuMsOf(ex.child.pid ?? 0);
  const taskId = `task-${taskCounter}`;
  agent.launch(
    {
      name: taskId,
      task_id: { value: taskId },
      agent_id: { value: "fake-agent-S0" },
      command: { value: "sleep 600" },
    },
    executorId,
  );
  await agent.waitForUpdate("TASK_RUNNING", taskId, 20_000);
  const running = performance.now() - t0;
  return { ex, taskId, executorId, subscribeMs: sub.at - t0, cpuMs, runningMs: running };
}

async function stopOne(
  agent: FakeAgent,
  one: { ex: LaunchedExecutor; taskId: string; executorId: string },
): Promise<number> {
  const { ex, taskId, executorId } = one;
  const t = performance.now();
  agent.kill(taskId, { grace_period: { nanoseconds: 2e9 } }, executorId);
  await ex.exited;
  const ms = performance.now() - t;
  await ex.cleanup();
  return ms;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 10);
  const agent = await FakeAgent.start();
  const results = new Map<
    string,
    { subscribe: number[]; cpu: number[]; running: number[]; kill: number[]; mem: Memory[] }
  >();
  for (const v of VARIANTS)
    results.set(v.name, { subscribe: [], cpu: [], running: [], kill: [], mem: [] });

  // Warm the page cache once so the first variant is not penalised.
  {
    const w = await startOne(agent, ALL_VARIANTS[0] as Variant);
    await stopOne(agent, w);
  }

  for (let round = 0; round < n; round++) {
    for (const v of VARIANTS) {
      const r = results.get(v.name)!;
      const one = await startOne(agent, v);
      await sleep(300);
      // Via bin/ the executor is the node process itself (launcher imports main).
      r.mem.push(memoryOf(one.ex.child.pid ?? 0));
      r.subscribe.push(one.subscribeMs);
      r.cpu.push(one.cpuMs);
      r.running.push(one.runningMs);
      r.kill.push(await stopOne(agent, one));
    }
  }

  // Ten recommended executors side by side: the node binary's pages are shared.
  const side: Awaited<ReturnType<typeof startOne>>[] = [];
  for (let i = 0; i < 10; i++) {
    const one = await startOne(agent, ALL_VARIANTS[1] as Variant);
    side.push(one);
  }
  await sleep(300);
  const sideMem = side.map((s) => memoryOf(s.ex.child.pid ?? 0));
  await Promise.all(side.map((s) => stopOne(agent, s)));
  await agent.stop();

  const variants: Record<string, unknown> = {};
  for (const [name, r] of results) {
    variants[name] = {
      subscribe_ms_p50: quantile(r.subscribe, 0.5),
      subscribe_ms_p90: quantile(r.subscribe, 0.9),
      subscribe_ms_min: quantile(r.subscribe, 0),
      cpu_ms_to_subscribe_p50: quantile(r.cpu, 0.5),
      running_ms_p50: quantile(r.running, 0.5),
      kill_to_exit_ms_p50: quantile(r.kill, 0.5),
      rss_mib_p50: quantile(
        r.mem.map((m) => m.rss),
        0.5,
      ),
      pss_mib_p50: quantile(
        r.mem.map((m) => m.pss),
        0.5,
      ),
      private_mib_p50: quantile(
        r.mem.map((m) => m.priv),
        0.5,
      ),
    };
  }
  const base = (variants.recommended ?? { subscribe_ms_p50: Number.NaN }) as {
    subscribe_ms_p50: number;
  };
  console.log(
    JSON.stringify({
      bench: "executor-startup",
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      cpu: cpus()[0]?.model,
      n,
      variants,
      ten_side_by_side: {
        rss_mib_p50: quantile(
          sideMem.map((m) => m.rss),
          0.5,
        ),
        pss_mib_p50: quantile(
          sideMem.map((m) => m.pss),
          0.5,
        ),
        private_mib_p50: quantile(
          sideMem.map((m) => m.priv),
          0.5,
        ),
      },
      targets: { subscribe_ms: 100, rss_mib: 65, pss_mib: 18 },
      mesos: { subscribe_ms: 133, rss_mib: 65, pss_mib: 18 },
      recommended_vs_target: Math.round((base.subscribe_ms_p50 / 100) * 100) / 100,
    }),
  );
}

await main();
