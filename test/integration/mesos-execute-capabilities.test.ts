/**
 * mesos-execute's --effective_capabilities and --bounding_capabilities (as
 * Mesos' mesos-execute: the task's LinuxInfo) reach a real agent running
 * the `linux/capabilities` isolator: the command runs with the capabilities
 * it asked for, and a bounding set beyond the agent's
 * --bounding_capabilities fails the task with Mesos' message. Needs root
 * and util-linux setpriv able to set the capabilities used; skips otherwise.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { capabilityMask } from "../../src/agent/containerizer/isolators/linux-capabilities.js";
import { startOneAgentCluster } from "../harness/cluster.js";
import { type DaemonHandle, runBinary, stopAll } from "../harness/processes.js";
import { sandboxOf } from "./containerizer-helpers.js";

function skipReason(): string | undefined {
  if (process.platform !== "linux") return "needs Linux";
  if (process.getuid?.() !== 0) return "needs root (linux/capabilities)";
  const probe = spawnSync("setpriv", [
    "--inh-caps=-all,+net_raw,+chown",
    "--ambient-caps=-all,+net_raw",
    "--bounding-set=-all,+net_raw,+chown",
    "--",
    "true",
  ]);
  if (probe.error !== undefined) return "util-linux setpriv is not installed";
  if (probe.status !== 0) return `setpriv cannot set capabilities here: ${probe.stderr}`;
  return undefined;
}

const skip = skipReason();
let master: DaemonHandle;
let agent: DaemonHandle;

before(async () => {
  if (skip !== undefined) return;
  ({ master, agent } = await startOneAgentCluster({
    isolation: "linux/capabilities",
    bounding_capabilities: JSON.stringify({ capabilities: ["NET_RAW", "CHOWN"] }),
  }));
});

after(stopAll);

function execute(name: string, ...flags: string[]) {
  return runBinary(
    "mesos-execute",
    [
      `--master=${master.address}`,
      `--name=${name}`,
      "--resources=cpus:0.1;mem:64",
      "--command=grep -E '^Cap(Eff|Bnd|Amb):' /proc/self/status",
      ...flags,
    ],
    { timeoutMs: 45_000 },
  );
}

test("mesos-execute: --effective_capabilities and --bounding_capabilities set the task's sets", {
  skip,
}, async () => {
  const run = await execute(
    "caps",
    '--effective_capabilities={"capabilities":["NET_RAW"]}',
    '--bounding_capabilities={"capabilities":["NET_RAW","CHOWN"]}',
  );
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const status = readFileSync(join(await sandboxOf(agent, "caps"), "stdout"), "utf8");
  assert.match(status, new RegExp(`CapAmb:\\s+${capabilityMask(["NET_RAW"])}`));
  assert.match(status, new RegExp(`CapBnd:\\s+${capabilityMask(["CHOWN", "NET_RAW"])}`));
});

test("mesos-execute: a --bounding_capabilities beyond the agent's fails the task with Mesos' message", {
  skip,
}, async () => {
  const run = await execute("too-many", '--bounding_capabilities={"capabilities":["SYS_ADMIN"]}');
  assert.notEqual(run.code, 0);
  assert.match(run.stdout, /TASK_FAILED/);
  assert.match(
    run.stdout,
    /Bounding capabilities '\{ SYS_ADMIN \}', but only '\{ CHOWN, NET_RAW \}' are allowed/,
  );
});
