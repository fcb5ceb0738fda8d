/**
 * COMMAND checks of a task that runs in a nested container (a task of a
 * task group), run as Mesos' default executor runs them: each probe is a
 * container session nested in the task's container
 * (`<executor>.<task>.check-<uuid>`, a DEBUG container: the task's root
 * filesystem, volumes, /dev/shm, namespaces and environment), started with
 * LAUNCH_NESTED_CONTAINER_SESSION; its exit status comes from
 * WAIT_NESTED_CONTAINER; the previous probe's container is removed
 * (REMOVE_NESTED_CONTAINER) before the next one starts.
 *
 * - A probe that times out (or is stopped) closes its session, which makes
 *   the agent kill the container, and asks for KILL_NESTED_CONTAINER too;
 *   the next probe starts once that container has ended.
 * - Trouble that is not the check's (the agent unreachable or refusing the
 *   launch, a removal that fails, the container killed with SIGKILL, e.g.
 *   with its task) gives no result: nothing is reported and the next probe
 *   runs as scheduled.
 */
import type { Logger } from "../../common/observability/logger.js";
import type { CallResult, ContainerEnd, SessionOutput } from "../default-executor-containers.js";
import type { CommandInfo } from "../protocol.js";
import type { ProbeResult, Prober, RunningProbe } from "./probe.js";

/** The agent calls a nested check needs (AgentTaskContainers has them). */
export interface CheckContainers {
  launchSession(
    parentId: string,
    childId: string,
    command: CommandInfo,
    signal?: AbortSignal,
  ): Promise<CallResult<SessionOutput>>;
  wait(parentId: string, childId: string): Promise<CallResult<ContainerEnd>>;
  kill(parentId: string, childId: string, signal: number): Promise<CallResult<undefined>>;
  remove(parentId: string, childId: string): Promise<CallResult<undefined>>;
}

/** Where a nested check runs. */
export interface NestedCheckTarget {
  containers: CheckContainers;
  /** The task's container, dotted: `<executor container>.<task container>`. */
  taskContainer: string;
  /** For the check's output and its failures to reach the agent. */
  logger?: Logger;
  /** `check` or `health check`, for log lines. */
  name?: string;
  /** A fresh UUID (tests make them predictable). */
  newId?: () => string;
}

const SIGKILL = 9;

/** A COMMAND prober whose probes run in check containers nested in the task's container. */
export function nestedCommandProber(target: NestedCheckTarget, command: CommandInfo): Prober {
  const { containers, taskContainer: task } = target;
  const name = target.name ?? "check";
  const newId = target.newId ?? (() => globalThis.crypto.randomUUID());
  /** The last check container, removed before the next one starts. */
  let previous: string | undefined;
  /** Resolves once a container given up on (timeout, stop) has ended. */
  let settling: Promise<void> | undefined;

  return {
    kind: "COMMAND",
    start(): RunningProbe {
      const abort = new AbortController();
      let cancelled = false;
      let current: string | undefined;
      const run = async (): Promise<ProbeResult> => {
        if (settling !== undefined) await settling;
        if (previous !== undefined) {
          const removed = await containers.remove(task, previous);
          if (!removed.ok) {
            return {
              transient: `failed to remove the previous ${name} container '${task}.${previous}': ${removed.error}`,
            };
          }
          previous = undefined;
        }
        if (cancelled) return { transient: "stopped" };
        const id = `check-${newId()}`;
        previous = id;
        current = id;
        const launched = await containers.launchSession(task, id, command, abort.signal);
        if (cancelled) return { transient: "stopped" };
        if (!launched.ok) {
          // Unreachable agent: nothing to wait for (a restarted agent destroys it).
          if (launched.status !== 0) await containers.wait(task, id);
          return { transient: `failed to launch the ${name} container: ${launched.error}` };
        }
        const { stdout, stderr } = launched.value;
        if (stdout !== "") target.logger?.info(`Output of the ${name} (stdout):\n${stdout}`);
        if (stderr !== "") target.logger?.info(`Output of the ${name} (stderr):\n${stderr}`);
        const end = await containers.wait(task, id);
        if (!end.ok) return { error: `Unable to get the exit code: ${end.error}` };
        const status = end.value.exit_status;
        if (status === undefined) return { error: "Unable to get the exit code" };
        const signal = status & 0x7f;
        // Killed, most likely with its task while the check ran: no result.
        if (signal === SIGKILL) return { transient: `the ${name} container was killed` };
        if (signal !== 0)
          return { error: `the ${name} command was terminated by signal ${signal}` };
        return { exitCode: (status >> 8) & 0xff };
      };
      const result = run().catch((err: unknown) => ({ error: String(err) }));
      return {
        result,
        cancel() {
          if (cancelled) return settling;
          cancelled = true;
          // Closing the session makes the agent kill the container; KILL says it plainly.
          abort.abort();
          const id = current;
          if (id === undefined) return settling;
          void containers.kill(task, id, SIGKILL);
          settling = containers.wait(task, id).then(
            () => undefined,
            () => undefined,
          );
          return settling;
        },
      };
    },
  };
}
