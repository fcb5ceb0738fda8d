import assert from "node:assert/strict";
import { test } from "node:test";
import { loadAgentFlags } from "../../src/agent/flags.js";

function poolSize(argv: string[], env: Record<string, string> = {}): number {
  const r = loadAgentFlags({ argv: ["--work_dir=/w", "--master=m:5050", ...argv], env });
  if (!r.ok) throw new Error(r.error);
  return r.flags.values.executor_pool_size;
}

test("agent flags: one warm command executor by default; 0 turns the pool off as in Mesos", () => {
  assert.equal(poolSize([]), 1);
  assert.equal(poolSize(["--executor_pool_size=0"]), 0);
  assert.equal(poolSize([], { MESOS_EXECUTOR_POOL_SIZE: "0" }), 0);
  assert.equal(poolSize(["--executor_pool_size=2"]), 2);
});
