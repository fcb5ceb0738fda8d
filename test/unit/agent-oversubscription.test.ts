import assert from "node:assert/strict";
import { test } from "node:test";
import {
  createQoSController,
  createResourceEstimator,
  type ExecutorAllocation,
  LoadQoSController,
} from "../../src/agent/oversubscription/modules.js";
import { Resources } from "../../src/common/resources/index.js";
import { parseResources } from "../../src/common/resources/parse.js";

const ESTIMATOR = "org_apache_mesos_FixedResourceEstimator";
const QOS = "org_apache_mesos_LoadQoSController";

function modules(name: string, parameters: Record<string, string>) {
  return {
    libraries: [
      {
        file: "x.so",
        modules: [
          { name, parameters: Object.entries(parameters).map(([key, value]) => ({ key, value })) },
        ],
      },
    ],
  };
}

function executor(id: string, text: string, revocable: boolean): ExecutorAllocation {
  const parsed = parseResources(text);
  assert.ok(parsed.ok);
  const list = parsed.value.toArray().map((r) => (revocable ? { ...r, revocable: {} } : r));
  return {
    frameworkId: "f",
    executorId: id,
    containerId: `c-${id}`,
    allocated: Resources.from(list),
  };
}

test("fixed estimator: its resources, revocable, minus the revocable resources executors hold", () => {
  const made = createResourceEstimator({
    resource_estimator: ESTIMATOR,
    modules: modules(ESTIMATOR, { resources: "cpus:4;mem:512" }),
  });
  assert.ok(made.ok && made.value !== undefined);
  const free = made.value.oversubscribable([
    executor("a", "cpus:1.5", true),
    executor("b", "cpus:2;mem:128", false),
  ]);
  assert.equal(free.revocable().getScalar("cpus"), 2.5);
  assert.equal(free.revocable().getScalar("mem"), 512);
  assert.ok(free.nonRevocable().isEmpty());
});

test("load controller: over either threshold every executor with revocable resources is killed", () => {
  const executors = [executor("rev", "cpus:1", true), executor("reg", "cpus:1", false)];
  const at = (five: number, fifteen: number) =>
    new LoadQoSController(
      6,
      4,
      () => {},
      () => ({ five, fifteen }),
    );
  assert.deepEqual(at(5, 3).corrections(executors), []);
  assert.deepEqual(at(7, 3).corrections(executors), [{ frameworkId: "f", executorId: "rev" }]);
  assert.deepEqual(at(1, 5).corrections(executors), [{ frameworkId: "f", executorId: "rev" }]);
  // Only the thresholds given count.
  const fiveOnly = new LoadQoSController(
    6,
    undefined,
    () => {},
    () => ({ five: 1, fifteen: 99 }),
  );
  assert.deepEqual(fiveOnly.corrections(executors), []);
});

test("load controller parameters: numbers, at least one threshold", () => {
  const log = () => {};
  const bad = createQoSController(
    { qos_controller: QOS, modules: modules(QOS, { load_threshold_5min: "high" }) },
    log,
  );
  assert.deepEqual(bad, {
    ok: false,
    error: "Failed to create QoS controller: 'load_threshold_5min' must be a number, not 'high'",
  });
  const ok = createQoSController(
    { qos_controller: QOS, modules: modules(QOS, { load_threshold_15min: "4" }) },
    log,
  );
  assert.ok(ok.ok && ok.value !== undefined);
  assert.deepEqual(createQoSController({}, log), { ok: true, value: undefined });
});
