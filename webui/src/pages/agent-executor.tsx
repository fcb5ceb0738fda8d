/**
 * The agent's view of one framework (`#/agents/:a/frameworks/:f`: its
 * executors, live and completed) and of one executor
 * (`#/agents/:a/frameworks/:f/executors/:e`: its queued, running and
 * completed tasks, each with its own sandbox), read from the agent's
 * `/state` and `/monitor/statistics` as Mesos' pages of the same routes do.
 */
import type { ComponentChildren } from "preact";
import { describeFailure } from "../api/http";
import { type Column, TableSection } from "../components/data-table";
import { Id } from "../components/id";
import { Failed, Loading, Unavailable } from "../components/notice";
import { useStore } from "../components/store-context";
import { formatBytes, formatCpus, formatMegabytes } from "../lib/format";
import { href } from "../lib/router";
import {
  type AgentExecutorView,
  type AgentStateView,
  type AgentTaskView,
  findExecutor,
  findFramework,
  frameworkUsage,
  type Usage,
} from "../model/agent-state";
import type { AgentView } from "../model/cluster";
import type { Res } from "../model/resources";
import { useAgentData } from "./agent-data";
import {
  agentSandboxColumn,
  HealthTag,
  RESOURCE_FORMAT,
  type ResourceName,
  resourceColumn,
  StateTag,
  usedOfAllocatedColumns,
} from "./columns";

