/**
 * Master restart re-registration: a port of Mesos' AgentReregistrationDelay
 * benchmark. `npm run bench -- agent-reregistration [--quick] [--no-completed]
 * [--no-backoff] [--sizes=1000,2000]`.
 *
 * For N agents (1k, 2k, 5k, 10k; --quick: 500, 1k) the durable registry in a
 * fresh --work_dir is filled with N admitted agents, then a real master
 * (startMaster in a ProcessHost, --registry=replicated_log: SQLite) starts
 * on it, so it recovers N agents and waits for them. N simulated agents (one
 * `slave(i)` process each, all in one ProcessHost of this process, as Mesos'
 * benchmark keeps them in one libprocess) then send their
 * ReregisterSlaveMessage over the real transport: 10 running tasks over 5
 * frameworks each, and in a second variant also 100 completed tasks per
 * agent. Either all at once, or each after a random delay in [0, 1s] (the
 * agents' default --registration_backoff_factor).
 *
 * Reported per case: time from the first message until every agent got its
 * SlaveReregisteredMessage, T(N)/T(N/2) where the half size ran, the cost per
 * agent message divided by one JSON.stringify+JSON.parse of that message
 * (measured in the same run: a machine-speed unit), the registry recovery
 * time, and peak RSS growth per task. The messages are encoded before the
 * clock starts, so the time is the master's (transport, decoding, core).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { silentLogger } from "../src/common/observability/logger.js";
import { resolveListenAddress } from "../src/common/process/listen-address.js";
import { ProcessBase } from "../src/common/process/process-base.js";
import { ProcessHost } from "../src/common/process/process-host.js";
import { parseUpid } from "../src/common/process/upid.js";
import type {
  ReregisterSlaveMessage,
  SlaveInfo,
} from "../src/common/protocol/generated/mesos-internal.js";
import type { FrameworkInfo, Resource, Task } from "../src/common/protocol/generated/mesos-v1.js";
import { codecFor } from "../src/common/protocol/index.js";
import { resourcesFromString } from "../src/common/resources/index.js";
import { SystemClock } from "../src/common/time/clock.js";
import { loadMasterFlags } from "../src/master/flags.js";
import { startMaster } from "../src/master/master-runtime.js";
import { SqliteRegistrar } from "../src/master/registrar/sqlite.js";
import { collectGarbage, reportCase, rssMb } from "./lib/report.js";

const BENCH = "agent-reregistration";
const FRAMEWORKS = 5;
const TASKS_PER_AGENT = 10;
const BACKOFF_MS = 1000;
const reregisterCodec = codecFor("mesos.internal.ReregisterSlaveMessage");

function resources(text: string): Resource[] {
  const parsed = resourcesFromString(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value as Resource[];
}

const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

function listenHost(delegate?: string): ProcessHost {
  const listen = resolveListenAddress({ ip: "127.0.0.1", port: 0, env: {} });
  if (!listen.ok) throw new Error(listen.error.message);
  return new ProcessHost({
    logger: silentLogger,
    clock: new SystemClock(),
    listen: listen.value,
    ...(delegate === undefined ? {} : { delegate }),
  });
}

interface CaseOptions {
  readonly agents: number;
  readonly completedPerAgent: number;
  readonly backoff: boolean;
}

interface CaseResult {
  readonly reregisterMs: number;
  readonly recoverMs: number;
  readonly jsonUnitMs: number;
  readonly messageBytes: number;
  readonly peakRssGrowthMb: number;
  readonly tasks: number;
}

/** The re-registration of agent `i`: its info, 10 running tasks over 5 frameworks, completed ones. */
function reregistration(
  info: SlaveInfo,
  frameworks: FrameworkInfo[],
  completedPerAgent: number,
): ReregisterSlaveMessage {
  const agentId = info.id?.value ?? "";
  const taskResources = resources("cpus:0.1;mem:32");
  const task = (f: FrameworkInfo, name: string, state: Task["state"]): Task => ({
    name,
    task_id: { value: `${agentId}-${name}` },
    framework_id: { value: f.id?.value ?? "" },
    agent_id: { value: agentId },
    executor_id: { value: `${agentId}-${name}` },
    state,
    resources: taskResources.map((r) => ({ ...r, allocation_info: { role: "*" } })),
  });
  const tasks: Task[] = [];
  for (let t = 0; t < TASKS_PER_AGENT; t++) {
    tasks.push(task(frameworks[t % FRAMEWORKS] as FrameworkInfo, `task-${t}`, "TASK_RUNNING"));
  }
  const completed = frameworks.map((f, i) => ({
    framework_info: f,
    tasks: Array.from({ length: Math.floor(completedPerAgent / FRAMEWORKS) }, (_, t) =>
      task(f, `done-${i}-${t}`, "TASK_FINISHED"),
    ),
  }));
  return {
    slave: info,
    version: "1.12.0",
    frameworks,
    tasks,
    executor_infos: [],
    ...(completedPerAgent > 0 ? { completed_frameworks: completed } : {}),
    agent_capabilities: [{ type: "MULTI_ROLE" }, { type: "HIERARCHICAL_ROLE" }],
  };
}

