/** What the `--executor_pool_size` tests see of an agent's idle pooled executors. */
import { readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { POOL_VARIABLE } from "../../src/executor/command-executor-main.js";
import { environ } from "./proc-scan.js";
import { waitFor } from "./processes.js";

/** Idle pooled executors of the agent on `workDir` (their cwd is its pool directory). */
export function idleExecutors(workDir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    const pid = Number(name);
    try {
      if (!environ(pid).includes(`${POOL_VARIABLE}=1`)) continue;
      if (readlinkSync(`/proc/${pid}/cwd`) === join(workDir, "executor-pool")) out.push(pid);
    } catch {
      // gone
    }
  }
  return out;
}

/** Waits (20 s at most) until the agent on `workDir` has exactly one idle pooled executor: its pid. */
export async function oneIdleExecutor(workDir: string): Promise<number> {
  const idle = await waitFor(
    "an idle pooled executor",
    () => {
      const pids = idleExecutors(workDir);
      return pids.length === 1 ? pids : undefined;
    },
    { timeoutMs: 20_000 },
  );
  return idle[0] as number;
}
