/**
 * Pieces the master state-document tests share: the context a
 * StateDocuments/stateJson needs, a turn of the event loop, and the
 * codec's GET_STATE JSON with every list present.
 */
import type { StateContext } from "../../src/master/http/state-json.js";
import type { Fixture } from "./master-fixture.js";

/** Resolves after one turn of the event loop. */
export const immediate = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/** The state context of fixture `f` (a fixed build, pid and flags; `cluster` when given). */
export function stateContext(
  f: Fixture,
  options: { cluster?: string; flags?: Record<string, string> } = {},
): StateContext {
  return {
    master: f.master,
    build: { version: "1.12.0", buildDate: "2024-01-01 00:00:00", buildTime: 1, buildUser: "t" },
    pid: "master@127.0.0.1:5050",
    cluster: options.cluster,
    logDir: undefined,
    externalLogFile: undefined,
    flags: options.flags ?? { port: "5050" },
    electedTime: f.clock.now(),
  };
}

/** The codec's GET_STATE JSON with every list present, as Mesos' GET_STATE writes it. */
export function withAllLists(json: string): unknown {
  const lists: Record<string, string[]> = {
    get_tasks: ["tasks", "unreachable_tasks", "completed_tasks"],
    get_executors: ["executors"],
    get_frameworks: ["frameworks", "completed_frameworks"],
    get_agents: ["agents", "recovered_agents"],
  };
  const state = JSON.parse(json) as Record<string, Record<string, unknown>>;
  for (const [section, names] of Object.entries(lists)) {
    const part = state[section] ?? {};
    state[section] = Object.fromEntries(names.map((n) => [n, part[n] ?? []]));
  }
  return state;
}
