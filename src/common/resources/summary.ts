/**
 * The legacy "summary object" JSON the Mesos endpoints use for resource
 * totals (`/master/state` `resources`, `used_resources`, `offered_resources`,
 * `/master/slaves`, roles...): `{"cpus":2,"disk":0,"gpus":0,"mem":1961,
 * "ports":"[31000-32000]"}`.
 *
 * cpus, gpus, mem and disk are always present (0 when absent); every other
 * resource name appears when present; scalars are numbers, ranges and sets
 * their text form; revocable resources go under `<name>_revocable`. All
 * metadata (reservations, disk info, allocation) is ignored. Keys are sorted,
 * as Mesos' JSON object is.
 */

import { addRanges, type FlatRanges, formatFlatRanges } from "./ranges.js";
import type { Resources } from "./resources.js";
import { fromFixed, toFixed } from "./scalar.js";
import { addItems, formatSet } from "./values.js";

/** Summary object value type. */
export type ResourceSummary = Record<string, number | string>;

const ALWAYS = ["cpus", "gpus", "mem", "disk"];

/** Builds the summary object of a collection (see module comment). */
export function resourcesSummaryJson(resources: Resources | Iterable<Resources>): ResourceSummary {
  const scalars = new Map<string, number>();
  const ranges = new Map<string, FlatRanges>();
  const sets = new Map<string, readonly string[]>();
  for (const name of ALWAYS) scalars.set(name, 0);
  const collections = isResources(resources) ? [resources] : resources;
  for (const collection of collections) {
    for (const r of collection) {
      const name = r.revocable === undefined ? r.name : `${r.name}_revocable`;
      switch (r.type) {
        case "SCALAR":
          scalars.set(name, (scalars.get(name) ?? 0) + toFixed(r.scalar?.value ?? 0));
          break;
        case "RANGES": {
          const flat: number[] = [];
          for (const range of r.ranges?.range ?? []) flat.push(range.begin, range.end);
          ranges.set(name, addRanges(ranges.get(name) ?? [], flat));
          break;
        }
        case "SET":
          sets.set(name, addItems(sets.get(name) ?? [], r.set?.item ?? []));
          break;
        default:
          break;
      }
    }
  }
  const entries: [string, number | string][] = [];
  for (const [name, fixed] of scalars) entries.push([name, fromFixed(fixed)]);
  for (const [name, flat] of ranges) entries.push([name, formatFlatRanges(flat)]);
  for (const [name, items] of sets) entries.push([name, formatSet(items)]);
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return Object.fromEntries(entries);
}

function isResources(value: Resources | Iterable<Resources>): value is Resources {
  return typeof (value as Resources).toEndpointJson === "function";
}
