/**
 * Shared pieces of the containerizer integration tests: whether the
 * machine can run them, launching one task with mesos-execute and reading
 * its final status, finding sandboxes and leftover processes.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmdirSync } from "node:fs";
import {
  CgroupsHierarchy,
  type Subsystem,
} from "../../src/agent/containerizer/cgroups/hierarchy.js";
import { type DaemonHandle, getJson, runBinary, waitFor, waitLong } from "../harness/processes.js";

/** Why the isolation tests cannot run here, or undefined when they can. */
export function isolationSkipReason(subsystems: readonly Subsystem[]): string | undefined {
  if (process.platform !== "linux") return "needs Linux";
  if (process.getuid?.() !== 0) return "needs root (cgroups, namespaces, mounts)";
  const found = CgroupsHierarchy.detect("/sys/fs/cgroup", "mesos");
  if ("error" in found) return `needs cgroups: ${found.error}`;
  const missing = subsystems.filter((s) => !found.has(s));
  if (missing.length > 0) return `needs the cgroup controllers ${missing.join(", ")}`;
  return undefined;
}

/** A scalar resource for a TaskInfo. */
export function scalar(name: string, value: number) {
  return { name, type: "SCALAR", scalar: { value } };
}

export interface TaskRun {
  code: number | null;
  stdout: string;
  finalState: string | undefined;
  reason: string | undefined;
  message: string | undefined;
}

/** Runs one task with mesos-execute (`--task` JSON) and reads its last status update. */
export async function executeTask(
  master: DaemonHandle,
  task: {
    name: string;
    resources: object[];
    /** A shell command, or a whole CommandInfo. */
    command: string | object;
    container?: object;
    /** An ExecutorInfo (without framework_id) instead of the command executor. */
    executor?: object;
    killAfter?: string;
    /** TaskInfo.limits, e.g. `{ cpus: { value: 2 } }`. */
    limits?: object;
  },
): Promise<TaskRun> {
  const info: Record<string, unknown> = {
    name: task.name,
    task_id: { value: task.name },
    agent_id: { value: "" },
    resources: task.resources,
    command: typeof task.command === "string" ? { value: task.command } : task.command,
  };
  if (task.container !== undefined) info.container = task.container;
  if (task.limits !== undefined) info.limits = task.limits;
  if (task.executor !== undefined) {
    info.executor = task.executor;
    delete info.command;
  }
  const args = [`--master=${master.address}`, `--task=${JSON.stringify(info)}`];
  if (task.killAfter !== undefined) args.push(`--kill_after=${task.killAfter}`);
  const run = await runBinary("mesos-execute", args, { timeoutMs: 45_000 });
  const lines = run.stdout.split("\n");
  let finalState: string | undefined;
  let reason: string | undefined;
  let message: string | undefined;
  for (const line of lines) {
    const update = /^Received status update (\S+) for task/.exec(line);
    if (update !== null) {
      finalState = update[1];
      reason = undefined;
      message = undefined;
    }
    const r = /^ {2}reason: (\S+)/.exec(line);
    if (r !== null) reason = r[1];
    const m = /^ {2}message: '(.*)'$/.exec(line);
    if (m !== null) message = m[1];
  }
  return { code: run.code, stdout: run.stdout + run.stderr, finalState, reason, message };
}

/**
 * `TaskStatus.limitation.resources` of the last status of completed task
 * `taskId` (the newest one of that id), from the master's GET_TASKS.
 */
export async function limitedResourcesOf(
  master: DaemonHandle,
  taskId: string,
): Promise<{ name: string; scalar?: { value: number }; ranges?: unknown }[] | undefined> {
  interface Status {
    limitation?: { resources?: { name: string; scalar?: { value: number }; ranges?: unknown }[] };
  }
  const answer = await fetch(`${master.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ type: "GET_TASKS" }),
  });
  const body = (await answer.json()) as {
    get_tasks?: { completed_tasks?: { task_id: { value: string }; statuses?: Status[] }[] };
  };
  const tasks = (body.get_tasks?.completed_tasks ?? []).filter((t) => t.task_id.value === taskId);
  return tasks.at(-1)?.statuses?.at(-1)?.limitation?.resources;
}

function findDirectory(node: unknown, executorId: string): string | undefined {
  if (Array.isArray(node)) {
    for (const item of node) {
      const found = findDirectory(item, executorId);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (node === null || typeof node !== "object") return undefined;
  const record = node as Record<string, unknown>;
  if (record.id === executorId && typeof record.directory === "string") return record.directory;
  for (const value of Object.values(record)) {
    const found = findDirectory(value, executorId);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The sandbox of executor `executorId` (a command task's id), from the agent's /state. */
export function sandboxOf(agent: DaemonHandle, executorId: string): Promise<string> {
  return waitLong(`the sandbox of executor '${executorId}'`, async () =>
    findDirectory(await getJson(`${agent.url}/state`), executorId),
  );
}

/** Pids of processes whose command line contains `marker`. */
export function processesWithMarker(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, "latin1").replace(/\0/g, " ");
      if (cmdline.includes(marker) && Number(name) !== process.pid) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

/** Removes the (empty) root cgroups a test agent created under its `--cgroups_root`. */
export function removeRootCgroups(cgroups: CgroupsHierarchy): void {
  for (const s of ["cpu", "cpuacct", "memory", "pids", "freezer"] as const) {
    if (!cgroups.has(s)) continue;
    try {
      rmdirSync(cgroups.rootPath(s));
    } catch {
      // Not created, or not empty (a leak the tests report elsewhere).
    }
  }
}

/** The logrotate container logger's module name (`--container_logger`). */
export const LOGROTATE_MODULE = "org_apache_mesos_LogrotateContainerLogger";

/** Why the logrotate logger tests cannot run here, or undefined when they can. */
export const logrotateSkipReason =
  spawnSync("/bin/sh", ["-c", "command -v logrotate"]).status !== 0
    ? "logrotate is not on PATH (Debian package `logrotate`)"
    : undefined;

/** The `max_stdout_size` of LOGROTATE_MODULES, in bytes. */
export const LOGROTATE_MAX_STDOUT_BYTES = 10 * 1024;

/**
 * `--modules` JSON loading the logrotate logger as Mesos users write it:
 * stdout rotated at 10 KB, two old files kept.
 */
export const LOGROTATE_MODULES = JSON.stringify({
  libraries: [
    {
      file: "/usr/lib/mesos/modules/liblogrotate_container_logger.so",
      modules: [
        {
          name: LOGROTATE_MODULE,
          parameters: [
            { key: "max_stdout_size", value: "10KB" },
            { key: "logrotate_stdout_options", value: "rotate 2" },
          ],
        },
      ],
    },
  ],
});

/** A shell command printing `bytes` bytes of numbered lines to stdout, and a line to stderr. */
export function printBytes(bytes: number): string {
  return `seq 1 100000 | head -c ${bytes}; echo to-stderr >&2`;
}

/** The last 20 bytes `printBytes(bytes)` writes to stdout (cut mid-line at `bytes`). */
export function printedTail(bytes: number): string {
  const out = spawnSync("/bin/sh", ["-c", `seq 1 100000 | head -c ${bytes} | tail -c 20`]);
  return out.stdout.toString("utf8");
}

/** Waits until no logger process writes into `sandbox` (they end with the container's output). */
export async function loggersEnd(sandbox: string): Promise<void> {
  await waitFor(
    `the logger processes of ${sandbox} to end`,
    () => processesWithMarker(`--log_filename=${sandbox}/`).length === 0,
    { timeoutMs: 60_000 },
  );
}
