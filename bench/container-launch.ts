/**
 * Container launch latency, ACCEPT -> TASK_RUNNING, with the POSIX
 * isolation (`posix/cpu,posix/mem`) against cgroups and a pid namespace
 * (`cgroups/cpu,cgroups/mem,namespaces/pid`, linux launcher): `n` command
 * tasks (`sleep 600`, cpus:0.01, mem:32) in one ACCEPT, then one task at a
 * time. Needs root and cgroups for the second case (skipped otherwise).
 *
 * `node dist/bench/run.js container-launch [n=200] [singles=5]`
 */
import { rmdirSync } from "node:fs";
import { CgroupsHierarchy } from "../src/agent/containerizer/cgroups/hierarchy.js";
import type { TaskInfo } from "../src/scheduler/index.js";
import {
  type BenchCluster,
  BenchFramework,
  quantile,
  resourcesIn,
  round1,
  startBenchCluster,
  waitForNoProcesses,
} from "./lib/cluster.js";
import { reportCase } from "./lib/report.js";

const BENCH = "container-launch";
const FAILED = ["TASK_FAILED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED", "TASK_GONE"];

interface Variant {
  name: string;
  flags: Record<string, string | boolean>;
}

const VARIANTS: Variant[] = [
  { name: "posix", flags: { isolation: "posix/cpu,posix/mem" } },
  {
    name: "cgroups+pid-namespace",
    flags: {
      isolation: "cgroups/cpu,cgroups/mem,namespaces/pid",
      launcher: "linux",
      cgroups_root: `mesos-bench-${process.pid}`,
    },
  },
];

let frameworks = 0;

function sleepTask(id: string, offer: Parameters<typeof resourcesIn>[0]): TaskInfo {
  return {
    name: id,
    task_id: { value: id },
    agent_id: offer.agent_id,
    resources: resourcesIn(offer, "cpus:0.01;mem:32"),
    command: { shell: true, value: "sleep 600" },
  };
}

/** Launches `n` tasks in one ACCEPT; returns each task's ACCEPT -> RUNNING time. */
async function launchBatch(cluster: BenchCluster, variant: string, n: number): Promise<number[]> {
  const fw = new BenchFramework(cluster.master.address, `${BENCH} ${variant} ${++frameworks}`);
  const failures: string[] = [];
  fw.onUpdate = (status) => {
    if (FAILED.includes(status.state)) {
      failures.push(`${status.task_id.value}: ${status.state} ${status.message ?? ""}`);
    }
  };
  try {
    const offer = await fw.nextOffer();
    const ids = Array.from({ length: n }, (_, i) => `${variant}-${frameworks}-${i}`);
    const tasks = ids.map((id) => sleepTask(id, offer));
    const t0 = performance.now();
    void fw.client.launch([offer.id], tasks);
    await fw.until(
      `${n} tasks running`,
      () => {
        if (failures.length > 0)
          throw new Error(`tasks failed: ${failures.slice(0, 3).join("; ")}`);
        return fw.reached("TASK_RUNNING") >= n;
      },
      300_000,
    );
    const running = ids.map((id) => (fw.firstAt.get(`TASK_RUNNING ${id}`) as number) - t0);
    await Promise.all(ids.map((id) => fw.client.kill({ value: id }, offer.agent_id)));
    await fw.until(`${n} tasks killed`, () => fw.reached("TASK_KILLED") >= n, 180_000);
    await fw.close();
    await waitForNoProcesses(cluster.sandboxMarker, 30_000);
    return running;
  } finally {
    if (fw.client.state !== "closed") await fw.close().catch(() => {});
  }
}

/** Runs the benchmark: `[n=200] [singles=5]`. */
export async function run(args: string[]): Promise<void> {
  const n = Number(args[0] ?? 200);
  const singles = Number(args[1] ?? 5);
  const canIsolate =
    process.getuid?.() === 0 && !("error" in CgroupsHierarchy.detect("/sys/fs/cgroup", "mesos"));
  const batchP50 = new Map<string, number>();
  for (const variant of VARIANTS) {
    if (variant.name !== "posix" && !canIsolate) {
      console.error(`skipping ${variant.name}: needs root and cgroups`);
      continue;
    }
    const cluster = await startBenchCluster({ agentFlags: variant.flags, probe: false });
    try {
      const batch = await launchBatch(cluster, variant.name, n);
      const one: number[] = [];
      for (let i = 0; i < singles; i++) one.push(...(await launchBatch(cluster, variant.name, 1)));
      const all = Math.max(...batch);
      batchP50.set(variant.name, quantile(batch, 0.5));
      const posix = batchP50.get("posix");
      reportCase(BENCH, `${variant.name} n=${n}`, {
        accept_to_all_running_ms: Math.round(all),
        accept_to_running_ms_p50: Math.round(quantile(batch, 0.5)),
        accept_to_running_ms_p99: Math.round(quantile(batch, 0.99)),
        tasks_per_s: round1((n * 1000) / all),
        single_accept_to_running_ms_p50: Math.round(quantile(one, 0.5)),
        p50_vs_posix: posix === undefined ? 1 : round1(quantile(batch, 0.5) / Math.max(posix, 1)),
      });
    } finally {
      await cluster.stop();
      removeRootCgroups(variant.flags.cgroups_root);
    }
  }
}

/** Removes the empty root cgroups the agent made under `--cgroups_root`. */
function removeRootCgroups(root: string | boolean | undefined): void {
  if (typeof root !== "string") return;
  const found = CgroupsHierarchy.detect("/sys/fs/cgroup", root);
  if ("error" in found) return;
  for (const s of ["cpu", "cpuacct", "memory", "freezer"] as const) {
    if (!found.has(s)) continue;
    try {
      rmdirSync(found.rootPath(s));
    } catch {
      // not there, or not empty
    }
  }
}
