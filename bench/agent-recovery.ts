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
 */
import { userInfo } from "node:os";
import type { TaskInfo } from "../src/scheduler/index.js";
import {
  type DaemonHandle,
  freePort,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitForAgents,
} from "../test/harness/processes.js";
import { BenchFramework, resourcesIn, round1, sleep } from "./lib/cluster.js";
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

export async function run(args: string[]): Promise<void> {
  const sizes = args.length > 0 ? args.map(Number) : [10, 40];
  for (const n of sizes) await oneCase(n);
}
