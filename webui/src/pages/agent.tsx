/**
 * One agent: what the master knows (resources, attributes, tasks) and, read
 * from the agent itself, its frameworks and executors with sandbox links,
 * reservations with what is allocated from them, and live usage from
 * `/monitor/statistics`.
 */
import { useMemo } from "preact/hooks";
import { agentFiles } from "../api/files";
import { describeFailure } from "../api/http";
import { countByState, TaskCounts } from "../components/counts";
import { type Column, DataTable, TableSection } from "../components/data-table";
import { Id } from "../components/id";
import { Failed, Loading, Unavailable } from "../components/notice";
import { ResourceTable } from "../components/resource-table";
import { useStore } from "../components/store-context";
import { Ago } from "../components/time";
import { formatBytes, formatCpus, formatPercent } from "../lib/format";
import { href } from "../lib/router";
import type { AgentFrameworkView, AgentStateView, Usage } from "../model/agent-state";
import { frameworkUsage } from "../model/agent-state";
import type { TaskView } from "../model/cluster";
import { type Res, subtract, ZERO } from "../model/resources";
import { useAgentData } from "./agent-data";
import {
  agentSandboxColumn,
  agentState,
  allocatedOfTotalColumns,
  taskColumns,
  usedOfAllocatedColumns,
} from "./columns";

interface ExecutorRow {
  frameworkId: string;
  frameworkName: string;
  id: string;
  name: string;
  directory: string;
  resources: Res;
  tasks: number;
  completed: boolean;
}

interface ReservationRow {
  role: string;
  allocated: Res | undefined;
  total: Res;
}

function executorRows(state: AgentStateView): ExecutorRow[] {
  const rows: ExecutorRow[] = [];
  for (const f of [...state.frameworks, ...state.completedFrameworks]) {
    for (const e of [...f.executors, ...f.completedExecutors]) {
      rows.push({
        frameworkId: f.id,
        frameworkName: f.name,
        id: e.id,
        name: e.name,
        directory: e.directory,
        resources: e.resources,
        tasks: e.tasks.length + e.queuedTasks.length,
        completed: e.completed,
      });
    }
  }
  return rows;
}

/** Live use summed over the agent's executors, in the units of `Res` (MB for memory). */
function liveUse(usage: Map<string, Usage>): Res | undefined {
  if (usage.size === 0) return undefined;
  const out: Res = { ...ZERO };
  for (const u of usage.values()) {
    out.cpus += u.cpus ?? 0;
    out.mem += u.memRss / 2 ** 20;
    out.disk += (u.diskUsed ?? 0) / 2 ** 20;
  }
  return out;
}

function frameworkColumns(
  agentId: string,
  usage: Map<string, Usage>,
): Column<AgentFrameworkView>[] {
  return [
    {
      key: "id",
      title: "ID",
      value: (f) => f.id,
      render: (f) => <Id value={f.id} href={href(["agents", agentId, "frameworks", f.id])} />,
    },
    { key: "user", title: "User", value: (f) => f.user },
    { key: "name", title: "Name", value: (f) => f.name },
    { key: "roles", title: "Roles", value: (f) => f.roles.join(", ") },
    { key: "tasks", title: "Active tasks", numeric: true, value: (f) => f.activeTasks },
    ...usedOfAllocatedColumns<AgentFrameworkView>(
      (f) => f.allocated,
      (f) => frameworkUsage(usage, f.id),
    ),
  ];
}

const RESERVATION_COLUMNS: Column<ReservationRow>[] = [
  {
    key: "role",
    title: "Reservation role",
    value: (r) => r.role,
    render: (r) => (r.role === "" ? <em>Unreserved</em> : r.role),
  },
  ...allocatedOfTotalColumns<ReservationRow>(
    (r) => r.allocated,
    (r) => r.total,
  ),
];

