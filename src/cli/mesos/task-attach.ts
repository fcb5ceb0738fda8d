/**
 * `mesos task attach TASK --no-stdin`: follows a running task's output, as
 * the Mesos CLI's `task attach` does (an `ATTACH_CONTAINER_OUTPUT` call on
 * the task's agent; Mesos serves it for containers launched with a TTY).
 * For a task of the default executor (a nested container) the exit code is
 * the task's, from `WAIT_CONTAINER`; otherwise 0, as in Mesos. Relaying
 * stdin is not supported yet, so `--no-stdin` is required.
 */
import { Command } from "commander";
import { usageError } from "./support/cli-error.js";
import type { CommandContext } from "./support/context.js";
import {
  agentCall,
  findRunningTask,
  relayOutput,
  taskContainerId,
  waitExitCode,
} from "./task-exec.js";

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
      const stream = await agentCall(
        ctx,
        agent,
        { type: "ATTACH_CONTAINER_OUTPUT", attach_container_output: { container_id: containerId } },
        "application/recordio",
      );
      await relayOutput(ctx, stream, agent);
      // Only a nested container (a default executor's task) has an exit status to wait for.
      if (containerId.parent === undefined) return;
      ctx.exitCode = await waitExitCode(ctx, agent, containerId);
    });
}
