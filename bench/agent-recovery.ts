/**
 * Agent recovery time: N running tasks of a checkpointing framework on one
 * real agent; the agent is killed with SIGKILL and restarted on the same
 * work dir and port. Measured from the restart until the agent has
 * re-attached every executor and re-registered with the master (its log
 * says `Re-registered with master`), and split into start-up (until /health
 * answers) and recovery proper. Executors re-subscribe after a random
 * backoff bounded by --executor_reregistration_timeout (default 2secs, as
 * Mesos passes it in MESOS_SUBSCRIPTION_BACKOFF_MAX), which bounds recovery.
 *
 *   node dist/bench/run.js agent-recovery [N ...]     (default: 10 40)
 *
 * The `fleet` case (issue 7: "1,000 running tasks on 10 real agents"): one
 * master, A real agents, each with E bench executors (bench-executor.ts, a
 * custom executor holding many tasks, so 1,000 tasks need no 1,000
 * processes) of T tasks each. All agents are killed with SIGKILL at once and
 * restarted on their work dirs and ports. Reported: time until every agent
 * re-registered with its old id, until the master lists all tasks RUNNING on
 * active agents, until the scheduler's implicit reconciliation answered every
 * task RUNNING; executors re-attached (re-subscribed, same pids) vs
 * relaunched; CPU of master, agents and executors (from /proc, so less
 * sensitive to a loaded machine than the wall times).
 *
 *   node dist/bench/run.js agent-recovery fleet [A E T]   (default: 10 10 10)
 */
import { userInfo } from "node:os";
import type { ExecutorInfo, TaskInfo } from "../src/scheduler/index.js";
import {
  type DaemonHandle,
  freePort,
  getJson,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitForAgents,
} from "../test/harness/processes.js";
import {
  BenchFramework,
  benchExecutorBundle,
  procCpuMs,
  processesWith,
  resourcesIn,
  round1,
  sleep,
} from "./lib/cluster.js";
import { reportCase } from "./lib/report.js";

async function oneCase(n: number): Promise<void> {
  const master = await startMaster({ flags: { allocation_interval: "100ms" } });
  const port = await freePort();
  const workDir = tempDir("bench-agent-recovery-");
  const flags = {
    work_dir: workDir,
    resources: "cpus:64;mem:65536;disk:65536;ports:[31000-32000]",
    registration_backoff_factor: "10ms",
  };
  let agent: DaemonHandle = await startAgent({ master: master.address, port, flags });
  await waitForAgents(master, 1);
  const framework = new BenchFramework(master.address, "agent-recovery", {
    framework: { user: userInfo().username, name: "agent-recovery", checkpoint: true },
  });
  try {
    let launched = 0;
    while (launched < n) {
      const offer = await framework.nextOffer(60_000);
      const tasks: TaskInfo[] = [];
      for (; launched < n && tasks.length < 10; launched++) {
        tasks.push({
          name: `t${launched}`,
          task_id: { value: `t${launched}` },
          agent_id: offer.agent_id,
          resources: resourcesIn(offer, "cpus:0.01;mem:16"),
          command: { shell: true, value: "sleep 3600" },
        });
      }
      await framework.client.launch([offer.id], tasks);
    }
    await framework.until(
      `${n} tasks running`,
      () => framework.reached("TASK_RUNNING") >= n,
      300_000,
    );
    await sleep(500);

    agent.kill("SIGKILL");
    await agent.exited;
    const t0 = performance.now();
    agent = await startAgent({ master: master.address, port, flags });
    const healthMs = performance.now() - t0;
    let reregisteredMs = 0;
    for (;;) {
      if (agent.logs().includes("Re-registered with master")) {
        reregisteredMs = performance.now() - t0;
        break;
      }
      if (performance.now() - t0 > 120_000) throw new Error("no re-registration within 120 s");
      await sleep(20);
    }
    const lost =
      (framework.counts.get("TASK_LOST") ?? 0) + (framework.counts.get("TASK_FAILED") ?? 0);
    reportCase("agent-recovery", `${n} running tasks, SIGKILL + restart`, {
      tasks: n,
      restart_to_health_ms: round1(healthMs),
      restart_to_reregistered_ms: round1(reregisteredMs),
      recovery_ms: round1(reregisteredMs - healthMs),
      recovery_per_task_ms: round1((reregisteredMs - healthMs) / n),
      tasks_lost: lost,
    });
  } finally {
    await framework.close().catch(() => undefined);
    await sleep(1000);
    await stopAll();
  }
}

