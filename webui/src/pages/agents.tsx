/** All agents the master knows. */
import { useMemo } from "preact/hooks";
import { DataTable } from "../components/data-table";
import { Loading } from "../components/notice";
import { useStore } from "../components/store-context";
import type { AgentView } from "../model/cluster";
import { agentColumns } from "./columns";

export function Agents() {
  const cluster = useStore().cluster;
  const columns = useMemo(() => agentColumns(), []);
  if (cluster === undefined) return <Loading what="agents" />;
  return (
    <div class="page">
      <h1>Agents</h1>
      <p class="muted">
        {cluster.activatedAgents.toLocaleString()} activated,{" "}
        {cluster.deactivatedAgents.toLocaleString()} deactivated,{" "}
        {cluster.unreachableAgents.toLocaleString()} unreachable.
      </p>
      <DataTable<AgentView>
        label="Agents"
        rows={cluster.agents}
        columns={columns}
        rowKey={(a) => a.id}
        defaultSort={{ key: "host" }}
        empty="No agent is registered."
      />
    </div>
  );
}
