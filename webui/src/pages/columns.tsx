/** Table columns shared by several pages (tasks, frameworks, agents, offers). */
import type { Column } from "../components/data-table";
import { Id } from "../components/id";
import { Ago } from "../components/time";
import { formatBytes, formatCpus, formatMegabytes, formatPercent, stateLabel } from "../lib/format";
import { href } from "../lib/router";
import type { Usage } from "../model/agent-state";
import {
  type AgentView,
  type ClusterView,
  type FrameworkView,
  type OfferView,
  sandboxRoute,
  type TaskView,
} from "../model/cluster";
import { maxShare, type Res } from "../model/resources";

/** The scalar resources the tables show, in Mesos' column order. */
export type ResourceName = "cpus" | "gpus" | "mem" | "disk";

const RESOURCE_TITLES: Record<ResourceName, string> = {
  cpus: "CPUs",
  gpus: "GPUs",
  mem: "Mem",
  disk: "Disk",
};

/** How a resource's amount reads: CPUs and GPUs as counts, memory and disk in MB. */
export const RESOURCE_FORMAT: Record<ResourceName, (n: number) => string> = {
  cpus: formatCpus,
  gpus: formatCpus,
  mem: formatMegabytes,
  disk: formatMegabytes,
};

/**
 * A numeric column of one resource, titled `CPUs<suffix>` and so on, sorted
 * on `value`; it shows the value formatted unless `render` says otherwise.
 */
export function resourceColumn<T>(
  name: ResourceName,
  value: (row: T) => number,
  options: { suffix?: string; key?: string; render?: (row: T) => string } = {},
): Column<T> {
  const fmt = RESOURCE_FORMAT[name];
  return {
    key: options.key ?? name,
    title: `${RESOURCE_TITLES[name]}${options.suffix ?? ""}`,
    numeric: true,
    value,
    render: options.render ?? ((r) => fmt(value(r))),
  };
}

/** "part / whole", with "–" for a part not known (yet). */
export function partOf(
  part: number | undefined,
  whole: number,
  fmt: (n: number) => string,
): string {
  return `${part === undefined ? "–" : fmt(part)} / ${fmt(whole)}`;
}

/** CPUs, GPUs, Mem and Disk columns of the resources `of` a row. */
export function resourceColumns<T>(of: (row: T) => Res, prefix = ""): Column<T>[] {
  return (["cpus", "gpus", "mem", "disk"] as const).map((name) =>
    resourceColumn<T>(name, (r) => of(r)[name], { key: `${prefix}${name}` }),
  );
}

/**
 * The "Allocated / Total" columns of a resource table: sorted on the total,
 * the allocated part "–" while it is not known.
 */
export function allocatedOfTotalColumns<T>(
  allocated: (row: T) => Res | undefined,
  total: (row: T) => Res,
  sortOn: (row: T) => Res = total,
): Column<T>[] {
  return (["cpus", "gpus", "mem", "disk"] as const).map((name) =>
    resourceColumn<T>(name, (r) => sortOn(r)[name], {
      suffix: " (Allocated / Total)",
      render: (r) => partOf(allocated(r)?.[name], total(r)[name], RESOURCE_FORMAT[name]),
    }),
  );
}

/**
 * The "Used / Allocated" columns of a framework or executor on an agent: the
 * live use from `/monitor/statistics` ("–" without it) over the allocation,
 * sorted on the allocation. GPUs have no live use: their allocation only.
 */
export function usedOfAllocatedColumns<T>(
  allocated: (row: T) => Res,
  usage: (row: T) => Usage | undefined,
): Column<T>[] {
  const suffix = " (Used / Allocated)";
  const inBytes = (name: "mem" | "disk", used: (u: Usage) => number | undefined): Column<T> =>
    resourceColumn<T>(name, (r) => allocated(r)[name], {
      suffix,
      render: (r) => {
        const u = usage(r);
        return partOf(
          u === undefined ? undefined : used(u),
          allocated(r)[name] * 2 ** 20,
          formatBytes,
        );
      },
    });
  return [
    resourceColumn<T>("cpus", (r) => allocated(r).cpus, {
      suffix,
      render: (r) => partOf(usage(r)?.cpus, allocated(r).cpus, formatCpus),
    }),
    resourceColumn<T>("gpus", (r) => allocated(r).gpus, { suffix: " (Allocated)" }),
    inBytes("mem", (u) => u.memRss),
    inBytes("disk", (u) => u.diskUsed),
  ];
}

/**
 * The Sandbox column of rows whose directory the agent names: a link that
 * browses it on that agent, blank for a row without one.
 */
export function agentSandboxColumn<T>(
  agentId: string,
  directory: (row: T) => string,
  ariaLabel?: (row: T) => string,
): Column<T> {
  return {
    key: "sandbox",
    title: "Sandbox",
    unsortable: true,
    value: () => "",
    render: (r) =>
      directory(r) === "" ? (
        ""
      ) : (
        <a
          href={href(["agents", agentId, "browse"], { path: directory(r) })}
          aria-label={ariaLabel?.(r)}
        >
          Sandbox
        </a>
      ),
  };
}

