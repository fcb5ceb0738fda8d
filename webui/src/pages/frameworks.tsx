/** Frameworks: active, inactive (disconnected, in failover) and completed (terminated). */
import { useMemo } from "preact/hooks";
import { DataTable } from "../components/data-table";
import { Loading } from "../components/notice";
import { useStore } from "../components/store-context";
import type { FrameworkView } from "../model/cluster";
import { frameworkColumns } from "./columns";

export function Frameworks() {
  const cluster = useStore().cluster;
  const data = useMemo(() => {
    if (cluster === undefined) return undefined;
    return {
      active: cluster.frameworks.filter((f) => f.active),
      inactive: cluster.frameworks.filter((f) => !f.active),
      columns: frameworkColumns(cluster, false),
      completedColumns: frameworkColumns(cluster, true),
    };
  }, [cluster]);
  if (cluster === undefined || data === undefined) return <Loading what="frameworks" />;
  return (
    <div class="page">
      <h1>Frameworks</h1>
      <section aria-labelledby="fa-h">
        <h2 id="fa-h">Active</h2>
        <DataTable<FrameworkView>
          label="Active frameworks"
          rows={data.active}
          columns={data.columns}
          rowKey={(f) => f.id}
          defaultSort={{ key: "registered", descending: true }}
          empty="No framework is active."
        />
      </section>
      <section aria-labelledby="fi-h">
        <h2 id="fi-h">Inactive</h2>
        <DataTable<FrameworkView>
          label="Inactive frameworks"
          rows={data.inactive}
          columns={data.columns}
          rowKey={(f) => f.id}
          empty="No framework is disconnected or failing over."
          noFilter
        />
      </section>
      <section aria-labelledby="fc-h">
        <h2 id="fc-h">Completed</h2>
        <DataTable<FrameworkView>
          label="Completed frameworks"
          rows={cluster.completedFrameworks}
          columns={data.completedColumns}
          rowKey={(f) => f.id}
          defaultSort={{ key: "unregistered", descending: true }}
          empty="No framework has terminated."
        />
      </section>
    </div>
  );
}
