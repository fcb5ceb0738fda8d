/**
 * Executors adopted after an agent restart. They were started by the
 * previous agent's launcher helper, so nobody reports their exit: they are
 * watched by polling their pid (with its start time, so a reused pid does
 * not count), and destroyed by killing their whole tree (ProcessSweeper).
 * Their exit status cannot be known; a container we killed is reported as
 * killed by SIGKILL.
 */

import { readFile } from "node:fs/promises";
import type { Logger } from "../../common/observability/logger.js";
import type { Containerizer, ContainerTermination } from "../agent-ports.js";
import type { ContainerEvents } from "../containerizer/posix-containerizer.js";
import { parseProcStat } from "../containerizer/proc.js";
import type { ProcessSweeper } from "../containerizer/process-sweeper.js";

interface Adopted {
  id: string;
  pid: number;
  startTime: number | undefined;
  directory: string;
  killed: boolean;
  done: boolean;
}

/**
 * True while `pid` runs with the given start time. A zombie counts as gone:
 * the adopted executor's parent is no longer the agent, and whoever reaps
 * it may take its time.
 */
export async function isRunningProcess(
  pid: number,
  startTime: number | undefined,
): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, "latin1");
  } catch {
    return false;
  }
  const entry = parseProcStat(pid, text);
  if (entry === undefined) return false;
  if (text.charAt(text.lastIndexOf(")") + 2) === "Z") return false;
  return startTime === undefined || entry.startTime === startTime;
}

/** The raw wait status of a SIGKILL. */
const KILLED_STATUS = 9;

/** Watches and destroys adopted executors. */
export class RecoveredContainers {
  private events: ContainerEvents | undefined;
  private readonly adopted = new Map<string, Adopted>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(
    private readonly logger: Logger,
    private readonly sweeper: ProcessSweeper,
    private readonly pollIntervalMs = 250,
  ) {}

  /** Where exits go (the agent). */
  attach(events: ContainerEvents): void {
    this.events = events;
  }

  /** Starts watching a live executor of the previous agent run. */
  adopt(id: string, pid: number, startTime: number | undefined, directory: string): void {
    this.adopted.set(id, { id, pid, startTime, directory, killed: false, done: false });
    this.timer ??= setInterval(() => void this.poll(), this.pollIntervalMs);
    this.timer.unref();
  }

  has(containerId: string): boolean {
    return this.adopted.has(containerId);
  }

  /** Kills the container's processes; its exit is reported by the next poll. */
  destroy(containerId: string): void {
    const c = this.adopted.get(containerId);
    if (c === undefined || c.done) return;
    c.killed = true;
    void this.sweeper.kill(c.pid, c.directory).then((n) => {
      if (n > 0) this.logger.info(`Killed ${n} process(es) of container '${c.id}'`);
    });
  }

  /** Routes `destroy` of adopted containers here, the rest to `inner`. */
  wrap<T extends Containerizer>(inner: T): T {
    return {
      ...inner,
      launch: (launch: Parameters<Containerizer["launch"]>[0]) => inner.launch(launch),
      destroy: (id: string) => (this.has(id) ? this.destroy(id) : inner.destroy(id)),
    };
  }

  /** Stops watching (the agent is exiting; the executors keep running). */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Number of adopted executors still running. */
  get size(): number {
    return this.adopted.size;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      for (const c of [...this.adopted.values()]) {
        if (await isRunningProcess(c.pid, c.startTime)) continue;
        c.done = true;
        this.adopted.delete(c.id);
        const leftovers = await this.sweeper.kill(undefined, c.directory);
        if (leftovers > 0) {
          this.logger.warn(
            `Killed ${leftovers} process(es) left behind by the executor of container '${c.id}'`,
          );
        }
        const termination: ContainerTermination = c.killed ? { status: KILLED_STATUS } : {};
        this.events?.containerTerminated(c.id, termination);
      }
      if (this.adopted.size === 0) this.stop();
    } finally {
      this.polling = false;
    }
  }
}
