/**
 * `mesos task attach TASK --no-stdin`: follows a running task's output, as
 * the Mesos CLI's `task attach` does (an `ATTACH_CONTAINER_OUTPUT` call on
 * the task's agent; Mesos serves it for containers launched with a TTY).
 * For a task of the default executor (a nested container) the exit code is
 * the task's, from `WAIT_CONTAINER`; otherwise 0, as in Mesos. Relaying
 * stdin is not supported yet, so `--no-stdin` is required.
 */
import { Command } from "commander";
import { CliError, usageError } from "./support/cli-error.js";
import type { CommandContext } from "./support/context.js";
import { HttpStatusError } from "./support/http-client.js";
import {
  agentCall,
  findRunningTask,
  relayOutput,
  taskContainerId,
  waitExitCode,
} from "./task-exec.js";

/**
 * The agent's 500 for a container without attachable I/O: Mesos' words for a
 * container launched without a TTY, or ours (a mesos-ts agent attaches only
 * to task exec sessions, never to a task's own container).
 */
function withoutTty(body: string): boolean {
  return (
    body.trim() === "I/O switchboard server was disabled for this container" ||
    /^Container \S+ has no I\/O to attach to/.test(body.trim())
  );
}

export function taskAttachCommand(ctx: CommandContext): Command {
  return new Command("attach")
    .description("follow a running task's output (its container needs a TTY, as in Mesos)")
    .argument("<task>", "task id (a unique part is enough)")
    .option("--no-stdin", "do not attach stdin (required: stdin is not relayed yet)")
    .option("--framework <id>", "the task's framework, when two frameworks use the same task id")
    .action(async (query: string, opts: { stdin: boolean; framework?: string }) => {
      if (opts.stdin) {
        throw usageError(
          "attaching stdin is not supported yet; use --no-stdin to follow the output",
        );
      }
      const { task, agent } = await findRunningTask(ctx, query, opts.framework);
      const containerId = taskContainerId(task);
      let stream: Response;
      try {
        stream = await agentCall(
          ctx,
          agent,
          {
            type: "ATTACH_CONTAINER_OUTPUT",
            attach_container_output: { container_id: containerId },
          },
          "application/recordio",
        );
      } catch (e) {
        if (e instanceof HttpStatusError && e.status === 500 && withoutTty(e.body)) {
          throw new CliError(`cannot attach to task '${task.id}': it was launched without a TTY`);
        }
        throw e;
      }
      await relayOutput(ctx, stream, agent);
      // Only a nested container (a default executor's task) has an exit status to wait for.
      if (containerId.parent === undefined) return;
      ctx.exitCode = await waitExitCode(ctx, agent, containerId);
    });
}
