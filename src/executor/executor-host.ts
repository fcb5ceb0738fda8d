/**
 * An executor host: one Node process running several command executors
 * (`--command_executors_per_process`), so Node's start-up is paid once per
 * host instead of once per task. The launcher helper hands it launches on
 * stdin (src/executor/host-protocol.ts); each becomes a logical executor
 * with its own environment, sandbox, log, agent connection and task.
 *
 * Each logical executor has a stand-in: a tiny process (`cat` reading a
 * pipe from this host) started in its own session, whose pid the agent
 * records as the executor's. It ties the agent's per-process machinery to
 * one logical executor without touching its neighbours:
 *
 * - the executor ends -> the host reports the exit code on stdout (the
 *   helper passes it on), then kills the stand-in (so an agent restarted
 *   meanwhile, which polls the recorded pid, sees the end too);
 * - the agent destroys the container (kills the stand-in's tree and the
 *   processes carrying its sandbox) -> the stand-in's death makes the host
 *   SIGKILL that executor's task tree and drop the executor, reporting the
 *   stand-in's signal;
 * - the host dies -> every stand-in reads EOF and exits, and the helper
 *   reports the host's exit for each of its executors.
 *
 * The host exits once its stdin has ended (the helper retired it or went
 * away) and no executor is left.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import {
  HOSTED_BY_VARIABLE,
  type HostEvent,
  type HostLaunch,
  parseHostLaunch,
  STAND_IN_ARGV0,
} from "./host-protocol.js";

/** What the host needs of one running logical executor. */
export interface HostedExecutor {
  /** Resolves with the executor's exit code. */
  done: Promise<number>;
  /** Kill the task within the shutdown grace period, then end (a signal to the host). */
  shutdown(): void;
  /** The container is being destroyed: SIGKILL the task's tree, end at once, send nothing. */
  abandon(): void;
}

export interface ExecutorHostOptions {
  /** Starts one executor from its launch, or says why it cannot. */
  start(launch: HostLaunch): HostedExecutor | { error: string };
  /** Launch lines (default: this process' stdin). */
  input?: NodeJS.ReadableStream;
  /** Writes one event line (default: this process' stdout; errors ignored once the reader is gone). */
  report?: (line: string) => void;
  /** The host's own diagnostics (default: its stderr). */
  log?: (line: string) => void;
}

/** The stand-in program: reads its stdin (a pipe from the host) until the host goes away. */
const STAND_IN_PROGRAM = existsSync("/bin/cat") ? "/bin/cat" : "cat";

interface Slot {
  readonly id: number;
  readonly executorId: string;
  readonly standIn: ChildProcess;
  readonly pid: number;
  executor: HostedExecutor | undefined;
  ended: boolean;
}

