/**
 * Partial-id matching. Operators type a piece of an id: the whole id, its
 * short form (see `shortId`), a prefix, or any substring. The most exact
 * tier that matches anything wins, so `web` picks the task `web` even when
 * `web-2` exists.
 */
import { CliError, usageError } from "./cli-error.js";
import { isTerminal, type TaskView } from "./cluster-views.js";
import { shortId } from "./format.js";

/** The candidates that match `query`, from the most exact tier that has any. */
export function matchIds<T>(items: readonly T[], query: string, idOf: (item: T) => string): T[] {
  const q = query.trim();
  if (q === "") return [];
  const tiers: Array<(id: string) => boolean> = [
    (id) => id === q,
    (id) => shortId(id) === q,
    (id) => id.startsWith(q) || shortId(id).startsWith(q),
    (id) => id.includes(q),
  ];
  for (const tier of tiers) {
    const found = items.filter((item) => tier(idOf(item)));
    if (found.length > 0) return found;
  }
  return [];
}

export interface TaskPickOptions {
  /** Narrows to the framework whose id matches (partially). */
  readonly framework?: string;
}

/**
 * The one task `query` designates. When several match, a single live one
 * wins (old runs of a task id linger as completed tasks); otherwise the
 * operator is asked to be more precise.
 */
export function pickTask(
  tasks: readonly TaskView[],
  query: string,
  options: TaskPickOptions = {},
): TaskView {
  if (query.trim() === "") throw usageError("the task id is empty");
  let pool = tasks;
  if (options.framework !== undefined) {
    const frameworks = [...new Set(tasks.map((t) => t.frameworkId))];
    const fw = matchIds(frameworks, options.framework, (id) => id);
    if (fw.length === 0) throw new CliError(`no framework matches '${options.framework}'`);
    if (fw.length > 1) {
      throw new CliError(
        `'${options.framework}' matches ${fw.length} frameworks: ${listIds(fw, (id) => id)}`,
      );
    }
    pool = tasks.filter((t) => t.frameworkId === fw[0]);
  }
  const found = matchIds(pool, query, (t) => t.id);
  if (found.length === 0) throw new CliError(`no task matches '${query}'`);
  if (found.length === 1) return found[0] as TaskView;
  const live = found.filter((t) => !isTerminal(t.state));
  if (live.length === 1) return live[0] as TaskView;
  const ids = new Set(found.map((t) => t.id));
  if (ids.size === 1) {
    throw new CliError(
      `task id '${[...ids][0]}' is used by ${found.length} frameworks ` +
        `(${listIds(found, (t) => t.frameworkId)}); choose one with --framework`,
    );
  }
  throw new CliError(
    `'${query}' matches ${found.length} tasks: ${listIds(found, (t) => t.id)}; give more of the id`,
  );
}

/** Up to five ids, then a count. */
export function listIds<T>(items: readonly T[], idOf: (item: T) => string): string {
  const ids = [...new Set(items.map((i) => shortId(idOf(i))))];
  const shown = ids.slice(0, 5).join(", ");
  return ids.length > 5 ? `${shown}, and ${ids.length - 5} more` : shown;
}
