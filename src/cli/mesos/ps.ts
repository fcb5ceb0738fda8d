/**
 * `mesos ps`: live tasks with their host, state and resource usage. Usage
 * comes from each agent's `/monitor/statistics` (per executor: CPU time,
 * CPU limit, resident memory and its limit), as Mesos' mesos-ps did.
 */
import { Command } from "commander";
import {
  type AgentView,
  type FrameworkView,
  isRecord,
  isTerminal,
  type JsonRecord,
  num,
  scalar,
  str,
  type TaskView,
} from "./support/cluster-views.js";
import type { CommandContext } from "./support/context.js";
import { displayId, formatBytes, formatCpuTime, formatNumber } from "./support/format.js";
import { HttpStatusError } from "./support/http-client.js";
import { getAgentJson } from "./support/sandbox.js";
import { renderTable } from "./support/table.js";

/** One row of `mesos ps`, also its `-o json` form. */
export interface PsRow {
  task_id: string;
  task_name: string;
  framework_id: string;
  framework_name: string;
  user: string;
  agent_id: string;
  host: string;
  state: string;
  cpus_limit?: number;
  cpu_time_secs?: number;
  mem_rss_bytes?: number;
  mem_limit_bytes?: number;
}

/** Statistics per `framework id \0 executor id`. */
type StatisticsIndex = Map<string, JsonRecord>;

function key(frameworkId: string, executorId: string): string {
  return `${frameworkId}\u0000${executorId}`;
}

/** Indexes a `/monitor/statistics` answer by framework and executor. */
export function indexStatistics(doc: unknown): StatisticsIndex {
  const index: StatisticsIndex = new Map();
  if (!Array.isArray(doc)) return index;
  for (const entry of doc) {
    if (!isRecord(entry) || !isRecord(entry.statistics)) continue;
    index.set(key(str(entry.framework_id), str(entry.executor_id)), entry.statistics);
  }
  return index;
}

/** A `mesos ps` row for a task, with usage when the agent reported it. */
export function psRow(
  task: TaskView,
  framework: FrameworkView,
  agent: AgentView | undefined,
  stats: StatisticsIndex | undefined,
): PsRow {
  const row: PsRow = {
    task_id: task.id,
    task_name: task.name,
    framework_id: framework.id,
    framework_name: framework.name,
    user: framework.user,
    agent_id: task.agentId,
    host: agent?.hostname ?? "",
    state: task.state,
  };
  // Command tasks have no executor id in the master; their executor carries the task id.
  const s = stats?.get(key(task.frameworkId, task.executorId === "" ? task.id : task.executorId));
  if (s !== undefined) {
    if (typeof s.cpus_limit === "number") row.cpus_limit = s.cpus_limit;
    if (typeof s.cpus_user_time_secs === "number" || typeof s.cpus_system_time_secs === "number") {
      row.cpu_time_secs = num(s.cpus_user_time_secs) + num(s.cpus_system_time_secs);
    }
    if (typeof s.mem_rss_bytes === "number") row.mem_rss_bytes = s.mem_rss_bytes;
    if (typeof s.mem_limit_bytes === "number") row.mem_limit_bytes = s.mem_limit_bytes;
  } else if (typeof task.raw.resources === "object" && task.raw.resources !== null) {
    // Without statistics, show what the task was given.
    const resources = task.raw.resources as JsonRecord;
    if (typeof resources.cpus === "number") row.cpus_limit = scalar(resources, "cpus");
    if (typeof resources.mem === "number")
      row.mem_limit_bytes = scalar(resources, "mem") * 1024 * 1024;
  }
  return row;
}

export function psCommand(ctx: CommandContext): Command {
  return new Command("ps")
    .description("list live tasks with host, state, and CPU and memory usage")
    .addHelpText(
      "after",
      "\nUsage comes from each agent's /monitor/statistics: TIME is CPU time (user + system),\n" +
        "CPUS the CPU limit, MEM resident memory of its limit. Blank when an agent does not say.",
    )
    .action(async () => {
      const state = await ctx.masterState();
      const agents = new Map(state.agents.map((a) => [a.id, a]));
      const live = state.frameworks.flatMap((f) =>
        f.tasks.filter((t) => !isTerminal(t.state)).map((t) => ({ task: t, framework: f })),
      );
      const agentIds = [...new Set(live.map((l) => l.task.agentId))];
      const statistics = new Map<string, StatisticsIndex>();
      await Promise.all(
        agentIds.map(async (id) => {
          const agent = agents.get(id);
          if (agent === undefined) return;
          try {
            statistics.set(
              id,
              indexStatistics(await getAgentJson(ctx, agent, "/monitor/statistics")),
            );
          } catch (e) {
            const why =
              e instanceof HttpStatusError && e.routeMissing
                ? `the agent at ${agent.address} does not serve /monitor/statistics yet`
                : (e as Error).message;
            ctx.warn(`${why}; usage of its tasks is left blank`);
          }
        }),
      );
      const rows = live.map(({ task, framework }) =>
        psRow(task, framework, agents.get(task.agentId), statistics.get(task.agentId)),
      );
      if (ctx.json) {
        ctx.printJson(rows);
        return;
      }
      if (rows.length === 0) {
        ctx.print("No task is running in the cluster.");
        return;
      }
      const measured = (r: PsRow) => statistics.get(r.agent_id) !== undefined;
      ctx.print(
        renderTable(
          [
            "TASK",
            "FRAMEWORK",
            "USER",
            "HOST",
            "STATE",
            { title: "CPUS", align: "right" },
            { title: "TIME", align: "right" },
            { title: "MEM", align: "right" },
          ],
          rows.map((r) => [
            r.task_id,
            ctx.wide
              ? `${r.framework_name} (${displayId(r.framework_id, true)})`
              : r.framework_name,
            r.user,
            r.host,
            r.state,
            r.cpus_limit === undefined ? "" : formatNumber(r.cpus_limit),
            r.cpu_time_secs === undefined ? "" : formatCpuTime(r.cpu_time_secs),
            memCell(r, measured(r)),
          ]),
        ),
      );
    });
}

function memCell(row: PsRow, measured: boolean): string {
  const limit = row.mem_limit_bytes === undefined ? undefined : formatBytes(row.mem_limit_bytes);
  if (row.mem_rss_bytes !== undefined) {
    return limit === undefined
      ? formatBytes(row.mem_rss_bytes)
      : `${formatBytes(row.mem_rss_bytes)}/${limit}`;
  }
  if (!measured && limit !== undefined) return `-/${limit}`;
  return "";
}
