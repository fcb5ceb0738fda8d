/** One framework: its facts, resources, tasks (active, unreachable, completed), offers, executors. */
import { useMemo } from "preact/hooks";
import { countByState, TaskCounts } from "../components/counts";
import { type Column, TableSection } from "../components/data-table";
import { Id } from "../components/id";
import { Failed, Loading } from "../components/notice";
import { ResourceTable } from "../components/resource-table";
import { useStore } from "../components/store-context";
import { Ago } from "../components/time";
import { formatDuration, formatPercent } from "../lib/format";
import { href } from "../lib/router";
import type { ExecutorView, TaskView } from "../model/cluster";
import { maxShare } from "../model/resources";
import { hostOf, offerColumns, resourceColumns, taskColumns } from "./columns";

export function Framework(props: { id: string }) {
  const cluster = useStore().cluster;
  const framework = cluster?.frameworksById.get(props.id);
  const data = useMemo(() => {
    if (cluster === undefined) return undefined;
    const executorColumns: Column<ExecutorView>[] = [
      { key: "id", title: "ID", value: (e) => e.id, render: (e) => <Id value={e.id} /> },
      { key: "name", title: "Name", value: (e) => e.name },
      {
        key: "host",
        title: "Host",
        value: (e) => hostOf(cluster, e.agentId),
        render: (e) => (
          <a href={href(["agents", e.agentId])}>{hostOf(cluster, e.agentId) || e.agentId}</a>
        ),
      },
      { key: "command", title: "Command", value: (e) => e.command },
      ...resourceColumns<ExecutorView>((e) => e.resources),
      {
        key: "sandbox",
        title: "Sandbox",
        unsortable: true,
        value: () => "",
        render: (e) => (
          <a
            href={href([
              "agents",
              e.agentId,
              "frameworks",
              e.frameworkId,
              "executors",
              e.id,
              "browse",
            ])}
          >
            Sandbox
          </a>
        ),
      },
    ];
    return {
      taskColumns: taskColumns(cluster, { framework: false, kind: "active" }),
      unreachableColumns: taskColumns(cluster, { framework: false, kind: "unreachable" }),
      completedColumns: taskColumns(cluster, { framework: false, kind: "completed" }),
      offerColumns: offerColumns(cluster),
      executorColumns,
    };
  }, [cluster]);
  if (cluster === undefined || data === undefined) return <Loading what="the framework" />;
  if (framework === undefined) {
    return (
      <Failed
        what="Finding the framework"
        detail={`no framework with id '${props.id}' is known to the master.`}
      />
    );
  }
  const f = framework;
  const key = (t: TaskView): string => t.id;
  return (
    <div class="page framework">
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href="#/frameworks">Frameworks</a> / <span>{f.name || f.id}</span>
      </nav>
      <h1>
        Framework {f.name} <Id value={f.id} />
      </h1>
      {f.completed ? (
        // Mesos' page warns the same way: everything below is history.
        <div class="notice failed" role="status" data-completed="">
          <strong>This framework has terminated</strong> (unregistered{" "}
          <Ago seconds={f.unregisteredTime} />
          ); it holds no resources, and its tasks are listed as completed.
        </div>
      ) : null}
      <div class="grid">
        <section class="card" aria-label="Framework facts">
          <dl class="facts">
            <dt>Name</dt>
            <dd>{f.name}</dd>
            <dt>User</dt>
            <dd>{f.user}</dd>
            <dt>Roles</dt>
            <dd>{f.roles.join(", ") || "*"}</dd>
            <dt>Principal</dt>
            <dd>{f.principal || <span class="muted">none</span>}</dd>
            <dt>Host</dt>
            <dd>{f.hostname}</dd>
            {f.webuiUrl !== "" ? (
              <>
                <dt>Web UI</dt>
                <dd>
                  <a href={f.webuiUrl} rel="noreferrer">
                    {f.webuiUrl}
                  </a>
                </dd>
              </>
            ) : null}
            <dt>State</dt>
            <dd>
              {f.completed ? "completed" : f.active ? "active" : "inactive"}
              {f.completed ? "" : f.connected ? ", connected" : ", disconnected"}
            </dd>
            <dt>Registered</dt>
            <dd>
              <Ago seconds={f.registeredTime} />
            </dd>
            <dt>Re-registered</dt>
            <dd>
              <Ago seconds={f.reregisteredTime} />
            </dd>
            {f.completed ? (
              <>
                <dt>Unregistered</dt>
                <dd>
                  <Ago seconds={f.unregisteredTime} />
                </dd>
              </>
            ) : null}
            <dt>Failover timeout</dt>
            <dd>{formatDuration(f.failoverTimeout)}</dd>
            <dt>Checkpointing</dt>
            <dd>{f.checkpoint ? "yes" : "no"}</dd>
            <dt>Capabilities</dt>
            <dd>{f.capabilities.join(", ") || <span class="muted">none</span>}</dd>
          </dl>
        </section>
        <section class="card" aria-label="Framework tasks">
          <h2>Tasks</h2>
          <TaskCounts
            label="Framework tasks"
            counts={countByState([...f.tasks, ...f.unreachableTasks, ...f.completedTasks])}
          />
        </section>
        <section class="card" aria-label="Framework resources">
          <ResourceTable
            rows={[
              ["Allocated", f.used],
              ["Offered", f.offered],
            ]}
          />
          <p>
            Max share: {formatPercent(maxShare(f.used, cluster.totals.total))} ·{" "}
            {f.tasks.length.toLocaleString()} active tasks
          </p>
        </section>
      </div>
      <TableSection<TaskView>
        headingId="ft-h"
        label="Active tasks"
        rows={f.tasks}
        columns={data.taskColumns}
        rowKey={key}
        defaultSort={{ key: "started", descending: true }}
        empty="No active task."
      />
      <TableSection<TaskView>
        headingId="fu-h"
        label="Unreachable tasks"
        rows={f.unreachableTasks}
        columns={data.unreachableColumns}
        rowKey={key}
        empty="No unreachable task."
        noFilter
      />
      <TableSection<TaskView>
        headingId="fc-h"
        label="Completed tasks"
        rows={f.completedTasks}
        columns={data.completedColumns}
        rowKey={key}
        defaultSort={{ key: "stopped", descending: true }}
        empty="No completed task."
      />
      <TableSection
        headingId="fo-h"
        label="Offers"
        rows={f.offers}
        columns={data.offerColumns}
        rowKey={(o) => o.id}
        empty="No outstanding offer."
        noFilter
      />
      <TableSection<ExecutorView>
        headingId="fe-h"
        label="Executors"
        rows={f.executors}
        columns={data.executorColumns}
        rowKey={(e) => `${e.agentId}/${e.id}`}
        empty="No custom executor (command tasks run under the command executor)."
        noFilter
      />
    </div>
  );
}
