/**
 * The resource estimators and QoS controllers mesos-ts has built in, named
 * as Mesos' modules: `--resource_estimator` / `--qos_controller` name one,
 * and its parameters come from its entry in `--modules` / `--modules_dir`
 * (the library file is not loaded). Without the flag the agent behaves as
 * Mesos' noop module: no estimate (so no revocable resources) and no
 * corrections.
 */
import { loadavg } from "node:os";
import type { JsonValue } from "../../common/flags/spec.js";
import { Resources } from "../../common/resources/index.js";
import { parseResources } from "../../common/resources/parse.js";
import { readManifests } from "../containerizer/logger/container-logger.js";
import { findModuleParameters } from "../containerizer/logger/logrotate-settings.js";

export const FIXED_ESTIMATOR_MODULE = "org_apache_mesos_FixedResourceEstimator";
export const LOAD_QOS_MODULE = "org_apache_mesos_LoadQoSController";

/** One live executor, as an estimator or controller sees it (Mesos' ResourceUsage). */
export interface ExecutorAllocation {
  frameworkId: string;
  executorId: string;
  containerId: string;
  allocated: Resources;
}

/** Estimates the revocable resources the agent can offer on top of what executors hold. */
export interface ResourceEstimator {
  oversubscribable(executors: readonly ExecutorAllocation[]): Resources;
}

/** A QoS correction: kill the container of this executor. */
export interface QoSKill {
  frameworkId: string;
  executorId: string;
  containerId?: string;
}

/** Decides which revocable executors to kill to protect the others. */
export interface QoSController {
  corrections(executors: readonly ExecutorAllocation[]): QoSKill[];
}

/**
 * Mesos' fixed estimator: a fixed amount (its `resources` parameter,
 * marked revocable) minus the revocable resources executors hold.
 */
export class FixedResourceEstimator implements ResourceEstimator {
  constructor(private readonly totalRevocable: Resources) {}

  oversubscribable(executors: readonly ExecutorAllocation[]): Resources {
    const held = Resources.empty();
    for (const e of executors) held.add(e.allocated.revocable().unallocated());
    return this.totalRevocable.minus(held);
  }
}

/** The 5- and 15-minute load averages (the 1-minute one is too jumpy to act on). */
export type LoadAverage = () => { five: number; fifteen: number };

const systemLoad: LoadAverage = () => {
  const [, five = 0, fifteen = 0] = loadavg();
  return { five, fifteen };
};

/**
 * Mesos' load controller: when the 5-minute load is above its threshold,
 * or the 15-minute one above its own, every executor holding revocable
 * resources is killed.
 */
export class LoadQoSController implements QoSController {
  constructor(
    private readonly threshold5Min: number | undefined,
    private readonly threshold15Min: number | undefined,
    private readonly log: (line: string) => void,
    private readonly load: LoadAverage = systemLoad,
  ) {}

  corrections(executors: readonly ExecutorAllocation[]): QoSKill[] {
    const { five, fifteen } = this.load();
    let overloaded = false;
    if (this.threshold5Min !== undefined && five > this.threshold5Min) {
      this.log(`System 5 minutes load average ${five} exceeds threshold ${this.threshold5Min}`);
      overloaded = true;
    }
    if (this.threshold15Min !== undefined && fifteen > this.threshold15Min) {
      this.log(
        `System 15 minutes load average ${fifteen} exceeds threshold ${this.threshold15Min}`,
      );
      overloaded = true;
    }
    if (!overloaded) return [];
    return executors
      .filter((e) => !e.allocated.revocable().isEmpty())
      .map((e) => ({ frameworkId: e.frameworkId, executorId: e.executorId }));
  }
}

/** The agent flags the modules are configured by. */
export interface OversubscriptionFlags {
  resource_estimator?: string | undefined;
  qos_controller?: string | undefined;
  modules?: JsonValue | undefined;
  modules_dir?: string | undefined;
}

type Result<T> = { ok: true; value: T } | { ok: false; error: string };

/** The parameters of `module` in --modules / --modules_dir, or why there are none. */
function parametersOf(
  flags: OversubscriptionFlags,
  module: string,
  flag: string,
  builtIn: string,
): Result<Record<string, string>> {
  if (module !== builtIn) {
    return {
      ok: false,
      error: `--${flag}='${module}' names a module mesos-ts does not have; the only one built in is ${builtIn}`,
    };
  }
  let manifests: JsonValue[];
  try {
    manifests = readManifests(flags);
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  const found = findModuleParameters(manifests, module);
  if (!found.ok) return found;
  if (found.value === undefined) {
    return { ok: false, error: `module '${module}' is not listed in --modules or --modules_dir` };
  }
  return { ok: true, value: found.value };
}

/** The estimator `--resource_estimator` names, undefined without one, or a one-line error. */
export function createResourceEstimator(
  flags: OversubscriptionFlags,
): Result<ResourceEstimator | undefined> {
  const name = flags.resource_estimator;
  if (name === undefined || name === "") return { ok: true, value: undefined };
  const fail = (why: string) => ({
    ok: false as const,
    error: `Failed to create resource estimator: ${why}`,
  });
  const params = parametersOf(flags, name, "resource_estimator", FIXED_ESTIMATOR_MODULE);
  if (!params.ok) return fail(params.error);
  const text = params.value.resources;
  if (text === undefined) return fail(`module ${name} needs a 'resources' parameter`);
  const parsed = parseResources(text);
  if (!parsed.ok) return fail(`bad 'resources' parameter '${text}': ${parsed.error}`);
  // Everything the fixed estimator hands out is revocable, whatever the text says.
  const revocable = Resources.from(parsed.value.toArray().map((r) => ({ ...r, revocable: {} })));
  return { ok: true, value: new FixedResourceEstimator(revocable) };
}

/** The controller `--qos_controller` names, undefined without one, or a one-line error. */
export function createQoSController(
  flags: OversubscriptionFlags,
  log: (line: string) => void,
): Result<QoSController | undefined> {
  const name = flags.qos_controller;
  if (name === undefined || name === "") return { ok: true, value: undefined };
  const fail = (why: string) => ({
    ok: false as const,
    error: `Failed to create QoS controller: ${why}`,
  });
  const params = parametersOf(flags, name, "qos_controller", LOAD_QOS_MODULE);
  if (!params.ok) return fail(params.error);
  const threshold = (key: string): Result<number | undefined> => {
    const text = params.value[key];
    if (text === undefined) return { ok: true, value: undefined };
    const value = Number(text.trim());
    if (text.trim() === "" || !Number.isFinite(value)) {
      return { ok: false, error: `'${key}' must be a number, not '${text}'` };
    }
    return { ok: true, value };
  };
  const five = threshold("load_threshold_5min");
  if (!five.ok) return fail(five.error);
  const fifteen = threshold("load_threshold_15min");
  if (!fifteen.ok) return fail(fifteen.error);
  if (five.value === undefined && fifteen.value === undefined) {
    return fail(`module ${name} needs load_threshold_5min or load_threshold_15min`);
  }
  return { ok: true, value: new LoadQoSController(five.value, fifteen.value, log) };
}
