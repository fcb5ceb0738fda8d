/** Small name/number lists: the agent and task counters of the dashboard, framework and agent pages. */
import { stateLabel } from "../lib/format";

/** The task states the counters list, in Mesos' order. */
export const TASK_STATES = [
  "TASK_STAGING",
  "TASK_STARTING",
  "TASK_RUNNING",
  "TASK_UNREACHABLE",
  "TASK_KILLING",
  "TASK_FINISHED",
  "TASK_KILLED",
  "TASK_FAILED",
  "TASK_LOST",
  "TASK_ERROR",
];

export function Counts(props: { items: readonly [string, number][]; label: string }) {
  return (
    <dl class="counts" aria-label={props.label} data-counts={props.label}>
      {props.items.map(([name, n]) => (
        <div key={name} data-count={name}>
          <dt>{name}</dt>
          <dd>{n.toLocaleString()}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Task counters from counts by state (`TASK_RUNNING` -> 3). */
export function TaskCounts(props: { counts: Record<string, number>; label?: string }) {
  return (
    <Counts
      label={props.label ?? "Tasks"}
      items={TASK_STATES.map((s) => [stateLabel(s), props.counts[s] ?? 0] as [string, number])}
    />
  );
}

/** Counts tasks by state. */
export function countByState(tasks: Iterable<{ state: string }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of tasks) out[t.state] = (out[t.state] ?? 0) + 1;
  return out;
}
