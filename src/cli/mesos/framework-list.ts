/** `mesos framework list [--all]`: the frameworks the master knows. */
import { Command } from "commander";
import { type FrameworkView, isTerminal, scalar } from "./support/cluster-views.js";
import type { CommandContext } from "./support/context.js";
import { displayId, formatMegabytes, formatNumber } from "./support/format.js";
import { renderTable } from "./support/table.js";

/** One word for where a framework stands. */
export function frameworkStatus(f: FrameworkView): string {
  if (f.completed) return "completed";
  if (!f.active) return "inactive";
  return f.connected ? "active" : "disconnected";
}

export function frameworkListCommand(ctx: CommandContext): Command {
  return new Command("list")
    .description("list the active frameworks")
    .option("-a, --all", "also list inactive and completed frameworks")
    .action(async (opts: { all?: boolean }) => {
      const state = await ctx.masterState();
      const frameworks = state.frameworks.filter((f) => opts.all === true || f.active);
      if (ctx.json) {
        ctx.printJson(frameworks.map((f) => f.raw));
        return;
      }
      if (frameworks.length === 0) {
        ctx.print(
          opts.all === true
            ? "The master knows no frameworks."
            : "No active frameworks (use --all to see inactive and completed ones).",
        );
        return;
      }
      const rows = frameworks.map((f) => [
        displayId(f.id, ctx.wide),
        f.name,
        frameworkStatus(f),
        f.user,
        f.hostname,
        f.roles.join(","),
        String(f.tasks.filter((t) => !isTerminal(t.state)).length),
        formatNumber(scalar(f.usedResources, "cpus")),
        formatMegabytes(scalar(f.usedResources, "mem")),
      ]);
      ctx.print(
        renderTable(
          [
            "ID",
            "NAME",
            "STATUS",
            "USER",
            "HOSTNAME",
            "ROLES",
            { title: "TASKS", align: "right" },
            { title: "CPUS", align: "right" },
            { title: "MEM", align: "right" },
          ],
          rows,
        ),
      );
    });
}
