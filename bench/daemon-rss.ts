/**
 * Memory of the daemons and of the command executor (issue 4): master and
 * agent RSS idle and with N `sleep 600` tasks running (one command executor
 * each), the command executors' RSS, PSS and private memory
 * (/proc/<pid>/smaps_rollup, medians over all N, which share the node
 * binary's pages), and the executor's time to register: spawn -> SUBSCRIBE
 * against the test harness's fake agent, the way the agent starts it
 * (bundle, own session, sandbox cwd, clean environment), with the CPU it
 * used by then.
 *
 * Mesos 1.12 on this kind of machine: master/agent 67/69 MiB idle, 75/105
 * MiB with 200 tasks; its command executor 65 MiB RSS, 18 MiB PSS,
 * registered in 133 ms. Targets for ours: at most 65 MiB RSS, 18 MiB PSS,
 * registered within 100 ms.
 * `npm run bench -- daemon-rss [N=200] [registrations=10]`.
 */
import { readlinkSync } from "node:fs";
import {
  COMMAND_EXECUTOR_BUNDLE,
  ensureCommandExecutorBundle,
} from "../src/executor/launch-command.js";
import type { TaskInfo } from "../src/scheduler/index.js";
import { FakeAgent } from "../test/harness/fake-agent.js";
import { launchExecutor } from "../test/harness/fake-agent-launch.js";
import {
  BenchFramework,
  type Memory,
  memoryOf,
  procCpuMs,
  processesWith,
  quantile,
  resourcesIn,
  round1,
  sleep,
  startBenchCluster,
  waitForNoProcesses,
} from "./lib/cluster.js";
import { isEntryPoint } from "./lib/entry-point.js";
import { reportCase } from "./lib/report.js";

const BENCH = "daemon-rss";

/** Median RSS (MiB) of `pid` over three samples 300 ms apart. */
async function rssOf(pid: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    samples.push(memoryOf(pid).rss);
    await sleep(300);
  }
  return quantile(samples, 0.5);
}

/** spawn -> SUBSCRIBE (ms) and CPU by then, `count` launches of the bundled executor. */
async function registrations(count: number): Promise<{ ms: number[]; cpu: number[] }> {
  const agent = await FakeAgent.start();
  const ms: number[] = [];
  const cpu: number[] = [];
  try {
    for (let i = 0; i <= count; i++) {
      const executorId = `rss-bench-${i}`;
      const before = agent.subscribes.length;
      const t0 = performance.now();
      const ex = launchExecutor(agent, { executorId, entry: COMMAND_EXECUTOR_BUNDLE });
      const sub = await agent.waitForSubscribe(before + 1, 30_000);
      const used = procCpuMs(ex.child.pid ?? 0);
      // The first launch only warms the page cache.
      if (i > 0) {
        ms.push(sub.at - t0);
        cpu.push(used);
      }
      ex.child.kill("SIGKILL");
      await ex.exited;
      await ex.cleanup();
    }
  } finally {
    await agent.stop();
  }
  return { ms, cpu };
}

/** Runs the benchmark: `[N=200] [registrations=10]`. */
export async function run(args: string[]): Promise<void> {
  const n = Number(args[0] ?? 200);
  const registrationCount = Number(args[1] ?? 10);
  const bundled = ensureCommandExecutorBundle();
  if (bundled.error !== undefined) throw new Error(`cannot bundle the executor: ${bundled.error}`);

  const reg = await registrations(registrationCount);
  reportCase(BENCH, `command executor registration x${registrationCount}`, {
    spawn_to_subscribe_ms_p50: quantile(reg.ms, 0.5),
    spawn_to_subscribe_ms_min: quantile(reg.ms, 0),
    cpu_ms_to_subscribe_p50: quantile(reg.cpu, 0.5),
    target_ms: 100,
    mesos_ms: 133,
  });

  // No loop probe: it would add to the daemons' memory.
  const cluster = await startBenchCluster({ probe: false });
  const fw = new BenchFramework(cluster.master.address, BENCH);
  try {
    const masterPid = cluster.master.child.pid ?? 0;
    const agentPid = cluster.agent.child.pid ?? 0;
    const offer = await fw.nextOffer();
    await sleep(2000);
    const idle = { master: await rssOf(masterPid), agent: await rssOf(agentPid) };
    const resources = resourcesIn(offer, "cpus:0.01;mem:32");
    const tasks: TaskInfo[] = Array.from({ length: n }, (_, i) => ({
      name: `rss-${i}`,
      task_id: { value: `rss-${i}` },
      agent_id: offer.agent_id,
      resources,
      command: { shell: true, value: "sleep 600" },
    }));
    await fw.client.launch([offer.id], tasks);
    await fw.until(`${n} tasks running`, () => fw.reached("TASK_RUNNING") >= n, 240_000);
    await sleep(2000);
    const busy = { master: await rssOf(masterPid), agent: await rssOf(agentPid) };
    const executors: Memory[] = processesWith(cluster.sandboxMarker)
      .filter((p) => p.argv.includes(COMMAND_EXECUTOR_BUNDLE))
      .map((p) => memoryOf(p.pid));
    reportCase(BENCH, "master and agent", {
      master_idle_mib: round1(idle.master),
      agent_idle_mib: round1(idle.agent),
      [`master_${n}_tasks_mib`]: round1(busy.master),
      [`agent_${n}_tasks_mib`]: round1(busy.agent),
      mesos_master_idle_mib: 67,
      mesos_agent_idle_mib: 69,
      mesos_master_200_tasks_mib: 75,
      mesos_agent_200_tasks_mib: 105,
    });
    const med = (key: keyof Memory) =>
      quantile(
        executors.map((m) => m[key]),
        0.5,
      );
    // The agent's idle warm executors (`--executor_pool_size`, default 1):
    // memory charged to no container. Found by the pool's variable and cwd.
    const pool = processesWith("MESOS_TS_POOLED=1")
      .filter((p) => {
        try {
          return readlinkSync(`/proc/${p.pid}/cwd`).startsWith(cluster.agent.workDir);
        } catch {
          return false;
        }
      })
      .map((p) => memoryOf(p.pid));
    reportCase(BENCH, "agent warm pool (default --executor_pool_size)", {
      idle_members: pool.length,
      rss_mib: round1(pool.reduce((sum, m) => sum + m.rss, 0)),
      pss_mib: round1(pool.reduce((sum, m) => sum + m.pss, 0)),
      private_mib: round1(pool.reduce((sum, m) => sum + m.priv, 0)),
    });
    reportCase(BENCH, `command executor, ${n} side by side`, {
      executors: executors.length,
      rss_mib_p50: med("rss"),
      pss_mib_p50: med("pss"),
      private_mib_p50: med("priv"),
      target_rss_mib: 65,
      target_pss_mib: 18,
    });
    await Promise.all(tasks.map((t) => fw.client.kill(t.task_id, offer.agent_id)));
    await fw.until("tasks killed", () => fw.reached("TASK_KILLED") >= n, 180_000);
    await fw.close();
    const orphans = await waitForNoProcesses(cluster.sandboxMarker, 20_000);
    if (orphans > 0) process.stderr.write(`${BENCH}: ${orphans} process(es) left behind\n`);
  } finally {
    await fw.close().catch(() => {});
    await cluster.stop();
  }
}

if (isEntryPoint(import.meta.url)) await run(process.argv.slice(2));
