/**
 * Container launch latency, ACCEPT -> TASK_RUNNING, for three agents on one
 * master, one per isolation:
 * - `posix`: `posix/cpu,posix/mem`, posix launcher (no cgroups at all);
 * - `cgroups+pid-namespace`: `cgroups/cpu,cgroups/mem,namespaces/pid`, linux launcher;
 * - `image`: `filesystem/linux,docker/runtime`, linux launcher, each task in
 *   its own root filesystem copied from a local busybox image
 *   (`--image_providers=docker`, `--docker_registry=<dir>`, copy backend).
 * Each variant launches `n` command tasks (`sleep 600`, cpus:0.01, mem:32)
 * in batches of `n / rounds` tasks per ACCEPT, then `singles` tasks one at a
 * time; the variants take turns (rotating order) so that a busy machine
 * skews them alike, and the ratios to posix are the load-robust figures.
 * Needs root and cgroups for the second case and a static busybox for the
 * third (each skipped otherwise).
 *
 * `node dist/bench/run.js container-launch [n=200] [rounds=2] [singles=5]`
 */
import { readdirSync, readlinkSync, rmdirSync } from "node:fs";
import { CgroupsHierarchy } from "../src/agent/containerizer/cgroups/hierarchy.js";
import type { Offer, TaskInfo } from "../src/scheduler/index.js";
import {
  type DaemonHandle,
  startAgent,
  startMaster,
  stopAll,
  tempDir,
  waitForAgents,
} from "../test/harness/processes.js";
import { buildBusyboxImage, staticBusybox } from "./lib/busybox-image.js";
import {
  BenchFramework,
  processesWith,
  quantile,
  resourcesIn,
  round2,
  sleep,
} from "./lib/cluster.js";
import { reportCase } from "./lib/report.js";

const BENCH = "container-launch";
const FAILED = ["TASK_FAILED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED", "TASK_GONE"];

interface Variant {
  name: string;
  flags: Record<string, string | boolean>;
  /** ContainerInfo of its tasks (none: the agent's default). */
  container?: TaskInfo["container"];
}

interface Running {
  variant: Variant;
  agent: DaemonHandle;
  agentId: string;
  /** ACCEPT -> TASK_RUNNING of every batched task. */
  latencies: number[];
  /** ACCEPT -> last TASK_RUNNING of each batch. */
  batchTimes: number[];
  /** ACCEPT -> TASK_RUNNING of each task launched alone. */
  singles: number[];
}

function variants(registry: string | undefined, image: string | undefined): Variant[] {
  const list: Variant[] = [
    { name: "posix", flags: { isolation: "posix/cpu,posix/mem", launcher: "posix" } },
    {
      name: "cgroups+pid-namespace",
      flags: {
        isolation: "cgroups/cpu,cgroups/mem,namespaces/pid",
        launcher: "linux",
        cgroups_root: `mesos-bench-${process.pid}-cg`,
      },
    },
  ];
  if (registry !== undefined && image !== undefined) {
    list.push({
      name: "image",
      flags: {
        isolation: "filesystem/linux,docker/runtime",
        launcher: "linux",
        image_providers: "docker",
        docker_registry: registry,
        docker_store_dir: tempDir("bench-docker-store-"),
        cgroups_root: `mesos-bench-${process.pid}-img`,
      },
      container: { type: "MESOS", mesos: { image: { type: "DOCKER", docker: { name: image } } } },
    });
  }
  return list;
}

let frameworks = 0;

function sleepTask(id: string, offer: Offer, container: Variant["container"]): TaskInfo {
  const task: TaskInfo = {
    name: id,
    task_id: { value: id },
    agent_id: offer.agent_id,
    resources: resourcesIn(offer, "cpus:0.01;mem:32"),
    command: { shell: true, value: "sleep 600" },
  };
  if (container !== undefined) task.container = container;
  return task;
}

/**
 * Processes of the agent's containers: those whose environment names a
 * sandbox under its work directory, and those rooted in an image root
 * filesystem there (their MESOS_SANDBOX is /mnt/mesos/sandbox).
 */
