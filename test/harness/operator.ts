/** v1 operator API calls (JSON) the master tests make against a real master. */
import type { DaemonHandle } from "./processes.js";

/** POSTs `call` to the master's `/api/v1` in JSON; the status and body text. */
export async function operatorCall(
  master: DaemonHandle,
  call: unknown,
): Promise<{ status: number; text: string }> {
  const response = await fetch(`${master.url}/api/v1`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(call),
  });
  return { status: response.status, text: await response.text() };
}

/** An agent as GET_AGENTS shows it (the fields the tests read). */
export interface AgentView {
  agent_info: { id: { value: string } };
  active: boolean;
  deactivated?: boolean;
  drain_info?: { state: string };
}

/** GET_AGENTS by agent id; `undefined` when the master does not answer 200 (e.g. not leading). */
export async function agentViews(
  master: DaemonHandle,
): Promise<Map<string, AgentView> | undefined> {
  const answer = await operatorCall(master, { type: "GET_AGENTS" });
  if (answer.status !== 200) return undefined;
  const body = JSON.parse(answer.text) as { get_agents: { agents?: AgentView[] } };
  return new Map((body.get_agents.agents ?? []).map((a) => [a.agent_info.id.value, a]));
}
