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
import type { Socket } from "node:net";
import { constants as osConstants } from "node:os";
import { onLines } from "../common/io/lines.js";
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
  /** How stand-ins are started: by a small shell (default, when it can) or spawned from Node. */
  standIns?: "shell" | "spawn";
}

/** The stand-in program: reads its stdin (a pipe from the host) until the host goes away. */
const STAND_IN_PROGRAM = existsSync("/bin/cat") ? "/bin/cat" : "cat";
const SETSID = ["/usr/bin/setsid", "/bin/setsid"].find((p) => existsSync(p));

/** Starts and ends stand-ins. */
interface StandIns {
  /**
   * Starts the stand-in of a logical executor (sandbox `directory`);
   * resolves with its pid, or rejects. `ended` runs once when it exits.
   */
  start(
    directory: string,
    path: string | undefined,
    ended: (code: number | null, signal: string | null) => void,
  ): Promise<number>;
  /** Ends a stand-in (SIGKILL). */
  end(pid: number): void;
  /** No more stand-ins: let go of whatever starts them. */
  close(): void;
}

const signalNames = new Map<number, string>(
  Object.entries(osConstants.signals).map(([name, number]) => [number, name]),
);

/**
 * The shell that starts stand-ins for a host. A spawn from Node blocks the
 * host's event loop until the child has exec'ed (tens of ms on a busy
 * machine, once per executor, serialised over all executors of the host);
 * a small shell forks them instead and reports each one's pid and exit
 * (`started <n> <pid>`, `exit <n> <pid> <status>`, one line each). Every
 * stand-in reads fd 3, a socket whose other end only the host holds, so
 * all of them see EOF and exit when the host dies.
 */
const FACTORY_SCRIPT = [
  "while IFS= read -r line; do",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
  "  n=${line%% *}; dir=${line#* }",
  "  (",
  '    MESOS_DIRECTORY=$dir "$SETSID" "$CAT" <&3 >/dev/null 2>&1 &',
  "    p=$!",
  '    echo "started $n $p"',
  '    wait "$p"',
  '    echo "exit $n $p $?"',
  "  ) &",
  "done",
].join("\n");

/** Stand-ins forked by a shell (see FACTORY_SCRIPT); the shell is restarted when it dies. */
function shellStandIns(log: (line: string) => void): StandIns | undefined {
  if (SETSID === undefined || !existsSync("/bin/sh")) return undefined;
  let factory: ChildProcess | undefined;
  let serial = 0;
  const waiting = new Map<number, { resolve(pid: number): void; reject(e: Error): void }>();
  const exits = new Map<number, (code: number | null, signal: string | null) => void>();
  const ensure = (): ChildProcess => {
    if (factory !== undefined) return factory;
    const child = spawn("/bin/sh", ["-c", FACTORY_SCRIPT], {
      stdio: ["pipe", "pipe", "ignore", "pipe"],
      env: {
        // Inherited by the stand-ins (and marks the shell and its subshells as this host's).
        [HOSTED_BY_VARIABLE]: String(process.pid),
        SETSID: SETSID,
        CAT: STAND_IN_PROGRAM,
        PATH: process.env.PATH ?? "/usr/bin:/bin",
      },
      cwd: "/",
    });
    factory = child;
    child.stdin?.on("error", () => {});
    child.once("error", () => {});
    if (child.stdout !== null) {
      onLines(child.stdout, (line) => {
        const [kind, n, pid, status] = line.split(" ");
        if (kind === "started") {
          const w = waiting.get(Number(n));
          waiting.delete(Number(n));
          w?.resolve(Number(pid));
        } else if (kind === "exit") {
          const ended = exits.get(Number(pid));
          exits.delete(Number(pid));
          const value = Number(status);
          // A shell reports death by signal N as status 128+N.
          const signal = value > 128 ? (signalNames.get(value - 128) ?? null) : null;
          ended?.(signal === null ? value : null, signal);
        }
      });
    }
    child.once("exit", () => {
      for (const w of waiting.values()) w.reject(new Error("the stand-in shell exited"));
      waiting.clear();
      if (factory !== child) return;
      factory = undefined;
      log("the stand-in shell exited; it is restarted for the next launch");
    });
    return child;
  };
  return {
    start(directory, _path, ended) {
      if (/[\n\0]/.test(directory)) {
        return Promise.reject(new Error("the sandbox path holds a newline"));
      }
      const n = ++serial;
      return new Promise<number>((resolve, reject) => {
        waiting.set(n, {
          resolve: (pid) => {
            exits.set(pid, ended);
            resolve(pid);
          },
          reject,
        });
        ensure().stdin?.write(`${n} ${directory}\n`);
      });
    },
    end(pid) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    },
    close() {
      const child = factory;
      factory = undefined;
      if (child === undefined) return;
      // Its read loop ends on EOF; nothing of it may keep the host alive.
      child.stdin?.end();
      child.stdout?.destroy();
      (child.stdio[3] as Socket | null | undefined)?.destroy();
      child.unref();
    },
  };
}

