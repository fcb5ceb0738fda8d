/**
 * Sandboxes: finding an executor's (or task's) sandbox directory from the
 * agent's state, listing directories with `/files/browse`, and viewing files
 * and logs (the master's and agents').
 */
import { useEffect, useMemo, useState } from "preact/hooks";
import { agentEndpoint, agentRead, agentStateUrl } from "../api/agent-client";
import {
  agentFiles,
  type FileEntry,
  type FileSource,
  masterFiles,
  sandboxFiles,
} from "../api/files";
import { describeFailure } from "../api/http";
import { type Column, DataTable } from "../components/data-table";
import { FileViewer } from "../components/file-viewer";
import { Failed, Loading, Unavailable } from "../components/notice";
import { useStore } from "../components/store-context";
import { Ago } from "../components/time";
import { formatBytes } from "../lib/format";
import { href, redirect } from "../lib/router";
import { usePoll } from "../lib/use-poll";
import {
  type AgentExecutorView,
  type AgentTaskView,
  agentStateFrom,
  findExecutor,
  findFramework,
} from "../model/agent-state";
import type { AgentView } from "../model/cluster";

/**
 * Finds the sandbox directory of an executor or, given a task, of the task:
 * a task of a default executor (a task group) has its own sandbox under the
 * executor's (`tasks/<id>`), other tasks share their executor's.
 */
export function findSandbox(
  state: unknown,
  frameworkId: string,
  executorId: string,
  taskId: string | undefined,
): string | undefined {
  const s = agentStateFrom(state);
  const framework = findFramework(s, frameworkId);
  if (framework === undefined) return undefined;
  const executors = [...framework.executors, ...framework.completedExecutors];
  const holds = (e: AgentExecutorView): AgentTaskView | undefined =>
    [...e.tasks, ...e.queuedTasks, ...e.completedTasks].find((t) => t.id === taskId);
  const executor = findExecutor(framework, executorId);
  if (taskId === undefined) return executor?.directory || undefined;
  // The master's executor id of a command task is empty; the route then names the task.
  const task =
    (executor === undefined ? undefined : holds(executor)) ??
    executors.map(holds).find((t) => t !== undefined);
  if (task !== undefined) return task.directory || undefined;
  return executor?.directory || undefined;
}

function useAgent(agentId: string): { agent: AgentView | undefined; loading: boolean } {
  const cluster = useStore().cluster;
  return { agent: cluster?.agentsById.get(agentId), loading: cluster === undefined };
}

/** `#/agents/:a/frameworks/:f/executors/:e[/tasks/:t]/browse`: goes to the sandbox directory. */
export function SandboxRerouter(props: {
  agentId: string;
  frameworkId: string;
  executorId: string;
  taskId?: string;
}) {
  const { agent, loading } = useAgent(props.agentId);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const [unavailable, setUnavailable] = useState(false);
  const base = agent === undefined ? undefined : agentEndpoint(agent);
  useEffect(() => {
    if (base === undefined) return;
    let cancelled = false;
    void agentRead(agentStateUrl(base)).then((result) => {
      if (cancelled) return;
      if (result.kind !== "ok") {
        setUnavailable(true);
        setProblem(describeFailure(result));
        return;
      }
      const dir = findSandbox(result.value, props.frameworkId, props.executorId, props.taskId);
      if (dir === undefined) {
        setProblem(
          `the agent does not know executor '${props.executorId}' of framework '${props.frameworkId}'` +
            (props.taskId === undefined ? "" : ` or task '${props.taskId}'`) +
            " (its sandbox may have been garbage collected)",
        );
        return;
      }
      redirect(href(["agents", props.agentId, "browse"], { path: dir }));
    });
    return () => {
      cancelled = true;
    };
  }, [base?.base, props.frameworkId, props.executorId, props.taskId]);
  if (loading) return <Loading what="the agent" />;
  if (agent === undefined) {
    return (
      <Failed
        what="Finding the sandbox"
        detail={`no agent '${props.agentId}' is known to the master.`}
      />
    );
  }
  if (problem !== undefined) {
    return unavailable ? (
      <Unavailable what="The agent's state" detail={problem} />
    ) : (
      <Failed what="Finding the sandbox" detail={problem} />
    );
  }
  return <Loading what="the sandbox location from the agent" />;
}

