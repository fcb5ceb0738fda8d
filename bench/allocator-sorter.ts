/**
 * A port of Mesos' sorter "FullSort" benchmark: for agents x clients, the
 * time to add clients and agents, allocate on every agent (round robin over
 * clients), sort after that change (full sort), sort again with nothing
 * changed (no-op sort), unallocate everything, allocate everything again on
 * the sorted tree, and remove agents and clients.
 *
 * Differences from Mesos' version: clients are activated (Mesos sorts
 * inactive clients there, which makes its full sort trivial), and the
 * sorter takes scalar quantities (the allocator converts an offer's
 * resources once, so ports never reach the sorter).
 */

import { quantitiesFrom, ResourceNames } from "../src/master/allocator/quantities.js";
import { DrfSorter } from "../src/master/allocator/sorter/drf-sorter.js";
import { median } from "./lib/event-loop.js";
import { reportCase } from "./lib/report.js";

export interface SorterTimes {
  add_clients_ms: number;
  add_agents_ms: number;
  allocate_dirty_ms: number;
  full_sort_ms: number;
  noop_sort_ms: number;
  unallocate_ms: number;
  allocate_sorted_ms: number;
  remove_agents_ms: number;
  remove_clients_ms: number;
}

export function sorterFullSort(agentCount: number, clientCount: number): SorterTimes {
  const names = new ResourceNames();
  const sorter = new DrfSorter({ names });
  const agentQ = quantitiesFrom(names, { cpus: 24, mem: 4096, disk: 4096 });
  const allocatedQ = quantitiesFrom(names, { cpus: 16, mem: 2014, disk: 1024 });
  const clients = Array.from({ length: clientCount }, (_, i) => String(i));
  const agents = Array.from({ length: agentCount }, (_, i) => `agent${i}`);
  const time = (fn: () => void): number => {
    const t0 = performance.now();
    fn();
    return performance.now() - t0;
  };
  const out: SorterTimes = {
    add_clients_ms: time(() => {
      for (const c of clients) {
        sorter.add(c);
        sorter.activate(c);
      }
    }),
    add_agents_ms: time(() => {
      for (const a of agents) sorter.addAgent(a, agentQ);
    }),
    allocate_dirty_ms: time(() => {
      for (let i = 0; i < agents.length; i++) {
        sorter.allocated(clients[i % clientCount] as string, allocatedQ);
      }
    }),
    // A full sort follows every change of the pool: time several, each
    // right after adding one more agent (not timed).
    full_sort_ms: median(
      Array.from({ length: 9 }, (_, k) => {
        sorter.addAgent(`extra${k}`, agentQ);
        return time(() => {
          sorter.sort();
        });
      }),
    ),
    // The median of several runs, as for the full sort: a single run of a
    // few microseconds can meet a collection or other background work.
    noop_sort_ms: median(
      Array.from(
        { length: 9 },
        () =>
          time(() => {
            for (let k = 0; k < NOOP_SORTS; k++) sorter.sort();
          }) / NOOP_SORTS,
      ),
    ),
    // Alternate unallocating and allocating everything, on the sorted tree.
    ...alternate(
      5,
      () =>
        time(() => {
          for (let i = 0; i < agents.length; i++) {
            sorter.unallocated(clients[i % clientCount] as string, allocatedQ);
          }
        }),
      () =>
        time(() => {
          for (let i = 0; i < agents.length; i++) {
            sorter.allocated(clients[i % clientCount] as string, allocatedQ);
          }
        }),
    ),
    remove_agents_ms: time(() => {
      for (const a of agents) sorter.removeAgent(a);
      for (let k = 0; k < 9; k++) sorter.removeAgent(`extra${k}`);
    }),
    remove_clients_ms: time(() => {
      for (const c of clients) sorter.remove(c);
    }),
  };
  return out;
}

export function run(args: string[]): void {
  const quick = args.includes("--quick");
  const agentCounts = quick ? [1000, 5000] : [1000, 5000, 10000, 20000, 30000, 50000];
  const clientCounts = quick ? [1, 100, 1000] : [1, 50, 100, 200, 500, 1000];
  // Warm up the JIT so the first case is not charged for compilation.
  for (let i = 0; i < 5; i++) sorterFullSort(5000, 200);
  for (const agents of agentCounts) {
    for (const clients of clientCounts) {
      const t = medianTimes(Array.from({ length: REPEATS }, () => sorterFullSort(agents, clients)));
      reportCase("allocator-sorter", `${agents} agents x ${clients} clients`, {
        ...round(t),
        unallocate_over_allocate: t.unallocate_ms / t.allocate_sorted_ms,
        noop_over_full_sort: t.noop_sort_ms / Math.max(t.full_sort_ms, 1e-6),
      });
    }
  }
}

const NOOP_SORTS = 1000;

/** Runs `a` then `b` `n` times; medians as unallocate/allocate times. */
function alternate(
  n: number,
  a: () => number,
  b: () => number,
): { unallocate_ms: number; allocate_sorted_ms: number } {
  const as: number[] = [];
  const bs: number[] = [];
  for (let i = 0; i < n; i++) {
    as.push(a());
    bs.push(b());
  }
  return { unallocate_ms: median(as), allocate_sorted_ms: median(bs) };
}

/** Each case runs this many times; the median of every timing is reported. */
const REPEATS = 7;

function medianTimes(runs: SorterTimes[]): SorterTimes {
  const out = { ...(runs[0] as SorterTimes) };
  for (const key of Object.keys(out) as (keyof SorterTimes)[]) {
    out[key] = median(runs.map((r) => r[key]));
  }
  return out;
}

function round(t: SorterTimes): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(t)) out[k] = Number(v.toPrecision(4));
  return out;
}