export function Agent(props: { id: string }) {
  const cluster = useStore().cluster;
  const { agent, ep, state, statistics, usage } = useAgentData(props.id);
  const tasks = useMemo(() => cluster?.tasksByAgent.get(props.id) ?? [], [cluster, props.id]);
  const counts = useMemo(() => countByState(tasks), [tasks]);
  const columns = useMemo(
    () => (cluster === undefined ? [] : taskColumns(cluster, { framework: true, kind: "all" })),
    [cluster],
  );
  const own = state?.kind === "ok" ? state.value : undefined;
  const executorColumns = useMemo<Column<ExecutorRow>[]>(() => {
    const use = (e: ExecutorRow): Usage | undefined => usage.get(`${e.frameworkId}/${e.id}`);
    return [
      {
        key: "id",
        title: "ID",
        value: (e) => e.id,
        render: (e) => (
          <Id
            value={e.id}
            href={href(["agents", props.id, "frameworks", e.frameworkId, "executors", e.id])}
          />
        ),
      },
      { key: "name", title: "Name", value: (e) => e.name },
      {
        key: "framework",
        title: "Framework",
        value: (e) => e.frameworkName,
        render: (e) => (
          <a href={href(["frameworks", e.frameworkId])}>{e.frameworkName || e.frameworkId}</a>
        ),
      },
      { key: "state", title: "State", value: (e) => (e.completed ? "completed" : "running") },
      { key: "tasks", title: "Tasks", numeric: true, value: (e) => e.tasks },
      {
        key: "cpu",
        title: "CPUs (Used / Allocated)",
        numeric: true,
        value: (e) => use(e)?.cpus ?? -1,
        render: (e) => {
          const u = use(e);
          if (u === undefined) return <span class="muted">–</span>;
          const used = u.cpus === undefined ? "…" : formatCpus(u.cpus);
          return `${used} / ${formatCpus(u.cpusLimit || e.resources.cpus)}`;
        },
      },
      {
        key: "mem",
        title: "Mem (Used / Allocated)",
        numeric: true,
        value: (e) => use(e)?.memRss ?? -1,
        render: (e) => {
          const u = use(e);
          if (u === undefined) return <span class="muted">–</span>;
          const share = u.memLimit > 0 ? ` (${formatPercent(u.memRss / u.memLimit)})` : "";
          return `${formatBytes(u.memRss)} / ${formatBytes(u.memLimit || e.resources.mem * 2 ** 20)}${share}`;
        },
      },
      agentSandboxColumn<ExecutorRow>(props.id, (e) => e.directory),
    ];
  }, [usage, props.id]);
  const frameworkCols = useMemo(() => frameworkColumns(props.id, usage), [props.id, usage]);

  if (cluster === undefined) return <Loading what="the agent" />;
  if (agent === undefined || ep === undefined) {
    return (
      <Failed
        what="Finding the agent"
        detail={`no agent with id '${props.id}' is known to the master.`}
      />
    );
  }
  const attributes = Object.entries(agent.attributes);
  // The frameworks on the agent come from its own /state.
  const frameworksPending = () =>
    own !== undefined ? undefined : state === undefined ? (
      <Loading what="frameworks from the agent" />
    ) : (
      <p class="muted">Needs the agent's /state (see Executors below).</p>
    );
  const used = liveUse(usage);
  // Reservations with what is allocated from each: the agent's /state knows, the master's does not.
  const reservations: ReservationRow[] = [
    { role: "", allocated: own?.unreservedAllocated, total: agent.unreserved },
    ...Object.entries(agent.reserved).map(([role, total]) => ({
      role,
      total,
      allocated: own === undefined ? undefined : (own.reservedAllocated[role] ?? ZERO),
    })),
  ];
  return (
    <div class="page agent">
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href="#/agents">Agents</a> / <span>{agent.hostname}</span>
      </nav>
      <h1>
        Agent {agent.hostname} <Id value={agent.id} />
      </h1>
      <div class="grid">
        <section class="card" aria-label="Agent facts">
          <dl class="facts">
            <dt>Cluster</dt>
            <dd>{cluster.master.cluster || <span class="muted">(unnamed)</span>}</dd>
            <dt>Host</dt>
            <dd>{agent.hostname}</dd>
            <dt>Address</dt>
            <dd>
              <code>{agent.pid}</code>
            </dd>
            <dt>State</dt>
            <dd>{agentState(agent)}</dd>
            <dt>Version</dt>
            <dd>{agent.version}</dd>
            <dt>Built</dt>
            <dd>
              {own !== undefined && own.buildTime > 0 ? (
                <>
                  <Ago seconds={own.buildTime} />
                  {own.buildUser !== "" ? ` by ${own.buildUser}` : ""}
                </>
              ) : (
                <span class="muted">–</span>
              )}
            </dd>
            <dt>Started</dt>
            <dd>
              {own !== undefined ? <Ago seconds={own.startTime} /> : <span class="muted">–</span>}
            </dd>
            <dt>Registered</dt>
            <dd>
              <Ago seconds={agent.registeredTime} />
            </dd>
            <dt>Re-registered</dt>
            <dd>
              <Ago seconds={agent.reregisteredTime} />
            </dd>
            <dt>Master</dt>
            <dd>{own?.masterHostname ?? <span class="muted">–</span>}</dd>
            <dt>Capabilities</dt>
            <dd>{agent.capabilities.join(", ") || <span class="muted">none</span>}</dd>
          </dl>
          {agent.drainState !== "" ? (
            <>
              <h2>Draining</h2>
              <dl class="facts" data-draining="">
                <dt>Mark gone</dt>
                <dd>{agent.drainMarkGone ? "yes" : "no"}</dd>
                {agent.drainEnd > 0 ? (
                  <>
                    <dt>Estimated drain end</dt>
                    <dd>
                      <Ago seconds={agent.drainEnd} />
                    </dd>
                  </>
                ) : null}
              </dl>
            </>
          ) : null}
          {own === undefined ? null : own.logFile ? (
            <p data-log="">
              <a class="button" href={href(["agents", agent.id, "log"])}>
                LOG
              </a>{" "}
              <a class="button" href={agentFiles(ep).downloadUrl("/slave/log")} download>
                Download
              </a>{" "}
              <span class="muted">the agent's log</span>
            </p>
          ) : (
            <p class="muted" data-log="none">
              No log file (the agent runs without --log_dir).
            </p>
          )}
        </section>
        <section class="card" aria-label="Agent tasks">
          <h2>Tasks</h2>
          <TaskCounts label="Agent tasks" counts={counts} />
        </section>
        <section class="card" aria-label="Attributes">
          <h2>Attributes</h2>
          {attributes.length === 0 ? (
            <p class="muted">No attributes.</p>
          ) : (
            <dl class="facts">
              {attributes.map(([k, v]) => (
                <div key={k}>
                  <dt>{k}</dt>
                  <dd>{String(v)}</dd>
                </div>
              ))}
            </dl>
          )}
        </section>
      </div>
      <section aria-labelledby="ar-h">
        <h2 id="ar-h">Resources</h2>
        <ResourceTable
          label="Agent resources"
          ports
          rows={[
            ...(used !== undefined ? [["Used", used] as const] : []),
            ["Allocated", agent.used],
            ["Offered", agent.offered],
            ["Available", subtract(agent.total, agent.used)],
            ["Total", agent.total],
          ]}
        />
      </section>
      <TableSection<ReservationRow>
        headingId="arr-h"
        label="Resource reservations"
        rows={reservations}
        columns={RESERVATION_COLUMNS}
        rowKey={(r) => r.role}
        noFilter
      />
      <TableSection<AgentFrameworkView>
        headingId="af-h"
        title="Frameworks"
        label="Frameworks on this agent"
        rows={own?.frameworks ?? []}
        columns={frameworkCols}
        rowKey={(f) => f.id}
        empty="No framework runs on this agent."
        noFilter
        instead={frameworksPending()}
      />
      <TableSection<AgentFrameworkView>
        headingId="acf-h"
        title="Completed frameworks"
        label="Completed frameworks on this agent"
        rows={own?.completedFrameworks ?? []}
        columns={frameworkCols}
        rowKey={(f) => f.id}
        empty="No framework has completed on this agent."
        noFilter
        instead={frameworksPending()}
      />
      <section aria-labelledby="ae-h">
        <h2 id="ae-h">Executors</h2>
        {state === undefined ? (
          <Loading what={`executors from the agent (${ep.base.slice(2)})`} />
        ) : state.kind === "ok" ? (
          <DataTable<ExecutorRow>
            label="Executors"
            rows={executorRows(state.value)}
            columns={executorColumns}
            rowKey={(e) => `${e.frameworkId}/${e.id}/${e.completed}`}
            empty="No executor on this agent."
          />
        ) : (
          <Unavailable
            what={`The agent's /state (${ep.base.slice(2)})`}
            detail={describeFailure(state)}
          />
        )}
        {statistics !== undefined && statistics.kind !== "ok" ? (
          <Unavailable
            what="Live usage (/monitor/statistics)"
            detail={describeFailure(statistics)}
          />
        ) : null}
      </section>
      <TableSection<TaskView>
        headingId="at-h"
        title="Tasks"
        label="Tasks on this agent"
        rows={tasks}
        columns={columns}
        rowKey={(t) => `${t.frameworkId}/${t.id}`}
        defaultSort={{ key: "started", descending: true }}
        empty="No task on this agent."
      />
    </div>
  );
}
