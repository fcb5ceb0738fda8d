/**
 * The agent's metrics under Mesos' names (`slave/*`, `containerizer/*`), in
 * the host's shared registry. Everything is read from the agent core when a
 * snapshot is taken, so the core needs no metric calls of its own; what
 * Mesos documents as a counter is registered as one (`c`), the rest as
 * gauges (`g`), which is the type Prometheus sees.
 *
 * `slave/tasks_finished|failed|killed|lost|gone` are counters since the
 * agent started, as in Mesos: a task counts when a status update moves it
 * from queued or launched to a terminal state. They are observed around the
 * core's `statusUpdate`, so the core needs no metric calls. As in Mesos,
 * recovery after a restart replays the checkpointed tasks' updates, so the
 * counters start from the terminal tasks still checkpointed (of live and
 * finished executor runs not yet garbage collected), and
 * `slave/executors_terminated` from the finished runs found. The gauges
 * (`slave/tasks_running`, `slave/executors_running` ...) read the current
 * state: recovered executors are `registering` until they re-subscribe.
 */
import type { MetricsRegistry } from "../../common/observability/metrics.js";
import type { StatusUpdate } from "../../common/protocol/generated/mesos-internal.js";
import type { TaskState } from "../../common/protocol/generated/mesos-v1.js";
import { Resources } from "../../common/resources/index.js";
import type { Clock } from "../../common/time/clock.js";
import type { Agent } from "../agent.js";
import { fetchCounts } from "../containerizer/fetcher.js";
import type { Executor } from "../executor.js";
import { diskUsage, executorDirectoryMaxAllowedAgeSecs } from "../gc/disk-watch.js";

export { diskUsage, executorDirectoryMaxAllowedAgeSecs };

const LIVE_STATES = ["staging", "starting", "running", "killing"] as const;
const TERMINAL_STATES = ["finished", "failed", "killed", "lost", "gone"] as const;
const RESOURCE_NAMES = ["cpus", "mem", "disk", "gpus"] as const;

/** The live executors of the live frameworks. */
function* executorsOf(agent: Agent): Generator<Executor> {
  for (const f of agent.frameworks.values()) yield* f.executors.values();
}

/**
 * Live tasks per lower-case state name (`staging`, `running`, ...), for the
 * `slave/tasks_<state>` gauges: as Mesos, the queued and launched tasks of
 * the live executors of live frameworks (queued ones are staging). Tasks of
 * completed executors and frameworks, whatever state they were left in, and
 * terminated tasks do not count.
 */
export function taskStateCounts(agent: Agent): Map<string, number> {
  const counts = new Map<string, number>();
  const bump = (state: string) => {
    const key = state.replace(/^TASK_/, "").toLowerCase();
    counts.set(key, (counts.get(key) ?? 0) + 1);
  };
  for (const e of executorsOf(agent)) {
    for (let i = 0; i < e.queuedTasks.size; i++) bump("TASK_STAGING");
    for (const g of e.queuedTaskGroups)
      for (let i = 0; i < (g.tasks ?? []).length; i++) bump("TASK_STAGING");
    for (const t of e.launchedTasks.values()) bump(t.state);
  }
  return counts;
}

/** The resources allocated to live executors and their tasks. */
export function usedResources(agent: Agent): Resources {
  const used = Resources.empty();
  for (const e of executorsOf(agent)) used.add(e.allocatedResources());
  return used;
}

const TERMINAL_KEYS = new Set<string>(TERMINAL_STATES);

/**
 * Counts tasks reaching a terminal state from now on, per lower-case state
 * name. Tasks recovery found terminal are not seen here (recovery replays
 * updates on the executor, not through `statusUpdate`): they are in
 * `agent.recoveredTaskEnds`.
 */
export function countTerminalTasks(agent: Agent): ReadonlyMap<string, number> {
  const counts = new Map<string, number>();
  const handle = agent.statusUpdate.bind(agent);
  agent.statusUpdate = (update: StatusUpdate, fromExecutor: boolean): void => {
    const taskId = update.status.task_id.value;
    const executor = agent.frameworks.get(update.framework_id.value)?.executorForTask(taskId);
    const live =
      executor !== undefined &&
      (executor.queuedTasks.has(taskId) || executor.launchedTasks.has(taskId));
    handle(update, fromExecutor);
    if (!live) return;
    const task = executor.terminatedTasks.get(taskId);
    if (task === undefined) return;
    const key = task.state.replace(/^TASK_/, "").toLowerCase();
    if (TERMINAL_KEYS.has(key)) counts.set(key, (counts.get(key) ?? 0) + 1);
  };
  return counts;
}

/** What the agent's metrics read besides the agent core. */
export interface AgentMetricsSources {
  /** `--work_dir`, `--gc_delay` (in seconds) and `--gc_disk_headroom`. */
  readonly gc?: {
    readonly workDir: string;
    readonly delaySecs: number;
    readonly diskHeadroom: number;
    /** The sandbox garbage collector's counts (`gc/path_removals_*`). */
    readonly collector?: {
      readonly pending: number;
      readonly succeeded: number;
      readonly failed: number;
    };
  };
  /** Checkpoint problems skipped at start with `--strict=false` (Mesos counts them). */
  readonly recoveryErrors?: number;
  /** Container teardowns that failed in part (`containerizer/mesos/container_destroy_errors`). */
  readonly containerDestroyErrors?: () => number;
  /** The fetcher cache: its `--fetcher_cache_size` and the bytes it holds. */
  readonly fetcherCache?: { readonly capacityBytes: number; readonly totalBytes: number };
}