function containerProcesses(workDir: string): number {
  let rooted = 0;
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/root`).startsWith(workDir)) rooted++;
    } catch {
      // gone, or not ours to read
    }
  }
  return rooted + processesWith(`MESOS_SANDBOX=${workDir}`).length;
}

async function waitForNoContainers(workDir: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = containerProcesses(workDir);
    if (left === 0) return;
    if (Date.now() >= deadline) throw new Error(`${left} container processes left behind`);
    await sleep(200);
  }
}

/** Launches `n` tasks in one ACCEPT on `r`'s agent; returns each task's ACCEPT -> RUNNING time. */
async function launchBatch(master: DaemonHandle, r: Running, n: number): Promise<number[]> {
  const name = r.variant.name;
  const fw = new BenchFramework(master.address, `${BENCH} ${name} ${++frameworks}`);
  const failures: string[] = [];
  fw.onUpdate = (status) => {
    if (FAILED.includes(status.state)) {
      failures.push(`${status.task_id.value}: ${status.state} ${status.message ?? ""}`);
    }
  };
  try {
    const offer = await fw.nextOffer(30_000, r.agentId);
    const ids = Array.from({ length: n }, (_, i) => `${name}-${frameworks}-${i}`);
    const tasks = ids.map((id) => sleepTask(id, offer, r.variant.container));
    const t0 = performance.now();
    void fw.client.launch([offer.id], tasks);
    await fw.until(
      `${n} ${name} tasks running`,
      () => {
        if (failures.length > 0)
          throw new Error(`${name} tasks failed: ${failures.slice(0, 3).join("; ")}`);
        return fw.reached("TASK_RUNNING") >= n;
      },
      300_000,
    );
    const running = ids.map((id) => (fw.firstAt.get(`TASK_RUNNING ${id}`) as number) - t0);
    await Promise.all(ids.map((id) => fw.client.kill({ value: id }, offer.agent_id)));
    await fw.until(`${n} tasks killed`, () => fw.reached("TASK_KILLED") >= n, 180_000);
    await fw.close();
    await waitForNoContainers(r.agent.workDir, 30_000);
    return running;
  } finally {
    if (fw.client.state !== "closed") await fw.close().catch(() => {});
  }
}

/** Runs the benchmark: `[n=200] [rounds=2] [singles=5]`. */
export async function run(args: string[]): Promise<void> {
  const n = Number(args[0] ?? 200);
  const rounds = Math.max(1, Number(args[1] ?? 2));
  const singles = Number(args[2] ?? 5);
  const batch = Math.ceil(n / rounds);
  const root = process.getuid?.() === 0;
  const canIsolate = root && !("error" in CgroupsHierarchy.detect("/sys/fs/cgroup", "mesos"));
  const busybox = staticBusybox();
  let registry: string | undefined;
  let image: string | undefined;
  if (canIsolate && busybox !== undefined) {
    registry = tempDir("bench-registry-");
    image = buildBusyboxImage(registry, busybox);
  }
  const chosen = variants(registry, image).filter((v) => {
    const ok =
      v.name === "posix" || (canIsolate && (v.container === undefined || image !== undefined));
    if (!ok) console.error(`skipping ${v.name}: needs root, cgroups and a static busybox`);
    return ok;
  });
  const all: Running[] = [];
  try {
    const master = await startMaster({ flags: { allocation_interval: "100ms" } });
    const seen = new Set<string>();
    for (const variant of chosen) {
      const agent = await startAgent({
        master: master.address,
        flags: {
          resources: "cpus:64;mem:65536;disk:65536;ports:[31000-32000]",
          ...variant.flags,
        },
      });
      const ids = await waitForAgents(master, seen.size + 1);
      const agentId = ids.find((id) => !seen.has(id)) as string;
      seen.add(agentId);
      all.push({ variant, agent, agentId, latencies: [], batchTimes: [], singles: [] });
    }
    // One untimed task each: the image variant's first launch unpacks the image.
    for (const r of all) await launchBatch(master, r, 1);
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < all.length; k++) {
        const r = all[(round + k) % all.length] as Running;
        const times = await launchBatch(master, r, batch);
        r.latencies.push(...times);
        r.batchTimes.push(Math.max(...times));
      }
    }
    for (let i = 0; i < singles; i++) {
      for (let k = 0; k < all.length; k++) {
        const r = all[(i + k) % all.length] as Running;
        r.singles.push(...(await launchBatch(master, r, 1)));
      }
    }
    reportAll(all, batch, rounds);
  } finally {
    await stopAll();
    for (const r of all) removeRootCgroups(r.variant.flags.cgroups_root);
  }
}

function reportAll(all: Running[], batch: number, rounds: number): void {
  const figures = (r: Running) => ({
    p50: quantile(r.latencies, 0.5),
    p99: quantile(r.latencies, 0.99),
    nth: quantile(r.batchTimes, 0.5),
    single: quantile(r.singles, 0.5),
  });
  const posix = all.find((r) => r.variant.name === "posix");
  const base = posix === undefined ? undefined : figures(posix);
  const ratio = (x: number, b: number | undefined) =>
    b === undefined ? null : round2(x / Math.max(b, 1));
  for (const r of all) {
    const f = figures(r);
    reportCase(BENCH, `${r.variant.name} ${rounds}x${batch} tasks per ACCEPT, interleaved`, {
      accept_to_running_ms_p50: Math.round(f.p50),
      accept_to_running_ms_p99: Math.round(f.p99),
      accept_to_nth_running_ms: Math.round(f.nth),
      tasks_per_s: round2((batch * 1000) / Math.max(f.nth, 1)),
      single_accept_to_running_ms_p50: Math.round(f.single),
      p50_vs_posix: ratio(f.p50, base?.p50),
      p99_vs_posix: ratio(f.p99, base?.p99),
      nth_vs_posix: ratio(f.nth, base?.nth),
      single_vs_posix: ratio(f.single, base?.single),
    });
  }
}

/** Removes the empty root cgroups an agent made under `--cgroups_root`. */
function removeRootCgroups(root: string | boolean | undefined): void {
  if (typeof root !== "string") return;
  const found = CgroupsHierarchy.detect("/sys/fs/cgroup", root);
  if ("error" in found) return;
  for (const s of ["cpu", "cpuacct", "memory", "pids", "freezer"] as const) {
    if (!found.has(s)) continue;
    try {
      rmdirSync(found.rootPath(s));
    } catch {
      // not there, or not empty
    }
  }
}