/** The Resources card of a framework or executor on the agent: used / allocated. */
function UsageCard(props: { label: string; allocated: Res; usage: Usage | undefined }) {
  const { allocated: a, usage: u } = props;
  const rows: [string, string, string][] = [
    ["CPUs", u?.cpus === undefined ? "–" : formatCpus(u.cpus), formatCpus(a.cpus)],
    ["GPUs", "N/A", formatCpus(a.gpus)],
    ["Mem", u === undefined ? "–" : formatBytes(u.memRss), formatMegabytes(a.mem)],
    ["Disk", u?.diskUsed === undefined ? "–" : formatBytes(u.diskUsed), formatMegabytes(a.disk)],
  ];
  return (
    <section class="card" aria-label={props.label}>
      <h2>Resources</h2>
      <table class="compact" aria-label={props.label}>
        <thead>
          <tr>
            <th scope="col" />
            <th scope="col" class="num">
              Used
            </th>
            <th scope="col" class="num">
              Allocated
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([name, used, alloc]) => (
            <tr key={name}>
              <th scope="row">{name}</th>
              <td class="num">{used}</td>
              <td class="num">{alloc}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** Waits for the master's agent and the agent's `/state`, then renders `body`. */
function WithAgentState(props: {
  agentId: string;
  body: (agent: AgentView, state: AgentStateView, usage: Map<string, Usage>) => ComponentChildren;
}) {
  const data = useAgentData(props.agentId);
  if (data.loading) return <Loading what="the agent" />;
  if (data.agent === undefined || data.ep === undefined) {
    return (
      <Failed
        what="Finding the agent"
        detail={`no agent with id '${props.agentId}' is known to the master.`}
      />
    );
  }
  if (data.state === undefined) {
    return <Loading what={`the agent's state (${data.ep.base.slice(2)})`} />;
  }
  if (data.state.kind !== "ok") {
    return (
      <Unavailable
        what={`The agent's /state (${data.ep.base.slice(2)})`}
        detail={describeFailure(data.state)}
      />
    );
  }
  return <>{props.body(data.agent, data.state.value, data.usage)}</>;
}

/** A page of the agent's naming a framework or executor the agent does not know. */
function NotOnAgent(props: { crumbs: ComponentChildren; what: string; detail: string }) {
  return (
    <div class="page">
      {props.crumbs}
      <Failed what={props.what} detail={props.detail} />
    </div>
  );
}

function executorColumns(
  agentId: string,
  frameworkId: string,
  usage: Map<string, Usage>,
  completed: boolean,
): Column<AgentExecutorView>[] {
  const use = (e: AgentExecutorView): Usage | undefined => usage.get(`${frameworkId}/${e.id}`);
  const columns: Column<AgentExecutorView>[] = [
    {
      key: "id",
      title: "ID",
      value: (e) => e.id,
      render: (e) => (
        <a href={href(["agents", agentId, "frameworks", frameworkId, "executors", e.id])}>{e.id}</a>
      ),
    },
    { key: "name", title: "Name", value: (e) => e.name },
    { key: "source", title: "Source", value: (e) => e.source },
    { key: "role", title: "Role", value: (e) => e.role },
  ];
  if (!completed) {
    columns.push(
      { key: "tasks", title: "Active tasks", numeric: true, value: (e) => e.tasks.length },
      { key: "queued", title: "Queued tasks", numeric: true, value: (e) => e.queuedTasks.length },
      ...usedOfAllocatedColumns<AgentExecutorView>((e) => e.resources, use),
    );
  }
  columns.push(
    agentSandboxColumn<AgentExecutorView>(
      agentId,
      (e) => e.directory,
      (e) => `Sandbox of executor ${e.id}`,
    ),
  );
  return columns;
}

/** `#/agents/:a/frameworks/:f`: a framework as its agent sees it. */
export function AgentFramework(props: { agentId: string; frameworkId: string }) {
  const cluster = useStore().cluster;
  return (
    <WithAgentState
      agentId={props.agentId}
      body={(agent, state, usage) => {
        const f = findFramework(state, props.frameworkId);
        const crumbs = (
          <nav class="crumbs" aria-label="Breadcrumb">
            <a href="#/agents">Agents</a> /{" "}
            <a href={href(["agents", agent.id])}>{agent.hostname}</a> / Framework
          </nav>
        );
        if (f === undefined) {
          return (
            <NotOnAgent
              crumbs={crumbs}
              what="Finding the framework"
              detail={`the agent knows no framework '${props.frameworkId}'.`}
            />
          );
        }
        const known = cluster?.frameworksById.has(f.id) === true;
        return (
          <div class="page agent-framework">
            {crumbs}
            <h1>
              Framework {f.name} <Id value={f.id} />
            </h1>
            <div class="grid">
              <section class="card" aria-label="Framework facts">
                <dl class="facts">
                  <dt>Name</dt>
                  <dd>
                    {known ? <a href={href(["frameworks", f.id])}>{f.name || f.id}</a> : f.name}
                  </dd>
                  <dt>Agent</dt>
                  <dd>{state.hostname}</dd>
                  <dt>Master</dt>
                  <dd>{state.masterHostname}</dd>
                  <dt>Roles</dt>
                  <dd>{f.roles.join(", ")}</dd>
                  <dt>Active tasks</dt>
                  <dd data-active-tasks="">{f.activeTasks.toLocaleString()}</dd>
                </dl>
              </section>
              <UsageCard
                label="Framework resources on this agent"
                allocated={f.allocated}
                usage={frameworkUsage(usage, f.id)}
              />
            </div>
            <TableSection<AgentExecutorView>
              headingId="afe-h"
              label="Executors"
              rows={f.executors}
              columns={executorColumns(agent.id, f.id, usage, false)}
              rowKey={(e) => e.id}
              empty="No live executor."
            />
            <TableSection<AgentExecutorView>
              headingId="afc-h"
              label="Completed executors"
              rows={f.completedExecutors}
              columns={executorColumns(agent.id, f.id, usage, true)}
              rowKey={(e) => e.id}
              empty="No completed executor."
            />
          </div>
        );
      }}
    />
  );
}

function taskColumnsOf(agentId: string, withHealth: boolean): Column<AgentTaskView>[] {
  const allocated = (name: ResourceName) =>
    resourceColumn<AgentTaskView>(name, (t) => t.resources[name], { suffix: " (Allocated)" });
  // A task's limit: "–" when it set none, "unlimited" when it set infinity.
  const limit = (name: "cpus" | "mem") =>
    resourceColumn<AgentTaskView>(name, (t) => t.limits[name] ?? -1, {
      key: `${name}-limit`,
      suffix: " (Limit)",
      render: (t) => {
        const n = t.limits[name];
        return n === undefined ? "–" : Number.isFinite(n) ? RESOURCE_FORMAT[name](n) : "unlimited";
      },
    });
  const columns: Column<AgentTaskView>[] = [
    { key: "id", title: "ID", value: (t) => t.id },
    { key: "name", title: "Name", value: (t) => t.name },
    { key: "role", title: "Role", value: (t) => t.role },
    {
      key: "state",
      title: "State",
      value: (t) => t.state,
      render: (t) => (t.state === "" ? "" : <StateTag state={t.state} />),
    },
  ];
  if (withHealth) {
    columns.push({
      key: "health",
      title: "Health",
      value: (t) => (t.healthy === undefined ? "-" : t.healthy ? "healthy" : "unhealthy"),
      render: (t) => <HealthTag healthy={t.healthy} />,
    });
  }
  columns.push(
    allocated("cpus"),
    limit("cpus"),
    allocated("mem"),
    limit("mem"),
    allocated("gpus"),
    allocated("disk"),
    agentSandboxColumn<AgentTaskView>(
      agentId,
      (t) => t.directory,
      (t) => `Sandbox of task ${t.id}`,
    ),
  );
  return columns;
}

/** `#/agents/:a/frameworks/:f/executors/:e`: an executor and its tasks. */
export function AgentExecutor(props: { agentId: string; frameworkId: string; executorId: string }) {
  const cluster = useStore().cluster;
  return (
    <WithAgentState
      agentId={props.agentId}
      body={(agent, state, usage) => {
        const f = findFramework(state, props.frameworkId);
        const e = f === undefined ? undefined : findExecutor(f, props.executorId);
        const crumbs = (
          <nav class="crumbs" aria-label="Breadcrumb">
            <a href="#/agents">Agents</a> /{" "}
            <a href={href(["agents", agent.id])}>{agent.hostname}</a> /{" "}
            <a href={href(["agents", agent.id, "frameworks", props.frameworkId])}>Framework</a> /
            Executor
          </nav>
        );
        if (f === undefined || e === undefined) {
          return (
            <NotOnAgent
              crumbs={crumbs}
              what="Finding the executor"
              detail={
                f === undefined
                  ? `the agent knows no framework '${props.frameworkId}'.`
                  : `the agent knows no executor '${props.executorId}' of framework '${props.frameworkId}' (its sandbox may have been garbage collected).`
              }
            />
          );
        }
        return (
          <div class="page agent-executor">
            {crumbs}
            <h1>
              Executor <Id value={e.id} full />
            </h1>
            <div class="grid">
              <section class="card" aria-label="Executor facts">
                <dl class="facts">
                  <dt>Executor name</dt>
                  <dd>{e.name}</dd>
                  <dt>Executor source</dt>
                  <dd>{e.source}</dd>
                  <dt>Executor role</dt>
                  <dd>{e.role}</dd>
                  <dt>Framework</dt>
                  <dd>
                    <a href={href(["agents", agent.id, "frameworks", f.id])}>{f.name || f.id}</a>
                  </dd>
                  <dt>Cluster</dt>
                  <dd>{cluster?.master.cluster || <span class="muted">(unnamed)</span>}</dd>
                  <dt>Master</dt>
                  <dd>{state.masterHostname}</dd>
                  <dt>Agent</dt>
                  <dd>
                    <a href={href(["agents", agent.id])}>{state.hostname}</a>
                  </dd>
                  <dt>Active tasks</dt>
                  <dd data-active-tasks="">{e.tasks.length.toLocaleString()}</dd>
                  <dt>Sandbox</dt>
                  <dd>
                    {e.directory === "" ? (
                      <span class="muted">–</span>
                    ) : (
                      <a href={href(["agents", agent.id, "browse"], { path: e.directory })}>
                        Sandbox
                      </a>
                    )}
                  </dd>
                </dl>
              </section>
              <UsageCard
                label="Executor resources"
                allocated={e.resources}
                usage={usage.get(`${f.id}/${e.id}`)}
              />
            </div>
            <TableSection<AgentTaskView>
              headingId="aeq-h"
              label="Queued tasks"
              rows={e.queuedTasks}
              columns={taskColumnsOf(agent.id, false)}
              rowKey={(t) => t.id}
              empty="No queued task."
              noFilter
            />
            <TableSection<AgentTaskView>
              headingId="aet-h"
              label="Tasks"
              rows={e.tasks}
              columns={taskColumnsOf(agent.id, true)}
              rowKey={(t) => t.id}
              empty="No running task."
            />
            <TableSection<AgentTaskView>
              headingId="aec-h"
              label="Completed tasks"
              rows={e.completedTasks}
              columns={taskColumnsOf(agent.id, false)}
              rowKey={(t) => t.id}
              empty="No completed task."
            />
          </div>
        );
      }}
    />
  );
}
