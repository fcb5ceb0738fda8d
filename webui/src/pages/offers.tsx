/** Outstanding offers, from the frameworks in `/master/state`. */
import { useMemo } from "preact/hooks";
import { DataTable } from "../components/data-table";
import { Loading } from "../components/notice";
import { useStore } from "../components/store-context";
import { offerColumns } from "./columns";

export function Offers() {
  const cluster = useStore().cluster;
  const columns = useMemo(() => (cluster === undefined ? [] : offerColumns(cluster)), [cluster]);
  if (cluster === undefined) return <Loading what="offers" />;
  return (
    <div class="page">
      <h1>Offers</h1>
      <DataTable
        label="Offers"
        rows={cluster.offers}
        columns={columns}
        rowKey={(o) => o.id}
        defaultSort={{ key: "host" }}
        empty="No offer is outstanding."
      />
    </div>
  );
}
