/**
 * The `posix/rlimits` isolator as Mesos' docs/isolators/posix-rlimits.md
 * describes it, with a real master and agents and tasks started with
 * mesos-execute: `ContainerInfo.rlimit_info` sets the task's limits (a
 * limit with neither soft nor hard is unlimited), a limit that cannot be
 * set (soft above hard, only one of the two) fails the task as Mesos'
 * launcher does (TASK_FAILED, REASON_EXECUTOR_TERMINATED, its message on
 * the sandbox's stderr), and an agent without the isolator ignores
 * `rlimit_info`. Linux only (prlimit); only lowers hard limits, so root is
 * not needed.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, stopAll } from "../harness/processes.js";
import { executeTask, sandboxOf, scalar } from "./containerizer-helpers.js";

const skip = process.platform !== "linux" ? "needs Linux (prlimit)" : undefined;

interface Cluster {
  master: DaemonHandle;
  agent: DaemonHandle;
}
let limited: Cluster;
let plain: Cluster;

async function cluster(isolation: string): Promise<Cluster> {
  const { master, agent } = await startOneAgentCluster({ isolation });
  return { master, agent };
}

before(async () => {
  if (skip !== undefined) return;
  limited = await cluster("posix/cpu,posix/mem,posix/rlimits");
  plain = await cluster("posix/cpu,posix/mem");
});

after(stopAll);

const small = [scalar("cpus", 0.1), scalar("mem", 64)];
const REPORT =
  "echo stack=$(ulimit -s -S)/$(ulimit -s -H) cpu=$(ulimit -t -S)/$(ulimit -t -H) data=$(ulimit -d -S)/$(ulimit -d -H)";

async function run(c: Cluster, name: string, rlimits: object[]) {
  const result = await executeTask(c.master, {
    name,
    resources: small,
    command: REPORT,
    container: { type: "MESOS", rlimit_info: { rlimits } },
  });
  const sandbox = await sandboxOf(c.agent, name);
  const file = (f: string) => readFileSync(join(sandbox, f), "utf8");
  return { result, stdout: () => file("stdout"), stderr: () => file("stderr") };
}

test("posix/rlimits: the task runs with its rlimit_info; a limit without values is unlimited", {
  skip,
}, async () => {
  // Raising a hard limit needs CAP_SYS_RESOURCE: the stack's hard limit is
  // unlimited already, its soft one is raised to it.
  const hardStack = /^Max stack size\s+\S+\s+(\S+)/m.exec(
    readFileSync("/proc/self/limits", "utf8"),
  );
  const r = await run(limited, "limits", [
    ...(hardStack?.[1] === "unlimited" ? [{ type: "RLMT_STACK" }] : []),
    { type: "RLMT_CPU", soft: 1000, hard: 2000 },
    { type: "RLMT_DATA", soft: 1024 * 1024 * 1024, hard: 2048 * 1024 * 1024 },
  ]);
  assert.equal(r.result.finalState, "TASK_FINISHED", r.result.stdout);
  // ulimit shows the data segment in KiB.
  assert.match(r.stdout(), /cpu=1000\/2000 data=1048576\/2097152/);
  if (hardStack?.[1] === "unlimited") assert.match(r.stdout(), /stack=unlimited\/unlimited/);
});

test("posix/rlimits: soft above hard fails the task as Mesos' launcher does", {
  skip,
}, async () => {
  const r = await run(limited, "soft-above-hard", [{ type: "RLMT_CPU", soft: 100, hard: 1 }]);
  assert.equal(r.result.finalState, "TASK_FAILED", r.result.stdout);
  assert.equal(r.result.reason, "REASON_EXECUTOR_TERMINATED", r.result.stdout);
  assert.match(r.stderr(), /Failed to set RLMT_CPU limit: Invalid argument/);
});

test("posix/rlimits: only one of soft and hard fails the task", { skip }, async () => {
  const r = await run(limited, "only-soft", [{ type: "RLMT_CORE", soft: 1 }]);
  assert.equal(r.result.finalState, "TASK_FAILED", r.result.stdout);
  assert.equal(r.result.reason, "REASON_EXECUTOR_TERMINATED", r.result.stdout);
  assert.match(r.stderr(), /Failed to set RLMT_CORE limit: Invalid rlimit values/);
});

test("posix/rlimits: a limit the agent cannot set fails the task with Mesos' message", {
  skip,
}, async (t) => {
  // Raising a hard limit needs CAP_SYS_RESOURCE; find one the agent cannot raise.
  const core = /^Max core file size\s+\S+\s+(\S+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
  const held = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
  const sysResource = (BigInt(`0x${held?.[1] ?? "0"}`) >> 24n) & 1n;
  if (core?.[1] === "unlimited" || sysResource === 1n) {
    t.skip("the agent may raise the core file size limit here (CAP_SYS_RESOURCE or no hard limit)");
    return;
  }
  const r = await run(limited, "not-permitted", [{ type: "RLMT_CORE" }]);
  assert.equal(r.result.finalState, "TASK_FAILED", r.result.stdout);
  assert.equal(r.result.reason, "REASON_EXECUTOR_TERMINATED", r.result.stdout);
  assert.match(r.stderr(), /^Failed to set RLMT_CORE limit: Operation not permitted$/m);
});

test("posix/rlimits: an agent without the isolator ignores rlimit_info", { skip }, async () => {
  const r = await run(plain, "ignored", [
    { type: "RLMT_CPU", soft: 100, hard: 1 },
    { type: "RLMT_DATA", soft: 1024 * 1024 * 1024, hard: 2048 * 1024 * 1024 },
  ]);
  assert.equal(r.result.finalState, "TASK_FINISHED", r.result.stdout);
  assert.doesNotMatch(r.stdout(), /data=1048576\/2097152/);
});