/**
 * A JSONP read cannot tell a missing path (the agent answers 404) from an
 * agent the browser cannot reach. When a read fails that way, ask the agent
 * for its `/state`: if that answers, the path is what is missing, and the
 * sentence returned says so; undefined means the agent does not answer.
 */
async function missingOnLiveAgent(
  agent: AgentView,
  path: string,
  kind: "directory" | "file",
): Promise<string | undefined> {
  const probe = await agentRead(agentStateUrl(agentEndpoint(agent)));
  if (probe.kind !== "ok") return undefined;
  return (
    `the agent ${agent.hostname} has no ${kind} ${path}, or does not let it be read ` +
    "(a sandbox goes once the agent garbage-collects it)."
  );
}

/** The sentence of `missingOnLiveAgent`, asked again whenever a listing fails the JSONP way. */
function useMissingOnLiveAgent(
  agent: AgentView | undefined,
  path: string,
  failed: boolean,
): string | undefined {
  const [missing, setMissing] = useState<string | undefined>(undefined);
  useEffect(() => {
    setMissing(undefined);
    if (!failed || agent === undefined) return;
    let cancelled = false;
    void missingOnLiveAgent(agent, path, "directory").then((sentence) => {
      if (!cancelled) setMissing(sentence);
    });
    return () => {
      cancelled = true;
    };
  }, [agent?.pid, path, failed]);
  return missing;
}

function parentOf(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  const i = trimmed.lastIndexOf("/");
  return i <= 0 ? "/" : trimmed.slice(0, i);
}

function PathCrumbs(props: { agentId: string; path: string }) {
  const parts = props.path.split("/").filter((p) => p !== "");
  return (
    <nav class="crumbs path" aria-label="Directory">
      {parts.map((part, i) => {
        const to = `/${parts.slice(0, i + 1).join("/")}`;
        return (
          <span key={to}>
            /
            {i === parts.length - 1 ? (
              <strong>{part}</strong>
            ) : (
              <a href={href(["agents", props.agentId, "browse"], { path: to })}>{part}</a>
            )}
          </span>
        );
      })}
    </nav>
  );
}

/** `#/agents/:a/browse?path=DIR`: a directory listing. */
export function Browse(props: { agentId: string; path: string }) {
  const { agent, loading } = useAgent(props.agentId);
  const source = useMemo(
    () => (agent === undefined ? undefined : sandboxFiles(agentEndpoint(agent))),
    [agent?.pid],
  );
  const listing = usePoll(
    source === undefined ? undefined : () => source.browse(props.path),
    5000,
    [source, props.path],
  );
  const missing = useMissingOnLiveAgent(
    agent,
    props.path,
    listing?.kind === "unavailable" && listing.status === 0,
  );
  const columns = useMemo<Column<FileEntry>[]>(
    () => [
      { key: "mode", title: "Mode", value: (e) => e.mode, render: (e) => <code>{e.mode}</code> },
      { key: "nlink", title: "Links", numeric: true, value: (e) => e.nlink },
      { key: "uid", title: "User", value: (e) => e.uid },
      { key: "gid", title: "Group", value: (e) => e.gid },
      {
        key: "size",
        title: "Size",
        numeric: true,
        value: (e) => e.size,
        render: (e) => formatBytes(e.size),
      },
      {
        key: "mtime",
        title: "Modified",
        numeric: true,
        value: (e) => e.mtime,
        render: (e) => <Ago seconds={e.mtime} />,
      },
      {
        key: "name",
        title: "Name",
        value: (e) => (e.isDirectory ? ` ${e.name}` : e.name),
        render: (e) =>
          e.isDirectory ? (
            <a href={href(["agents", props.agentId, "browse"], { path: e.path })}>{e.name}/</a>
          ) : (
            <a href={href(["agents", props.agentId, "view"], { path: e.path })}>{e.name}</a>
          ),
      },
      {
        key: "download",
        title: "",
        unsortable: true,
        value: () => "",
        render: (e) =>
          e.isDirectory || source === undefined ? (
            ""
          ) : (
            <a href={source.downloadUrl(e.path)} download aria-label={`Download ${e.name}`}>
              Download
            </a>
          ),
      },
    ],
    [props.agentId, source],
  );
  if (loading) return <Loading what="the agent" />;
  if (agent === undefined || source === undefined) {
    return (
      <Failed what="Browsing" detail={`no agent '${props.agentId}' is known to the master.`} />
    );
  }
  return (
    <div class="page browse">
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href="#/agents">Agents</a> / <a href={href(["agents", agent.id])}>{agent.hostname}</a> /
        Sandbox
      </nav>
      <h1>Sandbox</h1>
      <PathCrumbs agentId={props.agentId} path={props.path} />
      {props.path !== "/" ? (
        <p>
          <a href={href(["agents", props.agentId, "browse"], { path: parentOf(props.path) })}>
            ↑ Parent directory
          </a>
        </p>
      ) : null}
      {listing === undefined ? (
        <Loading what="the directory" />
      ) : listing.kind === "ok" ? (
        <DataTable<FileEntry>
          label="Files"
          rows={listing.value}
          columns={columns}
          rowKey={(e) => e.path}
          defaultSort={{ key: "name" }}
          empty="The directory is empty."
        />
      ) : missing !== undefined ? (
        <Failed what={`Browsing ${props.path}`} detail={missing} />
      ) : (
        <Unavailable
          what={`Browsing on the ${source.label} (/files/browse)`}
          detail={describeFailure(listing)}
        />
      )}
    </div>
  );
}

