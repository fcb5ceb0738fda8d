/**
 * `mesos task exec TASK COMMAND [ARGS...]`: runs a command in a running
 * task's container and relays its output, as the Mesos CLI does: a
 * `LAUNCH_NESTED_CONTAINER_SESSION` call on the task's agent (a nested
 * container under the task's own, output streamed back as RecordIO of
 * `ProcessIO`), then `WAIT_CONTAINER` for its exit status, which becomes
 * ours. Without `-i`/`-t` (stdin and a terminal are not relayed yet).
 */
import { randomUUID } from "node:crypto";
import { Command } from "commander";
import { CliError, usageError } from "./support/cli-error.js";
import {
  type AgentView,
  agentTarget,
  allTasks,
  isRecord,
  type TaskView,
} from "./support/cluster-views.js";
import type { CommandContext } from "./support/context.js";
import { HttpStatusError, type RequestParts } from "./support/http-client.js";
import { pickTask } from "./support/match.js";

/** A container id as the agent API spells it. */
interface ContainerId {
  readonly value: string;
  readonly parent?: ContainerId;
}

function asContainerId(value: unknown): ContainerId | undefined {
  if (!isRecord(value) || typeof value.value !== "string" || value.value === "") return undefined;
  const parent = value.parent === undefined ? undefined : asContainerId(value.parent);
  return parent === undefined ? { value: value.value } : { value: value.value, parent };
}

/** The container the agent runs `task` in, from its status updates. */
export function taskContainerId(task: TaskView): ContainerId {
  const statuses = Array.isArray(task.raw.statuses) ? task.raw.statuses : [];
  for (const status of statuses) {
    if (!isRecord(status) || !isRecord(status.container_status)) continue;
    const id = asContainerId(status.container_status.container_id);
    if (id !== undefined) return id;
  }
  throw new CliError(
    `task '${task.id}' has no container id in its status updates yet (is it still starting?)`,
  );
}

/** The exit code a shell would give for a wait(2) status. */
export function exitCodeOf(waitStatus: number): number {
  const signal = waitStatus & 0x7f;
  if (signal !== 0 && signal !== 0x7f) return 128 + signal;
  return (waitStatus >> 8) & 0xff;
}

/** POSTs an agent API call to the task's agent (under its process id, as mesos-local needs). */
/** WAIT_CONTAINER on a (nested) container: the exit code its wait status makes (0 when none). */
export async function waitExitCode(
  ctx: CommandContext,
  agent: AgentView,
  containerId: ContainerId,
): Promise<number> {
  const waited = await agentCall(
    ctx,
    agent,
    { type: "WAIT_CONTAINER", wait_container: { container_id: containerId } },
    "application/json",
  );
  const answer = JSON.parse(await waited.text()) as unknown;
  const status =
    isRecord(answer) && isRecord(answer.wait_container)
      ? answer.wait_container.exit_status
      : undefined;
  return typeof status === "number" ? exitCodeOf(status) : 0;
}

export async function agentCall(
  ctx: CommandContext,
  agent: AgentView,
  call: unknown,
  accept: "application/json" | "application/recordio",
): Promise<Response> {
  const target = agentTarget(agent);
  const init: RequestParts = {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: accept,
      ...(accept === "application/recordio" ? { "Message-Accept": "application/json" } : {}),
    },
    body: JSON.stringify(call),
  };
  try {
    return await ctx.http.open(target, `/${agent.processId}/api/v1`, init);
  } catch (e) {
    if (!(e instanceof HttpStatusError) || !e.routeMissing) throw e;
    try {
      return await ctx.http.open(target, "/api/v1", init);
    } catch (inner) {
      if (inner instanceof HttpStatusError && inner.routeMissing) {
        throw new CliError(`the agent at ${target.address} does not serve the agent API (/api/v1)`);
      }
      throw inner;
    }
  }
}

/** The running task `query` designates, and its agent. */
export async function findRunningTask(
  ctx: CommandContext,
  query: string,
  framework: string | undefined,
): Promise<{ task: TaskView; agent: AgentView }> {
  const state = await ctx.masterState();
  const task = pickTask(allTasks(state), query, { framework });
  if (task.state !== "TASK_RUNNING") {
    throw new CliError(`task '${task.id}' is ${task.state}, not TASK_RUNNING`);
  }
  const agent = state.agents.find((a) => a.id === task.agentId);
  if (agent === undefined) {
    throw new CliError(
      `task '${task.id}' runs on agent ${task.agentId}, which the master does not list`,
    );
  }
  return { task, agent };
}

export function taskExecCommand(ctx: CommandContext): Command {
  return (
    new Command("exec")
      .description("run a command in a running task's container and print its output")
      .argument("<task>", "task id (a unique part is enough)")
      .argument("<command>", "the program to run (not through a shell)")
      .argument("[args...]", "its arguments (put -- before them when they start with -)")
      .option("--framework <id>", "the task's framework, when two frameworks use the same task id")
      .option("-i, --interactive", "attach stdin (not supported yet)")
      .option("-t, --tty", "allocate a terminal (not supported yet)")
      // `mesos task exec web ls -l` hands `-l` to ls; only our own options are ours.
      .allowUnknownOption()
      .addHelpText(
        "after",
        "\nThe exit code is the command's (128+n when signal n ended it). Example:\n" +
          "  mesos task exec web-1 -- ls -l /",
      )
      .action(
        async (
          query: string,
          program: string,
          args: string[],
          opts: { framework?: string; interactive?: boolean; tty?: boolean },
        ) => {
          if (opts.interactive === true || opts.tty === true) {
            throw usageError("task exec -i/-t (stdin and a terminal) is not supported yet");
          }
          const { task, agent } = await findRunningTask(ctx, query, opts.framework);
          const containerId: ContainerId = { parent: taskContainerId(task), value: randomUUID() };
          const session = await agentCall(
            ctx,
            agent,
            {
              type: "LAUNCH_NESTED_CONTAINER_SESSION",
              launch_nested_container_session: {
                container_id: containerId,
                command: { value: program, arguments: [program, ...args], shell: false },
              },
            },
            "application/recordio",
          );
          await relayOutput(ctx, session, agent);
          ctx.exitCode = await waitExitCode(ctx, agent, containerId);
        },
      )
  );
}

/** Copies the session's STDOUT/STDERR records to ours until the agent ends the stream. */
export async function relayOutput(
  ctx: CommandContext,
  response: Response,
  agent: AgentView,
): Promise<void> {
  if (response.body === null) return;
  const { readRecords } = await import("../../common/recordio/index.js");
  // A character may be split across records: decode each stream incrementally.
  const stdout = new TextDecoder();
  const stderr = new TextDecoder();
  try {
    for await (const record of readRecords(response.body as AsyncIterable<Uint8Array>)) {
      const message = JSON.parse(Buffer.from(record).toString("utf8")) as unknown;
      if (!isRecord(message) || message.type !== "DATA" || !isRecord(message.data)) continue;
      const { type, data } = message.data;
      if (typeof data !== "string") continue;
      const bytes = Buffer.from(data, "base64");
      if (type === "STDOUT") ctx.io.out(stdout.decode(bytes, { stream: true }));
      else if (type === "STDERR") ctx.io.err(stderr.decode(bytes, { stream: true }));
    }
  } catch (e) {
    throw new CliError(
      `the output stream from the agent at ${agent.address} broke: ${(e as Error).message}`,
    );
  }
}