/** Registers the agent's metrics in `registry`. */
export function registerAgentMetrics(
  registry: MetricsRegistry,
  agent: Agent,
  clock: Clock,
  sources: AgentMetricsSources = {},
): void {
  const g = (name: string, read: () => number | Promise<number>) => registry.gauge(name, read);
  const c = (name: string, read: () => number) => registry.counterFrom(name, read);
  g("slave/uptime_secs", () => clock.now() / 1000 - agent.startTime);
  g("slave/registered", () => (agent.link.state === "RUNNING" ? 1 : 0));
  g("slave/recovery_errors", () => sources.recoveryErrors ?? 0);
  // Appears once recovery is over (the runtime then starts the agent), as in Mesos.
  const start = agent.start.bind(agent);
  agent.start = (master: string): void => {
    const secs = clock.now() / 1000 - agent.startTime;
    if (!registry.has("slave/recovery_time_secs")) g("slave/recovery_time_secs", () => secs);
    start(master);
  };
  g("slave/frameworks_active", () => agent.frameworks.size);

  for (const s of LIVE_STATES) {
    g(`slave/tasks_${s}`, () => taskStateCounts(agent).get(s) ?? 0);
  }
  const ended = countTerminalTasks(agent);
  const recovered = (s: string): number =>
    agent.recoveredTaskEnds.get(`TASK_${s.toUpperCase()}` as TaskState) ?? 0;
  for (const s of TERMINAL_STATES) {
    c(`slave/tasks_${s}`, () => (ended.get(s) ?? 0) + recovered(s));
  }

  const executorsIn = (state: Executor["state"]) => () => {
    let n = 0;
    for (const e of executorsOf(agent)) if (e.state === state) n++;
    return n;
  };
  g("slave/executors_registering", executorsIn("REGISTERING"));
  g("slave/executors_running", executorsIn("RUNNING"));
  g("slave/executors_terminating", executorsIn("TERMINATING"));
  c("slave/executors_terminated", () => agent.counters.executorsTerminated);
  c("slave/executors_preempted", () => agent.counters.executorsPreempted);

  c("slave/valid_status_updates", () => agent.counters.validStatusUpdates);
  c("slave/invalid_status_updates", () => agent.counters.invalidStatusUpdates);
  c("slave/valid_framework_messages", () => agent.counters.validFrameworkMessages);
  c("slave/invalid_framework_messages", () => agent.counters.invalidFrameworkMessages);
  c("slave/container_launch_errors", () => agent.counters.containerLaunchErrors);
  c("containerizer/mesos/container_destroy_errors", () => sources.containerDestroyErrors?.() ?? 0);

  const gc = sources.gc;
  if (gc !== undefined) {
    // Read at each snapshot; a file system we cannot read counts as empty.
    g("slave/executor_directory_max_allowed_age_secs", async () => {
      const usage = await diskUsage(gc.workDir).catch(() => 0);
      return executorDirectoryMaxAllowedAgeSecs(gc.delaySecs, gc.diskHeadroom, usage);
    });
    const collector = gc.collector;
    if (collector !== undefined) {
      g("gc/path_removals_pending", () => collector.pending);
      c("gc/path_removals_succeeded", () => collector.succeeded);
      c("gc/path_removals_failed", () => collector.failed);
    }
  }
  c("containerizer/fetcher/task_fetches_succeeded", () => fetchCounts.succeeded);
  c("containerizer/fetcher/task_fetches_failed", () => fetchCounts.failed);
  const cache = sources.fetcherCache;
  if (cache !== undefined) {
    g("containerizer/fetcher/cache_size_total_bytes", () => cache.capacityBytes);
    g("containerizer/fetcher/cache_size_used_bytes", () => cache.totalBytes);
  }

  for (const r of RESOURCE_NAMES) {
    const total = () => agent.resources.getScalar(r) ?? 0;
    const used = () => usedResources(agent).nonRevocable().getScalar(r) ?? 0;
    g(`slave/${r}_total`, total);
    g(`slave/${r}_used`, used);
    g(`slave/${r}_percent`, () => {
      const t = total();
      return t === 0 ? 0 : used() / t;
    });
    // Revocable: the last total estimate, and what executors hold of it.
    const revocableTotal = () => agent.oversubscribedResources?.getScalar(r) ?? 0;
    const revocableUsed = () => usedResources(agent).revocable().getScalar(r) ?? 0;
    g(`slave/${r}_revocable_total`, revocableTotal);
    g(`slave/${r}_revocable_used`, revocableUsed);
    g(`slave/${r}_revocable_percent`, () => {
      const t = revocableTotal();
      return t === 0 ? 0 : revocableUsed() / t;
    });
  }
}
