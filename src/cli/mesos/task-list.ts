/** `mesos task list [--all]`: tasks from the master's `/master/tasks`. */
import { Command } from "commander";
import { CliError } from "./support/cli-error.js";
import { isRecord, isTerminal, type TaskView, taskView } from "./support/cluster-views.js";
import type { CommandContext } from "./support/context.js";
import { displayId } from "./support/format.js";
import { renderTable } from "./support/table.js";

/** Tasks per `/master/tasks` page. */
const PAGE = 1000;
/** A guard against a master that never stops paging. */
const MAX_PAGES = 1000;

/** Every task from `/master/tasks`, oldest first, following its paging. */
export async function fetchTasks(ctx: CommandContext): Promise<TaskView[]> {
  const master = await ctx.master();
  const tasks: TaskView[] = [];
  for (let page = 0; page < MAX_PAGES; page++) {
    const doc = await ctx.http.getJson(master, "/master/tasks", {
      limit: PAGE,
      offset: page * PAGE,
      order: "asc",
    });
    if (!isRecord(doc) || !Array.isArray(doc.tasks)) {
      throw new CliError("the master answered /master/tasks without a task list");
    }
    const batch = doc.tasks.filter(isRecord).map(taskView);
    tasks.push(...batch);
    if (batch.length < PAGE) break;
  }
  return tasks;
}

export function taskListCommand(ctx: CommandContext): Command {
  return new Command("list")
    .description("list the tasks that have not ended (staging, starting, running, killing, ...)")
    .option("-a, --all", "also list tasks that ended (finished, failed, killed, lost, ...)")
    .action(async (opts: { all?: boolean }) => {
      const tasks = (await fetchTasks(ctx)).filter(
        (t) => opts.all === true || !isTerminal(t.state),
      );
      if (ctx.json) {
        ctx.printJson(tasks.map((t) => t.raw));
        return;
      }
      if (tasks.length === 0) {
        ctx.print(
          opts.all === true
            ? "The cluster has no tasks."
            : "No task is running in the cluster (use --all to see tasks that ended).",
        );
        return;
      }
      const rows = tasks.map((t) => [
        t.id,
        t.name,
        t.state,
        displayId(t.frameworkId, ctx.wide),
        displayId(t.agentId, ctx.wide),
      ]);
      ctx.print(renderTable(["ID", "NAME", "STATE", "FRAMEWORK", "AGENT"], rows));
    });
}
