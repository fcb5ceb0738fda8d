/**
 * Fast sums of many small resource lists for the state documents and
 * metrics: an agent's used resources are the sum of its tasks' and
 * executors' lists, a framework's of thousands of tasks. Building
 * `Resources` collections for each (parsing, normalising) dominated the
 * documents' cost, so plain scalar lists (the common case) are summed
 * directly in fixed point, with the per-list work memoised (task resource
 * lists never change). Lists with ranges or sets fall back to `Resources`.
 */
import type { Resource } from "../../common/protocol/generated/mesos-v1.js";
import { isTerminalState } from "../../common/protocol/task-states.js";
import {
  type Resource as CoreResource,
  fromFixed,
  type ResourceSummary,
  Resources,
  resourcesSummaryJson,
  toFixed,
} from "../../common/resources/index.js";
import type { AgentRecord, FrameworkRecord } from "../core/records.js";

/** One scalar resource of a list: its identity without the amount, and the amount. */
interface ScalarEntry {
  readonly key: string;
  readonly name: string;
  readonly proto: Resource;
  readonly fixed: number;
}

const memo = new WeakMap<readonly Resource[], ScalarEntry[] | null>();

/**
 * The scalar entries of a list, or null when it has other types or a shared
 * resource (a shared volume used by several tasks counts once, as in Mesos'
 * sums, which only `Resources` addition knows).
 */
function entries(list: readonly Resource[]): ScalarEntry[] | null {
  const cached = memo.get(list);
  if (cached !== undefined) return cached;
  let out: ScalarEntry[] | null = [];
  for (const r of list) {
    if (r.type !== "SCALAR" || r.shared !== undefined) {
      out = null;
      break;
    }
    const { scalar: _amount, ...rest } = r;
    const name = r.revocable === undefined ? r.name : `${r.name}_revocable`;
    out.push({
      key: JSON.stringify(rest),
      name,
      proto: rest as Resource,
      fixed: toFixed(r.scalar?.value ?? 0),
    });
  }
  memo.set(list, out);
  return out;
}

/** Something that holds resource lists: plain lists, or `Resources` (offers). */
export type ResourceSource = readonly Resource[] | Resources;

function asList(source: ResourceSource): readonly Resource[] | undefined {
  return source instanceof Resources ? undefined : source;
}

/** The legacy summary object (`{"cpus":…, "disk":…, "gpus":…, "mem":…}`) of many lists. */
export function summaryOf(sources: readonly ResourceSource[]): ResourceSummary {
  const fixed = new Map<string, number>([
    ["cpus", 0],
    ["gpus", 0],
    ["mem", 0],
    ["disk", 0],
  ]);
  for (const source of sources) {
    const list = asList(source);
    const es = list === undefined ? null : entries(list);
    if (es === null) return resourcesSummaryJson(mergedResources(sources));
    for (const e of es) fixed.set(e.name, (fixed.get(e.name) ?? 0) + e.fixed);
  }
  const out: ResourceSummary = {};
  for (const name of [...fixed.keys()].sort()) out[name] = fromFixed(fixed.get(name) ?? 0);
  return out;
}

/** The merged resource list (like `Resources` addition) of many lists. */
export function mergedOf(sources: readonly ResourceSource[]): Resource[] {
  const sums = new Map<string, { proto: Resource; fixed: number }>();
  for (const source of sources) {
    const list = asList(source);
    const es = list === undefined ? null : entries(list);
    if (es === null) return mergedResources(sources).toArray() as Resource[];
    for (const e of es) {
      const sum = sums.get(e.key);
      if (sum === undefined) sums.set(e.key, { proto: e.proto, fixed: e.fixed });
      else sum.fixed += e.fixed;
    }
  }
  const out: Resource[] = [];
  for (const { proto, fixed } of sums.values()) {
    out.push({ ...proto, scalar: { value: fromFixed(fixed) } });
  }
  return out;
}

/** The lists an agent's running tasks and executors use. */
export function agentUsedLists(agent: AgentRecord): Resource[][] {
  const out: Resource[][] = [];
  for (const byId of agent.tasks.values()) {
    for (const task of byId.values()) {
      if (!isTerminalState(task.state)) out.push(task.resources ?? []);
    }
  }
  for (const byId of agent.executors.values()) {
    for (const executor of byId.values()) out.push(executor.resources ?? []);
  }
  return out;
}

/** The lists a framework's running tasks and executors use. */
export function frameworkUsedLists(framework: FrameworkRecord): Resource[][] {
  const out: Resource[][] = [];
  for (const task of framework.tasks.values()) {
    if (!isTerminalState(task.state) && task.state !== "TASK_UNREACHABLE") {
      out.push(task.resources ?? []);
    }
  }
  for (const byId of framework.executors.values()) {
    for (const executor of byId.values()) out.push(executor.resources ?? []);
  }
  return out;
}

/** The offered resources of an agent or framework, as sources. */
export function offeredSources(offers: Iterable<{ resources: Resources }>): Resources[] {
  const out: Resources[] = [];
  for (const o of offers) out.push(o.resources);
  return out;
}

/** The sources added up as one `Resources` (the slow path). */
function mergedResources(sources: readonly ResourceSource[]): Resources {
  const all = Resources.empty();
  for (const s of sources)
    all.add(s instanceof Resources ? s : Resources.from(s as CoreResource[]));
  return all;
}

/**
 * Sum of one scalar over lists: regular resources only (`master/cpus_used`,
 * as Mesos), or revocable ones too with `which` "all".
 */
export function scalarOf(
  sources: readonly ResourceSource[],
  name: string,
  which: "regular" | "all" = "regular",
): number {
  const counted = (r: Resources) => (which === "all" ? r : r.nonRevocable());
  let fixed = 0;
  for (const source of sources) {
    const list = asList(source);
    if (list?.some((r) => r.shared !== undefined)) {
      return counted(mergedResources(sources)).getScalar(name) ?? 0;
    }
    const es = list === undefined ? null : entries(list);
    if (es === null) {
      const r = source instanceof Resources ? source : Resources.from(source as CoreResource[]);
      fixed += toFixed(counted(r).getScalar(name) ?? 0);
      continue;
    }
    for (const e of es) {
      if (e.proto.name === name && (which === "all" || e.proto.revocable === undefined)) {
        fixed += e.fixed;
      }
    }
  }
  return fromFixed(fixed);
}
