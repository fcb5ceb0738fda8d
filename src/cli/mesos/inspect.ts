/**
 * `mesos task inspect TASK` and `mesos framework inspect FRAMEWORK`: one
 * object from the master's `/master/state`, as JSON. Ids may be given in
 * part, as everywhere else in the CLI.
 */
import { Command } from "commander";
import { CliError } from "./support/cli-error.js";
import { allTasks, type FrameworkView } from "./support/cluster-views.js";
import type { CommandContext } from "./support/context.js";
import { listIds, matchIds, pickTask } from "./support/match.js";

/** Task lists are left out of `framework inspect`: `task list` and `task inspect` show them. */
const FRAMEWORK_TASK_KEYS = ["tasks", "completed_tasks", "unreachable_tasks"];

export function taskInspectCommand(ctx: CommandContext): Command {
  return new Command("inspect")
    .description("print everything the master knows about one task, as JSON")
    .argument("<task>", "task id (a unique part is enough); ended tasks count too")
    .option("--framework <id>", "the task's framework, when two frameworks use the same task id")
    .action(async (query: string, opts: { framework?: string }) => {
      const state = await ctx.masterState();
      const task = pickTask(allTasks(state), query, { framework: opts.framework });
      ctx.printJson(task.raw);
    });
}

/** The one framework `query` designates (active, inactive or completed). */
export function pickFramework(frameworks: readonly FrameworkView[], query: string): FrameworkView {
  const found = matchIds(frameworks, query, (f) => f.id);
  if (found.length === 0) throw new CliError(`no framework matches '${query}'`);
  if (found.length === 1) return found[0] as FrameworkView;
  // A framework id is unique, but a re-registered one may be listed twice (live and completed).
  const live = found.filter((f) => !f.completed);
  if (live.length === 1) return live[0] as FrameworkView;
  throw new CliError(
    `'${query}' matches ${found.length} frameworks: ${listIds(found, (f) => f.id)}; give more of the id`,
  );
}

export function frameworkInspectCommand(ctx: CommandContext): Command {
  return new Command("inspect")
    .description("print what the master knows about one framework (without its tasks), as JSON")
    .argument("<framework>", "framework id (a unique part is enough)")
    .action(async (query: string) => {
      const state = await ctx.masterState();
      const framework = pickFramework(state.frameworks, query);
      const shown = Object.fromEntries(
        Object.entries(framework.raw).filter(([key]) => !FRAMEWORK_TASK_KEYS.includes(key)),
      );
      ctx.printJson(shown);
    });
}
