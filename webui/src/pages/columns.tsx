/** Table columns shared by several pages (tasks, frameworks, agents, offers). */
import type { Column } from "../components/data-table";
import { Id } from "../components/id";
import { Ago } from "../components/time";
import { formatCpus, formatMegabytes, formatPercent, stateLabel } from "../lib/format";
import { href } from "../lib/router";
import {
  type AgentView,
  type ClusterView,
  type FrameworkView,
  type OfferView,
  sandboxRoute,
  type TaskView,
} from "../model/cluster";
import { maxShare, type Res } from "../model/resources";

export function resourceColumns<T>(of: (row: T) => Res, prefix = ""): Column<T>[] {
  return [
    {
      key: `${prefix}cpus`,
      title: "CPUs",
      numeric: true,
      value: (r) => of(r).cpus,
      render: (r) => formatCpus(of(r).cpus),
    },
    {
      key: `${prefix}gpus`,
      title: "GPUs",
      numeric: true,
      value: (r) => of(r).gpus,
      render: (r) => formatCpus(of(r).gpus),
    },
    {
      key: `${prefix}mem`,
      title: "Mem",
      numeric: true,
      value: (r) => of(r).mem,
      render: (r) => formatMegabytes(of(r).mem),
    },
    {
      key: `${prefix}disk`,
      title: "Disk",
      numeric: true,
      value: (r) => of(r).disk,
      render: (r) => formatMegabytes(of(r).disk),
    },
  ];
}

export function hostOf(cluster: ClusterView, agentId: string): string {
  return cluster.agentsById.get(agentId)?.hostname ?? "";
}

export function StateTag(props: { state: string }) {
  return <span class={`state ${props.state.toLowerCase()}`}>{stateLabel(props.state)}</span>;
}

/** Columns of a task table; `withFramework` adds the framework column. */
export function taskColumns(cluster: ClusterView, withFramework: boolean): Column<TaskView>[] {
  const columns: Column<TaskView>[] = [
    { key: "id", title: "ID", value: (t) => t.id, render: (t) => <Id value={t.id} /> },
    { key: "name", title: "Name", value: (t) => t.name },
    {
      key: "state",
      title: "State",
      value: (t) => t.state,
      render: (t) => <StateTag state={t.state} />,
    },
  ];
  if (withFramework) {
    columns.push({
      key: "framework",
      title: "Framework",
      value: (t) => cluster.frameworksById.get(t.frameworkId)?.name ?? t.frameworkId,
      render: (t) => (
        <a href={href(["frameworks", t.frameworkId])} title={t.frameworkId}>
          {cluster.frameworksById.get(t.frameworkId)?.name || t.frameworkId}
        </a>
      ),
    });
  }
  columns.push(
    {
      key: "host",
      title: "Host",
      value: (t) => hostOf(cluster, t.agentId),
      render: (t) => (
        <a href={href(["agents", t.agentId])}>{hostOf(cluster, t.agentId) || t.agentId}</a>
      ),
    },
    {
      key: "started",
      title: "Started",
      numeric: true,
      value: (t) => t.startedAt,
      render: (t) => <Ago seconds={t.startedAt} />,
    },
    {
      key: "updated",
      title: "Updated",
      numeric: true,
      value: (t) => t.updatedAt,
      render: (t) => <Ago seconds={t.updatedAt} />,
    },
    ...resourceColumns<TaskView>((t) => t.resources),
    {
      key: "sandbox",
      title: "Sandbox",
      unsortable: true,
      value: () => "",
      render: (t) => (
        <a href={sandboxRoute(t)} aria-label={`Sandbox of task ${t.id}`}>
          Sandbox
        </a>
      ),
    },
  );
  return columns;
}

