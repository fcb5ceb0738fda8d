/** `mesos head TASK [FILE] [-n N]`: the first lines of a sandbox file (default `stdout`). */
import { Command } from "commander";
import type { CommandContext } from "./support/context.js";
import { parseLineCount } from "./support/lines.js";
import { fileChunkJson, locateSandbox, readFrom, sandboxPath } from "./support/sandbox.js";

/** The first `n` lines of `text` (a final line without newline counts). */
export function firstLines(text: string, n: number): string {
  if (n <= 0) return "";
  let at = -1;
  for (let i = 0; i < n; i++) {
    at = text.indexOf("\n", at + 1);
    if (at < 0) return text;
  }
  return text.slice(0, at + 1);
}

export function headCommand(ctx: CommandContext): Command {
  return new Command("head")
    .description("print the first lines of a file from a task's sandbox")
    .argument("<task>", "task id (a part is enough)")
    .argument("[file]", "file inside the sandbox", "stdout")
    .option("-n, --lines <count>", "number of lines", parseLineCount, 10)
    .option("--framework <id>", "the task's framework, when several have the task id")
    .action(async (task: string, file: string, opts: { lines: number; framework?: string }) => {
      const sandbox = await locateSandbox(ctx, task, { framework: opts.framework });
      const path = sandboxPath(sandbox, file);
      let text = "";
      let newlines = 0;
      await readFrom(ctx, sandbox, path, 0, (page) => {
        text += page;
        for (const ch of page) if (ch === "\n") newlines++;
        return newlines < opts.lines;
      });
      const head = firstLines(text, opts.lines);
      ctx.io.out(ctx.json ? fileChunkJson(sandbox, path, 0, head) : head);
    });
}