export function hostOf(cluster: ClusterView, agentId: string): string {
  return cluster.agentsById.get(agentId)?.hostname ?? "";
}

export function StateTag(props: { state: string }) {
  return <span class={`state ${props.state.toLowerCase()}`}>{stateLabel(props.state)}</span>;
}

/** Where a task runs in the agent's own view: the page of its executor on its agent. */
export function executorRoute(t: TaskView): string {
  // Command tasks run under an executor named after the task.
  const executor = t.executorId !== "" ? t.executorId : t.id;
  return href(["agents", t.agentId, "frameworks", t.frameworkId, "executors", executor]);
}

const OFFLINE = <span class="muted">Agent offline</span>;

export function HealthTag(props: { healthy: boolean | undefined }) {
  if (props.healthy === undefined) return <span class="muted">-</span>;
  return props.healthy ? (
    <span class="health healthy">healthy</span>
  ) : (
    <span class="health unhealthy">unhealthy</span>
  );
}

export interface TaskColumnOptions {
  /** Add the framework column (tables that mix frameworks). */
  framework: boolean;
  /**
   * Which list the table shows: `active` has Health, `completed` has
   * Stopped, `unreachable` names the agent by id (it may be gone), `all`
   * (an agent's tasks) has both Health and Stopped.
   */
  kind: "active" | "completed" | "unreachable" | "all";
}

/** Columns of a task table, those of Mesos' task tables plus the resources. */
export function taskColumns(cluster: ClusterView, options: TaskColumnOptions): Column<TaskView>[] {
  const known = (t: TaskView): boolean => cluster.agentsById.has(t.agentId);
  const { kind } = options;
  const columns: Column<TaskView>[] = [];
  if (options.framework) {
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
      key: "id",
      title: "ID",
      value: (t) => t.id,
      render: (t) =>
        kind !== "unreachable" && known(t) ? (
          <Id value={t.id} href={executorRoute(t)} />
        ) : (
          <Id value={t.id} />
        ),
    },
    { key: "name", title: "Name", value: (t) => t.name },
    { key: "role", title: "Role", value: (t) => t.role },
  );
  if (kind !== "unreachable") {
    columns.push({
      key: "state",
      title: "State",
      value: (t) => t.state,
      render: (t) => <StateTag state={t.state} />,
    });
  }
  if (kind === "active" || kind === "all") {
    columns.push({
      key: "health",
      title: "Health",
      value: (t) => (t.healthy === undefined ? "-" : t.healthy ? "healthy" : "unhealthy"),
      render: (t) => <HealthTag healthy={t.healthy} />,
    });
  }
  columns.push({
    key: "started",
    title: "Started",
    numeric: true,
    value: (t) => t.startedAt,
    render: (t) => <Ago seconds={t.startedAt} />,
  });
  if (kind === "completed" || kind === "all") {
    columns.push({
      key: "stopped",
      title: "Stopped",
      numeric: true,
      value: (t) => t.finishedAt,
      render: (t) => (t.finishedAt > 0 ? <Ago seconds={t.finishedAt} /> : ""),
    });
  }
  if (kind === "unreachable") {
    columns.push({
      key: "agent",
      title: "Agent ID",
      value: (t) => t.agentId,
      render: (t) => <Id value={t.agentId} />,
    });
  } else {
    columns.push({
      key: "host",
      title: "Host",
      value: (t) => hostOf(cluster, t.agentId),
      render: (t) =>
        known(t) ? <a href={href(["agents", t.agentId])}>{hostOf(cluster, t.agentId)}</a> : OFFLINE,
    });
  }
  columns.push(...resourceColumns<TaskView>((t) => t.resources));
  if (kind !== "unreachable") {
    columns.push({
      key: "sandbox",
      title: "Sandbox",
      unsortable: true,
      value: () => "",
      render: (t) =>
        known(t) ? (
          <a href={sandboxRoute(t)} aria-label={`Sandbox of task ${t.id}`}>
            Sandbox
          </a>
        ) : (
          OFFLINE
        ),
    });
  }
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
    {
      key: "host",
      title: "Host",
      value: (f) => f.hostname,
      // As in Mesos, the host links to the framework's own web UI when it has one.
      render: (f) =>
        f.webuiUrl !== "" && !completed ? (
          <a href={f.webuiUrl} rel="noreferrer">
            {f.hostname || f.webuiUrl}
          </a>
        ) : (
          f.hostname
        ),
    },
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

/** As Mesos words it: Active, else the drain state (Draining, Drained), else Deactivated. */
export function agentState(a: AgentView): string {
  if (a.deactivated) {
    if (a.drainState !== "") return a.drainState.charAt(0) + a.drainState.slice(1).toLowerCase();
    return "Deactivated";
  }
  return a.active ? "Active" : "Inactive";
}

export function agentColumns(): Column<AgentView>[] {
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
    ...allocatedOfTotalColumns<AgentView>(
      (a) => a.used,
      (a) => a.total,
      (a) => a.used,
    ),
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
