/**
 * `mesos tail TASK [FILE] [-n N] [-f]`: the last lines of a sandbox file
 * (default `stdout`); with `-f`, keep printing what the task appends.
 */
import { Command } from "commander";
import type { CommandContext } from "./support/context.js";
import { parseLineCount } from "./support/lines.js";
import {
  fileChunkJson,
  fileSize,
  locateSandbox,
  PAGE_SIZE,
  readFrom,
  readPage,
  type Sandbox,
  sandboxPath,
} from "./support/sandbox.js";

/** How often `-f` asks the agent for new bytes (Mesos' mesos-tail waited 0.5 s). */
export const FOLLOW_INTERVAL_MS = 500;

/** The last `n` lines of `text` (a final newline does not start another line). */
export function lastLines(text: string, n: number): string {
  if (n <= 0) return "";
  let at = text.endsWith("\n") ? text.length - 1 : text.length;
  for (let i = 0; i < n; i++) {
    at = text.lastIndexOf("\n", at - 1);
    if (at < 0) return text;
  }
  return text.slice(at + 1);
}

function countNewlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/** Reads bytes [start, end) of a file, page by page. */
async function readRange(
  ctx: CommandContext,
  sandbox: Sandbox,
  path: string,
  start: number,
  end: number,
): Promise<string> {
  let text = "";
  let at = start;
  while (at < end) {
    const page = await readPage(ctx, sandbox, path, at, Math.min(PAGE_SIZE, end - at));
    if (page.data === "") break;
    text += page.data;
    at += Buffer.byteLength(page.data, "utf8");
  }
  return text;
}

export function tailCommand(ctx: CommandContext): Command {
  return new Command("tail")
    .description("print the last lines of a file from a task's sandbox")
    .argument("<task>", "task id (a part is enough)")
    .argument("[file]", "file inside the sandbox", "stdout")
    .option("-n, --lines <count>", "number of lines", parseLineCount, 10)
    .option("-f, --follow", "keep printing what is appended (Ctrl-C to stop)")
    .option("--framework <id>", "the task's framework, when several have the task id")
    .action(
      async (
        task: string,
        file: string,
        opts: { lines: number; follow?: boolean; framework?: string },
      ) => {
        const sandbox = await locateSandbox(ctx, task, { framework: opts.framework });
        const path = sandboxPath(sandbox, file);
        const size = await fileSize(ctx, sandbox, path);
        // Walk back from the end a page at a time until enough lines are in hand.
        let text = "";
        let start = size;
        while (start > 0 && countNewlines(text) <= opts.lines) {
          const from = Math.max(0, start - PAGE_SIZE);
          text = (await readRange(ctx, sandbox, path, from, start)) + text;
          start = from;
        }
        const tail = lastLines(text, opts.lines);
        const tailStart = size - Buffer.byteLength(tail, "utf8");
        ctx.io.out(ctx.json ? fileChunkJson(sandbox, path, tailStart, tail) : tail);
        if (opts.follow !== true) return;
        let offset = size;
        for (;;) {
          let at = offset;
          offset = await readFrom(ctx, sandbox, path, offset, (page) => {
            // With -o json every appended piece is one more object on its own line.
            ctx.io.out(ctx.json ? fileChunkJson(sandbox, path, at, page) : page);
            at += Buffer.byteLength(page, "utf8");
            return true;
          });
          await new Promise<void>((resolve) => ctx.io.clock.setTimer(FOLLOW_INTERVAL_MS, resolve));
        }
      },
    );
}
