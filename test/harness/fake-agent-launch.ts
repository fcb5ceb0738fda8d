/**
 * Starts a real executor process the way the agent will: in a fresh sandbox
 * directory as its working directory, in its own session, stdout and stderr
 * going to the sandbox `stdout`/`stderr` files, and only the Mesos executor
 * environment (plus PATH) — not the test runner's environment.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { processTree } from "../../src/executor/task-process.js";
import type { FakeAgent } from "./fake-agent.js";

/** The compiled command executor entry point. */
export const COMMAND_EXECUTOR_ENTRY = fileURLToPath(
  new URL("../../src/executor/command-executor-main.js", import.meta.url),
);

export interface ExecutorLaunchOptions {
  executorId?: string;
  /** Sets MESOS_CHECKPOINT=1 with these recovery settings. */
  checkpoint?: { recoveryTimeout: string; backoffMax: string };
  shutdownGracePeriod?: string;
  /** Node flags placed before the entry script. */
  nodeFlags?: string[];
  /** Script to run instead of the command executor (e.g. a custom executor). */
  entry?: string;
  args?: string[];
  env?: Record<string, string>;
}

/** A running executor process and its sandbox. */
export interface LaunchedExecutor {
  readonly child: ChildProcess;
  readonly sandbox: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The sandbox `stdout` file's text. */
  stdout(): string;
  /** The sandbox `stderr` file's text (the executor's log). */
  stderr(): string;
  /** Pid of the task process, from the executor's "Forked command at" log line. */
  taskPid(): number | undefined;
  /** SIGKILLs the executor and its descendants if still running; removes the sandbox. */
  cleanup(): Promise<void>;
}

/**
 * Launches executor `executorId` against `agent` (options as launchExecutor's,
 * which may override the id), adds it to `launched` for the test's clean-up,
 * and waits until it subscribes.
 */
export async function startExecutor(
  agent: FakeAgent,
  launched: LaunchedExecutor[],
  executorId: string,
  options: ExecutorLaunchOptions = {},
): Promise<LaunchedExecutor> {
  const ex = launchExecutor(agent, { executorId, ...options });
  launched.push(ex);
  const before = agent.subscribes.length;
  await agent.waitFor(`${executorId} to subscribe`, () =>
    agent.subscribes.slice(before).some((s) => s.call.executor_id.value === executorId),
  );
  return ex;
}

/** Launches an executor against `agent`. */
export function launchExecutor(
  agent: FakeAgent,
  options: ExecutorLaunchOptions = {},
): LaunchedExecutor {
  const sandbox = mkdtempSync(join(tmpdir(), "mesos-ts-sandbox-"));
  const stdoutPath = join(sandbox, "stdout");
  const stderrPath = join(sandbox, "stderr");
  const out = openSync(stdoutPath, "a");
  const err = openSync(stderrPath, "a");
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    MESOS_FRAMEWORK_ID: agent.frameworkId,
    MESOS_EXECUTOR_ID: options.executorId ?? "executor-1",
    MESOS_AGENT_ENDPOINT: agent.endpoint,
    MESOS_SLAVE_PID: `slave(1)@${agent.endpoint}`,
    MESOS_DIRECTORY: sandbox,
    MESOS_SANDBOX: sandbox,
    MESOS_CHECKPOINT: options.checkpoint === undefined ? "0" : "1",
    MESOS_HTTP_COMMAND_EXECUTOR: "1",
    MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD: options.shutdownGracePeriod ?? "5secs",
    ...(options.checkpoint === undefined
      ? {}
      : {
          MESOS_RECOVERY_TIMEOUT: options.checkpoint.recoveryTimeout,
          MESOS_SUBSCRIPTION_BACKOFF_MAX: options.checkpoint.backoffMax,
        }),
    ...options.env,
  };
  const child = spawn(
    process.execPath,
    [
      ...(options.nodeFlags ?? []),
      options.entry ?? COMMAND_EXECUTOR_ENTRY,
      ...(options.args ?? []),
    ],
    { cwd: sandbox, env, stdio: ["ignore", out, err], detached: true },
  );
  closeSync(out);
  closeSync(err);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const read = (p: string): string => {
    try {
      return readFileSync(p, "utf8");
    } catch {
      return "";
    }
  };
  return {
    child,
    sandbox,
    exited,
    stdout: () => read(stdoutPath),
    stderr: () => read(stderrPath),
    taskPid: () => {
      const m = /Forked command at (\d+)/.exec(read(stderrPath));
      return m === null ? undefined : Number(m[1]);
    },
    cleanup: async () => {
      const pid = child.pid;
      if (pid !== undefined && child.exitCode === null && child.signalCode === null) {
        // Like the agent destroying a container: the executor and every
        // descendant (the task has its own session, so not its group only).
        for (const p of [pid, ...processTree(pid)]) {
          try {
            process.kill(p, "SIGKILL");
          } catch {
            // already gone
          }
        }
        await exited;
      }
      rmSync(sandbox, { recursive: true, force: true });
    },
  };
}

/** Pids of live processes whose process group is `pgid` (zombies excluded). */
export function processGroupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(f[2]) === pgid && f[0] !== "Z") members.push(Number(name));
    } catch {
      // gone
    }
  }
  return members;
}
