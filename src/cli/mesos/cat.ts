/** `mesos cat TASK [FILE]`: print a file of a task's sandbox (default `stdout`). */
import { Command } from "commander";
import type { CommandContext } from "./support/context.js";
import { fileChunkJson, locateSandbox, readFrom, sandboxPath } from "./support/sandbox.js";

export function catCommand(ctx: CommandContext): Command {
  return new Command("cat")
    .description("print a file from a task's sandbox (-o json: one object with the data)")
    .argument("<task>", "task id (a part is enough)")
    .argument("[file]", "file inside the sandbox", "stdout")
    .option("--framework <id>", "the task's framework, when several have the task id")
    .action(async (task: string, file: string, opts: { framework?: string }) => {
      const sandbox = await locateSandbox(ctx, task, { framework: opts.framework });
      const path = sandboxPath(sandbox, file);
      let collected = "";
      await readFrom(ctx, sandbox, path, 0, (text) => {
        // JSON output is one object, so the pages are gathered first.
        if (ctx.json) collected += text;
        else ctx.io.out(text);
        return true;
      });
      if (ctx.json) ctx.io.out(fileChunkJson(sandbox, path, 0, collected));
    });
}
