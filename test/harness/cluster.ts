/**
 * The set-up most integration tests open with: one master and one agent
 * registered to it, started as real processes (test/harness/processes.ts).
 */
import {
  type DaemonHandle,
  freePort,
  getJson,
  startAgent,
  startMaster,
  tempDir,
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

/** An agent that a test can kill and start again as itself: the same port and work_dir. */
export interface RestartableAgent {
  readonly port: number;
  readonly workDir: string;
  /** Starts the agent (again) with its flags. */
  start(): Promise<DaemonHandle>;
}

/**
 * A RestartableAgent of `master` on a free port with a new work_dir named
 * `workDirPrefix…`, re-registering after a 10ms backoff; `flags` are added
 * to those. Nothing is started until `start()`.
 */
export async function restartableAgent(
  master: DaemonHandle,
  workDirPrefix: string,
  flags: Record<string, string | number | boolean> = {},
): Promise<RestartableAgent> {
  const port = await freePort();
  const workDir = tempDir(workDirPrefix);
  const start = () =>
    startAgent({
      master: master.address,
      port,
      flags: { work_dir: workDir, registration_backoff_factor: "10ms", ...flags },
    });
  return { port, workDir, start };
}
