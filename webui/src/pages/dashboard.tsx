/** The dashboard: the master, agent and task counts, resources, frameworks, offers, tasks. */
import { useMemo } from "preact/hooks";
import { Counts, TaskCounts } from "../components/counts";
import { TableSection } from "../components/data-table";
import { Id } from "../components/id";
import { Loading } from "../components/notice";
import { ResourceTable } from "../components/resource-table";
import { useStore } from "../components/store-context";
import { Ago } from "../components/time";
import type { ClusterView, FrameworkView, TaskView } from "../model/cluster";
import type { Res } from "../model/resources";
import { frameworkColumns, offerColumns, taskColumns } from "./columns";

function leaderText(cluster: ClusterView): string {
  const m = cluster.master;
  if (m.leaderHostname !== "") return `${m.leaderHostname}:${m.leaderPort}`;
  return m.leader || "–";
}

function ResourceSummary(props: { cluster: ClusterView }) {
  const t = props.cluster.totals;
  const rows: [string, Res][] = [
    ["Total", t.total],
    ["Allocated", t.used],
    ["Offered", t.offered],
    ["Idle", t.idle],
  ];
  return <ResourceTable rows={rows} label="Resources" marked />;
}

export function Dashboard() {
  const store = useStore();
  const cluster = store.cluster;
  const tables = useMemo(() => {
    if (cluster === undefined) return undefined;
    const active: TaskView[] = [];
    const unreachable: TaskView[] = [];
    const ended: TaskView[] = [];
    for (const t of cluster.tasks) {
      (t.kind === "completed" ? ended : t.kind === "unreachable" ? unreachable : active).push(t);
    }
    return {
      activeTasks: active,
      unreachableTasks: unreachable,
      endedTasks: ended,
      taskColumns: taskColumns(cluster, { framework: true, kind: "active" }),
      unreachableColumns: taskColumns(cluster, { framework: true, kind: "unreachable" }),
      completedTaskColumns: taskColumns(cluster, { framework: true, kind: "completed" }),
      frameworkColumns: frameworkColumns(cluster, false),
      completedColumns: frameworkColumns(cluster, true),
      offerColumns: offerColumns(cluster),
    };
  }, [cluster]);
  if (cluster === undefined || tables === undefined) return <Loading what="the cluster state" />;
  const m = cluster.master;
  // The quick first view (state summary) has counts but no task or offer lists yet.
  const listsPending = () =>
    cluster.partial === true ? <Loading what="tasks and offers" /> : undefined;
  return (
    <div class="page dashboard">
      <h1>Dashboard</h1>
      <div class="grid">
        <section aria-labelledby="master-h" class="card">
          <h2 id="master-h">Master</h2>
          <dl class="facts">
            <dt>Cluster</dt>
            <dd>{m.cluster || <span class="muted">(unnamed)</span>}</dd>
            <dt>Leader</dt>
            <dd data-leader="">
              {m.leaderHostname !== "" ? (
                <a href={`//${m.leaderHostname}:${m.leaderPort}`}>{leaderText(cluster)}</a>
              ) : (
                leaderText(cluster)
              )}
            </dd>
            <dt>Version</dt>
            <dd>{m.version}</dd>
            <dt>Built</dt>
            <dd>
              {m.buildDate}
              {m.buildUser !== "" ? ` by ${m.buildUser}` : ""}
            </dd>
            <dt>Started</dt>
            <dd>
              <Ago seconds={m.startTime} />
            </dd>
            <dt>Elected</dt>
            <dd>
              <Ago seconds={m.electedTime} />
            </dd>
            <dt>Master id</dt>
            <dd>
              <Id value={m.id} />
            </dd>
          </dl>
          {/* As in Mesos, the log is offered only when the master writes one. */}
          {m.logDir !== "" || m.externalLogFile !== "" ? (
            <p data-log="">
              <a href="#/log" class="button">
                LOG
              </a>{" "}
              <a href="/files/download?path=%2Fmaster%2Flog" class="button" download>
                Download
              </a>{" "}
              <span class="muted">the master's log: follow it here, or save the whole file</span>
            </p>
          ) : cluster.partial === true ? null : (
            <p class="muted" data-log="none">
              No log file (the master runs without --log_dir).
            </p>
          )}
        </section>
        <section aria-labelledby="agents-h" class="card">
          <h2 id="agents-h">Agents</h2>
          <Counts
            label="Agents"
            items={[
              ["Activated", cluster.activatedAgents],
              ["Deactivated", cluster.deactivatedAgents],
              ["Unreachable", cluster.unreachableAgents],
            ]}
          />
          <h2>Tasks</h2>
          <TaskCounts counts={cluster.taskCounts} />
        </section>
        <section aria-labelledby="res-h" class="card">
          <h2 id="res-h">Resources</h2>
          <ResourceSummary cluster={cluster} />
          <p>
            {cluster.partial === true ? (
              <span class="muted">offers: loading…</span>
            ) : (
              <a href="#/offers">
                {cluster.offers.length.toLocaleString()} outstanding{" "}
                {cluster.offers.length === 1 ? "offer" : "offers"}
              </a>
            )}
          </p>
        </section>
      </div>
      <TableSection<FrameworkView>
        headingId="af-h"
        label="Active frameworks"
        rows={cluster.frameworks}
        columns={tables.frameworkColumns}
        rowKey={(f) => f.id}
        defaultSort={{ key: "registered", descending: true }}
        empty="No framework is registered."
        noFilter
      />
      <TableSection<TaskView>
        headingId="at-h"
        label="Active tasks"
        rows={tables.activeTasks}
        columns={tables.taskColumns}
        rowKey={(t) => `${t.frameworkId}/${t.id}`}
        defaultSort={{ key: "started", descending: true }}
        empty="No task is running."
        instead={listsPending()}
      />
      <TableSection<TaskView>
        headingId="ut-h"
        label="Unreachable tasks"
        rows={tables.unreachableTasks}
        columns={tables.unreachableColumns}
        rowKey={(t) => `${t.frameworkId}/${t.id}`}
        defaultSort={{ key: "started", descending: true }}
        empty="No task is unreachable."
        noFilter
        instead={listsPending()}
      />
      <TableSection
        headingId="of-h"
        label="Outstanding offers"
        rows={cluster.offers}
        columns={tables.offerColumns}
        rowKey={(o) => o.id}
        empty="No offer is outstanding."
        noFilter
        instead={listsPending()}
      />
      <TableSection<TaskView>
        headingId="ct-h"
        label="Completed tasks"
        rows={tables.endedTasks}
        columns={tables.completedTaskColumns}
        rowKey={(t) => `${t.frameworkId}/${t.id}`}
        defaultSort={{ key: "stopped", descending: true }}
        empty="No task has ended."
        instead={listsPending()}
      />
      <TableSection<FrameworkView>
        headingId="tf-h"
        label="Completed frameworks"
        rows={cluster.completedFrameworks}
        columns={tables.completedColumns}
        rowKey={(f) => f.id}
        defaultSort={{ key: "unregistered", descending: true }}
        empty="No framework has terminated."
        noFilter
        instead={listsPending()}
      />
    </div>
  );
}
