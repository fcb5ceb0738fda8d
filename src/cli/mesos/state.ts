/**
 * `mesos state [AGENT]`: the master's `/master/state`, or with an agent
 * (partial id, hostname or address) that agent's own `/state`, as JSON.
 */
import { Command } from "commander";
import { CliError } from "./support/cli-error.js";
import type { AgentView, MasterStateView } from "./support/cluster-views.js";
import type { CommandContext } from "./support/context.js";
import { listIds, matchIds } from "./support/match.js";
import { getAgentJson } from "./support/sandbox.js";

/** The agent `query` designates: by id (partial), hostname or address. */
export function pickAgent(state: MasterStateView, query: string): AgentView {
  const byHost = state.agents.filter((a) => a.hostname === query || a.address === query);
  if (byHost.length === 1) return byHost[0] as AgentView;
  const found = byHost.length > 1 ? byHost : matchIds(state.agents, query, (a) => a.id);
  if (found.length === 1) return found[0] as AgentView;
  if (found.length === 0) throw new CliError(`no agent matches '${query}'`);
  throw new CliError(
    `'${query}' matches ${found.length} agents: ${listIds(found, (a) => a.id)}; give more of the id`,
  );
}

export function stateCommand(ctx: CommandContext): Command {
  return new Command("state")
    .description("print the master's state, or an agent's, as JSON")
    .argument("[agent]", "agent id (a part is enough), hostname or ip:port")
    .action(async (agentQuery: string | undefined) => {
      const state = await ctx.masterState();
      if (agentQuery === undefined) {
        ctx.printJson(state.raw);
        return;
      }
      const agent = pickAgent(state, agentQuery);
      ctx.printJson(await getAgentJson(ctx, agent, "/state"));
    });
}
