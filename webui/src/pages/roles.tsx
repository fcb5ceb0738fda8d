/**
 * Roles: weight, frameworks, allocated / offered / reserved resources and
 * quota, from `/master/roles`. Until the master serves it, the page derives
 * what it can from `/master/state` and says so.
 */
import { useMemo } from "preact/hooks";
import { describeFailure, getJson } from "../api/http";
import { type Column, DataTable } from "../components/data-table";
import { Loading, Unavailable } from "../components/notice";
import { useStore } from "../components/store-context";
import { formatCpus, formatMegabytes } from "../lib/format";
import { usePoll } from "../lib/use-poll";
import type { ClusterView } from "../model/cluster";
import { arr, num, obj, str } from "../model/json";
import { accumulate, fromSummary, type Res, ZERO } from "../model/resources";

interface RoleRow {
  name: string;
  weight: number | undefined;
  frameworks: number;
  allocated: Res;
  offered: Res;
  reserved: Res;
  guarantee: Res | undefined;
  limit: Res | undefined;
  consumed: Res | undefined;
}

function rolesFromEndpoint(value: unknown): RoleRow[] {
  return arr(obj(value).roles).map((item) => {
    const r = obj(item);
    const quota = obj(r.quota);
    const hasQuota = Object.keys(quota).length > 0;
    return {
      name: str(r.name),
      weight: num(r.weight, 1),
      frameworks: arr(r.frameworks).length,
      allocated: fromSummary(r.allocated ?? r.resources),
      offered: fromSummary(r.offered),
      reserved: fromSummary(r.reserved),
      guarantee: hasQuota ? fromSummary(quota.guarantee) : undefined,
      limit: hasQuota ? fromSummary(quota.limit) : undefined,
      consumed: hasQuota ? fromSummary(quota.consumed) : undefined,
    };
  });
}

/** Roles as far as `/master/state` shows them: from tasks, offers, reservations, subscriptions. */
export function rolesFromState(cluster: ClusterView): RoleRow[] {
  const rows = new Map<string, RoleRow>();
  const row = (name: string): RoleRow => {
    let r = rows.get(name);
    if (r === undefined) {
      r = {
        name,
        weight: undefined,
        frameworks: 0,
        allocated: { ...ZERO },
        offered: { ...ZERO },
        reserved: { ...ZERO },
        guarantee: undefined,
        limit: undefined,
        consumed: undefined,
      };
      rows.set(name, r);
    }
    return r;
  };
  for (const f of cluster.frameworks) for (const role of f.roles) row(role).frameworks += 1;
  for (const t of cluster.tasks)
    if (t.kind === "active") accumulate(row(t.role).allocated, t.resources);
  for (const o of cluster.offers) accumulate(row(o.role).offered, o.resources);
  for (const a of cluster.agents) {
    for (const [role, r] of Object.entries(a.reserved)) accumulate(row(role).reserved, r);
  }
  return [...rows.values()];
}

/** The non-zero scalars of `r` ("1 CPUs · 256 MB mem"), "–" when there are none (Mesos shows "-"). */
export function resourceText(r: Res | undefined): string {
  if (r === undefined) return "–";
  const parts: string[] = [];
  if (r.cpus > 0) parts.push(`${formatCpus(r.cpus)} CPUs`);
  if (r.gpus > 0) parts.push(`${formatCpus(r.gpus)} GPUs`);
  if (r.mem > 0) parts.push(`${formatMegabytes(r.mem)} mem`);
  if (r.disk > 0) parts.push(`${formatMegabytes(r.disk)} disk`);
  return parts.length === 0 ? "–" : parts.join(" · ");
}

const res = (title: string, key: string, of: (r: RoleRow) => Res | undefined): Column<RoleRow> => ({
  key,
  title,
  value: (r) => of(r)?.cpus ?? -1,
  numeric: true,
  render: (r) => {
    const text = resourceText(of(r));
    return text === "–" ? <span class="muted">–</span> : text;
  },
});

const COLUMNS: Column<RoleRow>[] = [
  { key: "name", title: "Role", value: (r) => r.name },
  {
    key: "weight",
    title: "Weight",
    numeric: true,
    value: (r) => r.weight ?? -1,
    render: (r) => (r.weight === undefined ? "–" : String(r.weight)),
  },
  { key: "frameworks", title: "Frameworks", numeric: true, value: (r) => r.frameworks },
  res("Allocated", "allocated", (r) => r.allocated),
  res("Offered", "offered", (r) => r.offered),
  res("Reserved", "reserved", (r) => r.reserved),
  res("Quota guarantee", "guarantee", (r) => r.guarantee),
  res("Quota limit", "limit", (r) => r.limit),
  res("Quota consumed", "consumed", (r) => r.consumed),
];

export function Roles() {
  const cluster = useStore().cluster;
  const roles = usePoll(() => getJson("/master/roles"), 10_000, []);
  const derived = useMemo(() => (cluster === undefined ? [] : rolesFromState(cluster)), [cluster]);
  if (roles === undefined) return <Loading what="roles" />;
  return (
    <div class="page">
      <h1>Roles</h1>
      {roles.kind === "ok" ? (
        <DataTable<RoleRow>
          label="Roles"
          rows={rolesFromEndpoint(roles.value)}
          columns={COLUMNS}
          rowKey={(r) => r.name}
          defaultSort={{ key: "name" }}
          empty="No role is known."
        />
      ) : (
        <>
          <Unavailable
            what="/master/roles"
            detail={`${describeFailure(roles)}; below, roles as /master/state shows them (no weights, no quota)`}
          />
          <DataTable<RoleRow>
            label="Roles"
            rows={derived}
            columns={COLUMNS}
            rowKey={(r) => r.name}
            defaultSort={{ key: "name" }}
            empty="No role is in use."
          />
        </>
      )}
    </div>
  );
}
