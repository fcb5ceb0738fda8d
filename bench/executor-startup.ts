/**
 * Command executor start-up and memory. Launches the real `mesos-executor`
 * N times per variant (variants interleaved) against the fake agent, the way
 * the agent launches it (own session, sandbox cwd, clean Mesos environment),
 * and measures
 *   - spawn -> SUBSCRIBE received by the agent ("registered"), wall time,
 *   - CPU time the executor has used by then and at TASK_RUNNING (all
 *     threads, /proc schedstat; steadier than wall time under load),
 *   - spawn -> TASK_RUNNING of a `sleep 600` task,
 *   - RSS, PSS and private memory (smaps_rollup) of the executor while its
 *     task runs: alone (this process plays the agent and shares the node
 *     binary with it) and with 10 executors side by side,
 *   - KILL -> executor exit,
 *   - Node's floor: spawn -> first output of an empty CommonJS script, wall
 *     time and CPU by then, without and with NODE_EXTRA_CA_CERTS, so the
 *     executor's own share can be read net of the machine's speed and load.
 * Default variants: `recommended` (what the agent runs: the CommonJS
 * bundle), `code-cache` (the same bundle through the V8 code-cache loader),
 * `recommended` with NODE_EXTRA_CA_CERTS set, and the module tree.
 * One JSON line per case (plus a row in docs/benchmarks.md, see
 * bench/lib/report.ts). `node dist/bench/executor-startup.js [N]` or
 * `node dist/bench/run.js executor-startup [N]` (default N = 10).
 *
 * Targets (issue 4; real Mesos 1.12 on this kind of machine in brackets):
 * registered within 100 ms [133 ms], at most 65 MiB RSS [65] and
 * 18 MiB PSS [18].
 *
 * Tuning: `EXECUTOR_BENCH_VARIANTS=recommended,heap-capped` runs a subset
 * (also the opt-in `esm-bundle`, `heap-capped`, `via-bin`; heap caps are V8
 * flags, so that variant and the others replace each other's code cache);
 * `EXECUTOR_BENCH_FLAGS="semi2=--max-semi-space-size=2|lazy=--max-lazy"`
 * adds ad-hoc node flag sets.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleModules } from "../src/executor/bundle.js";
import {
  COMMAND_EXECUTOR_BUNDLE,
  COMMAND_EXECUTOR_CACHED,
  COMMAND_EXECUTOR_MAIN,
  ensureCommandExecutorBundle,
} from "../src/executor/launch-command.js";
import { FakeAgent } from "../test/harness/fake-agent.js";
import { type LaunchedExecutor, launchExecutor } from "../test/harness/fake-agent-launch.js";
import { isEntryPoint } from "./lib/entry-point.js";
import { reportCase } from "./lib/report.js";

interface Variant {
  name: string;
  nodeFlags: string[];
  entry?: string;
  env?: Record<string, string>;
  /** Only run when named in EXECUTOR_BENCH_VARIANTS. */
  optIn?: boolean;
}

/** Node flags the agent uses for the command executor (none: see docs/architecture/command-executor.md). */
export const AGENT_NODE_FLAGS: string[] = [];
/** The heap caps we measured and decided against by default. */
export const HEAP_CAP_FLAGS = ["--max-old-space-size=32", "--max-semi-space-size=1"];

const BIN = fileURLToPath(new URL("../../bin/mesos-executor", import.meta.url));

/** The same bundle as an ES module (what the agent ran before session 3), written by `run`. */
const ESM_BUNDLE = join(dirname(COMMAND_EXECUTOR_MAIN), "command-executor.esm-bundle.js");

/** Writes the ES module bundles next to the CommonJS ones the agent runs. */
function writeEsmBundles(): void {
  const dir = dirname(COMMAND_EXECUTOR_MAIN);
  writeFileSync(
    join(dir, "task-runtime.esm-bundle.js"),
    bundleModules(join(dir, "task-runtime.js")),
  );
  writeFileSync(
    ESM_BUNDLE,
    bundleModules(COMMAND_EXECUTOR_MAIN, {
      rewriteDynamicImports: { "./task-runtime.js": "./task-runtime.esm-bundle.js" },
    }),
  );
}

/** The CA bundle this machine's environment names (NODE_EXTRA_CA_CERTS), for the "leaked" variants. */
const CA_BUNDLE = process.env.NODE_EXTRA_CA_CERTS ?? "/etc/ssl/certs/ca-certificates.crt";

