/**
 * The set-up most integration tests open with: one master and one agent
 * registered to it, started as real processes (test/harness/processes.ts).
 */
import {
  type DaemonHandle,
  getJson,
  startAgent,
  startMaster,
  waitForAgents,
  waitLong,
} from "./processes.js";

export interface OneAgentCluster {
  master: DaemonHandle;
  agent: DaemonHandle;
  /** The agent's id, as the master lists it once the agent is registered. */
  agentId: string;
}

/** What a test may set beyond the agent's flags; each is passed on as is. */
export interface OneAgentClusterOptions {
  /** The master's flags (`startMaster`'s `flags`). */
  masterFlags?: Record<string, string | number | boolean>;
  /** Variables added to the agent's environment (`startAgent`'s `env`). */
  agentEnv?: NodeJS.ProcessEnv;
}

/**
 * Starts a master (with `options.masterFlags`), then an agent with
 * `agentFlags`, and waits until the agent is registered: the same three steps
 * as startMaster + startAgent + waitForAgents(master, 1).
 */
export async function startOneAgentCluster(
  agentFlags: Record<string, string | number | boolean> = {},
  options: OneAgentClusterOptions = {},
): Promise<OneAgentCluster> {
  const master = await startMaster({ flags: options.masterFlags });
  const agent = await startAgent({
    master: master.address,
    flags: agentFlags,
    env: options.agentEnv,
  });
  const [agentId = ""] = await waitForAgents(master, 1);
  return { master, agent, agentId };
}

/** Waits until `agent` is registered (its /state names its id): that id. */
export function registeredAgentId(agent: DaemonHandle): Promise<string> {
  return waitLong("the agent to register", async () => {
    const state = await getJson<{ id?: string }>(`${agent.url}/state`);
    return state?.id !== undefined && state.id !== "" ? state.id : undefined;
  });
}