export function frameworkColumns(
  cluster: ClusterView,
  completed: boolean,
): Column<FrameworkView>[] {
  const total = cluster.totals.total;
  const columns: Column<FrameworkView>[] = [
    {
      key: "id",
      title: "ID",
      value: (f) => f.id,
      render: (f) => <Id value={f.id} href={href(["frameworks", f.id])} />,
    },
    { key: "host", title: "Host", value: (f) => f.hostname },
    { key: "user", title: "User", value: (f) => f.user },
    {
      key: "name",
      title: "Name",
      value: (f) => f.name,
      render: (f) => <a href={href(["frameworks", f.id])}>{f.name || "(unnamed)"}</a>,
    },
    { key: "roles", title: "Roles", value: (f) => f.roles.join(", ") },
    { key: "principal", title: "Principal", value: (f) => f.principal },
  ];
  if (!completed) {
    columns.push(
      { key: "tasks", title: "Active tasks", numeric: true, value: (f) => f.tasks.length },
      ...resourceColumns<FrameworkView>((f) => f.used),
      {
        key: "share",
        title: "Max share",
        numeric: true,
        value: (f) => maxShare(f.used, total),
        render: (f) => formatPercent(maxShare(f.used, total)),
      },
    );
  }
  columns.push(
    {
      key: "registered",
      title: "Registered",
      numeric: true,
      value: (f) => f.registeredTime,
      render: (f) => <Ago seconds={f.registeredTime} />,
    },
    completed
      ? {
          key: "unregistered",
          title: "Unregistered",
          numeric: true,
          value: (f) => f.unregisteredTime,
          render: (f) => <Ago seconds={f.unregisteredTime} />,
        }
      : {
          key: "reregistered",
          title: "Re-registered",
          numeric: true,
          value: (f) => f.reregisteredTime,
          render: (f) => <Ago seconds={f.reregisteredTime} />,
        },
  );
  return columns;
}

export function agentState(a: AgentView): string {
  if (a.deactivated) return "Deactivated";
  return a.active ? "Active" : "Inactive";
}

export function agentColumns(): Column<AgentView>[] {
  const pair = (
    key: "cpus" | "gpus" | "mem" | "disk",
    title: string,
    fmt: (n: number) => string,
  ): Column<AgentView> => ({
    key,
    title: `${title} (used / total)`,
    numeric: true,
    value: (a) => a.used[key],
    render: (a) => `${fmt(a.used[key])} / ${fmt(a.total[key])}`,
  });
  return [
    {
      key: "id",
      title: "ID",
      value: (a) => a.id,
      render: (a) => <Id value={a.id} href={href(["agents", a.id])} />,
    },
    {
      key: "host",
      title: "Host",
      value: (a) => a.hostname,
      render: (a) => <a href={href(["agents", a.id])}>{a.hostname}</a>,
    },
    { key: "state", title: "State", value: agentState },
    pair("cpus", "CPUs", formatCpus),
    pair("gpus", "GPUs", formatCpus),
    pair("mem", "Mem", formatMegabytes),
    pair("disk", "Disk", formatMegabytes),
    { key: "version", title: "Version", value: (a) => a.version },
    {
      key: "registered",
      title: "Registered",
      numeric: true,
      value: (a) => a.registeredTime,
      render: (a) => <Ago seconds={a.registeredTime} />,
    },
    {
      key: "reregistered",
      title: "Re-registered",
      numeric: true,
      value: (a) => a.reregisteredTime,
      render: (a) => <Ago seconds={a.reregisteredTime} />,
    },
  ];
}

export function offerColumns(cluster: ClusterView): Column<OfferView>[] {
  return [
    { key: "id", title: "ID", value: (o) => o.id, render: (o) => <Id value={o.id} /> },
    { key: "role", title: "Role", value: (o) => o.role },
    {
      key: "framework",
      title: "Framework",
      value: (o) => cluster.frameworksById.get(o.frameworkId)?.name ?? o.frameworkId,
      render: (o) => (
        <a href={href(["frameworks", o.frameworkId])} title={o.frameworkId}>
          {cluster.frameworksById.get(o.frameworkId)?.name || o.frameworkId}
        </a>
      ),
    },
    {
      key: "host",
      title: "Host",
      value: (o) => hostOf(cluster, o.agentId),
      render: (o) => (
        <a href={href(["agents", o.agentId])}>{hostOf(cluster, o.agentId) || o.agentId}</a>
      ),
    },
    ...resourceColumns<OfferView>((o) => o.resources),
  ];
}