function followByDefault(path: string): boolean {
  const name = path.slice(path.lastIndexOf("/") + 1);
  return name === "stdout" || name === "stderr" || path.endsWith("/log");
}

/** `#/agents/:a/view?path=FILE`: one file of a sandbox. */
export function ViewFile(props: { agentId: string; path: string }) {
  const { agent, loading } = useAgent(props.agentId);
  const source = useMemo(
    () => (agent === undefined ? undefined : sandboxFiles(agentEndpoint(agent))),
    [agent?.pid],
  );
  if (loading) return <Loading what="the agent" />;
  if (agent === undefined || source === undefined) {
    return <Failed what="Viewing" detail={`no agent '${props.agentId}' is known to the master.`} />;
  }
  return (
    <div class="page view">
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href="#/agents">Agents</a> / <a href={href(["agents", agent.id])}>{agent.hostname}</a> /{" "}
        <a href={href(["agents", props.agentId, "browse"], { path: parentOf(props.path) })}>
          Sandbox
        </a>
      </nav>
      <h1>{props.path.slice(props.path.lastIndexOf("/") + 1)}</h1>
      <PathCrumbs agentId={props.agentId} path={props.path} />
      <FileViewer
        source={source}
        path={props.path}
        follow={followByDefault(props.path)}
        explainMissing={() => missingOnLiveAgent(agent, props.path, "file")}
      />
    </div>
  );
}

/** `#/agents/:a/log`: the agent's own log. */
export function AgentLog(props: { agentId: string }) {
  const { agent, loading } = useAgent(props.agentId);
  const source = useMemo(
    () => (agent === undefined ? undefined : agentFiles(agentEndpoint(agent))),
    [agent?.pid],
  );
  if (loading) return <Loading what="the agent" />;
  if (agent === undefined || source === undefined) {
    return (
      <Failed
        what="Viewing the log"
        detail={`no agent '${props.agentId}' is known to the master.`}
      />
    );
  }
  return (
    <div class="page view">
      <h1>Agent log: {agent.hostname}</h1>
      <FileViewer source={source} path="/slave/log" follow />
    </div>
  );
}

const MASTER_FILES: FileSource = masterFiles();

/** `#/log`: the master's log (`/files/read?path=/master/log`). */
export function MasterLog() {
  return (
    <div class="page view">
      <h1>Master log</h1>
      <FileViewer source={MASTER_FILES} path="/master/log" follow />
    </div>
  );
}