const BUILT_IN: Variant[] = [
  // What the agent runs: the single-file CommonJS bundle, no flags.
  { name: "recommended", nodeFlags: AGENT_NODE_FLAGS, entry: COMMAND_EXECUTOR_BUNDLE },
  // The same bundle run through V8's code cache by the loader (session 4; neutral so far).
  { name: "code-cache", nodeFlags: AGENT_NODE_FLAGS, entry: COMMAND_EXECUTOR_CACHED },
  {
    // What an agent that passed NODE_EXTRA_CA_CERTS on would cost.
    name: "recommended+NODE_EXTRA_CA_CERTS",
    nodeFlags: AGENT_NODE_FLAGS,
    entry: COMMAND_EXECUTOR_BUNDLE,
    env: { NODE_EXTRA_CA_CERTS: CA_BUNDLE },
  },
  { name: "module-tree", nodeFlags: AGENT_NODE_FLAGS, entry: COMMAND_EXECUTOR_MAIN },
  // Run only when named in EXECUTOR_BENCH_VARIANTS:
  // the bundle as an ES module: Node's ES module loader on top (CommonJS since session 3).
  { name: "esm-bundle", nodeFlags: AGENT_NODE_FLAGS, entry: ESM_BUNDLE, optIn: true },
  { name: "heap-capped", nodeFlags: HEAP_CAP_FLAGS, entry: COMMAND_EXECUTOR_BUNDLE, optIn: true },
  { name: "via-bin", nodeFlags: AGENT_NODE_FLAGS, entry: BIN, optIn: true },
];

function variants(): Variant[] {
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
  const chosen = BUILT_IN.filter((v) =>
    only === undefined ? v.optIn !== true : only.includes(v.name),
  );
  return [...chosen, ...adHoc];
}

interface Memory {
  rss: number;
  pss: number;
  priv: number;
}

/** CPU time (ms) used so far by all threads of `pid` (/proc/<pid>/task/<tid>/schedstat, ns). */
function cpuMsOf(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread ended
    }
  }
  return ns / 1e6;
}

function memoryOf(pid: number): Memory {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (key: string): number =>
    Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0);
  return {
    rss: kb("Rss") / 1024,
    pss: kb("Pss") / 1024,
    priv: (kb("Private_Clean") + kb("Private_Dirty")) / 1024,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round1 = (x: number) => Math.round(x * 10) / 10;

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return round1(s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN);
}

interface Started {
  ex: LaunchedExecutor;
  executorId: string;
  taskId: string;
  subscribeMs: number;
  cpuMs: number;
  runningMs: number;
  /** CPU used by the executor when its TASK_RUNNING reached the agent. */
  cpuRunningMs: number;
}

let counter = 0;

async function startOne(agent: FakeAgent, variant: Variant): Promise<Started> {
  const n = ++counter;
  const executorId = `bench-executor-${n}`;
  const taskId = `bench-task-${n}`;
  const before = agent.subscribes.length;
  const t0 = performance.now();
  const ex = launchExecutor(agent, {
    executorId,
    nodeFlags: variant.nodeFlags,
    ...(variant.entry !== undefined ? { entry: variant.entry } : {}),
    ...(variant.env !== undefined ? { env: variant.env } : {}),
  });
  const sub = await agent.waitForSubscribe(before + 1, 30_000);
  const cpuMs = cpuMsOf(ex.child.pid ?? 0);
  agent.launch(
    {
      name: taskId,
      task_id: { value: taskId },
      agent_id: { value: "fake-agent-S0" },
      command: { value: "sleep 600" },
    },
    executorId,
  );
  await agent.waitForUpdate("TASK_RUNNING", taskId, 30_000);
  const cpuRunningMs = cpuMsOf(ex.child.pid ?? 0);
  return {
    cpuRunningMs,
    ex,
    executorId,
    taskId,
    subscribeMs: sub.at - t0,
    cpuMs,
    runningMs: performance.now() - t0,
  };
}

async function stopOne(agent: FakeAgent, one: Started): Promise<number> {
  const t = performance.now();
  agent.kill(one.taskId, { grace_period: { nanoseconds: 2e9 } }, one.executorId);
  await one.ex.exited;
  const ms = performance.now() - t;
  await one.ex.cleanup();
  return ms;
}

/**
 * Node's own floor: spawn -> first stdout byte of an empty CommonJS script
 * (`fs.writeSync`, no stream set-up), with the same clean environment (plus
 * `extraEnv`): wall time, and the CPU it has used by then (schedstat, like
 * the executors). Measured between launches so that the executor's cost can
 * be given net of it whatever the machine's load.
 */
function nodeFloor(
  script: string,
  extraEnv: Record<string, string>,
): Promise<{ ms: number; cpuMs: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [script], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...extraEnv },
      stdio: ["ignore", "pipe", "ignore"],
    });
    let ms = Number.NaN;
    let cpuMs = Number.NaN;
    child.stdout.once("data", () => {
      ms = performance.now() - t0;
      cpuMs = cpuMsOf(child.pid ?? 0);
      child.kill("SIGKILL");
    });
    child.once("exit", () => resolve({ ms, cpuMs }));
  });
}

interface Samples {
  subscribe: number[];
  cpu: number[];
  cpuRunning: number[];
  running: number[];
  kill: number[];
  mem: Memory[];
}

