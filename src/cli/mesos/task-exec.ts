/**
 * `mesos task exec TASK COMMAND [ARGS...]`: runs a command in a running
 * task's container and relays its output, as the Mesos CLI does: a
 * `LAUNCH_NESTED_CONTAINER_SESSION` call on the task's agent (a nested
 * container under the task's own, output streamed back as RecordIO of
 * `ProcessIO`), then `WAIT_CONTAINER` for its exit status, which becomes
 * ours. With `-i`, our stdin goes to the command through one
 * `ATTACH_CONTAINER_INPUT` call, sent once stdin ends (the agent reads whole
 * request bodies), while the output is relayed. No terminal (`-t`) yet.
 */
import { randomUUID } from "node:crypto";
import type { Readable } from "node:stream";
import { Command } from "commander";
import { encodeRecord } from "../../common/recordio/encoder.js";
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

/** POSTs an agent API call to the task's agent (under its process id, as mesos-local needs). */
export function agentCall(
  ctx: CommandContext,
  agent: AgentView,
  call: unknown,
  accept: "application/json" | "application/recordio",
  controller?: AbortController,
): Promise<Response> {
  return agentRequest(
    ctx,
    agent,
    {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: accept,
        ...(accept === "application/recordio" ? { "Message-Accept": "application/json" } : {}),
      },
      body: JSON.stringify(call),
    },
    controller,
  );
}

