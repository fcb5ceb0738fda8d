/**
 * The set-up most integration tests open with: one master and one agent
 * registered to it, started as real processes (test/harness/processes.ts).
 */
import { type DaemonHandle, startAgent, startMaster, waitForAgents } from "./processes.js";

export interface OneAgentCluster {
  master: DaemonHandle;
  agent: DaemonHandle;
}

/** Starts a master and an agent with `agentFlags`, and waits until the agent is registered. */
export async function startOneAgentCluster(
  agentFlags: Record<string, string | number | boolean> = {},
): Promise<OneAgentCluster> {
  const master = await startMaster();
  const agent = await startAgent({ master: master.address, flags: agentFlags });
  await waitForAgents(master, 1);
  return { master, agent };
}
