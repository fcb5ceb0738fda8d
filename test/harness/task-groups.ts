/**
 * Task groups run with mesos-execute, as the tests of the default executor
 * and nested containers start them: one left running to launch nested
 * containers under, and what a finished run printed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { operatorCall } from "./operator.js";
import { binPath, type DaemonHandle, waitLong } from "./processes.js";

/**
 * Spawns mesos-execute running the task group `tasks` on `master` (it runs
 * until killed: it is pushed onto `schedulers` for the test to kill) and
 * resolves with the container id of the executor of the first nested
 * container `agent` lists.
 */
export function taskGroupExecutor(
  master: DaemonHandle,
  agent: DaemonHandle,
  tasks: object[],
  schedulers: ChildProcess[],
): Promise<string> {
  schedulers.push(
    spawn(
      process.execPath,
      [
        binPath("mesos-execute"),
        `--master=${master.address}`,
        `--task_group=${JSON.stringify({ tasks })}`,
      ],
      { stdio: "ignore" },
    ),
  );
  return waitLong("the task group's nested container", async () => {
    const r = await operatorCall(agent, {
      type: "GET_CONTAINERS",
      get_containers: { show_nested: true },
    });
    if (r.status !== 200) return undefined;
    const list =
      (
        JSON.parse(r.text) as {
          get_containers?: {
            containers?: { container_id: { value: string; parent?: { value: string } } }[];
          };
        }
      ).get_containers?.containers ?? [];
    return list.find((c) => c.container_id.parent !== undefined)?.container_id.parent?.value;
  });
}

/** A mesos-execute run of a checkpointed task group that the test watches while it runs. */
export interface GroupRun {
  /** The mesos-execute process. */
  readonly scheduler: ChildProcess;
  /** What it has printed so far on stdout. */
  output(): string;
  /** Waits until it has exited, or `timeoutMs`: then it is SIGKILLed. */
  end(timeoutMs: number): Promise<void>;
}

/** Spawns mesos-execute running the task group `tasks` on `master` with `--checkpoint`. */
export function runCheckpointedGroup(master: DaemonHandle, tasks: object[]): GroupRun {
  const scheduler = spawn(
    process.execPath,
    [
      binPath("mesos-execute"),
      `--master=${master.address}`,
      `--task_group=${JSON.stringify({ tasks })}`,
      "--checkpoint",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  scheduler.stdout.setEncoding("utf8").on("data", (d: string) => {
    output += d;
  });
  const ended = new Promise<number | null>((resolve) => scheduler.on("close", resolve));
  return {
    scheduler,
    output: () => output,
    async end(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([
        ended,
        new Promise<string>((r) => {
          timer = setTimeout(() => r("timeout"), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (code === "timeout") scheduler.kill("SIGKILL");
    },
  };
}

/** A task's last update as mesos-execute printed it. */
export interface Final {
  state: string;
  reason?: string;
  message?: string;
}

/** The last update of each task in mesos-execute's output. */
export function finals(stdout: string): Map<string, Final> {
  const out = new Map<string, Final>();
  let current: Final | undefined;
  for (const line of stdout.split("\n")) {
    const u = /^Received status update (\S+) for task '([^']+)'/.exec(line);
    if (u !== null) {
      current = { state: u[1] as string };
      out.set(u[2] as string, current);
      continue;
    }
    const r = /^ {2}reason: (\S+)/.exec(line);
    if (r !== null && current !== undefined) current.reason = r[1];
    const m = /^ {2}message: '(.*)'$/.exec(line);
    if (m !== null && current !== undefined) current.message = m[1];
  }
  return out;
}