/** Runs the benchmark; `args[0]` is N, the launches per variant. */
export async function run(args: string[]): Promise<void> {
  const n = Number(args[0] ?? 10);
  const bundled = ensureCommandExecutorBundle();
  if (bundled.error !== undefined) throw new Error(`cannot bundle the executor: ${bundled.error}`);
  const list = variants();
  if (list.some((v) => v.entry === ESM_BUNDLE)) writeEsmBundles();
  const agent = await FakeAgent.start();
  const scratch = mkdtempSync(join(tmpdir(), "executor-bench-"));
  const hello = join(scratch, "hello.cjs");
  // Waits after its output so its CPU can be read; killed then.
  writeFileSync(hello, 'require("node:fs").writeSync(1, "x");\nsetTimeout(() => {}, 10000);\n');
  const floor: number[] = [];
  const floorCpu: number[] = [];
  const floorCpuCa: number[] = [];
  try {
    const samples = new Map<string, Samples>();
    for (const v of list)
      samples.set(v.name, {
        subscribe: [],
        cpu: [],
        cpuRunning: [],
        running: [],
        kill: [],
        mem: [],
      });

    // One unmeasured launch per variant warms the page cache (and writes the code cache).
    for (const v of list) await stopOne(agent, await startOne(agent, v));

    for (let round = 0; round < n; round++) {
      const plain = await nodeFloor(hello, {});
      floor.push(plain.ms);
      floorCpu.push(plain.cpuMs);
      floorCpuCa.push((await nodeFloor(hello, { NODE_EXTRA_CA_CERTS: CA_BUNDLE })).cpuMs);
      for (const v of list) {
        const s = samples.get(v.name) as Samples;
        const one = await startOne(agent, v);
        await sleep(300);
        // Via bin/ too, the child is the executor's node process itself.
        s.mem.push(memoryOf(one.ex.child.pid ?? 0));
        s.subscribe.push(one.subscribeMs);
        s.cpu.push(one.cpuMs);
        s.cpuRunning.push(one.cpuRunningMs);
        s.running.push(one.runningMs);
        s.kill.push(await stopOne(agent, one));
      }
    }

    const floorMs = quantile(floor, 0.5);
    const floorCpuMs = quantile(floorCpu, 0.5);
    const floorCpuCaMs = quantile(floorCpuCa, 0.5);
    reportCase("executor-startup", `node floor n=${n}`, {
      floor_ms_p50: floorMs,
      floor_cpu_ms_p50: floorCpuMs,
      floor_cpu_ms_with_NODE_EXTRA_CA_CERTS_p50: floorCpuCaMs,
      ca_cost_cpu_ms: round1(floorCpuCaMs - floorCpuMs),
    });
    let recommendedCpu = Number.NaN;
    for (const v of list) {
      const s = samples.get(v.name) as Samples;
      const cpu = quantile(s.cpu, 0.5);
      if (v.name === "recommended") recommendedCpu = cpu;
      reportCase("executor-startup", `${v.name} n=${n}`, {
        node_flags: v.nodeFlags.join(" ") || "(none)",
        subscribe_ms_p50: quantile(s.subscribe, 0.5),
        subscribe_ms_p90: quantile(s.subscribe, 0.9),
        subscribe_ms_min: quantile(s.subscribe, 0),
        node_floor_ms_p50: floorMs,
        subscribe_over_floor_ms_p50: round1(quantile(s.subscribe, 0.5) - floorMs),
        cpu_ms_to_subscribe_p50: cpu,
        cpu_over_floor_ms_p50: round1(
          cpu - (v.env?.NODE_EXTRA_CA_CERTS === undefined ? floorCpuMs : floorCpuCaMs),
        ),
        cpu_vs_recommended: Math.round((cpu / recommendedCpu) * 100) / 100,
        running_ms_p50: quantile(s.running, 0.5),
        cpu_ms_to_running_p50: quantile(s.cpuRunning, 0.5),
        kill_to_exit_ms_p50: quantile(s.kill, 0.5),
        rss_mib_p50: quantile(
          s.mem.map((m) => m.rss),
          0.5,
        ),
        pss_mib_p50: quantile(
          s.mem.map((m) => m.pss),
          0.5,
        ),
        private_mib_p50: quantile(
          s.mem.map((m) => m.priv),
          0.5,
        ),
        target_subscribe_ms: 100,
        mesos_subscribe_ms: 133,
      });
    }

    // Ten executors side by side: they share the node binary's pages.
    const side: Started[] = [];
    for (let i = 0; i < 10; i++) side.push(await startOne(agent, BUILT_IN[0] as Variant));
    await sleep(300);
    const mem = side.map((s) => memoryOf(s.ex.child.pid ?? 0));
    await Promise.all(side.map((s) => stopOne(agent, s)));
    reportCase("executor-startup", "recommended, 10 side by side", {
      rss_mib_p50: quantile(
        mem.map((m) => m.rss),
        0.5,
      ),
      pss_mib_p50: quantile(
        mem.map((m) => m.pss),
        0.5,
      ),
      private_mib_p50: quantile(
        mem.map((m) => m.priv),
        0.5,
      ),
      target_rss_mib: 65,
      target_pss_mib: 18,
    });
  } finally {
    await agent.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (isEntryPoint(import.meta.url)) await run(process.argv.slice(2));