/** Median time of one JSON.stringify + JSON.parse of `message`, in ms. */
function jsonUnitMs(message: unknown): number {
  const times: number[] = [];
  for (let round = 0; round < 7; round++) {
    const reps = 200;
    const start = performance.now();
    for (let i = 0; i < reps; i++) JSON.parse(JSON.stringify(message));
    times.push((performance.now() - start) / reps);
  }
  times.sort((a, b) => a - b);
  return times[3] as number;
}

/**
 * With BENCH_PROFILE_DIR set, a V8 CPU profile of the timed window only
 * (one .cpuprofile per case); returns the function that stops and writes it.
 */
async function startProfile(): Promise<() => Promise<void>> {
  const dir = process.env.BENCH_PROFILE_DIR;
  if (dir === undefined || dir === "") return async () => {};
  const { Session } = await import("node:inspector");
  const { writeFileSync } = await import("node:fs");
  const session = new Session();
  session.connect();
  const post = (method: string): Promise<unknown> =>
    new Promise((resolve, reject) =>
      session.post(method, (error, result) => (error === null ? resolve(result) : reject(error))),
    );
  await post("Profiler.enable");
  await post("Profiler.start");
  return async () => {
    const result = (await post("Profiler.stop")) as { profile: unknown };
    writeFileSync(join(dir, `rereg-${Date.now()}.cpuprofile`), JSON.stringify(result.profile));
    session.disconnect();
  };
}

