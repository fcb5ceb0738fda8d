/**
 * Reads from an agent, straight from the browser as the Mesos web UI does:
 * JSONP to `//<ip>:<port>/<process>/...`, the address taken from the agent's
 * pid (`slave(1)@10.0.0.5:5051`), which is where the master reaches it too.
 */
import type { AgentView } from "../model/cluster";
import type { Fetched } from "./http";
import { JsonpError, jsonp } from "./jsonp";

export interface AgentEndpoint {
  /** `//10.0.0.5:5051` */
  base: string;
  /** `slave(1)` */
  processId: string;
}

/** The endpoint of an agent from its pid, falling back to its hostname and port. */
export function agentEndpoint(agent: AgentView): AgentEndpoint {
  const at = agent.pid.indexOf("@");
  if (at > 0) {
    return { base: `//${agent.pid.slice(at + 1)}`, processId: agent.pid.slice(0, at) };
  }
  return { base: `//${agent.hostname}:${agent.port || 5051}`, processId: "slave(1)" };
}

/** A JSONP read whose failure comes back as data (a script tag cannot tell 404 from down). */
export async function agentRead(url: string): Promise<Fetched<unknown>> {
  try {
    return { kind: "ok", value: await jsonp(url) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof JsonpError) return { kind: "unavailable", status: 0 };
    return { kind: "network", message };
  }
}

export function agentStateUrl(ep: AgentEndpoint): string {
  return `${ep.base}/${ep.processId}/state`;
}

/** Statistics URLs that answered, per agent, so later polls go straight there. */
const statisticsUrls = new Map<string, string>();

/**
 * Per-executor usage: `/<process>/monitor/statistics` as Mesos routes it,
 * else `/monitor/statistics` (agents that serve it from a `monitor` process).
 */
export async function agentStatistics(ep: AgentEndpoint): Promise<Fetched<unknown>> {
  const known = statisticsUrls.get(ep.base);
  if (known !== undefined) return agentRead(known);
  const candidates = [
    `${ep.base}/${ep.processId}/monitor/statistics`,
    `${ep.base}/monitor/statistics`,
  ];
  let last: Fetched<unknown> = { kind: "unavailable", status: 0 };
  for (const url of candidates) {
    last = await agentRead(url);
    if (last.kind === "ok") {
      statisticsUrls.set(ep.base, url);
      return last;
    }
  }
  return last;
}
