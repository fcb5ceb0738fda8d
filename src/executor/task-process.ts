/**
 * Starting and signalling the task's process. The task runs in its own
 * session and process group (the child calls setsid), so signalling the
 * group reaches everything it started; processes that left the group (a
 * daemonizing child) are still found through the parent links in /proc, as
 * Mesos' killtree does.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import type { LaunchSpec } from "./launch-spec.js";

/** A running task process. */
export interface TaskProcess {
  readonly pid: number;
  /**
   * Sends `signal` to the task's process group; a SIGKILL while the task
   * runs also reaches descendants that left the group (found in /proc).
   */
  signalTree(signal: NodeJS.Signals): void;
}

/** How a launch ends. */
export interface LaunchCallbacks {
  exited(code: number | null, signal: NodeJS.Signals | null): void;
  failed(message: string): void;
}

/** Starts task processes; an interface so the executor logic can be tested without them. */
export interface TaskLauncher {
  /**
   * Starts `spec`. Returns the process, after which `exited` runs once when
   * it ends; or returns undefined, after which `failed` runs once (maybe
   * asynchronously) with a one-line reason.
   */
  launch(spec: LaunchSpec, callbacks: LaunchCallbacks): TaskProcess | undefined;
}

interface ProcStat {
  pid: number;
  ppid: number;
  pgrp: number;
  session: number;
}

function readProcStats(): ProcStat[] {
  const out: ProcStat[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return out;
  }
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1");
      // The command name may contain spaces and parentheses: fields start after the last ')'.
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.push({
        pid: Number(name),
        ppid: Number(f[1]),
        pgrp: Number(f[2]),
        session: Number(f[3]),
      });
    } catch {
      // The process went away while we looked.
    }
  }
  return out;
}

/**
 * Pids of the tree rooted at `root`: the process itself, members of its
 * process group or session (`root` leads both), and all their descendants.
 */
export function processTree(root: number, stats: ProcStat[] = readProcStats()): number[] {
  const children = new Map<number, number[]>();
  const members = new Set<number>();
  for (const s of stats) {
    const list = children.get(s.ppid);
    if (list === undefined) children.set(s.ppid, [s.pid]);
    else list.push(s.pid);
    if (s.pid === root || s.pgrp === root || s.session === root) members.add(s.pid);
  }
  const queue = [...members];
  for (let i = 0; i < queue.length; i++) {
    for (const child of children.get(queue[i] ?? -1) ?? []) {
      if (!members.has(child)) {
        members.add(child);
        queue.push(child);
      }
    }
  }
  members.delete(process.pid);
  return [...members];
}

function sendSignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH: already gone.
  }
}

/** Signals the process group led by `root` and everything in its tree. */
export function signalProcessTree(root: number, signal: NodeJS.Signals): void {
  sendSignal(-root, signal);
  for (const pid of processTree(root)) sendSignal(pid, signal);
}

/**
 * How a running task is signalled. Reading all of /proc costs a few ms of
 * CPU per call with hundreds of processes on the host (200 executors killing
 * their tasks at once did it 400 times), so only the SIGKILL escalation of a
 * still-running task walks /proc for processes that left the group; a
 * SIGTERM, and the SIGKILL sweep after the task has exited, signal the
 * process group only. Whatever left the group after that is the agent's
 * process sweep's to catch when it destroys the container.
 */
function taskSignaller(pid: number): {
  signal(signal: NodeJS.Signals): void;
  exited(): void;
} {
  let running = true;
  return {
    signal(signal) {
      if (signal === "SIGKILL" && running) signalProcessTree(pid, signal);
      else sendSignal(-pid, signal);
    },
    exited() {
      running = false;
    },
  };
}

/** Starts tasks as child processes of this executor. */
export const childProcessLauncher: TaskLauncher = {
  launch(spec, callbacks) {
    let child: ReturnType<typeof spawn>;
    const fds: number[] = [];
    try {
      const output = (path: string | undefined): number | "inherit" => {
        if (path === undefined) return "inherit";
        const fd = openSync(path, "a");
        fds.push(fd);
        return fd;
      };
      child = spawn(spec.file, spec.args, {
        argv0: spec.argv0,
        env: spec.env,
        ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
        // setsid(): own session and process group, so kills reach its children.
        detached: true,
        stdio: [
          spec.ignoreStdin === true ? "ignore" : "inherit",
          output(spec.stdoutPath),
          output(spec.stderrPath),
        ],
      });
    } catch (err) {
      const message = (err as Error).message;
      queueMicrotask(() => callbacks.failed(`Failed to launch the command: ${message}`));
      return undefined;
    } finally {
      // The child has its own copies.
      for (const fd of fds) closeSync(fd);
    }
    const pid = child.pid;
    if (pid === undefined) {
      // spawn() reports exec failures (ENOENT, EACCES) as an 'error' event.
      child.once("error", (err) =>
        callbacks.failed(`Failed to launch the command: ${err.message}`),
      );
      return undefined;
    }
    child.once("error", () => {});
    const signaller = taskSignaller(pid);
    child.once("exit", (code, signal) => {
      signaller.exited();
      callbacks.exited(code, signal);
    });
    return { pid, signalTree: (signal) => signaller.signal(signal) };
  },
};
