/** `mesos find TASK [PATH]`: every file under a directory of a task's sandbox. */
import { Command } from "commander";
import type { CommandContext } from "./support/context.js";
import {
  browse,
  type FileEntry,
  isDirectory,
  locateSandbox,
  relativeToSandbox,
  sandboxPath,
} from "./support/sandbox.js";

/** A bound on directories visited, against symlink loops and huge trees. */
const MAX_DIRECTORIES = 10_000;

export function findCommand(ctx: CommandContext): Command {
  return new Command("find")
    .description("list every file and directory under a path of a task's sandbox")
    .argument("<task>", "task id (a part is enough)")
    .argument("[path]", "directory inside the sandbox", ".")
    .option("--name <text>", "only entries whose name contains text")
    .option("--framework <id>", "the task's framework, when several have the task id")
    .action(async (task: string, path: string, opts: { name?: string; framework?: string }) => {
      const sandbox = await locateSandbox(ctx, task, { framework: opts.framework });
      const found: FileEntry[] = [];
      const queue = [sandboxPath(sandbox, path)];
      const seen = new Set<string>(queue);
      while (queue.length > 0 && seen.size <= MAX_DIRECTORIES) {
        const dir = queue.shift() as string;
        const entries = (await browse(ctx, sandbox, dir)).sort((a, b) =>
          a.path.localeCompare(b.path),
        );
        for (const entry of entries) {
          if (entry.path === dir) continue;
          const name = entry.path.slice(entry.path.lastIndexOf("/") + 1);
          if (opts.name === undefined || name.includes(opts.name)) found.push(entry);
          if (isDirectory(entry) && !seen.has(entry.path)) {
            seen.add(entry.path);
            queue.push(entry.path);
          }
        }
      }
      if (seen.size > MAX_DIRECTORIES) {
        ctx.warn(`stopped after ${MAX_DIRECTORIES} directories`);
      }
      found.sort((a, b) => a.path.localeCompare(b.path));
      if (ctx.json) {
        ctx.printJson(found.map((e) => e.raw));
        return;
      }
      for (const entry of found) {
        const relative = relativeToSandbox(sandbox, entry.path);
        ctx.print(isDirectory(entry) ? `${relative}/` : relative);
      }
    });
}