/** Sends `init` to the agent API of `agent` (under its process id first). */
async function agentRequest(
  ctx: CommandContext,
  agent: AgentView,
  init: RequestParts,
  controller?: AbortController,
): Promise<Response> {
  const target = agentTarget(agent);
  try {
    return await ctx.http.open(target, `/${agent.processId}/api/v1`, init, controller);
  } catch (e) {
    if (!(e instanceof HttpStatusError) || !e.routeMissing) throw e;
    try {
      return await ctx.http.open(target, "/api/v1", init, controller);
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
  // As the Mesos CLI: nested containers exist only under the Mesos containerizer (UCR); for a
  // Docker task the agent would run the command beside the container, in the executor's sandbox.
  const container = task.raw.container;
  const type = isRecord(container) ? container.type : undefined;
  if (type !== undefined && type !== "MESOS") {
    throw new CliError(
      `task '${task.id}' runs in a ${String(type)} container: task exec and task attach work only ` +
        "for tasks of the Mesos containerizer (UCR)",
    );
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
      .option("-i, --interactive", "send our stdin to the command (delivered when stdin ends)")
      .option("-t, --tty", "allocate a terminal (not supported yet)")
      // `mesos task exec web ls -l` hands `-l` to ls; only our own options are ours.
      .allowUnknownOption()
      .addHelpText(
        "after",
        "\nThe exit code is the command's (128+n when signal n ended it).\n" +
          "With -i, stdin is read to its end and then handed to the command in one go\n" +
          "(the agent takes the input as a whole request): typing interactively is\n" +
          "delivered at EOF (Ctrl-D), not line by line. Examples:\n" +
          "  mesos task exec web-1 -- ls -l /\n" +
          "  echo hello | mesos task exec -i web-1 cat",
      )
      .action(
        async (
          query: string,
          program: string,
          args: string[],
          opts: { framework?: string; interactive?: boolean; tty?: boolean },
        ) => {
          if (opts.tty === true) {
            throw usageError("task exec -t (a terminal) is not supported yet");
          }
          const { task, agent } = await findRunningTask(ctx, query, opts.framework);
          const containerId: ContainerId = { parent: taskContainerId(task), value: randomUUID() };
          // Aborting it ends the output stream (when -i input is refused).
          const stopOutput = new AbortController();
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
            stopOutput,
          );
          if (opts.interactive === true) {
            const stdin = ctx.io.stdin?.() ?? process.stdin;
            await relayWithInput(ctx, session, agent, containerId, stdin, stopOutput);
          } else {
            await relayOutput(ctx, session, agent);
          }
          ctx.exitCode = await waitExitCode(ctx, agent, containerId);
        },
      )
  );
}

/** The stdin chunks read so far and whether stdin has ended; `stop` abandons it. */
interface StdinReader {
  readonly ended: Promise<Uint8Array[]>;
  stop(): void;
}

function readStdin(stdin: Readable): StdinReader {
  const chunks: Uint8Array[] = [];
  let settle: (result: Uint8Array[] | Error) => void = () => {};
  const ended = new Promise<Uint8Array[]>((resolve, reject) => {
    settle = (result) => (result instanceof Error ? reject(result) : resolve(result));
  });
  const onData = (chunk: Buffer | string) => {
    chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  };
  const onEnd = () => {
    detach();
    settle(chunks);
  };
  const onError = (e: Error) => {
    detach();
    settle(new CliError(`cannot read stdin: ${e.message}`));
  };
  const detach = () => {
    stdin.off("data", onData);
    stdin.off("end", onEnd);
    stdin.off("error", onError);
  };
  stdin.on("data", onData);
  stdin.once("end", onEnd);
  stdin.once("error", onError);
  return {
    ended,
    stop: () => {
      detach();
      // A terminal or pipe nobody closes must not keep the CLI alive.
      stdin.pause();
      stdin.destroy();
    },
  };
}

/**
 * The ATTACH_CONTAINER_INPUT body for `chunks`: the container id first, then
 * one STDIN record per chunk, then an empty one (EOF), as RecordIO of JSON.
 */
export function attachInputBody(containerId: ContainerId, chunks: readonly Uint8Array[]): string {
  const record = (call: unknown) => encodeRecord(JSON.stringify(call)).toString("utf8");
  const data = (bytes: Uint8Array) =>
    record({
      type: "ATTACH_CONTAINER_INPUT",
      attach_container_input: {
        type: "PROCESS_IO",
        process_io: {
          type: "DATA",
          data: { type: "STDIN", data: Buffer.from(bytes).toString("base64") },
        },
      },
    });
  return [
    record({
      type: "ATTACH_CONTAINER_INPUT",
      attach_container_input: { type: "CONTAINER_ID", container_id: containerId },
    }),
    ...chunks.filter((c) => c.length > 0).map(data),
    data(new Uint8Array(0)),
  ].join("");
}

/**
 * Relays the session's output while our stdin is read; at EOF the input goes
 * to the container in one ATTACH_CONTAINER_INPUT call. Once the output ends,
 * stdin is abandoned (the command is done with it). A `500` means the
 * session is already over, which is not an error (as Mesos' CLI); another
 * refusal of the input ends the exec with that error.
 */
async function relayWithInput(
  ctx: CommandContext,
  session: Response,
  agent: AgentView,
  containerId: ContainerId,
  stdin: Readable,
  stopOutput: AbortController,
): Promise<void> {
  const reader = readStdin(stdin);
  let outputDone = false;
  let inputError: unknown;
  let sending: Promise<void> | undefined;
  const send = async (chunks: Uint8Array[]) => {
    try {
      const answer = await agentRequest(ctx, agent, {
        method: "POST",
        headers: {
          "Content-Type": "application/recordio",
          "Message-Content-Type": "application/json",
          Accept: "application/json",
        },
        body: attachInputBody(containerId, chunks),
      });
      await answer.arrayBuffer();
    } catch (e) {
      if (e instanceof HttpStatusError && e.status === 500) return;
      inputError = e;
      // The command may wait for this input forever: stop following it.
      stopOutput.abort();
    }
  };
  void reader.ended.then(
    (chunks) => {
      if (!outputDone) sending = send(chunks);
    },
    (e: unknown) => {
      inputError = e;
      stopOutput.abort();
    },
  );
  try {
    await relayOutput(ctx, session, agent);
  } catch (e) {
    if (inputError === undefined) throw e;
  } finally {
    outputDone = true;
    reader.stop();
  }
  // A call already under way ends with the session (the agent stops writing then).
  await sending;
  if (inputError !== undefined) throw inputError;
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
