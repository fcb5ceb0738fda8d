/**
 * One agent: what the master knows (resources, attributes, tasks) and, read
 * from the agent itself, its executors with sandbox links and live usage
 * from `/monitor/statistics`.
 */
import { useMemo, useRef } from "preact/hooks";
import { agentEndpoint, agentRead, agentStateUrl, agentStatistics } from "../api/agent-client";
import { describeFailure } from "../api/http";
import { type Column, DataTable } from "../components/data-table";
import { Id } from "../components/id";
import { Failed, Loading, Unavailable } from "../components/notice";
import { ResourceTable } from "../components/resource-table";
import { useStore } from "../components/store-context";
import { Ago } from "../components/time";
import { formatBytes, formatCpus, formatPercent } from "../lib/format";
import { href } from "../lib/router";
import { usePoll } from "../lib/use-poll";
import type { TaskView } from "../model/cluster";
import { arr, num, obj, str } from "../model/json";
import { fromSummary, type Res } from "../model/resources";
import { agentState, taskColumns } from "./columns";

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

interface Usage {
  cpuFraction: number | undefined;
  cpusLimit: number;
  memRss: number;
  memLimit: number;
}

function executorsFrom(state: unknown): ExecutorRow[] {
  const rows: ExecutorRow[] = [];
  const s = obj(state);
  for (const [list, done] of [
    [s.frameworks, false],
    [s.completed_frameworks, true],
  ] as const) {
    for (const fv of arr(list)) {
      const f = obj(fv);
      for (const [execs, execDone] of [
        [f.executors, done],
        [f.completed_executors, true],
      ] as const) {
        for (const ev of arr(execs)) {
          const e = obj(ev);
          rows.push({
            frameworkId: str(f.id),
            frameworkName: str(f.name),
            id: str(e.id),
            name: str(e.name),
            directory: str(e.directory),
            resources: fromSummary(e.resources),
            tasks: arr(e.tasks).length + arr(e.queued_tasks).length,
            completed: execDone,
          });
        }
      }
    }
  }
  return rows;
}

