/**
 * What the shared-executor tests read from /proc and the agent: sandboxes,
 * stand-in pids (the executor pid the agent records), hosts and the
 * processes of a sandbox (their framework is test/harness/queued-tasks.ts).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { alive } from "../harness/proc-scan.js";
import { getJson, waitFor } from "../harness/processes.js";

/** Parent pid of `pid` (0 when gone). */
export function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return 0;
  }
}

/** The executor host running the executor whose stand-in is `standIn` (named in its environment). */
export function hostOf(standIn: number): number {
  const mine = readFileSync(`/proc/${standIn}/environ`, "latin1").split("\0");
  const host = Number(mine.find((v) => v.startsWith("MESOS_TS_HOSTED_BY="))?.split("=")[1]);
  const env = readFileSync(`/proc/${host}/environ`, "latin1").split("\0");
  if (!env.includes("MESOS_TS_EXECUTOR_HOST=1")) {
    throw new Error(`${standIn} names ${host} as its host, which is not an executor host`);
  }
  return host;
}

/** Live processes whose environment names `directory` as MESOS_DIRECTORY, with their command names. */
export function processesIn(directory: string): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      const env = readFileSync(`/proc/${pid}/environ`, "latin1").split("\0");
      if (!env.includes(`MESOS_DIRECTORY=${directory}`) || !alive(pid)) continue;
      out.push({ pid, comm: readFileSync(`/proc/${pid}/comm`, "latin1").trim() });
    } catch {
      // gone, or not ours
    }
  }
  return out;
}

/** Executor id -> sandbox, from the agent's /state. */
export async function executorDirectories(agentUrl: string): Promise<Map<string, string>> {
  const state = await getJson<{
    frameworks?: { executors?: { id: string; directory: string }[] }[];
  }>(`${agentUrl}/state`);
  const out = new Map<string, string>();
  for (const f of state?.frameworks ?? []) {
    for (const e of f.executors ?? []) out.set(e.id, e.directory);
  }
  return out;
}

/** The executor pid the agent recorded for a sandbox (`pids/forked.pid` of its run). */
export async function standInOf(workDir: string, sandbox: string): Promise<number> {
  const pidFile = join(workDir, "meta", sandbox.slice(workDir.length + 1), "pids", "forked.pid");
  return waitFor(`${pidFile}`, () => {
    try {
      const pid = Number(readFileSync(pidFile, "utf8"));
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  });
}
