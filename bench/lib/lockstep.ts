/**
 * Runs benchmark children in lock-step: each child sets up its case in a
 * process of its own, then does one round per request, and the parent hands
 * out the rounds in turn. So every child keeps its own heap (no size pays for
 * another's collections), yet the children's rounds are interleaved in time:
 * a slow stretch of the machine (on this shared host the processor's cache
 * available to us swings by 3x over seconds; see docs/architecture/allocator.md)
 * hits all of them alike instead of whichever child happened to run then.
 *
 * Protocol (IPC messages): the child sends `{ready: rounds}` once set up,
 * answers each `"step"` with `{sample: number, counted: boolean}`, and exits
 * on `"exit"`.
 */

import { type ChildProcess, execFileSync, fork } from "node:child_process";
import { availableParallelism } from "node:os";

export interface LockstepChild {
  /** Arguments after the script (e.g. `["allocator-decline", "--lockstep-child", ...]`). */
  args: string[];
}

/** What a child answers per round. */
export interface LockstepReply {
  sample: number;
  /** Whether the round counts for the summary (e.g. it made offers). */
  counted: boolean;
}

function nextMessage(child: ChildProcess): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown) => {
      child.off("exit", onExit);
      resolve(m);
    };
    const onExit = (code: number | null) => {
      child.off("message", onMessage);
      reject(new Error(`lock-step child exited (code ${code}) before answering`));
    };
    child.once("message", onMessage);
    child.once("exit", onExit);
  });
}

/**
 * Forks `script` once per child with `execArgv`, waits until all are set up,
 * then steps them so that each goes through its rounds at the same pace
 * (a child with half the rounds steps every other turn of the longest one).
 * Returns the counted samples of each child, in order.
 */
export async function runLockstep(
  script: string,
  execArgv: string[],
  children: LockstepChild[],
  options: { pin?: boolean } = {},
): Promise<number[][]> {
  const procs = children.map((c) => fork(script, c.args, { execArgv, stdio: "inherit" }));
  // Pinned: child k (all its threads) on processor k, so that neither child
  // runs on the core whose cache holds the other's data (unpinned, both
  // tend to share one core's L2 and each round starts cold: that costs the
  // small size more than the big one, whose data does not fit anyway).
  if (options.pin === true) {
    const cpus = availableParallelism();
    procs.forEach((p, k) => {
      if (p.pid !== undefined) {
        execFileSync("taskset", ["-a", "-p", "-c", String(k % cpus), String(p.pid)], {
          stdio: "ignore",
        });
      }
    });
  }
  try {
    const ready = await Promise.all(procs.map((p) => nextMessage(p)));
    const rounds = ready.map((m) => (m as { ready: number }).ready);
    const longest = Math.max(...rounds);
    const samples: number[][] = procs.map(() => []);
    const done = procs.map(() => 0);
    for (let i = 1; i <= longest; i++) {
      for (let k = 0; k < procs.length; k++) {
        const target = Math.floor((i * (rounds[k] as number)) / longest);
        while ((done[k] as number) < target) {
          const proc = procs[k] as ChildProcess;
          proc.send("step");
          const reply = (await nextMessage(proc)) as LockstepReply;
          done[k] = (done[k] as number) + 1;
          if (reply.counted) (samples[k] as number[]).push(reply.sample);
        }
      }
    }
    return samples;
  } finally {
    for (const p of procs) if (p.connected) p.send("exit");
  }
}

/**
 * The child side: `setup` builds the case and returns its round count and a
 * step function; the rest follows the protocol above.
 */
export async function serveLockstep(
  setup: () => Promise<{ rounds: number; step: () => Promise<LockstepReply> }>,
): Promise<void> {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error("lock-step child needs an IPC channel (fork)");
  const { rounds, step } = await setup();
  await new Promise<void>((resolve) => {
    process.on("message", (m) => {
      if (m === "step") {
        step().then(
          (reply) => send(reply),
          (error: unknown) => {
            process.stderr.write(`lock-step round failed: ${String(error)}\n`);
            process.exit(1);
          },
        );
      } else {
        process.disconnect();
        resolve();
      }
    });
    send({ ready: rounds });
  });
}