async function runCase(options: CaseOptions): Promise<CaseResult> {
  const { agents, completedPerAgent, backoff } = options;
  const workDir = mkdtempSync(join(tmpdir(), "bench-rereg-"));
  const agentHost = listenHost();
  await agentHost.start();
  const masterHost = listenHost("master");
  await masterHost.start();
  const masterUpid = parseUpid(`master@${masterHost.address}`);
  if (!masterUpid.ok) throw masterUpid.error;

  // The registry the restarted master recovers: N admitted agents.
  const agentResources = resources("cpus:16;mem:32768;disk:65536;ports:[31000-32000]");
  const infos: SlaveInfo[] = [];
  for (let i = 0; i < agents; i++) {
    infos.push({
      hostname: `agent-${i}.bench`,
      port: agentHost.port,
      id: { value: `bench-S${i}` },
      resources: agentResources,
      checkpoint: true,
    });
  }
  const registrar = SqliteRegistrar.openInWorkDir(workDir);
  await Promise.all(infos.map((info) => registrar.apply({ kind: "admit-agent", info })));
  registrar.close();

  const frameworks: FrameworkInfo[] = Array.from({ length: FRAMEWORKS }, (_, i) => ({
    id: { value: `bench-framework-${i}` },
    name: `framework-${i}`,
    user: "bench",
    role: "*",
    checkpoint: true,
    capabilities: [{ type: "PARTITION_AWARE" }],
  }));
  let reregistered = 0;
  let allBack: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    allBack = resolve;
  });
  const sends: { process: ProcessBase; bytes: Uint8Array }[] = [];
  let sample: ReregisterSlaveMessage | undefined;
  for (const info of infos) {
    const process = new ProcessBase(`slave(${sends.length + 1})`);
    process.install(
      "mesos.internal.SlaveReregisteredMessage",
      () => ({ ok: true, value: undefined }),
      () => {
        if (++reregistered === agents) allBack();
      },
    );
    process.install(
      "mesos.internal.PingSlaveMessage",
      () => ({ ok: true, value: undefined }),
      () => process.send(masterUpid.value, "mesos.internal.PongSlaveMessage", new Uint8Array()),
    );
    agentHost.spawn(process);
    const message = reregistration(info, frameworks, completedPerAgent);
    sample ??= message;
    sends.push({ process, bytes: reregisterCodec.encodeProtobuf(message) });
  }
  const unit = jsonUnitMs(sample);
  const messageBytes = sends[0]?.bytes.byteLength ?? 0;

  const flags = loadMasterFlags({
    argv: [
      "--registry=replicated_log",
      `--work_dir=${workDir}`,
      "--quiet",
      "--hostname=bench-master",
      `--max_completed_tasks_per_framework=${agents * TASKS_PER_AGENT}`,
    ],
    env: {},
  });
  if (!flags.ok) throw new Error(flags.error);
  collectGarbage();
  const baseRss = rssMb();
  let peakRss = baseRss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss() / 2 ** 20);
  }, 20);
  const recoverStart = performance.now();
  const runtime = await startMaster({
    host: masterHost,
    flags: flags.flags,
    logger: silentLogger,
    clock: new SystemClock(),
  });
  const recoverMs = performance.now() - recoverStart;
  if (runtime.core.recoveredAgents.size !== agents) {
    throw new Error(`recovered ${runtime.core.recoveredAgents.size} of ${agents} agents`);
  }

  const profile = await startProfile();
  const start = performance.now();
  for (const { process, bytes } of sends) {
    const send = () =>
      process.send(masterUpid.value, "mesos.internal.ReregisterSlaveMessage", bytes);
    if (backoff) setTimeout(send, Math.random() * BACKOFF_MS);
    else send();
  }
  await done;
  const reregisterMs = performance.now() - start;
  await profile();
  clearInterval(sampler);
  peakRss = Math.max(peakRss, rssMb());
  let tasks = 0;
  for (const agent of runtime.core.agents.values()) {
    for (const byFramework of agent.tasks.values()) tasks += byFramework.size;
  }
  if (runtime.core.recoveredAgents.size !== 0 || tasks !== agents * TASKS_PER_AGENT) {
    throw new Error(
      `after re-registration: ${tasks} tasks, ${runtime.core.recoveredAgents.size} missing agents`,
    );
  }
  runtime.stop();
  await masterHost.stop();
  await agentHost.stop();
  rmSync(workDir, { recursive: true, force: true });
  return {
    reregisterMs,
    recoverMs,
    jsonUnitMs: unit,
    messageBytes,
    peakRssGrowthMb: peakRss - baseRss,
    tasks,
  };
}

export async function run(args: string[]): Promise<void> {
  const quick = args.includes("--quick");
  const listed = args.find((a) => a.startsWith("--sizes="));
  const sizes =
    listed !== undefined
      ? listed.slice("--sizes=".length).split(",").map(Number)
      : quick
        ? [500, 1000]
        : [1000, 2000, 5000, 10000];
  const completedVariants = args.includes("--no-completed") ? [0] : [0, 100];
  // Warm-up (not reported): the JIT, the codecs, SQLite.
  await runCase({ agents: 300, completedPerAgent: 0, backoff: false });
  for (const completedPerAgent of completedVariants) {
    for (const backoff of args.includes("--no-backoff") ? [false] : [false, true]) {
      const times = new Map<number, number>();
      for (const agents of sizes) {
        const r = await runCase({ agents, completedPerAgent, backoff });
        times.set(agents, r.reregisterMs);
        const half = times.get(agents / 2);
        const perMessageMs = r.reregisterMs / agents;
        reportCase(
          BENCH,
          `${agents} agents x ${TASKS_PER_AGENT} tasks / ${FRAMEWORKS} frameworks` +
            `${completedPerAgent > 0 ? ` + ${completedPerAgent} completed` : ""}, ` +
            `${backoff ? `backoff [0,${BACKOFF_MS}ms]` : "no backoff"}`,
          {
            all_reregistered_ms: round(r.reregisterMs, 1),
            ...(half === undefined ? {} : { t_n_over_t_half_n: round(r.reregisterMs / half) }),
            per_task_us: round((r.reregisterMs * 1000) / r.tasks),
            // Only meaningful without backoff (with it the time is mostly waiting).
            per_message_over_json_unit: round(perMessageMs / r.jsonUnitMs),
            json_unit_us: round(r.jsonUnitMs * 1000),
            message_bytes: r.messageBytes,
            registry_recover_ms: round(r.recoverMs, 1),
            peak_rss_growth_kb_per_task: round((r.peakRssGrowthMb * 1024) / r.tasks),
          },
        );
        collectGarbage();
      }
    }
  }
}