/** Stand-ins spawned from Node (when there is no shell or setsid). */
function spawnedStandIns(): StandIns {
  const children = new Map<number, ChildProcess>();
  return {
    start(directory, path, ended) {
      const child = spawn(STAND_IN_PROGRAM, [], {
        argv0: STAND_IN_ARGV0,
        detached: true,
        stdio: ["pipe", "ignore", "ignore"],
        cwd: "/",
        env: {
          [HOSTED_BY_VARIABLE]: String(process.pid),
          MESOS_DIRECTORY: directory,
          ...(path !== undefined ? { PATH: path } : {}),
        },
      });
      child.stdin?.on("error", () => {});
      const pid = child.pid;
      if (pid === undefined) {
        return new Promise((_, reject) => child.once("error", reject));
      }
      child.once("error", () => {});
      child.unref();
      children.set(pid, child);
      child.once("exit", (code, signal) => {
        children.delete(pid);
        ended(code, signal);
      });
      return Promise.resolve(pid);
    },
    end(pid) {
      children.get(pid)?.kill("SIGKILL");
    },
    close() {},
  };
}

interface Slot {
  readonly id: number;
  readonly executorId: string;
  pid: number | undefined;
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
  /** Launches whose stand-in is being started. */
  let starting = 0;
  const standIns = (o.standIns === "spawn" ? undefined : shellStandIns(log)) ?? spawnedStandIns();
  let accepting = true;
  let resolveServed: (code: number) => void = () => {};
  const served = new Promise<number>((resolve) => {
    resolveServed = resolve;
  });

  const maybeFinish = (): void => {
    if (accepting || slots.size > 0 || starting > 0) return;
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    standIns.close();
    resolveServed(0);
  };

  const end = (slot: Slot, code: number | null, signal: string | null): void => {
    if (slot.ended) return;
    slot.ended = true;
    if (slot.pid === undefined) return;
    slots.delete(slot.pid);
    send({ event: "exit", pid: slot.pid, code, signal });
    maybeFinish();
  };

  const launch = (l: HostLaunch): void => {
    if (!accepting) {
      send({ event: "failed", id: l.id, error: "the executor host is shutting down" });
      return;
    }
    const slot: Slot = {
      id: l.id,
      executorId: l.env.MESOS_EXECUTOR_ID ?? "",
      pid: undefined,
      executor: undefined,
      ended: false,
    };
    const standInEnded = (code: number | null, signal: string | null): void => {
      if (slot.ended) return;
      log(
        `the stand-in ${slot.pid} of executor '${slot.executorId}' ended (${signal ?? `status ${code}`}): ending the executor`,
      );
      slot.executor?.abandon();
      end(slot, code, signal);
    };
    // The stand-in first: the executor starts once the agent can know it by a pid.
    starting++;
    standIns.start(l.env.MESOS_DIRECTORY ?? l.cwd, l.env.PATH, standInEnded).then(
      (pid) => {
        starting--;
        if (slot.ended) {
          // It died before its executor started (reported in the same read).
          send({ event: "failed", id: l.id, error: "the stand-in exited at once" });
          maybeFinish();
          return;
        }
        slot.pid = pid;
        const started = o.start(l);
        if ("error" in started) {
          slot.ended = true;
          standIns.end(pid);
          send({ event: "failed", id: l.id, error: started.error });
          maybeFinish();
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
            standIns.end(pid);
          },
          (e: unknown) => {
            log(`executor '${slot.executorId}' failed: ${(e as Error).stack ?? String(e)}`);
            slot.executor?.abandon();
            end(slot, 1, null);
            standIns.end(pid);
          },
        );
      },
      (e: unknown) => {
        starting--;
        send({
          event: "failed",
          id: l.id,
          error: `cannot start the stand-in: ${(e as Error).message}`,
        });
        maybeFinish();
      },
    );
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    log(`received ${signal}: shutting down ${slots.size} executor(s)`);
    for (const slot of slots.values()) slot.executor?.shutdown();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  onLines(input, (line) => {
    if (line.trim() === "") return;
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
      return;
    }
    launch(parsed);
  });
  const stopAccepting = (): void => {
    accepting = false;
    maybeFinish();
  };
  input.once("end", stopAccepting);
  input.once("error", stopAccepting);
  return served;
}
