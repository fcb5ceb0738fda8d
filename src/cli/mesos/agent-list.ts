/** `mesos agent list`: the agents registered with the master. */
import { Command } from "commander";
import { scalar } from "./support/cluster-views.js";
import type { CommandContext } from "./support/context.js";
import { displayId, formatMegabytes, formatNumber, usedOfTotal } from "./support/format.js";
import { renderTable } from "./support/table.js";

export function agentListCommand(ctx: CommandContext): Command {
  return new Command("list")
    .description("list the agents registered with the master")
    .addHelpText(
      "after",
      "\nColumns: agent id, hostname, address (ip:port), active, and cpus/mem/disk used of total.",
    )
    .action(async () => {
      const state = await ctx.masterState();
      if (ctx.json) {
        ctx.printJson(state.agents.map((a) => a.raw));
        return;
      }
      if (state.agents.length === 0) {
        ctx.print("The cluster has no agents.");
        return;
      }
      const rows = state.agents.map((a) => [
        displayId(a.id, ctx.wide),
        a.hostname,
        a.address,
        a.active ? "yes" : "no",
        usedOfTotal(scalar(a.usedResources, "cpus"), scalar(a.resources, "cpus"), formatNumber),
        usedOfTotal(scalar(a.usedResources, "mem"), scalar(a.resources, "mem"), formatMegabytes),
        usedOfTotal(scalar(a.usedResources, "disk"), scalar(a.resources, "disk"), formatMegabytes),
      ]);
      ctx.print(renderTable(["ID", "HOSTNAME", "ADDRESS", "ACTIVE", "CPUS", "MEM", "DISK"], rows));
    });
}