interface FleetAgent {
  port: number;
  workDir: string;
  handle: DaemonHandle;
  id: string;
}

const AGENT_FLAGS = {
  resources: "cpus:64;mem:65536;disk:65536;ports:[31000-32000]",
  registration_backoff_factor: "10ms",
};

/** Polls `probe` every `everyMs` until it returns a value; throws after `timeoutMs`. */
async function poll<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  everyMs: number,
  timeoutMs: number,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const got = await probe().catch(() => undefined);
    if (got !== undefined) return got;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

interface StateSlaves {
  slaves?: { id: string; pid: string; active?: boolean }[];
}
interface StateTasks {
  frameworks?: { tasks?: { id: string; state: string; slave_id: string }[] }[];
}

async function fleetCase(agents: number, executorsPerAgent: number, tasksPerExecutor: number) {
  const total = agents * executorsPerAgent * tasksPerExecutor;
  const master = await startMaster({ flags: { allocation_interval: "100ms" } });
  const fleet: FleetAgent[] = [];
  for (let i = 0; i < agents; i++) {
    const port = await freePort();
    const workDir = tempDir("bench-fleet-agent-");
    const handle = await startAgent({
      master: master.address,
      port,
      flags: { ...AGENT_FLAGS, work_dir: workDir },
    });
    fleet.push({ port, workDir, handle, id: "" });
  }
  const ids = await waitForAgents(master, agents);
  const state = await getJson<StateSlaves>(`${master.url}/master/state`);
  for (const a of fleet) {
    a.id = state?.slaves?.find((s) => s.pid.endsWith(`:${a.port}`))?.id ?? "";
    if (a.id === "")
      throw new Error(`agent on port ${a.port} not registered (have ${ids.join(", ")})`);
  }
  const framework = new BenchFramework(master.address, "agent-recovery-fleet", {
    framework: { user: userInfo().username, name: "agent-recovery-fleet", checkpoint: true },
  });
  const executorPids = (): Set<number> =>
    new Set(fleet.flatMap((a) => processesWith(`MESOS_SANDBOX=${a.workDir}`).map((p) => p.pid)));
  let pidsBefore = new Set<number>();
  try {
    const launchedOn = new Set<string>();
    while (launchedOn.size < agents) {
      const offer = await framework.nextOffer(120_000);
      if (launchedOn.has(offer.agent_id.value)) continue;
      launchedOn.add(offer.agent_id.value);
      const tasks: TaskInfo[] = [];
      for (let e = 0; e < executorsPerAgent; e++) {
        const executor: ExecutorInfo = {
          executor_id: { value: `fleet-${launchedOn.size}-${e}` },
          framework_id: { value: framework.client.frameworkId?.value ?? "" },
          command: {
            shell: false,
            value: process.execPath,
            arguments: [process.execPath, benchExecutorBundle()],
          },
          resources: resourcesIn(offer, "cpus:0.1;mem:32"),
        };
        for (let t = 0; t < tasksPerExecutor; t++) {
          const id = `f${launchedOn.size}-${e}-${t}`;
          tasks.push({
            name: id,
            task_id: { value: id },
            agent_id: offer.agent_id,
            resources: resourcesIn(offer, "cpus:0.01;mem:1"),
            executor,
          });
        }
      }
      await framework.client.launch([offer.id], tasks);
    }
    await framework.until(
      `${total} tasks running`,
      () => framework.reached("TASK_RUNNING") >= total,
      600_000,
    );
    await sleep(1000);
    pidsBefore = executorPids();
    const executors = agents * executorsPerAgent;
    if (pidsBefore.size < executors) {
      throw new Error(`expected ${executors} executor processes, found ${pidsBefore.size}`);
    }
    const executorCpu0 = [...pidsBefore].reduce((sum, pid) => sum + procCpuMs(pid), 0);

    for (const a of fleet) a.handle.kill("SIGKILL");
    await Promise.all(fleet.map((a) => a.handle.exited));
    const masterCpu0 = procCpuMs(master.child.pid ?? 0);
    const t0 = performance.now();
    await Promise.all(
      fleet.map(async (a) => {
        a.handle = await startAgent({
          master: master.address,
          port: a.port,
          flags: { ...AGENT_FLAGS, work_dir: a.workDir },
        });
      }),
    );
    const healthMs = performance.now() - t0;
    const oldIds = new Set(fleet.map((a) => a.id));
    await poll(
      "every agent re-registered with its id",
      async () => {
        const got = await getJson<StateSlaves>(`${master.url}/master/slaves`);
        const back = (got?.slaves ?? []).filter(
          (s) =>
            oldIds.has(s.id) &&
            s.active === true &&
            fleet.some((a) => s.pid.endsWith(`:${a.port}`)),
        );
        const all = fleet.every((a) => a.handle.logs().includes("Re-registered with master"));
        return back.length === agents && all ? true : undefined;
      },
      25,
      180_000,
    );
    const reregisteredMs = performance.now() - t0;
    await poll(
      `the master listing ${total} RUNNING tasks`,
      async () => {
        const got = await getJson<StateTasks>(`${master.url}/master/state`);
        const running = (got?.frameworks ?? [])
          .flatMap((f) => f.tasks ?? [])
          .filter((t) => t.state === "TASK_RUNNING" && oldIds.has(t.slave_id)).length;
        return running >= total ? true : undefined;
      },
      50,
      120_000,
    );
    const masterTasksMs = performance.now() - t0;
    const answered = new Set<string>();
    framework.onUpdate = (status) => {
      if (status.reason === "REASON_RECONCILIATION" && status.state === "TASK_RUNNING") {
        answered.add(status.task_id.value);
      }
    };
    await framework.client.reconcile();
    await framework.until("reconciliation of every task", () => answered.size >= total, 60_000);
    const reconciledMs = performance.now() - t0;
    const masterCpuMs = procCpuMs(master.child.pid ?? 0) - masterCpu0;
    const agentCpu = fleet.map((a) => procCpuMs(a.handle.child.pid ?? 0));
    const pidsAfter = executorPids();
    const survived = [...pidsBefore].filter((pid) => pidsAfter.has(pid)).length;
    const executorCpuMs =
      [...pidsAfter]
        .filter((pid) => pidsBefore.has(pid))
        .reduce((sum, pid) => sum + procCpuMs(pid), 0) - executorCpu0;
    const resubscribed = fleet.reduce(
      (n, a) =>
        n + (a.handle.logs().match(/Received Subscribe request for HTTP executor/g)?.length ?? 0),
      0,
    );
    const lost =
      (framework.counts.get("TASK_LOST") ?? 0) +
      (framework.counts.get("TASK_FAILED") ?? 0) +
      (framework.counts.get("TASK_KILLED") ?? 0);
    reportCase(
      "agent-recovery",
      `fleet: ${total} running tasks on ${agents} agents (${executorsPerAgent} executors x ${tasksPerExecutor} tasks each), SIGKILL + restart of all agents`,
      {
        agents,
        executors,
        tasks: total,
        restart_to_health_ms: round1(healthMs),
        restart_to_all_reregistered_ms: round1(reregisteredMs),
        // Recovery proper (start-up of 10 Node daemons at once excluded); includes the
        // executors' re-subscription backoff (up to --executor_reregistration_timeout).
        health_to_all_reregistered_ms: round1(reregisteredMs - healthMs),
        restart_to_master_tasks_running_ms: round1(masterTasksMs),
        restart_to_reconciled_ms: round1(reconciledMs),
        executors_reattached: resubscribed,
        executor_pids_survived: survived,
        executors_relaunched: [...pidsAfter].filter((pid) => !pidsBefore.has(pid)).length,
        master_cpu_ms: round1(masterCpuMs),
        agents_cpu_ms_total: round1(agentCpu.reduce((a, b) => a + b, 0)),
        agent_cpu_ms_max: round1(Math.max(...agentCpu)),
        executors_cpu_ms_total: round1(executorCpuMs),
        tasks_lost: lost,
      },
    );
  } finally {
    await framework.close().catch(() => undefined);
    await sleep(2000);
    await stopAll();
    // Executors that did not leave with their framework: ours, by pid.
    for (const pid of new Set([...pidsBefore, ...executorPids()])) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}

export async function run(args: string[]): Promise<void> {
  if (args[0] === "fleet") {
    const [agents = 10, executors = 10, tasks = 10] = args.slice(1).map(Number);
    await fleetCase(agents, executors, tasks);
    return;
  }
  const sizes = args.length > 0 ? args.map(Number) : [10, 40];
  for (const n of sizes) await oneCase(n);
}