/** Field 22 of /proc/<pid>/stat: start time in clock ticks after boot. */
function startTimeOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const value = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Serves launches until the input ends and every executor is done; resolves with 0. */
export function serveExecutorHost(o: ExecutorHostOptions): Promise<number> {
  const input = o.input ?? process.stdin;
  let reporting = true;
  const report =
    o.report ??
    ((line: string) => {
      if (!reporting) return;
      try {
        process.stdout.write(line);
      } catch {
        reporting = false;
      }
    });
  if (o.report === undefined) {
    // The helper went away (agent restart): executors keep running, unreported.
    process.stdout.on("error", () => {
      reporting = false;
    });
  }
  const log =
    o.log ?? ((line: string) => process.stderr.write(`executor host ${process.pid}: ${line}\n`));
  const send = (event: HostEvent): void => report(`${JSON.stringify(event)}\n`);
  const slots = new Map<number, Slot>();
  let accepting = true;
  let resolveServed: (code: number) => void = () => {};
  const served = new Promise<number>((resolve) => {
    resolveServed = resolve;
  });

  const maybeFinish = (): void => {
    if (accepting || slots.size > 0) return;
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    resolveServed(0);
  };

  const end = (slot: Slot, code: number | null, signal: string | null): void => {
    if (slot.ended) return;
    slot.ended = true;
    slots.delete(slot.pid);
    send({ event: "exit", pid: slot.pid, code, signal });
    maybeFinish();
  };

  const launch = (l: HostLaunch): void => {
    if (!accepting) {
      send({ event: "failed", id: l.id, error: "the executor host is shutting down" });
      return;
    }
    let standIn: ChildProcess;
    try {
      standIn = spawn(STAND_IN_PROGRAM, [], {
        argv0: STAND_IN_ARGV0,
        detached: true,
        stdio: ["pipe", "ignore", "ignore"],
        cwd: "/",
        env: {
          [HOSTED_BY_VARIABLE]: String(process.pid),
          MESOS_DIRECTORY: l.env.MESOS_DIRECTORY ?? l.cwd,
          MESOS_FRAMEWORK_ID: l.env.MESOS_FRAMEWORK_ID ?? "",
          MESOS_EXECUTOR_ID: l.env.MESOS_EXECUTOR_ID ?? "",
          ...(l.env.PATH !== undefined ? { PATH: l.env.PATH } : {}),
        },
      });
    } catch (e) {
      send({
        event: "failed",
        id: l.id,
        error: `cannot start the stand-in: ${(e as Error).message}`,
      });
      return;
    }
    standIn.stdin?.on("error", () => {});
    const pid = standIn.pid;
    if (pid === undefined) {
      standIn.once("error", (e) =>
        send({ event: "failed", id: l.id, error: `cannot start the stand-in: ${e.message}` }),
      );
      return;
    }
    standIn.once("error", () => {});
    standIn.unref();
    const slot: Slot = {
      id: l.id,
      executorId: l.env.MESOS_EXECUTOR_ID ?? "",
      standIn,
      pid,
      executor: undefined,
      ended: false,
    };
    standIn.once("exit", (code, signal) => {
      if (slot.ended) return;
      log(
        `the stand-in ${pid} of executor '${slot.executorId}' ended (${signal ?? `status ${code}`}): ending the executor`,
      );
      slot.executor?.abandon();
      end(slot, code, signal);
    });
    const started = o.start(l);
    if ("error" in started) {
      slot.ended = true;
      standIn.kill("SIGKILL");
      send({ event: "failed", id: l.id, error: started.error });
      return;
    }
    slot.executor = started;
    slots.set(pid, slot);
    const startTime = startTimeOf(pid);
    send(
      startTime === undefined
        ? { event: "started", id: l.id, pid }
        : { event: "started", id: l.id, pid, startTime },
    );
    void started.done.then(
      (code) => {
        if (slot.ended) return;
        end(slot, code, null);
        standIn.kill("SIGKILL");
      },
      (e: unknown) => {
        log(`executor '${slot.executorId}' failed: ${(e as Error).stack ?? String(e)}`);
        slot.executor?.abandon();
        end(slot, 1, null);
        standIn.kill("SIGKILL");
      },
    );
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    log(`received ${signal}: shutting down ${slots.size} executor(s)`);
    for (const slot of slots.values()) slot.executor?.shutdown();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  let buffered = "";
  input.setEncoding("utf8");
  input.on("data", (chunk: string) => {
    buffered += chunk;
    for (;;) {
      const newline = buffered.indexOf("\n");
      if (newline < 0) break;
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim() === "") continue;
      const parsed = parseHostLaunch(line);
      if ("error" in parsed) {
        log(`ignoring a launch: ${parsed.error}`);
        const id = (() => {
          try {
            return (JSON.parse(line) as { id?: unknown }).id;
          } catch {
            return undefined;
          }
        })();
        if (typeof id === "number" && Number.isInteger(id) && id > 0) {
          send({ event: "failed", id, error: parsed.error });
        }
        continue;
      }
      launch(parsed);
    }
  });
  const stopAccepting = (): void => {
    accepting = false;
    maybeFinish();
  };
  input.once("end", stopAccepting);
  input.once("error", stopAccepting);
  return served;
}