export function Agent(props: { id: string }) {
  const cluster = useStore().cluster;
  const agent = cluster?.agentsById.get(props.id);
  const ep = agent === undefined ? undefined : agentEndpoint(agent);
  const stateResult = usePoll(
    ep === undefined ? undefined : () => agentRead(agentStateUrl(ep)),
    10_000,
    [ep?.base],
  );
  const statsResult = usePoll(ep === undefined ? undefined : () => agentStatistics(ep), 5000, [
    ep?.base,
  ]);
  // CPU use is the change in CPU seconds over the change in wall time between two samples.
  const previous = useRef(new Map<string, { t: number; cpu: number }>());
  const usage = useMemo(() => {
    const out = new Map<string, Usage>();
    if (statsResult?.kind !== "ok") return out;
    for (const item of arr(statsResult.value)) {
      const i = obj(item);
      const st = obj(i.statistics);
      const key = `${str(i.framework_id)}/${str(i.executor_id)}`;
      const t = num(st.timestamp);
      const cpu = num(st.cpus_user_time_secs) + num(st.cpus_system_time_secs);
      const before = previous.current.get(key);
      const cpuFraction =
        before !== undefined && t > before.t
          ? Math.max(0, (cpu - before.cpu) / (t - before.t))
          : undefined;
      previous.current.set(key, { t, cpu });
      out.set(key, {
        cpuFraction,
        cpusLimit: num(st.cpus_limit),
        memRss: num(st.mem_rss_bytes),
        memLimit: num(st.mem_limit_bytes),
      });
    }
    return out;
  }, [statsResult]);
  const tasks = useMemo(() => cluster?.tasksByAgent.get(props.id) ?? [], [cluster, props.id]);
  const columns = useMemo(
    () => (cluster === undefined ? [] : taskColumns(cluster, true)),
    [cluster],
  );
  const executorColumns = useMemo<Column<ExecutorRow>[]>(() => {
    const use = (e: ExecutorRow): Usage | undefined => usage.get(`${e.frameworkId}/${e.id}`);
    return [
      { key: "id", title: "ID", value: (e) => e.id, render: (e) => <Id value={e.id} /> },
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
        title: "CPU (used / allocated)",
        numeric: true,
        value: (e) => use(e)?.cpuFraction ?? -1,
        render: (e) => {
          const u = use(e);
          if (u === undefined) return <span class="muted">–</span>;
          const used = u.cpuFraction === undefined ? "…" : formatCpus(u.cpuFraction);
          return `${used} / ${formatCpus(u.cpusLimit || e.resources.cpus)}`;
        },
      },
      {
        key: "mem",
        title: "Mem (RSS / limit)",
        numeric: true,
        value: (e) => use(e)?.memRss ?? -1,
        render: (e) => {
          const u = use(e);
          if (u === undefined) return <span class="muted">–</span>;
          const share = u.memLimit > 0 ? ` (${formatPercent(u.memRss / u.memLimit)})` : "";
          return `${formatBytes(u.memRss)} / ${formatBytes(u.memLimit || e.resources.mem * 2 ** 20)}${share}`;
        },
      },
      {
        key: "sandbox",
        title: "Sandbox",
        unsortable: true,
        value: () => "",
        render: (e) =>
          e.directory === "" ? (
            ""
          ) : (
            <a href={href(["agents", props.id, "browse"], { path: e.directory })}>Sandbox</a>
          ),
      },
    ];
  }, [usage, props.id]);

  if (cluster === undefined) return <Loading what="the agent" />;
  if (agent === undefined || ep === undefined) {
    return (
      <Failed
        what="Finding the agent"
        detail={`no agent with id '${props.id}' is known to the master.`}
      />
    );
  }
  const reserved = Object.entries(agent.reserved).map(
    ([role, r]) => [`Reserved (${role})`, r] as const,
  );
  const attributes = Object.entries(agent.attributes);
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
            <dt>Registered</dt>
            <dd>
              <Ago seconds={agent.registeredTime} />
            </dd>
            <dt>Re-registered</dt>
            <dd>
              <Ago seconds={agent.reregisteredTime} />
            </dd>
            <dt>Capabilities</dt>
            <dd>{agent.capabilities.join(", ") || <span class="muted">none</span>}</dd>
          </dl>
          <p>
            <a class="button" href={href(["agents", agent.id, "log"])}>
              LOG
            </a>{" "}
            <span class="muted">the agent's log</span>
          </p>
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
            ["Total", agent.total],
            ["Used", agent.used],
            ["Offered", agent.offered],
            ["Unreserved", agent.unreserved],
            ...reserved,
          ]}
        />
      </section>
      <section aria-labelledby="ae-h">
        <h2 id="ae-h">Executors</h2>
        {stateResult === undefined ? (
          <Loading what={`executors from the agent (${ep.base.slice(2)})`} />
        ) : stateResult.kind === "ok" ? (
          <DataTable<ExecutorRow>
            label="Executors"
            rows={executorsFrom(stateResult.value)}
            columns={executorColumns}
            rowKey={(e) => `${e.frameworkId}/${e.id}/${e.completed}`}
            empty="No executor on this agent."
          />
        ) : (
          <Unavailable
            what={`The agent's /state (${ep.base.slice(2)})`}
            detail={describeFailure(stateResult)}
          />
        )}
        {statsResult !== undefined && statsResult.kind !== "ok" ? (
          <Unavailable
            what="Live usage (/monitor/statistics)"
            detail={describeFailure(statsResult)}
          />
        ) : null}
      </section>
      <section aria-labelledby="at-h">
        <h2 id="at-h">Tasks</h2>
        <DataTable<TaskView>
          label="Tasks on this agent"
          rows={tasks}
          columns={columns}
          rowKey={(t) => `${t.frameworkId}/${t.id}`}
          defaultSort={{ key: "started", descending: true }}
          empty="No task on this agent."
        />
      </section>
    </div>
  );
}
