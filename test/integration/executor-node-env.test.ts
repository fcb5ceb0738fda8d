/**
 * Our executors' own Node starts without NODE_EXTRA_CA_CERTS and
 * NODE_OPTIONS (start-up cost, flags meant for the task), while the task
 * still sees them exactly as configured; the agent's own environment never
 * reaches executors or tasks (as in Mesos).
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, runBinary, stopAll, tempDir } from "../harness/processes.js";

const CA_FILE = "/etc/ssl/certs/ca-certificates.crt";
const AGENT_ONLY_CA = "/agent/only/ca.pem";

/** `NAME=value` lines (as `env` prints them, or /proc/<pid>/environ split) as a map. */
function parseEnv(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of text.split(/[\n\0]/)) {
    const at = line.indexOf("=");
    if (at > 0) env.set(line.slice(0, at), line.slice(at + 1));
  }
  return env;
}

describe("executor Node start-up variables", {
  skip: !existsSync(CA_FILE) && `no ${CA_FILE}`,
}, () => {
  let master: DaemonHandle;

  before(async () => {
    ({ master } = await startOneAgentCluster(
      {
        executor_environment_variables: JSON.stringify({
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          NODE_EXTRA_CA_CERTS: CA_FILE,
        }),
        // The task's parent must be its executor's own Node process (hosts:
        // test/integration/shared-executor.test.ts).
        command_executors_per_process: "1",
      },
      // The agent's own environment: must reach neither executor nor task.
      { agentEnv: { NODE_EXTRA_CA_CERTS: AGENT_ONLY_CA } },
    ));
  });
  after(stopAll);

  it("the command executor's process has neither variable; its task has both, as configured", async () => {
    const out = tempDir();
    // The task's parent is its command executor.
    const command = `env > ${out}/task.env; cat /proc/$PPID/environ > ${out}/executor.env`;
    const run = await runBinary("mesos-execute", [
      `--master=${master.address}`,
      "--name=node-env",
      `--command=${command}`,
      `--env=${JSON.stringify({ NODE_OPTIONS: "--max-old-space-size=99" })}`,
    ]);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const task = parseEnv(readFileSync(join(out, "task.env"), "utf8"));
    const executor = parseEnv(readFileSync(join(out, "executor.env"), "utf8"));
    assert.ok(executor.has("MESOS_EXECUTOR_ID"), "read the executor's environment");

    assert.equal(executor.get("NODE_EXTRA_CA_CERTS"), undefined);
    assert.equal(executor.get("NODE_OPTIONS"), undefined);
    assert.equal(executor.get("MESOS_TS_TASK_NODE_EXTRA_CA_CERTS"), CA_FILE);

    assert.equal(task.get("NODE_EXTRA_CA_CERTS"), CA_FILE);
    assert.equal(task.get("NODE_OPTIONS"), "--max-old-space-size=99");
    const leftovers = [...task.keys()].filter((k) => k.startsWith("MESOS_TS_"));
    assert.deepEqual(leftovers, [], "the task sees no private variable");
  });
});
