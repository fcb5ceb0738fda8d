/**
 * Spawn cost against the agent's heap (issue 4): `child_process.spawn`
 * blocks the calling event loop until the child has exec'ed, and that time
 * grows with the caller's memory (fork copies its page tables). The agent
 * therefore starts executors through the launcher helper
 * (src/agent/containerizer/launcher-helper.ts), a small Node process of its
 * own. This bench spawns `/bin/true` K times per method, the methods
 * interleaved, with this process's heap at ~50 MB and then at ~1 GB
 * (ballast of live JS arrays):
 *
 * - `direct`: `spawn()` from this process (what the agent would do without
 *   the helper): the synchronous call (= event-loop block) and spawn -> exit;
 * - `helper`: a `LauncherClient` request, exactly as the agent sends it:
 *   request -> pid reply, request -> exit, and the synchronous part.
 *
 * Ratios are ~1 GB / ~50 MB per method. Target: at most 1.5 through the
 * helper. `npm run bench -- spawn-heap [K=40]`.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { LauncherClient, type ProcessExit } from "../src/agent/containerizer/launcher.js";
import { tempDir } from "../test/harness/processes.js";
import { quantile, round2 } from "./lib/cluster.js";
import { isEntryPoint } from "./lib/entry-point.js";
import { collectGarbage, heapMb, reportCase, rssMb } from "./lib/report.js";

const BENCH = "spawn-heap";
const quiet = { info: () => {}, warn: () => {}, error: () => {}, verbose: () => {} };

interface Sample {
  callMs: number;
  readyMs: number;
  exitMs: number;
}

function spawnDirect(cwd: string): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn("/bin/true", [], { cwd, detached: true, stdio: "ignore" });
    const callMs = performance.now() - t0;
    let readyMs = Number.NaN;
    child.once("spawn", () => {
      readyMs = performance.now() - t0;
    });
    child.once("error", reject);
    child.once("exit", () => resolve({ callMs, readyMs, exitMs: performance.now() - t0 }));
  });
}

class Helper {
  private readonly exits = new Map<number, () => void>();
  private readonly early = new Set<number>();
  readonly client: LauncherClient;

  constructor() {
    this.client = new LauncherClient(
      quiet,
      (pid: number, _exit: ProcessExit) => {
        const waiter = this.exits.get(pid);
        if (waiter === undefined) this.early.add(pid);
        else waiter();
      },
      () => {},
    );
    this.client.start();
  }

  async spawn(cwd: string): Promise<Sample> {
    const t0 = performance.now();
    const reply = this.client.spawn({
      op: "spawn",
      file: "/bin/true",
      args: ["true"],
      env: { PATH: "/usr/bin:/bin" },
      cwd,
      stdout: join(cwd, "stdout"),
      stderr: join(cwd, "stderr"),
    });
    const callMs = performance.now() - t0;
    const { pid } = await reply;
    const readyMs = performance.now() - t0;
    if (!this.early.delete(pid)) {
      await new Promise<void>((resolve) => this.exits.set(pid, resolve));
      this.exits.delete(pid);
    }
    return { callMs, readyMs, exitMs: performance.now() - t0 };
  }
}

/** Grows the JS heap with live arrays of doubles until it holds about `mb` MiB. */
function ballast(keep: number[][], mb: number): void {
  while (heapMb() < mb) keep.push(new Array(1 << 17).fill(1.5));
}

async function measure(helper: Helper, cwd: string, k: number) {
  const direct: Sample[] = [];
  const viaHelper: Sample[] = [];
  for (let i = 0; i < k; i++) {
    direct.push(await spawnDirect(cwd));
    viaHelper.push(await helper.spawn(cwd));
  }
  return { direct, helper: viaHelper };
}

const p50 = (xs: Sample[], key: keyof Sample) =>
  quantile(
    xs.map((s) => s[key]),
    0.5,
  );

/** Runs the benchmark: `[K=40]` spawns per method and heap size. */
export async function run(args: string[]): Promise<void> {
  const k = Number(args[0] ?? 40);
  const cwd = tempDir("bench-spawn-");
  const helper = new Helper();
  const keep: number[][] = [];
  try {
    // Warm up both paths (page cache, helper start-up).
    await measure(helper, cwd, 3);
    collectGarbage();
    ballast(keep, 50);
    const smallHeap = heapMb();
    const smallRss = rssMb();
    const small = await measure(helper, cwd, k);
    ballast(keep, 1024);
    collectGarbage();
    const largeHeap = heapMb();
    const largeRss = rssMb();
    const large = await measure(helper, cwd, k);
    for (const method of ["direct", "helper"] as const) {
      const a = small[method];
      const b = large[method];
      reportCase(BENCH, `${method} /bin/true x${k}`, {
        heap_small_mb: Math.round(smallHeap),
        rss_small_mb: Math.round(smallRss),
        heap_large_mb: Math.round(largeHeap),
        rss_large_mb: Math.round(largeRss),
        call_ms_p50_small: p50(a, "callMs"),
        call_ms_p50_large: p50(b, "callMs"),
        spawned_ms_p50_small: p50(a, "readyMs"),
        spawned_ms_p50_large: p50(b, "readyMs"),
        exit_ms_p50_small: p50(a, "exitMs"),
        exit_ms_p50_large: p50(b, "exitMs"),
        ratio_spawned: round2(p50(b, "readyMs") / p50(a, "readyMs")),
        ratio_call: round2(p50(b, "callMs") / p50(a, "callMs")),
        target_ratio: 1.5,
      });
    }
  } finally {
    keep.length = 0;
    helper.client.stop();
  }
}

if (isEntryPoint(import.meta.url)) await run(process.argv.slice(2));
