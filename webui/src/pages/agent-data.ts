/** Hooks reading an agent's `/state` and `/monitor/statistics` for the agent pages. */
import { useMemo, useRef } from "preact/hooks";
import {
  type AgentEndpoint,
  agentEndpoint,
  agentRead,
  agentStateUrl,
  agentStatistics,
} from "../api/agent-client";
import type { Fetched } from "../api/http";
import { useStore } from "../components/store-context";
import { usePoll } from "../lib/use-poll";
import {
  type AgentStateView,
  agentStateFrom,
  type Usage,
  type UsageSample,
  usageFrom,
} from "../model/agent-state";
import type { AgentView } from "../model/cluster";

export interface AgentData {
  /** Undefined while the master's state is loading. */
  agent: AgentView | undefined;
  loading: boolean;
  ep: AgentEndpoint | undefined;
  /** The agent's `/state`: undefined until the first answer. */
  state: Fetched<AgentStateView> | undefined;
  /** The agent's `/monitor/statistics`: undefined until the first answer. */
  statistics: Fetched<unknown> | undefined;
  /** Usage per `<framework>/<executor>`. */
  usage: Map<string, Usage>;
}

export function useAgentData(agentId: string): AgentData {
  const cluster = useStore().cluster;
  const agent = cluster?.agentsById.get(agentId);
  const ep = agent === undefined ? undefined : agentEndpoint(agent);
  const raw = usePoll(ep === undefined ? undefined : () => agentRead(agentStateUrl(ep)), 10_000, [
    ep?.base,
  ]);
  const state = useMemo<Fetched<AgentStateView> | undefined>(
    () => (raw?.kind === "ok" ? { kind: "ok", value: agentStateFrom(raw.value) } : raw),
    [raw],
  );
  const statistics = usePoll(ep === undefined ? undefined : () => agentStatistics(ep), 5000, [
    ep?.base,
  ]);
  const previous = useRef(new Map<string, UsageSample>());
  const usage = useMemo(
    () => (statistics?.kind === "ok" ? usageFrom(statistics.value, previous.current) : new Map()),
    [statistics],
  );
  return { agent, loading: cluster === undefined, ep, state, statistics, usage };
}
