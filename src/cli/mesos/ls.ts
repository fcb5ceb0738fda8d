/** `mesos ls TASK [PATH]`: list a directory of a task's sandbox. */
import { Command } from "commander";
import type { CommandContext } from "./support/context.js";
import { formatTimestamp } from "./support/format.js";
import {
  browse,
  type FileEntry,
  locateSandbox,
  relativeToSandbox,
  type Sandbox,
  sandboxPath,
} from "./support/sandbox.js";
import { renderTable } from "./support/table.js";

/** The name a listing shows: the last path component, `/` after directories. */
export function entryName(sandbox: Sandbox, entry: FileEntry): string {
  const relative = relativeToSandbox(sandbox, entry.path);
  const name = relative.slice(relative.lastIndexOf("/") + 1);
  return entry.mode.startsWith("d") ? `${name}/` : name;
}

export function lsCommand(ctx: CommandContext): Command {
  return new Command("ls")
    .description("list files in a task's sandbox")
    .argument("<task>", "task id (a part is enough)")
    .argument("[path]", "directory inside the sandbox", ".")
    .option("--framework <id>", "the task's framework, when several have the task id")
    .option("-l, --long", "show mode, links, owner, size and time")
    .action(async (task: string, path: string, opts: { framework?: string; long?: boolean }) => {
      const sandbox = await locateSandbox(ctx, task, { framework: opts.framework });
      const entries = (await browse(ctx, sandbox, sandboxPath(sandbox, path))).sort((a, b) =>
        a.path.localeCompare(b.path),
      );
      if (ctx.json) {
        ctx.printJson(entries.map((e) => e.raw));
        return;
      }
      if (opts.long !== true && !ctx.wide) {
        for (const e of entries) ctx.print(entryName(sandbox, e));
        return;
      }
      const rows = entries.map((e) => [
        e.mode,
        String(e.nlink),
        e.uid,
        e.gid,
        String(e.size),
        formatTimestamp(e.mtime),
        entryName(sandbox, e),
      ]);
      ctx.io.out(
        renderTable(
          [
            "MODE",
            { title: "LINKS", align: "right" },
            "UID",
            "GID",
            { title: "SIZE", align: "right" },
            "MODIFIED",
            "NAME",
          ],
          rows,
        ),
      );
    });
}
