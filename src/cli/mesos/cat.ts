/** `mesos cat TASK [FILE]`: print a file of a task's sandbox (default `stdout`). */
import { Command } from "commander";
import type { CommandContext } from "./support/context.js";
import { locateSandbox, readFrom, sandboxPath } from "./support/sandbox.js";

export function catCommand(ctx: CommandContext): Command {
  return new Command("cat")
    .description("print a file from a task's sandbox")
    .argument("<task>", "task id (a part is enough)")
    .argument("[file]", "file inside the sandbox", "stdout")
    .option("--framework <id>", "the task's framework, when several have the task id")
    .action(async (task: string, file: string, opts: { framework?: string }) => {
      const sandbox = await locateSandbox(ctx, task, { framework: opts.framework });
      await readFrom(ctx, sandbox, sandboxPath(sandbox, file), 0, (text) => {
        ctx.io.out(text);
        return true;
      });
    });
}
